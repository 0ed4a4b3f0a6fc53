//! `CompiledAllowlist` and `CidrSet` agree with a naive scan over `ipnet`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, TimeDelta, Utc};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use whale_security::allowlist::{
    Access, AllowlistEntry, Cidr, CidrSet, CompiledAllowlist, IpAllowlist, IpDecision, Label,
    Surface, check_ip,
};
use whale_security::id::EntryId;
use whale_security::set::NonEmptySet;
use whale_security::time;

fn now() -> DateTime<Utc> {
    time::parse("2026-03-10T12:00:00Z").unwrap()
}

/// The reference: every live entry containing the canonical address, scanned with `ipnet`.
fn naive_contains(entries: &[AllowlistEntry], ip: IpAddr, now: DateTime<Utc>) -> bool {
    let ip = ip.to_canonical();
    entries
        .iter()
        .any(|e| e.expires_at.is_none_or(|t| now < t) && IpNet::from(e.cidr).contains(&ip))
}

fn list_of(entries: Vec<AllowlistEntry>) -> IpAllowlist {
    IpAllowlist {
        enabled: true,
        applies_to: NonEmptySet::new(vec![Surface::Api, Surface::Dashboard]).unwrap(),
        entries,
    }
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

/// Checks one address every way against the reference.
fn assert_agrees(list: &IpAllowlist, compiled: &CompiledAllowlist, set: &CidrSet, ip: IpAddr) {
    let now = now();
    let want = naive_contains(&list.entries, ip, now);
    let plain = compiled.check(ip, Surface::Api, now);
    assert_eq!(plain == Access::Allow, want, "check({ip})");
    let named = compiled.check_ip(ip, Surface::Api, now);
    let reference = check_ip(list, ip, Surface::Api, now);
    assert_eq!(named, reference, "check_ip({ip})");
    if let IpDecision::Allow { entry } = named {
        assert!(entry.cidr.contains(ip));
    }
    let permanent: Vec<AllowlistEntry> = list
        .entries
        .iter()
        .filter(|e| e.expires_at.is_none())
        .cloned()
        .collect();
    assert_eq!(
        set.contains(ip),
        naive_contains(&permanent, ip, now),
        "set({ip})"
    );
}

/// A network from raw bits: a few fixed high patterns so that random prefixes overlap.
fn cidr_from(v6: bool, bits: u128, len: u8) -> Cidr {
    let net = if v6 {
        let len = len % 129;
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits), len).unwrap().trunc())
    } else {
        let len = len % 33;
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(bits as u32), len)
                .unwrap()
                .trunc(),
        )
    };
    Cidr::from_net(net).unwrap()
}

fn bits_strategy() -> impl Strategy<Value = u128> {
    prop_oneof![
        any::<u128>(),
        // Clustered: few distinct high bits, so prefixes nest and overlap.
        (0u128..4, any::<u128>()).prop_map(|(hi, lo)| (hi << 126) | (lo >> 100)),
        (0u128..4, any::<u32>()).prop_map(|(hi, lo)| (hi << 30) | u128::from(lo >> 8)),
        Just(0u128),
        Just(u128::MAX),
        Just(u128::from(u32::MAX)),
    ]
}

fn len_strategy() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        Just(0u8),
        Just(32),
        Just(128),
        20u8..30,
        100u8..129
    ]
}

fn entries_strategy() -> impl Strategy<Value = Vec<(bool, u128, u8, u8)>> {
    prop::collection::vec(
        (any::<bool>(), bits_strategy(), len_strategy(), 0u8..8),
        0..40,
    )
}

fn build(raw: &[(bool, u128, u8, u8)]) -> IpAllowlist {
    let now = now();
    let mut entries = Vec::new();
    for (i, &(v6, bits, len, expiry)) in raw.iter().enumerate() {
        // Mostly permanent; some expired, some expiring exactly now, some still live.
        let expires_at = match expiry {
            0 => Some(now - TimeDelta::try_seconds(1).unwrap()),
            1 => Some(now),
            2 => Some(now + TimeDelta::try_seconds(1).unwrap()),
            _ => None,
        };
        entries.push(entry(i, cidr_from(v6, bits, len), expires_at));
        // Duplicates, on purpose.
        if i % 7 == 3 {
            entries.push(entry(i + 10_000, cidr_from(v6, bits, len), None));
        }
    }
    list_of(entries)
}

/// Addresses worth probing: each network's first and last address and their neighbours, in
/// both IPv4 and IPv4-mapped IPv6 forms.
fn probes(list: &IpAllowlist) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for e in &list.entries {
        match e.cidr.net() {
            IpNet::V4(n) => {
                let (first, last) = (u32::from(n.network()), u32::from(n.broadcast()));
                for k in [first.wrapping_sub(1), first, last, last.wrapping_add(1)] {
                    let a = Ipv4Addr::from(k);
                    out.push(IpAddr::V4(a));
                    out.push(IpAddr::V6(a.to_ipv6_mapped()));
                    out.push(IpAddr::V6(a.to_ipv6_compatible()));
                }
            }
            IpNet::V6(n) => {
                let (first, last) = (u128::from(n.network()), u128::from(n.broadcast()));
                for k in [first.wrapping_sub(1), first, last, last.wrapping_add(1)] {
                    out.push(IpAddr::V6(Ipv6Addr::from(k)));
                }
            }
        }
    }
    out
}

