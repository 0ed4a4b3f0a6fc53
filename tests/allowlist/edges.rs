//! A seeded differential test aimed at the edges of the compiled matcher: keys 0 and the top
//! key of every width, `/0` networks, key sets spanning all of `u64`, 7 to 10 boundaries (the
//! tiny/indexed switch), buckets holding many more keys than a window, IPv6 prefixes longer
//! than /64 mixed with short ones, nesting and duplicates (naming), IPv4-mapped, -compatible
//! and NAT64 addresses, and expiring entries. Every answer is compared with the naive
//! [`check_ip`] scan and `ipnet` containment.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, TimeDelta, Utc};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use whale_security::allowlist::{
    Access, AllowlistEntry, Cidr, CidrSet, CompiledAllowlist, IpAllowlist, Label, Surface, check_ip,
};
use whale_security::id::EntryId;
use whale_security::set::NonEmptySet;
use whale_security::time;

fn now() -> DateTime<Utc> {
    time::parse("2026-03-10T12:00:00Z").unwrap()
}

/// A small seeded generator (xorshift64*), so every run builds the same lists and probes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn v4(addr: u32, len: u8) -> Cidr {
    let net = Ipv4Net::new(Ipv4Addr::from(addr), len.min(32))
        .unwrap()
        .trunc();
    Cidr::from_net(IpNet::V4(net)).unwrap()
}

fn v6(addr: u128, len: u8) -> Cidr {
    let net = Ipv6Net::new(Ipv6Addr::from(addr), len.min(128))
        .unwrap()
        .trunc();
    Cidr::from_net(IpNet::V6(net)).unwrap()
}

/// Networks at the ends of both spaces, of the 64-bit halves and of the mapped ranges.
const EDGE_CIDRS: &[&str] = &[
    "0.0.0.0/0",
    "0.0.0.0/32",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "255.255.255.255/32",
    "255.255.255.254/31",
    "255.255.255.0/24",
    "0.0.0.1/32",
    "::/0",
    "::/128",
    "::1/128",
    "::/64",
    "::/65",
    "0:0:0:1::/64",
    "::/96",
    "::/127",
    "::fffe:0:0/95",
    "::ffff:0:0/97",
    "::1:0:0:0/80",
    "64:ff9b::/96",
    "2002::/16",
    "8000::/1",
    "ffff:ffff:ffff:ffff::/64",
    "ffff:ffff:ffff:fffe::/64",
    "ffff:ffff:ffff:ffff:8000::/65",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127",
    "ffff:ffff:ffff:fffe::/63",
];

/// What kind of list a seed builds.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Edge networks with a few random ones.
    Edges,
    /// A handful of networks per family, so the boundary count sits around the window of 8.
    Switch,
    /// Long and short IPv6 prefixes sharing a few top-64-bit values.
    Split,
    /// Nested chains, same network under several entries.
    Nested,
    /// IPv4 networks beside IPv4-compatible, NAT64 and near-mapped IPv6 ones.
    Mapped,
    /// Many IPv4 hosts in one /24 plus outliers at both ends of the space.
    ClusterV4,
    /// Many IPv6 /64s in one /48 plus outliers at both ends of the space.
    ClusterV6,
}

/// A random IPv6 prefix length biased to the edges (0, 1, 63-65, 127, 128) and the 64 split.
fn v6_len(rng: &mut Rng) -> u8 {
    match rng.below(4) {
        0 => *rng.pick(&[0, 1, 2, 48, 63, 64, 65, 66, 96, 127, 128]),
        1 => 56 + rng.below(17) as u8,
        2 => 96 + rng.below(33) as u8,
        _ => rng.below(129) as u8,
    }
}

fn v4_len(rng: &mut Rng) -> u8 {
    match rng.below(3) {
        0 => *rng.pick(&[0, 1, 2, 8, 16, 24, 31, 32]),
        _ => rng.below(33) as u8,
    }
}

