//! The API key store: key records by id, by store and by digest, and rotations applied in one
//! transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Committed, StoreError, Version};
use crate::SecuritySettings;
use crate::api_keys::{KeyDigest, StoredKey};
use crate::audit::AuditRecord;
use crate::id::{KeyId, StoreId};

/// Keeps API key records ([`StoredKey`]: id, digest, display prefix, creation, expiry and
/// revocation). Key text is never stored, only its SHA-256 digest.
///
/// # Contract
///
/// - **Lookup.** [`ApiKeyStore::key_by_digest`] finds candidates by the digest's
///   [`lookup_tag`](KeyDigest::lookup_tag) through an index and compares the whole digest in
///   constant time (`subtle`), so the time a lookup takes does not depend on how many leading
///   bytes of a stored digest a guess matched.
/// - **Uniqueness.** No two records share an id or a digest.
/// - **Rotation in one transaction.** [`ApiKeyStore::commit_rotation`] creates the successors,
///   sets the old keys' expiry or revocation, writes the settings (their `last_rotation` and
///   `next_rotation`) naming the version read, and appends the audit record, all or nothing. A
///   key that changed since it was read makes the whole rotation fail with
///   [`StoreError::KeyChanged`]; a settings version that moved, with [`StoreError::Conflict`].
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key record and appends `audit` to its store's log, in one transaction;
    /// returns the audit entry's sequence number.
    ///
    /// # Errors
    ///
    /// [`StoreError::DuplicateKey`] when a record has the same id or digest; storage failures.
    fn insert_key(&self, key: &StoredKey, audit: &AuditRecord) -> Result<u64, StoreError>;

    /// The record whose digest is `digest`, of any store, or `None`.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptRecord`] when a stored record is not valid; storage failures.
    fn key_by_digest(&self, digest: &KeyDigest) -> Result<Option<StoredKey>, StoreError>;

    /// The record with id `key_id`, or `None`.
    ///
    /// # Errors
    ///
    /// As [`ApiKeyStore::key_by_digest`].
    fn key(&self, key_id: &KeyId) -> Result<Option<StoredKey>, StoreError>;

    /// Every record of `store_id` (valid or not), oldest first (by creation, then id).
    ///
    /// # Errors
    ///
    /// As [`ApiKeyStore::key_by_digest`].
    fn keys_of(&self, store_id: &StoreId) -> Result<Vec<StoredKey>, StoreError>;

    /// Revokes key `key_id` of `store_id` at `at` (an earlier revocation is kept) and appends
    /// `audit`, in one transaction; returns the audit entry's sequence number.
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyNotFound`] when `store_id` has no key `key_id`; storage failures.
    fn revoke_key(
        &self,
        store_id: &StoreId,
        key_id: &KeyId,
        at: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError>;

    /// Applies `changes`, writes `settings` (read at `expected`) and appends `audit`, in one
    /// transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyChanged`] when a key to update no longer holds the expiry and revocation
    /// it was read with, or was removed; [`StoreError::DuplicateKey`] when a successor's id or
    /// digest exists; [`StoreError::Conflict`] / [`StoreError::NotFound`] as
    /// [`SettingsStore::write_settings`](super::SettingsStore::write_settings); storage failures.
    /// Nothing is written on any error.
    fn commit_rotation(
        &self,
        changes: &KeyChanges,
        expected: Version,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError>;
}

/// The key writes of one rotation: successors to create, and old keys whose expiry or revocation
/// changes, each with the state it was read in (the compare of a compare-and-set).
///
/// Built by [`KeyChanges::between`] from the records read and the records after the rotation.
#[derive(Clone, Debug)]
pub struct KeyChanges {
    store_id: StoreId,
    created: Vec<StoredKey>,
    updated: Vec<KeyUpdate>,
}

/// One key whose expiry or revocation a rotation changes.
#[derive(Clone, Debug)]
pub struct KeyUpdate {
    before: StoredKey,
    after: StoredKey,
}

