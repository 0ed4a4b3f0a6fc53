//! The PostgreSQL store (feature `postgres`): one database shared by a fleet of service
//! instances, with changes pushed to every instance ([`ChangeListener`]).

mod keys;
mod listener;
mod members;
mod schema;
mod sessions;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use postgres::config::Host;
use postgres::types::{ToSql, Type};
use postgres::{Client, IsolationLevel, NoTls, Transaction};
use r2d2::{NopErrorHandler, Pool};
use r2d2_postgres::PostgresConnectionManager;

use super::rows::{read_sequence, read_settings, read_version, write_json, write_record};
use super::{
    AuditEntry, AuditLog, AuditPage, AuditQuery, Committed, SettingsStore, StoreError, Version,
    Versioned,
};
use crate::SecuritySettings;
use crate::audit::AuditRecord;
use crate::id::StoreId;

pub use self::listener::{ChangeListener, ListenerOptions, ListenerStatus};

/// A store in a PostgreSQL database, shared by every service instance that connects to it.
///
/// - **Client.** The synchronous `postgres` crate behind the synchronous store traits, with a
///   small [`r2d2`] pool ([`PostgresOptions::max_connections`], default
///   [`PostgresStore::DEFAULT_MAX_CONNECTIONS`]). That client drives a private runtime and would
///   panic inside an async one; this store detects a surrounding tokio runtime and runs the call
///   on a short-lived scoped thread instead, so a call from async code costs a thread start but
///   never panics. Call it through `spawn_blocking` anyway, so async workers are not blocked.
/// - **Concurrency.** A write runs in one `READ COMMITTED` transaction that locks the settings
///   row (`SELECT ... FOR UPDATE`), compares the version, updates the row and appends the audit
///   entry. Concurrent writers, on any instance, queue on the row lock; the one that queued
///   behind a commit reads the new version and gets [`StoreError::Conflict`].
/// - **Audit numbering.** Each store's next sequence number comes from an upsert on a per-store
///   counter row inside the same transaction, so numbers stay gapless (a rolled-back write
///   returns its number) whatever else appends entries later.
/// - **Propagation.** A trigger on the settings table sends `NOTIFY` on commit with the new
///   version; [`ChangeListener`] turns it into [`crate::service::SecurityService::refresh`].
///   Rows changed by hand in `psql` notify too.
/// - **Schema.** Tables live in their own PostgreSQL schema ([`PostgresStore::DEFAULT_SCHEMA`]
///   unless [`PostgresOptions::schema`] names another), versioned by a migrations table. Opening
///   applies the missing migrations in one transaction under an advisory lock, so a fleet
///   starting at once migrates exactly once; a schema from a newer build is refused
///   ([`StoreError::SchemaTooNew`]).
/// - **Integrity.** Settings and audit records are `jsonb` validated on every read, so a row
///   edited into an invalid policy is [`StoreError::CorruptRecord`]. Triggers refuse `UPDATE`,
///   `DELETE` and `TRUNCATE` on the audit table.
///
/// # Warning
///
/// `jsonb` cannot hold the character U+0000. Settings never contain it (labels refuse control
/// characters), but an audit record built by hand with one fails to write with
/// [`StoreError::Backend`] rather than being altered.
///
/// SHORTCOMING: connections are made without TLS (`NoTls`): use a unix socket, loopback or a
/// private network, and a URL without `sslmode=require` (which this build refuses). TLS needs a
/// `MakeTlsConnect` implementation such as `postgres-rustls` passed to the pool manager.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use whale_security::service::SecurityService;
/// use whale_security::store::{ChangeListener, ListenerOptions, PostgresStore};
///
/// let store = PostgresStore::connect("postgres://whale@127.0.0.1:5432/platform")?;
/// let service = Arc::new(SecurityService::new(store));
/// // Keep the listener alive as long as the service: it applies other instances' changes.
/// let _listener = ChangeListener::spawn(Arc::clone(&service), ListenerOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PostgresStore {
    pool: Pool<PostgresConnectionManager<NoTls>>,
    config: postgres::Config,
    schema: String,
    database: String,
}

impl PostgresStore {
    /// The PostgreSQL schema the tables live in unless [`PostgresOptions::schema`] says otherwise.
    pub const DEFAULT_SCHEMA: &str = "whale_security";

    /// The pool's size unless [`PostgresOptions::max_connections`] says otherwise.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

