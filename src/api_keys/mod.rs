//! API keys: generation from caller-supplied randomness, storage as a digest, verification,
//! and scheduled and immediate rotation with a grace period.
//!
//! # Keys
//!
//! A key is `wk_live_` or `wk_test_` and 43 base62 characters holding 256 random bits
//! ([`ApiKey`]). Its text exists once, when it is generated; the store keeps a [`StoredKey`]:
//! id, SHA-256 digest, display prefix (`wk_live_9x8y...`), environment, creation, expiry and
//! revocation. [`KeyRing::verify`] looks a presented key up by digest and compares in constant
//! time. The core draws no randomness: every new key comes from a [`KeySeed`] the caller fills.
//!
//! # Rotation
//!
//! - [`rotation_due`]: is a scheduled rotation due (`now >= last_rotation + interval_days`)?
//! - [`plan_rotation`] / [`KeyRing::rotate_now`]: every active key of a store gets a successor;
//!   the replaced keys work on `[rotated_at, rotated_at + grace)` ([`RotationMode::Graceful`])
//!   or are revoked at once ([`RotationMode::Compromised`]). At most two generations are ever
//!   valid: a rotation during the grace of the previous one ends that grace at once.
//! - [`plan_scheduled_rotation`]: the idempotent planner for a scheduler.
//! - [`ApiKeyRotationPolicy::after_rotation`]: the policy's `last_rotation` and
//!   `next_rotation` after a rotation (applied to the settings by
//!   [`settings::record_rotation`](crate::settings::record_rotation)).
//!
//! # Secrets
//!
//! [`ApiKey`], [`KeySeed`], [`PresentedKey`] and [`KeyDigest`] have hand-written `Debug` that
//! prints no key material, no `Display` and no `Serialize`; seeds and key text are zeroized on
//! drop. Errors ([`ApiKeyError`]) carry lengths, positions, ids and instants, never key text.

mod error;
mod key;
mod ring;
mod rotate;
mod schedule;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use self::error::ApiKeyError;
pub use self::key::{
    ApiKey, DISPLAY_BODY_CHARS, Environment, KEY_BODY_LEN, KEY_LEN, KeyDigest, KeySeed,
    PresentedKey, SEED_LEN,
};
pub use self::ring::{KeyRecord, KeyRing, KeyStatus, StoredKey, Verified};
pub use self::rotate::{
    RotateKeysRequest, RotateKeysResponse, Rotation, RotationMode, RotationPlan, plan_rotation,
};
pub use self::schedule::{
    RotationDue, ScheduleBasis, ScheduledRotation, plan_scheduled_rotation, rotation_due,
};
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
    /// When keys rotate next. When `last_rotation` is known (and rotation is enabled) this is
    /// `last_rotation` plus the interval: settings read from JSON carry that value, whatever
    /// the document wrote, since it is the one the schedule counts from.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub next_rotation: Option<DateTime<Utc>>,
}

impl ApiKeyRotationPolicy {
    /// Whether a scheduled rotation is due at `now`, counting from `last_rotation` when keys
    /// have rotated and otherwise from the stored `next_rotation`.
    ///
    /// A policy that is enabled but has neither is due at `now` with
    /// [`ScheduleBasis::NeverScheduled`] (fail closed: a schedule that was never set must not
    /// postpone rotation forever).
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::TimeOutOfRange`] as [`rotation_due`].
    pub fn due_at(&self, now: DateTime<Utc>) -> Result<RotationDue, ApiKeyError> {
        match (self.enabled, self.last_rotation, self.next_rotation) {
            (false, _, _) => Ok(RotationDue::Disabled),
            (true, Some(last), _) => rotation_due(self, last, now),
            (true, None, Some(next))
                if schedule::untrusted(
                    ScheduleBasis::ScheduledAt(next),
                    self.interval_days,
                    now,
                ) =>
            {
                Ok(RotationDue::Due {
                    next_rotation: now,
                    basis: ScheduleBasis::RecordedInFuture(next),
                    interval_days: self.interval_days,
                })
            }
            (true, None, Some(next)) if now < next => Ok(RotationDue::NotDue {
                next_rotation: next,
                basis: ScheduleBasis::ScheduledAt(next),
                interval_days: self.interval_days,
            }),
            (true, None, Some(next)) => Ok(RotationDue::Due {
                next_rotation: next,
                basis: ScheduleBasis::ScheduledAt(next),
                interval_days: self.interval_days,
            }),
            (true, None, None) => Ok(RotationDue::Due {
                next_rotation: now,
                basis: ScheduleBasis::NeverScheduled,
                interval_days: self.interval_days,
            }),
        }
    }

    /// The policy after keys rotated at `rotated_at`: `last_rotation = rotated_at` and, when
    /// enabled, `next_rotation = rotated_at + interval_days` (calendar days of UTC time);
    /// disabled, `next_rotation` is cleared.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::TimeOutOfRange`] when the next rotation is not representable.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::api_keys::ApiKeyRotationPolicy;
    /// use whale_security::time;
    ///
    /// let policy: ApiKeyRotationPolicy = serde_json::from_str(
    ///     r#"{"enabled": true, "interval_days": 90, "grace_period_hours": 48}"#,
    /// )?;
    /// let after = policy.after_rotation(time::parse("2026-03-10T10:00:00Z")?)?;
    /// assert_eq!(after.last_rotation, Some(time::parse("2026-03-10T10:00:00Z")?));
    /// assert_eq!(after.next_rotation, Some(time::parse("2026-06-08T10:00:00Z")?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn after_rotation(&self, rotated_at: DateTime<Utc>) -> Result<Self, ApiKeyError> {
        let next_rotation = if self.enabled {
            // Stored in the settings: it must be an instant a document can hold.
            let next = schedule::next_after(self.interval_days, rotated_at)?;
            Some(
                crate::time::writable(next).ok_or(ApiKeyError::TimeOutOfRange {
                    what: "next_rotation",
                })?,
            )
        } else {
            None
        };
        Ok(Self {
            last_rotation: Some(rotated_at),
            next_rotation,
            ..self.clone()
        })
    }
}

bounded_int!(
    /// Days between rotations: at most ten years.
    IntervalDays: u32 = 1..=3650, default 90
);

bounded_int!(
    /// Hours an old key stays valid after rotation: at most one year.
    RotationGraceHours: u32 = 0..=8760, default 48
);
