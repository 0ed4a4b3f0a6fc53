//! Stored key records, their status at an instant, and the in-memory key ring that verifies
//! presented keys by digest.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::key::{ApiKey, DISPLAY_BODY_CHARS, Environment, KeyDigest, PresentedKey};
use super::rotate::{Rotation, RotationMode, RotationPlan};
use super::{ApiKeyError, KeySeed};
use crate::id::{KeyId, StoreId};

/// The stored record of one key: everything but the key.
///
/// Its `Debug` leaves out the digest.
#[derive(Clone)]
pub struct StoredKey {
    id: KeyId,
    store_id: StoreId,
    environment: Environment,
    digest: KeyDigest,
    display_prefix: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    predecessor: Option<KeyId>,
}

impl StoredKey {
    /// The record of a freshly generated key of `store_id`, created at `now`, with no expiry.
    #[must_use]
    pub fn new(key: &ApiKey, store_id: StoreId, now: DateTime<Utc>) -> Self {
        Self {
            id: key.id().clone(),
            store_id,
            environment: key.environment(),
            digest: key.digest(),
            display_prefix: key.display_prefix(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            predecessor: None,
        }
    }

    /// Rebuilds a record read from storage.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::InvalidRecord`] when the display prefix does not have the form
    /// `wk_live_XXXX...` / `wk_test_XXXX...` for the record's environment, or when the expiry
    /// or revocation comes before the creation.
    pub fn from_record(record: KeyRecord) -> Result<Self, ApiKeyError> {
        let invalid = |field| {
            Err(ApiKeyError::InvalidRecord {
                key_id: record.id.clone(),
                field,
            })
        };
        let prefix_ok = record
            .display_prefix
            .strip_prefix(record.environment.prefix())
            .and_then(|rest| rest.strip_suffix("..."))
            .is_some_and(|body| {
                body.len() == DISPLAY_BODY_CHARS && body.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !prefix_ok {
            return invalid("display_prefix");
        }
        if record.expires_at.is_some_and(|t| t < record.created_at) {
            return invalid("expires_at");
        }
        if record.revoked_at.is_some_and(|t| t < record.created_at) {
            return invalid("revoked_at");
        }
        Ok(Self {
            id: record.id,
            store_id: record.store_id,
            environment: record.environment,
            digest: record.digest,
            display_prefix: record.display_prefix,
            created_at: record.created_at,
            expires_at: record.expires_at,
            revoked_at: record.revoked_at,
            predecessor: record.predecessor,
        })
    }

    /// The record's fields, to write to storage.
    #[must_use]
    pub fn to_record(&self) -> KeyRecord {
        KeyRecord {
            id: self.id.clone(),
            store_id: self.store_id.clone(),
            environment: self.environment,
            digest: self.digest,
            display_prefix: self.display_prefix.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            predecessor: self.predecessor.clone(),
        }
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The store the key belongs to.
    #[must_use]
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }

    /// The key's environment.
    #[must_use]
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The stored digest.
    #[must_use]
    pub fn digest(&self) -> KeyDigest {
        self.digest
    }

    /// The prefix shown to people, such as `wk_live_9x8y...`.
    #[must_use]
    pub fn display_prefix(&self) -> &str {
        &self.display_prefix
    }

    /// When the key was created.
    #[must_use]
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When the key stops working (set when a rotation gives it a successor).
    #[must_use]
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// When the key was revoked, if it was.
    #[must_use]
    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at
    }

    /// The key this one succeeded in a rotation, if any.
    #[must_use]
    pub fn predecessor(&self) -> Option<&KeyId> {
        self.predecessor.as_ref()
    }

    /// The key's status at `now`.
    ///
    /// Deadlines are half-open: a key with `expires_at = E` is in grace on `[.., E)` and expired
    /// from `E` on; a key revoked at `R` is revoked from `R` on. Revocation is reported before
    /// expiry. A key is not checked against its `created_at`: a record written by another
    /// instance whose clock runs slightly ahead must still verify.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::api_keys::{
    ///     ApiKey, Environment, KeyRing, KeySeed, KeyStatus, RotationGraceHours, RotationMode,
    /// };
    /// use whale_security::{id::StoreId, time};
    ///
    /// let store = StoreId::new("store_a1b2c3d4")?;
    /// let t0 = time::parse("2026-03-01T00:00:00Z")?;
    /// let rotated_at = time::parse("2026-03-10T10:00:00Z")?;
    /// let mut ring = KeyRing::new();
    /// let old = ring.issue(store.clone(), Environment::Live, KeySeed::from_bytes([1; 32]), t0)?;
    /// let grace = RotationMode::Graceful { grace: RotationGraceHours::new(24)? };
    /// ring.rotate_now(&store, grace, rotated_at, || KeySeed::from_bytes([2; 32]))?;
    ///
    /// let record = ring.get(old.id()).unwrap();
    /// let expiry = time::parse("2026-03-11T10:00:00Z")?;
    /// let just_before = time::parse("2026-03-11T09:59:59.999Z")?;
    /// assert_eq!(record.status_at(just_before), KeyStatus::InGrace { expires_at: expiry });
    /// assert_eq!(record.status_at(expiry), KeyStatus::Expired { expired_at: expiry });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn status_at(&self, now: DateTime<Utc>) -> KeyStatus {
        if let Some(revoked_at) = self.revoked_at.filter(|&r| r <= now) {
            return KeyStatus::Revoked { revoked_at };
        }
        if crate::time::beyond_clock_skew(self.created_at, now) {
            return KeyStatus::NotYetValid {
                valid_from: self.created_at,
            };
        }
        match self.expires_at {
            Some(expired_at) if expired_at <= now => KeyStatus::Expired { expired_at },
            Some(expires_at) => KeyStatus::InGrace { expires_at },
            None => KeyStatus::Active,
        }
    }

    /// Whether this key authenticates at `now`: `Ok(None)` while it is the current generation,
    /// `Ok(Some(expires_at))` during its grace period after a rotation.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::Expired`], [`ApiKeyError::Revoked`] or [`ApiKeyError::NotYetValid`], by
    /// the key's [`status_at`](Self::status_at) `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiKeyError> {
        match self.status_at(now) {
            KeyStatus::Active => Ok(None),
            KeyStatus::InGrace { expires_at } => Ok(Some(expires_at)),
            KeyStatus::Expired { expired_at } => Err(ApiKeyError::Expired {
                key_id: self.id.clone(),
                expired_at,
                now,
            }),
            KeyStatus::Revoked { revoked_at } => Err(ApiKeyError::Revoked {
                key_id: self.id.clone(),
                revoked_at,
            }),
            KeyStatus::NotYetValid { valid_from } => Err(ApiKeyError::NotYetValid {
                key_id: self.id.clone(),
                valid_from,
                now,
            }),
        }
    }

