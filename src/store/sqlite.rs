//! The SQLite store (feature `sqlite`): the embedded default.

mod keys;
mod members;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::rows::{read_sequence, read_settings, read_version, write_json};
use super::{
    AuditEntry, AuditLog, AuditPage, AuditQuery, Committed, SettingsStore, StoreError, Version,
    Versioned,
};
use crate::SecuritySettings;
use crate::audit::AuditRecord;
use crate::id::StoreId;

/// A store in one SQLite database file.
///
/// - **Durability.** WAL journal with `synchronous = FULL`: a write has reached the disk when it
///   returns, and a process killed at any instant leaves a database that opens with every
///   committed write (the crash test kills a writer with `SIGKILL` to check this).
/// - **Concurrency.** Writes run in `BEGIN IMMEDIATE` transactions, so concurrent writers,
///   in this process or others, queue on SQLite's lock (waiting up to [`Self::BUSY_TIMEOUT`])
///   instead of failing; the version check inside the transaction turns every lost race into
///   [`StoreError::Conflict`].
/// - **Schema.** Migrations are a list numbered by `PRAGMA user_version`; opening applies the
///   missing ones, each in its own transaction, and refuses a database from a newer build
///   ([`StoreError::SchemaTooNew`]) or a file of another application.
/// - **Integrity.** Settings are kept as the JSON document and validated on every read, so a
///   row edited by hand into an invalid policy is [`StoreError::CorruptRecord`]. Triggers refuse
///   to update or delete audit rows.
///
/// One `SqliteStore` holds one connection behind a mutex, so its calls run one at a time.
///
/// # Examples
///
/// ```
/// use whale_security::store::{SqliteStore, StoreError};
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("security.db"))?;
/// assert_eq!(store.schema_version()?, SqliteStore::SCHEMA_VERSION);
///
/// // A file that is not a database is a typed error, not a panic.
/// std::fs::write(dir.path().join("garbage.db"), [0x5a_u8; 8192])?;
/// let err = SqliteStore::open(dir.path().join("garbage.db")).unwrap_err();
/// assert!(matches!(err, StoreError::CorruptDatabase { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// The schema version this build writes: the number of migrations.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// How long a call waits for another connection's lock before failing.
    pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    /// Opens the database at `path`, creating it when missing, and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the file cannot be opened or created;
    /// [`StoreError::CorruptDatabase`] when it is not an SQLite database or belongs to another
    /// application; [`StoreError::SchemaTooNew`] when a newer build wrote it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Opens an existing database; unlike [`SqliteStore::open`], a missing file is an error
    /// rather than a new empty database.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`], and [`StoreError::Unavailable`] when the file does not exist.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path.as_ref(), OpenFlags::empty())
    }

    fn open_with(path: &Path, extra: OpenFlags) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra;
        let err = |e| classify(path, e);
        let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(Self::BUSY_TIMEOUT).map_err(err)?;
        // The first statement reads the file header: garbage fails here with "not a database".
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable {
                path: path.to_owned(),
                detail: format!("cannot switch to WAL journal mode (got `{mode}`)"),
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        migrate(path, &mut conn)?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the file is at.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.lock()?;
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| classify(&self.path, e))
    }

    /// Runs SQLite's full `PRAGMA integrity_check`.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptDatabase`] listing the problems found; storage failures.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let conn = self.lock()?;
        let err = |e| classify(&self.path, e);
        let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(err)?;
        let lines: Vec<String> = stmt
            .query_map([], |row| row.get(0))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        if lines.len() == 1 && lines.first().is_some_and(|l| l == "ok") {
            return Ok(());
        }
        Err(StoreError::CorruptDatabase {
            path: self.path.clone(),
            detail: lines.join("; "),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |e| classify(&self.path, e)
    }
}

