//! Scheduled rotation: when it is due, and the pure planner that turns a store's keys into the
//! rotation to carry out.

use chrono::{DateTime, Utc};

use super::{
    ApiKeyError, ApiKeyRotationPolicy, IntervalDays, KeyStatus, RotationMode, RotationPlan,
    StoredKey, plan_rotation,
};
use crate::id::StoreId;
use crate::time::{beyond_clock_skew, checked_add_days};

/// Whether a scheduled rotation is due.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RotationDue {
    /// `now >= next_rotation`: rotate.
    Due {
        /// The instant the rotation became due: `last_rotation + interval_days`.
        next_rotation: DateTime<Utc>,
        /// What the schedule counts from.
        basis: ScheduleBasis,
        /// The policy's interval.
        interval_days: IntervalDays,
    },
    /// `now < next_rotation`: wait.
    NotDue {
        /// The instant the rotation becomes due.
        next_rotation: DateTime<Utc>,
        /// What the schedule counts from.
        basis: ScheduleBasis,
        /// The policy's interval.
        interval_days: IntervalDays,
    },
    /// Scheduled rotation is off; it is never due.
    Disabled,
}

impl RotationDue {
    /// The instant the rotation is or became due; `None` when disabled.
    #[must_use]
    pub fn next_rotation(&self) -> Option<DateTime<Utc>> {
        match *self {
            Self::Due { next_rotation, .. } | Self::NotDue { next_rotation, .. } => {
                Some(next_rotation)
            }
            Self::Disabled => None,
        }
    }

    /// Whether the rotation is due.
    #[must_use]
    pub fn is_due(&self) -> bool {
        matches!(self, Self::Due { .. })
    }
}

/// Whether keys last rotated at `last_rotation` are due for a scheduled rotation at `now`.
///
/// Due when the policy is enabled and `now >= last_rotation + interval_days` (half-open: due AT
/// the instant). Days are calendar days of UTC time: UTC has no daylight saving and chrono no
/// leap seconds, so a day is always 86 400 s and `2024-02-28T12:00Z` plus 1 day is
/// `2024-02-29T12:00Z` (leap year), `2026-01-31` plus 30 days `2026-03-02`. A `last_rotation`
/// after `now` by at most [`MAX_CLOCK_SKEW_SECONDS`](crate::time::MAX_CLOCK_SKEW_SECONDS)
/// (clock skew) is simply not due yet; further ahead it is corrupt and the rotation is due now
/// with [`ScheduleBasis::RecordedInFuture`] (fail closed).
///
/// # Errors
///
/// [`ApiKeyError::TimeOutOfRange`] when `last_rotation + interval_days` is not representable
/// (a `last_rotation` in the past but within `interval_days` of chrono's end of time, which
/// needs a `now` there too).
///
/// # Examples
///
/// ```
/// use whale_security::api_keys::{ApiKeyRotationPolicy, RotationDue, rotation_due};
/// use whale_security::time;
///
/// let policy: ApiKeyRotationPolicy = serde_json::from_str(
///     r#"{"enabled": true, "interval_days": 90, "grace_period_hours": 48}"#,
/// )?;
/// let last = time::parse("2026-01-01T00:00:00Z")?;
/// let next = time::parse("2026-04-01T00:00:00Z")?;
///
/// let before = rotation_due(&policy, last, time::parse("2026-03-31T23:59:59.999Z")?)?;
/// assert!(!before.is_due());
/// assert_eq!(before.next_rotation(), Some(next));
///
/// // Due at the exact instant.
/// assert!(rotation_due(&policy, last, next)?.is_due());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rotation_due(
    policy: &ApiKeyRotationPolicy,
    last_rotation: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<RotationDue, ApiKeyError> {
    if !policy.enabled {
        return Ok(RotationDue::Disabled);
    }
    let interval_days = policy.interval_days;
    if beyond_clock_skew(last_rotation, now) {
        return Ok(RotationDue::Due {
            next_rotation: now,
            basis: ScheduleBasis::RecordedInFuture(last_rotation),
            interval_days,
        });
    }
    let next_rotation = next_after(interval_days, last_rotation)?;
    Ok(if now >= next_rotation {
        RotationDue::Due {
            next_rotation,
            basis: ScheduleBasis::LastRotation(last_rotation),
            interval_days,
        }
    } else {
        RotationDue::NotDue {
            next_rotation,
            basis: ScheduleBasis::LastRotation(last_rotation),
            interval_days,
        }
    })
}

/// What a scheduled run should do for one store.
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ScheduledRotation {
    /// Rotate now, gracefully with the policy's grace: carry out `plan`.
    Rotate {
        /// The rotation to carry out.
        plan: RotationPlan,
        /// The instant it became due.
        due_at: DateTime<Utc>,
        /// What the schedule counted from.
        basis: ScheduleBasis,
    },
    /// Not due yet.
    Wait {
        /// The instant it becomes due.
        next_rotation: DateTime<Utc>,
        /// What the schedule counts from.
        basis: ScheduleBasis,
    },
    /// Scheduled rotation is off.
    Disabled,
    /// The store has no active key, so there is nothing to rotate.
    NoActiveKeys,
}

