//! The compiled interval structures behind [`CidrSet`](super::CidrSet) and
//! [`CompiledAllowlist`](super::CompiledAllowlist). Private to the allowlist module.
//!
//! An allowlist is a set of addresses, so the prefixes of one family are merged into disjoint,
//! non-adjacent intervals and stored as one strictly increasing array of *boundaries*: each
//! interval `[start, last]` contributes `start` and `last + 1` (the latter omitted when `last`
//! is the top key). An address is in the set exactly when the number of boundaries `<= address`
//! (its *rank*) is odd.
//!
//! [`RankIndex`] answers "how many keys are `<= x`" over sorted `u64` keys:
//!
//! - **Reduction.** All keys share at least `tz` trailing zero bits (8 for a table of /24s, 80
//!   for IPv6 /48s), so the keys and the probe are shifted right by `tz` and offset by the first
//!   key; `b <= x` exactly when `b >> tz <= x >> tz` for such a `b`.
//! - **Directory.** The reduced range is cut into `2^k` equal buckets; `dir[i]` is the index of
//!   the first key in bucket `i`. Two sentinel buckets answer probes above the last key (rank =
//!   all keys) and below the first (rank 0), so every probe takes one directory lookup (two
//!   adjacent `u32`s) and an empty bucket answers with no search at all. Small key sets get
//!   about 16 buckets per key, so a miss nearly always lands in an empty bucket; large ones about
//!   one bucket per two keys, to keep the directory in cache.
//! - **Narrow keys.** Keys in one bucket agree on every bit at or above the bucket width, so
//!   only their low 16, 32 or 64 bits are stored (the narrowest type wider than the bucket): 2
//!   bytes per key for the full IPv4 BGP table, 4 for the IPv6 one.
//! - **Search.** A branch-free binary search over the bucket's few keys.
//!
//! IPv6 prefixes of length `<= 64` (nearly all real ones) are looked up on the top 64 bits only;
//! longer ones live in a separate sorted `u128` array. A second, small [`RankIndex`] holds the
//! top-64-bit ranges those long intervals touch, and the array is searched only for a key inside
//! one of them: without it every miss on the full BGP table (83 such prefixes) paid a binary
//! search of the array, 13.3 ns per lookup instead of 6.2 on the 1 %-hit stream.
//!
//! [`Ranked`] answers the other question, "which entry is the most specific one containing the
//! address": the prefixes are flattened into elementary segments, each labelled with the
//! longest prefix covering it, and the segment starts get the same [`RankIndex`].
//!
//! A separate linear path for tiny lists (a branch-free count over 16 boundaries padded with the
//! top key) was measured and removed earlier: the directory answers a tiny list in one or two
//! loads.

use std::fmt;

/// The directory never has more than `2^MAX_DIR_BITS` buckets (1 MiB of `u32`s).
const MAX_DIR_BITS: u32 = 18;

/// Key sets up to this size get a sparse directory (about 16 buckets per key).
const SMALL_KEYS: usize = 1024;

/// Zero keys stored after the last one, so a fixed window from any bucket stays in the array.
const PAD: usize = 16;

/// "No entry" in [`Ranked`].
pub(super) const NO_ENTRY: u32 = u32::MAX;

/// A key type the builders work on: `u32` (IPv4), `u64` (the top half of IPv6) and `u128`.
pub(super) trait Key: Copy + Ord + Default + fmt::Debug {
    /// `self + 1`, or `None` at the top.
    fn checked_next(self) -> Option<Self>;
    /// The last address of the prefix starting at `self` with length `len` (`len <= BITS`).
    fn prefix_last(self, len: u8) -> Self;
}

macro_rules! key_impl {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn checked_next(self) -> Option<Self> {
                self.checked_add(1)
            }

            fn prefix_last(self, len: u8) -> Self {
                self | <$t>::MAX.checked_shr(u32::from(len)).unwrap_or(0)
            }
        }
    )*};
}

key_impl!(u32, u64, u128);

