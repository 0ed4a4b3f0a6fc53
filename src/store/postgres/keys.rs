//! API keys in PostgreSQL: one row per key, looked up by an indexed 8-byte tag of the digest and
//! compared in full in constant time; rotations in one transaction with row locks.

use chrono::{DateTime, SubsecRound, Utc};
use postgres::Row;
use postgres::types::{ToSql, Type};
use subtle::ConstantTimeEq;

use super::{
    PostgresStore, append, backend, begin, lock_next_version, update_settings, write_json,
    write_record,
};
use crate::SecuritySettings;
use crate::api_keys::{Environment, KeyDigest, KeyRecord, StoredKey};
use crate::audit::AuditRecord;
use crate::id::{KeyId, StoreId};
use crate::store::{
    ApiKeyStore, Committed, KeyChanges, StoreError, Version, mismatched_store, revoked_copy,
};

impl ApiKeyStore for PostgresStore {
    fn insert_key(&self, key: &StoredKey, audit: &AuditRecord) -> Result<u64, StoreError> {
        let record = write_record(audit)?;
        self.run(|client| {
            let mut tx = begin(client)?;
            insert(&mut tx, key)?;
            let sequence = append(&mut tx, key.store_id(), audit.at, &record)?;
            tx.commit().map_err(backend)?;
            Ok(sequence)
        })
    }

    fn key_by_digest(&self, digest: &KeyDigest) -> Result<Option<StoredKey>, StoreError> {
        let rows = self.run(|client| {
            client
                .query_typed(
                    &format!("SELECT {COLUMNS} FROM api_keys WHERE tag = $1"),
                    &[(&sql_tag(digest), Type::INT8)],
                )
                .map_err(backend)
        })?;
        // The index finds candidates by tag; the whole digest is compared in constant time, so
        // the lookup's timing does not tell how many leading bytes of a guess matched.
        let mut found = None;
        for row in &rows {
            let key = read_key(row)?;
            if bool::from(key.digest().ct_eq(digest)) {
                found = Some(key);
            }
        }
        Ok(found)
    }

    fn key(&self, key_id: &KeyId) -> Result<Option<StoredKey>, StoreError> {
        let row = self.run(|client| {
            client
                .query_typed_opt(
                    &format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"),
                    &[(&key_id.as_str(), Type::TEXT)],
                )
                .map_err(backend)
        })?;
        row.as_ref().map(read_key).transpose()
    }

    fn keys_of(&self, store_id: &StoreId) -> Result<Vec<StoredKey>, StoreError> {
        let rows = self.run(|client| {
            client
                .query_typed(
                    &format!(
                        "SELECT {COLUMNS} FROM api_keys WHERE store_id = $1 ORDER BY created_at, id"
                    ),
                    &[(&store_id.as_str(), Type::TEXT)],
                )
                .map_err(backend)
        })?;
        rows.iter().map(read_key).collect()
    }

    fn revoke_key(
        &self,
        store_id: &StoreId,
        key_id: &KeyId,
        at: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let record = write_record(audit)?;
        self.run(|client| {
            let mut tx = begin(client)?;
            let row = tx
                .query_typed_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM api_keys WHERE id = $1 AND store_id = $2 FOR UPDATE"
                    ),
                    &[
                        (&key_id.as_str(), Type::TEXT),
                        (&store_id.as_str(), Type::TEXT),
                    ],
                )
                .map_err(backend)?;
            let Some(row) = row else {
                return Err(StoreError::KeyNotFound {
                    store_id: store_id.clone(),
                    key_id: key_id.clone(),
                });
            };
            let revoked = revoked_copy(&read_key(&row)?, at)?;
            write_expiry(&mut tx, &revoked)?;
            let sequence = append(&mut tx, store_id, audit.at, &record)?;
            tx.commit().map_err(backend)?;
            Ok(sequence)
        })
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
        let record = write_record(audit)?;
        self.run(|client| {
            let mut tx = begin(client)?;
            // The settings row lock first: concurrent rotations of one store queue here, in the
            // same order as plain settings writes, so they cannot deadlock with each other.
            let version = lock_next_version(&mut tx, store_id, expected)?;
            for update in changes.updated() {
                let id = update.after().id();
                let current = tx
                    .query_typed_opt(
                        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE"),
                        &[(&id.as_str(), Type::TEXT)],
                    )
                    .map_err(backend)?
                    .as_ref()
                    .map(read_key)
                    .transpose()?;
                if !current.is_some_and(|c| update.still_applies_to(&c)) {
                    return Err(StoreError::KeyChanged { key_id: id.clone() });
                }
                write_expiry(&mut tx, update.after())?;
            }
            for key in changes.created() {
                insert(&mut tx, key)?;
            }
            let sequence = update_settings(&mut tx, store_id, version, &document, audit, &record)?;
            tx.commit().map_err(backend)?;
            Ok(Committed { version, sequence })
        })
    }
}

