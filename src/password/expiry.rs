//! Password age: `max_age_days` as a half-open validity window.

use chrono::{DateTime, TimeDelta, Utc};

use crate::password::PasswordPolicy;
use crate::time::{beyond_clock_skew, checked_add_days};

/// Whether a password set at some instant must be changed now.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PasswordExpiry {
    /// The policy has no `max_age_days`: passwords never expire (NIST SP 800-63B-4's advice).
    NotEnforced,
    /// `now` is in `[changed_at, deadline)`.
    Valid {
        /// The first instant at which the password is expired.
        deadline: DateTime<Utc>,
        /// `deadline - now`, always positive.
        remaining: TimeDelta,
        /// Whole days left (`remaining` rounded down), for "expires in N days" warnings:
        /// 0 in the last 24 hours.
        days_left: i64,
    },
    /// The password must be changed before anything else.
    Expired(ExpiryReason),
}

impl PasswordExpiry {
    /// Whether the password may still be used.
    #[must_use]
    pub fn permits(&self) -> bool {
        !matches!(self, Self::Expired(_))
    }
}

/// Why a password counts as expired.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ExpiryReason {
    /// `now >= changed_at + max_age_days`.
    MaxAgeReached {
        /// `changed_at + max_age_days`.
        deadline: DateTime<Utc>,
        /// The policy's `max_age_days`.
        max_age_days: u32,
        /// `now - deadline`, zero or more.
        overdue: TimeDelta,
    },
    /// `changed_at` is more than [`MAX_CLOCK_SKEW_SECONDS`](crate::time::MAX_CLOCK_SKEW_SECONDS)
    /// after `now`: further than clocks of servers disagree, so the record is wrong and the
    /// window cannot be trusted (fail closed). Within the allowance the change counts as made
    /// at `now`.
    ChangedInFuture {
        /// The stored change instant.
        changed_at: DateTime<Utc>,
        /// The instant of the check.
        now: DateTime<Utc>,
    },
    /// `changed_at + max_age_days` is past chrono's last representable instant (year
    /// 262142): only a corrupt record gets here (fail closed).
    DeadlineOutOfRange {
        /// The stored change instant.
        changed_at: DateTime<Utc>,
        /// The policy's `max_age_days`.
        max_age_days: u32,
    },
}