impl SettingsStore for SqliteStore {
    fn store_ids(&self) -> Result<Vec<StoreId>, StoreError> {
        let conn = self.lock()?;
        let err = self.err();
        let mut stmt = conn
            .prepare_cached("SELECT store_id FROM settings ORDER BY store_id")
            .map_err(&err)?;
        let texts: Vec<String> = stmt
            .query_map([], |row| row.get(0))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        texts
            .into_iter()
            .map(|text| {
                StoreId::new(text.as_str()).map_err(|e| StoreError::CorruptRecord {
                    what: "settings",
                    key: crate::quote::shorten(&text),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    fn settings(
        &self,
        store_id: &StoreId,
    ) -> Result<Option<Versioned<SecuritySettings>>, StoreError> {
        let conn = self.lock()?;
        let row: Option<(i64, String)> = conn
            .prepare_cached("SELECT version, document FROM settings WHERE store_id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([store_id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(self.err())?;
        let Some((version, document)) = row else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            value: read_settings(store_id, &document)?,
            version: read_version(store_id, version)?,
        }))
    }

    fn create_settings(
        &self,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        let store_id = settings.store_id();
        let document = write_json(settings)?;
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT version FROM settings WHERE store_id = ?1",
                [store_id.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(&err)?;
        if exists.is_some() {
            return Err(StoreError::AlreadyExists {
                store_id: store_id.clone(),
            });
        }
        tx.execute(
            "INSERT INTO settings (store_id, version, document) VALUES (?1, ?2, ?3)",
            params![store_id.as_str(), sql_version(Version::FIRST)?, document],
        )
        .map_err(&err)?;
        let sequence = append(&tx, store_id, audit).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(Committed {
            version: Version::FIRST,
            sequence: read_sequence(store_id, sequence)?,
        })
    }

    fn write_settings(
        &self,
        expected: Version,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        let store_id = settings.store_id();
        let document = write_json(settings)?;
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let version = next_version(&tx, store_id, expected).map_err(|e| e.into_store(&err))?;
        let sequence = update_settings(&tx, version, settings, &document, audit).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(Committed {
            version,
            sequence: read_sequence(store_id, sequence)?,
        })
    }
}

impl AuditLog for SqliteStore {
    fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let store_id = query.store_id();
        let after = i64::try_from(query.after_sequence()).unwrap_or(i64::MAX);
        let limit = i64::from(query.page_limit().get()).saturating_add(1);
        let conn = self.lock()?;
        let err = self.err();
        let mut stmt = conn
            .prepare_cached(
                "SELECT sequence, record FROM audit
                 WHERE store_id = ?1 AND sequence > ?2
                   AND (?3 IS NULL OR at_ms >= ?3) AND (?4 IS NULL OR at_ms < ?4)
                 ORDER BY sequence LIMIT ?5",
            )
            .map_err(&err)?;
        let rows: Vec<(i64, String)> = stmt
            .query_map(
                params![
                    store_id.as_str(),
                    after,
                    query.since_time().map(ceil_millis),
                    query.until_time().map(ceil_millis),
                    limit
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        let entries = rows
            .into_iter()
            .map(|(sequence, text)| {
                let key = || format!("{store_id}#{sequence}");
                let record: AuditRecord =
                    serde_json::from_str(&text).map_err(|e| StoreError::CorruptRecord {
                        what: "audit entry",
                        key: key(),
                        detail: e.to_string(),
                    })?;
                Ok(AuditEntry {
                    store_id: store_id.clone(),
                    sequence: read_sequence(store_id, sequence)?,
                    record,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(AuditPage::from_overfetch(entries, query.page_limit()))
    }
}

/// Marks the file as this crate's database (`PRAGMA application_id`, the bytes `WHAL`).
const APPLICATION_ID: i64 = 0x5748_414C;

/// The schema, one migration per entry; `PRAGMA user_version` counts those applied. Append new
/// migrations; never edit an applied one.
const MIGRATIONS: &[&str] = &[
    // 1: settings documents with their version, and the append-only audit log.
    "CREATE TABLE settings (
         store_id TEXT PRIMARY KEY NOT NULL,
         version  INTEGER NOT NULL CHECK (version >= 1),
         document TEXT NOT NULL
     ) STRICT;
     CREATE TABLE audit (
         store_id TEXT NOT NULL,
         sequence INTEGER NOT NULL CHECK (sequence >= 1),
         at_ms    INTEGER NOT NULL,
         record   TEXT NOT NULL,
         PRIMARY KEY (store_id, sequence)
     ) STRICT, WITHOUT ROWID;
     CREATE INDEX audit_by_time ON audit (store_id, at_ms);
     CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // 2: API keys (digest only, looked up by an 8-byte tag), members with their factors, TOTP
    // factors with their compare-and-set state, sessions, and password history.
    "CREATE TABLE api_keys (
         id             TEXT PRIMARY KEY NOT NULL,
         store_id       TEXT NOT NULL,
         environment    TEXT NOT NULL CHECK (environment IN ('live', 'test')),
         tag            INTEGER NOT NULL,
         digest         BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),
         display_prefix TEXT NOT NULL,
         created_ms     INTEGER NOT NULL,
         expires_ms     INTEGER,
         revoked_ms     INTEGER,
         predecessor    TEXT
     ) STRICT;
     CREATE INDEX api_keys_by_tag ON api_keys (tag);
     CREATE INDEX api_keys_by_store ON api_keys (store_id, created_ms, id);
     CREATE TABLE members (
         store_id TEXT NOT NULL,
         user_id  TEXT NOT NULL,
         document TEXT NOT NULL,
         PRIMARY KEY (store_id, user_id)
     ) STRICT, WITHOUT ROWID;
     CREATE TABLE totp_factors (
         store_id        TEXT NOT NULL,
         user_id         TEXT NOT NULL,
         secret          BLOB NOT NULL,
         params          TEXT NOT NULL,
         last_step       INTEGER CHECK (last_step >= 0),
         failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
         locked_until_ms INTEGER,
         PRIMARY KEY (store_id, user_id)
     ) STRICT, WITHOUT ROWID;
     CREATE TABLE sessions (
         store_id            TEXT NOT NULL,
         id                  TEXT NOT NULL,
         user_id             TEXT NOT NULL,
         created_ms          INTEGER NOT NULL,
         last_activity_ms    INTEGER NOT NULL,
         last_authenticated_ms INTEGER NOT NULL,
         PRIMARY KEY (store_id, id)
     ) STRICT, WITHOUT ROWID;
     CREATE INDEX sessions_by_user ON sessions (store_id, user_id);
     CREATE TABLE password_history (
         store_id TEXT NOT NULL,
         user_id  TEXT NOT NULL,
         sequence INTEGER NOT NULL CHECK (sequence >= 1),
         phc      TEXT NOT NULL,
         at_ms    INTEGER NOT NULL,
         PRIMARY KEY (store_id, user_id, sequence)
     ) STRICT, WITHOUT ROWID;",
];

/// Applies the migrations the file lacks, after checking it is ours.
fn migrate(path: &Path, conn: &mut Connection) -> Result<(), StoreError> {
    let err = |e| classify(path, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    let app: i64 = tx
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(err)?;
    let objects: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .map_err(err)?;
    let fresh = app == 0 && found == 0 && objects == 0;
    if !fresh && app != APPLICATION_ID {
        return Err(StoreError::CorruptDatabase {
            path: path.to_owned(),
            detail: format!(
                "an SQLite database of another application (application_id {app}, {objects} schema objects)"
            ),
        });
    }
    if found > SqliteStore::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SqliteStore::SCHEMA_VERSION,
        });
    }
    let pending = MIGRATIONS
        .iter()
        .zip(1_i64..)
        .skip(usize::try_from(found).unwrap_or(usize::MAX));
    for (sql, number) in pending {
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", number)
            .map_err(err)?;
    }
    if app != APPLICATION_ID {
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// A failure inside a transaction: an SQLite error, or a refusal the store decided.
enum TxError {
    Sql(rusqlite::Error),
    Refused(StoreError),
}

impl TxError {
    fn into_store(self, classify: impl Fn(rusqlite::Error) -> StoreError) -> StoreError {
        match self {
            Self::Sql(e) => classify(e),
            Self::Refused(e) => e,
        }
    }
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        Self::Refused(e)
    }
}

/// The version a write based on `expected` commits, after checking the store holds `expected`.
fn next_version(
    tx: &rusqlite::Transaction<'_>,
    store_id: &StoreId,
    expected: Version,
) -> Result<Version, TxError> {
    let found: Option<i64> = tx
        .query_row(
            "SELECT version FROM settings WHERE store_id = ?1",
            [store_id.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    let Some(found) = found else {
        return Err(StoreError::NotFound {
            store_id: store_id.clone(),
        }
        .into());
    };
    let found = read_version(store_id, found)?;
    if found != expected {
        return Err(StoreError::Conflict {
            store_id: store_id.clone(),
            expected,
            found,
        }
        .into());
    }
    Ok(found.checked_next().ok_or_else(|| StoreError::Backend {
        detail: format!("settings version of `{store_id}` is exhausted"),
    })?)
}

/// Writes `settings` at `version` and appends `audit`, returning the audit sequence number.
fn update_settings(
    tx: &rusqlite::Transaction<'_>,
    version: Version,
    settings: &SecuritySettings,
    document: &str,
    audit: &AuditRecord,
) -> rusqlite::Result<i64> {
    let store_id = settings.store_id();
    let version = i64::try_from(version.get())
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
        "UPDATE settings SET version = ?2, document = ?3 WHERE store_id = ?1",
        params![store_id.as_str(), version, document],
    )?;
    append(tx, store_id, audit)
}

/// Appends `record` as the next entry of `store_id`'s log, returning its sequence number.
fn append(
    tx: &rusqlite::Transaction<'_>,
    store_id: &StoreId,
    record: &AuditRecord,
) -> rusqlite::Result<i64> {
    let text = serde_json::to_string(record)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let sequence: i64 = tx.query_row(
        "SELECT coalesce(max(sequence), 0) + 1 FROM audit WHERE store_id = ?1",
        [store_id.as_str()],
        |row| row.get(0),
    )?;
    tx.execute(
        "INSERT INTO audit (store_id, sequence, at_ms, record) VALUES (?1, ?2, ?3, ?4)",
        params![
            store_id.as_str(),
            sequence,
            record.at.timestamp_millis(),
            text
        ],
    )?;
    Ok(sequence)
}

/// The millisecond at or after `t`: stored instants are whole milliseconds, so comparing them
/// with this gives the same answer as comparing with `t` itself.
fn ceil_millis(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        ms
    } else {
        ms.saturating_add(1)
    }
}

fn sql_version(version: Version) -> Result<i64, StoreError> {
    i64::try_from(version.get()).map_err(|_| StoreError::Backend {
        detail: format!("version {version} does not fit SQLite's integers"),
    })
}

/// Sorts an SQLite failure into the error a caller can act on.
fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    let detail = e.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::CorruptDatabase {
            path: path.to_owned(),
            detail,
        },
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull,
        ) => StoreError::Unavailable {
            path: path.to_owned(),
            detail,
        },
        _ => StoreError::Backend { detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{self, at, record, settings, store_id};

    /// A store in a fresh temporary directory, removed when dropped.
    struct TempStore {
        store: SqliteStore,
        _dir: tempfile::TempDir,
    }

    impl TempStore {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("security.db")).unwrap();
            Self { store, _dir: dir }
        }
    }

    impl std::ops::Deref for TempStore {
        type Target = SqliteStore;

        fn deref(&self) -> &SqliteStore {
            &self.store
        }
    }

    contract::contract_tests!(TempStore::new());

    #[test]
    fn a_garbage_file_is_a_corrupt_database_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.db");
        let bytes: Vec<u8> = (0..16_384_u32).map(|i| (i * 7 + 3) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::CorruptDatabase { .. }), "{err:?}");
        assert!(err.to_string().contains("garbage.db"), "{err}");
    }