fn addr_strategy() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u32>().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
        bits_strategy().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        bits_strategy().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a as u32))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)))]

    /// Random mixed lists (with /0, /32, /128, overlaps, duplicates and expiring entries): the
    /// compiled matcher gives the naive scan's answer, and names the same entry.
    #[test]
    fn compiled_matcher_agrees_with_a_naive_scan(
        raw in entries_strategy(),
        extra in prop::collection::vec(addr_strategy(), 0..100),
    ) {
        let list = build(&raw);
        let compiled = CompiledAllowlist::new(&list);
        let permanent = list.entries.iter().filter(|e| e.expires_at.is_none()).map(|e| e.cidr);
        let set = CidrSet::new(permanent);
        for ip in probes(&list).into_iter().chain(extra.iter().copied()) {
            assert_agrees(&list, &compiled, &set, ip);
        }
        let mut many = Vec::new();
        let ips: Vec<IpAddr> = probes(&list);
        compiled.check_many(&ips, Surface::Api, now(), &mut many);
        for (ip, got) in ips.iter().zip(&many) {
            prop_assert_eq!(*got, compiled.check(*ip, Surface::Api, now()));
        }
        // Random addresses first, so the batch's sample usually finds them far from the list
        // and takes its filtered path, then addresses at the list's edges.
        let mixed: Vec<IpAddr> = extra.iter().copied().chain(ips.iter().copied().take(24)).collect();
        let mut found = Vec::new();
        set.contains_many(&mixed, &mut found);
        for (ip, got) in mixed.iter().zip(&found) {
            prop_assert_eq!(*got, set.contains(*ip), "{}", ip);
        }
    }
}

#[test]
fn empty_enabled_list_denies_everyone_including_the_top_addresses() {
    let list = list_of(Vec::new());
    let compiled = CompiledAllowlist::new(&list);
    for ip in [
        "0.0.0.0",
        "255.255.255.255",
        "::",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(compiled.check(ip, Surface::Api, now()), Access::Deny);
        assert_eq!(compiled.check_ip(ip, Surface::Api, now()), IpDecision::Deny);
    }
}

#[test]
fn duplicate_networks_name_the_first_entry_in_list_order() {
    let cidr: Cidr = "203.0.113.0/24".parse().unwrap();
    let list = list_of(vec![entry(1, cidr, None), entry(2, cidr, None)]);
    let compiled = CompiledAllowlist::new(&list);
    let ip: IpAddr = "203.0.113.9".parse().unwrap();
    match compiled.check_ip(ip, Surface::Api, now()) {
        IpDecision::Allow { entry } => assert_eq!(entry.id.as_str(), "ip_1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        compiled.check_ip(ip, Surface::Api, now()),
        check_ip(&list, ip, Surface::Api, now())
    );
}

/// `check` and `check_many` answer as the reference on every combination of enabled or not,
/// surfaces covered, and expiring entries present or not (live or expired), for both surfaces.
#[test]
fn check_agrees_with_the_reference_whether_or_not_the_list_applies() {
    let now = now();
    let office: Cidr = "203.0.113.0/24".parse().unwrap();
    let temp: Cidr = "198.51.100.0/24".parse().unwrap();
    let ips: Vec<IpAddr> = [
        "203.0.113.9",
        "198.51.100.1",
        "192.0.2.1",
        "::ffff:203.0.113.9",
    ]
    .iter()
    .map(|t| t.parse().unwrap())
    .collect();
    let surfaces = [
        vec![Surface::Api],
        vec![Surface::Dashboard],
        vec![Surface::Api, Surface::Dashboard],
    ];
    let expiries = [
        None,
        Some(now + TimeDelta::try_hours(1).unwrap()),
        Some(now - TimeDelta::try_hours(1).unwrap()),
    ];
    for enabled in [true, false] {
        for applies_to in &surfaces {
            for expires in expiries {
                let mut entries = vec![entry(0, office, None)];
                if let Some(at) = expires {
                    entries.push(entry(1, temp, Some(at)));
                }
                let list = IpAllowlist {
                    enabled,
                    applies_to: NonEmptySet::new(applies_to.clone()).unwrap(),
                    entries,
                };
                let compiled = CompiledAllowlist::new(&list);
                for surface in [Surface::Api, Surface::Dashboard] {
                    let mut many = Vec::new();
                    compiled.check_many(&ips, surface, now, &mut many);
                    for (ip, batch) in ips.iter().zip(&many) {
                        let want = match check_ip(&list, *ip, surface, now) {
                            IpDecision::Allow { .. } => Access::Allow,
                            IpDecision::Deny => Access::Deny,
                            IpDecision::NotEnforced { reason } => Access::NotEnforced { reason },
                        };
                        let context =
                            format!("{enabled} {applies_to:?} {expires:?} {surface:?} {ip}");
                        assert_eq!(compiled.check(*ip, surface, now), want, "{context}");
                        assert_eq!(*batch, want, "{context}");
                    }
                }
            }
        }
    }
}