/// A few top-64-bit values for IPv6 networks to share, including the lowest and highest.
const HIGHS: &[u64] = &[
    0,
    1,
    0x2001_0db8_0000_0000,
    0x2001_0db8_0000_0001,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];

/// An IPv6 address whose top half is one of [`HIGHS`] and whose low half is near an edge.
fn clustered_v6(rng: &mut Rng) -> u128 {
    let high = u128::from(*rng.pick(HIGHS));
    let low = match rng.below(4) {
        0 => *rng.pick(&[0, 1, 1 << 63, (1 << 63) - 1, u64::MAX, u64::MAX - 1]),
        1 => rng.next() & 0xffff,
        2 => rng.next() | 0xffff_ffff_ffff_0000,
        _ => rng.next(),
    };
    (high << 64) | u128::from(low)
}

fn clustered_v4(rng: &mut Rng) -> u32 {
    match rng.below(4) {
        0 => *rng.pick(&[0, 1, u32::MAX, u32::MAX - 1, 0x8000_0000, 0x7fff_ffff]),
        1 => 0x0a00_0000 | (rng.next() as u32 & 0xffff),
        _ => rng.next() as u32,
    }
}

fn random_cidrs(rng: &mut Rng, kind: Kind) -> Vec<Cidr> {
    let mut out = Vec::new();
    match kind {
        Kind::Edges => {
            for _ in 0..rng.below(12) {
                out.push(rng.pick(EDGE_CIDRS).parse().unwrap());
            }
            for _ in 0..rng.below(6) {
                out.push(if rng.chance(50) {
                    v4(clustered_v4(rng), v4_len(rng))
                } else {
                    v6(clustered_v6(rng), v6_len(rng))
                });
            }
        }
        Kind::Switch => {
            // 1 to 6 networks per family: 2 to 12 boundaries, fewer where they touch.
            for _ in 0..=rng.below(6) {
                let len = 2 + rng.below(31) as u8;
                let addr = match rng.below(5) {
                    0 => 0,
                    1 => u32::MAX,
                    _ => rng.next() as u32,
                };
                out.push(v4(addr, len));
            }
            for _ in 0..=rng.below(6) {
                let len = if rng.chance(30) {
                    65 + rng.below(64) as u8
                } else {
                    1 + rng.below(64) as u8
                };
                let addr = match rng.below(5) {
                    0 => 0,
                    1 => u128::MAX,
                    2 => clustered_v6(rng),
                    _ => rng.u128(),
                };
                out.push(v6(addr, len));
            }
        }
        Kind::Split => {
            for _ in 0..1 + rng.below(40) {
                out.push(v6(clustered_v6(rng), v6_len(rng)));
            }
        }
        Kind::Nested => {
            for _ in 0..1 + rng.below(4) {
                if rng.chance(50) {
                    let addr = clustered_v4(rng);
                    let mut len = rng.below(8) as u8;
                    while len <= 32 {
                        for _ in 0..1 + rng.below(3) {
                            out.push(v4(addr, len));
                        }
                        len += 1 + rng.below(9) as u8;
                    }
                } else {
                    let addr = clustered_v6(rng);
                    let mut len = rng.below(16) as u8;
                    while len <= 128 {
                        for _ in 0..1 + rng.below(3) {
                            out.push(v6(addr, len));
                        }
                        len += 1 + rng.below(24) as u8;
                    }
                }
            }
        }
        Kind::Mapped => {
            for _ in 0..1 + rng.below(16) {
                let a = clustered_v4(rng);
                let len = v4_len(rng);
                out.push(match rng.below(5) {
                    0 => v4(a, len),
                    // IPv4-compatible, NAT64: stay IPv6.
                    1 => v6(u128::from(a), 96 + len),
                    2 => v6((0x0064_ff9b_u128 << 96) | u128::from(a), 96 + len),
                    // Just below and just above the mapped range.
                    3 => v6((0xfffe_u128 << 32) | u128::from(a), 94 + len.min(34)),
                    _ => v6((0x1_0000_u128 << 32) | u128::from(a), 90 + len),
                });
            }
        }
        Kind::ClusterV4 => {
            let net = rng.next() as u32 & 0xffff_ff00;
            for _ in 0..500 {
                out.push(v4(net | (rng.next() as u32 & 0xff), 32));
            }
            out.extend([v4(0, 32), v4(u32::MAX, 32), v4(net, 28)]);
            if rng.chance(50) {
                out.push(v4(net ^ 0x8000_0000, 8));
            }
        }
        Kind::ClusterV6 => {
            let net = u128::from(rng.next() & 0xffff_ffff_ffff_0000) << 64;
            for _ in 0..2000 {
                let sub = u128::from(rng.next() & 0xffff) << 64;
                let len = if rng.chance(5) {
                    65 + rng.below(64) as u8
                } else {
                    64
                };
                out.push(v6(net | sub | u128::from(rng.next()), len));
            }
            out.extend([
                v6(0, 64),
                v6(u128::MAX, 64),
                v6(u128::MAX, 128),
                v6(net, 52),
            ]);
        }
    }
    out
}

