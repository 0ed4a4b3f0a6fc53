//! The session record the caller stores, and its id.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SessionError;
use crate::id::UserId;
use crate::quote::shorten;

/// A session's id: 1 to 128 visible ASCII characters (`!` to `~`), compared as text.
///
/// **Not the bearer secret.** The id is printed by the CLI and named in decisions and audit
/// records, so it must be a handle that grants nothing on its own (a database key, or a hash of
/// the session token), never the cookie or token value itself.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// The longest id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Checks `text` and wraps it.
    ///
    /// # Errors
    ///
    /// [`SessionError::InvalidSessionId`] when `text` is empty, longer than 128 bytes, or holds a
    /// space, a control character or a non-ASCII character.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::session::SessionId;
    ///
    /// assert_eq!(SessionId::new("sess_01HQ")?.as_str(), "sess_01HQ");
    /// assert!(SessionId::new("").is_err());
    /// assert!(SessionId::new("a b").is_err());
    /// assert!(SessionId::new("x".repeat(129)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(text: impl Into<String>) -> Result<Self, SessionError> {
        let text = text.into();
        let ok = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(SessionError::InvalidSessionId {
                text: shorten(&text),
                max: Self::MAX_LEN,
            });
        }
        Ok(Self(text))
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SessionId {
    type Err = SessionError;

    fn from_str(text: &str) -> Result<Self, SessionError> {
        Self::new(text)
    }
}

impl TryFrom<String> for SessionId {
    type Error = SessionError;

    fn try_from(text: String) -> Result<Self, SessionError> {
        Self::new(text)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One signed-in session of a team member, as the caller stores it.
///
/// The three instants are facts the caller records: sign-in, the last request, and the last
/// time the member proved who they are (sign-in, or a re-authentication prompt). The record has
/// no invariant between them: the checks accept any stored values, including ones out of order
/// or later than `now`, and read them as the [module's time rules](crate::session) say.
///
/// # JSON
///
/// ```json
/// {
///   "id": "sess_01",
///   "user": "user_d4e5f6a7",
///   "created_at": "2026-03-10T08:00:00.000Z",
///   "last_activity_at": "2026-03-10T11:00:00.000Z",
///   "last_authenticated_at": "2026-03-10T08:00:00.000Z"
/// }
/// ```
///
/// `id` is a [`SessionId`]; `user` a [`UserId`]; the instants are RFC 3339 with any offset (read
/// into UTC, written with milliseconds and `Z`). `last_activity_at` and
/// `last_authenticated_at` may be omitted and then equal `created_at` (sign-in is both activity
/// and authentication); every field is written. Unknown fields are errors.
///
/// # Examples
///
/// ```
/// use whale_security::session::Session;
///
/// let s: Session = serde_json::from_str(
///     r#"{"id": "s1", "user": "user_a", "created_at": "2026-03-10T10:00:00+02:00"}"#,
/// )?;
/// assert_eq!(s.last_authenticated_at, s.created_at);
/// assert_eq!(whale_security::time::format(s.created_at), "2026-03-10T08:00:00.000Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(from = "SessionRecord")]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// The member the session belongs to.
    pub user: UserId,
    /// Sign-in: the lifetime counts from here.
    #[serde(with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// The last request made in the session: the idle timeout counts from here.
    #[serde(with = "crate::time::rfc3339")]
    pub last_activity_at: DateTime<Utc>,
    /// The last sign-in or re-authentication: the re-authentication window counts from here.
    #[serde(with = "crate::time::rfc3339")]
    pub last_authenticated_at: DateTime<Utc>,
}

impl Session {
    /// A session signed in at `at`: active and authenticated at that instant.
    #[must_use]
    pub fn signed_in(id: SessionId, user: UserId, at: DateTime<Utc>) -> Self {
        Self {
            id,
            user,
            created_at: at,
            last_activity_at: at,
            last_authenticated_at: at,
        }
    }
}

/// The JSON shape with the optional instants.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRecord {
    id: SessionId,
    user: UserId,
    #[serde(with = "crate::time::rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(default, with = "crate::time::rfc3339_option")]
    last_activity_at: Option<DateTime<Utc>>,
    #[serde(default, with = "crate::time::rfc3339_option")]
    last_authenticated_at: Option<DateTime<Utc>>,
}

impl From<SessionRecord> for Session {
    fn from(r: SessionRecord) -> Self {
        Self {
            id: r.id,
            user: r.user,
            created_at: r.created_at,
            last_activity_at: r.last_activity_at.unwrap_or(r.created_at),
            last_authenticated_at: r.last_authenticated_at.unwrap_or(r.created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_round_trips_with_every_field_written() {
        let text = r#"{"id":"s1","user":"user_a","created_at":"2026-03-10T08:00:00.000Z","last_activity_at":"2026-03-10T09:00:00.000Z","last_authenticated_at":"2026-03-10T08:30:00.000Z"}"#;
        let s: Session = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), text);
    }

    #[test]
    fn unknown_fields_and_bad_ids_are_errors() {
        assert!(
            serde_json::from_str::<Session>(
                r#"{"id":"s1","user":"user_a","created_at":"2026-03-10T08:00:00Z","last_activty_at":"2026-03-10T08:00:00Z"}"#
            )
            .is_err()
        );
        let err = serde_json::from_str::<Session>(
            r#"{"id":"s 1","user":"user_a","created_at":"2026-03-10T08:00:00Z"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("session id"), "{err}");
    }

    #[test]
    fn a_session_id_error_names_the_limit_and_shortens_long_input() {
        let err = SessionId::new("é".repeat(5000)).unwrap_err();
        assert!(err.to_string().contains("128"));
        assert!(err.to_string().len() < 300);
    }
}
