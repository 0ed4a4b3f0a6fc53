//! Warnings about an allowlist that is valid but probably not what its owner meant.

use std::fmt;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use crate::id::EntryId;

use super::{AllowlistEntry, Cidr, IpAllowlist, Surface};

/// IPv4 entries shorter than this are reported as over-broad (a /7 is 33 million addresses).
pub const MIN_IPV4_PREFIX: u8 = 8;
/// IPv6 entries shorter than this are reported as over-broad (a /31 is two regional
/// allocations).
pub const MIN_IPV6_PREFIX: u8 = 32;

/// One warning about an allowlist. The list stays valid; these are for the owner to review.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum LintWarning {
    /// The list is enforced but has no entries: every request on its surfaces is denied.
    EnabledEmpty,
    /// The entry repeats the network of another entry that lives at least as long (the
    /// earlier one, when both live as long), so removing it changes nothing.
    Duplicate {
        /// The repeating entry.
        entry: EntryId,
        /// Its network.
        cidr: Cidr,
        /// The entry with the same network that makes it redundant: the longest-lived one,
        /// the first in the list among those living as long.
        first: EntryId,
    },
    /// Every address of the entry is already allowed by a broader entry that lives at least as
    /// long, so removing it changes nothing.
    Covered {
        /// The covered entry.
        entry: EntryId,
        /// Its network.
        cidr: Cidr,
        /// The broader entry.
        by: EntryId,
        /// The broader network.
        by_cidr: Cidr,
    },
    /// The entry is `/0` or a very short prefix.
    OverBroad {
        /// The entry.
        entry: EntryId,
        /// Its network.
        cidr: Cidr,
        /// The shortest length not reported for its family.
        min_prefix: u8,
    },
    /// The entry lies in a special-purpose range (private, loopback, link-local,
    /// documentation...) while the list guards the API, which is reached over the Internet.
    ReservedOnApi {
        /// The entry.
        entry: EntryId,
        /// Its network.
        cidr: Cidr,
        /// The special-purpose range.
        range: Cidr,
        /// What the range is, such as `private-use (RFC 1918)`.
        what: &'static str,
    },
    /// The entry's `expires_at` is at or before `now`: it no longer matches.
    Expired {
        /// The entry.
        entry: EntryId,
        /// Its network.
        cidr: Cidr,
        /// When it stopped matching.
        expires_at: DateTime<Utc>,
    },
}

impl LintWarning {
    /// A stable name for the kind of warning: `enabled_empty`, `duplicate`, `covered`,
    /// `over_broad`, `reserved_range` or `expired`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::EnabledEmpty => "enabled_empty",
            Self::Duplicate { .. } => "duplicate",
            Self::Covered { .. } => "covered",
            Self::OverBroad { .. } => "over_broad",
            Self::ReservedOnApi { .. } => "reserved_range",
            Self::Expired { .. } => "expired",
        }
    }

    /// The entries involved, the reported one first (then the earlier or broader entry); empty
    /// for [`LintWarning::EnabledEmpty`].
    #[must_use]
    pub fn entries(&self) -> Vec<&EntryId> {
        match self {
            Self::EnabledEmpty => Vec::new(),
            Self::Duplicate { entry, first, .. } => vec![entry, first],
            Self::Covered { entry, by, .. } => vec![entry, by],
            Self::OverBroad { entry, .. }
            | Self::ReservedOnApi { entry, .. }
            | Self::Expired { entry, .. } => vec![entry],
        }
    }

    /// The networks of [`LintWarning::entries`], in the same order (a duplicate's network
    /// appears once per entry).
    #[must_use]
    pub fn cidrs(&self) -> Vec<Cidr> {
        match self {
            Self::EnabledEmpty => Vec::new(),
            Self::Duplicate { cidr, .. } => vec![*cidr, *cidr],
            Self::Covered { cidr, by_cidr, .. } => vec![*cidr, *by_cidr],
            Self::OverBroad { cidr, .. }
            | Self::ReservedOnApi { cidr, .. }
            | Self::Expired { cidr, .. } => vec![*cidr],
        }
    }
}

