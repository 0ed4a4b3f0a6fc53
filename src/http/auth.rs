//! Who is calling: the `Authorization: Bearer` key, checked against the store in the path.
//!
//! Keys are verified by [`SecurityService::verify_key`] (a digest lookup in the store's key
//! table and a constant-time comparison), on the blocking pool.
//!
//! Decisions, in order:
//! - no `Authorization` header, or not `Bearer <key>`: 401 `missing_api_key`;
//! - text that is not a key, or a key nobody issued: 401 `invalid_api_key`;
//! - an expired key (its grace period is over): 401 `api_key_expired`; a revoked key: 401
//!   `api_key_revoked`;
//! - a valid key of *another* store: 403 `api_key_wrong_store`. The caller did authenticate,
//!   but that key grants nothing here;
//! - a valid key of the store: the request proceeds. A key in its grace period works, and the
//!   response carries `Whale-Key-Expires-At` with the instant it stops working (RFC 3339).
//!
//! The audit actor of a change made with a key is a [`UserId`] derived from the key's id
//! (`key_3f9a...` acts as `user_key_3f9a...`), so the audit log tells which key made each change
//! without ever holding key text.

use chrono::{DateTime, Utc};

use super::ApiError;
use crate::id::{KeyId, StoreId, UserId};
use crate::service::{SecurityService, VerifiedKey};
use crate::store::Store;

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
    pub fn of(verified: &VerifiedKey) -> Self {
        Self {
            key_id: verified.key().id().clone(),
            store_id: verified.store_id().clone(),
            expires_at: verified.verified().expires_at(),
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

/// Checks `presented` at `now` with the service: the grant, or the rejection as an API error.
pub(crate) fn verify<S: Store>(
    service: &SecurityService<S>,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Grant, ApiError> {
    Ok(Grant::of(&service.verify_key(presented, now)?))
}

/// The longest key-id suffix kept in an actor id: `key_` plus this is a user id's 64.
const ACTOR_SUFFIX_MAX: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;

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