fn entry(i: usize, cidr: Cidr, expires_at: Option<DateTime<Utc>>) -> AllowlistEntry {
    AllowlistEntry {
        id: EntryId::new(format!("ip_{i}")).unwrap(),
        cidr,
        label: Label::default(),
        added_at: now(),
        expires_at,
    }
}

/// The list of `cidrs` in a shuffled order, some duplicated, some expiring: already expired,
/// expiring exactly `now` (so dead), or still live.
fn list_of(rng: &mut Rng, mut cidrs: Vec<Cidr>) -> IpAllowlist {
    for i in (1..cidrs.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        cidrs.swap(i, j);
    }
    let now = now();
    let second = TimeDelta::try_seconds(1).unwrap();
    let mut entries = Vec::new();
    for cidr in cidrs {
        let copies = if rng.chance(10) { 2 } else { 1 };
        for _ in 0..copies {
            let expires_at = match rng.below(20) {
                0 => Some(now - second),
                1 => Some(now),
                2 => Some(now + second),
                _ => None,
            };
            entries.push(entry(entries.len(), cidr, expires_at));
        }
    }
    IpAllowlist {
        enabled: true,
        applies_to: NonEmptySet::new(vec![Surface::Api, Surface::Dashboard]).unwrap(),
        entries,
    }
}

/// IPv4 key `k` in every form a client may send: plain, IPv4-mapped, IPv4-compatible, NAT64.
fn v4_forms(k: u32, out: &mut Vec<IpAddr>) {
    let a = Ipv4Addr::from(k);
    out.extend([
        IpAddr::V4(a),
        IpAddr::V6(a.to_ipv6_mapped()),
        IpAddr::V6(a.to_ipv6_compatible()),
        IpAddr::V6(Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(k))),
    ]);
}

fn v6_probe(k: u128, out: &mut Vec<IpAddr>) {
    out.push(IpAddr::V6(Ipv6Addr::from(k)));
    // Addresses that differ in the low half only, or the high half only by one.
    let (high, low) = (k >> 64, k & u128::from(u64::MAX));
    for h in [high.wrapping_sub(1) & u128::from(u64::MAX), high + 1] {
        if h <= u128::from(u64::MAX) {
            out.push(IpAddr::V6(Ipv6Addr::from((h << 64) | low)));
        }
    }
}

