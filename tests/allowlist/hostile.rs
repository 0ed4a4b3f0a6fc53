//! Edge entries against edge addresses: the compiled matcher must give the reference scan's
//! answer for address-family boundaries, whole-space entries, duplicates and expiry instants.

use chrono::TimeDelta;
use whale_security::allowlist::{
    AllowlistEntry, CompiledAllowlist, IpAllowlist, Label, Surface, check_ip, parse_cidr, parse_ip,
};
use whale_security::id::EntryId;
use whale_security::set::NonEmptySet;
use whale_security::time;

const ENTRIES: &[&str] = &[
    "0.0.0.0/0",
    "::/0",
    "::ffff:0:0/96",
    "::fffe:0:0/95",
    "::ffff:0:0/97",
    "::/96",
    "::/127",
    "::1/128",
    "64:ff9b::/96",
    "2002::/16",
    "255.255.255.255/32",
    "0.0.0.0/32",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
    "203.0.113.0/24",
    "::ffff:203.0.113.9/128",
    "128.0.0.0/1",
];

const IPS: &[&str] = &[
    "0.0.0.0",
    "255.255.255.255",
    "127.255.255.255",
    "128.0.0.0",
    "203.0.113.9",
    "::ffff:203.0.113.9",
    "::203.0.113.9",
    "64:ff9b::cb00:7109",
    "2002:cb00:7109::",
    "::",
    "::1",
    "::fffe:ffff:ffff",
    "::1:0:0:0",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];

#[test]
fn the_compiled_matcher_agrees_with_the_scan_on_family_boundaries_and_expiry_instants() {
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    let expiries = [
        None,
        Some(now),
        Some(now + TimeDelta::nanoseconds(1)),
        Some(now - TimeDelta::nanoseconds(1)),
    ];
    // Every entry with every expiry, twice (duplicates), in two orders.
    for reversed in [false, true] {
        let mut entries = Vec::new();
        for copy in 0..2 {
            for (i, text) in ENTRIES.iter().enumerate() {
                for (j, expires_at) in expiries.iter().enumerate() {
                    entries.push(AllowlistEntry {
                        id: EntryId::new(format!("ip_{copy}_{i}_{j}")).unwrap(),
                        cidr: parse_cidr(text).unwrap(),
                        label: Label::default(),
                        added_at: now - TimeDelta::try_days(1).unwrap(),
                        expires_at: *expires_at,
                    });
                }
            }
        }
        if reversed {
            entries.reverse();
        }
        // Every subset of one entry kind, and the whole list.
        let mut lists: Vec<Vec<AllowlistEntry>> = entries.chunks(1).map(<[_]>::to_vec).collect();
        lists.push(entries.clone());
        for entries in lists {
            let list = IpAllowlist {
                enabled: true,
                applies_to: NonEmptySet::new([Surface::Api]).unwrap(),
                entries,
            };
            let compiled = CompiledAllowlist::new(&list);
            for text in IPS {
                let ip = parse_ip(text).unwrap();
                for at in [
                    now - TimeDelta::nanoseconds(1),
                    now,
                    now + TimeDelta::nanoseconds(1),
                ] {
                    let reference = check_ip(&list, ip, Surface::Api, at);
                    assert_eq!(
                        compiled.check_ip(ip, Surface::Api, at),
                        reference,
                        "{text} at {at} in {:?}",
                        list.entries
                            .iter()
                            .map(|e| (e.cidr.to_string(), e.expires_at))
                            .collect::<Vec<_>>()
                    );
                    assert_eq!(
                        compiled.check(ip, Surface::Api, at).permits(),
                        reference.permits(),
                        "{text} at {at}"
                    );
                }
            }
        }
    }
}
