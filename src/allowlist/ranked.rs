//! "Which entry is the most specific one containing this address": the naming structure
//! behind [`CompiledAllowlist::check_ip`](super::CompiledAllowlist::check_ip). The prefixes are
//! flattened into elementary segments, each labelled with the longest prefix covering it, and
//! the segment starts get the [`RankIndex`] of the allow/deny sets.

use super::matcher::{Key, Parity, RankIndex, high_half, high_ranges};

/// "No entry" in [`Ranked`].
pub(super) const NO_ENTRY: u32 = u32::MAX;

/// "Which entry is the most specific one containing this key", for one family.
#[derive(Clone)]
pub(super) struct Ranked {
    /// Segment starts of the IPv4 prefixes, or of the IPv6 prefixes of length `<= 64` on their
    /// top 64 bits; segment `i` runs to the next start.
    short: RankIndex,
    /// The entry index of each short segment, or [`NO_ENTRY`].
    short_entries: Box<[u32]>,
    /// Segment starts of the IPv6 prefixes longer than 64 (usually none).
    long: Box<[u128]>,
    /// The entry index of each long segment, or [`NO_ENTRY`].
    long_entries: Box<[u32]>,
    /// Boundaries of the top-64-bit ranges the long segments with an entry touch, so `long`
    /// is searched only near one.
    long_hint: Parity,
}

impl Ranked {
    /// Builds the segments of IPv4 `prefixes`, each `(first address, length, entry index)`.
    /// Among prefixes covering a key, the longest wins; among equal ones, the lowest index.
    pub(super) fn v4(prefixes: &mut [(u32, u8, u32)]) -> Self {
        let (starts, entries) = segments(prefixes);
        let starts: Vec<u64> = starts.into_iter().map(u64::from).collect();
        Self {
            short: RankIndex::new(&starts),
            short_entries: entries.into_boxed_slice(),
            long: Box::default(),
            long_entries: Box::default(),
            long_hint: Parity::new(&[]),
        }
    }

    /// Builds the segments of IPv6 `prefixes`, as [`v4`](Self::v4). A prefix longer than 64
    /// always beats one of 64 or less, so the two classes are flattened separately.
    pub(super) fn v6(prefixes: &[(u128, u8, u32)]) -> Self {
        let mut short: Vec<(u64, u8, u32)> = Vec::new();
        let mut long: Vec<(u128, u8, u32)> = Vec::new();
        for &(start, len, entry) in prefixes {
            if len <= 64 {
                short.push((high_half(start), len, entry));
            } else {
                long.push((start, len, entry));
            }
        }
        let (short_starts, short_entries) = segments(&mut short);
        let (long, long_entries) = segments(&mut long);
        let long_hint = Parity::new(&high_ranges(
            long.iter()
                .zip(&long_entries)
                .enumerate()
                .filter(|(_, (_, e))| **e != NO_ENTRY)
                .map(|(i, (s, _))| (*s, long.get(i.wrapping_add(1)).copied())),
        ));
        Self {
            short: RankIndex::new(&short_starts),
            short_entries: short_entries.into_boxed_slice(),
            long: long.into_boxed_slice(),
            long_entries: long_entries.into_boxed_slice(),
            long_hint,
        }
    }

    /// The entry of the most specific IPv4 prefix containing `key`, or [`NO_ENTRY`].
    #[inline]
    pub(super) fn lookup_v4(&self, key: u32) -> u32 {
        segment_entry(&self.short_entries, self.short.rank(u64::from(key)))
    }

    /// The entry of the most specific IPv6 prefix containing `key`, or [`NO_ENTRY`].
    #[inline]
    pub(super) fn lookup_v6(&self, key: u128) -> u32 {
        let high = high_half(key);
        if !self.long.is_empty() && self.long_hint.contains(high) {
            let long = segment_entry(&self.long_entries, self.long.partition_point(|s| *s <= key));
            if long != NO_ENTRY {
                return long;
            }
        }
        segment_entry(&self.short_entries, self.short.rank(high))
    }

    /// Heap bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.short
            .bytes()
            .saturating_add(size_of_val::<[u32]>(&self.short_entries))
            .saturating_add(size_of_val::<[u128]>(&self.long))
            .saturating_add(size_of_val::<[u32]>(&self.long_entries))
            .saturating_add(self.long_hint.bytes())
    }
}

/// The entry of the segment whose start is the `rank`-th one (1-based), or [`NO_ENTRY`].
#[inline]
fn segment_entry(entries: &[u32], rank: usize) -> u32 {
    rank.checked_sub(1)
        .and_then(|i| entries.get(i))
        .copied()
        .unwrap_or(NO_ENTRY)
}

