//! Recovery codes: a set of single-use codes for a member who lost their device, generated from
//! caller randomness, stored hashed, compared in constant time.
//!
//! Each code carries 80 random bits, written as 16 base32 characters in four groups
//! (`abcd-efgh-ijkl-mnop`). At 80 bits an unsalted SHA-256 is enough: searching 2⁸⁰ hashes is
//! out of reach, which is not true of short numeric codes (see [`super::sms`]).

use std::fmt;

use chrono::{DateTime, Utc};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::bounded::bounded_int;

bounded_int!(
    /// How many codes a set has.
    RecoveryCount: u8 = 1..=20, default 10
);

/// A plaintext recovery code, to show the member once. Zeroized on drop; `Debug` is redacted.
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    /// The code as shown: `xxxx-xxxx-xxxx-xxxx`, lower-case base32.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

/// A member's recovery codes as the store keeps them: hashes, and when each was used.
#[derive(Clone, Eq, PartialEq)]
pub struct RecoveryCodeSet {
    codes: Vec<StoredCode>,
}

#[derive(Clone, Copy, Eq, PartialEq)]
struct StoredCode {
    hash: [u8; 32],
    used_at: Option<DateTime<Utc>>,
}

impl RecoveryCodeSet {
    /// Rebuilds a stored set from its hashes and use times, as [`RecoveryCodeSet::parts`]
    /// returned them.
    #[must_use]
    pub fn from_parts(parts: Vec<([u8; 32], Option<DateTime<Utc>>)>) -> Self {
        Self {
            codes: parts
                .into_iter()
                .map(|(hash, used_at)| StoredCode { hash, used_at })
                .collect(),
        }
    }

    /// Each code's hash and when it was used, to store.
    #[must_use]
    pub fn parts(&self) -> Vec<([u8; 32], Option<DateTime<Utc>>)> {
        self.codes.iter().map(|c| (c.hash, c.used_at)).collect()
    }

    /// How many codes are still unused.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.codes.iter().filter(|c| c.used_at.is_none()).count()
    }

    /// How many codes the set had.
    #[must_use]
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the set has no codes at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

impl fmt::Debug for RecoveryCodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodeSet")
            .field("len", &self.codes.len())
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}

/// Whether a recovery code is accepted.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RecoveryCheck {
    /// The code is one of the set's unused codes; it is now used.
    Accept {
        /// Codes still unused after this one.
        remaining: usize,
    },
    /// The code is refused.
    Reject(RecoveryRejection),
}

/// Why a recovery code is refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum RecoveryRejection {
    /// Not 16 base32 characters once spaces and dashes are removed.
    Malformed,
    /// The code was in the set but has been used.
    AlreadyUsed {
        /// When it was used.
        used_at: DateTime<Utc>,
    },
    /// The code is not in the set.
    Unknown,
}

/// The result of [`redeem_recovery_code`]: the decision and the set to store back.
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecoveryAttempt {
    /// Whether the code is accepted.
    pub check: RecoveryCheck,
    /// The set after this attempt (the code marked used on acceptance). Store it with
    /// compare-and-set so one code cannot be redeemed twice by racing requests.
    pub set: RecoveryCodeSet,
}

/// Generates `count` codes from `rng`: the plaintexts to show once, and the set to store.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use whale_security::two_factor::recovery::*;
/// use whale_security::time;
///
/// let now = time::parse("2026-03-10T10:00:00Z")?;
/// let mut rng = StdRng::seed_from_u64(5);
/// let (codes, set) = generate_recovery_codes(&mut rng, RecoveryCount::DEFAULT);
/// assert_eq!((codes.len(), set.remaining()), (10, 10));
///
/// // Typed in upper case without dashes: still the same code. Then it is spent.
/// let typed = codes[0].as_str().replace('-', "").to_uppercase();
/// let first = redeem_recovery_code(&set, &typed, now);
/// assert_eq!(first.check, RecoveryCheck::Accept { remaining: 9 });
/// let again = redeem_recovery_code(&first.set, codes[0].as_str(), now);
/// assert!(matches!(again.check, RecoveryCheck::Reject(RecoveryRejection::AlreadyUsed { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn generate_recovery_codes<R: CryptoRng + ?Sized>(
    rng: &mut R,
    count: RecoveryCount,
) -> (Vec<RecoveryCode>, RecoveryCodeSet) {
    let mut plain = Vec::with_capacity(usize::from(count.get()));
    let mut codes = Vec::with_capacity(usize::from(count.get()));
    for _ in 0..count.get() {
        let mut bytes = Zeroizing::new([0u8; 10]);
        rng.fill_bytes(bytes.as_mut());
        let encoded = Zeroizing::new(
            totp_rs::Secret::from(bytes.as_slice())
                .to_base32()
                .to_ascii_lowercase(),
        );
        codes.push(StoredCode {
            hash: hash(&encoded),
            used_at: None,
        });
        let mut shown = Zeroizing::new(String::with_capacity(19));
        for (i, c) in encoded.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                shown.push('-');
            }
            shown.push(c);
        }
        plain.push(RecoveryCode(shown));
    }
    (plain, RecoveryCodeSet { codes })
}