/// The allow/deny structure of one family: a set of disjoint intervals.
///
/// Known shortcoming: the full IPv6 BGP table has a few hundred prefixes between /49 and /64,
/// which leave no shared trailing zeros on the top 64 bits, so its buckets are wider than 32
/// bits and keys are stored as `u64`: above the 2-byte-per-prefix target (see the README).
/// Moving those few prefixes to a second small index would allow 32-bit keys.
#[derive(Clone)]
pub(super) struct IntervalSet {
    /// Boundaries of the IPv4 prefixes, or of the IPv6 prefixes of length `<= 64` on their top
    /// 64 bits.
    short: RankIndex,
    /// Boundaries of the IPv6 prefixes longer than 64 (usually none).
    long: Box<[u128]>,
    /// Boundaries of the top-64-bit ranges that `long`'s intervals touch, so a key outside
    /// them skips the search of `long` after one directory lookup (the full BGP table has 83
    /// such prefixes, which every miss would otherwise binary-search).
    long_hint: RankIndex,
}

impl IntervalSet {
    /// The set of the given IPv4 prefixes, each `(first address, length)` with host bits clear.
    pub(super) fn v4(prefixes: &mut [(u32, u8)]) -> Self {
        let bounds: Vec<u64> = boundaries(prefixes).into_iter().map(u64::from).collect();
        Self {
            short: RankIndex::new(&bounds),
            long: Box::default(),
            long_hint: RankIndex::new(&[]),
        }
    }

    /// The set of the given IPv6 prefixes, each `(first address, length)` with host bits clear.
    pub(super) fn v6(prefixes: &[(u128, u8)]) -> Self {
        let mut short: Vec<(u64, u8)> = Vec::new();
        let mut long: Vec<(u128, u8)> = Vec::new();
        for &(start, len) in prefixes {
            if len <= 64 {
                short.push((high_half(start), len));
            } else {
                long.push((start, len));
            }
        }
        let long = boundaries(&mut long);
        Self {
            short: RankIndex::new(&boundaries(&mut short)),
            long_hint: RankIndex::new(&high_ranges(
                long.chunks(2)
                    .map(|b| (b.first().copied().unwrap_or(0), b.get(1).copied())),
            )),
            long: long.into_boxed_slice(),
        }
    }

    /// Whether the IPv4 `key` is in the set (only for a set built by [`v4`](Self::v4)).
    #[inline]
    pub(super) fn contains_v4(&self, key: u32) -> bool {
        self.short.rank(u64::from(key)) & 1 == 1
    }

    /// Whether the IPv6 `key` is in the set (only for a set built by [`v6`](Self::v6)).
    #[inline]
    pub(super) fn contains_v6(&self, key: u128) -> bool {
        let high = high_half(key);
        self.short.rank(high) & 1 == 1
            || (!self.long.is_empty()
                && self.long_hint.rank(high) & 1 == 1
                && self.long.partition_point(|b| *b <= key) & 1 == 1)
    }

    /// The number of disjoint intervals (the long IPv6 prefixes are merged among themselves).
    pub(super) fn intervals(&self) -> usize {
        self.short
            .len()
            .div_ceil(2)
            .saturating_add(self.long.len().div_ceil(2))
    }

    /// Heap bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.short
            .bytes()
            .saturating_add(self.long.len().saturating_mul(size_of::<u128>()))
            .saturating_add(self.long_hint.bytes())
    }
}

/// Sorted distinct `u64` keys with a directory: counts the keys `<= x` (see the module docs).
#[derive(Clone)]
pub(super) struct RankIndex {
    /// The trailing zero bits every key has (at most 63).
    tz: u32,
    /// The first key, shifted right by `tz`.
    base: u64,
    /// The bucket width in bits, in the reduced key space.
    shift: u32,
    /// The number of buckets, which is also the index of the "above the last key" sentinel;
    /// `above + 2` is the "below the first key" sentinel.
    above: usize,
    /// The number of keys.
    len: usize,
    /// `dir[i]` is the index of the first key in bucket `i`, for `i <= above` (so
    /// `dir[above]` is the number of keys); then `len`, `0`, `0` for the sentinels.
    /// INVARIANT: non-decreasing up to `above + 1`, every value `<= keys.len()`.
    dir: Box<[u32]>,
    /// The reduced keys minus `base`, truncated to the narrowest type holding `shift` bits.
    keys: Stored,
}

#[derive(Clone)]
enum Stored {
    U16(Box<[u16]>),
    U32(Box<[u32]>),
    U64(Box<[u64]>),
}

