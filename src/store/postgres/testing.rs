//! Test support: a store in a fresh PostgreSQL schema of the database named by
//! `WHALE_TEST_DATABASE_URL`, dropped afterwards.

use std::io::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use postgres::NoTls;

use super::{PostgresOptions, PostgresStore};

/// The variable naming the test database.
pub(crate) const URL_VARIABLE: &str = "WHALE_TEST_DATABASE_URL";

/// The test database's URL; `None` (after one notice on stderr) when it is not configured.
///
/// # Panics
///
/// When it is not configured and `CI=true`: CI must run the PostgreSQL tests, never skip them.
pub(crate) fn database_url() -> Option<String> {
    if let Ok(url) = std::env::var(URL_VARIABLE)
        && !url.is_empty()
    {
        return Some(url);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{URL_VARIABLE} is not set, and CI=true: the PostgreSQL tests must run in CI (.ci/run starts a server)"
    );
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        // Straight to stderr so the test harness's capture does not hide it.
        let _ = writeln!(
            std::io::stderr(),
            "note: skipping the PostgreSQL tests: set {URL_VARIABLE}=postgres://user@host:port/db to run them"
        );
    });
    None
}

/// A [`PostgresStore`] in a schema of its own, dropped with everything in it when this is
/// dropped.
pub(crate) struct TestDb {
    store: PostgresStore,
    url: String,
}

impl TestDb {
    /// A store in a fresh schema, or `None` when no test database is configured.
    pub(crate) fn new() -> Option<Self> {
        let url = database_url()?;
        let schema = unique_schema();
        let store = PostgresOptions::new(&url)
            .unwrap()
            .schema(&schema)
            .max_connections(6)
            .connect()
            .unwrap();
        Some(Self { store, url })
    }

    /// A second, independent store (its own pool) on the same schema: another instance.
    pub(crate) fn another_instance(&self) -> PostgresStore {
        PostgresOptions::new(&self.url)
            .unwrap()
            .schema(self.store.schema())
            .max_connections(4)
            .connect()
            .unwrap()
    }

    /// A plain connection to the test database, for tampering and administration.
    pub(crate) fn admin(&self) -> postgres::Client {
        let mut client = postgres::Client::connect(&self.url, NoTls).unwrap();
        client
            .batch_execute(&format!("SET search_path = {}", self.store.schema()))
            .unwrap();
        client
    }
}

impl std::ops::Deref for TestDb {
    type Target = PostgresStore;

    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort: a leftover schema only costs disk in a throwaway cluster.
        if let Ok(mut client) = postgres::Client::connect(&self.url, NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.store.schema()
            ));
        }
    }
}

/// A schema name no other test, run or process uses at the same time.
fn unique_schema() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "whale_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
