//! Immediate rotation: the pure plan, its result, and the spec's request and response.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::{ApiKey, ApiKeyError, ApiKeyRotationPolicy, KeyStatus, RotationGraceHours, StoredKey};
use crate::id::{KeyId, StoreId};
use crate::settings::object_tag;
use crate::time::checked_add_hours;

/// How the keys being replaced are retired.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RotationMode {
    /// Routine rotation: each replaced key keeps working for `grace` hours (`[now, now +
    /// grace)`), so integrations can switch. A grace of 0 hours retires it at `now`.
    Graceful {
        /// How long the replaced keys keep working.
        grace: RotationGraceHours,
    },
    /// The keys may be compromised: every valid key of the store (current and still in grace)
    /// is revoked at `now`, and verification reports it as revoked rather than expired.
    Compromised,
}

/// What an immediate rotation of one store will change, computed without randomness or I/O.
///
/// Build it with [`plan_rotation`]; carry it out with
/// [`KeyRing::apply_rotation`](super::KeyRing::apply_rotation) (or the same steps against a
/// database, inside one transaction).
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RotationPlan {
    store_id: StoreId,
    rotated_at: DateTime<Utc>,
    mode: RotationMode,
    old_key_expires_at: DateTime<Utc>,
    rotate: Vec<KeyId>,
    cut_short: Vec<KeyId>,
}

impl RotationPlan {
    /// The store rotated.
    #[must_use]
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }

    /// The rotation's instant.
    #[must_use]
    pub fn rotated_at(&self) -> DateTime<Utc> {
        self.rotated_at
    }

    /// How the replaced keys are retired.
    #[must_use]
    pub fn mode(&self) -> RotationMode {
        self.mode
    }

    /// When the replaced keys stop working: `rotated_at` plus the grace, or `rotated_at` for a
    /// compromised key.
    #[must_use]
    pub fn old_key_expires_at(&self) -> DateTime<Utc> {
        self.old_key_expires_at
    }

    /// The active keys that each get a successor, in the store's order.
    #[must_use]
    pub fn rotate(&self) -> &[KeyId] {
        &self.rotate
    }

    /// The keys of the previous generation, still in grace, whose grace ends at `rotated_at`
    /// (revoked instead, for a compromised key).
    #[must_use]
    pub fn cut_short(&self) -> &[KeyId] {
        &self.cut_short
    }
}

