//! Who is calling: the `Authorization: Bearer` key, checked against the store in the path.
//!
//! The API reaches keys through [`KeyAuthority`], so the key store behind it can be swapped
//! without touching a handler.
//!
//! Decisions, in order:
//! - no `Authorization` header, or not `Bearer <key>`: 401 `missing_api_key`;
//! - text that is not a key, or a key nobody issued: 401 `invalid_api_key`;
//! - an expired key (its grace period is over): 401 `api_key_expired`; a revoked key: 401
//!   `api_key_revoked`;
//! - a valid key of *another* store: 403 `api_key_wrong_store`. The caller did authenticate,
//!   but that key grants nothing here. The answer is the same whether or not the store in the
//!   path exists, so a key holder learns nothing about other stores;
//! - a valid key of the store: the request proceeds. A key in its grace period works, and the
//!   response carries `Whale-Key-Expires-At` with the instant it stops working (RFC 3339).
//!
//! The audit actor of a change made with a key is a [`UserId`] derived from the key's id
//! (`key_3f9a...` acts as `user_key_3f9a...`), so the audit log tells which key made each change
//! without ever holding key text.

use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use super::ApiError;
use crate::api_keys::{
    ApiKey, ApiKeyError, Environment, KeyRing, KeySeed, Rotation, RotationMode, SEED_LEN, Verified,
};
use crate::id::{KeyId, StoreId, UserId};

/// The keys the API accepts, and immediate rotation.
pub trait KeyAuthority: Send + Sync + 'static {
    /// Checks a presented key's text at `now`.
    ///
    /// # Errors
    ///
    /// The key's rejection ([`ApiKeyError`]'s rejections become 401 answers); storage failures.
    fn verify(&self, presented: &str, now: DateTime<Utc>) -> Result<Grant, ApiError>;

    /// Rotates every active key of `store_id` at `now`.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::NothingToRotate`] (409) when the store has no active key; storage or
    /// random-source failures.
    fn rotate(
        &self,
        store_id: &StoreId,
        mode: RotationMode,
        now: DateTime<Utc>,
    ) -> Result<Rotation, ApiError>;
}

/// An accepted key: whose it is and until when it works.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Grant {
    /// The key's id.
    pub key_id: KeyId,
    /// The store the key belongs to.
    pub store_id: StoreId,
    /// The first instant the key stops working, when it is in its grace period.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// The grant of a verified key.
    #[must_use]
    pub fn of(verified: &Verified<'_>) -> Self {
        Self {
            key_id: verified.key().id().clone(),
            store_id: verified.key().store_id().clone(),
            expires_at: verified.expires_at(),
        }
    }

    /// The audit actor for changes made with this key: `user_key_` followed by the key id's
    /// suffix (cut to the 64 characters a user id allows).
    ///
    /// # Errors
    ///
    /// Never for a key id this crate issues; an internal error otherwise.
    pub fn actor(&self) -> Result<UserId, ApiError> {
        let suffix = self
            .key_id
            .as_str()
            .strip_prefix(KeyId::PREFIX)
            .unwrap_or_default();
        let suffix = suffix.get(..ACTOR_SUFFIX_MAX).unwrap_or(suffix);
        UserId::new(format!("{}key_{suffix}", UserId::PREFIX)).map_err(|e| ApiError::internal(&e))
    }
}

/// Keys kept in memory, in a [`KeyRing`] behind a mutex, with successors drawn from the OS
/// random source: for tests, and for services that load their keys at start.
///
/// Keys live only as long as the value; a service that must keep them across restarts puts a
/// persistent key store behind [`KeyAuthority`].
#[derive(Debug, Default)]
pub struct MemoryKeys {
    ring: Mutex<KeyRing>,
}