/// Redeems `input` against `set` at `now`.
///
/// Spaces and dashes are ignored and case does not matter. The input's hash is compared with
/// every stored hash in constant time, without stopping at a match.
pub fn redeem_recovery_code(
    set: &RecoveryCodeSet,
    input: &str,
    now: DateTime<Utc>,
) -> RecoveryAttempt {
    let mut next = set.clone();
    let normalized: Zeroizing<String> = Zeroizing::new(
        input
            .chars()
            .filter(|c| !c.is_ascii_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    let well_formed = normalized.len() == 16
        && normalized
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'));
    if !well_formed {
        return RecoveryAttempt {
            check: RecoveryCheck::Reject(RecoveryRejection::Malformed),
            set: next,
        };
    }
    let candidate = hash(&normalized);
    let mut found: Option<usize> = None;
    for (i, code) in set.codes.iter().enumerate() {
        let hit: Choice = code.hash.ct_eq(&candidate);
        if bool::from(hit) && found.is_none() {
            found = Some(i);
        }
    }
    let check = match found.and_then(|i| next.codes.get_mut(i)) {
        None => RecoveryCheck::Reject(RecoveryRejection::Unknown),
        Some(StoredCode {
            used_at: Some(used_at),
            ..
        }) => RecoveryCheck::Reject(RecoveryRejection::AlreadyUsed { used_at: *used_at }),
        Some(code) => {
            code.used_at = Some(now);
            RecoveryCheck::Accept {
                remaining: next.remaining(),
            }
        }
    };
    RecoveryAttempt { check, set: next }
}

fn hash(code: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"whale-security recovery v1\0");
    hasher.update(code.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::time::parse;

    #[test]
    fn every_code_is_single_use_and_the_count_goes_down() {
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let (codes, mut set) =
            generate_recovery_codes(&mut StdRng::seed_from_u64(1), RecoveryCount::DEFAULT);
        for (i, code) in codes.iter().enumerate() {
            let attempt = redeem_recovery_code(&set, code.as_str(), now);
            assert_eq!(attempt.check, RecoveryCheck::Accept { remaining: 9 - i });
            set = attempt.set;
        }
        assert_eq!(set.remaining(), 0);
        assert!(matches!(
            redeem_recovery_code(&set, codes[3].as_str(), now).check,
            RecoveryCheck::Reject(RecoveryRejection::AlreadyUsed { .. })
        ));
    }

    #[test]
    fn codes_are_distinct_and_formatted_in_four_groups() {
        let (codes, _) = generate_recovery_codes(&mut StdRng::seed_from_u64(2), RecoveryCount::MAX);
        let mut seen = std::collections::HashSet::new();
        for code in &codes {
            assert_eq!(code.as_str().len(), 19);
            assert_eq!(code.as_str().matches('-').count(), 3);
            assert!(seen.insert(code.as_str().to_owned()));
        }
    }

    #[test]
    fn unknown_and_malformed_inputs_are_refused_without_spending_anything() {
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let (_, set) =
            generate_recovery_codes(&mut StdRng::seed_from_u64(3), RecoveryCount::DEFAULT);
        let unknown = redeem_recovery_code(&set, "aaaa-aaaa-aaaa-aaaa", now);
        assert_eq!(
            unknown.check,
            RecoveryCheck::Reject(RecoveryRejection::Unknown)
        );
        assert_eq!(unknown.set, set);
        for bad in ["", "aaaa-aaaa-aaaa-aaa1", "aaaa-aaaa-aaaa-aaaaa"] {
            assert_eq!(
                redeem_recovery_code(&set, bad, now).check,
                RecoveryCheck::Reject(RecoveryRejection::Malformed)
            );
        }
    }

    #[test]
    fn debug_shows_no_code_and_no_hash() {
        let (codes, set) =
            generate_recovery_codes(&mut StdRng::seed_from_u64(4), RecoveryCount::DEFAULT);
        let text = format!("{:?} {set:?}", codes[0]);
        assert!(!text.contains(codes[0].as_str()));
        assert!(!text.contains("hash"), "{text}");
    }
}
