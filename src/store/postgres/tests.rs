//! PostgreSQL store tests: the shared contract, then what only a server store has. Each test
//! runs in a schema of its own; without `WHALE_TEST_DATABASE_URL` they skip (fail under CI=true).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::testing::TestDb;
use super::*;
use crate::Surface;
use crate::allowlist::IpDecision;
use crate::id::UserId;
use crate::service::{ChangeRequest, SecurityService};
use crate::settings::SettingsUpdate;
use crate::store::SessionStore;
use crate::store::contract::{self, at, record, settings, store_id};

contract::contract_tests!(optional TestDb::new());

#[test]
fn a_tampered_settings_row_is_a_corrupt_record_not_a_panic() {
    let Some(db) = TestDb::new() else { return };
    db.create_settings(&settings("store_a", 480), &record(at(0), "a"))
        .unwrap();
    let mut admin = db.admin();
    let read = || db.settings(&store_id("store_a"));

    // A policy edited out of range.
    admin
        .batch_execute(
            "UPDATE settings SET document = jsonb_set(document, '{session_policy,timeout_minutes}', '0')",
        )
        .unwrap();
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

    // Valid JSON that is not a settings document.
    admin
        .batch_execute("UPDATE settings SET document = '[\"rm -rf /\"]'")
        .unwrap();
    assert!(matches!(read(), Err(StoreError::CorruptRecord { .. })));

    // Another store's document under this key.
    let other = write_json(&settings("store_b", 480)).unwrap();
    admin
        .execute("UPDATE settings SET document = $1::text::jsonb", &[&other])
        .unwrap();
    let err = read().unwrap_err();
    assert!(err.to_string().contains("belongs to `store_b`"), "{err}");

    // The schema itself refuses a version that is not positive.
    assert!(
        admin
            .batch_execute("UPDATE settings SET version = 0")
            .is_err()
    );
}