/// Plans an immediate rotation of every active key of `store_id` at `now`.
///
/// - Each key that is [`KeyStatus::Active`] at `now` gets a successor. With
///   [`RotationMode::Graceful`] it then expires at `now + grace`; with
///   [`RotationMode::Compromised`] it is revoked at `now`.
/// - **At most two generations stay valid.** Keys still in the grace of an earlier rotation
///   would otherwise form a third: their grace ends at `now` (they are expired from `now` on),
///   or they are revoked at `now` for a compromised key. An integration that has not switched
///   since the previous rotation therefore loses access at the second one, however much of its
///   grace was left.
/// - Expired and revoked keys are left alone.
///
/// Records of other stores in `keys` are ignored.
///
/// **Limitation:** a store whose only valid keys are already in grace (its current key was
/// revoked on its own) has nothing to rotate, so even a [`RotationMode::Compromised`] rotation
/// is refused with [`ApiKeyError::NothingToRotate`] and leaves those keys valid until their
/// grace ends; the caller must revoke them with [`KeyRing::revoke`](super::KeyRing::revoke).
/// A mode that revokes without issuing a successor would close this gap.
///
/// # Errors
///
/// [`ApiKeyError::NothingToRotate`] when no key of the store is active;
/// [`ApiKeyError::TimeOutOfRange`] when `now + grace` is not representable.
///
/// # Examples
///
/// ```
/// use whale_security::api_keys::{
///     Environment, KeyRing, KeySeed, RotationGraceHours, RotationMode, plan_rotation,
/// };
/// use whale_security::{id::StoreId, time};
///
/// let store = StoreId::new("store_a1b2c3d4")?;
/// let now = time::parse("2026-03-10T10:00:00Z")?;
/// let mut ring = KeyRing::new();
/// ring.issue(store.clone(), Environment::Live, KeySeed::from_bytes([1; 32]), now)?;
/// ring.issue(store.clone(), Environment::Test, KeySeed::from_bytes([2; 32]), now)?;
///
/// let mode = RotationMode::Graceful { grace: RotationGraceHours::new(24)? };
/// let plan = plan_rotation(&store, ring.keys_of(&store), mode, now)?;
/// assert_eq!(plan.rotate().len(), 2);
/// assert_eq!(plan.old_key_expires_at(), time::parse("2026-03-11T10:00:00Z")?);
///
/// let mut n = 10u8;
/// let rotation = ring.apply_rotation(&plan, || { n += 1; KeySeed::from_bytes([n; 32]) })?;
/// let response = rotation.response();
/// assert_eq!(response.rotated_keys(), 2);
/// assert_eq!(response.old_key_expires_at(), time::parse("2026-03-11T10:00:00Z")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_rotation<'a>(
    store_id: &StoreId,
    keys: impl IntoIterator<Item = &'a StoredKey>,
    mode: RotationMode,
    now: DateTime<Utc>,
) -> Result<RotationPlan, ApiKeyError> {
    let old_key_expires_at = match mode {
        RotationMode::Compromised => now,
        RotationMode::Graceful { grace } => {
            // Stored with the key: it must be an instant a document can hold.
            checked_add_hours(now, i64::from(grace.get()))
                .and_then(crate::time::writable)
                .ok_or(ApiKeyError::TimeOutOfRange {
                    what: "old_key_expires_at",
                })?
        }
    };
    let mut rotate = Vec::new();
    let mut cut_short = Vec::new();
    for key in keys.into_iter().filter(|k| k.store_id() == store_id) {
        match key.status_at(now) {
            KeyStatus::Active => rotate.push(key.id().clone()),
            KeyStatus::InGrace { .. } => cut_short.push(key.id().clone()),
            KeyStatus::Expired { .. }
            | KeyStatus::Revoked { .. }
            | KeyStatus::NotYetValid { .. } => {}
        }
    }
    if rotate.is_empty() {
        return Err(ApiKeyError::NothingToRotate {
            store_id: store_id.clone(),
        });
    }
    Ok(RotationPlan {
        store_id: store_id.clone(),
        rotated_at: now,
        mode,
        old_key_expires_at,
        rotate,
        cut_short,
    })
}

/// A rotation that was carried out: the new keys (shown once) and the spec's response.
///
/// Its `Debug` lists key ids only.
pub struct Rotation {
    store_id: StoreId,
    rotated_at: DateTime<Utc>,
    mode: RotationMode,
    old_key_expires_at: DateTime<Utc>,
    rotated: Vec<(KeyId, ApiKey)>,
}

impl Rotation {
    pub(crate) fn new(plan: &RotationPlan, rotated: Vec<(KeyId, ApiKey)>) -> Self {
        Self {
            store_id: plan.store_id.clone(),
            rotated_at: plan.rotated_at,
            mode: plan.mode,
            old_key_expires_at: plan.old_key_expires_at,
            rotated,
        }
    }