/// What a scheduled rotation counts its interval from.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ScheduleBasis {
    /// The policy's `last_rotation`, which is at least as recent as any rotation the keys show.
    LastRotation(DateTime<Utc>),
    /// The newest successor key's creation: a rotation more recent than the policy's
    /// `last_rotation` (the policy was not updated yet, or another worker rotated).
    KeysRotatedAt(DateTime<Utc>),
    /// The policy's `next_rotation`, for a store that has never rotated.
    ScheduledAt(DateTime<Utc>),
    /// The creation of the oldest active key, for a store that has never rotated and has no
    /// `next_rotation`.
    OldestKeyCreatedAt(DateTime<Utc>),
    /// Nothing: rotation is enabled but has never happened nor been scheduled, so it is due at
    /// once (fail closed: a missing schedule must not postpone rotation forever).
    NeverScheduled,
    /// The instant the schedule would count from lies further after `now` than clocks of
    /// servers disagree ([`MAX_CLOCK_SKEW_SECONDS`](crate::time::MAX_CLOCK_SKEW_SECONDS); for a
    /// stored `next_rotation`, more than one interval plus that allowance ahead). The record is
    /// corrupt or forged, so the rotation is due at once (fail closed): trusting it would
    /// postpone rotation for as long as the corrupt value says, up to forever.
    RecordedInFuture(DateTime<Utc>),
}

/// Decides the scheduled rotation of store `store_id` from its policy and keys at `now`.
///
/// The interval counts from the most recent rotation known: the later of the policy's
/// `last_rotation` and the creation of the newest key that succeeded another. A store that has
/// never rotated uses the policy's `next_rotation` if set, otherwise the creation of its oldest
/// active key. When due, the plan rotates every active key gracefully with the policy's grace
/// (see [`plan_rotation`]).
///
/// **Idempotent.** Once a plan is applied at `now`, the successors' creation at `now` is the
/// most recent rotation, so planning again at the same `now` (or any time within the interval)
/// answers [`ScheduledRotation::Wait`], even before the service has stored the new
/// `last_rotation`. Applying the same plan twice rotates once (see
/// [`KeyRing::apply_rotation`](super::KeyRing::apply_rotation)).
///
/// # Errors
///
/// [`ApiKeyError::TimeOutOfRange`] when the due instant or the grace's end is not
/// representable.
///
/// # Examples
///
/// ```
/// use whale_security::api_keys::{
///     ApiKeyRotationPolicy, Environment, KeyRing, KeySeed, ScheduledRotation,
///     plan_scheduled_rotation,
/// };
/// use whale_security::{id::StoreId, time};
///
/// let policy: ApiKeyRotationPolicy = serde_json::from_str(
///     r#"{"enabled": true, "interval_days": 90, "grace_period_hours": 48,
///         "last_rotation": "2026-01-01T00:00:00Z"}"#,
/// )?;
/// let store = StoreId::new("store_a1")?;
/// let mut ring = KeyRing::new();
/// ring.issue(store.clone(), Environment::Live, KeySeed::from_bytes([1; 32]), time::parse("2026-01-01T00:00:00Z")?)?;
///
/// let now = time::parse("2026-04-01T00:00:00Z")?;
/// let ScheduledRotation::Rotate { plan, .. } = plan_scheduled_rotation(&policy, &store, ring.keys_of(&store), now)? else {
///     panic!("due at the exact instant");
/// };
/// ring.apply_rotation(&plan, || KeySeed::from_bytes([2; 32]))?;
///
/// // Run again at the same instant: nothing more to do.
/// let again = plan_scheduled_rotation(&policy, &store, ring.keys_of(&store), now)?;
/// assert!(matches!(again, ScheduledRotation::Wait { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_scheduled_rotation<'a>(
    policy: &ApiKeyRotationPolicy,
    store_id: &StoreId,
    keys: impl IntoIterator<Item = &'a StoredKey> + Clone,
    now: DateTime<Utc>,
) -> Result<ScheduledRotation, ApiKeyError> {
    if !policy.enabled {
        return Ok(ScheduledRotation::Disabled);
    }
    let mut oldest_active: Option<DateTime<Utc>> = None;
    let mut newest_successor: Option<DateTime<Utc>> = None;
    for key in keys
        .clone()
        .into_iter()
        .filter(|k| k.store_id() == store_id)
    {
        if key.status_at(now) == KeyStatus::Active {
            oldest_active =
                Some(oldest_active.map_or(key.created_at(), |t| t.min(key.created_at())));
        }
        if key.predecessor().is_some() {
            newest_successor =
                Some(newest_successor.map_or(key.created_at(), |t| t.max(key.created_at())));
        }
    }
    let Some(oldest_active) = oldest_active else {
        return Ok(ScheduledRotation::NoActiveKeys);
    };

    let basis = match (policy.last_rotation, newest_successor) {
        (Some(last), Some(keys)) if keys > last => ScheduleBasis::KeysRotatedAt(keys),
        (Some(last), _) => ScheduleBasis::LastRotation(last),
        (None, Some(keys)) => ScheduleBasis::KeysRotatedAt(keys),
        (None, None) => match policy.next_rotation {
            Some(next) => ScheduleBasis::ScheduledAt(next),
            None => ScheduleBasis::OldestKeyCreatedAt(oldest_active),
        },
    };
    let basis = if untrusted(basis, policy.interval_days, now) {
        ScheduleBasis::RecordedInFuture(basis_instant(basis).unwrap_or(now))
    } else {
        basis
    };
    let due_at = match basis {
        ScheduleBasis::ScheduledAt(next) => next,
        ScheduleBasis::NeverScheduled | ScheduleBasis::RecordedInFuture(_) => now,
        ScheduleBasis::LastRotation(from)
        | ScheduleBasis::KeysRotatedAt(from)
        | ScheduleBasis::OldestKeyCreatedAt(from) => next_after(policy.interval_days, from)?,
    };
    if now < due_at {
        return Ok(ScheduledRotation::Wait {
            next_rotation: due_at,
            basis,
        });
    }
    let mode = RotationMode::Graceful {
        grace: policy.grace_period_hours,
    };
    let plan = plan_rotation(store_id, keys, mode, now)?;
    Ok(ScheduledRotation::Rotate {
        plan,
        due_at,
        basis,
    })
}

