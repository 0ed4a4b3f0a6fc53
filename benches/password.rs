//! Password validation: the cost of each stage, beside the naive way of doing it.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Duration;

use argon2::password_hash::{PasswordVerifier, phc};
use criterion::{Criterion, criterion_group, criterion_main};
use unicode_normalization::UnicodeNormalization;
use whale_security::password::{
    HashParams, NormalizedPassword, PasswordContext, PasswordPolicy, hash_password,
    validate_password,
};

/// The spec's policy plus `min_strength: 3`, so every stage runs.
fn policy() -> PasswordPolicy {
    serde_json::from_str(
        r#"{"min_length": 12, "require_uppercase": true, "require_number": true,
            "require_special": true, "max_age_days": 90, "prevent_reuse": 5, "min_strength": 3}"#,
    )
    .unwrap()
}

/// Deterministic 16-byte salts from a fixed seed (splitmix64), as a seeded RNG would give.
fn salt(seed: u64) -> [u8; 16] {
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = [0; 16];
    out[..8].copy_from_slice(&next().to_le_bytes());
    out[8..].copy_from_slice(&next().to_le_bytes());
    out
}

/// password/validate/{typical,l33t_64}: every rule but reuse, beside zxcvbn alone on the same
/// input (zxcvbn/unbounded scores up to 100 characters; we score the first 32).
fn strength(c: &mut Criterion) {
    let context = ["jane.doe@whalemart.example", "Jane Doe", "Whalemart"];
    let ctx = PasswordContext::new().with_words(context);
    let typical = "Harbor-Lantern42-Quill";
    let l33t: String = "4@8({[<3=69#!|170$5%2+".chars().cycle().take(64).collect();
    let l33t = format!("A{l33t}");
    let mut g = c.benchmark_group("password");
    g.bench_function("validate/typical", |b| {
        b.iter(|| validate_password(&policy(), black_box(typical), &ctx))
    });
    g.bench_function("zxcvbn/typical", |b| {
        b.iter(|| zxcvbn::zxcvbn(black_box(typical), &context))
    });
    g.bench_function("validate/l33t_65", |b| {
        b.iter(|| validate_password(&policy(), black_box(&l33t), &ctx))
    });
    g.bench_function("zxcvbn/l33t_65_unbounded", |b| {
        b.iter(|| zxcvbn::zxcvbn(black_box(&l33t), &context))
    });
    g.finish();
}

/// password/validate/history_5: a new password checked against 5 OWASP-cost hashes (5 Argon2id
/// runs), beside the argon2 crate's own verifier run 5 times.
fn reuse(c: &mut Criterion) {
    let old = [
        "Quartz-Meadow-71!",
        "Copper-Harbor-62@",
        "Velvet-Canyon-53#",
        "Saffron-Ridge-44$",
        "Indigo-Tundra-35%",
    ];
    let history: Vec<String> = old
        .iter()
        .zip(1u64..)
        .map(|(p, i)| {
            hash_password(
                &NormalizedPassword::new(p).unwrap(),
                &salt(i),
                HashParams::OWASP,
            )
            .unwrap()
            .as_phc()
            .to_owned()
        })
        .collect();
    let ctx = PasswordContext::new().with_history(&history);
    let mut p = policy();
    p.min_strength = None;
    let mut g = c.benchmark_group("password");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("validate/history_5", |b| {
        b.iter(|| {
            let d = validate_password(&p, black_box("Brand-New-Pass-2026"), &ctx);
            assert_eq!(d.assessment().hashes_verified(), 5);
            d
        })
    });
    let parsed: Vec<phc::PasswordHash> = history
        .iter()
        .map(|h| phc::PasswordHash::new(h).unwrap())
        .collect();
    g.bench_function("argon2_verify_x5/reference", |b| {
        b.iter(|| {
            for h in &parsed {
                let r = argon2::Argon2::default().verify_password(b"Brand-New-Pass-2026", h);
                assert!(r.is_err());
            }
        })
    });
    g.finish();
}

/// password/validate/oversized_1mb: a 1 MiB input refused with max_length, beside the naive
/// first step of normalizing it (NFKC of 1 MiB).
fn oversized(c: &mut Criterion) {
    let huge = format!("Aa1!{}", "x".repeat((1 << 20) - 4));
    let ctx = PasswordContext::new();
    let mut g = c.benchmark_group("password");
    g.bench_function("validate/oversized_1mb", |b| {
        b.iter(|| validate_password(&policy(), black_box(&huge), &ctx))
    });
    g.sample_size(20);
    g.bench_function("nfkc/oversized_1mb_naive", |b| {
        b.iter(|| black_box(&huge).nfkc().count())
    });
    g.finish();
}

criterion_group!(benches, strength, reuse, oversized);
criterion_main!(benches);