    /// The store rotated.
    #[must_use]
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }

    /// When the rotation happened.
    #[must_use]
    pub fn rotated_at(&self) -> DateTime<Utc> {
        self.rotated_at
    }

    /// How the replaced keys were retired.
    #[must_use]
    pub fn mode(&self) -> RotationMode {
        self.mode
    }

    /// Each replaced key's id with its successor, the successor's text available this once.
    #[must_use]
    pub fn new_keys(&self) -> &[(KeyId, ApiKey)] {
        &self.rotated
    }

    /// The replaced keys' ids with their successors, by value.
    #[must_use]
    pub fn into_new_keys(self) -> Vec<(KeyId, ApiKey)> {
        self.rotated
    }

    /// The spec's response. `new_key_prefix` is the display prefix of the first successor, in
    /// the order the store's keys were created; the others are in [`Rotation::new_keys`].
    pub fn response(&self) -> RotateKeysResponse {
        RotateKeysResponse {
            object: KeyRotationTag,
            new_key_prefix: self
                .rotated
                .first()
                .map(|(_, key)| key.display_prefix())
                .unwrap_or_default(),
            old_key_expires_at: self.old_key_expires_at,
            rotated_at: self.rotated_at,
            rotated_keys: u64::try_from(self.rotated.len()).unwrap_or(u64::MAX),
        }
    }

    /// The rotation policy after this rotation: see [`ApiKeyRotationPolicy::after_rotation`].
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::TimeOutOfRange`] when the next rotation is not representable.
    pub fn policy_after(
        &self,
        policy: &ApiKeyRotationPolicy,
    ) -> Result<ApiKeyRotationPolicy, ApiKeyError> {
        policy.after_rotation(self.rotated_at)
    }
}

impl fmt::Debug for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<(&KeyId, &KeyId)> = self
            .rotated
            .iter()
            .map(|(old, new)| (old, new.id()))
            .collect();
        f.debug_struct("Rotation")
            .field("store_id", &self.store_id)
            .field("rotated_at", &self.rotated_at)
            .field("mode", &self.mode)
            .field("old_key_expires_at", &self.old_key_expires_at)
            .field("rotated", &pairs)
            .finish()
    }
}

/// The spec's request to rotate now: `{"grace_period_hours": 24}`.
///
/// `grace_period_hours` absent means the policy's grace. The extension field
/// `"compromised": true` asks for [`RotationMode::Compromised`].
///
/// # Examples
///
/// ```
/// use whale_security::api_keys::{ApiKeyRotationPolicy, RotateKeysRequest, RotationMode};
///
/// let policy: ApiKeyRotationPolicy = serde_json::from_str(
///     r#"{"enabled": true, "interval_days": 90, "grace_period_hours": 48}"#,
/// )?;
/// let request: RotateKeysRequest = serde_json::from_str(r#"{"grace_period_hours": 24}"#)?;
/// assert!(matches!(request.mode(&policy)?, RotationMode::Graceful { grace } if grace.get() == 24));
///
/// let request: RotateKeysRequest = serde_json::from_str(r#"{"compromised": true}"#)?;
/// assert_eq!(request.mode(&policy)?, RotationMode::Compromised);
///
/// let request: RotateKeysRequest = serde_json::from_str("{}")?;
/// assert!(matches!(request.mode(&policy)?, RotationMode::Graceful { grace } if grace.get() == 48));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeysRequest {
    /// Hours the replaced keys keep working; the policy's grace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_hours: Option<RotationGraceHours>,
    /// Whether the keys may be compromised (revoke at once, no grace).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compromised: bool,
}

impl RotateKeysRequest {
    /// The rotation mode the request asks for under `policy`.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::GraceForCompromisedKey`] when `compromised` is set together with a
    /// non-zero `grace_period_hours`.
    pub fn mode(&self, policy: &ApiKeyRotationPolicy) -> Result<RotationMode, ApiKeyError> {
        match (self.compromised, self.grace_period_hours) {
            (true, Some(grace)) if grace.get() > 0 => Err(ApiKeyError::GraceForCompromisedKey {
                grace_hours: grace.get(),
            }),
            (true, _) => Ok(RotationMode::Compromised),
            (false, grace) => Ok(RotationMode::Graceful {
                grace: grace.unwrap_or(policy.grace_period_hours),
            }),
        }
    }
}