impl KeyChanges {
    /// The changes that turn `before` (the store's records as read) into `after`: records of
    /// `store_id` in `after` with an id not in `before` are created, records whose expiry or
    /// revocation differ are updated. Records of other stores are ignored.
    #[must_use]
    pub fn between<'a>(
        store_id: &StoreId,
        before: &[StoredKey],
        after: impl IntoIterator<Item = &'a StoredKey>,
    ) -> Self {
        let mut created = Vec::new();
        let mut updated = Vec::new();
        for key in after.into_iter().filter(|k| k.store_id() == store_id) {
            match before.iter().find(|b| b.id() == key.id()) {
                None => created.push(key.clone()),
                Some(old)
                    if old.expires_at() != key.expires_at()
                        || old.revoked_at() != key.revoked_at() =>
                {
                    updated.push(KeyUpdate {
                        before: old.clone(),
                        after: key.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        Self {
            store_id: store_id.clone(),
            created,
            updated,
        }
    }

    /// The store the changes belong to.
    #[must_use]
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }

    /// The records to create.
    #[must_use]
    pub fn created(&self) -> &[StoredKey] {
        &self.created
    }

    /// The records to update.
    #[must_use]
    pub fn updated(&self) -> &[KeyUpdate] {
        &self.updated
    }

    /// Whether there is nothing to write.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty()
    }
}

impl KeyUpdate {
    /// The record as it was read; the store must still hold its expiry and revocation.
    #[must_use]
    pub fn before(&self) -> &StoredKey {
        &self.before
    }

    /// The record to write.
    #[must_use]
    pub fn after(&self) -> &StoredKey {
        &self.after
    }

    /// Whether `current` (the stored record) still holds the state this update was computed
    /// from.
    #[must_use]
    pub fn still_applies_to(&self, current: &StoredKey) -> bool {
        current.expires_at() == self.before.expires_at()
            && current.revoked_at() == self.before.revoked_at()
            && current.store_id() == self.before.store_id()
    }
}

impl<T: ApiKeyStore + ?Sized> ApiKeyStore for Arc<T> {
    fn insert_key(&self, key: &StoredKey, audit: &AuditRecord) -> Result<u64, StoreError> {
        (**self).insert_key(key, audit)
    }

    fn key_by_digest(&self, digest: &KeyDigest) -> Result<Option<StoredKey>, StoreError> {
        (**self).key_by_digest(digest)
    }

    fn key(&self, key_id: &KeyId) -> Result<Option<StoredKey>, StoreError> {
        (**self).key(key_id)
    }

    fn keys_of(&self, store_id: &StoreId) -> Result<Vec<StoredKey>, StoreError> {
        (**self).keys_of(store_id)
    }

    fn revoke_key(
        &self,
        store_id: &StoreId,
        key_id: &KeyId,
        at: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        (**self).revoke_key(store_id, key_id, at, audit)
    }

    fn commit_rotation(
        &self,
        changes: &KeyChanges,
        expected: Version,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        (**self).commit_rotation(changes, expected, settings, audit)
    }
}

/// `key` revoked at `at`: an earlier revocation is kept, and an instant before the key's
/// creation counts as its creation (a record cannot be revoked before it existed).
pub(crate) fn revoked_copy(key: &StoredKey, at: DateTime<Utc>) -> Result<StoredKey, StoreError> {
    let mut record = key.to_record();
    let at = at.max(key.created_at());
    record.revoked_at = Some(record.revoked_at.map_or(at, |r| r.min(at)));
    StoredKey::from_record(record).map_err(|e| StoreError::CorruptRecord {
        what: "api key",
        key: key.id().to_string(),
        detail: e.to_string(),
    })
}

/// The error for a rotation whose key changes belong to another store than the settings
/// written with them: a caller bug, refused before anything is written.
pub(crate) fn mismatched_store(changes: &StoreId, settings: &StoreId) -> StoreError {
    StoreError::Backend {
        detail: format!("key changes of `{changes}` written with the settings of `{settings}`"),
    }
}
