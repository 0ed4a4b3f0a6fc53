//! IP allowlist lookups: our compiled matcher against a linear scan and the peer crates, on the
//! same lists and the same address streams, plus build time and memory.
//!
//! Lists are seeded random samples of the full BGP tables (3, 100 and 10 000 prefixes) and the full
//! tables themselves (901 899 IPv4, 160 147 IPv6; only under `cargo bench`, not in the quick
//! `cargo test --benches` run). Streams have 65 536 addresses (see [`STREAM`]) with 50 % or 1 %
//! hits: a hit is a random address inside a random prefix of the list, a miss a random address
//! (IPv4: anywhere; IPv6: in 2000::/3) that no prefix contains. IPv4 lists are also probed with
//! the same addresses written as IPv4-mapped IPv6 (`::ffff:a.b.c.d`); every implementation gets a
//! `std::net::IpAddr` and canonicalizes it, since a peer that did not would answer wrongly.
//!
//! Names: `check_ip/<list>/<stream>/<impl>`; one iteration looks up the whole stream.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/allowlist/prefixes.rs"]
mod prefixes;

use std::alloc::System;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use iptrie::IpPrefix;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use whale_security::allowlist::{
    Access, AllowlistEntry, Cidr, CidrSet, CompiledAllowlist, IpAllowlist, Label, Surface, check_ip,
};
use whale_security::id::EntryId;
use whale_security::set::NonEmptySet;

/// Addresses per stream, unless `CHECK_IP_STREAM` says otherwise. Criterion times the same
/// stream thousands of times in a row, and a branch predictor learns much of a short one: on
/// 4 096 addresses, iptrie's LC-trie took 6.2 ns per lookup on 100 IPv4 prefixes at 50 % hits,
/// on 65 536 addresses 17.8 ns (poptrie 8.0 and 15.0), with the structure in L1 either way;
/// ours, which has no data-dependent branch there, 3.1 ns on both. A service does not see the
/// same few thousand addresses over and over in one order, so streams are long enough that no
/// predictor can learn them.
const STREAM: usize = 65_536;

/// Addresses the linear scan is timed on.
const LINEAR_SCAN: usize = 4096;

/// The stream length of this run: `CHECK_IP_STREAM` or [`STREAM`].
fn stream_len() -> usize {
    std::env::var("CHECK_IP_STREAM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(STREAM)
}

/// A seeded xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn now() -> DateTime<Utc> {
    whale_security::time::parse("2026-03-10T12:00:00Z").unwrap()
}

/// Whether this run is `cargo bench` (criterion passes `--bench`) rather than the quick test run.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Every implementation under test, built from one list.
struct Impls {
    list: IpAllowlist,
    ours: CompiledAllowlist,
    prefix_trie4: prefix_trie::PrefixMap<Ipv4Net, ()>,
    prefix_trie6: prefix_trie::PrefixMap<Ipv6Net, ()>,
    table: ip_network_table::IpNetworkTable<()>,
    lc4: iptrie::Ipv4LCTrieSet,
    lc6: iptrie::Ipv6LCTrieSet,
    pop4: poptrie::Poptrie<(u32, u8), ()>,
    pop6: poptrie::Poptrie<(u128, u8), ()>,
}

fn allowlist(cidrs: &[Cidr]) -> IpAllowlist {
    let entries = cidrs
        .iter()
        .enumerate()
        .map(|(i, cidr)| AllowlistEntry {
            id: EntryId::new(format!("ip_{i}")).unwrap(),
            cidr: *cidr,
            label: Label::default(),
            added_at: now(),
            expires_at: None,
        })
        .collect();
    IpAllowlist {
        enabled: true,
        applies_to: NonEmptySet::new(vec![Surface::Api]).unwrap(),
        entries,
    }
}

fn build_prefix_trie(
    cidrs: &[Cidr],
) -> (
    prefix_trie::PrefixMap<Ipv4Net, ()>,
    prefix_trie::PrefixMap<Ipv6Net, ()>,
) {
    let mut v4 = prefix_trie::PrefixMap::new();
    let mut v6 = prefix_trie::PrefixMap::new();
    for c in cidrs {
        match c.net() {
            IpNet::V4(n) => {
                v4.insert(n, ());
            }
            IpNet::V6(n) => {
                v6.insert(n, ());
            }
        }
    }
    (v4, v6)
}

