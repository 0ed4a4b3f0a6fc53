//! Members, compliance, the 2FA enforcer guard, TOTP, sessions, passwords and previews through
//! the service on every store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use whale_security::api_keys::Environment;
use whale_security::audit::AuditAction;
use whale_security::id::{StoreId, UserId};
use whale_security::password::HashParams;
use whale_security::service::{ChangeRequest, EntropyError, SecurityService, ServiceError, SignIn};
use whale_security::session::{EndReason, SessionId, SessionStatus};
use whale_security::settings::SettingsUpdate;
use whale_security::store::{AuditQuery, MemoryStore, Store, StoreError};
use whale_security::two_factor::totp::{TotpCheck, TotpKey, TotpParams, TotpRejection, TotpSecret};
use whale_security::two_factor::{Factor, Member, MemberStatus, Method};
use whale_security::{SecuritySettings, time};

fn now() -> DateTime<Utc> {
    time::parse("2026-03-10T10:00:00Z").unwrap()
}

fn minutes(n: i64) -> DateTime<Utc> {
    now() + TimeDelta::try_minutes(n).unwrap()
}

fn store_id() -> StoreId {
    StoreId::new("store_a1b2c3d4").unwrap()
}

fn admin_id() -> UserId {
    UserId::new("user_d4e5f6a7").unwrap()
}

fn admin() -> ChangeRequest {
    ChangeRequest::new(admin_id(), now())
}

fn user(name: &str) -> UserId {
    UserId::new(format!("user_{name}")).unwrap()
}

fn member(id: UserId, factors: &[Method]) -> Member {
    Member {
        email: format!("{}@example.com", id.as_str()),
        user_id: id,
        joined_at: time::parse("2026-01-01T00:00:00Z").unwrap(),
        factors: factors
            .iter()
            .map(|&method| Factor {
                method,
                verified: true,
                enrolled_at: time::parse("2026-01-02T00:00:00Z").unwrap(),
            })
            .collect(),
    }
}

fn update(json: &str) -> SettingsUpdate {
    SettingsUpdate::from_json(json).unwrap()
}

fn seeded(seed: u64) -> impl Fn(&mut [u8]) -> Result<(), EntropyError> + Send + Sync {
    let rng = Mutex::new(StdRng::seed_from_u64(seed));
    move |dest: &mut [u8]| {
        rng.lock().unwrap().fill_bytes(dest);
        Ok(())
    }
}

/// The spec settings (2FA required with TOTP or SMS; at most 3 sessions of 480 minutes;
/// passwords of 12+ with 5 remembered), cheap password hashing, a seeded random source.
fn service<S: Store>(store: S) -> SecurityService<S> {
    let service = SecurityService::new(store)
        .with_entropy(seeded(3))
        .with_password_hashing(HashParams::new(64, 1, 1).unwrap());
    let text = crate::read_fixture("../../data/spec-settings.json");
    service
        .create_settings(SecuritySettings::from_json(&text).unwrap(), &admin())
        .unwrap();
    service
}

fn on_every_store(case: impl Fn(SecurityService<Arc<dyn Store>>)) {
    case(service(Arc::new(MemoryStore::new()) as Arc<dyn Store>));
    #[cfg(feature = "sqlite")]
    {
        let dir = tempfile::tempdir().unwrap();
        let store = whale_security::store::SqliteStore::open(dir.path().join("s.db")).unwrap();
        case(service(Arc::new(store) as Arc<dyn Store>));
    }
}

#[test]
fn the_view_counts_stored_members_and_member_writes_are_audited() {
    on_every_store(|service| {
        let members = [
            member(admin_id(), &[Method::Totp]),
            member(user("bo"), &[]),
            member(user("cy"), &[Method::Sms]),
        ];
        let seq = service
            .put_members(&store_id(), &members, &admin())
            .unwrap();
        assert!(seq.is_some());
        // The same members again change nothing and write nothing.
        assert_eq!(
            service
                .put_members(&store_id(), &members, &admin())
                .unwrap(),
            None
        );
        let view = service.view(&store_id()).unwrap().value;
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["two_factor"]["compliant_members"], 2, "{json}");
        assert_eq!(json["two_factor"]["non_compliant_members"], 1, "{json}");
        let report = service.compliance_report(&store_id(), now()).unwrap();
        assert_eq!(report.report().tally().blocked, 1);
        assert_eq!(report.counts().compliant, 2);

        let err = service
            .put_members(
                &store_id(),
                &[member(user("x"), &[]), member(user("x"), &[])],
                &admin(),
            )
            .unwrap_err();
        assert!(matches!(err, ServiceError::DuplicateMember { .. }), "{err}");
        service
            .remove_member(&store_id(), &user("bo"), &admin())
            .unwrap();
        let counts = service
            .compliance_report(&store_id(), now())
            .unwrap()
            .counts();
        assert!(counts.non_compliant.is_empty());
        let actions: Vec<AuditAction> = service
            .audit(&AuditQuery::new(store_id()))
            .unwrap()
            .entries
            .iter()
            .map(|e| e.record.action)
            .collect();
        assert_eq!(
            actions,
            [
                AuditAction::CreateSettings,
                AuditAction::UpsertMembers,
                AuditAction::RemoveMember
            ]
        );
    });
}

