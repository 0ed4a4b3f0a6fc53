//! Contract cases of [`ApiKeyStore`](crate::store::ApiKeyStore).

use subtle::ConstantTimeEq;

use super::{at, audit_all, record, settings, store_id};
use crate::api_keys::{
    ApiKey, Environment, KeyDigest, KeyRing, KeySeed, KeyStatus, RotationGraceHours, RotationMode,
    StoredKey, plan_rotation,
};
use crate::id::KeyId;
use crate::settings::record_rotation;
use crate::store::{KeyChanges, Store, StoreError, Version};

/// A key of `store` made from a seed of `n`s at `t` seconds.
pub(crate) fn key(store: &str, n: u8, t: u64) -> (ApiKey, StoredKey) {
    let key = ApiKey::from_seed(Environment::Live, KeySeed::from_bytes([n; 32]));
    let record = StoredKey::new(&key, store_id(store), at(t));
    (key, record)
}

/// The changes, settings and audit of a graceful rotation of `store`'s keys at `t`, with
/// successors from seeds of `n`s; the settings as read at `version`.
pub(crate) fn rotation<S: Store + ?Sized>(
    store: &S,
    name: &str,
    t: u64,
    n: u8,
) -> (KeyChanges, Version, crate::settings::Applied) {
    let id = store_id(name);
    let read = store.settings(&id).unwrap().unwrap();
    let keys = store.keys_of(&id).unwrap();
    let mut ring = KeyRing::new();
    for k in &keys {
        ring.insert(k.clone()).unwrap();
    }
    let mode = RotationMode::Graceful {
        grace: RotationGraceHours::new(1).unwrap(),
    };
    let plan = plan_rotation(&id, ring.keys_of(&id), mode, at(t)).unwrap();
    let mut seed = n;
    ring.apply_rotation(&plan, || {
        seed = seed.wrapping_add(1);
        KeySeed::from_bytes([seed; 32])
    })
    .unwrap();
    let changes = KeyChanges::between(&id, &keys, ring.keys_of(&id));
    let admin = crate::id::UserId::new("user_admin").unwrap();
    let applied = record_rotation(&read.value, at(t), &admin).unwrap();
    (changes, read.version, applied)
}

pub(crate) fn keys_are_found_by_digest_and_listed_by_store_oldest_first<S: Store>(store: &S) {
    let (a2, r2) = key("store_a", 2, 20);
    let (a1, r1) = key("store_a", 1, 10);
    let (b1, rb) = key("store_b", 3, 5);
    for (i, r) in [&r2, &r1, &rb].into_iter().enumerate() {
        let seq = store.insert_key(r, &record(at(i as u64), "k")).unwrap();
        assert!(seq >= 1);
    }
    for (k, r) in [(&a1, &r1), (&a2, &r2), (&b1, &rb)] {
        let found = store.key_by_digest(&k.digest()).unwrap().unwrap();
        assert_eq!(found.id(), r.id());
        assert_eq!(found.store_id(), r.store_id());
        assert_eq!(found.created_at(), r.created_at());
        assert_eq!(found.display_prefix(), r.display_prefix());
        assert!(bool::from(found.digest().ct_eq(&k.digest())));
        assert_eq!(store.key(k.id()).unwrap().unwrap().id(), k.id());
    }
    assert!(
        store
            .key_by_digest(&KeyDigest::from_bytes([9; 32]))
            .unwrap()
            .is_none()
    );
    // Same 8-byte tag, different digest: the full comparison refuses it.
    let mut near = a1.digest().to_bytes();
    near[31] ^= 1;
    assert!(
        store
            .key_by_digest(&KeyDigest::from_bytes(near))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .key(&KeyId::new("key_none").unwrap())
            .unwrap()
            .is_none()
    );
    let listed: Vec<KeyId> = store
        .keys_of(&store_id("store_a"))
        .unwrap()
        .iter()
        .map(|k| k.id().clone())
        .collect();
    assert_eq!(listed, [r1.id().clone(), r2.id().clone()]);
    assert_eq!(store.keys_of(&store_id("store_c")).unwrap().len(), 0);
    assert_eq!(audit_all(store, "store_a").len(), 2);
}

pub(crate) fn a_duplicate_key_is_refused_and_writes_nothing<S: Store>(store: &S) {
    let (_, r) = key("store_a", 1, 0);
    store.insert_key(&r, &record(at(0), "k")).unwrap();
    let err = store.insert_key(&r, &record(at(1), "k")).unwrap_err();
    assert_eq!(
        err,
        StoreError::DuplicateKey {
            key_id: r.id().clone()
        }
    );
    // The same key under another store is the same digest: refused too.
    let (_, other) = key("store_b", 1, 0);
    assert!(matches!(
        store.insert_key(&other, &record(at(1), "k")),
        Err(StoreError::DuplicateKey { .. })
    ));
    assert_eq!(audit_all(store, "store_a").len(), 1);
    assert_eq!(audit_all(store, "store_b").len(), 0);
    assert_eq!(store.keys_of(&store_id("store_b")).unwrap().len(), 0);
}

