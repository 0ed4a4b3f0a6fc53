//! API keys in SQLite: one row per key, looked up by an indexed 8-byte tag of the digest and
//! compared in full in constant time.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use subtle::ConstantTimeEq;

use super::{
    SqliteStore, TxError, append, next_version, read_sequence, update_settings, write_json,
};
use crate::SecuritySettings;
use crate::api_keys::{Environment, KeyDigest, KeyRecord, StoredKey};
use crate::audit::AuditRecord;
use crate::id::{KeyId, StoreId};
use crate::store::{
    ApiKeyStore, Committed, KeyChanges, StoreError, Version, mismatched_store, revoked_copy,
};

impl ApiKeyStore for SqliteStore {
    fn insert_key(&self, key: &StoredKey, audit: &AuditRecord) -> Result<u64, StoreError> {
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        insert(&tx, key).map_err(|e| e.into_store(&err))?;
        let sequence = append(&tx, key.store_id(), audit).map_err(&err)?;
        tx.commit().map_err(&err)?;
        read_sequence(key.store_id(), sequence)
    }

    fn key_by_digest(&self, digest: &KeyDigest) -> Result<Option<StoredKey>, StoreError> {
        let conn = self.lock()?;
        let err = self.err();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE tag = ?1"))
            .map_err(&err)?;
        let rows: Vec<RawKey> = stmt
            .query_map([sql_tag(digest)], RawKey::read)
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        drop(stmt);
        drop(conn);
        let mut found = None;
        for raw in rows {
            let key = raw.into_key()?;
            if bool::from(key.digest().ct_eq(digest)) {
                found = Some(key);
            }
        }
        Ok(found)
    }

    fn key(&self, key_id: &KeyId) -> Result<Option<StoredKey>, StoreError> {
        let conn = self.lock()?;
        let raw = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row([key_id.as_str()], RawKey::read).optional())
            .map_err(self.err())?;
        drop(conn);
        raw.map(RawKey::into_key).transpose()
    }

    fn keys_of(&self, store_id: &StoreId) -> Result<Vec<StoredKey>, StoreError> {
        let conn = self.lock()?;
        let err = self.err();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM api_keys WHERE store_id = ?1 ORDER BY created_ms, id"
            ))
            .map_err(&err)?;
        let rows: Vec<RawKey> = stmt
            .query_map([store_id.as_str()], RawKey::read)
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        drop(stmt);
        drop(conn);
        rows.into_iter().map(RawKey::into_key).collect()
    }

    fn revoke_key(
        &self,
        store_id: &StoreId,
        key_id: &KeyId,
        at: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let raw = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1 AND store_id = ?2"),
                [key_id.as_str(), store_id.as_str()],
                RawKey::read,
            )
            .optional()
            .map_err(&err)?;
        let Some(raw) = raw else {
            return Err(StoreError::KeyNotFound {
                store_id: store_id.clone(),
                key_id: key_id.clone(),
            });
        };
        let revoked = revoked_copy(&raw.into_key()?, at)?;
        write_expiry(&tx, &revoked).map_err(&err)?;
        let sequence = append(&tx, store_id, audit).map_err(&err)?;
        tx.commit().map_err(&err)?;
        read_sequence(store_id, sequence)
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
        let document = write_json(settings)?;
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let run = || -> Result<(Version, i64), TxError> {
            let version = next_version(&tx, store_id, expected)?;
            for update in changes.updated() {
                let id = update.after().id();
                let current = tx
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"),
                        [id.as_str()],
                        RawKey::read,
                    )
                    .optional()?
                    .map(RawKey::into_key)
                    .transpose()?;
                if !current.is_some_and(|c| update.still_applies_to(&c)) {
                    return Err(StoreError::KeyChanged { key_id: id.clone() }.into());
                }
                write_expiry(&tx, update.after())?;
            }
            for key in changes.created() {
                insert(&tx, key)?;
            }
            let sequence = update_settings(&tx, version, settings, &document, audit)?;
            Ok((version, sequence))
        };
        let (version, sequence) = run().map_err(|e| e.into_store(&err))?;
        tx.commit().map_err(&err)?;
        Ok(Committed {
            version,
            sequence: read_sequence(store_id, sequence)?,
        })
    }
}