impl RankIndex {
    /// Indexes `keys`, which must be strictly increasing.
    pub(super) fn new(keys: &[u64]) -> Self {
        let len = keys.len();
        let tz = keys
            .iter()
            .map(|k| k.trailing_zeros())
            .min()
            .unwrap_or(0)
            .min(63);
        let base = keys.first().map_or(0, |k| k.wrapping_shr(tz));
        let span = keys
            .last()
            .map_or(0, |k| k.wrapping_shr(tz).wrapping_sub(base));
        // ceil(log2(len)), 0 for len <= 1.
        let log = usize::BITS.saturating_sub(len.saturating_sub(1).leading_zeros());
        let want = if len <= SMALL_KEYS {
            log.saturating_add(4)
        } else {
            log.saturating_sub(1)
        }
        .clamp(1, MAX_DIR_BITS);
        let span_bits = u64::BITS.saturating_sub(span.leading_zeros());
        let shift = span_bits.saturating_sub(want);
        // span >> shift < 2^MAX_DIR_BITS, so this fits.
        let above = usize::try_from(span.wrapping_shr(shift))
            .unwrap_or(0)
            .saturating_add(1);
        let offsets = keys.iter().map(|k| k.wrapping_shr(tz).wrapping_sub(base));
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut dir = Vec::with_capacity(above.saturating_add(4));
        let mut next = 0usize;
        let mut pending = offsets.clone().peekable();
        for i in 0..above {
            while pending
                .next_if(|o| usize::try_from(o.wrapping_shr(shift)).is_ok_and(|b| b < i))
                .is_some()
            {
                next = next.saturating_add(1);
            }
            dir.push(count(next));
        }
        dir.extend([count(len), count(len), 0, 0]);
        // Padded with one window (the largest, 16 keys) of zeros that no count includes.
        let keys = if shift <= 16 {
            Stored::U16(offsets.map(|o| o as u16).chain([0; PAD]).collect())
        } else if shift <= 32 {
            Stored::U32(offsets.map(|o| o as u32).chain([0; PAD]).collect())
        } else {
            Stored::U64(offsets.chain([0; PAD]).collect())
        };
        Self {
            tz,
            base,
            shift,
            above,
            len,
            dir: dir.into_boxed_slice(),
            keys,
        }
    }

    /// The number of keys `<= key`.
    #[inline]
    pub(super) fn rank(&self, key: u64) -> usize {
        let reduced = key.wrapping_shr(self.tz);
        let offset = reduced.wrapping_sub(self.base);
        let bucket = usize::try_from(offset.wrapping_shr(self.shift))
            .unwrap_or(usize::MAX)
            .min(self.above);
        let i = if reduced < self.base {
            self.above.wrapping_add(2)
        } else {
            bucket
        };
        let (Some(&lo), Some(&hi)) = (self.dir.get(i), self.dir.get(i.wrapping_add(1))) else {
            return 0;
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let n = hi.wrapping_sub(lo);
        if n == 0 {
            return lo;
        }
        // Keys in one bucket agree on every bit at or above `shift`, so comparing the stored
        // low bits is exact (see `new`).
        lo.wrapping_add(match &self.keys {
            Stored::U16(k) => count_in::<u16, 16>(k, lo, n, offset as u16),
            Stored::U32(k) => count_in::<u32, 8>(k, lo, n, offset as u32),
            Stored::U64(k) => count_in::<u64, 4>(k, lo, n, offset),
        })
    }

    /// The number of keys.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    pub(super) fn bytes(&self) -> usize {
        let keys = match &self.keys {
            Stored::U16(k) => size_of_val::<[u16]>(k),
            Stored::U32(k) => size_of_val::<[u32]>(k),
            Stored::U64(k) => size_of_val::<[u64]>(k),
        };
        keys.saturating_add(size_of_val::<[u32]>(&self.dir))
    }
}

