//! Settings read and update latency and `check_ip` through the service on PostgreSQL beside
//! SQLite, with the naive "read the store on every request" check as the baseline.
//!
//! Needs `WHALE_TEST_DATABASE_URL` (see the README's PostgreSQL section); without it the bench
//! prints why and measures nothing. It works in a schema of its own, dropped at the end.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::Criterion;
use whale_security::allowlist::check_ip;
use whale_security::service::{ChangeRequest, SecurityService};
use whale_security::settings::SettingsUpdate;
use whale_security::store::{PostgresOptions, SqliteStore, Store};
use whale_security::{SecuritySettings, Surface, time};

fn main() {
    let Some(url) = std::env::var("WHALE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!(
            "benches/postgres: skipped, WHALE_TEST_DATABASE_URL is not set (postgres://user@host:port/db)"
        );
        return;
    };
    let schema = format!("whale_bench_{}", std::process::id());
    let postgres = PostgresOptions::new(&url)
        .unwrap()
        .schema(&schema)
        .max_connections(2)
        .connect()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("bench.db")).unwrap();

    let mut c = Criterion::default().configure_from_args();
    let settings = spec_settings();
    let sqlite = service(sqlite, &settings);
    let postgres = service(postgres, &settings);
    read(&mut c, "sqlite", &sqlite, &settings);
    read(&mut c, "postgres", &postgres, &settings);
    update(&mut c, "sqlite", &sqlite, &settings);
    update(&mut c, "postgres", &postgres, &settings);
    check(&mut c, "sqlite", &sqlite, &settings);
    check(&mut c, "postgres", &postgres, &settings);
    c.final_summary();

    drop(postgres);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

/// store/read/{sqlite,postgres}: one settings read (document and version) through the service,
/// parsed and validated.
fn read<S: Store>(
    c: &mut Criterion,
    name: &str,
    service: &SecurityService<S>,
    settings: &SecuritySettings,
) {
    let store_id = settings.store_id();
    c.bench_function(&format!("store/read/{name}"), |b| {
        b.iter(|| black_box(service.settings(store_id).unwrap().version))
    });
}

/// store/update/{sqlite,postgres}: one settings update (read, apply, guard, then the versioned
/// write and the audit append in one transaction, and the cache swap).
fn update<S: Store>(
    c: &mut Criterion,
    name: &str,
    service: &SecurityService<S>,
    settings: &SecuritySettings,
) {
    let store_id = settings.store_id();
    let request = ChangeRequest::new(settings.updated_by().clone(), settings.updated_at());
    let updates: Vec<SettingsUpdate> = [60, 120]
        .iter()
        .map(|m| {
            SettingsUpdate::from_json(&format!(
                r#"{{"session_policy":{{"timeout_minutes":{m}}}}}"#
            ))
            .unwrap()
        })
        .collect();
    let mut i = 0_usize;
    c.bench_function(&format!("store/update/{name}"), |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let version = service.settings(store_id).unwrap().version;
            let updated = service
                .update(store_id, version, &updates[i % 2], &request)
                .unwrap();
            black_box(updated.version)
        })
    });
}

/// store/check_ip/{cached,uncached}_{sqlite,postgres}: one decision through the service's cached
/// snapshot, against the naive baseline that reads the settings from the store per request.
fn check<S: Store>(
    c: &mut Criterion,
    name: &str,
    service: &SecurityService<S>,
    settings: &SecuritySettings,
) {
    let store_id = settings.store_id();
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    let ips = addresses(settings, 256);
    let mut i = 0_usize;
    c.bench_function(&format!("store/check_ip/cached_{name}"), |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            let check = service
                .check_ip(store_id, black_box(ips[i]), Surface::Api, now)
                .unwrap();
            black_box(check.decision().permits())
        })
    });
    c.bench_function(&format!("store/check_ip/uncached_{name}"), |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            let read = service.store().settings(store_id).unwrap().unwrap();
            black_box(check_ip(read.value.ip_allowlist(), ips[i], Surface::Api, now).permits())
        })
    });
}

fn spec_settings() -> SecuritySettings {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    SecuritySettings::from_json(&text).unwrap()
}

fn service<S: Store>(store: S, settings: &SecuritySettings) -> SecurityService<S> {
    let service = SecurityService::with_recent_clients(store, 0);
    let request = ChangeRequest::new(settings.updated_by().clone(), settings.updated_at());
    service.create_settings(settings.clone(), &request).unwrap();
    service
}

/// `n` addresses, half inside listed networks and half random, from a fixed seed.
fn addresses(settings: &SecuritySettings, n: usize) -> Vec<IpAddr> {
    let mut state: u64 = 0x5eed_1234_abcd_0001;
    let mut next = move || {
        // xorshift64*: small, seeded, reproducible.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let entries = &settings.ip_allowlist().entries;
    (0..n)
        .map(|k| {
            let r = next();
            if k % 2 == 0 && !entries.is_empty() {
                entries[(r as usize) % entries.len()].cidr.net().addr()
            } else {
                IpAddr::from(std::net::Ipv4Addr::from((r >> 32) as u32))
            }
        })
        .collect()
}
