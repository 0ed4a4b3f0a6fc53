//! API key rotation policy.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bounded::bounded_int;

/// The store's API key rotation policy.
///
/// `grace_period_hours` must be shorter than the interval; [`SecuritySettings`] checks it
/// when it is read or updated.
///
/// [`SecuritySettings`]: crate::SecuritySettings
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRotationPolicy {
    /// Whether keys rotate on a schedule.
    pub enabled: bool,
    /// Days between scheduled rotations.
    pub interval_days: IntervalDays,
    /// Hours an old key keeps working after a rotation.
    pub grace_period_hours: RotationGraceHours,
    /// When keys last rotated, if ever.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub last_rotation: Option<DateTime<Utc>>,
    /// When keys rotate next. When `last_rotation` is known this is `last_rotation` plus the
    /// interval.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub next_rotation: Option<DateTime<Utc>>,
}

bounded_int!(
    /// Days between rotations: at most ten years.
    IntervalDays: u32 = 1..=3650, default 90
);

bounded_int!(
    /// Hours an old key stays valid after rotation: at most one year.
    RotationGraceHours: u32 = 0..=8760, default 48
);
