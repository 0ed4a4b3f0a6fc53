//! The contract every store implementation meets, as one test suite.
//!
//! Each case is a function generic over [`Store`]; [`contract_tests!`] expands to one `#[test]`
//! per case for an implementation. Memory, SQLite and PostgreSQL run it.

mod keys;
mod state;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{AuditQuery, PageLimit, Store, StoreError, Version};
use crate::SecuritySettings;
use crate::audit::{AuditAction, AuditRecord, FieldChange};
use crate::id::{StoreId, UserId};
use crate::settings::{SettingsUpdate, apply};
use crate::time;

/// Expands to one `#[test]` per contract case, each on a fresh store made by `$make`, an
/// expression whose value dereferences to the store (a `Box`, or a guard owning a temp dir).
///
/// `optional $make` takes an expression giving an `Option` of the holder instead: `None` (no
/// server configured) makes every case return at once, for stores that need a server.
macro_rules! contract_tests {
    (optional $make:expr) => {
        $crate::store::contract::contract_tests!(@cases optional $make);
    };
    ($make:expr) => {
        $crate::store::contract::contract_tests!(@cases required $make);
    };
    (@hold required $make:expr) => { $make };
    (@hold optional $make:expr) => {
        match $make {
            Some(holder) => holder,
            None => return,
        }
    };
    (@again required $make:expr) => { $make };
    (@again optional $make:expr) => { $make.expect("the store's server was configured a moment ago") };
    (@cases $kind:ident $make:expr) => {
        $crate::store::contract::contract_tests!(@list $kind $make;
            missing_store_reads_as_none_and_cannot_be_written,
            created_settings_read_back_at_the_first_version,
            creating_twice_is_refused_and_keeps_the_first,
            a_write_naming_the_current_version_commits_the_next_one,
            a_stale_write_conflicts_and_changes_nothing,
            audit_sequences_start_at_one_per_store_without_gaps,
            audit_records_read_back_exactly,
            audit_time_range_is_half_open,
            audit_pages_cover_every_entry_once_in_order,
            concurrent_writers_lose_nothing,
            keys_are_found_by_digest_and_listed_by_store_oldest_first,
            a_duplicate_key_is_refused_and_writes_nothing,
            revoking_keeps_the_earlier_instant_and_needs_the_right_store,
            a_rotation_commits_keys_settings_and_audit_together,
            a_stale_rotation_is_refused_and_writes_nothing,
            members_are_upserted_listed_by_id_and_removed_with_their_state,
            totp_state_swaps_only_from_the_expected_state,
            racing_totp_swaps_let_exactly_one_win,
            a_session_starts_only_on_the_sessions_it_was_decided_on,
            password_history_keeps_the_newest_n_newest_first,
        );
    };
    (@list $kind:ident $make:expr; $($case:ident),* $(,)?) => {
        #[test]
        fn matches_the_model() {
            drop($crate::store::contract::contract_tests!(@hold $kind $make));
            $crate::store::contract::matches_the_model(
                || $crate::store::contract::contract_tests!(@again $kind $make),
            );
        }
        $(
            #[test]
            fn $case() {
                let holder = $crate::store::contract::contract_tests!(@hold $kind $make);
                $crate::store::contract::$case(&*holder);
            }
        )*
    };
}

pub(crate) use self::keys::*;
pub(crate) use self::state::*;
pub(crate) use contract_tests;

pub(crate) fn missing_store_reads_as_none_and_cannot_be_written<S: Store>(store: &S) {
    let settings = settings("store_a", 480);
    assert_eq!(store.settings(settings.store_id()).unwrap(), None);
    assert!(store.store_ids().unwrap().is_empty());
    let err = store
        .write_settings(Version::FIRST, &settings, &record(at(0), "x"))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let page = store.audit(&AuditQuery::new(store_id("store_a"))).unwrap();
    assert!(page.entries.is_empty());
    assert_eq!(page.next, None);
}