    #[test]
    fn a_truncated_database_header_is_a_corrupt_database_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("half.db");
        std::fs::write(&path, b"SQLite format 3\0\x10\x00").unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::CorruptDatabase { .. }), "{err:?}");
    }

    #[test]
    fn a_missing_directory_is_unavailable_and_open_existing_does_not_create() {
        let dir = tempfile::tempdir().unwrap();
        let err = SqliteStore::open(dir.path().join("no/such/dir/x.db")).unwrap_err();
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        let missing = dir.path().join("missing.db");
        let err = SqliteStore::open_existing(&missing).unwrap_err();
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert!(!missing.exists());
    }

    #[test]
    fn another_applications_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE notes (body TEXT)")
            .unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::CorruptDatabase { .. }), "{err:?}");
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert_eq!(
            err,
            StoreError::SchemaTooNew {
                path: path.clone(),
                found: 99,
                supported: SqliteStore::SCHEMA_VERSION
            }
        );
    }

    #[test]
    fn reopening_keeps_data_and_runs_no_migration_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("security.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .create_settings(&settings("store_a", 480), &record(at(0), "a"))
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SqliteStore::SCHEMA_VERSION);
        let read = store.settings(&store_id("store_a")).unwrap().unwrap();
        assert_eq!(read.value, settings("store_a", 480));
        store.integrity_check().unwrap();
        let mode: String = store
            .lock()
            .unwrap()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_tampered_settings_row_is_a_corrupt_record_not_a_panic() {
        let store = TempStore::new();
        store
            .create_settings(&settings("store_a", 480), &record(at(0), "a"))
            .unwrap();
        let tamper = |sql: &str| store.lock().unwrap().execute_batch(sql).unwrap();
        let read = || store.settings(&store_id("store_a"));

        // A policy edited out of range.
        tamper(
            "UPDATE settings SET document = replace(document, '\"timeout_minutes\":480', '\"timeout_minutes\":0')",
        );
        let err = read().unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CorruptRecord {
                    what: "settings",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("session_policy.timeout_minutes"),
            "{err}"
        );

        // Not JSON at all.
        tamper("UPDATE settings SET document = 'rm -rf /'");
        assert!(matches!(read(), Err(StoreError::CorruptRecord { .. })));

        // Another store's document under this key.
        let other = write_json(&settings("store_b", 480)).unwrap();
        store
            .lock()
            .unwrap()
            .execute("UPDATE settings SET document = ?1", [other])
            .unwrap();
        let err = read().unwrap_err();
        assert!(err.to_string().contains("belongs to `store_b`"), "{err}");

        // A version that is not positive.
        tamper(&format!(
            "UPDATE settings SET version = 1, document = '{}'",
            write_json(&settings("store_a", 480)).unwrap()
        ));
        assert!(read().is_ok());
        let conn = store.lock().unwrap();
        assert!(
            conn.execute_batch("UPDATE settings SET version = 0")
                .is_err()
        );
    }

    #[test]
    fn a_tampered_audit_row_is_a_corrupt_record_and_rows_cannot_be_changed() {
        let store = TempStore::new();
        store
            .create_settings(&settings("store_a", 480), &record(at(0), "a"))
            .unwrap();
        {
            let conn = store.lock().unwrap();
            let update = conn.execute_batch("UPDATE audit SET record = '{}'");
            assert!(update.unwrap_err().to_string().contains("append-only"));
            let delete = conn.execute_batch("DELETE FROM audit");
            assert!(delete.unwrap_err().to_string().contains("append-only"));
            // Someone who drops the trigger can still tamper; reading then fails loudly.
            conn.execute_batch(
                "DROP TRIGGER audit_no_update; UPDATE audit SET record = '{\"actor\": 1}'",
            )
            .unwrap();
        }
        let err = store
            .audit(&AuditQuery::new(store_id("store_a")))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CorruptRecord {
                    what: "audit entry",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn two_connections_to_one_file_lose_no_update() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let first = SqliteStore::open(&path).unwrap();
        first
            .create_settings(&settings("store_a", 480), &record(at(0), "a"))
            .unwrap();
        let second = SqliteStore::open(&path).unwrap();
        let stores = [&first, &second];
        let commits = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|scope| {
            for (i, store) in stores.into_iter().enumerate() {
                let commits = &commits;
                scope.spawn(move || {
                    for n in 0..30_u64 {
                        let read = store.settings(&store_id("store_a")).unwrap().unwrap();
                        let next = settings("store_a", 1 + n + 100 * i as u64);
                        match store.write_settings(read.version, &next, &record(at(1), "w")) {
                            Ok(_) => {
                                commits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(StoreError::Conflict { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
            }
        });
        let commits = commits.load(std::sync::atomic::Ordering::SeqCst);
        let read = first.settings(&store_id("store_a")).unwrap().unwrap();
        assert_eq!(read.version.get(), 1 + commits);
        assert_eq!(
            contract::audit_all(&second, "store_a").len() as u64,
            1 + commits
        );
    }

    #[test]
    fn sub_millisecond_range_bounds_agree_with_the_memory_store() {
        let t = crate::time::parse("2026-03-10T10:00:00.000500Z").unwrap();
        assert_eq!(ceil_millis(t), at(0).timestamp_millis() + 1);
        assert_eq!(ceil_millis(at(0)), at(0).timestamp_millis());
    }
}