#[test]
fn the_enforcer_guard_refuses_a_2fa_change_that_blocks_the_acting_member_unless_forced() {
    on_every_store(|service| {
        service
            .put_members(&store_id(), &[member(admin_id(), &[Method::Sms])], &admin())
            .unwrap();
        let totp_only = update(r#"{"two_factor": {"methods": ["totp"]}}"#);
        let version = service.settings(&store_id()).unwrap().version;
        let preview = service
            .preview(&store_id(), &totp_only, Some(&[]), &admin())
            .unwrap();
        assert!(preview.blocks_actor);
        let err = service
            .update(&store_id(), version, &totp_only, &admin())
            .unwrap_err();
        assert!(matches!(err, ServiceError::WouldBlockActor(_)), "{err}");
        assert!(err.to_string().contains("user_d4e5f6a7"), "{err}");
        assert_eq!(service.settings(&store_id()).unwrap().version, version);

        // A change that keeps SMS passes; so does a forced one.
        service
            .update(
                &store_id(),
                version,
                &update(r#"{"two_factor": {"methods": ["sms"]}}"#),
                &admin(),
            )
            .unwrap();
        let version = service.settings(&store_id()).unwrap().version;
        service
            .update(&store_id(), version, &totp_only, &admin().force())
            .unwrap();
        // An actor who is not a member is not subject to the store's 2FA.
        let outsider = ChangeRequest::new(user("platform"), now());
        let version = service.settings(&store_id()).unwrap().version;
        service
            .update(
                &store_id(),
                version,
                &update(r#"{"two_factor": {"methods": ["sms"]}}"#),
                &outsider,
            )
            .unwrap();
    });
}

#[test]
fn a_totp_code_is_accepted_once_even_when_requests_race() {
    on_every_store(|service| {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let key = TotpKey::new(&secret, TotpParams::default()).unwrap();
        let err = service
            .verify_totp(&store_id(), &user("al"), "000000", now())
            .unwrap_err();
        assert!(matches!(
            err.store_error(),
            Some(StoreError::TotpNotEnrolled { .. })
        ));
        service
            .set_totp(&store_id(), &user("al"), &secret, TotpParams::default())
            .unwrap();
        for round in 0..4_i64 {
            let t = minutes(round);
            let code = key.code_at_step(key.step_at(t).unwrap()).unwrap();
            let accepted = AtomicU64::new(0);
            let service = &service;
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    let (accepted, code) = (&accepted, &code);
                    scope.spawn(move || {
                        match service
                            .verify_totp(&store_id(), &user("al"), code, t)
                            .unwrap()
                        {
                            TotpCheck::Accept { .. } => {
                                accepted.fetch_add(1, Ordering::SeqCst);
                            }
                            TotpCheck::Reject(r) => {
                                assert!(matches!(r, TotpRejection::Replayed { .. }), "{r:?}");
                            }
                        }
                    });
                }
            });
            assert_eq!(accepted.load(Ordering::SeqCst), 1, "round {round}");
            // The three replays counted as failures; the next acceptance clears them.
        }
        // Five wrong codes lock the member out; then even the right code is refused.
        let t = minutes(10);
        for _ in 0..5 {
            let check = service
                .verify_totp(&store_id(), &user("al"), "000000", t)
                .unwrap();
            assert!(matches!(check, TotpCheck::Reject(_)));
        }
        let code = key.code_at_step(key.step_at(t).unwrap()).unwrap();
        let check = service
            .verify_totp(&store_id(), &user("al"), &code, t)
            .unwrap();
        assert!(
            matches!(check, TotpCheck::Reject(TotpRejection::LockedOut { .. })),
            "{check:?}"
        );
    });
}

