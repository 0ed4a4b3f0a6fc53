//! The compiled allowlist: built once per settings version, then shared by every request.
//! The design, complexity and sizes are documented on the parent module.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use super::matcher::{self, IntervalSet, Probe};
use super::ranked::{NO_ENTRY, Ranked};
use super::{AllowlistEntry, Cidr, IpAllowlist, IpDecision, NotEnforcedReason, Surface};

/// An immutable set of networks with a fast membership test: the allow/deny structure of a
/// [`CompiledAllowlist`], usable alone for other lists (trusted proxies, block lists).
///
/// `Send + Sync`; lookups do not allocate or lock. See the [module docs](super) for the layout.
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::{CidrSet, parse_cidr, parse_ip};
///
/// let set = CidrSet::new(["203.0.113.0/24", "2001:db8::/32", "198.51.100.4"]
///     .into_iter()
///     .map(parse_cidr)
///     .collect::<Result<Vec<_>, _>>()?);
/// assert!(set.contains(parse_ip("203.0.113.255")?));
/// assert!(set.contains("::ffff:203.0.113.9".parse()?)); // IPv4-mapped is IPv4
/// assert!(!set.contains("::203.0.113.9".parse()?)); // IPv4-compatible is not
/// assert!(!set.contains(parse_ip("198.51.100.5")?));
///
/// let everything = CidrSet::new([parse_cidr("0.0.0.0/0")?, parse_cidr("::/0")?]);
/// assert!(everything.contains(parse_ip("255.255.255.255")?));
/// assert!(everything.contains(parse_ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CidrSet {
    v4: IntervalSet,
    v6: IntervalSet,
    prefixes: usize,
}

impl CidrSet {
    /// Builds the set of the given networks (duplicates and overlaps are fine).
    pub fn new(cidrs: impl IntoIterator<Item = Cidr>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for cidr in cidrs {
            match cidr.net() {
                IpNet::V4(n) => v4.push((u32::from(n.network()), n.prefix_len())),
                IpNet::V6(n) => v6.push((u128::from(n.network()), n.prefix_len())),
            }
        }
        let prefixes = v4.len().saturating_add(v6.len());
        Self {
            v4: IntervalSet::v4(&mut v4),
            v6: IntervalSet::v6(&v6),
            prefixes,
        }
    }

    /// Whether `ip` is in one of the networks. `::ffff:a.b.c.d` is looked up as `a.b.c.d`.
    #[inline(always)]
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match Probe::of(ip) {
            Probe::V4(key) => self.v4.contains_v4(key),
            Probe::V6(key) => self.v6.contains_v6(key),
        }
    }

    /// Whether the IPv4 address is in one of the networks.
    #[inline]
    #[must_use]
    pub fn contains_v4(&self, ip: Ipv4Addr) -> bool {
        self.v4.contains_v4(u32::from(ip))
    }

    /// Whether the IPv6 address is in one of the networks. It is *not* canonicalized: call
    /// [`contains`](Self::contains) for client addresses that may be IPv4-mapped.
    #[inline]
    #[must_use]
    pub fn contains_v6(&self, ip: Ipv6Addr) -> bool {
        self.v6.contains_v6(u128::from(ip))
    }

    /// Looks up many addresses at once: `out[i]` is `contains(ips[i])`. `out` is cleared
    /// first; it allocates only when its capacity is too small.
    ///
    /// The choice between the set's layouts (a handful of boundaries or a directory, per
    /// family) is made once for the whole batch rather than per address, so the loop holds
    /// only the lookups. Unless the set touches nearly all of the top 16 address bits, a block
    /// of addresses that a sample shows to be mostly far from it skips the search for each
    /// address a bitmap of those bits (or of the top 20) rules out; other blocks take the
    /// branch-free search, as [`contains`](Self::contains) does. Same answers either way.
    ///
    /// Known cost: a batch over a list whose searches run side by side (large IPv6 lists) holds
    /// about 45 KiB of per-block arrays on the stack (keys and positions of 1 024 addresses).
    /// Threads with the usual 2 MiB stack (std's default, tokio's workers) have room; a thread
    /// spawned with a very small stack should call [`contains`](Self::contains) instead.
    pub fn contains_many(&self, ips: &[IpAddr], out: &mut Vec<bool>) {
        out.clear();
        out.resize(ips.len(), false);
        matcher::contains_each(&self.v4, &self.v6, ips, out, |found| found);
    }

    /// The number of networks the set was built from (before merging).
    #[must_use]
    pub fn prefix_count(&self) -> usize {
        self.prefixes
    }

    /// The number of disjoint intervals left after merging, IPv4 and IPv6.
    #[must_use]
    pub fn interval_count(&self) -> (usize, usize) {
        (self.v4.intervals(), self.v6.intervals())
    }

    /// The bytes the lookup structure occupies (both families).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.v4.bytes().saturating_add(self.v6.bytes())
    }
}

