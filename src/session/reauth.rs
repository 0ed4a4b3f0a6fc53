//! Re-authentication before sensitive actions.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ExpiryReason, ReauthWindowMinutes, Session, SessionError, SessionPolicy, SessionStatus,
};
use crate::quote::shorten;
use crate::time::checked_add_minutes;

/// Whether `session` may perform `action` at `now` without the member authenticating again.
///
/// In order:
/// 1. a session that has ended ([`crate::session::session_expired`]) gets
///    [`ReauthDecision::SessionExpired`]: sign in again;
/// 2. with `require_re_auth_for_sensitive` off: [`ReauthDecision::Proceed`];
/// 3. otherwise the last **authentication** (`last_authenticated_at`: sign-in or a
///    re-authentication prompt) must lie within the re-authentication window
///    ([`SessionPolicy::reauth_window`], 15 minutes unless set): it counts on
///    `[last_authenticated_at, last_authenticated_at + window)` and from the end of the window on
///    the answer is [`ReauthDecision::Reauthenticate`].
///
/// Activity never counts: a session used a second ago but authenticated hours ago must
/// re-authenticate. A `last_authenticated_at` later than `now` within the clock-skew allowance
/// counts as `now` (the module's time rules), so it never buys more than one window; further
/// ahead the session is not trusted at all ([`ReauthDecision::SessionExpired`] with
/// [`ExpiryReason::RecordedInFuture`]). An end of window that chrono cannot
/// represent fails closed ([`ReauthReason::WindowOutOfRange`]).
///
/// Every [`SensitiveAction`] currently gets the same window; `action` is taken so that the
/// decision is made per action, and a later per-action window does not change the signature.
///
/// # Examples
///
/// ```
/// use whale_security::session::{
///     ReauthDecision, SensitiveAction, Session, SessionId, SessionPolicy, reauth_required,
/// };
/// use whale_security::{id::UserId, time};
///
/// let policy: SessionPolicy = serde_json::from_str(
///     r#"{"timeout_minutes": 480, "max_concurrent_sessions": 3,
///         "require_re_auth_for_sensitive": true, "reauth_window_minutes": 5}"#,
/// )?;
/// let mut session = Session::signed_in(
///     SessionId::new("s1")?, UserId::new("user_a")?, time::parse("2026-03-10T06:00:00Z")?,
/// );
/// session.last_activity_at = time::parse("2026-03-10T11:59:00Z")?;
/// let now = time::parse("2026-03-10T12:00:00Z")?;
///
/// // Active a minute ago, authenticated six hours ago: re-authenticate.
/// let action = SensitiveAction::RotateApiKeys;
/// assert!(matches!(reauth_required(&policy, &session, &action, now), ReauthDecision::Reauthenticate { .. }));
///
/// // Authenticated exactly 5 minutes ago: the window has just closed.
/// session.last_authenticated_at = time::parse("2026-03-10T11:55:00Z")?;
/// assert!(matches!(reauth_required(&policy, &session, &action, now), ReauthDecision::Reauthenticate { .. }));
/// // One second later than that: still recent.
/// session.last_authenticated_at = time::parse("2026-03-10T11:55:01Z")?;
/// assert!(matches!(reauth_required(&policy, &session, &action, now), ReauthDecision::Proceed { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn reauth_required(
    policy: &SessionPolicy,
    session: &Session,
    action: &SensitiveAction,
    now: DateTime<Utc>,
) -> ReauthDecision {
    // Every action shares one window today; see the doc comment.
    let _ = action;
    if let SessionStatus::Expired { reason } = super::session_expired(policy, session, now) {
        return ReauthDecision::SessionExpired { reason };
    }
    if !policy.require_re_auth_for_sensitive {
        return ReauthDecision::Proceed {
            reason: ProceedReason::NotRequired,
        };
    }
    let window = policy.reauth_window();
    let authenticated_at = session.last_authenticated_at.min(now);
    let Some(recent_until) = checked_add_minutes(authenticated_at, i64::from(window.get())) else {
        return ReauthDecision::Reauthenticate {
            reason: ReauthReason::WindowOutOfRange { authenticated_at },
        };
    };
    if now < recent_until {
        ReauthDecision::Proceed {
            reason: ProceedReason::RecentAuthentication {
                authenticated_at,
                window,
                recent_until,
            },
        }
    } else {
        ReauthDecision::Reauthenticate {
            reason: ReauthReason::Stale {
                authenticated_at,
                window,
                recent_until,
            },
        }
    }
}