/// Every network's first and last address and their neighbours, a random inner address, the
/// ends of both spaces and of every 64-bit half, and random addresses.
fn probes(rng: &mut Rng, list: &IpAllowlist) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for k in [0, 1, u32::MAX - 1, u32::MAX, 0x7fff_ffff, 0x8000_0000] {
        v4_forms(k, &mut out);
    }
    for &high in HIGHS {
        for low in [0, 1, u64::MAX - 1, u64::MAX, 1 << 63] {
            v6_probe((u128::from(high) << 64) | u128::from(low), &mut out);
        }
    }
    for e in &list.entries {
        match e.cidr.net() {
            IpNet::V4(n) => {
                let (first, last) = (u32::from(n.network()), u32::from(n.broadcast()));
                let inner = first | (rng.next() as u32 & !u32::from(n.netmask()));
                for k in [
                    first.wrapping_sub(1),
                    first,
                    last,
                    last.wrapping_add(1),
                    inner,
                ] {
                    v4_forms(k, &mut out);
                }
            }
            IpNet::V6(n) => {
                let (first, last) = (u128::from(n.network()), u128::from(n.broadcast()));
                let inner = first | (rng.u128() & !u128::from(n.netmask()));
                for k in [
                    first.wrapping_sub(1),
                    first,
                    last,
                    last.wrapping_add(1),
                    inner,
                ] {
                    v6_probe(k, &mut out);
                }
            }
        }
    }
    for _ in 0..32 {
        v4_forms(rng.next() as u32, &mut out);
        v6_probe(clustered_v6(rng), &mut out);
        v6_probe(rng.u128(), &mut out);
    }
    out
}

/// The reference membership: a live entry containing the canonical address, by `ipnet`.
fn naive_contains<'a>(
    entries: impl IntoIterator<Item = &'a AllowlistEntry>,
    ip: IpAddr,
    now: DateTime<Utc>,
) -> bool {
    let ip = ip.to_canonical();
    entries
        .into_iter()
        .any(|e| e.expires_at.is_none_or(|t| now < t) && e.cidr.net().contains(&ip))
}

/// Builds one list from `seed` and checks every probe every way; returns the probe count.
fn check_seed(seed: u64, kind: Kind, max_probes: usize) -> usize {
    let mut rng = Rng::new(seed);
    let cidrs = random_cidrs(&mut rng, kind);
    let list = list_of(&mut rng, cidrs);
    let compiled = CompiledAllowlist::new(&list);
    let permanent: Vec<&AllowlistEntry> = list
        .entries
        .iter()
        .filter(|e| e.expires_at.is_none())
        .collect();
    let set = CidrSet::new(permanent.iter().map(|e| e.cidr));
    let now = now();
    let mut ips = probes(&mut rng, &list);
    if ips.len() > max_probes {
        // A seeded sample keeps the huge lists fast in debug; the edges of the space stay.
        let keep = ips.split_off(120);
        let step = keep.len().div_ceil(max_probes);
        let offset = rng.below(step as u64) as usize;
        ips.extend(keep.into_iter().skip(offset).step_by(step));
    }
    let context = |ip: IpAddr| {
        format!(
            "seed {seed} ({kind:?}), ip {ip}, list {:?}",
            cidrs_of(&list)
        )
    };
    for &ip in &ips {
        let reference = check_ip(&list, ip, Surface::Api, now);
        let named = compiled.check_ip(ip, Surface::Api, now);
        if named != reference {
            panic!(
                "check_ip: got {named:?}, want {reference:?}; {}",
                context(ip)
            );
        }
        let plain = compiled.check(ip, Surface::Api, now);
        let want = if reference.permits() {
            Access::Allow
        } else {
            Access::Deny
        };
        assert_eq!(plain, want, "check; {}", context(ip));
        assert_eq!(
            want == Access::Allow,
            naive_contains(&list.entries, ip, now),
            "reference disagrees with ipnet; {}",
            context(ip)
        );
        let in_set = naive_contains(permanent.iter().copied(), ip, now);
        assert_eq!(
            set.contains(ip),
            in_set,
            "CidrSet::contains; {}",
            context(ip)
        );
        match ip {
            IpAddr::V4(a) => assert_eq!(set.contains_v4(a), in_set, "contains_v4; {}", context(ip)),
            IpAddr::V6(a) if a.to_ipv4_mapped().is_none() => {
                assert_eq!(set.contains_v6(a), in_set, "contains_v6; {}", context(ip));
            }
            IpAddr::V6(_) => {}
        }
    }
    let mut many = Vec::new();
    compiled.check_many(&ips, Surface::Api, now, &mut many);
    assert_eq!(many.len(), ips.len());
    for (ip, got) in ips.iter().zip(&many) {
        assert_eq!(
            *got,
            compiled.check(*ip, Surface::Api, now),
            "check_many; {}",
            context(*ip)
        );
    }
    let mut contains = Vec::new();
    set.contains_many(&ips, &mut contains);
    for (ip, got) in ips.iter().zip(&contains) {
        assert_eq!(*got, set.contains(*ip), "contains_many; {}", context(*ip));
    }
    ips.len()
}