    /// How long a connection attempt may take unless the URL sets `connect_timeout`.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The schema version this build writes: the number of migrations.
    pub const SCHEMA_VERSION: i32 = schema::VERSION;

    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname` or the
    /// `key=value` form) with default options, and brings the schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] when `url` cannot be read; [`StoreError::Unreachable`] when
    /// no connection can be made within the connect timeout; [`StoreError::SchemaTooNew`] when a
    /// newer build migrated the schema; [`StoreError::Backend`] when a migration fails.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        PostgresOptions::new(url)?.connect()
    }

    /// The PostgreSQL schema holding the tables.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The database, without the password: `postgres://user@host:port/dbname`.
    #[must_use]
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The schema version the database is at.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        self.run(|client| {
            let row = client
                .query_typed_one(
                    "SELECT coalesce(max(version), 0) FROM whale_security_migrations",
                    &[],
                )
                .map_err(backend)?;
            row.try_get(0).map_err(backend)
        })
    }

    /// The NOTIFY channel the settings trigger sends to.
    pub(crate) fn channel(&self) -> String {
        schema::channel(&self.schema)
    }

    /// A new connection outside the pool, for the listener.
    pub(crate) fn dedicated_connection(&self) -> Result<Client, StoreError> {
        self.config
            .connect(NoTls)
            .map_err(|e| self.unreachable(&e.to_string()))
    }

    /// The current versions of those of `ids` that have settings.
    pub(crate) fn versions(&self, ids: &[StoreId]) -> Result<Vec<(StoreId, Version)>, StoreError> {
        let texts: Vec<&str> = ids.iter().map(StoreId::as_str).collect();
        self.run(|client| {
            let rows = client
                .query_typed(
                    "SELECT store_id, version FROM settings WHERE store_id = ANY($1)",
                    &[(&texts, Type::TEXT_ARRAY)],
                )
                .map_err(backend)?;
            rows.iter()
                .map(|row| {
                    let id = read_store_id(row.try_get(0).map_err(backend)?)?;
                    let version = read_version(&id, row.try_get(1).map_err(backend)?)?;
                    Ok((id, version))
                })
                .collect()
        })
    }

    /// Runs `op` on a pooled connection, off any surrounding async runtime.
    fn run<T: Send>(
        &self,
        op: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.run_here(op);
        }
        // The sync client blocks on its own runtime, which panics inside another one (even on
        // a blocking-pool thread this cannot be told apart cheaply): hop to a plain thread.
        std::thread::scope(|scope| {
            let hop = std::thread::Builder::new()
                .name("whale-pg-call".into())
                .spawn_scoped(scope, || self.run_here(op))
                .map_err(|e| StoreError::Backend {
                    detail: format!("cannot start a thread for a database call: {e}"),
                })?;
            hop.join().unwrap_or_else(|_| {
                Err(StoreError::Backend {
                    detail: "a database call panicked".into(),
                })
            })
        })
    }

    fn run_here<T>(
        &self,
        op: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| self.unreachable(&e.to_string()))?;
        op(&mut conn)
    }

    fn unreachable(&self, detail: &str) -> StoreError {
        StoreError::Unreachable {
            database: self.database.clone(),
            detail: detail.to_owned(),
        }
    }
}

impl SettingsStore for PostgresStore {
    fn store_ids(&self) -> Result<Vec<StoreId>, StoreError> {
        self.run(|client| {
            let rows = client
                .query_typed("SELECT store_id FROM settings ORDER BY store_id", &[])
                .map_err(backend)?;
            rows.iter()
                .map(|row| read_store_id(row.try_get(0).map_err(backend)?))
                .collect()
        })
    }

    fn settings(
        &self,
        store_id: &StoreId,
    ) -> Result<Option<Versioned<SecuritySettings>>, StoreError> {
        self.run(|client| {
            let row = client
                .query_typed_opt(
                    "SELECT version, document::text FROM settings WHERE store_id = $1",
                    &[(&store_id.as_str(), Type::TEXT)],
                )
                .map_err(backend)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let version: i64 = row.try_get(0).map_err(backend)?;
            let document: &str = row.try_get(1).map_err(backend)?;
            Ok(Some(Versioned {
                value: read_settings(store_id, document)?,
                version: read_version(store_id, version)?,
            }))
        })
    }

