//! API keys through the service on every store: issue, verify, revoke, rotate now (graceful
//! and compromised), scheduled rotation, races, and what the audit log may not contain.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use whale_security::api_keys::{ApiKeyError, Environment, RotateKeysRequest, Verified};
use whale_security::audit::AuditAction;
use whale_security::id::{StoreId, UserId};
use whale_security::service::{
    ChangeRequest, EntropyError, Scheduled, SecurityService, ServiceError,
};
use whale_security::store::{AuditQuery, MemoryStore, Store, StoreError, Version};
use whale_security::{SecuritySettings, time};

fn now() -> DateTime<Utc> {
    time::parse("2026-03-10T10:00:00Z").unwrap()
}

fn later(hours: i64) -> DateTime<Utc> {
    now() + TimeDelta::try_hours(hours).unwrap()
}

fn store_id() -> StoreId {
    StoreId::new("store_a1b2c3d4").unwrap()
}

fn admin_at(t: DateTime<Utc>) -> ChangeRequest {
    ChangeRequest::new(UserId::new("user_d4e5f6a7").unwrap(), t)
}

/// A deterministic entropy source (tests only).
fn seeded(seed: u64) -> impl Fn(&mut [u8]) -> Result<(), EntropyError> + Send + Sync {
    let rng = Mutex::new(StdRng::seed_from_u64(seed));
    move |dest: &mut [u8]| {
        rng.lock().unwrap().fill_bytes(dest);
        Ok(())
    }
}