/// The spec's response to an immediate rotation.
///
/// ```json
/// {"object": "key_rotation", "new_key_prefix": "wk_live_9x8y...",
///  "old_key_expires_at": "2026-03-11T10:00:00.000Z", "rotated_at": "2026-03-10T10:00:00.000Z",
///  "rotated_keys": 2}
/// ```
///
/// Reading one checks that `object` is `key_rotation`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeysResponse {
    object: KeyRotationTag,
    new_key_prefix: String,
    #[serde(with = "crate::time::rfc3339")]
    old_key_expires_at: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    rotated_at: DateTime<Utc>,
    rotated_keys: u64,
}

impl RotateKeysResponse {
    /// The display prefix of the (first) new key.
    #[must_use]
    pub fn new_key_prefix(&self) -> &str {
        &self.new_key_prefix
    }

    /// When the replaced keys stop working.
    #[must_use]
    pub fn old_key_expires_at(&self) -> DateTime<Utc> {
        self.old_key_expires_at
    }

    /// When the rotation happened.
    #[must_use]
    pub fn rotated_at(&self) -> DateTime<Utc> {
        self.rotated_at
    }

    /// How many keys got a successor.
    #[must_use]
    pub fn rotated_keys(&self) -> u64 {
        self.rotated_keys
    }
}

object_tag!(
    /// The `"object": "key_rotation"` tag.
    KeyRotationTag = "key_rotation"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_keys::{Environment, KeyRing, KeySeed};
    use crate::time::parse;

    #[test]
    fn a_compromised_request_with_a_grace_is_refused_but_zero_grace_is_accepted() {
        let policy: ApiKeyRotationPolicy = serde_json::from_str(
            r#"{"enabled": true, "interval_days": 90, "grace_period_hours": 48}"#,
        )
        .unwrap();
        let req: RotateKeysRequest =
            serde_json::from_str(r#"{"grace_period_hours": 24, "compromised": true}"#).unwrap();
        assert_eq!(
            req.mode(&policy).unwrap_err(),
            ApiKeyError::GraceForCompromisedKey { grace_hours: 24 }
        );
        let req: RotateKeysRequest =
            serde_json::from_str(r#"{"grace_period_hours": 0, "compromised": true}"#).unwrap();
        assert_eq!(req.mode(&policy).unwrap(), RotationMode::Compromised);
        assert!(serde_json::from_str::<RotateKeysRequest>(r#"{"grace": 1}"#).is_err());
    }

    #[test]
    fn a_grace_past_the_end_of_time_is_an_error_not_a_panic() {
        let store = StoreId::new("store_a1").unwrap();
        let end = DateTime::<Utc>::MAX_UTC;
        let mut ring = KeyRing::new();
        ring.issue(
            store.clone(),
            Environment::Live,
            KeySeed::from_bytes([1; 32]),
            end,
        )
        .unwrap();
        let mode = RotationMode::Graceful {
            grace: RotationGraceHours::new(1).unwrap(),
        };
        assert_eq!(
            plan_rotation(&store, ring.keys(), mode, end).unwrap_err(),
            ApiKeyError::TimeOutOfRange {
                what: "old_key_expires_at"
            }
        );
    }

    #[test]
    fn the_plan_only_touches_the_named_store() {
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let a = StoreId::new("store_a").unwrap();
        let b = StoreId::new("store_b").unwrap();
        let mut ring = KeyRing::new();
        ring.issue(
            a.clone(),
            Environment::Live,
            KeySeed::from_bytes([1; 32]),
            now,
        )
        .unwrap();
        ring.issue(b, Environment::Live, KeySeed::from_bytes([2; 32]), now)
            .unwrap();
        let plan = plan_rotation(&a, ring.keys(), RotationMode::Compromised, now).unwrap();
        assert_eq!(plan.rotate().len(), 1);
        assert!(plan.cut_short().is_empty());
        assert_eq!(plan.old_key_expires_at(), now);
    }
}