const COLUMNS: &str = "id, store_id, environment, digest, display_prefix, created_at, expires_at, \
                       revoked_at, predecessor";

/// Inserts `key`, refusing an id or digest already stored (either unique index).
fn insert(tx: &mut postgres::Transaction<'_>, key: &StoredKey) -> Result<(), StoreError> {
    let digest = key.digest().to_bytes();
    let environment = match key.environment() {
        Environment::Live => "live",
        Environment::Test => "test",
    };
    let created = millis(key.created_at());
    let expires = key.expires_at().map(millis);
    let revoked = key.revoked_at().map(millis);
    let predecessor = key.predecessor().map(KeyId::as_str);
    let params: [(&(dyn ToSql + Sync), Type); 10] = [
        (&key.id().as_str(), Type::TEXT),
        (&key.store_id().as_str(), Type::TEXT),
        (&environment, Type::TEXT),
        (&digest.as_slice(), Type::BYTEA),
        (&key.display_prefix(), Type::TEXT),
        (&created, Type::TIMESTAMPTZ),
        (&expires, Type::TIMESTAMPTZ),
        (&revoked, Type::TIMESTAMPTZ),
        (&predecessor, Type::TEXT),
        (&sql_tag(&key.digest()), Type::INT8),
    ];
    let inserted = tx
        .execute_typed(
            &format!(
                "INSERT INTO api_keys ({COLUMNS}, tag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT DO NOTHING"
            ),
            &params,
        )
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::DuplicateKey {
            key_id: key.id().clone(),
        });
    }
    Ok(())
}

fn write_expiry(tx: &mut postgres::Transaction<'_>, key: &StoredKey) -> Result<(), StoreError> {
    let expires = key.expires_at().map(millis);
    let revoked = key.revoked_at().map(millis);
    tx.execute_typed(
        "UPDATE api_keys SET expires_at = $2, revoked_at = $3 WHERE id = $1",
        &[
            (&key.id().as_str(), Type::TEXT),
            (&expires, Type::TIMESTAMPTZ),
            (&revoked, Type::TIMESTAMPTZ),
        ],
    )
    .map_err(backend)?;
    Ok(())
}

/// A row, validated into a record; a row that is not a valid key is a corrupt record.
fn read_key(row: &Row) -> Result<StoredKey, StoreError> {
    let id: String = row.try_get(0).map_err(backend)?;
    let key = crate::quote::shorten(&id);
    let corrupt = |detail: String| StoreError::CorruptRecord {
        what: "api key",
        key: key.clone(),
        detail,
    };
    let store_id: String = row.try_get(1).map_err(backend)?;
    let environment: &str = row.try_get(2).map_err(backend)?;
    let digest: &[u8] = row.try_get(3).map_err(backend)?;
    let predecessor: Option<String> = row.try_get(8).map_err(backend)?;
    let record = KeyRecord {
        id: KeyId::new(id.as_str()).map_err(|e| corrupt(e.to_string()))?,
        store_id: StoreId::new(store_id.as_str()).map_err(|e| corrupt(e.to_string()))?,
        environment: match environment {
            "live" => Environment::Live,
            "test" => Environment::Test,
            other => return Err(corrupt(format!("environment `{other}`"))),
        },
        digest: KeyDigest::from_bytes(
            <[u8; 32]>::try_from(digest)
                .map_err(|_| corrupt("the digest is not 32 bytes".into()))?,
        ),
        display_prefix: row.try_get(4).map_err(backend)?,
        created_at: row.try_get(5).map_err(backend)?,
        expires_at: row.try_get(6).map_err(backend)?,
        revoked_at: row.try_get(7).map_err(backend)?,
        predecessor: predecessor
            .map(KeyId::new)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
    };
    StoredKey::from_record(record).map_err(|e| corrupt(e.to_string()))
}

/// Instants are kept to the millisecond, as in every other store.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

/// The digest's lookup tag as PostgreSQL's signed bigint (same bits).
fn sql_tag(digest: &KeyDigest) -> i64 {
    i64::from_ne_bytes(digest.lookup_tag().to_ne_bytes())
}