/// Whether a sensitive action may go ahead.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ReauthDecision {
    /// Go ahead.
    Proceed {
        /// Why no re-authentication is needed.
        reason: ProceedReason,
    },
    /// Ask the member to authenticate again, then record the new `last_authenticated_at`.
    Reauthenticate {
        /// Why the last authentication does not count.
        reason: ReauthReason,
    },
    /// The session itself has ended; the member must sign in again.
    SessionExpired {
        /// Why the session ended.
        reason: ExpiryReason,
    },
}

impl ReauthDecision {
    /// Whether the action may go ahead now.
    #[must_use]
    pub fn permits(&self) -> bool {
        matches!(self, Self::Proceed { .. })
    }
}

/// Why a sensitive action may go ahead.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ProceedReason {
    /// The policy does not require re-authentication for sensitive actions.
    NotRequired,
    /// The last authentication is within the window.
    RecentAuthentication {
        /// The last authentication (or `now`, if the stored one is later).
        authenticated_at: DateTime<Utc>,
        /// The window.
        window: ReauthWindowMinutes,
        /// The first instant at which it no longer counts.
        recent_until: DateTime<Utc>,
    },
}

/// Why a sensitive action needs a new authentication.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ReauthReason {
    /// The last authentication is older than the window.
    Stale {
        /// The last authentication.
        authenticated_at: DateTime<Utc>,
        /// The window.
        window: ReauthWindowMinutes,
        /// When it stopped counting.
        recent_until: DateTime<Utc>,
    },
    /// The end of the window is not representable, so the check fails closed.
    WindowOutOfRange {
        /// The last authentication.
        authenticated_at: DateTime<Utc>,
    },
}

/// An action that may need a recent authentication.
///
/// The named actions are the ones the spec calls sensitive plus the usual account-takeover
/// targets; [`SensitiveAction::Custom`] holds the caller's own. Names (for JSON, the CLI and
/// audit records) are the snake_case forms below; any other valid name reads as `Custom`.
///
/// # Examples
///
/// ```
/// use whale_security::session::SensitiveAction;
///
/// assert_eq!("rotate_api_keys".parse::<SensitiveAction>()?, SensitiveAction::RotateApiKeys);
/// assert_eq!(
///     "refund.issue".parse::<SensitiveAction>()?,
///     SensitiveAction::Custom("refund.issue".into()),
/// );
/// assert!("Rotate Keys".parse::<SensitiveAction>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, Hash, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum SensitiveAction {
    /// `change_security_settings`: any change to these settings.
    ChangeSecuritySettings,
    /// `manage_api_keys`: create, reveal or revoke API keys.
    ManageApiKeys,
    /// `rotate_api_keys`: trigger an immediate key rotation.
    RotateApiKeys,
    /// `change_two_factor`: enrol, remove or reset a second factor, or view recovery codes.
    ChangeTwoFactor,
    /// `change_password`: set a new password while signed in.
    ChangePassword,
    /// `change_email`: change the sign-in or recovery address.
    ChangeEmail,
    /// `manage_team_members`: invite, remove, or change the roles of team members.
    ManageTeamMembers,
    /// `change_payout_details`: bank or payout account changes.
    ChangePayoutDetails,
    /// `export_data`: bulk export of customer or order data.
    ExportData,
    /// The caller's own action. A name given here is not checked; one read from text is
    /// checked as [`SessionError::InvalidAction`] says.
    Custom(String),
}

impl SensitiveAction {
    /// The longest action name, in bytes.
    pub const MAX_NAME_LEN: usize = 64;

    /// The action's name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::ChangeSecuritySettings => "change_security_settings",
            Self::ManageApiKeys => "manage_api_keys",
            Self::RotateApiKeys => "rotate_api_keys",
            Self::ChangeTwoFactor => "change_two_factor",
            Self::ChangePassword => "change_password",
            Self::ChangeEmail => "change_email",
            Self::ManageTeamMembers => "manage_team_members",
            Self::ChangePayoutDetails => "change_payout_details",
            Self::ExportData => "export_data",
            Self::Custom(name) => name,
        }
    }
}

impl FromStr for SensitiveAction {
    type Err = SessionError;