#[test]
fn audit_rows_cannot_be_changed_and_a_tampered_one_is_a_corrupt_record() {
    let Some(db) = TestDb::new() else { return };
    db.create_settings(&settings("store_a", 480), &record(at(0), "a"))
        .unwrap();
    let mut admin = db.admin();
    for sql in [
        "UPDATE audit SET record = '{}'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = admin.batch_execute(sql).unwrap_err();
        assert!(format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
    // Someone who drops the trigger can still tamper; reading then fails loudly.
    admin
        .batch_execute(
            "DROP TRIGGER audit_no_change ON audit; UPDATE audit SET record = '{\"actor\": 1}'",
        )
        .unwrap();
    let err = db.audit(&AuditQuery::new(store_id("store_a"))).unwrap_err();
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
fn a_schema_from_a_newer_build_is_refused_and_reconnecting_migrates_nothing_twice() {
    let Some(db) = TestDb::new() else { return };
    db.create_settings(&settings("store_a", 480), &record(at(0), "a"))
        .unwrap();
    let again = db.another_instance();
    assert_eq!(
        again.schema_version().unwrap(),
        PostgresStore::SCHEMA_VERSION
    );
    assert_eq!(
        again.settings(&store_id("store_a")).unwrap().unwrap().value,
        settings("store_a", 480)
    );
    let mut admin = db.admin();
    let applied: i64 = admin
        .query_one("SELECT count(*) FROM whale_security_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, i64::from(PostgresStore::SCHEMA_VERSION));

    admin
        .batch_execute("INSERT INTO whale_security_migrations (version) VALUES (99)")
        .unwrap();
    let err = PostgresOptions::new(&super::testing::database_url().unwrap())
        .unwrap()
        .schema(db.schema())
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(db.schema()), "{err}");
}

#[test]
fn instances_starting_together_migrate_a_fresh_schema_once() {
    let Some(db) = TestDb::new() else { return };
    // `db` created the schema; start from nothing in a second one.
    let url = super::testing::database_url().unwrap();
    let schema = format!("{}_fleet", db.schema());
    let stores: Vec<PostgresStore> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (url, schema) = (&url, &schema);
                scope.spawn(move || {
                    PostgresOptions::new(url)
                        .unwrap()
                        .schema(schema)
                        .max_connections(1)
                        .connect()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for store in &stores {
        assert_eq!(
            store.schema_version().unwrap(),
            PostgresStore::SCHEMA_VERSION
        );
    }
    drop(stores);
    db.admin()
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

#[test]
fn two_instances_on_one_database_lose_no_update() {
    let Some(db) = TestDb::new() else { return };
    db.create_settings(&settings("store_a", 480), &record(at(0), "a"))
        .unwrap();
    let second = db.another_instance();
    let instances: [&PostgresStore; 2] = [&db, &second];
    let commits = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (i, store) in instances.into_iter().enumerate() {
            let commits = &commits;
            scope.spawn(move || {
                for n in 0..20_u64 {
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
    let read = db.settings(&store_id("store_a")).unwrap().unwrap();
    assert_eq!(read.version.get(), 1 + commits);
    let log = contract::audit_all(&second, "store_a");
    assert!(log.iter().map(|e| e.sequence).eq(1..=1 + commits));
}

#[test]
fn calls_from_inside_a_tokio_runtime_work_instead_of_panicking() {
    let Some(db) = TestDb::new() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let read = runtime.block_on(async {
        db.create_settings(&settings("store_a", 480), &record(at(0), "a"))
            .unwrap();
        db.settings(&store_id("store_a"))
    });
    assert_eq!(read.unwrap().unwrap().version, Version::FIRST);
}

#[test]
fn the_password_never_appears_in_debug_or_errors() {
    // Port 1 on loopback refuses at once: no server is needed for this test.
    let url = "postgres://whale:hunter2-secret@127.0.0.1:1/platform?connect_timeout=2";
    let options = PostgresOptions::new(url).unwrap();
    assert!(!format!("{options:?}").contains("hunter2"));
    let err = options.connect().unwrap_err();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("postgres://whale@127.0.0.1:1/platform"),
        "{shown}"
    );

    let err = PostgresOptions::new("postgres://whale:hunter2-secret@host:port/db").unwrap_err();
    assert!(matches!(err, StoreError::InvalidConfig { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
}

#[test]
fn a_schema_name_that_would_need_quoting_is_refused_before_connecting() {
    let err = PostgresOptions::new("postgres://whale@127.0.0.1:1/platform")
        .unwrap()
        .schema("x; DROP TABLE settings")
        .connect()
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidConfig { .. }), "{err:?}");
}

#[test]
fn sub_millisecond_range_bounds_agree_with_the_memory_store() {
    let t = crate::time::parse("2026-03-10T10:00:00.000500Z").unwrap();
    assert_eq!(
        ceil_millis(t),
        crate::time::parse("2026-03-10T10:00:00.001Z").unwrap()
    );
    assert_eq!(ceil_millis(at(0)), at(0));
}

/// Two service instances on one database with a listener on the second: a change through the
/// first reaches the second's `check_ip` by NOTIFY (the resync is set far beyond the deadline,
/// so only a notification can deliver it in time).
#[test]
fn a_change_through_one_instance_reaches_the_other_by_notify() {
    let Some(db) = TestDb::new() else { return };
    let (first, second, request) = two_instances(&db);
    let listener = ChangeListener::spawn(Arc::clone(&second), quiet_options()).unwrap();
    wait_for(|| listener.status().listening, "the listener connects");

    let office: IpAddr = "203.0.113.9".parse().unwrap();
    let before = second
        .check_ip(&store_id("store_a"), office, Surface::Api, at(0))
        .unwrap();
    assert!(before.decision().permits());

    let started = Instant::now();
    let updated = first
        .update(
            &store_id("store_a"),
            Version::FIRST,
            &deny_all_but_docs(),
            &request,
        )
        .unwrap();
    wait_for(
        || second.cached_version(&store_id("store_a")) == Some(updated.version),
        "the second instance sees the change",
    );
    let elapsed = started.elapsed();
    let after = second
        .check_ip(&store_id("store_a"), office, Surface::Api, at(0))
        .unwrap();
    assert_eq!(after.decision(), IpDecision::Deny);
    assert_eq!(after.version(), updated.version);
    let status = listener.status();
    assert!(status.notifications >= 1, "{status:?}");
    assert!(status.refreshes >= 1, "{status:?}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    eprintln!("propagation by NOTIFY took {elapsed:?}");
}

/// The listening connection is killed on the server: the change still arrives by polling, and
/// the listener reconnects and receives notifications again.
#[test]
fn a_killed_notification_connection_falls_back_to_polling_and_reconnects() {
    let Some(db) = TestDb::new() else { return };
    let (first, second, request) = two_instances(&db);
    let listener = ChangeListener::spawn(Arc::clone(&second), quiet_options()).unwrap();
    wait_for(|| listener.status().listening, "the listener connects");
    let _warm = second
        .check_ip(
            &store_id("store_a"),
            "203.0.113.9".parse().unwrap(),
            Surface::Api,
            at(0),
        )
        .unwrap();

    let pid = listener.status().backend_pid.unwrap();
    let mut admin = db.admin();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let updated = first
        .update(
            &store_id("store_a"),
            Version::FIRST,
            &deny_all_but_docs(),
            &request,
        )
        .unwrap();
    wait_for(
        || second.cached_version(&store_id("store_a")) == Some(updated.version),
        "the change arrives while the listener was down",
    );
    wait_for(
        || {
            let s = listener.status();
            s.listening && s.connects >= 2 && s.backend_pid != Some(pid)
        },
        "the listener reconnects",
    );
    assert!(listener.status().errors >= 1);

    // Listening again: the next change arrives by notification.
    let notified = listener.status().notifications;
    let again = first
        .update(
            &store_id("store_a"),
            updated.version,
            &SettingsUpdate::from_json(r#"{"ip_allowlist": {"enabled": false}}"#).unwrap(),
            &request,
        )
        .unwrap();
    wait_for(
        || second.cached_version(&store_id("store_a")) == Some(again.version),
        "the next change arrives",
    );
    assert!(listener.status().notifications > notified);
    listener.stop();
}

/// Listener timing for the tests: poll fast while down, resync never within a test.
fn quiet_options() -> ListenerOptions {
    ListenerOptions::default()
        .poll_interval(Duration::from_millis(50))
        .resync_interval(Duration::from_secs(3600))
}

/// Two services on `db`'s schema, each with its own pool, and settings for `store_a`.
fn two_instances(
    db: &TestDb,
) -> (
    SecurityService<PostgresStore>,
    Arc<SecurityService<PostgresStore>>,
    ChangeRequest,
) {
    let admin = UserId::new("user_admin").unwrap();
    let request = ChangeRequest::new(admin.clone(), at(0));
    let first = SecurityService::new(db.another_instance());
    first
        .create_settings(
            SecuritySettings::new(store_id("store_a"), admin, at(0)),
            &request,
        )
        .unwrap();
    let second = Arc::new(SecurityService::new(db.another_instance()));
    (first, second, request)
}

/// An allowlist that admits only the documentation network 192.0.2.0/24 on the API.
fn deny_all_but_docs() -> SettingsUpdate {
    SettingsUpdate::from_json(
        r#"{"ip_allowlist": {"enabled": true, "applies_to": ["api"], "entries": [{"cidr": "192.0.2.0/24"}]}}"#,
    )
    .unwrap()
}

/// Polls `done` every 5 ms until it holds, failing after 10 s.
fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sign-ins of one member racing on two instances, each decided on the same (empty) set of
/// sessions: exactly one starts, the others see the sessions changed. Without the per-member
/// lock, READ COMMITTED would let every one of them insert.
#[test]
fn racing_sign_ins_of_one_member_on_two_instances_start_exactly_one_session() {
    let Some(db) = TestDb::new() else { return };
    let second = db.another_instance();
    let instances: [&PostgresStore; 2] = [&db, &second];
    let a = store_id("store_a");
    let started = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (i, store) in instances.into_iter().enumerate() {
            for n in 0..4 {
                let (a, started) = (&a, &started);
                scope.spawn(move || {
                    let id = crate::session::SessionId::new(format!("s{i}{n}").as_str()).unwrap();
                    let session =
                        crate::session::Session::signed_in(id, contract::user("al"), at(0));
                    match store.start_session(a, &session, &[], &[]) {
                        Ok(()) => {
                            started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(StoreError::SessionsChanged { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                });
            }
        }
    });
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(db.sessions(&a).unwrap().len(), 1);
}
