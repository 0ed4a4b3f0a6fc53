//! The in-memory store, for tests and examples.

mod keys;
mod members;
mod sessions;

use std::collections::{BTreeMap, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{
    AuditEntry, AuditLog, AuditPage, AuditQuery, Committed, SettingsStore, StoreError, Version,
    Versioned,
};
use crate::SecuritySettings;
use crate::api_keys::StoredKey;
use crate::audit::AuditRecord;
use crate::id::{KeyId, StoreId, UserId};
use crate::session::{Session, SessionId};
use crate::store::StoredTotp;
use crate::two_factor::Member;

/// A store that keeps everything in process memory behind one lock.
///
/// It meets the same contract as the durable stores (the same test suite runs against both), and
/// needs no runtime: a plain `#[test]` can use it. Nothing survives the process.
///
/// # Examples
///
/// ```
/// use whale_security::audit::{AuditAction, AuditRecord};
/// use whale_security::id::{StoreId, UserId};
/// use whale_security::store::{MemoryStore, SettingsStore, StoreError, Version};
/// use whale_security::{SecuritySettings, time};
///
/// let store = MemoryStore::new();
/// let now = time::parse("2026-03-10T10:00:00Z")?;
/// let admin = UserId::new("user_admin")?;
/// let settings = SecuritySettings::new(StoreId::new("store_a1")?, admin.clone(), now);
/// let record = AuditRecord { actor: admin, at: now, action: AuditAction::CreateSettings, changes: vec![] };
///
/// let created = store.create_settings(&settings, &record)?;
/// assert_eq!(created.version, Version::FIRST);
///
/// // A write based on version 1 commits once; the same write again is stale.
/// store.write_settings(Version::FIRST, &settings, &record)?;
/// let stale = store.write_settings(Version::FIRST, &settings, &record);
/// assert!(matches!(stale, Err(StoreError::Conflict { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    settings: BTreeMap<StoreId, Versioned<SecuritySettings>>,
    audit: BTreeMap<StoreId, Vec<AuditEntry>>,
    keys: BTreeMap<KeyId, StoredKey>,
    key_tags: HashMap<u64, Vec<KeyId>>,
    store_keys: BTreeMap<StoreId, Vec<KeyId>>,
    members: BTreeMap<StoreId, BTreeMap<UserId, Member>>,
    totp: BTreeMap<StoreId, BTreeMap<UserId, StoredTotp>>,
    sessions: BTreeMap<StoreId, BTreeMap<SessionId, Session>>,
    passwords: BTreeMap<StoreId, BTreeMap<UserId, Vec<sessions::Phc>>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, Inner>, StoreError> {
        self.inner.read().map_err(|_| StoreError::Poisoned)
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, Inner>, StoreError> {
        self.inner.write().map_err(|_| StoreError::Poisoned)
    }
}

impl Inner {
    /// Appends `record` to the log of `store_id`, returning its sequence number.
    ///
    /// Callers check everything that can fail before calling, so the settings change and the
    /// append happen together under one write lock.
    fn append(&mut self, store_id: &StoreId, record: &AuditRecord, sequence: u64) {
        self.audit
            .entry(store_id.clone())
            .or_default()
            .push(AuditEntry {
                store_id: store_id.clone(),
                sequence,
                record: record.clone(),
            });
    }

    /// The version a write based on `expected` commits, after checking the store holds
    /// `expected`.
    fn next_version(&self, store_id: &StoreId, expected: Version) -> Result<Version, StoreError> {
        let Some(current) = self.settings.get(store_id) else {
            return Err(StoreError::NotFound {
                store_id: store_id.clone(),
            });
        };
        if current.version != expected {
            return Err(StoreError::Conflict {
                store_id: store_id.clone(),
                expected,
                found: current.version,
            });
        }
        current
            .version
            .checked_next()
            .ok_or_else(|| StoreError::Backend {
                detail: format!("settings version of `{store_id}` is exhausted"),
            })
    }

    fn set_settings(&mut self, settings: &SecuritySettings, version: Version) {
        self.settings.insert(
            settings.store_id().clone(),
            Versioned {
                value: settings.clone(),
                version,
            },
        );
    }

    fn next_sequence(&self, store_id: &StoreId) -> Result<u64, StoreError> {
        let last = self
            .audit
            .get(store_id)
            .and_then(|log| log.last())
            .map_or(0, |e| e.sequence);
        last.checked_add(1).ok_or_else(|| StoreError::Backend {
            detail: format!("audit sequence of `{store_id}` is exhausted"),
        })
    }
}

impl SettingsStore for MemoryStore {
    fn store_ids(&self) -> Result<Vec<StoreId>, StoreError> {
        Ok(self.read()?.settings.keys().cloned().collect())
    }

    fn settings(
        &self,
        store_id: &StoreId,
    ) -> Result<Option<Versioned<SecuritySettings>>, StoreError> {
        Ok(self.read()?.settings.get(store_id).cloned())
    }

    fn create_settings(
        &self,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        let store_id = settings.store_id();
        let mut inner = self.write()?;
        if inner.settings.contains_key(store_id) {
            return Err(StoreError::AlreadyExists {
                store_id: store_id.clone(),
            });
        }
        let sequence = inner.next_sequence(store_id)?;
        inner.settings.insert(
            store_id.clone(),
            Versioned {
                value: settings.clone(),
                version: Version::FIRST,
            },
        );
        inner.append(store_id, audit, sequence);
        Ok(Committed {
            version: Version::FIRST,
            sequence,
        })
    }

    fn write_settings(
        &self,
        expected: Version,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        let store_id = settings.store_id();
        let mut inner = self.write()?;
        let version = inner.next_version(store_id, expected)?;
        let sequence = inner.next_sequence(store_id)?;
        inner.set_settings(settings, version);
        inner.append(store_id, audit, sequence);
        Ok(Committed { version, sequence })
    }
}

impl AuditLog for MemoryStore {
    fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let inner = self.read()?;
        let after = query.after_sequence();
        let take = usize::try_from(query.page_limit().get())
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let entries = inner
            .audit
            .get(query.store_id())
            .map(|log| {
                log.iter()
                    .filter(|e| e.sequence > after && query.in_range(e.record.at))
                    .take(take)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(AuditPage::from_overfetch(entries, query.page_limit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::store::contract::contract_tests!(Box::new(MemoryStore::new()));
}