impl std::fmt::Debug for CidrSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (v4, v6) = self.interval_count();
        f.debug_struct("CidrSet")
            .field("prefixes", &self.prefixes)
            .field("ipv4_intervals", &v4)
            .field("ipv6_intervals", &v6)
            .finish()
    }
}

/// The plain answer of [`CompiledAllowlist::check`]: like [`IpDecision`] without naming the
/// entry, so it costs only the set lookup.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Access {
    /// Some live entry contains the address.
    Allow,
    /// The list is enforced on this surface and no live entry contains the address.
    Deny,
    /// The list does not apply to this request.
    NotEnforced {
        /// Why not.
        reason: NotEnforcedReason,
    },
}

impl Access {
    /// `Allow` if `found`, else `Deny`, as a select rather than a branch: a stream of mixed
    /// hits and misses would mispredict a branch about half the time.
    #[inline(always)]
    fn of(found: bool) -> Self {
        std::hint::select_unpredictable(found, Self::Allow, Self::Deny)
    }

    /// Whether the request may proceed (allowed, or not enforced).
    #[must_use]
    pub fn permits(self) -> bool {
        !matches!(self, Self::Deny)
    }
}

/// An [`IpAllowlist`] compiled for fast checks: build it once per settings version and share
/// it (`Send + Sync`, e.g. behind an `Arc`); every check is allocation- and lock-free.
///
/// It answers exactly as [`check_ip`](super::check_ip) on the list it was built from.
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::*;
///
/// let list: IpAllowlist = serde_json::from_str(r#"{
///     "enabled": true, "applies_to": ["api"],
///     "entries": [
///       {"id": "ip_wide", "cidr": "203.0.113.0/24", "added_at": "2026-03-10T10:00:00.000Z"},
///       {"id": "ip_desk", "cidr": "203.0.113.7", "added_at": "2026-03-10T10:00:00.000Z"},
///       {"id": "ip_temp", "cidr": "198.51.100.0/24", "added_at": "2026-03-10T10:00:00.000Z",
///        "expires_at": "2026-03-11T00:00:00.000Z"}
///     ]
/// }"#)?;
/// let compiled = CompiledAllowlist::new(&list);
/// let before = whale_security::time::parse("2026-03-10T23:59:59Z")?;
/// let at_expiry = whale_security::time::parse("2026-03-11T00:00:00Z")?;
///
/// // The most specific entry is named; IPv4-mapped IPv6 is the IPv4 address.
/// match compiled.check_ip(parse_ip("::ffff:203.0.113.7")?, Surface::Api, before) {
///     IpDecision::Allow { entry } => assert_eq!(entry.id.as_str(), "ip_desk"),
///     other => panic!("{other:?}"),
/// }
/// // The plain path gives the same answer without naming the entry.
/// assert_eq!(compiled.check(parse_ip("203.0.113.9")?, Surface::Api, before), Access::Allow);
///
/// // An expiring entry matches until, not at, its `expires_at`.
/// assert_eq!(compiled.check(parse_ip("198.51.100.1")?, Surface::Api, before), Access::Allow);
/// assert_eq!(compiled.check(parse_ip("198.51.100.1")?, Surface::Api, at_expiry), Access::Deny);
///
/// // The dashboard is not guarded by this list.
/// assert!(matches!(
///     compiled.check(parse_ip("192.0.2.1")?, Surface::Dashboard, before),
///     Access::NotEnforced { .. }
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct CompiledAllowlist {
    enabled: bool,
    api: bool,
    dashboard: bool,
    /// The entries, in list order (indexes of `ranked_*` and `expiring` point here).
    entries: Box<[AllowlistEntry]>,
    /// The non-expiring entries, as a set.
    set: CidrSet,
    /// The non-expiring entries, for naming the most specific one.
    ranked_v4: RankedDebug,
    ranked_v6: RankedDebug,
    /// Indexes of the entries with an `expires_at`.
    expiring: Box<[u32]>,
    /// For the API and the dashboard: whether the list is enforced there and has no expiring
    /// entry, so that the set lookup alone is the answer.
    set_decides: [bool; 2],
}