fn build_table(cidrs: &[Cidr]) -> ip_network_table::IpNetworkTable<()> {
    let mut t = ip_network_table::IpNetworkTable::new();
    for c in cidrs {
        match c.net() {
            IpNet::V4(n) => {
                t.insert(
                    ip_network::Ipv4Network::new(n.network(), n.prefix_len()).unwrap(),
                    (),
                );
            }
            IpNet::V6(n) => {
                t.insert(
                    ip_network::Ipv6Network::new(n.network(), n.prefix_len()).unwrap(),
                    (),
                );
            }
        }
    }
    t
}

fn build_lc(cidrs: &[Cidr]) -> (iptrie::Ipv4LCTrieSet, iptrie::Ipv6LCTrieSet) {
    let mut v4 = iptrie::Ipv4RTrieSet::new();
    let mut v6 = iptrie::Ipv6RTrieSet::new();
    for c in cidrs {
        match c.net() {
            IpNet::V4(n) => {
                v4.insert(iptrie::Ipv4Prefix::new(n.network(), n.prefix_len()).unwrap());
            }
            IpNet::V6(n) => {
                v6.insert(iptrie::Ipv6Prefix::new(n.network(), n.prefix_len()).unwrap());
            }
        }
    }
    (v4.compress(), v6.compress())
}

/// The peer poptrie, one per family.
struct Poptries(
    poptrie::Poptrie<(u32, u8), ()>,
    poptrie::Poptrie<(u128, u8), ()>,
);

fn build_poptrie(cidrs: &[Cidr]) -> Poptries {
    // The bulk constructor (`collect`): inserting one by one is far slower on large tables.
    let v4 = cidrs
        .iter()
        .filter_map(|c| match c.net() {
            IpNet::V4(n) => Some(((u32::from(n.network()), n.prefix_len()), ())),
            IpNet::V6(_) => None,
        })
        .collect();
    let v6 = cidrs
        .iter()
        .filter_map(|c| match c.net() {
            IpNet::V6(n) => Some(((u128::from(n.network()), n.prefix_len()), ())),
            IpNet::V4(_) => None,
        })
        .collect();
    Poptries(v4, v6)
}

impl Impls {
    fn new(cidrs: &[Cidr]) -> Self {
        let list = allowlist(cidrs);
        let (prefix_trie4, prefix_trie6) = build_prefix_trie(cidrs);
        let (lc4, lc6) = build_lc(cidrs);
        let Poptries(pop4, pop6) = build_poptrie(cidrs);
        Self {
            ours: CompiledAllowlist::new(&list),
            list,
            prefix_trie4,
            prefix_trie6,
            table: build_table(cidrs),
            lc4,
            lc6,
            pop4,
            pop6,
        }
    }

    fn prefix_trie_spm(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.prefix_trie4.get_spm(&Ipv4Net::from(a)).is_some(),
            IpAddr::V6(a) => self.prefix_trie6.get_spm(&Ipv6Net::from(a)).is_some(),
        }
    }

    fn prefix_trie_lpm(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.prefix_trie4.get_lpm(&Ipv4Net::from(a)).is_some(),
            IpAddr::V6(a) => self.prefix_trie6.get_lpm(&Ipv6Net::from(a)).is_some(),
        }
    }

    fn table(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.table.longest_match_ipv4(a).is_some(),
            IpAddr::V6(a) => self.table.longest_match_ipv6(a).is_some(),
        }
    }

    /// The LC-trie always holds the top prefix (`/0`), which is what a miss returns; the lists
    /// here never contain `/0`.
    fn lc(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.lc4.lookup(&a).len() > 0,
            IpAddr::V6(a) => self.lc6.lookup(&a).len() > 0,
        }
    }

    fn poptrie(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.pop4.lookup(u32::from(a)).is_some(),
            IpAddr::V6(a) => self.pop6.lookup(u128::from(a)).is_some(),
        }
    }
}

