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
use whale_security::id::UserId;
use whale_security::settings::{SettingsUpdate, apply};

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

criterion_group!(benches, parse, update);
criterion_main!(benches);
