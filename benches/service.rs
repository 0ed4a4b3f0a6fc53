//! The service's hot path (`check_ip` from the cached snapshot) against the bare function, and
//! settings update throughput on SQLite against the in-memory store.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use whale_security::allowlist::check_ip;
use whale_security::id::{StoreId, UserId};
use whale_security::service::{ChangeRequest, SecurityService};
use whale_security::settings::SettingsUpdate;
use whale_security::store::{MemoryStore, SqliteStore, Store};
use whale_security::{SecuritySettings, Surface, time};

/// service/check_ip/{bare,cached,cached_no_recent}/{spec,gcp}: one decision on the spec's
/// 3-entry list and on the 782-entry Google Cloud list, for addresses drawn by a seeded generator:
/// the bare pure function, through the service's cached snapshot (recording recent clients),
/// and with that recording off.
fn check(c: &mut Criterion) {
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    for (name, file) in [("spec", "spec-settings.json"), ("gcp", "gcp-settings.json")] {
        let text =
            std::fs::read_to_string(format!("{}/data/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let settings = SecuritySettings::from_json(&text).unwrap();
        let store_id = settings.store_id().clone();
        let ips = addresses(&settings, 1024);
        let with_recent = service(
            MemoryStore::new(),
            &settings,
            SecurityService::<MemoryStore>::DEFAULT_RECENT_CLIENTS,
        );
        let without_recent = service(MemoryStore::new(), &settings, 0);
        let list = settings.ip_allowlist().clone();

        let mut i = 0_usize;
        c.bench_function(&format!("service/check_ip/bare/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % ips.len();
                black_box(check_ip(&list, black_box(ips[i]), Surface::Api, now)).permits()
            })
        });
        for (variant, service) in [
            ("cached", &with_recent),
            ("cached_no_recent", &without_recent),
        ] {
            let mut i = 0_usize;
            c.bench_function(&format!("service/check_ip/{variant}/{name}"), |b| {
                b.iter(|| {
                    i = (i + 1) % ips.len();
                    let check = service
                        .check_ip(&store_id, black_box(ips[i]), Surface::Api, now)
                        .unwrap();
                    black_box(check.decision().permits())
                })
            });
        }
    }
}

/// service/update/{sqlite,memory}: one settings update (read, apply, guard, write with the audit
/// entry in one transaction, swap the cache); SQLite in a temporary directory with WAL and
/// `synchronous = FULL`, against the in-memory store as the baseline.
fn update(c: &mut Criterion) {
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    let settings = SecuritySettings::from_json(&text).unwrap();
    let store_id = settings.store_id().clone();
    let updates: Vec<SettingsUpdate> = [60, 120]
        .iter()
        .map(|m| {
            SettingsUpdate::from_json(&format!(
                r#"{{"session_policy":{{"timeout_minutes":{m}}}}}"#
            ))
            .unwrap()
        })
        .collect();
    let request = ChangeRequest::new(UserId::new("user_bench").unwrap(), now);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = service(
        SqliteStore::open(dir.path().join("bench.db")).unwrap(),
        &settings,
        0,
    );
    let memory = service(MemoryStore::new(), &settings, 0);
    bench_updates(
        c,
        "service/update/sqlite",
        &sqlite,
        &store_id,
        &updates,
        &request,
    );
    bench_updates(
        c,
        "service/update/memory",
        &memory,
        &store_id,
        &updates,
        &request,
    );
}

fn bench_updates<S: Store>(
    c: &mut Criterion,
    name: &str,
    service: &SecurityService<S>,
    store_id: &StoreId,
    updates: &[SettingsUpdate],
    request: &ChangeRequest,
) {
    let mut i = 0_usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let version = service.settings(store_id).unwrap().version;
            let updated = service
                .update(store_id, version, &updates[i % 2], request)
                .unwrap();
            black_box(updated.version)
        })
    });
}

fn service<S: Store>(store: S, settings: &SecuritySettings, recent: usize) -> SecurityService<S> {
    let service = SecurityService::with_recent_clients(store, recent);
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
                let entry = &entries[(r as usize) % entries.len()];
                entry.cidr.net().addr()
            } else if r % 4 == 0 {
                IpAddr::from(std::net::Ipv6Addr::from(
                    (r as u128) << 64 | u128::from(next()),
                ))
            } else {
                IpAddr::from(std::net::Ipv4Addr::from((r >> 32) as u32))
            }
        })
        .collect()
}

/// service/verify_key/{memory,sqlite}/1000: one presented key checked through the service (parse,
/// SHA-256, indexed lookup by tag, constant-time compare) among 1 000 stored keys of 10 stores (the SQLite file
/// on `/dev/shm` when present, so loading 1 000 synced inserts stays quick);
/// service/verify_key/linear_scan/1000: the naive baseline, comparing the digest against every
/// stored digest in a list.
fn verify_key(c: &mut Criterion) {
    use subtle::ConstantTimeEq;
    use whale_security::api_keys::{ApiKey, Environment, KeySeed, PresentedKey, StoredKey};
    use whale_security::audit::{AuditAction, AuditRecord};
    use whale_security::store::ApiKeyStore;

    const STORES: u64 = 10;
    const PER_STORE: u64 = 100;
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    let admin = UserId::new("user_admin").unwrap();
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let memory = SecurityService::new(MemoryStore::new());
    let sqlite = SecurityService::new(SqliteStore::open(dir.path().join("keys.db")).unwrap());
    let mut texts = Vec::new();
    let mut digests = Vec::new();
    let audit = AuditRecord {
        actor: admin.clone(),
        at: now,
        action: AuditAction::IssueKey,
        changes: vec![],
    };
    for s in 0..STORES {
        let store_id = StoreId::new(format!("store_{s}")).unwrap();
        for n in 0..PER_STORE {
            // Seeds from a fixed counter: deterministic, distinct keys.
            let mut bytes = [0_u8; 32];
            bytes[..8].copy_from_slice(&(s * PER_STORE + n + 1).to_le_bytes());
            let key = ApiKey::from_seed(Environment::Live, KeySeed::from_bytes(bytes));
            let record = StoredKey::new(&key, store_id.clone(), now);
            memory.store().insert_key(&record, &audit).unwrap();
            sqlite.store().insert_key(&record, &audit).unwrap();
            texts.push(key.expose_secret().to_owned());
            digests.push(key.digest());
        }
    }
    let probe = texts[texts.len() / 2].clone();
    c.bench_function("service/verify_key/memory/1000", |b| {
        b.iter(|| memory.verify_key(black_box(&probe), now).unwrap())
    });
    c.bench_function("service/verify_key/sqlite/1000", |b| {
        b.iter(|| sqlite.verify_key(black_box(&probe), now).unwrap())
    });
    c.bench_function("service/verify_key/linear_scan/1000", |b| {
        b.iter(|| {
            let digest = PresentedKey::parse(black_box(&probe)).unwrap().digest();
            digests
                .iter()
                .position(|d| bool::from(d.ct_eq(&digest)))
                .unwrap()
        })
    });
}

criterion_group!(benches, check, update, verify_key);
criterion_main!(benches);