/// A stream of [`stream_len`] addresses, `hits_percent` % of them inside the list.
fn stream(cidrs: &[Cidr], set: &CidrSet, v6: bool, hits_percent: usize, seed: u64) -> Vec<IpAddr> {
    let mut rng = Rng(seed);
    let family: Vec<&Cidr> = cidrs
        .iter()
        .filter(|c| c.net().addr().is_ipv6() == v6)
        .collect();
    let len = stream_len();
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let hit = rng.below(100) < hits_percent;
        let ip = if hit {
            let net = family[rng.below(family.len())].net();
            match net {
                IpNet::V4(n) => {
                    let host = (rng.next() as u32) & u32::from(n.hostmask());
                    IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
                }
                IpNet::V6(n) => {
                    let r = (u128::from(rng.next()) << 64) | u128::from(rng.next());
                    IpAddr::V6(Ipv6Addr::from(
                        u128::from(n.network()) | (r & u128::from(n.hostmask())),
                    ))
                }
            }
        } else if v6 {
            let hi = (rng.next() & 0x1fff_ffff_ffff_ffff) | 0x2000_0000_0000_0000;
            IpAddr::V6(Ipv6Addr::from(
                (u128::from(hi) << 64) | u128::from(rng.next()),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
        };
        if set.contains(ip) == hit {
            out.push(ip);
        }
    }
    out
}

fn mapped(ips: &[IpAddr]) -> Vec<IpAddr> {
    ips.iter()
        .map(|ip| match ip {
            IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
            IpAddr::V6(_) => *ip,
        })
        .collect()
}

/// A seeded sample of `n` prefixes of `all`.
fn sample(all: &[Cidr], n: usize, seed: u64) -> Vec<Cidr> {
    let mut rng = Rng(seed);
    (0..n).map(|_| all[rng.below(all.len())]).collect()
}

fn count(ips: &[IpAddr], f: impl Fn(IpAddr) -> bool) -> usize {
    ips.iter().filter(|ip| f(**ip)).count()
}

/// check_ip/<list>/<stream>/<impl>: one lookup of every address of the stream.
fn lookups(c: &mut Criterion) {
    // The quick test run samples the small AWS lists instead of parsing the BGP tables in a
    // debug build.
    let full = full_run();
    let (v4_all, v6_all, sizes) = if full {
        (
            prefixes::load("bgp-tier1-ipv4.txt.gz"),
            prefixes::load("bgp-tier1-ipv6.txt.gz"),
            &[3, 100, 10_000][..],
        )
    } else {
        (
            prefixes::load("aws-ipv4.txt"),
            prefixes::load("aws-ipv6.txt"),
            &[3, 100][..],
        )
    };
    let mut lists: Vec<(String, Vec<Cidr>, bool)> = Vec::new();
    for &n in sizes {
        lists.push((format!("v4_{n}"), sample(&v4_all, n, 4 + n as u64), false));
        lists.push((format!("v6_{n}"), sample(&v6_all, n, 6 + n as u64), true));
    }
    if full {
        lists.push(("v4_bgp_full".into(), v4_all, false));
        lists.push(("v6_bgp_full".into(), v6_all, true));
    }

    // `CHECK_IP_LISTS=v4_3,v6_bgp_full` limits a run (the interleaved mode ignores criterion's
    // filter) to the named lists.
    if let Ok(only) = std::env::var("CHECK_IP_LISTS") {
        lists.retain(|(name, _, _)| only.split(',').any(|o| o == name));
    }
    let now = now();
    for (name, cidrs, v6) in &lists {
        let impls = Impls::new(cidrs);
        let set = CidrSet::new(cidrs.iter().copied());
        let mut streams = Vec::new();
        for hits in [50, 1] {
            let s = stream(cidrs, &set, *v6, hits, 0xc0ffee + hits as u64);
            if !*v6 {
                streams.push((format!("mapped_hits{hits}"), mapped(&s)));
            }
            streams.push((format!("{}_hits{hits}", if *v6 { "v6" } else { "v4" }), s));
        }
        for (stream_name, ips) in &streams {
            // Every implementation answers the same on this stream.
            let want = count(ips, |ip| {
                impls.ours.check(ip, Surface::Api, now) == Access::Allow
            });
            assert_eq!(
                count(ips, |ip| impls.prefix_trie_spm(ip)),
                want,
                "{name} {stream_name} prefix-trie"
            );
            assert_eq!(
                count(ips, |ip| impls.table(ip)),
                want,
                "{name} {stream_name} ip_network_table"
            );
            assert_eq!(
                count(ips, |ip| impls.lc(ip)),
                want,
                "{name} {stream_name} iptrie"
            );
            assert_eq!(
                count(ips, |ip| impls.poptrie(ip)),
                want,
                "{name} {stream_name} poptrie"
            );

            if std::env::var_os("CHECK_IP_INTERLEAVED").is_some() {
                interleaved(&format!("{name}/{stream_name}"), &impls, ips);
                continue;
            }
            let mut g = c.benchmark_group(format!("check_ip/{name}/{stream_name}"));
            g.throughput(Throughput::Elements(ips.len() as u64));
            g.sample_size(20);
            g.warm_up_time(Duration::from_millis(300));
            g.measurement_time(Duration::from_millis(800));
            g.bench_function("ours_check", |b| {
                b.iter(|| {
                    count(black_box(ips), |ip| {
                        impls.ours.check(ip, Surface::Api, now) == Access::Allow
                    })
                })
            });
            g.bench_function("ours_check_ip_named", |b| {
                b.iter(|| {
                    count(black_box(ips), |ip| {
                        impls.ours.check_ip(ip, Surface::Api, now).permits()
                    })
                })
            });
            let mut out = Vec::with_capacity(ips.len());
            g.bench_function("ours_check_many", |b| {
                b.iter(|| {
                    impls
                        .ours
                        .check_many(black_box(ips), Surface::Api, now, &mut out);
                    out.iter().filter(|a| **a == Access::Allow).count()
                })
            });
            if cidrs.len() <= 10_000 {
                // The scan takes up to 100 µs per address on 10 000 prefixes: it is timed on
                // the stream's first `LINEAR_SCAN` addresses only.
                let some = ips.get(..LINEAR_SCAN).unwrap_or(ips);
                g.throughput(Throughput::Elements(some.len() as u64));
                g.bench_function("linear_scan", |b| {
                    b.iter(|| {
                        count(black_box(some), |ip| {
                            check_ip(&impls.list, ip, Surface::Api, now).permits()
                        })
                    })
                });
                g.throughput(Throughput::Elements(ips.len() as u64));
            }
            g.bench_function("prefix_trie_spm", |b| {
                b.iter(|| count(black_box(ips), |ip| impls.prefix_trie_spm(ip)))
            });
            g.bench_function("prefix_trie_lpm", |b| {
                b.iter(|| count(black_box(ips), |ip| impls.prefix_trie_lpm(ip)))
            });
            g.bench_function("ip_network_table", |b| {
                b.iter(|| count(black_box(ips), |ip| impls.table(ip)))
            });
            g.bench_function("iptrie_lc", |b| {
                b.iter(|| count(black_box(ips), |ip| impls.lc(ip)))
            });
            g.bench_function("poptrie", |b| {
                b.iter(|| count(black_box(ips), |ip| impls.poptrie(ip)))
            });
            g.finish();
        }
    }
}

/// With `CHECK_IP_INTERLEAVED=1` (instead of criterion): ours and the peers that are ever the
/// fastest (poptrie, iptrie's LC-trie, prefix-trie's two lookups) take turns on the whole
/// stream, 200 rounds, and the minimum ns per lookup of each is printed, with the fastest
/// peer's time over ours for `check` and for `check_many`. On a shared machine the minimum of
/// interleaved rounds is far steadier than medians taken minutes apart.
fn interleaved(label: &str, impls: &Impls, ips: &[IpAddr]) {
    let now = now();
    let out = std::cell::RefCell::new(Vec::with_capacity(ips.len()));
    let mut best = [f64::MAX; 9];
    for _ in 0..200 {
        let runs: [&dyn Fn() -> usize; 9] = [
            &|| {
                count(black_box(ips), |ip| {
                    impls.ours.check(ip, Surface::Api, now) == Access::Allow
                })
            },
            &|| {
                count(black_box(ips), |ip| {
                    impls.ours.check_ip(ip, Surface::Api, now).permits()
                })
            },
            &|| {
                let mut o = out.borrow_mut();
                impls
                    .ours
                    .check_many(black_box(ips), Surface::Api, now, &mut o);
                o.iter().filter(|a| **a == Access::Allow).count()
            },
            &|| count(black_box(ips), |ip| impls.ours.set().contains(ip)),
            &|| count(black_box(ips), |ip| black_box(ip).is_ipv4()),
            &|| count(black_box(ips), |ip| impls.poptrie(ip)),
            &|| count(black_box(ips), |ip| impls.prefix_trie_lpm(ip)),
            &|| count(black_box(ips), |ip| impls.prefix_trie_spm(ip)),
            &|| count(black_box(ips), |ip| impls.lc(ip)),
        ];
        for (b, run) in best.iter_mut().zip(runs) {
            // One untimed pass first, so every implementation is timed with its own structure
            // in cache (as criterion's back-to-back iterations are), not with whatever the one
            // before it left there.
            black_box(run());
            let start = Instant::now();
            black_box(run());
            *b = b.min(start.elapsed().as_secs_f64() * 1e9 / ips.len() as f64);
        }
    }
    let fastest = best[5..].iter().copied().fold(f64::MAX, f64::min);
    eprintln!(
        "interleaved {label:28} check {:5.1} named {:5.1} many {:5.1} set {:5.1} floor {:4.1} | poptrie {:5.1} lpm {:5.1} spm {:5.1} lc {:5.1} | peer/check {:.2} peer/many {:.2}",
        best[0],
        best[1],
        best[2],
        best[3],
        best[4],
        best[5],
        best[6],
        best[7],
        best[8],
        fastest / best[0],
        fastest / best[2],
    );
}

/// Counts heap bytes, so every structure's size is measured the same way.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Builds with `f`, returning the result, the heap bytes it keeps and the time one build took.
fn measure<T>(f: impl FnOnce() -> T) -> (T, isize, Duration) {
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    let built = f();
    let took = start.elapsed();
    let change = region.change();
    // Reallocations are already folded into the allocated and deallocated counts.
    let kept = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    (built, kept, took)
}

/// check_ip/build/<list>/<impl>: building each structure from parsed prefixes (criterion, ours
/// only: the peers take up to seconds per build on the full tables, so they are timed once).
/// Also prints heap bytes per prefix of every structure, counted by the allocator.
fn build(c: &mut Criterion) {
    // The interleaved mode times lookups only.
    if std::env::var_os("CHECK_IP_INTERLEAVED").is_some() {
        return;
    }
    let lists: Vec<(&str, Vec<Cidr>)> = if full_run() {
        vec![
            ("v4_bgp_full", prefixes::load("bgp-tier1-ipv4.txt.gz")),
            ("v6_bgp_full", prefixes::load("bgp-tier1-ipv6.txt.gz")),
        ]
    } else {
        vec![("v4_gcp", prefixes::load("gcp-ipv4.txt"))]
    };
    for (name, cidrs) in &lists {
        let n = cidrs.len() as f64;
        let list = allowlist(cidrs);
        let report = |label: &str, kept: isize, took: Duration| {
            eprintln!(
                "build {name} {label}: {:.2} bytes/prefix ({kept} bytes), one build {:.1} ms",
                kept as f64 / n,
                took.as_secs_f64() * 1e3
            );
        };
        let (set, kept, took) = measure(|| CidrSet::new(cidrs.iter().copied()));
        report("ours_set", kept, took);
        eprintln!(
            "build {name} ours_set intervals (v4, v6): {:?}",
            set.interval_count()
        );
        let (_compiled, kept, took) = measure(|| CompiledAllowlist::new(&list));
        report("ours_compiled (incl. entry copies)", kept, took);
        let owned = list.clone();
        let (_compiled, kept, took) = measure(move || CompiledAllowlist::from_list(owned));
        report(
            "ours_compiled from_list (entries moved, not counted)",
            kept,
            took,
        );
        let (_, kept, took) = measure(|| build_prefix_trie(cidrs));
        report("prefix_trie", kept, took);
        let (_, kept, took) = measure(|| build_table(cidrs));
        report("ip_network_table", kept, took);
        let (_, kept, took) = measure(|| build_lc(cidrs));
        report("iptrie_lc", kept, took);
        let (_, kept, took) = measure(|| build_poptrie(cidrs));
        report("poptrie", kept, took);

        let mut g = c.benchmark_group(format!("check_ip/build/{name}"));
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(100));
        g.measurement_time(Duration::from_secs(2));
        g.bench_function(BenchmarkId::from_parameter("ours_set"), |b| {
            b.iter(|| CidrSet::new(black_box(cidrs).iter().copied()))
        });
        g.bench_function(BenchmarkId::from_parameter("ours_compiled"), |b| {
            b.iter(|| CompiledAllowlist::new(black_box(&list)))
        });
        g.bench_function(
            BenchmarkId::from_parameter("ours_compiled_from_list"),
            |b| {
                b.iter_batched(
                    || list.clone(),
                    CompiledAllowlist::from_list,
                    criterion::BatchSize::LargeInput,
                )
            },
        );
        g.finish();
    }
}

criterion_group!(benches, lookups, build);
criterion_main!(benches);
