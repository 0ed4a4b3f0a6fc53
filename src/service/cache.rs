//! The per-store allowlist cache of the hot path, swapped atomically on change.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use chrono::{DateTime, Utc};

use super::Client;
use crate::allowlist::{CompiledAllowlist, IpAllowlist, IpDecision, Surface};
use crate::id::StoreId;
use crate::store::Version;

/// Every cached store, behind one atomically swapped map.
///
/// Readers load the map and the store's snapshot without locks. The map itself is copied only
/// when a store is seen for the first time; a settings change swaps only that store's snapshot.
pub(super) struct Cache {
    stores: ArcSwap<HashMap<StoreId, Arc<StoreCache>>>,
    recent_capacity: usize,
}

/// What the service keeps in memory for one store.
pub(super) struct StoreCache {
    allowlist: ArcSwap<Snapshot>,
    recent: Mutex<VecDeque<Client>>,
}

/// One version of a store's allowlist, in the form the hot path matches against.
pub(super) struct Snapshot {
    version: Version,
    matcher: Matcher,
}

/// The matcher the hot path runs: the allowlist compiled once per settings version.
struct Matcher(CompiledAllowlist);

impl Matcher {
    fn new(list: &IpAllowlist) -> Self {
        Self(CompiledAllowlist::new(list))
    }

    fn decide(&self, ip: IpAddr, surface: Surface, now: DateTime<Utc>) -> IpDecision<'_> {
        self.0.check_ip(ip, surface, now)
    }
}

impl Cache {
    pub(super) fn new(recent_capacity: usize) -> Self {
        Self {
            stores: ArcSwap::from_pointee(HashMap::new()),
            recent_capacity,
        }
    }

    /// The current snapshot of `store_id`, if cached, noting `client` in the store's recent
    /// ring when that is on and free. Never blocks: one map load, one lookup, one snapshot load.
    pub(super) fn check(&self, store_id: &StoreId, client: Client) -> Option<Guard<Arc<Snapshot>>> {
        let stores = self.stores.load();
        let cache = stores.get(store_id)?;
        if self.recent_capacity > 0 {
            // A busy ring skips this sample rather than make a request wait.
            if let Ok(mut ring) = cache.recent.try_lock() {
                if ring.len() >= self.recent_capacity {
                    ring.pop_front();
                }
                ring.push_back(client);
            }
        }
        Some(cache.allowlist.load())
    }

    /// The current snapshot of `store_id`, if cached. Never blocks.
    #[cfg(test)]
    pub(super) fn snapshot(&self, store_id: &StoreId) -> Option<Guard<Arc<Snapshot>>> {
        self.stores.load().get(store_id).map(|s| s.allowlist.load())
    }

    /// The version cached for `store_id`, if any. Never blocks.
    pub(super) fn version(&self, store_id: &StoreId) -> Option<Version> {
        self.stores
            .load()
            .get(store_id)
            .map(|s| s.allowlist.load().version())
    }

    /// Every cached store with its cached version, in no particular order.
    pub(super) fn versions(&self) -> Vec<(StoreId, Version)> {
        self.stores
            .load()
            .iter()
            .map(|(id, s)| (id.clone(), s.allowlist.load().version()))
            .collect()
    }

    /// The distinct clients recently checked against `store_id`, newest first.
    pub(super) fn recent(&self, store_id: &StoreId) -> Vec<Client> {
        let stores = self.stores.load();
        let Some(cache) = stores.get(store_id) else {
            return Vec::new();
        };
        let Ok(ring) = cache.recent.lock() else {
            return Vec::new();
        };
        let mut out: Vec<Client> = Vec::new();
        for client in ring.iter().rev() {
            if !out.contains(client) {
                out.push(*client);
            }
        }
        out
    }

    /// Makes `list` at `version` the snapshot of `store_id`, unless a newer one is already
    /// there: versions only move forward, so a slow reader that loaded an old version cannot
    /// overwrite a change that committed after it.
    pub(super) fn publish(
        &self,
        store_id: &StoreId,
        list: &IpAllowlist,
        version: Version,
    ) -> Guard<Arc<Snapshot>> {
        let fresh = Arc::new(Snapshot {
            version,
            matcher: Matcher::new(list),
        });
        let cache = self.store_cache(store_id, &fresh);
        cache.allowlist.rcu(|current| {
            if current.version >= fresh.version {
                Arc::clone(current)
            } else {
                Arc::clone(&fresh)
            }
        });
        cache.allowlist.load()
    }

    /// The cache of `store_id`, inserting one that starts at `fresh` when absent.
    fn store_cache(&self, store_id: &StoreId, fresh: &Arc<Snapshot>) -> Arc<StoreCache> {
        if let Some(cache) = self.stores.load().get(store_id) {
            return Arc::clone(cache);
        }
        let candidate = Arc::new(StoreCache {
            allowlist: ArcSwap::new(Arc::clone(fresh)),
            recent: Mutex::new(VecDeque::with_capacity(self.recent_capacity)),
        });
        let mut winner = Arc::clone(&candidate);
        self.stores.rcu(|stores| {
            if let Some(existing) = stores.get(store_id) {
                winner = Arc::clone(existing);
                return Arc::clone(stores);
            }
            winner = Arc::clone(&candidate);
            let mut next = HashMap::clone(stores);
            next.insert(store_id.clone(), Arc::clone(&candidate));
            Arc::new(next)
        });
        winner
    }
}

impl Snapshot {
    pub(super) fn version(&self) -> Version {
        self.version
    }

    pub(super) fn decide(
        &self,
        ip: IpAddr,
        surface: Surface,
        now: DateTime<Utc>,
    ) -> IpDecision<'_> {
        self.matcher.decide(ip, surface, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse;

    fn list(enabled: bool) -> IpAllowlist {
        serde_json::from_value(serde_json::json!({
            "enabled": enabled, "applies_to": ["api"], "entries": []
        }))
        .unwrap()
    }

    #[test]
    fn an_older_version_published_late_never_replaces_a_newer_one() {
        let cache = Cache::new(4);
        let id = StoreId::new("store_a").unwrap();
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let ip = "192.0.2.1".parse().unwrap();
        cache.publish(&id, &list(true), Version::new(3));
        // A reader that loaded version 2 before the change committed publishes it late.
        let seen = cache.publish(&id, &list(false), Version::new(2));
        assert_eq!(seen.version(), Version::new(3));
        let snapshot = cache.snapshot(&id).unwrap();
        assert_eq!(snapshot.version(), Version::new(3));
        assert_eq!(snapshot.decide(ip, Surface::Api, now), IpDecision::Deny);
        cache.publish(&id, &list(false), Version::new(4));
        assert!(
            cache
                .snapshot(&id)
                .unwrap()
                .decide(ip, Surface::Api, now)
                .permits()
        );
    }

    #[test]
    fn the_recent_ring_keeps_the_newest_clients_without_repeats() {
        let cache = Cache::new(3);
        let id = StoreId::new("store_a").unwrap();
        cache.publish(&id, &list(true), Version::FIRST);
        let client = |last: u8| Client {
            ip: IpAddr::from([192, 0, 2, last]),
            surface: Surface::Api,
        };
        for last in [1, 2, 1, 3, 4] {
            let _ = cache.check(&id, client(last));
        }
        assert_eq!(cache.recent(&id), [client(4), client(3), client(1)]);
    }
}