/// Decides whether a password changed at `changed_at` has expired at `now`.
///
/// Valid on `[changed_at, changed_at + max_age_days × 24 h)`, expired at the deadline itself.
/// All arithmetic is checked: any `DateTime<Utc>` works, with no overflow or panic (90 days is
/// 7 776 000 000 ms, more than an `i32` holds; chrono's 64-bit `TimeDelta` does not wrap).
///
/// # Examples
///
/// ```
/// use whale_security::password::{ExpiryReason, PasswordExpiry, PasswordPolicy, password_expired};
/// use whale_security::time;
///
/// let policy: PasswordPolicy = serde_json::from_str(
///     r#"{"min_length": 12, "require_uppercase": true, "require_number": true,
///         "require_special": true, "max_age_days": 90}"#,
/// )?;
/// let changed = time::parse("2026-03-01T00:00:00Z")?;
///
/// let nine_days = password_expired(&policy, changed, time::parse("2026-03-10T12:00:00Z")?);
/// assert!(matches!(nine_days, PasswordExpiry::Valid { days_left: 80, .. }));
///
/// // One millisecond before the deadline: valid, 0 whole days left.
/// let last = password_expired(&policy, changed, time::parse("2026-05-29T23:59:59.999Z")?);
/// assert!(matches!(last, PasswordExpiry::Valid { days_left: 0, .. }));
///
/// // At the deadline (changed + 90 × 24 h): expired.
/// let at = password_expired(&policy, changed, time::parse("2026-05-30T00:00:00Z")?);
/// assert!(matches!(at, PasswordExpiry::Expired(ExpiryReason::MaxAgeReached { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn password_expired(
    policy: &PasswordPolicy,
    changed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> PasswordExpiry {
    let Some(max_age) = policy.max_age_days else {
        return PasswordExpiry::NotEnforced;
    };
    let max_age_days = max_age.get();
    if beyond_clock_skew(changed_at, now) {
        return PasswordExpiry::Expired(ExpiryReason::ChangedInFuture { changed_at, now });
    }
    // A change a little after `now` is clock skew between servers: it counts as made at `now`,
    // which never yields a later deadline than the stored instant does.
    let counted_from = changed_at.min(now);
    let Some(deadline) = checked_add_days(counted_from, i64::from(max_age_days)) else {
        return PasswordExpiry::Expired(ExpiryReason::DeadlineOutOfRange {
            changed_at,
            max_age_days,
        });
    };
    // Both instants are within chrono's range, so their difference fits a TimeDelta.
    let remaining = deadline.signed_duration_since(now);
    if remaining <= TimeDelta::zero() {
        return PasswordExpiry::Expired(ExpiryReason::MaxAgeReached {
            deadline,
            max_age_days,
            overdue: -remaining,
        });
    }
    PasswordExpiry::Valid {
        deadline,
        remaining,
        days_left: remaining.num_days(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::{MaxAgeDays, MinLength};
    use crate::time::parse;

    fn policy(max_age: Option<i64>) -> PasswordPolicy {
        PasswordPolicy {
            min_length: MinLength::DEFAULT,
            require_uppercase: false,
            require_number: false,
            require_special: false,
            max_age_days: max_age.map(|d| MaxAgeDays::new(d).unwrap()),
            prevent_reuse: None,
            min_strength: None,
        }
    }

    #[test]
    fn no_max_age_never_expires() {
        let t = parse("2026-03-01T00:00:00Z").unwrap();
        assert_eq!(
            password_expired(&policy(None), t, DateTime::<Utc>::MAX_UTC),
            PasswordExpiry::NotEnforced
        );
    }

    #[test]
    fn valid_at_changed_at_and_expired_at_the_deadline() {
        let p = policy(Some(1));
        let t = parse("2026-03-01T00:00:00Z").unwrap();
        assert!(password_expired(&p, t, t).permits());
        let deadline = parse("2026-03-02T00:00:00Z").unwrap();
        assert_eq!(
            password_expired(&p, t, deadline),
            PasswordExpiry::Expired(ExpiryReason::MaxAgeReached {
                deadline,
                max_age_days: 1,
                overdue: TimeDelta::zero()
            })
        );
    }

    #[test]
    fn extreme_instants_do_not_overflow_or_panic() {
        let p = policy(Some(3650));
        assert!(matches!(
            password_expired(&p, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC),
            PasswordExpiry::Expired(ExpiryReason::DeadlineOutOfRange { .. })
        ));
        assert!(matches!(
            password_expired(&p, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
            PasswordExpiry::Expired(ExpiryReason::MaxAgeReached { .. })
        ));
        assert!(password_expired(&p, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC).permits());
    }

    #[test]
    fn a_change_after_now_beyond_the_clock_skew_allowance_fails_closed() {
        let p = policy(Some(90));
        let changed = parse("2026-03-10T00:00:00Z").unwrap();
        let now = parse("2026-03-09T23:54:59.999Z").unwrap();
        assert!(matches!(
            password_expired(&p, changed, now),
            PasswordExpiry::Expired(ExpiryReason::ChangedInFuture { .. })
        ));
    }

    /// A change recorded one second ahead by a server whose clock runs ahead was reported
    /// expired, forcing a member who had just changed their password to change it again.
    #[test]
    fn a_change_within_the_clock_skew_allowance_counts_from_now() {
        let p = policy(Some(90));
        let changed = parse("2026-03-10T00:00:00Z").unwrap();
        for now in ["2026-03-09T23:59:59Z", "2026-03-09T23:55:00Z"] {
            let now = parse(now).unwrap();
            let PasswordExpiry::Valid { deadline, .. } = password_expired(&p, changed, now) else {
                panic!("{now}")
            };
            assert_eq!(deadline, checked_add_days(now, 90).unwrap());
        }
    }
}
