//! Contract cases of the member, TOTP, session and password-history stores.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{at, audit_all, record, store_id};
use crate::id::UserId;
use crate::session::{Session, SessionId};
use crate::store::{StateSwap, Store, StoreError};
use crate::two_factor::totp::{TotpParams, TotpSecret, TotpState};
use crate::two_factor::{Factor, Member, Method};

pub(crate) fn user(name: &str) -> UserId {
    UserId::new(format!("user_{name}")).unwrap()
}

pub(crate) fn member(name: &str, factors: &[(Method, bool)]) -> Member {
    Member {
        user_id: user(name),
        email: format!("{name}@example.com"),
        joined_at: at(0),
        factors: factors
            .iter()
            .map(|&(method, verified)| Factor {
                method,
                verified,
                enrolled_at: at(1),
            })
            .collect(),
    }
}

fn session(id: &str, name: &str, t: u64) -> Session {
    Session::signed_in(SessionId::new(id).unwrap(), user(name), at(t))
}

pub(crate) fn members_are_upserted_listed_by_id_and_removed_with_their_state<S: Store>(store: &S) {
    let a = store_id("store_a");
    let (bo, al) = (member("bo", &[]), member("al", &[(Method::Totp, true)]));
    store
        .put_members(&a, &[bo.clone(), al.clone()], &record(at(0), "m"))
        .unwrap();
    store
        .put_members(
            &store_id("store_b"),
            std::slice::from_ref(&bo),
            &record(at(0), "m"),
        )
        .unwrap();
    assert_eq!(store.members(&a).unwrap(), [al.clone(), bo.clone()]);
    let bo2 = member("bo", &[(Method::Sms, false)]);
    store
        .put_members(&a, std::slice::from_ref(&bo2), &record(at(1), "m"))
        .unwrap();
    assert_eq!(store.member(&a, &user("bo")).unwrap(), Some(bo2));
    assert_eq!(store.member(&a, &user("zed")).unwrap(), None);

    let secret = TotpSecret::from_bytes(&[7; 20]).unwrap();
    store
        .put_totp(&a, &user("bo"), &secret, TotpParams::default())
        .unwrap();
    store
        .start_session(&a, &session("s1", "bo", 0), &[], &[])
        .unwrap();
    store
        .push_password(&a, &user("bo"), "$argon2id$x", at(0), 3)
        .unwrap();
    store
        .remove_member(&a, &user("bo"), &record(at(2), "r"))
        .unwrap();
    assert_eq!(store.members(&a).unwrap(), [al]);
    assert!(store.totp(&a, &user("bo")).unwrap().is_none());
    assert!(store.sessions(&a).unwrap().is_empty());
    assert!(
        store
            .password_history(&a, &user("bo"), 5)
            .unwrap()
            .is_empty()
    );
    let err = store
        .remove_member(&a, &user("bo"), &record(at(3), "r"))
        .unwrap_err();
    assert!(matches!(err, StoreError::MemberNotFound { .. }), "{err:?}");
    assert_eq!(store.members(&store_id("store_b")).unwrap(), [bo]);
    assert_eq!(audit_all(store, "store_a").len(), 3);
}

pub(crate) fn totp_state_swaps_only_from_the_expected_state<S: Store>(store: &S) {
    let a = store_id("store_a");
    let secret = TotpSecret::from_bytes(&[7; 20]).unwrap();
    let fresh = TotpState::default();
    let next = TotpState {
        last_step: Some(100),
        failures: 0,
        locked_until: None,
    };
    let err = store
        .swap_totp_state(&a, &user("al"), &fresh, &next)
        .unwrap_err();
    assert!(matches!(err, StoreError::TotpNotEnrolled { .. }), "{err:?}");
    store
        .put_totp(&a, &user("al"), &secret, TotpParams::default())
        .unwrap();
    assert_eq!(
        store
            .swap_totp_state(&a, &user("al"), &fresh, &next)
            .unwrap(),
        StateSwap::Swapped
    );
    assert_eq!(
        store
            .swap_totp_state(&a, &user("al"), &fresh, &next)
            .unwrap(),
        StateSwap::Stale { current: next }
    );
    let locked = TotpState {
        last_step: Some(100),
        failures: 5,
        locked_until: Some(at(900)),
    };
    assert_eq!(
        store
            .swap_totp_state(&a, &user("al"), &next, &locked)
            .unwrap(),
        StateSwap::Swapped
    );
    let read = store.totp(&a, &user("al")).unwrap().unwrap();
    assert_eq!(read.state, locked);
    assert_eq!(read.secret, secret);
    assert_eq!(read.params, TotpParams::default());
    assert!(!format!("{read:?}").contains("070707"));
    // Enrolling again starts from a fresh state.
    store
        .put_totp(&a, &user("al"), &secret, TotpParams::default())
        .unwrap();
    assert_eq!(
        store.totp(&a, &user("al")).unwrap().unwrap().state,
        TotpState::default()
    );
}