    pub(crate) fn successor(
        key: &ApiKey,
        predecessor: &StoredKey,
        now: DateTime<Utc>,
    ) -> StoredKey {
        let mut record = StoredKey::new(key, predecessor.store_id.clone(), now);
        record.predecessor = Some(predecessor.id.clone());
        record
    }
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("id", &self.id)
            .field("store_id", &self.store_id)
            .field("environment", &self.environment)
            .field("display_prefix", &self.display_prefix)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("predecessor", &self.predecessor)
            .finish_non_exhaustive()
    }
}

/// The fields of a [`StoredKey`], as a storage layer reads and writes them.
#[derive(Clone, Debug)]
pub struct KeyRecord {
    /// The key's id.
    pub id: KeyId,
    /// The store the key belongs to.
    pub store_id: StoreId,
    /// The key's environment.
    pub environment: Environment,
    /// The SHA-256 digest of the key's text.
    pub digest: KeyDigest,
    /// The prefix shown to people, such as `wk_live_9x8y...`.
    pub display_prefix: String,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if set.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key it succeeded, if any.
    pub predecessor: Option<KeyId>,
}

/// The status of a stored key at an instant.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum KeyStatus {
    /// Valid, with no expiry: the current generation.
    Active,
    /// Valid until `expires_at` (exclusive): superseded by a rotation and in its grace period.
    InGrace {
        /// The first instant the key no longer works.
        expires_at: DateTime<Utc>,
    },
    /// No longer valid since `expired_at`.
    Expired {
        /// The first instant the key no longer worked.
        expired_at: DateTime<Utc>,
    },
    /// Revoked since `revoked_at`.
    Revoked {
        /// When it was revoked.
        revoked_at: DateTime<Utc>,
    },
    /// Created after `now` by more than the clock-skew allowance
    /// ([`MAX_CLOCK_SKEW_SECONDS`](crate::time::MAX_CLOCK_SKEW_SECONDS)): a record from the
    /// future is not trusted. Within the allowance a key is valid at once, so instances whose
    /// clocks differ slightly agree.
    NotYetValid {
        /// The key's creation instant.
        valid_from: DateTime<Utc>,
    },
}