impl CompiledAllowlist {
    /// Compiles `list`, copying its entries (so the matched entry can be named). `O(n log n)`
    /// in the number of entries. [`from_list`](Self::from_list) takes the list instead and
    /// copies nothing, which is much faster on long lists.
    #[must_use]
    pub fn new(list: &IpAllowlist) -> Self {
        Self::from_list(list.clone())
    }

    /// Compiles `list`, keeping its entries without copying them. `O(n log n)` in the number of
    /// entries.
    #[must_use]
    pub fn from_list(list: IpAllowlist) -> Self {
        let mut permanent = Vec::new();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut expiring = Vec::new();
        // Entry indexes are u32. Known shortcoming: entries from index u32::MAX - 1 on are
        // not compiled and never match (fail closed). Unreachable in practice: stored lists
        // hold at most `IpAllowlist::MAX_ENTRIES`, and four billion entries do not fit in
        // memory.
        for (i, entry) in list.entries.iter().enumerate() {
            let Ok(index) = u32::try_from(i) else { break };
            if index == NO_ENTRY {
                break;
            }
            if entry.expires_at.is_some() {
                expiring.push(index);
                continue;
            }
            permanent.push(entry.cidr);
            match entry.cidr.net() {
                IpNet::V4(n) => v4.push((u32::from(n.network()), n.prefix_len(), index)),
                IpNet::V6(n) => v6.push((u128::from(n.network()), n.prefix_len(), index)),
            }
        }
        Self {
            enabled: list.enabled,
            api: list.applies_to.contains(Surface::Api),
            dashboard: list.applies_to.contains(Surface::Dashboard),
            entries: list.entries.into_boxed_slice(),
            set: CidrSet::new(permanent),
            ranked_v4: RankedDebug(Ranked::v4(&mut v4)),
            ranked_v6: RankedDebug(Ranked::v6(&v6)),
            set_decides: [Surface::Api, Surface::Dashboard].map(|surface| {
                list.enabled && list.applies_to.contains(surface) && expiring.is_empty()
            }),
            expiring: expiring.into_boxed_slice(),
        }
    }

    /// Decides whether `ip` may pass, without naming the entry (the fastest path).
    ///
    /// The address is canonicalized (`::ffff:a.b.c.d` is `a.b.c.d`); an entry matches while
    /// `now < expires_at`. An enabled list without live entries denies everyone.
    // Always inlined, as the set lookup inside it is: left to the compiler, a caller's loop
    // kept the call (3 IPv4 prefixes: 3.6 -> 2.8 ns per lookup once inlined).
    #[inline(always)]
    pub fn check(&self, ip: IpAddr, surface: Surface, now: DateTime<Utc>) -> Access {
        // The lookup comes first, then one flag decides whether it is the whole answer (the
        // usual case): one predictable branch instead of three, with `found` deciding none.
        // Testing the flag first measured no faster, and made the compiler branch on `found`
        // (3 IPv4 prefixes at 50 % hits: 3.6 -> 8.9 ns); as written, 10 000 IPv4 prefixes
        // went from 7.6 to 6.7 ns at 50 % hits and from 6.6 to 5.7 at 1 %.
        let found = self.set.contains(ip);
        let whole = match surface {
            Surface::Api => self.set_decides[0],
            Surface::Dashboard => self.set_decides[1],
        };
        if whole {
            return Access::of(found);
        }
        if let Some(reason) = self.not_enforced(surface) {
            return Access::NotEnforced { reason };
        }
        self.with_expiring(found, ip, now)
    }

    /// The answer on a surface the list applies to, given whether the set of non-expiring
    /// entries contains `ip`: the expiring entries live at `now` are checked only when it
    /// does not.
    // Inlined like `check`, whose tail it is: left as a call, it made the compiler give up
    // inlining the lookup in `check` (3 IPv4 prefixes: 2.8 -> 9.8 ns per lookup).
    #[inline(always)]
    fn with_expiring(&self, found: bool, ip: IpAddr, now: DateTime<Utc>) -> Access {
        Access::of(found || self.live_expiring(ip.to_canonical(), now).next().is_some())
    }