fn cidrs_of(list: &IpAllowlist) -> Vec<String> {
    if list.entries.len() > 64 {
        return vec![format!("({} entries)", list.entries.len())];
    }
    list.entries
        .iter()
        .map(|e| {
            let dead = if e.expires_at.is_some_and(|t| t <= now()) {
                " (expired)"
            } else if e.expires_at.is_some() {
                " (expiring)"
            } else {
                ""
            };
            format!("{}{dead}", e.cidr)
        })
        .collect()
}

#[test]
fn random_edge_lists_get_the_naive_scans_answer_and_entry_for_every_probe() {
    let kinds = [
        Kind::Edges,
        Kind::Switch,
        Kind::Split,
        Kind::Nested,
        Kind::Mapped,
    ];
    let mut probed = 0;
    for seed in 0..900u64 {
        probed += check_seed(seed, kinds[seed as usize % kinds.len()], usize::MAX);
    }
    assert!(probed > 60_000, "{probed} probes");
}

#[test]
fn clustered_lists_overflowing_a_bucket_get_the_naive_scans_answer() {
    for seed in 0..2u64 {
        check_seed(10_000 + seed, Kind::ClusterV4, 4000);
        check_seed(20_000 + seed, Kind::ClusterV6, 2000);
    }
}

/// `n` disjoint, non-adjacent /16s (`2n` boundaries), optionally the first or last /16 of the
/// space among them (the top one has no end boundary).
fn spaced_v4(n: u32, low: bool, high: bool) -> Vec<Cidr> {
    let mut out: Vec<Cidr> = (0..n).map(|i| v4(0x1000_0000 + (i << 20), 16)).collect();
    if low {
        out[0] = v4(0, 16);
    }
    if high {
        let last = out.len() - 1;
        out[last] = v4(0xffff_0000, 16);
    }
    out
}

#[test]
fn seven_eight_and_nine_boundaries_answer_alike_at_both_ends_of_the_space() {
    let mut rng = Rng::new(7);
    for n in 1..=6 {
        for (low, high) in [(false, false), (true, false), (false, true), (true, true)] {
            let v4s = spaced_v4(n, low, high);
            // The same shapes in IPv6, on the top 64 bits and below /64.
            let v6s: Vec<Cidr> = v4s
                .iter()
                .map(|c| match c.net() {
                    IpNet::V4(n) => v6(
                        u128::from(u32::from(n.network())) << 96
                            | if u32::from(n.network()) == 0xffff_0000 {
                                0xffff_u128 << 80
                            } else {
                                0
                            },
                        n.prefix_len() + 32,
                    ),
                    IpNet::V6(n) => panic!("{n} is not IPv4"),
                })
                .collect();
            let long: Vec<Cidr> = v6s
                .iter()
                .map(|c| match c.net() {
                    IpNet::V6(n) => v6(u128::from(n.network()), 100),
                    IpNet::V4(n) => panic!("{n} is not IPv6"),
                })
                .collect();
            for cidrs in [v4s.clone(), v6s.clone(), [v4s, v6s, long].concat()] {
                let list = IpAllowlist {
                    enabled: true,
                    applies_to: NonEmptySet::new(vec![Surface::Api]).unwrap(),
                    entries: cidrs
                        .iter()
                        .enumerate()
                        .map(|(i, c)| entry(i, *c, None))
                        .collect(),
                };
                let compiled = CompiledAllowlist::new(&list);
                let set = CidrSet::new(cidrs.iter().copied());
                for ip in probes(&mut rng, &list) {
                    let want = check_ip(&list, ip, Surface::Api, now());
                    assert_eq!(
                        compiled.check_ip(ip, Surface::Api, now()),
                        want,
                        "{ip} in {cidrs:?}"
                    );
                    assert_eq!(set.contains(ip), want.permits(), "{ip} in {cidrs:?}");
                }
            }
        }
    }
}

