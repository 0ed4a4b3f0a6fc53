//! Reading a settings document and applying an update.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use whale_security::SecuritySettings;
use whale_security::allowlist::Cidr;
use whale_security::id::UserId;
use whale_security::settings::{NewEntry, SettingsUpdate, add_entry, apply};

/// settings/parse: validate the spec's example document; settings/parse/gcp: one with 782 entries.
fn parse(c: &mut Criterion) {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    let gcp = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/gcp-settings.json"
    ))
    .unwrap();
    c.bench_function("settings/parse/spec", |b| {
        b.iter(|| SecuritySettings::from_json(black_box(&spec)).unwrap())
    });
    c.bench_function("settings/parse/gcp", |b| {
        b.iter(|| SecuritySettings::from_json(black_box(&gcp)).unwrap())
    });
    c.bench_function("settings/parse/serde_json_value_baseline", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&gcp)).unwrap())
    });
}

/// settings/apply: a password policy update against the spec's example, including the audit diff.
fn update(c: &mut Criterion) {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    let current = SecuritySettings::from_json(&spec).unwrap();
    let update = SettingsUpdate::from_json(r#"{"password_policy": {"min_length": 15}}"#).unwrap();
    let actor = UserId::new("user_bench").unwrap();
    let now = whale_security::time::parse("2026-03-10T10:00:00Z").unwrap();
    c.bench_function("settings/apply/password_policy", |b| {
        b.iter(|| apply(black_box(&current), black_box(&update), &actor, now).unwrap())
    });
}

/// settings/apply/entries_40k: replace the spec's three entries with 40 000 distinct /24s;
/// settings/add_entry/40k: add one entry to that list. Both include the audit diff. (The
/// naive baseline, a search of the old list per entry, took 51 s and 7.4 s: too slow to run
/// beside them.)
fn large_lists(c: &mut Criterion) {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    let current = SecuritySettings::from_json(&spec).unwrap();
    let entries: Vec<serde_json::Value> = (0..40_000)
        .map(|i| serde_json::json!({"cidr": format!("10.{}.{}.0/24", i >> 8, i & 0xff)}))
        .collect();
    let body = serde_json::json!({"ip_allowlist": {"entries": entries}}).to_string();
    let update = SettingsUpdate::from_json(&body).unwrap();
    let actor = UserId::new("user_bench").unwrap();
    let now = whale_security::time::parse("2026-03-10T10:00:00Z").unwrap();
    let mut group = c.benchmark_group("settings");
    group.sample_size(10);
    group.bench_function("apply/entries_40k", |b| {
        b.iter(|| apply(black_box(&current), black_box(&update), &actor, now).unwrap())
    });
    let large = apply(&current, &update, &actor, now).unwrap().settings;
    let one = NewEntry {
        cidr: "192.0.2.0/24".parse::<Cidr>().unwrap(),
        label: Default::default(),
        expires_at: None,
    };
    group.bench_function("add_entry/40k", |b| {
        b.iter(|| add_entry(black_box(&large), one.clone(), &actor, now).unwrap())
    });
    group.finish();
}

criterion_group!(benches, parse, update, large_lists);
criterion_main!(benches);