/// Whether the instant `basis` counts from is too far after `now` to be clock skew: a past
/// rotation or key creation beyond the allowance, or a scheduled rotation more than one
/// interval beyond it.
pub(super) fn untrusted(basis: ScheduleBasis, interval: IntervalDays, now: DateTime<Utc>) -> bool {
    match basis {
        ScheduleBasis::LastRotation(at)
        | ScheduleBasis::KeysRotatedAt(at)
        | ScheduleBasis::OldestKeyCreatedAt(at) => beyond_clock_skew(at, now),
        // No representable schedule lies more than one interval after a `now` this late.
        ScheduleBasis::ScheduledAt(next) => checked_add_days(now, i64::from(interval.get()))
            .is_some_and(|horizon| beyond_clock_skew(next, horizon)),
        ScheduleBasis::NeverScheduled | ScheduleBasis::RecordedInFuture(_) => false,
    }
}

/// The instant a basis counts from, if it has one.
fn basis_instant(basis: ScheduleBasis) -> Option<DateTime<Utc>> {
    match basis {
        ScheduleBasis::LastRotation(at)
        | ScheduleBasis::KeysRotatedAt(at)
        | ScheduleBasis::ScheduledAt(at)
        | ScheduleBasis::OldestKeyCreatedAt(at)
        | ScheduleBasis::RecordedInFuture(at) => Some(at),
        ScheduleBasis::NeverScheduled => None,
    }
}

/// `from + interval` in calendar days of UTC time.
pub(super) fn next_after(
    interval: IntervalDays,
    from: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiKeyError> {
    checked_add_days(from, i64::from(interval.get())).ok_or(ApiKeyError::TimeOutOfRange {
        what: "next_rotation",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_keys::{Environment, KeyRing, KeySeed, RotationGraceHours};
    use crate::time::parse;

    #[test]
    fn a_rotation_the_keys_show_outranks_an_older_last_rotation_in_the_policy() {
        let store = StoreId::new("store_a1").unwrap();
        let t0 = parse("2026-01-01T00:00:00Z").unwrap();
        let rotated = parse("2026-02-01T00:00:00Z").unwrap();
        let mut ring = KeyRing::new();
        ring.issue(
            store.clone(),
            Environment::Live,
            KeySeed::from_bytes([1; 32]),
            t0,
        )
        .unwrap();
        let mode = RotationMode::Graceful {
            grace: RotationGraceHours::new(0).unwrap(),
        };
        ring.rotate_now(&store, mode, rotated, || KeySeed::from_bytes([2; 32]))
            .unwrap();
        let policy: ApiKeyRotationPolicy = serde_json::from_str(
            r#"{"enabled": true, "interval_days": 30, "grace_period_hours": 0,
                "last_rotation": "2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let now = parse("2026-02-15T00:00:00Z").unwrap();
        assert_eq!(
            plan_scheduled_rotation(&policy, &store, ring.keys_of(&store), now).unwrap(),
            ScheduledRotation::Wait {
                next_rotation: parse("2026-03-03T00:00:00Z").unwrap(),
                basis: ScheduleBasis::KeysRotatedAt(rotated),
            }
        );
    }
}
