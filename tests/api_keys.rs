//! API keys through every phase of a rotation, by the clock; a property test of rotation
//! sequences against a simple model; and checks that no key text leaks.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use whale_security::api_keys::{
    ApiKey, ApiKeyError, ApiKeyRotationPolicy, Environment, IntervalDays, KeyRing, KeySeed,
    KeyStatus, PresentedKey, RotationGraceHours, RotationMode, ScheduledRotation, Verified,
    plan_rotation, plan_scheduled_rotation,
};
use whale_security::id::{StoreId, UserId};
use whale_security::settings::record_rotation;
use whale_security::{SecuritySettings, time};

/// A deterministic seed source: SHA-256 of a label and a counter.
pub fn seeds(label: u64) -> impl FnMut() -> KeySeed {
    let mut n = 0u64;
    move || {
        n += 1;
        let mut h = Sha256::new();
        h.update(label.to_be_bytes());
        h.update(n.to_be_bytes());
        KeySeed::from_bytes(h.finalize().into())
    }
}

fn t(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

fn store(n: u32) -> StoreId {
    StoreId::new(format!("store_{n}")).unwrap()
}

fn graceful(hours: i64) -> RotationMode {
    RotationMode::Graceful {
        grace: RotationGraceHours::new(hours).unwrap(),
    }
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::try_milliseconds(n).unwrap()
}

#[test]
fn a_key_verifies_through_every_phase_of_a_rotation() {
    let s = store(1);
    let mut next = seeds(1);
    let mut ring = KeyRing::new();
    let issued = t("2026-01-01T00:00:00Z");
    let rotated_at = t("2026-03-10T10:00:00Z");
    let expiry = t("2026-03-11T10:00:00Z");
    let old = ring
        .issue(s.clone(), Environment::Live, next(), issued)
        .unwrap();

    let before = ring
        .verify(old.expose_secret(), rotated_at - ms(1))
        .unwrap();
    assert!(matches!(before, Verified::Valid { .. }));

    let rotation = ring.rotate_now(&s, graceful(24), rotated_at, next).unwrap();
    let response = rotation.response();
    assert_eq!(response.rotated_keys(), 1);
    assert_eq!(response.old_key_expires_at(), expiry);
    let (replaced, new) = &rotation.new_keys()[0];
    assert_eq!(replaced, old.id());
    assert_eq!(response.new_key_prefix(), new.display_prefix());

    // At the rotation instant: the old key is in grace, the new one valid.
    let at = ring.verify(old.expose_secret(), rotated_at).unwrap();
    assert_eq!(at.expires_at(), Some(expiry));
    assert!(matches!(
        ring.verify(new.expose_secret(), rotated_at).unwrap(),
        Verified::Valid { .. }
    ));
    // Last millisecond of grace, then expired AT the deadline.
    assert!(matches!(
        ring.verify(old.expose_secret(), expiry - ms(1)).unwrap(),
        Verified::InGrace { .. }
    ));
    assert_eq!(
        ring.verify(old.expose_secret(), expiry).unwrap_err(),
        ApiKeyError::Expired {
            key_id: old.id().clone(),
            expired_at: expiry,
            now: expiry
        }
    );
    assert!(matches!(
        ring.verify(new.expose_secret(), expiry).unwrap(),
        Verified::Valid { .. }
    ));
}

#[test]
fn zero_grace_retires_the_old_key_at_the_rotation_instant() {
    let s = store(1);
    let mut next = seeds(2);
    let mut ring = KeyRing::new();
    let now = t("2026-03-10T10:00:00Z");
    let old = ring
        .issue(s.clone(), Environment::Live, next(), now - ms(5))
        .unwrap();
    ring.rotate_now(&s, graceful(0), now, next).unwrap();
    assert!(ring.verify(old.expose_secret(), now - ms(1)).is_ok());
    assert!(matches!(
        ring.verify(old.expose_secret(), now),
        Err(ApiKeyError::Expired { .. })
    ));
}

#[test]
fn compromised_rotation_revokes_every_valid_key_of_the_store_at_once() {
    let s = store(1);
    let other = store(2);
    let mut next = seeds(3);
    let mut ring = KeyRing::new();
    let t0 = t("2026-03-01T00:00:00Z");
    let a = ring
        .issue(s.clone(), Environment::Live, next(), t0)
        .unwrap();
    let untouched = ring
        .issue(other.clone(), Environment::Live, next(), t0)
        .unwrap();
    let t1 = t("2026-03-02T00:00:00Z");
    let first = ring.rotate_now(&s, graceful(48), t1, &mut next).unwrap();
    let b = &first.new_keys()[0].1;
    let t2 = t("2026-03-02T01:00:00Z");
    let second = ring
        .rotate_now(&s, RotationMode::Compromised, t2, &mut next)
        .unwrap();
    assert_eq!(second.response().old_key_expires_at(), t2);
    for key in [&a, b] {
        assert_eq!(
            ring.verify(key.expose_secret(), t2).unwrap_err(),
            ApiKeyError::Revoked {
                key_id: key.id().clone(),
                revoked_at: t2
            }
        );
        assert!(ring.verify(key.expose_secret(), t2 - ms(1)).is_ok());
    }
    let c = &second.new_keys()[0].1;
    assert!(matches!(
        ring.verify(c.expose_secret(), t2),
        Ok(Verified::Valid { .. })
    ));
    assert!(ring.verify(untouched.expose_secret(), t2).is_ok());
}

/// A second rotation during the grace of the first: the first generation's grace ends at the
/// second rotation (at most two generations valid); the second generation gets a full grace.
#[test]
fn a_second_rotation_during_grace_ends_the_oldest_generation_at_once() {
    let s = store(1);
    let mut next = seeds(4);
    let mut ring = KeyRing::new();
    let g1 = ring
        .issue(
            s.clone(),
            Environment::Live,
            next(),
            t("2026-03-01T00:00:00Z"),
        )
        .unwrap();
    let r1 = t("2026-03-10T10:00:00Z");
    let first = ring.rotate_now(&s, graceful(24), r1, &mut next).unwrap();
    let g2 = &first.new_keys()[0].1;
    let r2 = t("2026-03-10T16:00:00Z");
    let second = ring.rotate_now(&s, graceful(24), r2, &mut next).unwrap();
    let g3 = &second.new_keys()[0].1;
    assert_eq!(
        second.response().rotated_keys(),
        1,
        "only the current key rotates"
    );

    assert!(ring.verify(g1.expose_secret(), r2 - ms(1)).is_ok());
    assert_eq!(
        ring.verify(g1.expose_secret(), r2).unwrap_err(),
        ApiKeyError::Expired {
            key_id: g1.id().clone(),
            expired_at: r2,
            now: r2
        }
    );
    let g2_until = t("2026-03-11T16:00:00Z");
    assert_eq!(
        ring.verify(g2.expose_secret(), r2).unwrap().expires_at(),
        Some(g2_until)
    );
    assert!(matches!(
        ring.verify(g3.expose_secret(), r2),
        Ok(Verified::Valid { .. })
    ));
}

#[test]
fn every_active_key_of_the_store_gets_a_successor_and_others_are_left_alone() {
    let s = store(1);
    let mut next = seeds(5);
    let mut ring = KeyRing::new();
    let t0 = t("2026-03-01T00:00:00Z");
    let live = ring
        .issue(s.clone(), Environment::Live, next(), t0)
        .unwrap();
    let test = ring
        .issue(s.clone(), Environment::Test, next(), t0)
        .unwrap();
    let revoked = ring
        .issue(s.clone(), Environment::Live, next(), t0)
        .unwrap();
    ring.revoke(revoked.id(), t0).unwrap();
    ring.issue(store(2), Environment::Live, next(), t0).unwrap();

    let now = t("2026-03-10T10:00:00Z");
    let rotation = ring.rotate_now(&s, graceful(24), now, next).unwrap();
    assert_eq!(rotation.response().rotated_keys(), 2);
    let pairs: Vec<(&str, Environment)> = rotation
        .new_keys()
        .iter()
        .map(|(old, new)| (old.as_str(), new.environment()))
        .collect();
    assert_eq!(
        pairs,
        [
            (live.id().as_str(), Environment::Live),
            (test.id().as_str(), Environment::Test)
        ]
    );
    for (old, new) in rotation.new_keys() {
        assert_eq!(ring.get(new.id()).unwrap().predecessor(), Some(old));
        assert!(new.expose_secret().starts_with(new.environment().prefix()));
    }
    assert_eq!(ring.keys_of(&store(2)).count(), 1);
}

#[test]
fn rotating_a_store_without_active_keys_is_an_error_and_changes_nothing() {
    let s = store(1);
    let mut ring = KeyRing::new();
    let now = t("2026-03-10T10:00:00Z");
    assert_eq!(
        ring.rotate_now(&s, graceful(24), now, seeds(6))
            .unwrap_err(),
        ApiKeyError::NothingToRotate {
            store_id: s.clone()
        }
    );
    assert!(ring.is_empty());
}

#[test]
fn applying_the_same_plan_twice_rotates_once() {
    let s = store(1);
    let mut next = seeds(7);
    let mut ring = KeyRing::new();
    let now = t("2026-03-10T10:00:00Z");
    ring.issue(s.clone(), Environment::Live, next(), now - ms(1000))
        .unwrap();
    let plan = plan_rotation(&s, ring.keys_of(&s), graceful(24), now).unwrap();
    ring.apply_rotation(&plan, &mut next).unwrap();
    let len = ring.len();
    assert!(matches!(
        ring.apply_rotation(&plan, &mut next),
        Err(ApiKeyError::NothingToRotate { .. })
    ));
    assert_eq!(ring.len(), len);
}

fn policy(enabled: bool, interval: i64, grace: i64) -> ApiKeyRotationPolicy {
    ApiKeyRotationPolicy {
        enabled,
        interval_days: IntervalDays::new(interval).unwrap(),
        grace_period_hours: RotationGraceHours::new(grace).unwrap(),
        last_rotation: None,
        next_rotation: None,
    }
}

#[test]
fn scheduled_rotation_runs_once_at_the_due_instant_and_waits_for_the_next() {
    let s = store(1);
    let mut next = seeds(8);
    let mut ring = KeyRing::new();
    let mut p = policy(true, 90, 48);
    p.last_rotation = Some(t("2026-01-01T00:00:00Z"));
    ring.issue(
        s.clone(),
        Environment::Live,
        next(),
        t("2025-12-01T00:00:00Z"),
    )
    .unwrap();
    let due = t("2026-04-01T00:00:00Z");

    let early = plan_scheduled_rotation(&p, &s, ring.keys_of(&s), due - ms(1)).unwrap();
    assert!(matches!(early, ScheduledRotation::Wait { next_rotation, .. } if next_rotation == due));
    let ScheduledRotation::Rotate { plan, due_at, .. } =
        plan_scheduled_rotation(&p, &s, ring.keys_of(&s), due).unwrap()
    else {
        panic!("due at the instant");
    };
    assert_eq!(due_at, due);
    assert_eq!(plan.old_key_expires_at(), t("2026-04-03T00:00:00Z"));
    ring.apply_rotation(&plan, &mut next).unwrap();

    // The policy was not updated yet: the keys show the rotation, so nothing is due.
    let again = plan_scheduled_rotation(&p, &s, ring.keys_of(&s), due).unwrap();
    assert!(
        matches!(again, ScheduledRotation::Wait { next_rotation, .. } if next_rotation == t("2026-06-30T00:00:00Z")),
        "{again:?}"
    );
    // After the policy is updated, the same.
    let p = p.after_rotation(due).unwrap();
    assert_eq!(p.next_rotation, Some(t("2026-06-30T00:00:00Z")));
    assert!(matches!(
        plan_scheduled_rotation(&p, &s, ring.keys_of(&s), due).unwrap(),
        ScheduledRotation::Wait { .. }
    ));
}

#[test]
fn scheduled_rotation_is_never_due_when_disabled_and_needs_an_active_key() {
    let s = store(1);
    let mut ring = KeyRing::new();
    let now = t("2030-01-01T00:00:00Z");
    assert_eq!(
        plan_scheduled_rotation(&policy(false, 1, 0), &s, ring.keys_of(&s), now).unwrap(),
        ScheduledRotation::Disabled
    );
    assert_eq!(
        plan_scheduled_rotation(&policy(true, 1, 0), &s, ring.keys_of(&s), now).unwrap(),
        ScheduledRotation::NoActiveKeys
    );
    // Never rotated, no next_rotation: counts from the oldest active key.
    ring.issue(
        s.clone(),
        Environment::Live,
        KeySeed::from_bytes([1; 32]),
        now,
    )
    .unwrap();
    let one_day = t("2030-01-02T00:00:00Z");
    assert!(matches!(
        plan_scheduled_rotation(&policy(true, 1, 0), &s, ring.keys_of(&s), one_day - ms(1))
            .unwrap(),
        ScheduledRotation::Wait { .. }
    ));
    assert!(matches!(
        plan_scheduled_rotation(&policy(true, 1, 0), &s, ring.keys_of(&s), one_day).unwrap(),
        ScheduledRotation::Rotate { .. }
    ));
}

#[test]
fn record_rotation_sets_last_and_next_rotation_in_the_settings() {
    let admin = UserId::new("user_a1").unwrap();
    let created = t("2026-01-01T00:00:00Z");
    let settings = SecuritySettings::new(store(1), admin.clone(), created);
    let rotated_at = t("2026-03-10T10:00:00Z");
    let applied = record_rotation(&settings, rotated_at, &admin).unwrap();
    let p = applied.settings.api_key_rotation();
    assert_eq!(p.last_rotation, Some(rotated_at));
    // Rotation is disabled by default: no next rotation.
    assert_eq!(p.next_rotation, None);
    assert_eq!(
        applied.audit.action,
        whale_security::audit::AuditAction::RotateKeys
    );

    let mut enabled = policy(true, 90, 48);
    enabled.last_rotation = Some(created);
    let after = enabled.after_rotation(rotated_at).unwrap();
    assert_eq!(after.next_rotation, Some(t("2026-06-08T10:00:00Z")));
}

#[test]
fn no_key_text_appears_in_any_debug_or_error_output() {
    let s = store(1);
    let mut next = seeds(9);
    let mut ring = KeyRing::new();
    let t0 = t("2026-03-01T00:00:00Z");
    let key = ring
        .issue(s.clone(), Environment::Live, next(), t0)
        .unwrap();
    let text = key.expose_secret().to_owned();
    let body = text["wk_live_".len()..].to_owned();
    let t1 = t("2026-03-02T00:00:00Z");
    let rotation = ring.rotate_now(&s, graceful(1), t1, &mut next).unwrap();
    let new_text = rotation.new_keys()[0].1.expose_secret().to_owned();
    let new_body = new_text["wk_live_".len()..].to_owned();

    let mut shown = vec![
        format!("{key:?}"),
        format!("{key:#?}"),
        format!("{rotation:?}"),
        format!("{rotation:#?}"),
        format!("{ring:?}"),
        format!("{:?}", PresentedKey::parse(&text).unwrap()),
        format!("{:?}", ring.verify(&new_text, t1).unwrap()),
        format!("{:?}", rotation.response()),
        serde_json::to_string(&rotation.response()).unwrap(),
    ];
    for record in ring.keys() {
        shown.push(format!("{record:?}"));
        shown.push(format!("{:?}", record.to_record()));
        shown.push(format!("{:?}", record.digest()));
    }
    // Every kind of rejection, for real keys and near-keys.
    let mut near = text.clone();
    near.push('x');
    let mut bad_char = text.clone();
    bad_char.replace_range(30..31, "!");
    let rejections = [
        ring.verify(&text, t("2026-03-03T00:00:00Z")).unwrap_err(),
        ring.verify(&near, t1).unwrap_err(),
        ring.verify(&bad_char, t1).unwrap_err(),
        ring.verify(&text.replace("wk_live_", "wk_prod_"), t1)
            .unwrap_err(),
        ring.verify(&format!("wk_live_{}", "0".repeat(43)), t1)
            .unwrap_err(),
    ];
    ring.revoke(key.id(), t1).unwrap();
    let revoked = ring.verify(&text, t1).unwrap_err();
    for e in rejections.iter().chain([&revoked]) {
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
    }
    for s in &shown {
        for secret in [&body, &new_body] {
            // No run of 8 characters of a key body appears anywhere.
            for window in secret.as_bytes().windows(8) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(!s.contains(window), "{s} leaks {window}");
            }
        }
    }
}

