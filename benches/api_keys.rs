//! API keys: verification against many stored keys, and scheduled-rotation planning over many
//! stores, each beside a naive linear scan.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use whale_security::api_keys::{
    ApiKey, ApiKeyRotationPolicy, Environment, KeyRing, KeySeed, PresentedKey, ScheduledRotation,
    plan_scheduled_rotation,
};
use whale_security::id::StoreId;
use whale_security::time;

const KEYS: usize = 10_000;
const STORES: usize = 10_000;

/// Seeds from SHA-256 of a counter: deterministic, so every run measures the same keys.
fn seed(n: u64) -> KeySeed {
    KeySeed::from_bytes(Sha256::digest(n.to_be_bytes()).into())
}

/// A ring of `KEYS` keys over `KEYS / 10` stores, and the texts of every 10th key.
fn ring() -> (KeyRing, Vec<String>) {
    let now = time::parse("2026-03-10T10:00:00Z").unwrap();
    let mut ring = KeyRing::new();
    let mut presented = Vec::new();
    for i in 0..KEYS {
        let store = StoreId::new(format!("store_{}", i / 10)).unwrap();
        let key = ring
            .issue(store, Environment::Live, seed(i as u64), now)
            .unwrap();
        if i % 10 == 0 {
            presented.push(key.expose_secret().to_owned());
        }
    }
    (ring, presented)
}

/// api_keys/verify: one presented key against 10 000 stored, by digest index (ours) and by a
/// constant-time scan of every record (naive); plus an unknown key and key generation.
fn verify(c: &mut Criterion) {
    let (ring, presented) = ring();
    let now = time::parse("2026-03-11T00:00:00Z").unwrap();
    let unknown = format!("wk_live_{}", "0".repeat(43));
    let mut i = 0;
    c.bench_function("api_keys/verify/indexed_10k", |b| {
        b.iter(|| {
            i = (i + 1) % presented.len();
            ring.verify(black_box(&presented[i]), now)
                .unwrap()
                .key()
                .created_at()
        })
    });
    c.bench_function("api_keys/verify/indexed_10k_unknown", |b| {
        b.iter(|| ring.verify(black_box(&unknown), now).unwrap_err())
    });
    let mut i = 0;
    c.bench_function("api_keys/verify/linear_scan_10k", |b| {
        b.iter(|| {
            i = (i + 1) % presented.len();
            let digest = PresentedKey::parse(black_box(&presented[i]))
                .unwrap()
                .digest();
            let found = ring
                .keys()
                .filter(|k| bool::from(k.digest().ct_eq(&digest)))
                .count();
            assert_eq!(found, 1);
        })
    });
    let mut n = 0u64;
    c.bench_function("api_keys/generate/from_seed", |b| {
        b.iter(|| {
            n += 1;
            ApiKey::from_seed(Environment::Live, seed(black_box(n)))
        })
    });
}

/// api_keys/plan_scheduled: decide the scheduled rotation of 10 000 stores of 2 keys each (half
/// of them due), through the ring's per-store index (ours) and, for 100 of them, by filtering
/// every record of the ring per store (naive).
fn plan(c: &mut Criterion) {
    let created = time::parse("2026-01-01T00:00:00Z").unwrap();
    let now = time::parse("2026-03-10T10:00:00Z").unwrap();
    let mut ring = KeyRing::new();
    let mut stores = Vec::new();
    let mut policies = Vec::new();
    for i in 0..STORES {
        let store = StoreId::new(format!("store_{i}")).unwrap();
        for k in 0..2u64 {
            ring.issue(
                store.clone(),
                Environment::Live,
                seed((i as u64) << 8 | k),
                created,
            )
            .unwrap();
        }
        let interval = if i % 2 == 0 { 30 } else { 90 };
        let policy: ApiKeyRotationPolicy = serde_json::from_str(&format!(
            r#"{{"enabled": true, "interval_days": {interval}, "grace_period_hours": 48,
                "last_rotation": "2026-01-01T00:00:00Z"}}"#
        ))
        .unwrap();
        stores.push(store);
        policies.push(policy);
    }
    let due = stores
        .iter()
        .zip(&policies)
        .filter(|(s, p)| {
            matches!(
                plan_scheduled_rotation(p, s, ring.keys_of(s), now).unwrap(),
                ScheduledRotation::Rotate { .. }
            )
        })
        .count();
    assert_eq!(due, STORES / 2);
    c.bench_function("api_keys/plan_scheduled/indexed_10k_stores", |b| {
        b.iter(|| {
            let mut rotate = 0;
            for (s, p) in stores.iter().zip(&policies) {
                let d = plan_scheduled_rotation(p, s, ring.keys_of(s), black_box(now)).unwrap();
                rotate += usize::from(matches!(d, ScheduledRotation::Rotate { .. }));
            }
            rotate
        })
    });
    c.bench_function("api_keys/plan_scheduled/full_scan_100_stores", |b| {
        b.iter(|| {
            let mut rotate = 0;
            for (s, p) in stores.iter().zip(&policies).take(100) {
                let d = plan_scheduled_rotation(p, s, ring.keys(), black_box(now)).unwrap();
                rotate += usize::from(matches!(d, ScheduledRotation::Rotate { .. }));
            }
            rotate
        })
    });
}

criterion_group!(benches, verify, plan);
criterion_main!(benches);
