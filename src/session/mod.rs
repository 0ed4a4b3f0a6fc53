//! Session policy: lifetime and idle timeouts, concurrent-session admission, re-authentication
//! for sensitive actions, and advisories against NIST SP 800-63B-4.
//!
//! Every check is pure: it takes the [`SessionPolicy`], the [`Session`] records the caller
//! stores, and `now`, and returns a `#[must_use]` decision that names the limit that fired, the
//! measured instant and the limit's value.
//!
//! | question | function | decision |
//! | --- | --- | --- |
//! | has this session ended? | [`session_expired`] | [`SessionStatus`] |
//! | may this member open another session? | [`admit_session`] | [`Admission`] |
//! | may this session perform a sensitive action now? | [`reauth_required`] | [`ReauthDecision`] |
//! | which live sessions would a new policy end? | [`sessions_ended_by`] | [`Ending`] list |
//! | where does a policy depart from NIST SP 800-63B-4? | [`advisories`] | [`Advisory`] list |
//!
//! # Time rules, shared by every check
//!
//! - Deadlines are half-open: a session is live on `[start, deadline)` and has ended *at* the
//!   deadline.
//! - `timeout_minutes` is an absolute lifetime counted from sign-in (`created_at`); activity
//!   and re-authentication do not renew it. This is stricter than SP 800-63B-4 §5.2, which lets
//!   a re-authentication reset the overall timeout: a caller wanting that issues a new session at
//!   re-authentication (which also rotates the session id).
//! - A stored instant later than `now` by at most
//!   [`MAX_CLOCK_SKEW_SECONDS`](crate::time::MAX_CLOCK_SKEW_SECONDS) (five minutes: servers whose
//!   clocks disagree) counts as `now`. Deadlines are therefore never later than the stored
//!   instants imply, and the answer for small skews is the one a correct clock would give.
//!   Further ahead, the record is corrupt or forged and the session is not live
//!   ([`ExpiryReason::RecordedInFuture`], fail closed): counted from `now`, one far-future
//!   field would keep a session or a re-authentication live forever.
//! - A later `now` never turns an ended session live again; only a session not live *yet*
//!   (recorded in the future) becomes live once `now` comes within the allowance.
//! - All arithmetic is checked. A deadline that chrono cannot represent (beyond the year
//!   262 143) is later than any `now`; when no deadline of a session is representable the check
//!   fails closed and reports [`ExpiryReason::DeadlineOutOfRange`].

mod admission;
mod advisory;
mod expiry;
mod reauth;
mod record;

use serde::{Deserialize, Serialize};

use crate::bounded::bounded_int;

pub use self::admission::{Admission, admit_session, admit_session_for};
pub use self::advisory::{Aal, Advisory, AdvisoryCode, Requirement, Setting, advisories};
pub use self::expiry::{
    Deadline, EndReason, Ending, ExpiryReason, SessionLimit, SessionStatus, session_expired,
    sessions_ended_by,
};
pub use self::reauth::{
    ProceedReason, ReauthDecision, ReauthReason, SensitiveAction, reauth_required,
};
pub use self::record::{Session, SessionId};

/// The store's session policy.
///
/// The first three fields are the spec's; the others are extensions, absent from the spec's
/// documents, with the defaults their accessors document.
///
/// # Examples
///
/// ```
/// use whale_security::session::{OnSessionLimit, SessionPolicy};
///
/// let policy: SessionPolicy = serde_json::from_str(
///     r#"{"timeout_minutes": 480, "max_concurrent_sessions": 3,
///         "require_re_auth_for_sensitive": true}"#,
/// )?;
/// assert_eq!(policy.reauth_window().get(), 15);
/// assert_eq!(policy.on_session_limit(), OnSessionLimit::RejectNewLogin);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicy {
    /// Absolute session lifetime, counted from sign-in.
    pub timeout_minutes: TimeoutMinutes,
    /// How many live sessions one member may hold.
    pub max_concurrent_sessions: MaxSessions,
    /// Whether sensitive actions need a recent authentication.
    pub require_re_auth_for_sensitive: bool,
    /// Inactivity after which a session ends (an extension of the spec); absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_minutes: Option<TimeoutMinutes>,
    /// How recent an authentication must be for a sensitive action (an extension of the
    /// spec); absent means the documented default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauth_window_minutes: Option<ReauthWindowMinutes>,
    /// What a sign-in does when the member already holds `max_concurrent_sessions` live
    /// sessions (an extension of the spec); absent means
    /// [`OnSessionLimit::RejectNewLogin`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_session_limit: Option<OnSessionLimit>,
}

impl SessionPolicy {
    /// The re-authentication window: `reauth_window_minutes`, or 15 minutes when absent.
    #[must_use]
    pub fn reauth_window(&self) -> ReauthWindowMinutes {
        self.reauth_window_minutes
            .unwrap_or(ReauthWindowMinutes::DEFAULT)
    }

    /// The behaviour at the concurrent-session limit: `on_session_limit`, or
    /// [`OnSessionLimit::RejectNewLogin`] when absent.
    #[must_use]
    pub fn on_session_limit(&self) -> OnSessionLimit {
        self.on_session_limit.unwrap_or_default()
    }