#[test]
fn sign_in_follows_the_session_limit_and_racing_sign_ins_never_exceed_it() {
    on_every_store(|service| {
        let id = |s: &str| SessionId::new(s).unwrap();
        for (i, s) in ["s1", "s2", "s3"].into_iter().enumerate() {
            let got = service
                .sign_in(&store_id(), id(s), &user("al"), minutes(i as i64))
                .unwrap();
            assert!(matches!(got, SignIn::Admitted { ref ended, .. } if ended.is_empty()));
        }
        let got = service
            .sign_in(&store_id(), id("s4"), &user("al"), minutes(5))
            .unwrap();
        assert!(matches!(got, SignIn::Rejected { live: 3, .. }), "{got:?}");

        // Switch to ending the oldest: s1 goes.
        let version = service.settings(&store_id()).unwrap().version;
        service
            .update(
                &store_id(),
                version,
                &update(r#"{"session_policy": {"on_session_limit": "end_oldest"}}"#),
                &admin(),
            )
            .unwrap();
        let got = service
            .sign_in(&store_id(), id("s4"), &user("al"), minutes(6))
            .unwrap();
        assert!(
            matches!(got, SignIn::Admitted { ref ended, .. } if ended == &[id("s1")]),
            "{got:?}"
        );
        let err = service
            .session_status(&store_id(), &id("s1"), minutes(6))
            .unwrap_err();
        assert!(matches!(
            err.store_error(),
            Some(StoreError::SessionNotFound { .. })
        ));
        // Live until the 480-minute lifetime, expired at its exact instant.
        let status = service
            .session_status(&store_id(), &id("s2"), minutes(400))
            .unwrap();
        assert!(matches!(status, SessionStatus::Live { .. }));
        assert_eq!(status.ends_at(), Some(minutes(1 + 480)));
        let status = service
            .touch_session(&store_id(), &id("s2"), minutes(481))
            .unwrap();
        assert!(status.is_expired());

        // Racing sign-ins of another member under reject_new_login: never more than 3.
        let version = service.settings(&store_id()).unwrap().version;
        service
            .update(
                &store_id(),
                version,
                &update(r#"{"session_policy": {"on_session_limit": "reject_new_login"}}"#),
                &admin(),
            )
            .unwrap();
        let service = &service;
        std::thread::scope(|scope| {
            for t in 0..4 {
                scope.spawn(move || {
                    for n in 0..3 {
                        let sid = id(&format!("b{t}_{n}"));
                        match service.sign_in(&store_id(), sid, &user("bo"), minutes(10)) {
                            Ok(_) | Err(ServiceError::Contended { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
            }
        });
        let held = service
            .store()
            .sessions_of(&store_id(), &user("bo"))
            .unwrap();
        assert_eq!(held.len(), 3);
    });
}

#[test]
fn change_password_refuses_reuse_of_remembered_passwords() {
    on_every_store(|service| {
        let first = "Harbor-Lantern-42x";
        let second = "Quiet-Meadow-Otter-77";
        for password in [first, second] {
            let d = service
                .change_password(
                    &store_id(),
                    &user("al"),
                    password,
                    &["al@example.com"],
                    now(),
                )
                .unwrap();
            assert!(d.permits(), "{:?}", d.violations());
        }
        let again = service
            .change_password(&store_id(), &user("al"), first, &[], now())
            .unwrap();
        assert!(!again.permits());
        assert!(format!("{:?}", again.violations()).contains("Reused"));
        let weak = service
            .change_password(&store_id(), &user("al"), "short", &[], now())
            .unwrap();
        assert!(!weak.permits());
        let history = service
            .store()
            .password_history(&store_id(), &user("al"), 10)
            .unwrap();
        assert_eq!(history.len(), 2);
        assert!(history[0].starts_with("$argon2id$"));
    });
}

#[test]
fn preview_lists_members_sessions_and_keys_the_update_would_affect() {
    on_every_store(|service| {
        service
            .put_members(
                &store_id(),
                &[
                    member(admin_id(), &[Method::Totp]),
                    member(user("cy"), &[Method::Sms]),
                ],
                &admin(),
            )
            .unwrap();
        let id = |s: &str| SessionId::new(s).unwrap();
        let _ = service
            .sign_in(&store_id(), id("old"), &user("cy"), minutes(-300))
            .unwrap();
        let _ = service
            .sign_in(&store_id(), id("new"), &user("cy"), minutes(-10))
            .unwrap();
        service
            .issue_key(
                &store_id(),
                Environment::Live,
                &ChangeRequest::new(admin_id(), minutes(-60)),
            )
            .unwrap();
        let proposed = update(
            r#"{"two_factor": {"methods": ["totp"]},
                "session_policy": {"timeout_minutes": 60},
                "api_key_rotation": {"interval_days": 30}}"#,
        );
        let preview = service
            .preview(&store_id(), &proposed, Some(&[]), &admin())
            .unwrap();
        assert!(!preview.blocks_actor);
        assert_eq!(preview.members_affected.len(), 1);
        assert_eq!(preview.members_affected[0].user_id, user("cy"));
        assert!(matches!(
            preview.members_affected[0].after,
            MemberStatus::Blocked { .. }
        ));
        assert_eq!(preview.sessions_ending.len(), 1);
        assert_eq!(preview.sessions_ending[0].session_id, id("old"));
        assert!(matches!(
            preview.sessions_ending[0].reason,
            EndReason::Expired(_)
        ));
        let due = preview
            .keys_becoming_due
            .expect("a 30-day interval from 2026-01-01 is due");
        assert_eq!(due.keys.len(), 1);
        assert_eq!(due.due_at, time::parse("2026-01-31T00:00:00Z").unwrap());
        // Nothing was written.
        assert_eq!(service.settings(&store_id()).unwrap().version.get(), 1);
    });
}