    /// Decides many requests on one surface at once: `out[i]` is `check(ips[i], ..)`. `out`
    /// is cleared first and allocates only when its capacity is too small.
    ///
    /// As [`CidrSet::contains_many`], the set's layout is chosen once per batch (measured
    /// figures in `BENCHMARKS.md`), with the same stack cost (about 45 KiB). A list with any entry carrying an `expires_at`, even a
    /// long-expired one, is checked address by address as [`check`](Self::check) does.
    pub fn check_many(
        &self,
        ips: &[IpAddr],
        surface: Surface,
        now: DateTime<Utc>,
        out: &mut Vec<Access>,
    ) {
        out.clear();
        if let Some(reason) = self.not_enforced(surface) {
            out.extend(ips.iter().map(|_| Access::NotEnforced { reason }));
            return;
        }
        if self.expiring.is_empty() {
            out.resize(ips.len(), Access::Deny);
            let (v4, v6) = (&self.set.v4, &self.set.v6);
            matcher::contains_each(v4, v6, ips, out, Access::of);
        } else {
            out.extend(
                ips.iter()
                    .map(|ip| self.with_expiring(self.set.contains(*ip), *ip, now)),
            );
        }
    }

    /// Decides whether `ip` may pass and names the most specific live entry containing it
    /// (longest prefix; among equal networks, the first in list order).
    ///
    /// Same answers as [`check_ip`](super::check_ip) on the source list.
    // Always inlined, as `check` is (3 IPv4 prefixes at 50 % hits: 14.5 -> 9.9 ns per lookup).
    #[inline(always)]
    pub fn check_ip(&self, ip: IpAddr, surface: Surface, now: DateTime<Utc>) -> IpDecision<'_> {
        if let Some(reason) = self.not_enforced(surface) {
            return IpDecision::NotEnforced { reason };
        }
        let fast = match Probe::of(ip) {
            Probe::V4(key) => self.ranked_v4.0.lookup_v4(key),
            Probe::V6(key) => self.ranked_v6.0.lookup_v6(key),
        };
        let mut best = self.entry(fast).map(|e| (fast, e));
        if self.expiring.is_empty() {
            return best.map_or(IpDecision::Deny, |(_, entry)| IpDecision::Allow { entry });
        }
        for (index, entry) in self.live_expiring(ip.to_canonical(), now) {
            let wins = best.is_none_or(|(b_index, b)| {
                let (len, b_len) = (entry.cidr.prefix_len(), b.cidr.prefix_len());
                len > b_len || (len == b_len && index < b_index)
            });
            if wins {
                best = Some((index, entry));
            }
        }
        best.map_or(IpDecision::Deny, |(_, entry)| IpDecision::Allow { entry })
    }

    /// The entries, in list order.
    #[must_use]
    pub fn entries(&self) -> &[AllowlistEntry] {
        &self.entries
    }

    /// The allow/deny structure of the non-expiring entries.
    #[must_use]
    pub fn set(&self) -> &CidrSet {
        &self.set
    }

    /// The bytes held by the lookup structures (the set, the naming segments and the side
    /// list; not the entries themselves).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.set
            .heap_bytes()
            .saturating_add(self.ranked_v4.0.bytes())
            .saturating_add(self.ranked_v6.0.bytes())
            .saturating_add(self.expiring.len().saturating_mul(size_of::<u32>()))
    }

    fn not_enforced(&self, surface: Surface) -> Option<NotEnforcedReason> {
        if !self.enabled {
            return Some(NotEnforcedReason::Disabled);
        }
        let covered = match surface {
            Surface::Api => self.api,
            Surface::Dashboard => self.dashboard,
        };
        (!covered).then_some(NotEnforcedReason::SurfaceNotCovered)
    }

    fn entry(&self, index: u32) -> Option<&AllowlistEntry> {
        if index == NO_ENTRY {
            return None;
        }
        self.entries.get(usize::try_from(index).ok()?)
    }

    /// The expiring entries live at `now` that contain the (canonical) `ip`, in list order.
    fn live_expiring(
        &self,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = (u32, &AllowlistEntry)> {
        self.expiring
            .iter()
            .filter_map(|&i| Some((i, self.entry(i)?)))
            .filter(move |(_, e)| {
                e.expires_at.is_none_or(|t| now < t) && e.cidr.net().contains(&ip)
            })
    }
}

/// Wraps [`Ranked`] for a short `Debug`.
#[derive(Clone)]
struct RankedDebug(Ranked);

impl std::fmt::Debug for RankedDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ranked({} bytes)", self.0.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn compiled_structures_are_send_and_sync() {
        assert_send_sync::<CidrSet>();
        assert_send_sync::<CompiledAllowlist>();
    }
}