#[test]
fn a_key_set_spanning_all_of_u64_matches_only_its_own_networks() {
    // First and last /64s at and next to both ends of the 64-bit key space, so the keys span
    // all of `u64`, all but one, or all but two (the raw, 64-bit and capped paths).
    let ends: [[&str; 2]; 4] = [
        ["::/64", "ffff:ffff:ffff:ffff::/64"],
        ["0:0:0:1::/64", "ffff:ffff:ffff:ffff::/64"],
        ["::/64", "ffff:ffff:ffff:fffe::/64"],
        ["0:0:0:2::/64", "ffff:ffff:ffff:fffd::/64"],
    ];
    let middle: Vec<Cidr> = [
        "2001:db8::/64",
        "2001:db8:0:2::/64",
        "4000::/64",
        "8000::/64",
        "9000::/64",
        "a000::/64",
        "c000::/64",
        "e000::/64",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    // Two networks (3 or 4 boundaries), then past the window, and with a long one (Split).
    for end in ends {
        for n in [0, 3, 4, 8] {
            for extra_long in [false, true] {
                let mut cidrs: Vec<Cidr> = end.iter().map(|s| s.parse().unwrap()).collect();
                cidrs.extend(&middle[..n]);
                if extra_long {
                    cidrs.push("7777::1/128".parse().unwrap());
                }
                let list = IpAllowlist {
                    enabled: true,
                    applies_to: NonEmptySet::new(vec![Surface::Api]).unwrap(),
                    entries: cidrs
                        .iter()
                        .enumerate()
                        .map(|(i, c)| entry(i, *c, None))
                        .collect(),
                };
                let compiled = CompiledAllowlist::new(&list);
                let set = CidrSet::new(cidrs.iter().copied());
                let mut ips: Vec<IpAddr> = [
                    "::",
                    "::1",
                    "0:0:0:1::",
                    "0:0:0:2::",
                    "0:0:0:2:ffff:ffff:ffff:ffff",
                    "0:0:0:3::",
                    "0:0:0:0:ffff:ffff:ffff:ffff",
                    "ffff:ffff:ffff:fffd::",
                    "ffff:ffff:ffff:fffd:ffff:ffff:ffff:ffff",
                    "ffff:ffff:ffff:fffe::",
                    "ffff:ffff:ffff:fffe:ffff:ffff:ffff:ffff",
                    "ffff:ffff:ffff:ffff::",
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                    "7777::1",
                    "7777::2",
                    "8000::5",
                    "8000:0:0:1::",
                ]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
                ips.extend(probes(&mut Rng::new(n as u64), &list));
                for ip in ips {
                    let want = check_ip(&list, ip, Surface::Api, now());
                    assert_eq!(
                        compiled.check_ip(ip, Surface::Api, now()),
                        want,
                        "{ip} in {cidrs:?}"
                    );
                    assert_eq!(set.contains(ip), want.permits(), "{ip} in {cidrs:?}");
                }
            }
        }
    }
}