impl fmt::Display for LintWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EnabledEmpty => f.write_str(
                "the allowlist is enabled with no entries: every request on its surfaces is denied",
            ),
            Self::Duplicate { entry, cidr, first } => {
                write!(f, "entry `{entry}` ({cidr}) duplicates entry `{first}`")
            }
            Self::Covered {
                entry,
                cidr,
                by,
                by_cidr,
            } => write!(
                f,
                "entry `{entry}` ({cidr}) is covered by entry `{by}` ({by_cidr}) and has no effect"
            ),
            Self::OverBroad {
                entry,
                cidr,
                min_prefix,
            } => write!(
                f,
                "entry `{entry}` ({cidr}) is over-broad: prefixes shorter than /{min_prefix} allow a large part of the Internet"
            ),
            Self::ReservedOnApi {
                entry,
                cidr,
                range,
                what,
            } => {
                write!(
                    f,
                    "entry `{entry}` ({cidr}) is in the {what} range {range}, which API clients on \
                     the Internet never have"
                )?;
                if embeds_ipv4(*range) {
                    f.write_str(
                        "; an IPv4 client matches only entries written as IPv4 or as \
                         `::ffff:a.b.c.d`",
                    )?;
                }
                Ok(())
            }
            Self::Expired {
                entry,
                cidr,
                expires_at,
            } => write!(
                f,
                "entry `{entry}` ({cidr}) expired at {} and no longer matches",
                crate::time::format(*expires_at)
            ),
        }
    }
}

/// Reviews `list` at `now` and returns its warnings, in entry order (the empty-list warning
/// first). `O(n log n)`.
///
/// Over-broad and special-purpose checks are made on every entry; a disabled list is reviewed
/// too (it may be enabled later), but an empty disabled list is not a warning.
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::{IpAllowlist, LintWarning, lint_allowlist};
///
/// let list: IpAllowlist = serde_json::from_str(r#"{
///     "enabled": true, "applies_to": ["api"],
///     "entries": [
///       {"id": "ip_office", "cidr": "81.2.69.0/24", "added_at": "2026-03-10T10:00:00.000Z"},
///       {"id": "ip_desk", "cidr": "81.2.69.7", "added_at": "2026-03-10T10:00:00.000Z"},
///       {"id": "ip_lan", "cidr": "10.1.0.0/16", "added_at": "2026-03-10T10:00:00.000Z"},
///       {"id": "ip_all", "cidr": "::/0", "added_at": "2026-03-10T10:00:00.000Z"}
///     ]
/// }"#)?;
/// let now = whale_security::time::parse("2026-03-10T12:00:00Z")?;
/// let warnings = lint_allowlist(&list, now);
/// assert!(matches!(&warnings[0], LintWarning::Covered { entry, .. } if entry.as_str() == "ip_desk"));
/// assert!(matches!(&warnings[1], LintWarning::ReservedOnApi { entry, .. } if entry.as_str() == "ip_lan"));
/// assert!(matches!(&warnings[2], LintWarning::OverBroad { min_prefix: 32, .. }));
/// assert_eq!(warnings.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn lint_allowlist(list: &IpAllowlist, now: DateTime<Utc>) -> Vec<LintWarning> {
    let mut warnings = Vec::new();
    if list.enabled && list.entries.is_empty() {
        warnings.push(LintWarning::EnabledEmpty);
    }
    let covered = covering(&list.entries);
    let on_api = list.applies_to.contains(Surface::Api);
    for (i, entry) in list.entries.iter().enumerate() {
        let id = || entry.id.clone();
        if let Some(expires_at) = entry.expires_at.filter(|t| *t <= now) {
            warnings.push(LintWarning::Expired {
                entry: id(),
                cidr: entry.cidr,
                expires_at,
            });
        }
        if let Some(&Some(by)) = covered.get(i)
            && let Some(other) = list.entries.get(by)
        {
            warnings.push(if other.cidr == entry.cidr {
                LintWarning::Duplicate {
                    entry: id(),
                    cidr: entry.cidr,
                    first: other.id.clone(),
                }
            } else {
                LintWarning::Covered {
                    entry: id(),
                    cidr: entry.cidr,
                    by: other.id.clone(),
                    by_cidr: other.cidr,
                }
            });
        }
        let min_prefix = match entry.cidr.net() {
            IpNet::V4(_) => MIN_IPV4_PREFIX,
            IpNet::V6(_) => MIN_IPV6_PREFIX,
        };
        if entry.cidr.prefix_len() < min_prefix {
            warnings.push(LintWarning::OverBroad {
                entry: id(),
                cidr: entry.cidr,
                min_prefix,
            });
        }
        if on_api && let Some((range, what)) = special_purpose(entry.cidr) {
            warnings.push(LintWarning::ReservedOnApi {
                entry: id(),
                cidr: entry.cidr,
                range,
                what,
            });
        }
    }
    warnings
}