    /// A policy meeting NIST SP 800-63B-4 at `level`; [`advisories`] reports nothing for it at
    /// that level.
    ///
    /// | level | lifetime | idle timeout | re-auth for sensitive actions |
    /// | --- | --- | --- | --- |
    /// | AAL1 | 30 days (§2.1.3) | none | yes, 15-minute window |
    /// | AAL2 | 24 hours (§2.2.3) | 1 hour (§2.2.3) | yes, 15-minute window |
    /// | AAL3 | 12 hours (§2.3.3) | 15 minutes (§2.3.3) | yes, 15-minute window |
    ///
    /// Each allows 3 concurrent sessions and rejects a sign-in beyond them (NIST sets no
    /// concurrency limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::session::{Aal, SessionPolicy, advisories};
    ///
    /// let policy = SessionPolicy::preset(Aal::Aal2);
    /// assert_eq!(policy.timeout_minutes.get(), 1440);
    /// assert!(advisories(&policy, Aal::Aal2).is_empty());
    /// assert!(!advisories(&policy, Aal::Aal3).is_empty());
    /// ```
    #[must_use]
    pub fn preset(level: Aal) -> Self {
        let (lifetime, idle) = match level {
            Aal::Aal1 => (advisory::AAL1_LIFETIME, None),
            Aal::Aal2 => (advisory::AAL2_LIFETIME, Some(advisory::AAL2_IDLE)),
            Aal::Aal3 => (advisory::AAL3_LIFETIME, Some(advisory::AAL3_IDLE)),
        };
        Self {
            timeout_minutes: lifetime,
            max_concurrent_sessions: MaxSessions::DEFAULT,
            require_re_auth_for_sensitive: true,
            idle_timeout_minutes: idle,
            reauth_window_minutes: Some(ReauthWindowMinutes::DEFAULT),
            on_session_limit: Some(OnSessionLimit::RejectNewLogin),
        }
    }
}

/// What a sign-in does when the member already holds `max_concurrent_sessions` live sessions.
///
/// The default, [`OnSessionLimit::RejectNewLogin`], fails closed: no existing session ends
/// without its owner's action, and someone holding a stolen password cannot silently push the
/// owner out. The ending rules suit stores whose members switch devices often; the sessions to
/// end are named in [`Admission::AdmitEnding`] so the caller can notify and audit.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnSessionLimit {
    /// Refuse the new sign-in; existing sessions stay.
    #[default]
    RejectNewLogin,
    /// Admit it and end the sessions signed in earliest (by `created_at`).
    EndOldest,
    /// Admit it and end the sessions used least recently (by `last_activity_at`).
    EndLeastRecentlyUsed,
}

impl OnSessionLimit {
    /// The name used in JSON: `reject_new_login`, `end_oldest` or `end_least_recently_used`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RejectNewLogin => "reject_new_login",
            Self::EndOldest => "end_oldest",
            Self::EndLeastRecentlyUsed => "end_least_recently_used",
        }
    }
}

/// Why a session id or an action name was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A session id is empty, longer than 128 bytes, or holds a character other than a visible
    /// ASCII one.
    #[error("`{text}` is not a session id: 1 to {max} visible ASCII characters are allowed")]
    InvalidSessionId {
        /// The text given, quoted as [`crate::quote::shorten`] does (escaped, shortened when long).
        text: String,
        /// The longest id allowed, in bytes.
        max: usize,
    },
    /// An action name is empty, longer than 64 bytes, or holds a character other than a lower
    /// case ASCII letter, a digit, `_`, `.`, `:` or `-`.
    #[error(
        "`{text}` is not an action name: 1 to {max} characters of `a-z`, `0-9`, `_`, `.`, `:`, `-` are allowed"
    )]
    InvalidAction {
        /// The text given, quoted as [`crate::quote::shorten`] does (escaped, shortened when long).
        text: String,
        /// The longest name allowed, in bytes.
        max: usize,
    },
}

bounded_int!(
    /// A session lifetime or idle limit in minutes: at least 1, at most 365 days.
    TimeoutMinutes: u32 = 1..=525_600, default 480
);

bounded_int!(
    /// The most live sessions a member may hold.
    MaxSessions: u32 = 1..=1000, default 3
);

bounded_int!(
    /// Minutes an authentication counts as recent for sensitive actions: at most one day.
    ReauthWindowMinutes: u32 = 1..=1440, default 15
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_extensions_read_as_their_documented_defaults() {
        let policy: SessionPolicy = serde_json::from_str(
            r#"{"timeout_minutes":480,"max_concurrent_sessions":3,"require_re_auth_for_sensitive":false}"#,
        )
        .unwrap();
        assert_eq!(
            policy.reauth_window(),
            ReauthWindowMinutes::new(15).unwrap()
        );
        assert_eq!(policy.on_session_limit(), OnSessionLimit::RejectNewLogin);
        assert_eq!(policy.idle_timeout_minutes, None);
    }

    #[test]
    fn on_session_limit_reads_and_writes_its_snake_case_name() {
        for rule in [
            OnSessionLimit::RejectNewLogin,
            OnSessionLimit::EndOldest,
            OnSessionLimit::EndLeastRecentlyUsed,
        ] {
            let text = serde_json::to_string(&rule).unwrap();
            assert_eq!(text, format!("\"{}\"", rule.as_str()));
            assert_eq!(serde_json::from_str::<OnSessionLimit>(&text).unwrap(), rule);
        }
        assert!(serde_json::from_str::<OnSessionLimit>("\"end_newest\"").is_err());
    }

    #[test]
    fn a_misspelled_extension_is_an_error_not_a_default() {
        let err = serde_json::from_str::<SessionPolicy>(
            r#"{"timeout_minutes":480,"max_concurrent_sessions":3,"require_re_auth_for_sensitive":true,"idle_timout_minutes":5}"#,
        );
        assert!(err.is_err());
    }
}