pub(crate) fn created_settings_read_back_at_the_first_version<S: Store>(store: &S) {
    let settings = settings("store_a", 480);
    let committed = store
        .create_settings(&settings, &record(at(0), "created"))
        .unwrap();
    assert_eq!(committed.version, Version::FIRST);
    assert_eq!(committed.sequence, 1);
    let read = store.settings(settings.store_id()).unwrap().unwrap();
    assert_eq!(read.value, settings);
    assert_eq!(read.version, Version::FIRST);
    assert_eq!(store.store_ids().unwrap(), [store_id("store_a")]);
}

pub(crate) fn creating_twice_is_refused_and_keeps_the_first<S: Store>(store: &S) {
    let first = settings("store_a", 480);
    store.create_settings(&first, &record(at(0), "a")).unwrap();
    let err = store
        .create_settings(&settings("store_a", 60), &record(at(1), "b"))
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(
        store.settings(first.store_id()).unwrap().unwrap().value,
        first
    );
    assert_eq!(audit_all(store, "store_a").len(), 1);
}

pub(crate) fn a_write_naming_the_current_version_commits_the_next_one<S: Store>(store: &S) {
    store
        .create_settings(&settings("store_a", 480), &record(at(0), "a"))
        .unwrap();
    let mut version = Version::FIRST;
    for minutes in [60, 120, 240] {
        let next = settings("store_a", minutes);
        let committed = store
            .write_settings(version, &next, &record(at(1), "w"))
            .unwrap();
        assert_eq!(committed.version.get(), version.get() + 1);
        version = committed.version;
        let read = store.settings(&store_id("store_a")).unwrap().unwrap();
        assert_eq!((read.value, read.version), (next, version));
    }
    assert_eq!(version, Version::new(4));
}

pub(crate) fn a_stale_write_conflicts_and_changes_nothing<S: Store>(store: &S) {
    store
        .create_settings(&settings("store_a", 480), &record(at(0), "a"))
        .unwrap();
    let kept = settings("store_a", 60);
    store
        .write_settings(Version::FIRST, &kept, &record(at(1), "b"))
        .unwrap();
    for stale in [
        Version::FIRST,
        Version::new(0),
        Version::new(3),
        Version::new(u64::MAX),
    ] {
        let err = store
            .write_settings(stale, &settings("store_a", 90), &record(at(2), "c"))
            .unwrap_err();
        assert_eq!(
            err,
            StoreError::Conflict {
                store_id: store_id("store_a"),
                expected: stale,
                found: Version::new(2),
            }
        );
    }
    let read = store.settings(&store_id("store_a")).unwrap().unwrap();
    assert_eq!((read.value, read.version), (kept, Version::new(2)));
    assert_eq!(audit_all(store, "store_a").len(), 2);
}

pub(crate) fn audit_sequences_start_at_one_per_store_without_gaps<S: Store>(store: &S) {
    for id in ["store_a", "store_b"] {
        store
            .create_settings(&settings(id, 480), &record(at(0), id))
            .unwrap();
    }
    let mut version = Version::FIRST;
    for i in 1..=3 {
        version = store
            .write_settings(version, &settings("store_a", 60 + i), &record(at(i), "a"))
            .unwrap()
            .version;
    }
    let a: Vec<u64> = audit_all(store, "store_a")
        .iter()
        .map(|e| e.sequence)
        .collect();
    let b = audit_all(store, "store_b");
    assert_eq!(a, [1, 2, 3, 4]);
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].sequence, b[0].store_id.as_str()), (1, "store_b"));
    assert_eq!(
        store.store_ids().unwrap(),
        [store_id("store_a"), store_id("store_b")]
    );
}