/// For each entry, the index of an entry that makes it redundant: another entry with the same
/// network that lives at least as long (the longest-lived, first in the list among equals;
/// wherever it stands in the list, so the answer does not depend on the order of the entries),
/// else the innermost broader entry that lives at least as long.
///
/// `O(n log n)`. Entries are visited by network, broader first at each start address, then in
/// list order; the networks enclosing the current one form a chain of at most 129 distinct
/// networks, each with the entries met for it so far. Within a network only the entries no
/// later one outlives can still be the answer, so each keeps a stack whose lives shrink
/// towards the top, searched by halving: a list repeating one network 50 000 times with
/// ever later expiries costs no more than any other.
fn covering(entries: &[AllowlistEntry]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries.get(i).map(|e| (sort_key(e.cidr), i)));
    let mut result = vec![None; entries.len()];
    // The distinct networks enclosing the current entry, outermost first, each with its
    // candidates: (life, index), lives strictly decreasing upwards, indexes increasing.
    let mut chain: Vec<(Cidr, Vec<(Life, usize)>)> = Vec::new();
    for &i in &order {
        let Some(entry) = entries.get(i) else {
            continue;
        };
        while chain
            .last()
            .is_some_and(|(cidr, _)| !cidr.covers(&entry.cidr))
        {
            chain.pop();
        }
        let life = Life(entry.expires_at);
        // The innermost network with a candidate living at least as long; within it the latest
        // such candidate, which is the topmost one whose life is `>= life`.
        let by = chain.iter().rev().find_map(|(_, candidates)| {
            let living = candidates.partition_point(|(l, _)| *l >= life);
            living
                .checked_sub(1)
                .and_then(|top| candidates.get(top))
                .map(|(_, index)| *index)
        });
        if let Some(slot) = result.get_mut(i) {
            *slot = by;
        }
        match chain.last_mut() {
            Some((cidr, candidates)) if *cidr == entry.cidr => {
                // A later entry that lives at least as long replaces every earlier one it
                // outlives as the answer for anything they cover.
                while candidates.last().is_some_and(|(l, _)| *l <= life) {
                    candidates.pop();
                }
                candidates.push((life, i));
            }
            _ => chain.push((entry.cidr, vec![(life, i)])),
        }
    }
    // Entries of one network are adjacent in `order`, by index: each but the longest-lived
    // (the first of those, on a tie) is a duplicate of it, even when it comes later in the list.
    // The walk above only looked at earlier ones; for the longest-lived entry itself no earlier
    // entry of its network qualified, so its answer there is already a broader network's.
    for run in
        order.chunk_by(|&a, &b| entries.get(a).map(|e| e.cidr) == entries.get(b).map(|e| e.cidr))
    {
        let longest = run.iter().copied().reduce(|best, i| {
            let life = |k: usize| Life(entries.get(k).and_then(|e| e.expires_at));
            if life(i) > life(best) { i } else { best }
        });
        for &i in run {
            if longest != Some(i)
                && let Some(slot) = result.get_mut(i)
            {
                *slot = longest;
            }
        }
    }
    result
}

/// How long an entry lives: until its `expires_at`, or forever (the longest).
#[derive(Clone, Copy, Eq, PartialEq)]
struct Life(Option<DateTime<Utc>>);

impl Ord for Life {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.0, other.0) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(a), Some(b)) => a.cmp(&b),
        }
    }
}