/// A service over the spec settings (rotation every 90 days, 48 hours of grace, last rotation
/// 2026-01-01), with a seeded entropy source.
fn service<S: Store>(store: S) -> SecurityService<S> {
    let service = SecurityService::new(store).with_entropy(seeded(1));
    let text = crate::read_fixture("../../data/spec-settings.json");
    service
        .create_settings(
            SecuritySettings::from_json(&text).unwrap(),
            &admin_at(now()),
        )
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

fn audit_text(service: &SecurityService<impl Store>) -> String {
    serde_json::to_string(&service.audit(&AuditQuery::new(store_id())).unwrap().entries).unwrap()
}

#[test]
fn an_issued_key_verifies_and_a_graceful_rotation_keeps_it_until_the_grace_ends() {
    on_every_store(|service| {
        let first = service
            .issue_key(&store_id(), Environment::Live, &admin_at(now()))
            .unwrap();
        let second = service
            .issue_key(&store_id(), Environment::Test, &admin_at(now()))
            .unwrap();
        let verified = service.verify_key(first.expose_secret(), now()).unwrap();
        assert!(matches!(verified.verified(), Verified::Valid { .. }));
        assert_eq!(verified.store_id(), &store_id());

        let rotated = service
            .rotate_keys(
                &store_id(),
                &RotateKeysRequest::default(),
                &admin_at(later(1)),
            )
            .unwrap();
        let response = rotated.response();
        assert_eq!(response.rotated_keys(), 2);
        assert_eq!(response.rotated_at(), later(1));
        assert_eq!(response.old_key_expires_at(), later(49));
        assert_eq!(rotated.committed.version, Version::new(2));

        // The old keys work until the grace ends, and not at its last instant.
        for old in [&first, &second] {
            let v = service.verify_key(old.expose_secret(), later(48)).unwrap();
            assert_eq!(v.expires_at(), Some(later(49)));
            assert!(matches!(v.verified(), Verified::InGrace { .. }));
            let err = service
                .verify_key(old.expose_secret(), later(49))
                .unwrap_err();
            assert!(
                matches!(err, ServiceError::Key(ApiKeyError::Expired { .. })),
                "{err:?}"
            );
        }
        // The successors keep each environment and work after the grace.
        for (old_id, new) in rotated.rotation.new_keys() {
            let v = service.verify_key(new.expose_secret(), later(100)).unwrap();
            assert!(matches!(v.verified(), Verified::Valid { .. }));
            assert_eq!(v.key().predecessor(), Some(old_id));
        }
        let policy = service.rotation_policy(&store_id()).unwrap();
        assert_eq!(policy.value.last_rotation, Some(later(1)));
        assert_eq!(
            policy.value.next_rotation,
            Some(later(1) + TimeDelta::try_days(90).unwrap())
        );
        assert_eq!(policy.version, Version::new(2));

        // The audit names the actions and key ids, never key text, digests or prefixes.
        let log = service.audit(&AuditQuery::new(store_id())).unwrap().entries;
        let actions: Vec<AuditAction> = log.iter().map(|e| e.record.action).collect();
        assert_eq!(
            actions,
            [
                AuditAction::CreateSettings,
                AuditAction::IssueKey,
                AuditAction::IssueKey,
                AuditAction::RotateKeys
            ]
        );
        let text = audit_text(&service);
        assert!(text.contains(first.id().as_str()));
        for (_, new) in rotated.rotation.new_keys() {
            for secret in [first.expose_secret(), new.expose_secret()] {
                assert!(!text.contains(&secret[8..20]), "key body in audit");
            }
            assert!(!text.contains(&new.display_prefix()), "prefix in audit");
            let hex: String = new.digest().to_bytes()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(!text.contains(&hex), "digest in audit");
        }
    });
}

#[test]
fn a_compromised_rotation_revokes_at_once_and_a_second_rotation_ends_the_first_grace() {
    on_every_store(|service| {
        let first = service
            .issue_key(&store_id(), Environment::Live, &admin_at(now()))
            .unwrap();
        let graceful = service
            .rotate_keys(
                &store_id(),
                &RotateKeysRequest::default(),
                &admin_at(later(1)),
            )
            .unwrap();
        let (_, gen2) = &graceful.rotation.new_keys()[0];
        let compromised = RotateKeysRequest {
            grace_period_hours: None,
            compromised: true,
        };
        let rotated = service
            .rotate_keys(&store_id(), &compromised, &admin_at(later(2)))
            .unwrap();
        assert_eq!(rotated.response().old_key_expires_at(), later(2));
        // Generation 1 was in grace: the new rotation ends it at once (revoked: compromised).
        let err = service
            .verify_key(first.expose_secret(), later(2))
            .unwrap_err();
        assert!(
            matches!(err, ServiceError::Key(ApiKeyError::Revoked { .. })),
            "{err:?}"
        );
        let err = service
            .verify_key(gen2.expose_secret(), later(2))
            .unwrap_err();
        assert!(
            matches!(err, ServiceError::Key(ApiKeyError::Revoked { .. })),
            "{err:?}"
        );
        let (_, gen3) = &rotated.rotation.new_keys()[0];
        assert!(service.verify_key(gen3.expose_secret(), later(2)).is_ok());
        let valid = service
            .keys(&store_id())
            .unwrap()
            .iter()
            .filter(|k| k.status_at(later(2)).is_valid())
            .count();
        assert_eq!(valid, 1);
    });
}

#[test]
fn a_rotation_with_nothing_to_rotate_or_a_bad_request_writes_nothing() {
    on_every_store(|service| {
        let err = service
            .rotate_keys(&store_id(), &RotateKeysRequest::default(), &admin_at(now()))
            .unwrap_err();
        assert!(
            matches!(err, ServiceError::Key(ApiKeyError::NothingToRotate { .. })),
            "{err:?}"
        );
        service
            .issue_key(&store_id(), Environment::Live, &admin_at(now()))
            .unwrap();
        let bad: RotateKeysRequest =
            serde_json::from_str(r#"{"grace_period_hours": 5, "compromised": true}"#).unwrap();
        let err = service
            .rotate_keys(&store_id(), &bad, &admin_at(now()))
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Key(ApiKeyError::GraceForCompromisedKey { grace_hours: 5 })
            ),
            "{err:?}"
        );
        assert_eq!(
            service.settings(&store_id()).unwrap().version,
            Version::FIRST
        );
        assert_eq!(service.keys(&store_id()).unwrap().len(), 1);
        let other = StoreId::new("store_none").unwrap();
        let err = service
            .issue_key(&other, Environment::Live, &admin_at(now()))
            .unwrap_err();
        assert!(matches!(
            err.store_error(),
            Some(StoreError::NotFound { .. })
        ));
    });
}

#[test]
fn a_failing_random_source_fails_the_operation_and_writes_nothing() {
    let service = service(MemoryStore::new());
    service
        .issue_key(&store_id(), Environment::Live, &admin_at(now()))
        .unwrap();
    let service = SecurityService::new(Arc::new(MemoryStore::new()))
        .with_entropy(|_: &mut [u8]| Err(EntropyError::new("no entropy")));
    let text = crate::read_fixture("../../data/spec-settings.json");
    service
        .create_settings(
            SecuritySettings::from_json(&text).unwrap(),
            &admin_at(now()),
        )
        .unwrap();
    let err = service
        .issue_key(&store_id(), Environment::Live, &admin_at(now()))
        .unwrap_err();
    assert!(matches!(err, ServiceError::Entropy(_)), "{err:?}");
    assert!(service.keys(&store_id()).unwrap().is_empty());
}

