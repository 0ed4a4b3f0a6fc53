//! The service façade over the memory and SQLite stores: the change path, the lockout guard,
//! the cached hot path, previews and concurrency.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use whale_security::allowlist::{IpDecision, parse_ip};
use whale_security::audit::AuditAction;
use whale_security::id::{EntryId, StoreId, UserId};
use whale_security::service::{ChangeRequest, Client, SecurityService, ServiceError};
use whale_security::settings::{NewEntry, RotationPolicyUpdate, SettingsError, SettingsUpdate};
use whale_security::store::{AuditQuery, MemoryStore, Store, StoreError, Version};
use whale_security::{SecuritySettings, Surface, time};

fn now() -> DateTime<Utc> {
    time::parse("2026-03-10T10:00:00Z").unwrap()
}

fn store_id() -> StoreId {
    StoreId::new("store_a1b2c3d4").unwrap()
}

fn admin() -> ChangeRequest {
    ChangeRequest::new(UserId::new("user_d4e5f6a7").unwrap(), now())
}

fn ip(text: &str) -> IpAddr {
    parse_ip(text).unwrap()
}

fn update(json: &str) -> SettingsUpdate {
    SettingsUpdate::from_json(json).unwrap()
}

/// A service whose store holds the spec's example settings (allowlist on, three entries) at
/// version 1.
fn spec_service<S: Store>(store: S) -> SecurityService<S> {
    let service = SecurityService::new(store);
    let text = crate::read_fixture("../../data/spec-settings.json");
    service
        .create_settings(SecuritySettings::from_json(&text).unwrap(), &admin())
        .unwrap();
    service
}

fn decision_is_allow(service: &SecurityService<impl Store>, addr: &str) -> bool {
    let check = service
        .check_ip(&store_id(), ip(addr), Surface::Api, now())
        .unwrap();
    matches!(check.decision(), IpDecision::Allow { .. })
}

fn audit_actions(service: &SecurityService<impl Store>) -> Vec<AuditAction> {
    service
        .audit(&AuditQuery::new(store_id()))
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.record.action)
        .collect()
}

/// Runs `case` on a service over the spec settings in a memory store and, with the feature, in
/// an SQLite store.
fn on_every_store(case: impl Fn(SecurityService<Arc<dyn Store>>)) {
    case(spec_service(Arc::new(MemoryStore::new()) as Arc<dyn Store>));
    #[cfg(feature = "sqlite")]
    {
        let dir = tempfile::tempdir().unwrap();
        let store = whale_security::store::SqliteStore::open(dir.path().join("s.db")).unwrap();
        case(spec_service(Arc::new(store) as Arc<dyn Store>));
    }
}