/// The number of the `n` keys from `lo` that are `<= x`. A bucket of at most `W` keys (nearly
/// all of them) is counted without a branch over a fixed window of `W` keys (32 bytes, padded at
/// the end of the array, so an empty bucket costs the same as a full one and the hit/miss mix
/// of the stream cannot mispredict); a larger one by binary search.
#[inline]
fn count_in<S: Copy + Ord, const W: usize>(keys: &[S], lo: usize, n: usize, x: S) -> usize {
    if n <= W
        && let Some(window) = keys
            .get(lo..lo.wrapping_add(W))
            .and_then(|w| <&[S; W]>::try_from(w).ok())
    {
        window
            .iter()
            .enumerate()
            .map(|(j, k)| usize::from((j < n) & (*k <= x)))
            .sum()
    } else {
        count_le(keys.get(lo..lo.wrapping_add(n)).unwrap_or_default(), x)
    }
}

/// The number of elements `<= x` in the sorted `keys`: a branch-free binary search.
#[inline]
fn count_le<S: Copy + Ord>(keys: &[S], x: S) -> usize {
    let mut lo = 0usize;
    let mut len = keys.len();
    while len > 1 {
        let half = len / 2;
        let mid = lo.wrapping_add(half);
        lo = if keys.get(mid).is_some_and(|k| *k <= x) {
            mid
        } else {
            lo
        };
        len = len.wrapping_sub(half);
    }
    lo.wrapping_add(usize::from(keys.get(lo).is_some_and(|k| *k <= x)))
}

/// The strictly increasing boundaries of the top-64-bit ranges touched by the sorted,
/// disjoint `u128` ranges `[start, end)` (`end` `None` for the top of the space).
fn high_ranges(ranges: impl Iterator<Item = (u128, Option<u128>)>) -> Vec<u64> {
    let mut bounds = Vec::new();
    let mut open: Option<(u64, u64)> = None;
    for (start, end) in ranges {
        let (first, last) = (
            high_half(start),
            end.map_or(u64::MAX, |e| high_half(e.saturating_sub(1))),
        );
        open = match open {
            Some((s, l)) if l.checked_next().is_none_or(|n| first <= n) => Some((s, l.max(last))),
            Some((s, l)) => {
                push_interval(&mut bounds, s, l);
                Some((first, last))
            }
            None => Some((first, last)),
        };
    }
    if let Some((s, l)) = open {
        push_interval(&mut bounds, s, l);
    }
    bounds
}

/// The top 64 bits of an IPv6 key.
#[inline]
fn high_half(key: u128) -> u64 {
    (key >> 64) as u64
}

/// The strictly increasing boundaries of the union of `prefixes` (sorted in place).
fn boundaries<K: Key>(prefixes: &mut [(K, u8)]) -> Vec<K> {
    prefixes.sort_unstable();
    let mut bounds = Vec::new();
    // The interval being grown: [start, last].
    let mut open: Option<(K, K)> = None;
    for &(start, len) in prefixes.iter() {
        let last = start.prefix_last(len);
        open = match open {
            Some((s, l)) if l.checked_next().is_none_or(|n| start <= n) => Some((s, l.max(last))),
            Some((s, l)) => {
                push_interval(&mut bounds, s, l);
                Some((start, last))
            }
            None => Some((start, last)),
        };
    }
    if let Some((s, l)) = open {
        push_interval(&mut bounds, s, l);
    }
    bounds
}