impl KeyStatus {
    /// Whether a key in this status is accepted.
    #[must_use]
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Active | Self::InGrace { .. })
    }
}

/// A presented key that was accepted.
#[must_use]
#[derive(Clone, Copy, Debug)]
pub enum Verified<'a> {
    /// The key is current.
    Valid {
        /// Its record.
        key: &'a StoredKey,
    },
    /// The key was rotated out and works until `expires_at` (exclusive). A service should tell
    /// the integration, for example with a response header, that it must switch keys.
    InGrace {
        /// Its record.
        key: &'a StoredKey,
        /// The first instant it will be rejected.
        expires_at: DateTime<Utc>,
    },
}

impl<'a> Verified<'a> {
    /// The accepted key's record.
    #[must_use]
    pub fn key(&self) -> &'a StoredKey {
        match *self {
            Self::Valid { key } | Self::InGrace { key, .. } => key,
        }
    }

    /// When the key stops working, if it is in grace.
    #[must_use]
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        match *self {
            Self::Valid { .. } => None,
            Self::InGrace { expires_at, .. } => Some(expires_at),
        }
    }
}

/// The keys of any number of stores, indexed by digest: the in-memory key store.
///
/// Lookup is by the first 8 bytes of the presented key's digest in a hash table, then a
/// constant-time comparison of the whole 32-byte digest with every candidate (normally one), so
/// verification costs one SHA-256 and O(1) table work however many keys are stored.
///
/// A service with a database keeps the same records there (see [`StoredKey::to_record`]) and
/// may use a ring as its cache; the decisions ([`StoredKey::status_at`],
/// [`plan_rotation`](super::plan_rotation), [`plan_scheduled_rotation`](super::plan_scheduled_rotation))
/// do not depend on the ring.
///
/// Only the digest comparison is constant-time: the hash-table probe by tag is not, which tells
/// a timing observer at most whether some stored digest shares the first 8 bytes of the
/// presented key's SHA-256, useless without a preimage.
///
/// **Limitations:** records are never removed, so expired and revoked keys accumulate until the
/// ring is rebuilt from storage (a purge of records expired before some instant would fix it);
/// and there is no storage trait yet: a database-backed service applies a [`RotationPlan`]'s
/// steps itself, as [`KeyRing::apply_rotation`] does, inside one transaction.
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    keys: Vec<StoredKey>,
    by_tag: HashMap<u64, Vec<usize>>,
    by_id: HashMap<KeyId, usize>,
    by_store: HashMap<StoreId, Vec<usize>>,
}