pub(crate) fn audit_records_read_back_exactly<S: Store>(store: &S) {
    let record = AuditRecord {
        actor: UserId::new("user_d4e5f6a7").unwrap(),
        at: time::parse("2026-03-10T10:00:00.123Z").unwrap(),
        action: AuditAction::UpdateSettings,
        changes: vec![
            FieldChange {
                path: "ip_allowlist.entries.ip_a1".into(),
                old: serde_json::Value::Null,
                new: json!({"id": "ip_a1", "cidr": "203.0.113.0/24", "label": "Office \"HQ\" ✓"}),
            },
            FieldChange {
                path: "session_policy.timeout_minutes".into(),
                old: json!(480),
                new: json!(60),
            },
        ],
    };
    store
        .create_settings(&settings("store_a", 480), &record)
        .unwrap();
    let entries = audit_all(store, "store_a");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].record, record);
    assert_eq!(entries[0].store_id, store_id("store_a"));
}

pub(crate) fn audit_time_range_is_half_open<S: Store>(store: &S) {
    store
        .create_settings(&settings("store_a", 480), &record(at(0), "0"))
        .unwrap();
    let mut version = Version::FIRST;
    for i in 1..=4 {
        version = store
            .write_settings(
                version,
                &settings("store_a", 60 + i),
                &record(at(i * 10), "w"),
            )
            .unwrap()
            .version;
    }
    let times = |q: AuditQuery| -> Vec<DateTime<Utc>> {
        store
            .audit(&q)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.record.at)
            .collect()
    };
    let q = || AuditQuery::new(store_id("store_a"));
    assert_eq!(times(q().since(at(10)).until(at(30))), [at(10), at(20)]);
    assert_eq!(times(q().since(at(11))), [at(20), at(30), at(40)]);
    assert!(times(q().until(at(0))).is_empty());
    assert_eq!(times(q().until(at(1))), [at(0)]);
    assert!(times(q().since(at(40)).until(at(40))).is_empty());
}

pub(crate) fn audit_pages_cover_every_entry_once_in_order<S: Store>(store: &S) {
    store
        .create_settings(&settings("store_a", 480), &record(at(0), "0"))
        .unwrap();
    let mut version = Version::FIRST;
    for i in 1..7 {
        version = store
            .write_settings(version, &settings("store_a", 60 + i), &record(at(i), "w"))
            .unwrap()
            .version;
    }
    let limit = PageLimit::new(3).unwrap();
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut query = AuditQuery::new(store_id("store_a")).limit(limit);
    loop {
        let page = store.audit(&query).unwrap();
        pages += 1;
        assert!(page.entries.len() <= 3);
        seen.extend(page.entries.iter().map(|e| e.sequence));
        let Some(next) = page.next else { break };
        // The cursor survives a round trip through its text, as an HTTP client would carry it.
        query = AuditQuery::new(store_id("store_a"))
            .limit(limit)
            .after(next.to_string().parse().unwrap());
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(pages, 3);

    // A page that ends exactly at the last entry says there is no next page.
    let exact = store
        .audit(&AuditQuery::new(store_id("store_a")).limit(PageLimit::new(7).unwrap()))
        .unwrap();
    assert_eq!((exact.entries.len(), exact.next), (7, None));

    // Paging combines with a time range.
    let ranged = store
        .audit(
            &AuditQuery::new(store_id("store_a"))
                .since(at(2))
                .limit(PageLimit::new(2).unwrap()),
        )
        .unwrap();
    let seqs: Vec<u64> = ranged.entries.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [3, 4]);
    let rest = store
        .audit(
            &AuditQuery::new(store_id("store_a"))
                .since(at(2))
                .after(ranged.next.unwrap()),
        )
        .unwrap();
    let seqs: Vec<u64> = rest.entries.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [5, 6, 7]);
}