    fn from_str(text: &str) -> Result<Self, SessionError> {
        let named = [
            Self::ChangeSecuritySettings,
            Self::ManageApiKeys,
            Self::RotateApiKeys,
            Self::ChangeTwoFactor,
            Self::ChangePassword,
            Self::ChangeEmail,
            Self::ManageTeamMembers,
            Self::ChangePayoutDetails,
            Self::ExportData,
        ];
        if let Some(action) = named.into_iter().find(|a| a.as_str() == text) {
            return Ok(action);
        }
        let ok = !text.is_empty()
            && text.len() <= Self::MAX_NAME_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b));
        if !ok {
            return Err(SessionError::InvalidAction {
                text: shorten(text),
                max: Self::MAX_NAME_LEN,
            });
        }
        Ok(Self::Custom(text.to_owned()))
    }
}

impl TryFrom<String> for SensitiveAction {
    type Error = SessionError;

    fn try_from(text: String) -> Result<Self, SessionError> {
        text.parse()
    }
}

impl From<SensitiveAction> for String {
    fn from(action: SensitiveAction) -> String {
        action.as_str().to_owned()
    }
}

impl fmt::Display for SensitiveAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::UserId;
    use crate::session::{MaxSessions, SessionId, SessionLimit, TimeoutMinutes};
    use crate::time::parse;

    fn policy(required: bool) -> SessionPolicy {
        SessionPolicy {
            timeout_minutes: TimeoutMinutes::DEFAULT,
            max_concurrent_sessions: MaxSessions::DEFAULT,
            require_re_auth_for_sensitive: required,
            idle_timeout_minutes: None,
            reauth_window_minutes: None,
            on_session_limit: None,
        }
    }

    fn session(auth: &str) -> Session {
        let mut s = Session::signed_in(
            SessionId::new("s1").unwrap(),
            UserId::new("user_a").unwrap(),
            parse("2026-03-10T10:00:00Z").unwrap(),
        );
        s.last_authenticated_at = parse(auth).unwrap();
        s.last_activity_at = parse("2026-03-10T11:59:59Z").unwrap();
        s
    }

    #[test]
    fn the_default_window_is_fifteen_minutes_half_open() {
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let a = SensitiveAction::ChangeTwoFactor;
        assert!(
            reauth_required(&policy(true), &session("2026-03-10T11:45:01Z"), &a, now).permits()
        );
        assert!(
            !reauth_required(&policy(true), &session("2026-03-10T11:45:00Z"), &a, now).permits()
        );
    }

    #[test]
    fn a_policy_without_reauth_lets_a_stale_session_proceed() {
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let d = reauth_required(
            &policy(false),
            &session("2026-03-10T10:00:00Z"),
            &SensitiveAction::ExportData,
            now,
        );
        assert_eq!(
            d,
            ReauthDecision::Proceed {
                reason: ProceedReason::NotRequired
            }
        );
    }

    #[test]
    fn an_expired_session_is_reported_as_expired_even_without_reauth() {
        let now = parse("2026-03-10T18:00:00Z").unwrap();
        let d = reauth_required(
            &policy(false),
            &session("2026-03-10T17:59:00Z"),
            &SensitiveAction::ExportData,
            now,
        );
        let ReauthDecision::SessionExpired { reason } = d else {
            panic!("{d:?}")
        };
        assert_eq!(reason.limit(), Some(SessionLimit::Lifetime));
    }

    #[test]
    fn a_future_authentication_buys_at_most_one_window_from_now() {
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let d = reauth_required(
            &policy(true),
            &session("2026-03-10T12:03:00Z"),
            &SensitiveAction::ManageApiKeys,
            now,
        );
        let ReauthDecision::Proceed {
            reason: ProceedReason::RecentAuthentication { recent_until, .. },
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(recent_until, parse("2026-03-10T12:15:00Z").unwrap());

        // An hour ahead is no clock skew: the record is not trusted at all.
        let d = reauth_required(
            &policy(true),
            &session("2026-03-10T13:00:00Z"),
            &SensitiveAction::ManageApiKeys,
            now,
        );
        assert!(matches!(d, ReauthDecision::SessionExpired { .. }), "{d:?}");
    }

    #[test]
    fn action_names_round_trip_and_bad_names_are_refused() {
        for name in [
            "change_security_settings",
            "rotate_api_keys",
            "my_app:refund",
        ] {
            let a: SensitiveAction = name.parse().unwrap();
            assert_eq!(a.to_string(), name);
        }
        assert!("".parse::<SensitiveAction>().is_err());
        assert!("x".repeat(65).parse::<SensitiveAction>().is_err());
        assert!("DROP TABLE".parse::<SensitiveAction>().is_err());
    }
}