#[test]
fn an_update_is_visible_to_check_ip_as_soon_as_it_commits() {
    on_every_store(|service| {
        assert!(decision_is_allow(&service, "203.0.113.9"));
        assert!(!decision_is_allow(&service, "198.18.0.1"));
        let updated = service
            .update(
                &store_id(),
                Version::FIRST,
                &update(r#"{"ip_allowlist": {"entries": [{"cidr": "198.18.0.0/15"}]}}"#),
                &admin(),
            )
            .unwrap();
        assert_eq!(updated.version, Version::new(2));
        assert!(decision_is_allow(&service, "198.18.0.1"));
        assert!(!decision_is_allow(&service, "203.0.113.9"));
        let check = service
            .check_ip(&store_id(), ip("198.18.0.1"), Surface::Api, now())
            .unwrap();
        assert_eq!(check.version(), Version::new(2));
    });
}

#[test]
fn a_stale_version_is_a_conflict_and_writes_nothing() {
    on_every_store(|service| {
        let first = update(r#"{"session_policy": {"timeout_minutes": 60}}"#);
        service
            .update(&store_id(), Version::FIRST, &first, &admin())
            .unwrap();
        let second = update(r#"{"session_policy": {"timeout_minutes": 90}}"#);
        let err = service
            .update(&store_id(), Version::FIRST, &second, &admin())
            .unwrap_err();
        assert!(
            matches!(
                err.store_error(),
                Some(StoreError::Conflict { expected, found, .. })
                    if *expected == Version::FIRST && *found == Version::new(2)
            ),
            "{err}"
        );
        let read = service.settings(&store_id()).unwrap();
        assert_eq!(read.version, Version::new(2));
        assert_eq!(read.value.session_policy().timeout_minutes.get(), 60);
        assert_eq!(audit_actions(&service).len(), 2);
    });
}

#[test]
fn the_lockout_guard_refuses_a_change_that_denies_the_caller_unless_forced() {
    on_every_store(|service| {
        let office = ip("203.0.113.9");
        let drop_office = update(r#"{"ip_allowlist": {"entries": [{"cidr": "192.0.2.0/28"}]}}"#);
        let from_office = admin().from_client(office, Surface::Dashboard);
        let err = service
            .update(&store_id(), Version::FIRST, &drop_office, &from_office)
            .unwrap_err();
        assert!(
            matches!(err, ServiceError::WouldLockOut { ip, surface: Surface::Dashboard } if ip == office),
            "{err}"
        );
        assert!(err.to_string().contains("`203.0.113.9`"), "{err}");
        assert_eq!(
            service.settings(&store_id()).unwrap().version,
            Version::FIRST
        );
        assert!(decision_is_allow(&service, "203.0.113.9"));

        // A caller the list already denies is not "locked out" by a further change.
        let outsider = admin().from_client(ip("198.51.100.7"), Surface::Api);
        let harmless = update(r#"{"session_policy": {"timeout_minutes": 60}}"#);
        service
            .update(&store_id(), Version::FIRST, &harmless, &outsider)
            .unwrap();

        // Forcing applies it.
        let forced = service
            .update(
                &store_id(),
                Version::new(2),
                &drop_office,
                &from_office.force(),
            )
            .unwrap();
        assert_eq!(forced.version, Version::new(3));
        assert!(!decision_is_allow(&service, "203.0.113.9"));
    });
}

#[test]
fn removing_the_entry_a_caller_uses_is_guarded_too() {
    let service = spec_service(MemoryStore::new());
    let vpn = admin().from_client(ip("198.51.100.42"), Surface::Api);
    let id = EntryId::new("ip_d4e5f6").unwrap();
    let err = service
        .remove_allowlist_entry(&store_id(), Version::FIRST, &id, &vpn)
        .unwrap_err();
    assert!(matches!(err, ServiceError::WouldLockOut { .. }), "{err}");
    let removed = service
        .remove_allowlist_entry(&store_id(), Version::FIRST, &id, &admin())
        .unwrap();
    assert_eq!(removed.changes[0].path, "ip_allowlist.entries.ip_d4e5f6");
    assert!(!decision_is_allow(&service, "198.51.100.42"));
}

#[test]
fn an_invalid_update_is_rejected_with_its_field_and_writes_nothing() {
    on_every_store(|service| {
        let bad = update(r#"{"api_key_rotation": {"interval_days": 1, "grace_period_hours": 48}}"#);
        let err = service
            .update(&store_id(), Version::FIRST, &bad, &admin())
            .unwrap_err();
        let ServiceError::Rejected(errors) = err else {
            panic!("expected a rejection, got {err}");
        };
        assert_eq!(
            errors.as_slice()[0].path(),
            "api_key_rotation.grace_period_hours"
        );
        assert_eq!(
            service.settings(&store_id()).unwrap().version,
            Version::FIRST
        );
        assert_eq!(audit_actions(&service), [AuditAction::CreateSettings]);
    });
}

#[test]
fn an_update_that_changes_nothing_writes_nothing() {
    let service = spec_service(MemoryStore::new());
    let same = update(r#"{"session_policy": {"timeout_minutes": 480}}"#);
    let updated = service
        .update(&store_id(), Version::FIRST, &same, &admin())
        .unwrap();
    assert_eq!((updated.committed, updated.version), (None, Version::FIRST));
    assert!(updated.changes.is_empty());
    assert_eq!(audit_actions(&service).len(), 1);
}

#[test]
fn allowlist_add_list_delete_and_rotation_policy_are_audited_by_action() {
    on_every_store(|service| {
        let entry: NewEntry =
            serde_json::from_str(r#"{"cidr": "2001:db8::/32", "label": "IPv6 office"}"#).unwrap();
        let (added, updated) = service
            .add_allowlist_entry(&store_id(), Version::FIRST, entry, &admin())
            .unwrap();
        assert_eq!(added.added_at, now());
        assert_eq!(
            updated
                .response
                .ip_allowlist
                .as_ref()
                .unwrap()
                .entries
                .len(),
            4
        );
        let listed = service.allowlist(&store_id()).unwrap();
        assert_eq!(listed.version, Version::new(2));
        assert!(listed.value.entries.iter().any(|e| e.id == added.id));
        assert!(decision_is_allow(&service, "2001:db8::1"));

        service
            .remove_allowlist_entry(&store_id(), Version::new(2), &added.id, &admin())
            .unwrap();
        assert!(!decision_is_allow(&service, "2001:db8::1"));

        let policy = service.rotation_policy(&store_id()).unwrap();
        assert_eq!(policy.value.interval_days.get(), 90);
        let put: RotationPolicyUpdate = serde_json::from_str(r#"{"interval_days": 30}"#).unwrap();
        let updated = service
            .put_rotation_policy(&store_id(), policy.version, &put, &admin())
            .unwrap();
        // Keys last rotated on 2026-01-01: the next rotation follows from it.
        assert_eq!(
            updated.settings.api_key_rotation().next_rotation,
            Some(time::parse("2026-01-31T00:00:00Z").unwrap())
        );
        assert_eq!(
            audit_actions(&service),
            [
                AuditAction::CreateSettings,
                AuditAction::AddAllowlistEntry,
                AuditAction::RemoveAllowlistEntry,
                AuditAction::UpdateRotationPolicy,
            ]
        );
    });
}

#[test]
fn removing_an_unknown_entry_is_a_rejection_naming_the_id() {
    let service = spec_service(MemoryStore::new());
    let err = service
        .remove_allowlist_entry(
            &store_id(),
            Version::FIRST,
            &EntryId::new("ip_nope").unwrap(),
            &admin(),
        )
        .unwrap_err();
    let ServiceError::Rejected(errors) = err else {
        panic!("{err}")
    };
    assert!(matches!(
        errors.as_slice()[0],
        SettingsError::EntryNotFound { .. }
    ));
}

#[test]
fn the_creation_record_lists_every_policy_field_and_the_view_counts_no_members_yet() {
    let service = spec_service(MemoryStore::new());
    let page = service.audit(&AuditQuery::new(store_id())).unwrap();
    let paths: Vec<&str> = page.entries[0]
        .record
        .changes
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    assert!(paths.contains(&"session_policy"), "{paths:?}");
    assert!(paths.contains(&"ip_allowlist"), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.starts_with("updated_")),
        "{paths:?}"
    );
    let view = service.view(&store_id()).unwrap();
    assert_eq!(view.value.ip_allowlist.entries, 3);
    assert_eq!(view.value.two_factor.compliant_members, 0);
}

#[test]
fn a_store_without_settings_is_not_found_on_the_hot_path() {
    let service = SecurityService::new(MemoryStore::new());
    let err = service
        .check_ip(&store_id(), ip("203.0.113.9"), Surface::Api, now())
        .unwrap_err();
    assert!(matches!(
        err.store_error(),
        Some(StoreError::NotFound { .. })
    ));
}

#[test]
fn preview_lists_recent_clients_the_update_would_cut_off_and_writes_nothing() {
    on_every_store(|service| {
        for addr in [
            "203.0.113.9",
            "198.51.100.42",
            "198.51.100.7",
            "203.0.113.9",
        ] {
            let _ = service
                .check_ip(&store_id(), ip(addr), Surface::Api, now())
                .unwrap();
        }
        assert_eq!(service.recent_clients(&store_id()).len(), 3);

        let narrow = update(r#"{"ip_allowlist": {"entries": [{"cidr": "198.51.100.42/32"}]}}"#);
        let from_office = admin().from_client(ip("203.0.113.9"), Surface::Api);
        let preview = service
            .preview(&store_id(), &narrow, None, &from_office)
            .unwrap();
        assert_eq!(preview.version, Version::FIRST);
        assert!(preview.locks_out_caller);
        let denied: Vec<(String, bool)> = preview
            .denied_clients
            .iter()
            .map(|d| (d.client.ip.to_string(), d.denied_before))
            .collect();
        // Newest first, without repeats; 198.51.100.7 was denied already.
        assert_eq!(
            denied,
            [
                ("203.0.113.9".to_owned(), false),
                ("198.51.100.7".to_owned(), true)
            ]
        );
        assert!(
            preview
                .changes
                .iter()
                .any(|c| c.path.starts_with("ip_allowlist.entries"))
        );

        // Explicit clients replace the recent ones.
        let dashboard = [Client {
            ip: ip("192.0.2.1"),
            surface: Surface::Dashboard,
        }];
        let preview = service
            .preview(&store_id(), &narrow, Some(&dashboard), &admin())
            .unwrap();
        assert_eq!(preview.denied_clients.len(), 1);
        assert!(!preview.denied_clients[0].denied_before);
        assert!(!preview.locks_out_caller);

        // Nothing was written.
        assert_eq!(
            service.settings(&store_id()).unwrap().version,
            Version::FIRST
        );
        assert_eq!(audit_actions(&service).len(), 1);
    });
}

#[test]
fn preview_of_an_invalid_update_is_the_same_rejection_as_the_update() {
    let service = spec_service(MemoryStore::new());
    let bad = update(r#"{"api_key_rotation": {"grace_period_hours": 8760}}"#);
    let preview = service.preview(&store_id(), &bad, Some(&[]), &admin());
    let update = service.update(&store_id(), Version::FIRST, &bad, &admin());
    let (ServiceError::Rejected(a), ServiceError::Rejected(b)) =
        (preview.unwrap_err(), update.unwrap_err())
    else {
        panic!("both must be rejections");
    };
    assert_eq!(a, b);
}

#[test]
fn the_recent_client_memory_can_be_turned_off() {
    let service = SecurityService::with_recent_clients(MemoryStore::new(), 0);
    let text = crate::read_fixture("../../data/spec-settings.json");
    service
        .create_settings(SecuritySettings::from_json(&text).unwrap(), &admin())
        .unwrap();
    let _ = service
        .check_ip(&store_id(), ip("203.0.113.9"), Surface::Api, now())
        .unwrap();
    assert!(service.recent_clients(&store_id()).is_empty());
}

/// Writers through the service race on one store while readers check addresses: every update
/// commits or conflicts, the version counts the commits, and readers only ever see versions
/// that go up.
#[test]
fn concurrent_updates_through_the_service_lose_nothing_and_readers_never_go_back() {
    on_every_store(|service| {
        let commits = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for t in 0..3_u64 {
                let (service, commits) = (&service, &commits);
                scope.spawn(move || {
                    for n in 0..20_u64 {
                        let read = service.settings(&store_id()).unwrap();
                        let minutes = 1 + t * 100 + n;
                        let u = update(&format!(
                            r#"{{"session_policy": {{"timeout_minutes": {minutes}}}}}"#
                        ));
                        match service.update(&store_id(), read.version, &u, &admin()) {
                            Ok(_) => {
                                commits.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => assert!(
                                matches!(e.store_error(), Some(StoreError::Conflict { .. })),
                                "{e}"
                            ),
                        }
                    }
                });
            }
            let service = &service;
            scope.spawn(move || {
                let mut last = Version::FIRST;
                for _ in 0..500 {
                    let check = service
                        .check_ip(&store_id(), ip("203.0.113.9"), Surface::Api, now())
                        .unwrap();
                    assert!(check.version() >= last);
                    last = check.version();
                }
            });
        });
        let commits = commits.load(Ordering::SeqCst);
        assert!(commits > 0);
        assert_eq!(
            service.settings(&store_id()).unwrap().version.get(),
            1 + commits
        );
        assert_eq!(
            service
                .check_ip(&store_id(), ip("203.0.113.9"), Surface::Api, now())
                .unwrap()
                .version()
                .get(),
            1 + commits
        );
    });
}

/// A tokio service calls the synchronous store through `spawn_blocking` and checks addresses
/// from async tasks directly.
#[test]
fn a_tokio_runtime_drives_the_service_through_spawn_blocking() {
    let service = Arc::new(spec_service(MemoryStore::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let version = runtime.block_on(async {
        let writer = Arc::clone(&service);
        let updated = tokio::task::spawn_blocking(move || {
            let u = update(r#"{"ip_allowlist": {"entries": [{"cidr": "198.18.0.0/15"}]}}"#);
            writer.update(&store_id(), Version::FIRST, &u, &admin())
        })
        .await
        .unwrap()
        .unwrap();
        let reader = Arc::clone(&service);
        let allowed = tokio::spawn(async move {
            let check = reader
                .check_ip(&store_id(), ip("198.18.0.1"), Surface::Api, now())
                .unwrap();
            matches!(check.decision(), IpDecision::Allow { .. })
        })
        .await
        .unwrap();
        assert!(allowed);
        updated.version
    });
    assert_eq!(version, Version::new(2));
}

/// Two service instances on one SQLite file: a change made through one reaches the other's
/// cache when it refreshes.
#[cfg(feature = "sqlite")]
#[test]
fn refresh_picks_up_a_change_committed_by_another_instance() {
    use whale_security::store::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let one = spec_service(SqliteStore::open(&path).unwrap());
    let two = SecurityService::new(SqliteStore::open(&path).unwrap());
    assert!(decision_is_allow(&two, "203.0.113.9"));
    one.update(
        &store_id(),
        Version::FIRST,
        &update(r#"{"ip_allowlist": {"entries": [{"cidr": "198.18.0.0/15"}]}}"#),
        &admin(),
    )
    .unwrap();
    // Until refreshed, the other instance still answers from its cache (documented).
    assert!(decision_is_allow(&two, "203.0.113.9"));
    assert_eq!(two.refresh(&store_id()).unwrap(), Version::new(2));
    assert!(!decision_is_allow(&two, "203.0.113.9"));
}

/// A list whose only entry for the caller expires moments later locks the caller out as surely
/// as one without it: the guard wants the caller admitted for the next few minutes.
#[test]
fn an_entry_about_to_expire_does_not_satisfy_the_lockout_guard() {
    let service = spec_service(MemoryStore::new());
    let office = admin().from_client(ip("203.0.113.9"), Surface::Dashboard);
    let expiring = |t: &str| {
        update(&format!(
            r#"{{"ip_allowlist": {{"entries": [{{"cidr": "203.0.113.0/24", "expires_at": "{t}"}}]}}}}"#
        ))
    };
    let soon = whale_security::time::format(now() + chrono::TimeDelta::try_seconds(1).unwrap());
    let err = service
        .update(&store_id(), Version::FIRST, &expiring(&soon), &office)
        .unwrap_err();
    assert!(matches!(err, ServiceError::WouldLockOut { .. }), "{err}");
    let later = whale_security::time::format(now() + chrono::TimeDelta::try_hours(1).unwrap());
    service
        .update(&store_id(), Version::FIRST, &expiring(&later), &office)
        .unwrap();
}