pub(crate) fn revoking_keeps_the_earlier_instant_and_needs_the_right_store<S: Store>(store: &S) {
    let (k, r) = key("store_a", 1, 0);
    store.insert_key(&r, &record(at(0), "k")).unwrap();
    store
        .revoke_key(&store_id("store_a"), k.id(), at(20), &record(at(20), "r"))
        .unwrap();
    store
        .revoke_key(&store_id("store_a"), k.id(), at(10), &record(at(10), "r"))
        .unwrap();
    store
        .revoke_key(&store_id("store_a"), k.id(), at(30), &record(at(30), "r"))
        .unwrap();
    let read = store.key(k.id()).unwrap().unwrap();
    assert_eq!(read.revoked_at(), Some(at(10)));
    assert_eq!(
        read.status_at(at(10)),
        KeyStatus::Revoked { revoked_at: at(10) }
    );
    let err = store
        .revoke_key(&store_id("store_b"), k.id(), at(40), &record(at(40), "r"))
        .unwrap_err();
    assert!(matches!(err, StoreError::KeyNotFound { .. }), "{err:?}");
    assert_eq!(audit_all(store, "store_a").len(), 4);
    assert_eq!(audit_all(store, "store_b").len(), 0);
}

pub(crate) fn a_rotation_commits_keys_settings_and_audit_together<S: Store>(store: &S) {
    store
        .create_settings(&settings("store_a", 480), &record(at(0), "c"))
        .unwrap();
    let (old, r) = key("store_a", 1, 0);
    store.insert_key(&r, &record(at(0), "k")).unwrap();
    let (changes, version, applied) = rotation(store, "store_a", 100, 50);
    assert_eq!(changes.created().len(), 1);
    assert_eq!(changes.updated().len(), 1);
    let committed = store
        .commit_rotation(&changes, version, &applied.settings, &applied.audit)
        .unwrap();
    assert_eq!(committed.version, Version::new(2));
    assert_eq!(committed.sequence, 3);

    let keys = store.keys_of(&store_id("store_a")).unwrap();
    assert_eq!(keys.len(), 2);
    let old_read = store.key(old.id()).unwrap().unwrap();
    assert_eq!(old_read.expires_at(), Some(at(100 + 3600)));
    let new = keys.iter().find(|k| k.id() != old.id()).unwrap();
    assert_eq!(new.predecessor(), Some(old.id()));
    assert_eq!(new.created_at(), at(100));
    let read = store.settings(&store_id("store_a")).unwrap().unwrap();
    assert_eq!(read.version, Version::new(2));
    assert_eq!(read.value.api_key_rotation().last_rotation, Some(at(100)));
    assert_eq!(audit_all(store, "store_a").len(), 3);
}

pub(crate) fn a_stale_rotation_is_refused_and_writes_nothing<S: Store>(store: &S) {
    store
        .create_settings(&settings("store_a", 480), &record(at(0), "c"))
        .unwrap();
    let (old, r) = key("store_a", 1, 0);
    store.insert_key(&r, &record(at(0), "k")).unwrap();
    // Two rotations planned on the same read; the first commits.
    let (first, version, applied) = rotation(store, "store_a", 100, 50);
    let (second, _, applied_late) = rotation(store, "store_a", 100, 80);
    store
        .commit_rotation(&first, version, &applied.settings, &applied.audit)
        .unwrap();
    let before = store.keys_of(&store_id("store_a")).unwrap().len();

    // Naming the old settings version: a settings conflict.
    let err = store
        .commit_rotation(
            &second,
            version,
            &applied_late.settings,
            &applied_late.audit,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // Naming the current version: the old key changed since the plan was read.
    let err = store
        .commit_rotation(
            &second,
            Version::new(2),
            &applied_late.settings,
            &applied_late.audit,
        )
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::KeyChanged {
            key_id: old.id().clone()
        }
    );
    assert_eq!(store.keys_of(&store_id("store_a")).unwrap().len(), before);
    assert_eq!(
        store
            .settings(&store_id("store_a"))
            .unwrap()
            .unwrap()
            .version,
        Version::new(2)
    );
    assert_eq!(audit_all(store, "store_a").len(), 3);
}