impl KeyRing {
    /// An empty ring.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Generates a key for `store_id` from `seed`, stores its record and returns the key: the
    /// only time its text is available.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::DuplicateKey`] when the seed was used before (a broken random source).
    pub fn issue(
        &mut self,
        store_id: StoreId,
        environment: Environment,
        seed: KeySeed,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, ApiKeyError> {
        let key = ApiKey::from_seed(environment, seed);
        self.insert(StoredKey::new(&key, store_id, now))?;
        Ok(key)
    }

    /// Adds a record (for example one read from storage).
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::DuplicateKey`] when a record with the same id or digest is stored.
    pub fn insert(&mut self, record: StoredKey) -> Result<(), ApiKeyError> {
        if let Some(existing) = self
            .by_id
            .get(&record.id)
            .and_then(|&i| self.keys.get(i))
            .or_else(|| self.find(&record.digest))
        {
            return Err(ApiKeyError::DuplicateKey {
                key_id: existing.id.clone(),
            });
        }
        let index = self.keys.len();
        self.by_tag
            .entry(record.digest.lookup_tag())
            .or_default()
            .push(index);
        self.by_id.insert(record.id.clone(), index);
        self.by_store
            .entry(record.store_id.clone())
            .or_default()
            .push(index);
        self.keys.push(record);
        Ok(())
    }

    /// Checks a presented key at `now`.
    ///
    /// # Errors
    ///
    /// Each rejection is its own variant: [`ApiKeyError::UnknownPrefix`],
    /// [`ApiKeyError::Length`] or [`ApiKeyError::Alphabet`] for text that is not a key;
    /// [`ApiKeyError::Unknown`] when no record has its digest; [`ApiKeyError::Expired`] at or
    /// after its expiry; [`ApiKeyError::Revoked`] at or after its revocation. No error contains
    /// the key's text.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::api_keys::{ApiKeyError, Environment, KeyRing, KeySeed, Verified};
    /// use whale_security::{id::StoreId, time};
    ///
    /// let now = time::parse("2026-03-10T10:00:00Z")?;
    /// let mut ring = KeyRing::new();
    /// let key = ring.issue(StoreId::new("store_a1")?, Environment::Live, KeySeed::from_bytes([4; 32]), now)?;
    ///
    /// let verified = ring.verify(key.expose_secret(), now)?;
    /// assert!(matches!(verified, Verified::Valid { .. }));
    /// assert_eq!(verified.key().id(), key.id());
    ///
    /// let other = format!("wk_live_{}", "0".repeat(43));
    /// assert_eq!(ring.verify(&other, now).unwrap_err(), ApiKeyError::Unknown);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, presented: &str, now: DateTime<Utc>) -> Result<Verified<'_>, ApiKeyError> {
        let presented = PresentedKey::parse(presented)?;
        let key = self.find(&presented.digest()).ok_or(ApiKeyError::Unknown)?;
        Ok(match key.usable_at(now)? {
            None => Verified::Valid { key },
            Some(expires_at) => Verified::InGrace { key, expires_at },
        })
    }

    /// The record with id `id`.
    #[must_use]
    pub fn get(&self, id: &KeyId) -> Option<&StoredKey> {
        self.by_id.get(id).and_then(|&i| self.keys.get(i))
    }

    /// Every record, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &StoredKey> + Clone {
        self.keys.iter()
    }

    /// The records of one store, in insertion order.
    pub fn keys_of<'a>(
        &'a self,
        store_id: &StoreId,
    ) -> impl Iterator<Item = &'a StoredKey> + Clone {
        self.by_store
            .get(store_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|&i| self.keys.get(i))
    }

    /// The number of records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no records.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Revokes key `id` at `now`. Revoking a key already revoked keeps the earlier instant.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::KeyNotFound`] when no record has that id.
    pub fn revoke(&mut self, id: &KeyId, now: DateTime<Utc>) -> Result<(), ApiKeyError> {
        let key = self
            .by_id
            .get(id)
            .and_then(|&i| self.keys.get_mut(i))
            .ok_or_else(|| ApiKeyError::KeyNotFound { key_id: id.clone() })?;
        key.revoked_at = Some(key.revoked_at.map_or(now, |r| r.min(now)));
        Ok(())
    }

    /// Rotates every active key of `store_id` at `now`: plans with
    /// [`plan_rotation`](super::plan_rotation) and applies the plan with
    /// [`KeyRing::apply_rotation`].
    ///
    /// # Errors
    ///
    /// As those two functions.
    pub fn rotate_now(
        &mut self,
        store_id: &StoreId,
        mode: RotationMode,
        now: DateTime<Utc>,
        seeds: impl FnMut() -> KeySeed,
    ) -> Result<Rotation, ApiKeyError> {
        let plan = super::plan_rotation(store_id, self.keys_of(store_id), mode, now)?;
        self.apply_rotation(&plan, seeds)
    }

    /// Carries out a rotation plan, drawing one seed per successor.
    ///
    /// Applying is idempotent: a key of the plan that is no longer active (because this plan or
    /// another rotation was already applied) gets no second successor, and a generation the
    /// plan cuts short keeps the earlier of its expiry and the plan's instant. Nothing changes
    /// when an error is returned.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::NothingToRotate`] when no key of the plan is still active (the plan was
    /// already applied); [`ApiKeyError::DuplicateKey`] when a seed repeats an existing key.
    pub fn apply_rotation(
        &mut self,
        plan: &RotationPlan,
        mut seeds: impl FnMut() -> KeySeed,
    ) -> Result<Rotation, ApiKeyError> {
        let at = plan.rotated_at();
        let mut successors: Vec<(usize, ApiKey)> = Vec::new();
        for id in plan.rotate() {
            let Some(&index) = self.by_id.get(id) else {
                continue;
            };
            let Some(old) = self.keys.get(index) else {
                continue;
            };
            if old.status_at(at) != KeyStatus::Active || old.store_id != *plan.store_id() {
                continue;
            }
            let key = ApiKey::from_seed(old.environment, seeds());
            let repeated = self.get(key.id()).is_some()
                || self.find(&key.digest()).is_some()
                || successors.iter().any(|(_, k)| k.id() == key.id());
            if repeated {
                return Err(ApiKeyError::DuplicateKey {
                    key_id: key.id().clone(),
                });
            }
            successors.push((index, key));
        }
        if successors.is_empty() {
            return Err(ApiKeyError::NothingToRotate {
                store_id: plan.store_id().clone(),
            });
        }

        for id in plan.cut_short() {
            let Some(key) = self.by_id.get(id).and_then(|&i| self.keys.get_mut(i)) else {
                continue;
            };
            if !key.status_at(at).is_valid() {
                continue;
            }
            match plan.mode() {
                RotationMode::Compromised => key.revoked_at = Some(at),
                RotationMode::Graceful { .. } => {
                    key.expires_at = Some(key.expires_at.map_or(at, |e| e.min(at)));
                }
            }
        }
        let mut rotated = Vec::with_capacity(successors.len());
        for (index, key) in successors {
            let Some(old) = self.keys.get_mut(index) else {
                continue;
            };
            match plan.mode() {
                RotationMode::Compromised => {
                    old.revoked_at = Some(at);
                    old.expires_at = Some(at);
                }
                RotationMode::Graceful { .. } => old.expires_at = Some(plan.old_key_expires_at()),
            }
            let record = StoredKey::successor(&key, old, at);
            rotated.push((old.id.clone(), key));
            self.insert(record)?;
        }
        Ok(Rotation::new(plan, rotated))
    }