/// Threads race to advance the same state to the same step: exactly one swap per round wins.
pub(crate) fn racing_totp_swaps_let_exactly_one_win<S: Store>(store: &S) {
    let a = store_id("store_a");
    let secret = TotpSecret::from_bytes(&[7; 20]).unwrap();
    store
        .put_totp(&a, &user("al"), &secret, TotpParams::default())
        .unwrap();
    const ROUNDS: u64 = 20;
    let wins = AtomicU64::new(0);
    for round in 0..ROUNDS {
        let expected = store.totp(&a, &user("al")).unwrap().unwrap().state;
        let new = TotpState {
            last_step: Some(1000 + round),
            ..expected
        };
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let wins = &wins;
                let a = &a;
                scope.spawn(move || {
                    match store
                        .swap_totp_state(a, &user("al"), &expected, &new)
                        .unwrap()
                    {
                        StateSwap::Swapped => {
                            wins.fetch_add(1, Ordering::SeqCst);
                        }
                        StateSwap::Stale { current } => assert_eq!(current, new),
                    }
                });
            }
        });
    }
    assert_eq!(wins.load(Ordering::SeqCst), ROUNDS);
}

pub(crate) fn a_session_starts_only_on_the_sessions_it_was_decided_on<S: Store>(store: &S) {
    let a = store_id("store_a");
    let id = |s: &str| SessionId::new(s).unwrap();
    store
        .start_session(&a, &session("s1", "al", 0), &[], &[])
        .unwrap();
    store
        .start_session(&a, &session("s2", "al", 10), &[id("s1")], &[])
        .unwrap();
    store
        .start_session(&a, &session("t1", "bo", 5), &[], &[])
        .unwrap();
    // Decided on {s1} but the member holds {s1, s2}: refused.
    let err = store
        .start_session(&a, &session("s3", "al", 20), &[id("s1")], &[])
        .unwrap_err();
    assert!(matches!(err, StoreError::SessionsChanged { .. }), "{err:?}");
    // An existing id: refused.
    let err = store
        .start_session(&a, &session("s2", "al", 20), &[id("s1"), id("s2")], &[])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateSession { .. }),
        "{err:?}"
    );
    // Ending the oldest while starting a new one.
    store
        .start_session(
            &a,
            &session("s3", "al", 20),
            &[id("s2"), id("s1")],
            &[id("s1")],
        )
        .unwrap();
    let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(store.sessions_of(&a, &user("al")).unwrap()),
        ["s2", "s3"]
    );
    assert_eq!(ids(store.sessions(&a).unwrap()), ["s2", "s3", "t1"]);

    let touched = store.touch_session(&a, &id("s2"), at(30)).unwrap();
    assert_eq!(touched.last_activity_at, at(30));
    let kept = store.touch_session(&a, &id("s2"), at(25)).unwrap();
    assert_eq!(kept.last_activity_at, at(30));
    assert_eq!(store.session(&a, &id("s2")).unwrap(), Some(kept));
    let err = store.touch_session(&a, &id("s1"), at(30)).unwrap_err();
    assert!(matches!(err, StoreError::SessionNotFound { .. }), "{err:?}");

    assert_eq!(store.end_sessions(&a, &[id("s2"), id("s1")]).unwrap(), 1);
    assert_eq!(ids(store.sessions(&a).unwrap()), ["s3", "t1"]);
    assert!(store.sessions(&store_id("store_b")).unwrap().is_empty());
}

pub(crate) fn password_history_keeps_the_newest_n_newest_first<S: Store>(store: &S) {
    let a = store_id("store_a");
    for (i, phc) in ["h1", "h2", "h3", "h4"].into_iter().enumerate() {
        store
            .push_password(&a, &user("al"), phc, at(i as u64), 3)
            .unwrap();
    }
    let read = |limit| -> Vec<String> {
        store
            .password_history(&a, &user("al"), limit)
            .unwrap()
            .iter()
            .map(|h| h.to_string())
            .collect()
    };
    assert_eq!(read(10), ["h4", "h3", "h2"]);
    assert_eq!(read(1), ["h4"]);
    assert!(read(0).is_empty());
    // `keep` of 0 still keeps the current password's hash.
    store
        .push_password(&a, &user("al"), "h5", at(9), 0)
        .unwrap();
    assert_eq!(read(10), ["h5"]);
    assert!(
        store
            .password_history(&a, &user("bo"), 5)
            .unwrap()
            .is_empty()
    );
}