impl MemoryKeys {
    /// No keys.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Issues a live key for `store_id` from `seed` and returns it: the only time its text is
    /// available.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::DuplicateKey`] when the seed was used before.
    pub fn issue(
        &self,
        store_id: StoreId,
        seed: KeySeed,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, ApiKeyError> {
        self.lock().issue(store_id, Environment::Live, seed, now)
    }

    /// Revokes key `id` at `now`.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::KeyNotFound`] when no key has that id.
    pub fn revoke(&self, id: &KeyId, now: DateTime<Utc>) -> Result<(), ApiKeyError> {
        self.lock().revoke(id, now)
    }

    fn lock(&self) -> MutexGuard<'_, KeyRing> {
        // Every ring method checks before it mutates, so a ring whose lock was poisoned by a
        // panicking thread is still consistent.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KeyAuthority for MemoryKeys {
    fn verify(&self, presented: &str, now: DateTime<Utc>) -> Result<Grant, ApiError> {
        let ring = self.lock();
        Ok(ring.verify(presented, now).map(|v| Grant::of(&v))?)
    }

    fn rotate(
        &self,
        store_id: &StoreId,
        mode: RotationMode,
        now: DateTime<Utc>,
    ) -> Result<Rotation, ApiError> {
        let mut ring = self.lock();
        // One seed per key of the store is at least one per active key, which is what a
        // rotation draws; drawn up front because the ring's seed source cannot fail.
        let mut seeds = Vec::new();
        for _ in ring.keys_of(store_id) {
            seeds.push(os_seed()?);
        }
        let mut seeds = seeds.into_iter();
        let mut short = false;
        let rotation = ring.rotate_now(store_id, mode, now, || {
            seeds.next().unwrap_or_else(|| {
                short = true;
                KeySeed::from_bytes([0; SEED_LEN])
            })
        });
        if short {
            return Err(ApiError::internal(&"a rotation drew more seeds than keys"));
        }
        Ok(rotation?)
    }
}

/// A key seed from the operating system's random source (edge code: the core never reads it).
///
/// # Errors
///
/// An internal error when the random source fails.
pub fn os_seed() -> Result<KeySeed, ApiError> {
    let mut bytes = [0u8; SEED_LEN];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(&e))?;
    Ok(KeySeed::from_bytes(bytes))
}

/// The longest key-id suffix kept in an actor id: `key_` plus this is a user id's 64.
const ACTOR_SUFFIX_MAX: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_keys::RotationGraceHours;
    use crate::time::parse;

    #[test]
    fn a_key_in_grace_is_granted_with_its_expiry_and_fails_at_the_expiry_instant() {
        let t0 = parse("2026-03-10T10:00:00Z").unwrap();
        let store = StoreId::new("store_a1").unwrap();
        let keys = MemoryKeys::new();
        let old = keys.issue(store.clone(), os_seed().unwrap(), t0).unwrap();
        let grace = RotationMode::Graceful {
            grace: RotationGraceHours::new(24).unwrap(),
        };
        let rotation = keys.rotate(&store, grace, t0).unwrap();
        let expiry = parse("2026-03-11T10:00:00Z").unwrap();

        let grant = keys.verify(old.expose_secret(), t0).unwrap();
        assert_eq!(grant.expires_at, Some(expiry));
        assert_eq!(grant.store_id, store);
        let at_expiry = keys.verify(old.expose_secret(), expiry).unwrap_err();
        assert_eq!(at_expiry.code(), crate::http::ErrorCode::ApiKeyExpired);
        assert!(!at_expiry.message().contains(old.expose_secret()));

        let (_, new) = &rotation.new_keys()[0];
        assert_eq!(
            keys.verify(new.expose_secret(), expiry).unwrap().expires_at,
            None
        );
    }

    #[test]
    fn the_actor_is_the_key_id_as_a_user_id() {
        let grant = Grant {
            key_id: KeyId::new("key_0123abcd").unwrap(),
            store_id: StoreId::new("store_a1").unwrap(),
            expires_at: None,
        };
        assert_eq!(grant.actor().unwrap().as_str(), "user_key_0123abcd");
        let long = Grant {
            key_id: KeyId::new(format!("key_{}", "a".repeat(64))).unwrap(),
            ..grant
        };
        assert_eq!(long.actor().unwrap().as_str().len(), 5 + 64);
    }
}