/// Flattens `prefixes` (sorted in place) into strictly increasing segment starts, each with
/// the entry of the most specific prefix covering it (or [`NO_ENTRY`]).
fn segments<K: Key>(prefixes: &mut [(K, u8, u32)]) -> (Vec<K>, Vec<u32>) {
    // Sorted by start, then shorter (enclosing) first, then by entry index. Prefixes are
    // either nested or disjoint, so a stack of enclosing prefixes describes every point.
    prefixes.sort_unstable();
    let mut starts: Vec<K> = Vec::new();
    let mut entries: Vec<u32> = Vec::new();
    let mut stack: Vec<(K, u32)> = Vec::new(); // (last address, entry)
    let mut emit = |at: K, entry: u32| {
        if entries.last() == Some(&entry) {
            return;
        }
        if starts.last() == Some(&at) {
            if let Some(e) = entries.last_mut() {
                *e = entry;
            }
        } else {
            starts.push(at);
            entries.push(entry);
        }
        // Merging may leave two equal neighbours; drop the later one.
        if entries.len() >= 2 && entries.get(entries.len().wrapping_sub(2)) == entries.last() {
            starts.pop();
            entries.pop();
        }
    };
    let mut prev: Option<(K, u8)> = None;
    for &(start, len, entry) in prefixes.iter() {
        if prev == Some((start, len)) {
            // A duplicate with a higher index never wins.
            continue;
        }
        prev = Some((start, len));
        let last = start.prefix_last(len);
        // Close every enclosing prefix that ends before this one starts.
        while let Some(&(top_last, _)) = stack.last() {
            if top_last >= start {
                break;
            }
            stack.pop();
            if let Some(resume) = top_last.checked_next() {
                let below = stack.last().map_or(NO_ENTRY, |&(_, e)| e);
                emit(resume, below);
            }
        }
        emit(start, entry);
        stack.push((last, entry));
    }
    while let Some((top_last, _)) = stack.pop() {
        if let Some(resume) = top_last.checked_next() {
            let below = stack.last().map_or(NO_ENTRY, |&(_, e)| e);
            emit(resume, below);
        }
    }
    (starts, entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::matcher::IntervalSet;

    #[test]
    fn ranked_names_the_longest_then_the_first_entry() {
        let mut p = vec![
            (0x0a00_0000u32, 8u8, 0u32),
            (0x0a01_0000, 16, 1),
            (0x0a01_0000, 16, 2),
            (0x0a01_0100, 24, 3),
            (0x0b00_0000, 8, 4),
        ];
        let r = Ranked::v4(&mut p);
        assert_eq!(r.lookup_v4(0x0a00_0001), 0);
        assert_eq!(r.lookup_v4(0x0a01_0001), 1);
        assert_eq!(r.lookup_v4(0x0a01_0101), 3);
        assert_eq!(r.lookup_v4(0x0a01_0201), 1);
        assert_eq!(r.lookup_v4(0x0a02_0000), 0);
        assert_eq!(r.lookup_v4(0x0b12_0000), 4);
        assert_eq!(r.lookup_v4(0x0c00_0000), NO_ENTRY);
        assert_eq!(r.lookup_v4(0x0900_0000), NO_ENTRY);
    }

    #[test]
    fn ipv6_long_prefixes_match_across_a_64_bit_boundary_and_at_the_top() {
        // Two /65s merge into one interval that crosses from one /64 into the next.
        let a = (0x2001_0db8_0000_0000u128 << 64) | (1 << 63);
        let b = 0x2001_0db8_0000_0001u128 << 64;
        let prefixes = [
            (a, 65u8, 0u32),
            (b, 65, 1),
            (u128::MAX, 128, 2),
            (0x2400_0000_0000_0000_0000_0000_0000_0010, 124, 3),
            (0x2001_0db8_0001u128 << 80, 48, 4),
        ];
        let set = IntervalSet::v6(&prefixes.map(|(s, l, _)| (s, l)));
        let ranked = Ranked::v6(&prefixes);
        for (start, len, entry) in prefixes {
            let last = start.prefix_last(len);
            assert!(
                set.contains_v6(start) && set.contains_v6(last),
                "{start:#x}"
            );
            assert_eq!(ranked.lookup_v6(last), entry, "{start:#x}");
        }
        assert!(!set.contains_v6(a - 1));
        assert_eq!(ranked.lookup_v6(a - 1), NO_ENTRY);
        assert!(!set.contains_v6(u128::MAX - 1));
        assert_eq!(ranked.lookup_v6(u128::MAX - 1), NO_ENTRY);
        assert!(!set.contains_v6(0x2400_0000_0000_0000_0000_0000_0000_0020));
        assert_eq!(ranked.lookup_v6(b | (1 << 63)), NO_ENTRY);
        assert!(!set.contains_v6(b | (1 << 63)));
        assert_eq!(ranked.lookup_v6((0x2001_0db8_0001u128 << 80) | 9), 4);
    }

    #[test]
    fn ranked_ipv6_prefers_a_prefix_longer_than_64_over_a_shorter_one() {
        let net = 0x2001_0db8u128 << 96;
        let r = Ranked::v6(&[(net, 32, 0), (net | 5, 128, 1), (net, 64, 2)]);
        assert_eq!(r.lookup_v6(net | 5), 1);
        assert_eq!(r.lookup_v6(net | 6), 2);
        assert_eq!(r.lookup_v6(net | (1 << 64)), 0);
        assert_eq!(r.lookup_v6(net - 1), NO_ENTRY);
    }
}