impl PartialOrd for Life {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders networks by family, first address, then length (broader first).
fn sort_key(cidr: Cidr) -> (u8, u128, u8) {
    match cidr.net() {
        IpNet::V4(n) => (4, u128::from(u32::from(n.network())), n.prefix_len()),
        IpNet::V6(n) => (6, u128::from(n.network()), n.prefix_len()),
    }
}

/// The special-purpose range containing `cidr`, if any.
fn special_purpose(cidr: Cidr) -> Option<(Cidr, &'static str)> {
    SPECIAL_PURPOSE.iter().find_map(|(text, what)| {
        let range: Cidr = text.parse().ok()?;
        range.covers(&cidr).then_some((range, *what))
    })
}

/// Whether `range` is one of the [`SPECIAL_PURPOSE`] ranges that embed IPv4 addresses in a form
/// other than `::ffff:a.b.c.d` (or, for `::/8`, hold that form among others), so an entry in it
/// written for an IPv4 client never matches that client.
fn embeds_ipv4(range: Cidr) -> bool {
    EMBEDDED_IPV4
        .iter()
        .any(|text| text.parse::<Cidr>().is_ok_and(|r| r == range))
}

/// IANA special-purpose ranges (RFC 6890 and successors) that no Internet client has, and the
/// forms that embed an IPv4 address (whose entries never match that IPv4 client), each with its
/// name as the warning says it: "is in the NAME range CIDR".
const SPECIAL_PURPOSE: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\" (RFC 791)"),
    ("10.0.0.0/8", "private-use (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private-use (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation (RFC 5737)"),
    ("192.168.0.0/16", "private-use (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation (RFC 5737)"),
    ("203.0.113.0/24", "documentation (RFC 5737)"),
    // Multicast groups are destinations: no packet comes from one.
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
    ("::/128", "unspecified (RFC 4291)"),
    ("::1/128", "loopback (RFC 4291)"),
    // Embedded-IPv4 forms ([`EMBEDDED_IPV4`]): only `::ffff:a.b.c.d` is matched as IPv4, so an
    // entry written in one of these forms never matches the IPv4 client it names.
    ("::/96", "IPv4-compatible (RFC 4291, deprecated)"),
    ("64:ff9b::/96", "NAT64 well-known (RFC 6052)"),
    ("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
    ("::/8", "IETF-reserved (RFC 4291)"),
    // 6to4 clients send from it, but the IPv4 address it embeds is not that client.
    ("2002::/16", "6to4 (RFC 3056, deprecated by RFC 7526)"),
    ("ff00::/8", "multicast (RFC 4291)"),
    ("fc00::/7", "unique-local (RFC 4193)"),
    ("fe80::/10", "link-local (RFC 4291)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
];

/// The [`SPECIAL_PURPOSE`] ranges whose warning adds that IPv4 clients are matched only as IPv4
/// or `::ffff:a.b.c.d`.
const EMBEDDED_IPV4: &[&str] = &[
    "::/96",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "::/8",
    "2002::/16",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// [`covering`] as first written: every enclosing entry kept, scanned for each entry.
    fn covering_by_scan(entries: &[AllowlistEntry]) -> Vec<Option<usize>> {
        let outlives = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a >= b,
        };
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| (sort_key(entries[i].cidr), i));
        let mut result = vec![None; entries.len()];
        let mut stack: Vec<usize> = Vec::new();
        for &i in &order {
            while let Some(&top) = stack.last() {
                if entries[top].cidr.covers(&entries[i].cidr) {
                    break;
                }
                stack.pop();
            }
            result[i] = stack
                .iter()
                .rev()
                .copied()
                .find(|&s| outlives(entries[s].expires_at, entries[i].expires_at));
            stack.push(i);
        }
        // Same network: the longest-lived entry, first among equals, wherever it stands.
        for i in 0..entries.len() {
            let longest = (0..entries.len())
                .filter(|&j| entries[j].cidr == entries[i].cidr)
                .max_by(|&a, &b| {
                    Life(entries[a].expires_at)
                        .cmp(&Life(entries[b].expires_at))
                        .then(b.cmp(&a))
                })
                .unwrap();
            if longest != i {
                result[i] = Some(longest);
            }
        }
        result
    }

    fn entry(i: usize, cidr: &str, expires: Option<i64>) -> AllowlistEntry {
        let t = |h: i64| {
            crate::time::parse("2026-03-10T00:00:00Z").unwrap()
                + chrono::TimeDelta::try_hours(h).unwrap()
        };
        AllowlistEntry {
            id: EntryId::new(format!("ip_{i}")).unwrap(),
            cidr: cidr.parse().unwrap(),
            label: crate::allowlist::Label::default(),
            added_at: t(0),
            expires_at: expires.map(t),
        }
    }

    #[test]
    fn covering_names_the_same_entries_as_a_scan_of_every_enclosing_entry() {
        let networks = [
            "10.0.0.0/8",
            "10.0.0.0/16",
            "10.0.0.0/24",
            "10.0.1.0/24",
            "10.0.0.7/32",
            "::/0",
            "2001:db8::/32",
            "2001:db8::/48",
            "0.0.0.0/0",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for round in 0..300 {
            let len = 1 + round % 40;
            let entries: Vec<AllowlistEntry> = (0..len)
                .map(|i| {
                    let expires = match next(4) {
                        0 => None,
                        _ => Some(next(5) as i64),
                    };
                    entry(i, networks[next(networks.len())], expires)
                })
                .collect();
            assert_eq!(
                covering(&entries),
                covering_by_scan(&entries),
                "{entries:?}"
            );
        }
    }

    /// One network repeated with ever later expiries: the last entry outlives every other, so
    /// each other is its duplicate, and reversed the first; the scan above took time quadratic
    /// in their number.
    #[test]
    fn a_network_repeated_with_other_expiries_is_a_duplicate_of_its_longest_lived_entry() {
        let n = 50_000;
        let entries: Vec<AllowlistEntry> = (0..n)
            .map(|i| entry(i, "203.0.113.0/24", Some(i as i64)))
            .collect();
        let found = covering(&entries);
        assert_eq!(found[n - 1], None);
        assert!((0..n - 1).all(|i| found[i] == Some(n - 1)));
        let entries: Vec<AllowlistEntry> = (0..n)
            .map(|i| entry(i, "203.0.113.0/24", Some((n - i) as i64)))
            .collect();
        let found = covering(&entries);
        assert_eq!(found[0], None);
        assert!((1..n).all(|i| found[i] == Some(0)));
    }

    /// Whichever comes first in the list, the entry that expires sooner is the duplicate of the
    /// permanent one with the same network.
    #[test]
    fn the_shorter_lived_of_two_equal_networks_is_the_duplicate_in_either_order() {
        let temp = entry(0, "81.2.69.0/24", Some(24));
        let perm = entry(1, "81.2.69.0/24", None);
        assert_eq!(covering(&[temp.clone(), perm.clone()]), [Some(1), None]);
        assert_eq!(covering(&[perm, temp]), [None, Some(0)]);
    }

    #[test]
    fn every_special_purpose_range_parses() {
        for (text, _) in SPECIAL_PURPOSE {
            assert!(text.parse::<Cidr>().is_ok(), "{text}");
        }
    }

    #[test]
    fn every_embedded_ipv4_range_is_a_special_purpose_range() {
        for text in EMBEDDED_IPV4 {
            assert!(SPECIAL_PURPOSE.iter().any(|(t, _)| t == text), "{text}");
        }
    }

    #[test]
    fn ipv4_embedding_ranges_no_client_sends_from_are_special_purpose() {
        // An admin writing the NAT64 or IPv4-compatible form of an IPv4 client gets an entry
        // that never matches that client: the matcher maps only `::ffff:a.b.c.d` to IPv4.
        for (text, range) in [
            ("64:ff9b::cb00:7109/128", "64:ff9b::/96"),
            ("64:ff9b:1::/48", "64:ff9b:1::/48"),
            ("::cb00:7100/120", "::/96"),
            // Spans `::ffff:0:0/96` yet matches no IPv4 client: those are matched as IPv4.
            ("::fffe:0:0/95", "::/8"),
            ("::/64", "::/8"),
            ("2002:cb00:7109::/48", "2002::/16"),
        ] {
            let cidr: Cidr = text.parse().unwrap();
            let (found, _) = special_purpose(cidr).unwrap();
            assert_eq!(found.to_string(), range, "{text}");
        }
        for (text, what) in [
            ("224.0.0.5/32", "multicast (RFC 5771)"),
            ("ff02::1/128", "multicast (RFC 4291)"),
        ] {
            let cidr: Cidr = text.parse().unwrap();
            assert_eq!(special_purpose(cidr).unwrap().1, what, "{text}");
        }
        let loopback: Cidr = "::1/128".parse().unwrap();
        assert_eq!(special_purpose(loopback).unwrap().1, "loopback (RFC 4291)");
    }

    #[test]
    fn a_shorter_lived_entry_does_not_make_a_permanent_one_redundant() {
        assert!(Life(None) >= Life(None));
        assert!(Life(Some(DateTime::<Utc>::MIN_UTC)) < Life(None));
        assert!(Life(Some(DateTime::<Utc>::MAX_UTC)) < Life(None));
    }
}
