//! Timestamps as the API writes them, and overflow-safe time arithmetic.
//!
//! Every instant in the JSON documents is RFC 3339 in UTC with millisecond precision and a `Z`
//! suffix (`2026-03-10T10:00:00.000Z`). Input may carry any offset; it is converted to UTC.
//! Arithmetic on caller-supplied values goes through the `checked_*` helpers here, which return
//! `None` instead of panicking when a result leaves chrono's representable range.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// Formats an instant the way every document of this crate writes it.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
///
/// let t = Utc.with_ymd_and_hms(2026, 3, 10, 10, 0, 0).unwrap();
/// assert_eq!(whale_security::time::format(t), "2026-03-10T10:00:00.000Z");
/// ```
#[must_use]
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 instant with any offset into UTC.
///
/// # Errors
///
/// Returns the parser's message when `text` is not an RFC 3339 date-time.
pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

/// Why a text is not an instant a document can hold ([`parse_writable`]).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InstantError {
    /// The text is not an RFC 3339 date-time.
    #[error("not an RFC 3339 timestamp: {0}")]
    Syntax(#[from] chrono::ParseError),
    /// The instant is not [`writable`].
    #[error("outside the years 0000 to 9999 once converted to UTC, or a leap second")]
    Unwritable,
}

/// [`parse`], refusing what [`writable`] refuses: the instants a stored document can hold.
///
/// # Errors
///
/// [`InstantError`], saying which of the two is wrong.
pub fn parse_writable(text: &str) -> Result<DateTime<Utc>, InstantError> {
    writable(parse(text)?).ok_or(InstantError::Unwritable)
}

/// `t + minutes`, or `None` when the result is not representable.
#[must_use]
pub fn checked_add_minutes(t: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    t.checked_add_signed(TimeDelta::try_minutes(minutes)?)
}

/// `t + hours`, or `None` when the result is not representable.
#[must_use]
pub fn checked_add_hours(t: DateTime<Utc>, hours: i64) -> Option<DateTime<Utc>> {
    t.checked_add_signed(TimeDelta::try_hours(hours)?)
}

/// `t + days` (days of 24 hours of UTC time), or `None` when the result is not representable.
#[must_use]
pub fn checked_add_days(t: DateTime<Utc>, days: i64) -> Option<DateTime<Utc>> {
    t.checked_add_signed(TimeDelta::try_days(days)?)
}

/// `t` when a document can hold it: its year is 0000 to 9999, the years RFC 3339 writes (and
/// [`parse`] reads), and it is not inside a leap second. chrono represents instants far beyond,
/// but [`format()`] writes them as `+10000-...`, which no RFC 3339 reader accepts, so a computed
/// instant that is stored (a next rotation, an enforcement date, a key's expiry) goes through
/// this first: past it, the document holding it could never be read back. A leap second
/// (`23:59:60`, which chrono reads) is refused too: the stores keep instants as milliseconds
/// since the epoch, where it becomes the next day's first second, so it would be ordered
/// differently once stored. Decisions computed on the spot (a session's deadline) may go
/// beyond: they are answers, not stored fields.
#[must_use]
pub fn writable(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, Timelike};
    ((0..=9999).contains(&t.year()) && t.nanosecond() < 1_000_000_000).then_some(t)
}

/// How far, in seconds, a stored instant may lie after `now` and still be read as clock skew
/// between servers: 300 (five minutes, the allowance Kerberos uses).
///
/// Further ahead, the record is corrupt or forged: the decisions refuse to trust it (a session
/// is not live, a rotation is due) rather than count it from `now`, which would let one
/// far-future field buy a session, re-authentication or rotation schedule without end.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// Whether `stored` lies more than [`MAX_CLOCK_SKEW_SECONDS`] after `now`.
///
/// # Examples
///
/// ```
/// use whale_security::time::{beyond_clock_skew, parse};
///
/// let now = parse("2026-03-10T12:00:00Z")?;
/// assert!(!beyond_clock_skew(parse("2026-03-10T12:05:00Z")?, now)); // exactly the allowance
/// assert!(beyond_clock_skew(parse("2026-03-10T12:05:00.001Z")?, now));
/// assert!(!beyond_clock_skew(parse("1970-01-01T00:00:00Z")?, now)); // the past is fine
/// # Ok::<(), chrono::ParseError>(())
/// ```
#[must_use]
pub fn beyond_clock_skew(stored: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    // Any two instants chrono holds are under 600 000 years apart, far inside TimeDelta's
    // range, so the difference is exact.
    TimeDelta::try_seconds(MAX_CLOCK_SKEW_SECONDS)
        .is_some_and(|skew| stored.signed_duration_since(now) > skew)
}

/// Serde adapter for a required instant in the crate's RFC 3339 form.
pub mod rfc3339 {
    use chrono::{DateTime, SubsecRound, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    ///
    /// # Errors
    ///
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    /// Reads an RFC 3339 instant with any offset, as [`serialize`] will write it back: digits
    /// finer than a millisecond are cut, so a decision made on the value read is the decision
    /// made on the value stored.
    ///
    /// # Errors
    ///
    /// When the value is not a string in RFC 3339 form, or its instant in UTC falls outside the
    /// years 0000 to 9999 (see [`writable`](super::writable)): an offset can carry a date
    /// written in range out of it, and a document holding it could not be read again.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let t = super::parse_writable(&text).map_err(|e| {
            de::Error::custom(format_args!("`{}` is {e}", crate::quote::shorten(&text)))
        })?;
        Ok(t.trunc_subsecs(3))
    }
}

/// Serde adapter for an optional instant in the crate's RFC 3339 form (`null` or absent is
/// `None`).
pub mod rfc3339_option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(t)` as [`super::rfc3339`] does and `None` as `null`.
    ///
    /// # Errors
    ///
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Reads `null` or an RFC 3339 instant.
    ///
    /// # Errors
    ///
    /// When the value is neither `null` nor an RFC 3339 string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::rfc3339")] DateTime<Utc>);
        Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(t)| t))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn format_uses_milliseconds_and_z() {
        let t = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        assert_eq!(format(t), "2026-02-01T00:00:00.000Z");
    }

    #[test]
    fn parse_converts_offsets_to_utc() {
        let t = parse("2026-03-10T12:00:00+02:00").unwrap();
        assert_eq!(format(t), "2026-03-10T10:00:00.000Z");
    }

    #[test]
    fn instants_at_chronos_ends_compare_without_overflow() {
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert!(beyond_clock_skew(max, min));
        assert!(!beyond_clock_skew(min, max));
        assert!(!beyond_clock_skew(max, max));
    }

    #[test]
    fn checked_add_returns_none_instead_of_panicking() {
        assert_eq!(checked_add_days(DateTime::<Utc>::MAX_UTC, 1), None);
        assert_eq!(
            checked_add_minutes(Utc.timestamp_opt(0, 0).unwrap(), i64::MAX),
            None
        );
        assert_eq!(checked_add_hours(DateTime::<Utc>::MIN_UTC, -1), None);
    }
}