#[test]
fn malformed_and_unknown_keys_are_refused_without_echoing_the_text() {
    on_every_store(|service| {
        let key = service
            .issue_key(&store_id(), Environment::Live, &admin_at(now()))
            .unwrap();
        let mut wrong = key.expose_secret().to_owned();
        wrong.replace_range(20..21, if &wrong[20..21] == "a" { "b" } else { "a" });
        let cases = [
            ("", "an api key must start"),
            ("Bearer xyz", "an api key must start"),
            (&wrong[..50], "characters"),
            (&wrong, "not recognised"),
        ];
        for (text, message) in cases {
            let err = service.verify_key(text, now()).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains(message), "{shown}");
            if text.len() > 20 {
                assert!(!shown.contains(&text[8..20]), "{shown}");
            }
        }
    });
}

#[test]
fn revoking_a_key_refuses_it_from_that_instant() {
    on_every_store(|service| {
        let key = service
            .issue_key(&store_id(), Environment::Live, &admin_at(now()))
            .unwrap();
        service
            .revoke_key(&store_id(), key.id(), &admin_at(later(1)))
            .unwrap();
        assert!(service.verify_key(key.expose_secret(), now()).is_ok());
        let err = service
            .verify_key(key.expose_secret(), later(1))
            .unwrap_err();
        assert!(matches!(
            err,
            ServiceError::Key(ApiKeyError::Revoked { .. })
        ));
        let other = StoreId::new("store_other").unwrap();
        let err = service
            .revoke_key(&other, key.id(), &admin_at(later(1)))
            .unwrap_err();
        assert!(matches!(
            err.store_error(),
            Some(StoreError::KeyNotFound { .. })
        ));
    });
}

#[test]
fn scheduled_rotation_runs_once_when_due_and_is_idempotent() {
    on_every_store(|service| {
        service
            .issue_key(&store_id(), Environment::Live, &admin_at(now()))
            .unwrap();
        // Due on 2026-04-01 (last rotation 2026-01-01 + 90 days).
        let runs = service.run_scheduled_rotations(&admin_at(now())).unwrap();
        assert_eq!(runs.len(), 1);
        assert!(
            matches!(runs[0].outcome, Ok(Scheduled::Wait { next_rotation, .. }) if next_rotation == time::parse("2026-04-01T00:00:00Z").unwrap()),
            "{:?}",
            runs[0].outcome
        );
        let due = time::parse("2026-04-01T00:00:00Z").unwrap();
        let runs = service.run_scheduled_rotations(&admin_at(due)).unwrap();
        let Ok(Scheduled::Rotated(rotated)) = &runs[0].outcome else {
            panic!("{:?}", runs[0].outcome);
        };
        assert_eq!(rotated.response().rotated_keys(), 1);
        // Again at the same instant, and an hour later: nothing more.
        for t in [due, due + TimeDelta::try_hours(1).unwrap()] {
            let runs = service.run_scheduled_rotations(&admin_at(t)).unwrap();
            assert!(
                matches!(runs[0].outcome, Ok(Scheduled::Wait { .. })),
                "{:?}",
                runs[0].outcome
            );
        }
        assert_eq!(service.keys(&store_id()).unwrap().len(), 2);
        let rotations = service
            .audit(&AuditQuery::new(store_id()))
            .unwrap()
            .entries
            .iter()
            .filter(|e| e.record.action == AuditAction::RotateKeys)
            .count();
        assert_eq!(rotations, 1);
    });
}

#[test]
fn racing_rotations_never_leave_more_than_two_generations_valid() {
    on_every_store(|service| {
        service
            .issue_key(&store_id(), Environment::Live, &admin_at(now()))
            .unwrap();
        let service = &service;
        let done = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|scope| {
            for thread in 0..4_i64 {
                let done = &done;
                scope.spawn(move || {
                    for i in 0..5_i64 {
                        let t = later(1 + thread * 10 + i);
                        match service.rotate_keys(
                            &store_id(),
                            &RotateKeysRequest::default(),
                            &admin_at(t),
                        ) {
                            Ok(_) => {
                                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(ServiceError::Store(
                                StoreError::Conflict { .. } | StoreError::KeyChanged { .. },
                            )) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
            }
        });
        let done = done.load(std::sync::atomic::Ordering::SeqCst);
        assert!(done > 0);
        let keys = service.keys(&store_id()).unwrap();
        assert_eq!(keys.len() as u64, 1 + done);
        let active = keys.iter().filter(|k| k.expires_at().is_none()).count();
        assert_eq!(active, 1, "exactly one lineage head");
        let rotations = service
            .audit(&AuditQuery::new(store_id()))
            .unwrap()
            .entries
            .iter()
            .filter(|e| e.record.action == AuditAction::RotateKeys)
            .count() as u64;
        assert_eq!(rotations, done);
        assert_eq!(
            service.settings(&store_id()).unwrap().version.get(),
            1 + done
        );
    });
}
