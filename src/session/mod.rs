//! Session policy.

use serde::{Deserialize, Serialize};

use crate::bounded::bounded_int;

/// The store's session policy.
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
