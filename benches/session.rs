//! Session checks: expiry of one session, and admission against 1 and 1000 live sessions.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use whale_security::id::UserId;
use whale_security::session::{
    MaxSessions, OnSessionLimit, Session, SessionId, SessionPolicy, TimeoutMinutes, admit_session,
    session_expired,
};

/// SplitMix64 with a fixed seed: the same sessions on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An instant up to `minutes` before `now`.
    fn before(&mut self, now: DateTime<Utc>, minutes: u64) -> DateTime<Utc> {
        let back = i64::try_from(self.next() % (minutes * 60)).unwrap();
        now - TimeDelta::try_seconds(back).unwrap()
    }
}

fn now() -> DateTime<Utc> {
    whale_security::time::parse("2026-03-10T12:00:00Z").unwrap()
}

fn policy(max: i64, idle: Option<i64>, rule: OnSessionLimit) -> SessionPolicy {
    SessionPolicy {
        timeout_minutes: TimeoutMinutes::new(480).unwrap(),
        max_concurrent_sessions: MaxSessions::new(max).unwrap(),
        require_re_auth_for_sensitive: true,
        idle_timeout_minutes: idle.map(|m| TimeoutMinutes::new(m).unwrap()),
        reauth_window_minutes: None,
        on_session_limit: Some(rule),
    }
}

/// `n` sessions of one member, all live at `now()` (signed in within 7 h, active within 30 min).
fn sessions(n: usize, rng: &mut Rng) -> Vec<Session> {
    let user = UserId::new("user_bench").unwrap();
    (0..n)
        .map(|i| {
            let created = rng.before(now(), 7 * 60);
            let active = rng.before(now(), 30).max(created);
            Session {
                id: SessionId::new(format!("sess_{i:04}")).unwrap(),
                user: user.clone(),
                created_at: created,
                last_activity_at: active,
                last_authenticated_at: created,
            }
        })
        .collect()
}

/// session/expired: one decision with the lifetime only and with an idle limit too, beside the
/// naive elapsed-time comparison (unchecked, no reason, no deadline).
fn expired(c: &mut Criterion) {
    let mut rng = Rng(0x5e55_1011);
    let s = sessions(1, &mut rng).pop().unwrap();
    let lifetime = policy(3, None, OnSessionLimit::RejectNewLogin);
    let both = policy(3, Some(60), OnSessionLimit::RejectNewLogin);
    let t = now();
    c.bench_function("session/expired/lifetime", |b| {
        b.iter(|| session_expired(black_box(&lifetime), black_box(&s), black_box(t)))
    });
    c.bench_function("session/expired/lifetime_and_idle", |b| {
        b.iter(|| session_expired(black_box(&both), black_box(&s), black_box(t)))
    });
    let limit = TimeDelta::try_minutes(480).unwrap();
    c.bench_function("session/expired/naive_baseline", |b| {
        b.iter(|| black_box(t) - black_box(&s).created_at >= black_box(limit))
    });
}

/// session/admit: admission of one more sign-in against 1 and 1000 live sessions at the limit,
/// rejecting or naming the oldest, beside a naive filter-and-sort.
fn admit(c: &mut Criterion) {
    let mut rng = Rng(0xad_0117);
    let t = now();
    for n in [1_usize, 1000] {
        let list = sessions(n, &mut rng);
        let max = i64::try_from(n).unwrap();
        let reject = policy(max, Some(60), OnSessionLimit::RejectNewLogin);
        let oldest = policy(max, Some(60), OnSessionLimit::EndOldest);
        c.bench_function(&format!("session/admit/{n}/reject"), |b| {
            b.iter(|| admit_session(black_box(&reject), black_box(&list), black_box(t)))
        });
        c.bench_function(&format!("session/admit/{n}/end_oldest"), |b| {
            b.iter(|| admit_session(black_box(&oldest), black_box(&list), black_box(t)))
        });
        let limit = TimeDelta::try_minutes(480).unwrap();
        c.bench_function(&format!("session/admit/{n}/naive_sort_baseline"), |b| {
            b.iter(|| {
                let mut live: Vec<&Session> = black_box(&list)
                    .iter()
                    .filter(|s| black_box(t) - s.created_at < limit)
                    .collect();
                live.sort_by_key(|s| s.created_at);
                live.first().map(|s| s.id.clone())
            })
        });
    }
}

criterion_group!(benches, expired, admit);
criterion_main!(benches);