// ---- Property test: random rotation sequences against a simple model. ----

#[derive(Clone, Debug)]
enum Op {
    Issue { store: u32, live: bool },
    Advance { minutes: i64 },
    RotateNow { store: u32, grace: Option<i64> },
    Scheduled { store: u32 },
    Revoke { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..2u32, any::<bool>()).prop_map(|(store, live)| Op::Issue { store, live }),
        4 => prop_oneof![0..=90i64, 0..=4320i64].prop_map(|minutes| Op::Advance { minutes }),
        3 => (0..2u32, proptest::option::weighted(0.8, 0..=72i64))
            .prop_map(|(store, grace)| Op::RotateNow { store, grace }),
        2 => (0..2u32).prop_map(|store| Op::Scheduled { store }),
        1 => any::<usize>().prop_map(|pick| Op::Revoke { pick }),
    ]
}

/// What the model knows of one key: its store, whether it is the current generation, and the
/// instants it stops working.
struct ModelKey {
    store: u32,
    current: bool,
    created: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl ModelKey {
    fn valid_at(&self, q: DateTime<Utc>) -> bool {
        self.revoked_at.is_none_or(|r| q < r) && self.valid_until.is_none_or(|u| q < u)
    }

    fn expected(&self, q: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some_and(|r| r <= q) {
            "revoked"
        } else if self.valid_until.is_some_and(|u| u <= q) {
            "expired"
        } else if self.valid_until.is_some() {
            "in_grace"
        } else {
            "valid"
        }
    }
}

fn observed(result: &Result<Verified<'_>, ApiKeyError>) -> &'static str {
    match result {
        Ok(Verified::Valid { .. }) => "valid",
        Ok(Verified::InGrace { .. }) => "in_grace",
        Err(ApiKeyError::Expired { .. }) => "expired",
        Err(ApiKeyError::Revoked { .. }) => "revoked",
        Err(_) => "other error",
    }
}

/// The model's rotation of `store` at `now`: `Some(grace)` graceful, `None` compromised.
/// Returns how many successors to expect; with none, the rotation is refused and changes nothing.
fn model_rotate(
    model: &mut [ModelKey],
    store: u32,
    now: DateTime<Utc>,
    grace: Option<i64>,
) -> usize {
    let is_current = |k: &ModelKey| k.current && k.valid_until.is_none() && k.valid_at(now);
    let rotated = model
        .iter()
        .filter(|k| k.store == store && is_current(k))
        .count();
    if rotated == 0 {
        return 0;
    }
    for k in model
        .iter_mut()
        .filter(|k| k.store == store && k.valid_at(now))
    {
        let was_current = is_current(k);
        match grace {
            None => k.revoked_at = Some(now),
            Some(_) if !was_current => k.valid_until = Some(now),
            Some(g) => k.valid_until = Some(now + TimeDelta::try_hours(g).unwrap()),
        }
        k.current &= !was_current;
    }
    rotated
}

fn fresh(store: u32, now: DateTime<Utc>) -> ModelKey {
    ModelKey {
        store,
        current: true,
        created: now,
        valid_until: None,
        revoked_at: None,
    }
}

fn run_sequence(
    ops: &[Op],
    interval_days: i64,
    grace_hours: i64,
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut next = seeds(seed);
    let mut ring = KeyRing::new();
    let mut secrets: Vec<ApiKey> = Vec::new();
    let mut model: Vec<ModelKey> = Vec::new();
    let mut last_rotation: [Option<DateTime<Utc>>; 2] = [None, None];
    let p = policy(true, interval_days, grace_hours);
    // Starts just before a leap day, so sequences cross it.
    let mut now = t("2024-02-27T23:00:00Z");

    for op in ops {
        match *op {
            Op::Issue { store: s, live } => {
                let env = if live {
                    Environment::Live
                } else {
                    Environment::Test
                };
                secrets.push(ring.issue(store(s), env, next(), now).unwrap());
                model.push(fresh(s, now));
            }
            Op::Advance { minutes } => now += TimeDelta::try_minutes(minutes).unwrap(),
            Op::Revoke { pick } => {
                if !secrets.is_empty() {
                    let i = pick % secrets.len();
                    ring.revoke(secrets[i].id(), now).unwrap();
                    let m = &mut model[i];
                    m.revoked_at = Some(m.revoked_at.map_or(now, |r| r.min(now)));
                }
            }
            Op::RotateNow { store: s, grace } => {
                let mode = grace.map_or(RotationMode::Compromised, graceful);
                let result = ring.rotate_now(&store(s), mode, now, &mut next);
                let expected = model_rotate(&mut model, s, now, grace);
                match result {
                    Ok(rotation) => {
                        prop_assert_eq!(rotation.new_keys().len(), expected);
                        last_rotation[s as usize] = Some(now);
                        for (_, key) in rotation.into_new_keys() {
                            secrets.push(key);
                            model.push(fresh(s, now));
                        }
                    }
                    Err(ApiKeyError::NothingToRotate { .. }) => prop_assert_eq!(expected, 0),
                    Err(e) => return Err(TestCaseError::fail(format!("rotate: {e}"))),
                }
            }
            Op::Scheduled { store: s } => {
                let decision =
                    plan_scheduled_rotation(&p, &store(s), ring.keys_of(&store(s)), now).unwrap();
                let current: Vec<DateTime<Utc>> = model
                    .iter()
                    .filter(|m| m.store == s && m.current && m.valid_at(now))
                    .map(|m| m.created)
                    .collect();
                let base = last_rotation[s as usize].or_else(|| current.iter().min().copied());
                let due = !current.is_empty()
                    && base.is_some_and(|b| now >= b + TimeDelta::try_days(interval_days).unwrap());
                match decision {
                    ScheduledRotation::Rotate { plan, .. } => {
                        prop_assert!(due, "planner rotated when the model says not due");
                        let expected = model_rotate(&mut model, s, now, Some(grace_hours));
                        let rotation = ring.apply_rotation(&plan, &mut next).unwrap();
                        prop_assert_eq!(rotation.new_keys().len(), expected);
                        last_rotation[s as usize] = Some(now);
                        for (_, key) in rotation.into_new_keys() {
                            secrets.push(key);
                            model.push(fresh(s, now));
                        }
                        // Idempotent: the same run again does nothing.
                        let again =
                            plan_scheduled_rotation(&p, &store(s), ring.keys_of(&store(s)), now)
                                .unwrap();
                        prop_assert!(
                            matches!(again, ScheduledRotation::Wait { .. }),
                            "{:?}",
                            again
                        );
                        prop_assert!(ring.apply_rotation(&plan, &mut next).is_err());
                    }
                    ScheduledRotation::Wait { .. } | ScheduledRotation::NoActiveKeys => {
                        prop_assert!(!due, "model says due, planner says {:?}", decision);
                    }
                    ScheduledRotation::Disabled => prop_assert!(false, "policy is enabled"),
                }
            }
        }
        check(&ring, &secrets, &model, now)?;
    }
    Ok(())
}

/// Every key verifies as the model says, now and at both sides of its coming deadlines; and no
/// more than two generations of a lineage are valid at once.
fn check(
    ring: &KeyRing,
    secrets: &[ApiKey],
    model: &[ModelKey],
    now: DateTime<Utc>,
) -> Result<(), TestCaseError> {
    for (key, m) in secrets.iter().zip(model) {
        let mut instants = vec![now];
        for deadline in [m.valid_until, m.revoked_at].into_iter().flatten() {
            if deadline > now {
                instants.extend([deadline - ms(1), deadline]);
            }
        }
        for q in instants {
            let result = ring.verify(key.expose_secret(), q);
            prop_assert_eq!(
                observed(&result),
                m.expected(q),
                "key {} at {}",
                key.id(),
                q
            );
        }
        let record = ring.get(key.id()).unwrap();
        if record.status_at(now).is_valid()
            && let Some(parent) = record.predecessor().and_then(|id| ring.get(id))
            && let Some(grandparent) = parent.predecessor().and_then(|id| ring.get(id))
        {
            prop_assert!(
                !grandparent.status_at(now).is_valid(),
                "three generations valid at {}",
                now
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)))]

    #[test]
    fn rotation_sequences_match_the_model(
        ops in proptest::collection::vec(op(), 1..40),
        interval_days in 1..=3i64,
        grace_pick in 0..=71i64,
        seed in any::<u64>(),
    ) {
        let grace_hours = grace_pick % (interval_days * 24);
        run_sequence(&ops, interval_days, grace_hours, seed)?;
    }
}

#[test]
fn a_key_status_is_decided_by_the_record_alone() {
    let s = store(1);
    let mut ring = KeyRing::new();
    let t0 = t("2026-03-01T00:00:00Z");
    let key = ring
        .issue(s, Environment::Test, KeySeed::from_bytes([42; 32]), t0)
        .unwrap();
    let record = ring.get(key.id()).unwrap();
    assert_eq!(record.status_at(t0), KeyStatus::Active);
    assert_eq!(record.display_prefix(), key.display_prefix());
    assert!(record.display_prefix().starts_with("wk_test_"));
}

/// A key record dated a year after the check verified as active: its creation time was never
/// looked at, so a forged or clock-skewed record was trusted at once. A key dated later than
/// `now` by more than the clock-skew allowance is refused with its own error; within the
/// allowance it works, so instances with slightly different clocks agree.
#[test]
fn a_key_dated_beyond_the_clock_skew_allowance_does_not_verify() {
    let s = store(9);
    let mut next = seeds(9);
    let mut ring = KeyRing::new();
    let created = t("2027-03-10T12:00:00Z");
    let key = ring
        .issue(s.clone(), Environment::Live, next(), created)
        .unwrap();

    let err = ring
        .verify(key.expose_secret(), t("2026-03-10T12:00:00Z"))
        .unwrap_err();
    assert!(matches!(err, ApiKeyError::NotYetValid { valid_from, .. } if valid_from == created));
    assert!(!err.to_string().contains(key.expose_secret()));

    let edge = created - TimeDelta::try_seconds(time::MAX_CLOCK_SKEW_SECONDS).unwrap();
    assert!(matches!(
        ring.verify(key.expose_secret(), edge - ms(1)),
        Err(ApiKeyError::NotYetValid { .. })
    ));
    assert!(matches!(
        ring.verify(key.expose_secret(), edge),
        Ok(Verified::Valid { .. })
    ));
}