    /// The record whose digest equals `digest`, compared in constant time with every record
    /// sharing its 8-byte tag.
    fn find(&self, digest: &KeyDigest) -> Option<&StoredKey> {
        let candidates = self.by_tag.get(&digest.lookup_tag())?;
        let mut found = None;
        for &i in candidates {
            if let Some(key) = self.keys.get(i)
                && bool::from(key.digest.ct_eq(digest))
            {
                found = Some(key);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse;

    fn ring_with_one() -> (KeyRing, ApiKey, DateTime<Utc>) {
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let mut ring = KeyRing::new();
        let key = ring
            .issue(
                StoreId::new("store_a1").unwrap(),
                Environment::Live,
                KeySeed::from_bytes([1; 32]),
                now,
            )
            .unwrap();
        (ring, key, now)
    }

    #[test]
    fn a_record_survives_a_round_trip_through_storage_fields() {
        let (ring, key, now) = ring_with_one();
        let record = ring.get(key.id()).unwrap().to_record();
        let mut other = KeyRing::new();
        other
            .insert(StoredKey::from_record(record).unwrap())
            .unwrap();
        assert!(matches!(
            other.verify(key.expose_secret(), now),
            Ok(Verified::Valid { .. })
        ));
    }

    #[test]
    fn an_inconsistent_record_is_refused_by_field() {
        let (ring, key, now) = ring_with_one();
        let good = ring.get(key.id()).unwrap().to_record();
        let mut wrong_env = good.clone();
        wrong_env.environment = Environment::Test;
        let mut early_expiry = good.clone();
        early_expiry.expires_at = Some(now - chrono::TimeDelta::try_seconds(1).unwrap());
        for (record, field) in [(wrong_env, "display_prefix"), (early_expiry, "expires_at")] {
            assert!(matches!(
                StoredKey::from_record(record),
                Err(ApiKeyError::InvalidRecord { field: f, .. }) if f == field
            ));
        }
    }

    #[test]
    fn the_same_key_cannot_be_stored_twice() {
        let (mut ring, key, _) = ring_with_one();
        let again = ring.get(key.id()).unwrap().clone();
        assert_eq!(
            ring.insert(again).unwrap_err(),
            ApiKeyError::DuplicateKey {
                key_id: key.id().clone()
            }
        );
        assert_eq!(ring.len(), 1);
    }

    #[test]
    fn revoking_twice_keeps_the_earlier_instant_and_revocation_outranks_expiry() {
        let (mut ring, key, now) = ring_with_one();
        let later = now + chrono::TimeDelta::try_hours(1).unwrap();
        ring.revoke(key.id(), later).unwrap();
        ring.revoke(key.id(), now).unwrap();
        ring.revoke(key.id(), later).unwrap();
        let record = ring.get(key.id()).unwrap();
        assert_eq!(record.revoked_at(), Some(now));
        let mut expired = record.to_record();
        expired.expires_at = Some(now);
        let expired = StoredKey::from_record(expired).unwrap();
        assert_eq!(
            expired.status_at(later),
            KeyStatus::Revoked { revoked_at: now }
        );
    }

    #[test]
    fn revoking_an_unknown_id_is_an_error() {
        let (mut ring, _, now) = ring_with_one();
        let id = KeyId::new("key_nope").unwrap();
        assert_eq!(
            ring.revoke(&id, now).unwrap_err(),
            ApiKeyError::KeyNotFound { key_id: id }
        );
    }
}
