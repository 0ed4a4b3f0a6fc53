//! The per-store allowlist cache of the hot path, swapped atomically on change.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use chrono::{DateTime, Utc};

use super::Client;
use crate::allowlist::{IpAllowlist, IpDecision, Surface, check_ip};
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

/// The matcher the hot path runs.
///
/// SHORTCOMING: this is the stored list itself, matched by the linear scan of
/// [`check_ip`] (O(entries) per request). When the allowlist module's compiled matcher lands,
/// this wrapper holds it instead; nothing outside this struct changes.
struct Matcher(IpAllowlist);

impl Matcher {
    fn new(list: &IpAllowlist) -> Self {
        Self(list.clone())
    }

    fn decide(&self, ip: IpAddr, surface: Surface, now: DateTime<Utc>) -> IpDecision<'_> {
        check_ip(&self.0, ip, surface, now)
    }
}

impl Cache {
    pub(super) fn new(recent_capacity: usize) -> Self {
        Self {
            stores: ArcSwap::from_pointee(HashMap::new()),
            recent_capacity,
        }
    }

    /// The current snapshot of `store_id`, if cached. Never blocks.
    pub(super) fn snapshot(&self, store_id: &StoreId) -> Option<Guard<Arc<Snapshot>>> {
        self.stores.load().get(store_id).map(|s| s.allowlist.load())
    }

    /// Notes that `client` was checked, if the ring is on and free; never waits for it.
    pub(super) fn record(&self, store_id: &StoreId, client: Client) {
        if self.recent_capacity == 0 {
            return;
        }
        let stores = self.stores.load();
        let Some(cache) = stores.get(store_id) else {
            return;
        };
        // A busy ring skips this sample rather than make a request wait.
        if let Ok(mut ring) = cache.recent.try_lock() {
            if ring.len() >= self.recent_capacity {
                ring.pop_front();
            }
            ring.push_back(client);
        }
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
