//! API keys in memory.

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::{Inner, MemoryStore};
use crate::SecuritySettings;
use crate::api_keys::{KeyDigest, StoredKey};
use crate::audit::AuditRecord;
use crate::id::{KeyId, StoreId};
use crate::store::{
    ApiKeyStore, Committed, KeyChanges, StoreError, Version, mismatched_store, revoked_copy,
};

impl ApiKeyStore for MemoryStore {
    fn insert_key(&self, key: &StoredKey, audit: &AuditRecord) -> Result<u64, StoreError> {
        let mut inner = self.write()?;
        inner.check_new_key(key)?;
        let sequence = inner.next_sequence(key.store_id())?;
        inner.put_key(key.clone());
        inner.append(key.store_id(), audit, sequence);
        Ok(sequence)
    }

    fn key_by_digest(&self, digest: &KeyDigest) -> Result<Option<StoredKey>, StoreError> {
        Ok(self.read()?.find_key(digest).cloned())
    }

    fn key(&self, key_id: &KeyId) -> Result<Option<StoredKey>, StoreError> {
        Ok(self.read()?.keys.get(key_id).cloned())
    }

    fn keys_of(&self, store_id: &StoreId) -> Result<Vec<StoredKey>, StoreError> {
        let inner = self.read()?;
        let mut keys: Vec<StoredKey> = inner
            .store_keys
            .get(store_id)
            .into_iter()
            .flatten()
            .filter_map(|id| inner.keys.get(id).cloned())
            .collect();
        keys.sort_by(|a, b| (a.created_at(), a.id()).cmp(&(b.created_at(), b.id())));
        Ok(keys)
    }

    fn revoke_key(
        &self,
        store_id: &StoreId,
        key_id: &KeyId,
        at: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let mut inner = self.write()?;
        let Some(current) = inner.keys.get(key_id).filter(|k| k.store_id() == store_id) else {
            return Err(StoreError::KeyNotFound {
                store_id: store_id.clone(),
                key_id: key_id.clone(),
            });
        };
        let revoked = revoked_copy(current, at)?;
        let sequence = inner.next_sequence(store_id)?;
        inner.keys.insert(key_id.clone(), revoked);
        inner.append(store_id, audit, sequence);
        Ok(sequence)
    }

    fn commit_rotation(
        &self,
        changes: &KeyChanges,
        expected: Version,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        let store_id = settings.store_id();
        if changes.store_id() != store_id {
            return Err(mismatched_store(changes.store_id(), store_id));
        }
        let mut inner = self.write()?;
        let version = inner.next_version(store_id, expected)?;
        for update in changes.updated() {
            let id = update.after().id();
            let current = inner.keys.get(id);
            if !current.is_some_and(|c| update.still_applies_to(c)) {
                return Err(StoreError::KeyChanged { key_id: id.clone() });
            }
        }
        for (i, key) in changes.created().iter().enumerate() {
            inner.check_new_key(key)?;
            let repeated = changes
                .created()
                .iter()
                .take(i)
                .any(|k| k.id() == key.id() || bool::from(k.digest().ct_eq(&key.digest())));
            if repeated {
                return Err(StoreError::DuplicateKey {
                    key_id: key.id().clone(),
                });
            }
        }
        let sequence = inner.next_sequence(store_id)?;

        // Everything that can fail has been checked: apply all of it under the one write lock.
        for update in changes.updated() {
            inner
                .keys
                .insert(update.after().id().clone(), update.after().clone());
        }
        for key in changes.created() {
            inner.put_key(key.clone());
        }
        inner.set_settings(settings, version);
        inner.append(store_id, audit, sequence);
        Ok(Committed { version, sequence })
    }
}

impl Inner {
    /// The stored key whose digest is `digest`: candidates by tag, each compared in full in
    /// constant time, without stopping at the first match.
    fn find_key(&self, digest: &KeyDigest) -> Option<&StoredKey> {
        let mut found = None;
        for id in self
            .key_tags
            .get(&digest.lookup_tag())
            .into_iter()
            .flatten()
        {
            if let Some(key) = self.keys.get(id)
                && bool::from(key.digest().ct_eq(digest))
            {
                found = Some(key);
            }
        }
        found
    }

    fn check_new_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        if self.keys.contains_key(key.id()) || self.find_key(&key.digest()).is_some() {
            return Err(StoreError::DuplicateKey {
                key_id: key.id().clone(),
            });
        }
        Ok(())
    }

    fn put_key(&mut self, key: StoredKey) {
        self.key_tags
            .entry(key.digest().lookup_tag())
            .or_default()
            .push(key.id().clone());
        self.store_keys
            .entry(key.store_id().clone())
            .or_default()
            .push(key.id().clone());
        self.keys.insert(key.id().clone(), key);
    }
}