    fn create_settings(
        &self,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        let store_id = settings.store_id();
        let document = write_json(settings)?;
        let record = write_record(audit)?;
        let first = sql_version(Version::FIRST)?;
        self.run(|client| {
            let mut tx = begin(client)?;
            // A concurrent create of the same store waits on this row's lock, then inserts
            // nothing.
            let inserted = tx
                .query_typed_opt(
                    "INSERT INTO settings (store_id, version, document) VALUES ($1, $2, $3::jsonb)
                     ON CONFLICT (store_id) DO NOTHING RETURNING version",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&first, Type::INT8),
                        (&document, Type::TEXT),
                    ],
                )
                .map_err(backend)?;
            if inserted.is_none() {
                return Err(StoreError::AlreadyExists {
                    store_id: store_id.clone(),
                });
            }
            let sequence = append(&mut tx, store_id, audit.at, &record)?;
            tx.commit().map_err(backend)?;
            Ok(Committed {
                version: Version::FIRST,
                sequence,
            })
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
        let record = write_record(audit)?;
        self.run(|client| {
            let mut tx = begin(client)?;
            let version = lock_next_version(&mut tx, store_id, expected)?;
            let sequence = update_settings(&mut tx, store_id, version, &document, audit, &record)?;
            tx.commit().map_err(backend)?;
            Ok(Committed { version, sequence })
        })
    }
}

impl AuditLog for PostgresStore {
    fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let store_id = query.store_id();
        let after = i64::try_from(query.after_sequence()).unwrap_or(i64::MAX);
        let limit = i64::from(query.page_limit().get()).saturating_add(1);
        let since = query.since_time().map(ceil_millis);
        let until = query.until_time().map(ceil_millis);
        let rows = self.run(|client| {
            client
                .query_typed(
                    "SELECT sequence, record::text FROM audit
                     WHERE store_id = $1 AND sequence > $2
                       AND ($3::timestamptz IS NULL OR made_at >= $3)
                       AND ($4::timestamptz IS NULL OR made_at < $4)
                     ORDER BY sequence LIMIT $5",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&after, Type::INT8),
                        (&since, Type::TIMESTAMPTZ),
                        (&until, Type::TIMESTAMPTZ),
                        (&limit, Type::INT8),
                    ],
                )
                .map_err(backend)
        })?;
        let entries = rows
            .iter()
            .map(|row| {
                let sequence: i64 = row.try_get(0).map_err(backend)?;
                let text: &str = row.try_get(1).map_err(backend)?;
                let record: AuditRecord =
                    serde_json::from_str(text).map_err(|e| StoreError::CorruptRecord {
                        what: "audit entry",
                        key: format!("{store_id}#{sequence}"),
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

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config holds the password: show only the redacted description.
        f.debug_struct("PostgresStore")
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("pool", &self.pool.state())
            .finish_non_exhaustive()
    }
}

/// How to connect a [`PostgresStore`]: the database URL, the schema and the pool size.
///
/// # Examples
///
/// ```
/// use whale_security::store::{PostgresOptions, StoreError};
///
/// let options = PostgresOptions::new("postgres://whale:s3cret@db.internal:5432/platform")?
///     .schema("whale_eu")
///     .max_connections(4);
/// // The password is never shown.
/// assert!(!format!("{options:?}").contains("s3cret"));
///
/// let bad = PostgresOptions::new("postgres://whale@db.internal:notaport/platform");
/// assert!(matches!(bad, Err(StoreError::InvalidConfig { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PostgresOptions {
    config: postgres::Config,
    schema: String,
    max_connections: u32,
}

impl PostgresOptions {
    /// Options for the database at `url` (`postgres://...` or `key=value` pairs).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] when `url` is not a PostgreSQL connection string.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let config = postgres::Config::from_str(url).map_err(|e| StoreError::InvalidConfig {
            detail: format!("not a PostgreSQL connection URL: {e}"),
        })?;
        Ok(Self {
            config,
            schema: PostgresStore::DEFAULT_SCHEMA.to_owned(),
            max_connections: PostgresStore::DEFAULT_MAX_CONNECTIONS,
        })
    }

    /// Keeps the tables in the PostgreSQL schema `name`: 1 to 48 characters of `a-z`, `0-9` and
    /// `_`, not starting with a digit (checked by [`PostgresOptions::connect`]). Instances that
    /// share a schema share their settings.
    #[must_use]
    pub fn schema(mut self, name: &str) -> Self {
        name.clone_into(&mut self.schema);
        self
    }

    /// At most `n` pooled connections (at least 1).
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Connects and brings the schema up to date.
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect`], and [`StoreError::InvalidConfig`] for a schema name outside
    /// the allowed form.
    pub fn connect(self) -> Result<PostgresStore, StoreError> {
        schema::check_name(&self.schema)?;
        let database = describe(&self.config);
        let mut config = self.config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(PostgresStore::DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("whale-security");
        }
        // Half-open connections (a peer gone without a FIN) are noticed in about 10 s.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3);
        let options = match config.get_options() {
            Some(given) => format!("{given} -c search_path={}", self.schema),
            None => format!("-c search_path={}", self.schema),
        };
        config.options(&options);

        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(PostgresStore::DEFAULT_CONNECT_TIMEOUT);
        let pool = Pool::builder()
            .max_size(self.max_connections)
            .min_idle(Some(0))
            .connection_timeout(timeout.saturating_add(Duration::from_secs(1)))
            // A stale connection fails its next call and is then dropped by the pool, instead
            // of costing every call a round trip to test it.
            .test_on_check_out(false)
            .error_handler(Box::new(NopErrorHandler))
            .build_unchecked(PostgresConnectionManager::new(config.clone(), NoTls));
        let store = PostgresStore {
            pool,
            config,
            schema: self.schema,
            database,
        };
        store.run(|client| schema::migrate(client, &store.schema, &store.database))?;
        Ok(store)
    }
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("database", &describe(&self.config))
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// `postgres://user@host:port/dbname`, never the password.
fn describe(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            let port = ports.get(i).or_else(|| ports.first()).copied();
            port.map_or(name.clone(), |p| format!("{name}:{p}"))
        })
        .collect();
    let dbname = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{dbname}", hosts.join(","))
}