fn push_interval<K: Key>(bounds: &mut Vec<K>, start: K, last: K) {
    bounds.push(start);
    if let Some(end) = last.checked_next() {
        bounds.push(end);
    }
}

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
    /// Boundaries of the top-64-bit ranges the long segments with an entry touch, as in
    /// [`IntervalSet`].
    long_hint: RankIndex,
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
            long_hint: RankIndex::new(&[]),
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
        let long_hint = RankIndex::new(&high_ranges(
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
        if !self.long.is_empty() && self.long_hint.rank(high) & 1 == 1 {
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

    fn set32(prefixes: &[(u32, u8)]) -> IntervalSet {
        IntervalSet::v4(&mut prefixes.to_vec())
    }

    fn naive(prefixes: &[(u32, u8)], key: u32) -> bool {
        prefixes
            .iter()
            .any(|&(s, l)| s <= key && key <= s.prefix_last(l))
    }

    /// A seeded xorshift64* generator.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Checks `rank` against a plain binary search at, around and between every key.
    fn assert_rank_agrees(keys: &[u64]) {
        let index = RankIndex::new(keys);
        let mut probes = vec![0, 1, u64::MAX, u64::MAX - 1];
        for &k in keys {
            probes.extend([
                k.wrapping_sub(1),
                k,
                k.wrapping_add(1),
                k | 0xff,
                k ^ (1 << 40),
            ]);
        }
        for p in probes {
            let want = keys.partition_point(|k| *k <= p);
            assert_eq!(index.rank(p), want, "{p:#x} in {} keys", keys.len());
        }
    }

    #[test]
    fn empty_set_contains_nothing_even_the_top_key() {
        let s = set32(&[]);
        assert!(!s.contains_v4(0));
        assert!(!s.contains_v4(u32::MAX));
        let s = IntervalSet::v6(&[]);
        assert!(!s.contains_v6(0));
        assert!(!s.contains_v6(u128::MAX));
    }

    #[test]
    fn slash_zero_contains_every_key() {
        let s = set32(&[(0, 0)]);
        assert!(s.contains_v4(0));
        assert!(s.contains_v4(u32::MAX));
        assert_eq!(s.intervals(), 1);
        let s = IntervalSet::v6(&[(0, 0)]);
        assert!(s.contains_v6(0));
        assert!(s.contains_v6(u128::MAX));
    }

    #[test]
    fn adjacent_prefixes_merge_into_one_interval() {
        let s = set32(&[(0x0a00_0000, 9), (0x0a80_0000, 9)]);
        assert_eq!(s.intervals(), 1);
        assert!(s.contains_v4(0x0aff_ffff));
        assert!(!s.contains_v4(0x0b00_0000));
        assert!(!s.contains_v4(0x09ff_ffff));
    }

    #[test]
    fn ipv6_prefixes_longer_than_64_are_kept_apart_and_still_match() {
        let host = 0x2001_0db8_0000_0000_0000_0000_0000_0001u128;
        let s = IntervalSet::v6(&[(host, 128), (0x2001_0db9 << 96, 32)]);
        assert!(s.contains_v6(host));
        assert!(!s.contains_v6(host + 1));
        assert!(!s.contains_v6(host - 1));
        assert!(s.contains_v6((0x2001_0db9 << 96) | 77));
    }

    #[test]
    fn directory_agrees_with_a_scan_at_every_boundary() {
        let prefixes: Vec<(u32, u8)> = (0..500u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) & 0xffff_ff00, 24))
            .chain([(u32::MAX, 32), (0, 32), (0x8000_0000, 2)])
            .collect();
        let s = set32(&prefixes);
        for &(start, len) in &prefixes {
            let last = start.prefix_last(len);
            for k in [
                start.wrapping_sub(1),
                start,
                last,
                last.wrapping_add(1),
                start | 7,
            ] {
                assert_eq!(s.contains_v4(k), naive(&prefixes, k), "{k:#x}");
            }
        }
    }

    #[test]
    fn rank_agrees_with_a_binary_search_for_every_key_width_and_density() {
        let mut state = 0x5eed_u64;
        // Sizes around the small/large directory switch; masks give 16-, 32- and 64-bit
        // stored keys and many trailing zeros.
        for &n in &[0usize, 1, 2, 3, 17, SMALL_KEYS, SMALL_KEYS + 1, 5000] {
            for &(mask, or) in &[
                (u64::MAX, 0),
                (0xffff_ff00, 0),
                (0xffff_ffff_0000_0000, 0),
                (0x0000_00ff_ff00_0000, 0x2000_0000_0000_0000),
                (0xffff, 0),
            ] {
                let mut keys: Vec<u64> = (0..n).map(|_| (rng(&mut state) & mask) | or).collect();
                keys.sort_unstable();
                keys.dedup();
                assert_rank_agrees(&keys);
            }
        }
        assert_rank_agrees(&[0]);
        assert_rank_agrees(&[u64::MAX]);
        assert_rank_agrees(&[0, u64::MAX]);
        assert_rank_agrees(&[1 << 63]);
    }

    #[test]
    fn count_le_counts_every_position() {
        let keys = [2u16, 4, 6, 8, 10, 12, 14];
        for x in 0..16u16 {
            assert_eq!(count_le(&keys, x), usize::from(x / 2).min(7));
        }
        assert_eq!(count_le::<u16>(&[], 3), 0);
    }

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
