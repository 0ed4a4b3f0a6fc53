//! The compiled matcher on real published lists agrees with naive `ipnet` references.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use whale_security::allowlist::{Cidr, CidrSet};

use super::prefixes::load;

/// A small seeded generator (xorshift64*), so the probes are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Each sampled network's edges and their neighbours, both families' random addresses, and the
/// IPv4-mapped form of every IPv4 probe.
fn probes(cidrs: &[Cidr], step: usize, seed: u64) -> Vec<IpAddr> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for c in cidrs.iter().step_by(step) {
        match c.net() {
            IpNet::V4(n) => {
                let (a, b) = (u32::from(n.network()), u32::from(n.broadcast()));
                for k in [a.wrapping_sub(1), a, b, b.wrapping_add(1)] {
                    out.push(IpAddr::V4(Ipv4Addr::from(k)));
                }
            }
            IpNet::V6(n) => {
                let (a, b) = (u128::from(n.network()), u128::from(n.broadcast()));
                for k in [a.wrapping_sub(1), a, b, b.wrapping_add(1)] {
                    out.push(IpAddr::V6(Ipv6Addr::from(k)));
                }
            }
        }
    }
    for _ in 0..2000 {
        out.push(IpAddr::V4(Ipv4Addr::from(rng.next() as u32)));
        let hi = (rng.next() & 0x3fff_ffff_ffff_ffff) | 0x2000_0000_0000_0000;
        out.push(IpAddr::V6(Ipv6Addr::from(
            (u128::from(hi) << 64) | u128::from(rng.next()),
        )));
    }
    let mapped: Vec<IpAddr> = out
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(a) => Some(IpAddr::V6(a.to_ipv6_mapped())),
            IpAddr::V6(_) => None,
        })
        .collect();
    out.extend(mapped);
    out
}

/// Reference 1: scan every network with `ipnet`.
fn scan(cidrs: &[Cidr], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    cidrs.iter().any(|c| IpNet::from(*c).contains(&ip))
}

/// Reference 2, for the large tables: truncate the address to every prefix length with `ipnet`
/// and look the network up in a hash set of the list.
fn by_length(table: &HashSet<IpNet>, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (0..=max).any(|len| {
        IpNet::new(ip, len)
            .map(|n| table.contains(&n.trunc()))
            .unwrap_or(false)
    })
}

fn check_small(names: &[&str]) {
    let cidrs: Vec<Cidr> = names.iter().flat_map(|n| load(n)).collect();
    let set = CidrSet::new(cidrs.iter().copied());
    assert_eq!(set.prefix_count(), cidrs.len());
    let ips = probes(&cidrs, 1, 0x5eed);
    for ip in &ips {
        assert_eq!(set.contains(*ip), scan(&cidrs, *ip), "{names:?}: {ip}");
    }
    assert_batch_agrees(&set, &ips, names);
}

fn check_large(name: &str, step: usize) {
    let cidrs = load(name);
    let set = CidrSet::new(cidrs.iter().copied());
    let table: HashSet<IpNet> = cidrs.iter().map(|c| IpNet::from(*c)).collect();
    let ips = probes(&cidrs, step, 0xbeef);
    for ip in &ips {
        assert_eq!(set.contains(*ip), by_length(&table, *ip), "{name}: {ip}");
    }
    assert_batch_agrees(&set, &ips, name);
}

/// `contains_many` answers as `contains` (checked against the reference above) on the same
/// addresses: the batch takes other paths on large lists (searches side by side, a filter on
/// the top address bits), so it is checked on the lists where those paths are taken.
fn assert_batch_agrees(set: &CidrSet, ips: &[IpAddr], list: impl std::fmt::Debug) {
    let mut batch = Vec::new();
    set.contains_many(ips, &mut batch);
    assert_eq!(batch.len(), ips.len());
    for (ip, got) in ips.iter().zip(batch) {
        assert_eq!(got, set.contains(*ip), "{list:?}, batch: {ip}");
    }
}

#[test]
fn cloud_provider_lists_agree_with_a_naive_scan() {
    check_small(&["cloudflare-ipv4.txt", "cloudflare-ipv6.txt"]);
    check_small(&["gcp-ipv4.txt", "gcp-ipv6.txt"]);
    check_small(&["aws-ipv4.txt", "aws-ipv6.txt"]);
}

#[test]
fn linode_raw_mixed_list_with_zero_padded_groups_agrees_with_a_naive_scan() {
    check_small(&["linode-raw-mixed.txt"]);
}

#[test]
fn azure_list_with_nested_prefixes_agrees_with_the_per_length_reference() {
    check_large("azure-ipv4.txt.gz", 1);
}

#[test]
fn full_bgp_tables_agree_with_the_per_length_reference() {
    let v4 = load("bgp-tier1-ipv4.txt.gz");
    assert_eq!(v4.len(), 901_899);
    check_large("bgp-tier1-ipv4.txt.gz", 97);
    check_large("bgp-tier1-ipv6.txt.gz", 17);
}