/// Threads that read, change and write the same settings: each write either commits or
/// conflicts, and the store ends at exactly one version per commit with one audit entry each.
pub(crate) fn concurrent_writers_lose_nothing<S: Store>(store: &S) {
    const THREADS: u64 = 4;
    const ATTEMPTS: u64 = 25;
    store
        .create_settings(&settings("store_a", 480), &record(at(0), "0"))
        .unwrap();
    let commits = AtomicU64::new(0);
    let conflicts = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (commits, conflicts) = (&commits, &conflicts);
            scope.spawn(move || {
                for attempt in 0..ATTEMPTS {
                    let read = store.settings(&store_id("store_a")).unwrap().unwrap();
                    let minutes = 1 + thread * 1000 + attempt;
                    let next = settings("store_a", minutes);
                    match store.write_settings(read.version, &next, &record(at(1), "w")) {
                        Ok(c) => {
                            assert!(c.version > read.version);
                            commits.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(StoreError::Conflict { found, .. }) => {
                            assert_ne!(found, read.version);
                            conflicts.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            });
        }
    });
    let commits = commits.load(Ordering::SeqCst);
    let conflicts = conflicts.load(Ordering::SeqCst);
    assert_eq!(commits + conflicts, THREADS * ATTEMPTS);
    assert!(commits > 0);
    let read = store.settings(&store_id("store_a")).unwrap().unwrap();
    assert_eq!(read.version.get(), 1 + commits);
    let log = audit_all(store, "store_a");
    assert_eq!(log.len() as u64, 1 + commits);
    assert!(log.iter().map(|e| e.sequence).eq(1..=1 + commits));
}

/// Every audit entry of `id`, following cursors.
pub(crate) fn audit_all<S: Store + ?Sized>(store: &S, id: &str) -> Vec<super::AuditEntry> {
    let mut out = Vec::new();
    let mut query = AuditQuery::new(store_id(id));
    loop {
        let page = store.audit(&query).unwrap();
        out.extend(page.entries);
        match page.next {
            Some(next) => query = AuditQuery::new(store_id(id)).after(next),
            None => return out,
        }
    }
}

pub(crate) fn store_id(text: &str) -> StoreId {
    StoreId::new(text).unwrap()
}

/// Settings of `store` whose session timeout is `minutes`, so writes are told apart.
pub(crate) fn settings(store: &str, minutes: u64) -> SecuritySettings {
    let admin = UserId::new("user_admin").unwrap();
    let base = SecuritySettings::new(store_id(store), admin.clone(), at(0));
    let update = SettingsUpdate::from_json(&format!(
        r#"{{"session_policy":{{"timeout_minutes":{minutes}}}}}"#
    ))
    .unwrap();
    apply(&base, &update, &admin, at(0)).unwrap().settings
}

/// An audit record made at `t` whose one change has `path`.
pub(crate) fn record(t: DateTime<Utc>, path: &str) -> AuditRecord {
    AuditRecord {
        actor: UserId::new("user_admin").unwrap(),
        at: t,
        action: AuditAction::UpdateSettings,
        changes: vec![FieldChange {
            path: path.into(),
            old: json!(1),
            new: json!(2),
        }],
    }
}

/// `seconds` after 2026-03-10T10:00:00Z.
pub(crate) fn at(seconds: u64) -> DateTime<Utc> {
    let base = time::parse("2026-03-10T10:00:00Z").unwrap();
    base + chrono::TimeDelta::try_seconds(i64::try_from(seconds).unwrap()).unwrap()
}

/// A random sequence of creates, writes (with the current or a stale version) and audit queries
/// against the simple model the contract describes: a map of (settings, version) and a list of
/// audit records per store. A quarter of `PROPTEST_CASES` cases (at least 16): each case opens
/// a fresh store, which for SQLite means a new file and a dozen synced commits.
pub(crate) fn matches_the_model<S: Store, H: std::ops::Deref<Target = S>>(make: impl Fn() -> H) {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    #[derive(Clone, Debug)]
    enum Op {
        Create(u8, u64),
        Write {
            store: u8,
            stale_by: u8,
            minutes: u64,
        },
        Page {
            store: u8,
            since: u64,
            limit: u32,
        },
    }
    let op = prop_oneof![
        (0..3_u8, 1..500_u64).prop_map(|(s, m)| Op::Create(s, m)),
        (
            0..3_u8,
            prop_oneof![3 => Just(0_u8), 1 => 1..3_u8],
            1..500_u64
        )
            .prop_map(|(store, stale_by, minutes)| Op::Write {
                store,
                stale_by,
                minutes
            }),
        (0..3_u8, 0..40_u64, 1..5_u32).prop_map(|(store, since, limit)| Op::Page {
            store,
            since,
            limit
        }),
    ];
    let cases = (Config::default().cases / 4).max(16);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&proptest::collection::vec(op, 1..40), |ops| {
            let holder = make();
            let store: &S = &holder;
            let mut model: BTreeMap<u8, (u64, u64, Vec<u64>)> = BTreeMap::new();
            let name = |s: u8| format!("store_{s}");
            for (step, op) in ops.into_iter().enumerate() {
                let t = at(step as u64);
                match op {
                    Op::Create(s, minutes) => {
                        let got =
                            store.create_settings(&settings(&name(s), minutes), &record(t, "c"));
                        match model.get(&s) {
                            Some(_) => {
                                prop_assert!(
                                    matches!(got, Err(StoreError::AlreadyExists { .. })),
                                    "{:?}",
                                    got
                                )
                            }
                            None => {
                                prop_assert_eq!(got.unwrap().version, Version::FIRST);
                                model.insert(s, (1, minutes, vec![step as u64]));
                            }
                        }
                    }
                    Op::Write {
                        store: s,
                        stale_by,
                        minutes,
                    } => {
                        let version = model
                            .get(&s)
                            .map_or(1, |m| m.0)
                            .saturating_sub(u64::from(stale_by));
                        let got = store.write_settings(
                            Version::new(version),
                            &settings(&name(s), minutes),
                            &record(t, "w"),
                        );
                        match model.get_mut(&s) {
                            None => prop_assert!(
                                matches!(got, Err(StoreError::NotFound { .. })),
                                "{:?}",
                                got
                            ),
                            Some(_) if stale_by > 0 => {
                                prop_assert!(
                                    matches!(got, Err(StoreError::Conflict { .. })),
                                    "{:?}",
                                    got
                                );
                            }
                            Some(m) => {
                                prop_assert_eq!(got.unwrap().version.get(), m.0 + 1);
                                m.0 += 1;
                                m.1 = minutes;
                                m.2.push(step as u64);
                            }
                        }
                    }
                    Op::Page {
                        store: s,
                        since,
                        limit,
                    } => {
                        let query = AuditQuery::new(store_id(&name(s)))
                            .since(at(since))
                            .limit(PageLimit::new(i64::from(limit)).unwrap());
                        let page = store.audit(&query).unwrap();
                        let expected: Vec<u64> = model
                            .get(&s)
                            .map(|m| m.2.iter().copied().filter(|&x| x >= since).collect())
                            .unwrap_or_default();
                        let got: Vec<u64> = page
                            .entries
                            .iter()
                            .map(|e| (e.record.at - at(0)).num_seconds() as u64)
                            .collect();
                        let shown = expected.len().min(limit as usize);
                        prop_assert_eq!(&got[..], &expected[..shown]);
                        prop_assert_eq!(page.next.is_some(), expected.len() > shown);
                    }
                }
            }
            for (s, (version, minutes, log)) in &model {
                let read = store.settings(&store_id(&name(*s))).unwrap().unwrap();
                prop_assert_eq!(read.version.get(), *version);
                prop_assert_eq!(
                    u64::from(read.value.session_policy().timeout_minutes.get()),
                    *minutes
                );
                prop_assert_eq!(audit_all(store, &name(*s)).len(), log.len());
            }
            Ok(())
        })
        .unwrap();
}