const COLUMNS: &str = "id, store_id, environment, digest, display_prefix, created_ms, expires_ms, \
                       revoked_ms, predecessor";

/// A row as SQLite returns it, before validation.
struct RawKey {
    id: String,
    store_id: String,
    environment: String,
    digest: Vec<u8>,
    display_prefix: String,
    created_ms: i64,
    expires_ms: Option<i64>,
    revoked_ms: Option<i64>,
    predecessor: Option<String>,
}

impl RawKey {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            store_id: row.get(1)?,
            environment: row.get(2)?,
            digest: row.get(3)?,
            display_prefix: row.get(4)?,
            created_ms: row.get(5)?,
            expires_ms: row.get(6)?,
            revoked_ms: row.get(7)?,
            predecessor: row.get(8)?,
        })
    }

    fn into_key(self) -> Result<StoredKey, StoreError> {
        let key = crate::quote::shorten(&self.id);
        let corrupt = |detail: String| StoreError::CorruptRecord {
            what: "api key",
            key: key.clone(),
            detail,
        };
        let instant = |ms: i64, field: &str| {
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| corrupt(format!("`{field}` {ms} is out of range")))
        };
        let optional = |ms: Option<i64>, field: &str| ms.map(|ms| instant(ms, field)).transpose();
        let record = KeyRecord {
            id: KeyId::new(self.id.as_str()).map_err(|e| corrupt(e.to_string()))?,
            store_id: StoreId::new(self.store_id.as_str()).map_err(|e| corrupt(e.to_string()))?,
            environment: match self.environment.as_str() {
                "live" => Environment::Live,
                "test" => Environment::Test,
                other => return Err(corrupt(format!("environment `{other}`"))),
            },
            digest: KeyDigest::from_bytes(
                <[u8; 32]>::try_from(self.digest.as_slice())
                    .map_err(|_| corrupt("the digest is not 32 bytes".into()))?,
            ),
            display_prefix: self.display_prefix,
            created_at: instant(self.created_ms, "created_ms")?,
            expires_at: optional(self.expires_ms, "expires_ms")?,
            revoked_at: optional(self.revoked_ms, "revoked_ms")?,
            predecessor: self
                .predecessor
                .map(KeyId::new)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
        };
        StoredKey::from_record(record).map_err(|e| corrupt(e.to_string()))
    }
}

fn insert(tx: &rusqlite::Transaction<'_>, key: &StoredKey) -> Result<(), TxError> {
    let digest = key.digest().to_bytes();
    let exists: Option<String> = tx
        .query_row(
            "SELECT id FROM api_keys WHERE id = ?1 OR digest = ?2",
            params![key.id().as_str(), digest.as_slice()],
            |row| row.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::DuplicateKey {
            key_id: key.id().clone(),
        }
        .into());
    }
    let environment = match key.environment() {
        Environment::Live => "live",
        Environment::Test => "test",
    };
    tx.execute(
        &format!(
            "INSERT INTO api_keys ({COLUMNS}, tag) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            key.id().as_str(),
            key.store_id().as_str(),
            environment,
            digest.as_slice(),
            key.display_prefix(),
            key.created_at().timestamp_millis(),
            key.expires_at().map(|t| t.timestamp_millis()),
            key.revoked_at().map(|t| t.timestamp_millis()),
            key.predecessor().map(KeyId::as_str),
            sql_tag(&key.digest()),
        ],
    )?;
    Ok(())
}

fn write_expiry(tx: &rusqlite::Transaction<'_>, key: &StoredKey) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE api_keys SET expires_ms = ?2, revoked_ms = ?3 WHERE id = ?1",
        params![
            key.id().as_str(),
            key.expires_at().map(|t| t.timestamp_millis()),
            key.revoked_at().map(|t| t.timestamp_millis()),
        ],
    )?;
    Ok(())
}

/// The digest's lookup tag as SQLite's signed integer (same bits).
fn sql_tag(digest: &KeyDigest) -> i64 {
    i64::from_ne_bytes(digest.lookup_tag().to_ne_bytes())
}
