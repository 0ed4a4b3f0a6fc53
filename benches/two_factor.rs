//! 2FA: the compliance report over many members, and TOTP code checks.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use whale_security::two_factor::totp::{TotpKey, TotpParams, TotpSecret};
use whale_security::two_factor::{Factor, Member, Method, TwoFactorPolicy, compliance_report};

/// `n` members, seeded: 70% with a verified TOTP, 10% SMS-only, 10% with an unverified TOTP,
/// 10% with nothing; joined over the year before enforcement, some after it.
fn members(n: usize) -> Vec<Member> {
    let mut rng = StdRng::seed_from_u64(42);
    let start = whale_security::time::parse("2025-06-01T00:00:00Z").unwrap();
    (0..n)
        .map(|i| {
            let joined_at =
                start + TimeDelta::try_seconds(rng.random_range(0..30_000_000)).unwrap();
            let factor = |method, verified| Factor {
                method,
                verified,
                enrolled_at: joined_at,
            };
            let factors = match rng.random_range(0..10) {
                0..=6 => vec![factor(Method::Totp, true)],
                7 => vec![factor(Method::Sms, true)],
                8 => vec![factor(Method::Totp, false)],
                _ => vec![],
            };
            Member {
                user_id: format!("user_{i:08x}").parse().unwrap(),
                email: format!("member{i}@example.com"),
                joined_at,
                factors,
            }
        })
        .collect()
}

fn policy() -> TwoFactorPolicy {
    serde_json::from_str(
        r#"{"required": true, "methods": ["totp"], "grace_period_hours": 72,
            "enforcement_date": "2026-03-13T00:00:00Z"}"#,
    )
    .unwrap()
}

/// The naive baseline: only count compliant members (search the method set per factor), no
/// statuses, no deadlines, no list.
fn count_only(policy: &TwoFactorPolicy, members: &[Member]) -> usize {
    members
        .iter()
        .filter(|m| {
            m.factors
                .iter()
                .any(|f| f.verified && policy.methods.contains(f.method))
        })
        .count()
}

/// two_factor/report/{full,with_spec_list,count_only_baseline}: the report (statuses and tally;
/// then also the spec's owned id/email list) over 100k and 1M members, beside a bare count.
fn report(c: &mut Criterion) {
    let policy = policy();
    let now = whale_security::time::parse("2026-03-20T12:00:00Z").unwrap();
    let mut group = c.benchmark_group("two_factor/report");
    group.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        let members = members(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("full", n), &members, |b, m| {
            b.iter(|| compliance_report(black_box(&policy), black_box(m), now))
        });
        group.bench_with_input(BenchmarkId::new("with_spec_list", n), &members, |b, m| {
            // Dropping the copied list is left out of the timing; the figure is building it.
            b.iter_with_large_drop(|| {
                compliance_report(black_box(&policy), black_box(m), now).counts()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("count_only_baseline", n),
            &members,
            |b, m| b.iter(|| count_only(black_box(&policy), black_box(m))),
        );
    }
    group.finish();
}

/// two_factor/totp/{check_valid,check_wrong,totp_rs_check_baseline}: one code against a ±1 window.
fn totp(c: &mut Criterion) {
    let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    let key = TotpKey::new(&secret, TotpParams::default()).unwrap();
    let now = DateTime::<Utc>::from_timestamp(1_234_567_890, 0).unwrap();
    let lib = totp_rs::Builder::new()
        .with_secret(secret.as_bytes())
        .build()
        .unwrap();
    let mut group = c.benchmark_group("two_factor/totp");
    group.bench_function("check_valid", |b| {
        b.iter(|| key.check(black_box("005924"), now, Some(41_152_262)))
    });
    group.bench_function("check_wrong", |b| {
        b.iter(|| key.check(black_box("123456"), now, None))
    });
    group.bench_function("totp_rs_check_baseline", |b| {
        b.iter(|| lib.check(black_box("123456"), 1_234_567_890))
    });
    group.finish();
}

criterion_group!(benches, report, totp);
criterion_main!(benches);