fn begin(client: &mut Client) -> Result<Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .map_err(backend)
}

/// Locks the settings row of `store_id` for the rest of `tx` and returns the version a write
/// based on `expected` commits. Writers on any instance queue on this lock; one that queued
/// behind a commit reads the new version here and conflicts.
fn lock_next_version(
    tx: &mut Transaction<'_>,
    store_id: &StoreId,
    expected: Version,
) -> Result<Version, StoreError> {
    let found = tx
        .query_typed_opt(
            "SELECT version FROM settings WHERE store_id = $1 FOR UPDATE",
            &[(&store_id.as_str(), Type::TEXT)],
        )
        .map_err(backend)?;
    let Some(found) = found else {
        return Err(StoreError::NotFound {
            store_id: store_id.clone(),
        });
    };
    let found = read_version(store_id, found.try_get(0).map_err(backend)?)?;
    if found != expected {
        return Err(StoreError::Conflict {
            store_id: store_id.clone(),
            expected,
            found,
        });
    }
    found.checked_next().ok_or_else(|| StoreError::Backend {
        detail: format!("settings version of `{store_id}` is exhausted"),
    })
}

/// Writes the settings `document` at `version` (its row locked by [`lock_next_version`]) and
/// appends the audit `record`, returning its sequence number.
fn update_settings(
    tx: &mut Transaction<'_>,
    store_id: &StoreId,
    version: Version,
    document: &str,
    audit: &AuditRecord,
    record: &str,
) -> Result<u64, StoreError> {
    tx.execute_typed(
        "UPDATE settings SET version = $2, document = $3::jsonb WHERE store_id = $1",
        &[
            (&store_id.as_str(), Type::TEXT),
            (&sql_version(version)?, Type::INT8),
            (&document, Type::TEXT),
        ],
    )
    .map_err(backend)?;
    append(tx, store_id, audit.at, record)
}

/// Appends the next entry of `store_id`'s log in `tx`, returning its sequence number.
fn append(
    tx: &mut Transaction<'_>,
    store_id: &StoreId,
    at: DateTime<Utc>,
    record: &str,
) -> Result<u64, StoreError> {
    // Instants are kept to the millisecond, as the record's document writes them.
    let at = at.trunc_subsecs(3);
    let params: [(&(dyn ToSql + Sync), Type); 3] = [
        (&store_id.as_str(), Type::TEXT),
        (&at, Type::TIMESTAMPTZ),
        (&record, Type::TEXT),
    ];
    let row = tx
        .query_typed_one(
            "WITH head AS (
                 INSERT INTO audit_heads AS h (store_id, last_sequence) VALUES ($1, 1)
                 ON CONFLICT (store_id) DO UPDATE SET last_sequence = h.last_sequence + 1
                 RETURNING last_sequence
             )
             INSERT INTO audit (store_id, sequence, made_at, record)
             SELECT $1, last_sequence, $2, $3::jsonb FROM head
             RETURNING sequence",
            &params,
        )
        .map_err(backend)?;
    read_sequence(store_id, row.try_get(0).map_err(backend)?)
}

/// The millisecond at or after `t`: stored instants are whole milliseconds, so comparing them
/// with this gives the same answer as comparing with `t` itself.
fn ceil_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.trunc_subsecs(3);
    if floor == t {
        return t;
    }
    chrono::TimeDelta::try_milliseconds(1)
        .and_then(|ms| floor.checked_add_signed(ms))
        .unwrap_or(floor)
}

/// Sorts a PostgreSQL failure into a [`StoreError`], keeping only the server's message and
/// code: its `DETAIL` can quote row values.
fn backend(e: postgres::Error) -> StoreError {
    let detail = match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    StoreError::Backend { detail }
}

fn read_store_id(text: &str) -> Result<StoreId, StoreError> {
    StoreId::new(text).map_err(|e| StoreError::CorruptRecord {
        what: "settings",
        key: crate::quote::shorten(text),
        detail: e.to_string(),
    })
}

fn sql_version(version: Version) -> Result<i64, StoreError> {
    i64::try_from(version.get()).map_err(|_| StoreError::Backend {
        detail: format!("version {version} does not fit PostgreSQL's bigint"),
    })
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
