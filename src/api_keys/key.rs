//! Key material: generating a key from caller-supplied randomness, reading a presented key, and
//! the digest a key is stored and looked up by.
//!
//! A key is `wk_live_` or `wk_test_` followed by 43 base62 characters (`0-9A-Za-z`) that encode
//! 32 random bytes (256 bits) as one big-endian number, so every key has exactly
//! [`KEY_LEN`] = 51 characters. Only the SHA-256 digest of the whole text is stored.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ApiKeyError;
use crate::id::KeyId;

/// The number of random bytes behind every key.
pub const SEED_LEN: usize = 32;

/// The number of base62 characters after the prefix: the fewest that hold 256 bits
/// (62^43 > 2^256 > 62^42).
pub const KEY_BODY_LEN: usize = 43;

/// The length of every key, prefix included.
pub const KEY_LEN: usize = PREFIX_LEN + KEY_BODY_LEN;

/// How many characters of the random body the display prefix shows (about 24 of the 256 bits).
pub const DISPLAY_BODY_CHARS: usize = 4;

/// Which API a key opens: live data or the test sandbox.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `wk_live_` keys.
    Live,
    /// `wk_test_` keys.
    Test,
}

impl Environment {
    /// The prefix every key of this environment starts with.
    #[must_use]
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Live => "wk_live_",
            Self::Test => "wk_test_",
        }
    }
}

/// 32 bytes from a cryptographically secure random generator, to become one key.
///
/// The core never draws randomness itself: the edge of the service fills a seed (for example
/// with `getrandom::fill`) and passes it in; tests pass seeds from a seeded generator. The bytes
/// are zeroized when the seed is dropped.
///
/// # Examples
///
/// ```
/// use whale_security::api_keys::KeySeed;
///
/// let mut bytes = [0u8; 32];
/// getrandom::fill(&mut bytes).map_err(|e| e.to_string())?; // edge code only: the library never reads the OS RNG
/// let seed = KeySeed::from_bytes(bytes);
/// assert_eq!(format!("{seed:?}"), "KeySeed(..)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KeySeed([u8; SEED_LEN]);

impl KeySeed {
    /// Wraps 32 random bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; SEED_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for KeySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySeed(..)")
    }
}

/// A newly generated key: the only time its text exists outside the client.
///
/// Show [`ApiKey::expose_secret`] to the user once, store [`ApiKey::digest`], drop the key. It
/// has no `Display`, no `Serialize`, no `Clone`; its `Debug` shows the environment and key id
/// only; its text is zeroized on drop.
///
/// # Examples
///
/// ```
/// use subtle::ConstantTimeEq;
/// use whale_security::api_keys::{ApiKey, Environment, KeySeed, PresentedKey};
///
/// let key = ApiKey::from_seed(Environment::Live, KeySeed::from_bytes([7; 32]));
/// assert!(key.expose_secret().starts_with("wk_live_"));
/// assert_eq!(key.expose_secret().len(), 51);
/// assert!(!format!("{key:?}").contains(key.expose_secret()));
///
/// // The client presents it later; the digest is what matches.
/// let presented = PresentedKey::parse(key.expose_secret())?;
/// assert!(bool::from(presented.digest().ct_eq(&key.digest())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ApiKey {
    text: Zeroizing<String>,
    environment: Environment,
    digest: KeyDigest,
    id: KeyId,
}

impl ApiKey {
    /// The key `seed` encodes in `environment`. The same seed always gives the same key.
    #[must_use]
    pub fn from_seed(environment: Environment, seed: KeySeed) -> Self {
        let mut text = Zeroizing::new(String::with_capacity(KEY_LEN));
        text.push_str(environment.prefix());
        encode_base62(&seed.0, &mut text);
        let digest = KeyDigest::of(&text);
        let id = key_id_for(&text);
        Self {
            text,
            environment,
            digest,
            id,
        }
    }

    /// The key's full text, to show the user once. Never log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.text
    }

    /// The key's environment.
    #[must_use]
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The digest to store.
    #[must_use]
    pub fn digest(&self) -> KeyDigest {
        self.digest
    }

    /// The key's id, derived from its text by a hash separate from the digest.
    #[must_use]
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The prefix shown in listings and responses, such as `wk_live_9x8y...`: the environment
    /// prefix, the first [`DISPLAY_BODY_CHARS`] characters of the body, and `...`.
    #[must_use]
    pub fn display_prefix(&self) -> String {
        display_prefix(&self.text)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("environment", &self.environment)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A key as a client presented it, checked for form but not yet looked up.
///
/// It borrows the caller's text and never copies it; its `Debug` shows only the environment.
///
/// # Examples
///
/// ```
/// use whale_security::api_keys::{ApiKeyError, Environment, PresentedKey};
///
/// let text = format!("wk_test_{}", "a".repeat(43));
/// assert_eq!(PresentedKey::parse(&text)?.environment(), Environment::Test);
///
/// // Each kind of malformed key is its own error, and none repeats the text.
/// assert_eq!(PresentedKey::parse("sk_live_abc").unwrap_err(), ApiKeyError::UnknownPrefix);
/// assert_eq!(
///     PresentedKey::parse("wk_live_abc").unwrap_err(),
///     ApiKeyError::Length { found: 11, expected: 51 },
/// );
/// let bad = format!("wk_live_{}-", "a".repeat(42));
/// assert_eq!(PresentedKey::parse(&bad).unwrap_err(), ApiKeyError::Alphabet { position: 50 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct PresentedKey<'a> {
    text: &'a str,
    environment: Environment,
}

impl<'a> PresentedKey<'a> {
    /// Checks that `text` has a key's form: a known prefix, [`KEY_LEN`] characters, and only
    /// ASCII letters and digits after the prefix.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::UnknownPrefix`], [`ApiKeyError::Length`] or [`ApiKeyError::Alphabet`], in
    /// that order of checking. None contains any of the text.
    pub fn parse(text: &'a str) -> Result<Self, ApiKeyError> {
        let environment = if text.starts_with(Environment::Live.prefix()) {
            Environment::Live
        } else if text.starts_with(Environment::Test.prefix()) {
            Environment::Test
        } else {
            return Err(ApiKeyError::UnknownPrefix);
        };
        if text.len() != KEY_LEN {
            return Err(ApiKeyError::Length {
                found: text.len(),
                expected: KEY_LEN,
            });
        }
        if let Some(offset) = text
            .bytes()
            .skip(PREFIX_LEN)
            .position(|b| !b.is_ascii_alphanumeric())
        {
            return Err(ApiKeyError::Alphabet {
                position: PREFIX_LEN.saturating_add(offset),
            });
        }
        Ok(Self { text, environment })
    }

    /// The environment its prefix names.
    #[must_use]
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The SHA-256 digest of the text, to look the key up by.
    #[must_use]
    pub fn digest(&self) -> KeyDigest {
        KeyDigest::of(self.text)
    }

    /// The id the key has if it was generated by this crate.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        key_id_for(self.text)
    }

    /// The display prefix, as [`ApiKey::display_prefix`].
    #[must_use]
    pub fn display_prefix(&self) -> String {
        display_prefix(self.text)
    }
}

impl fmt::Debug for PresentedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedKey")
            .field("environment", &self.environment)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The SHA-256 digest of a key's full text: what is stored instead of the key.
///
/// Keys carry 256 random bits, so a plain (unsalted, fast) hash is enough: there is nothing to
/// guess. Compare digests with [`ConstantTimeEq`] only; the type has no `PartialEq`, and its
/// `Debug` does not print the bytes.
#[derive(Clone, Copy)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `text`.
    #[must_use]
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    /// A digest read back from storage.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The bytes, to write to storage.
    #[must_use]
    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// The first 8 bytes, as the hash-table tag a store indexes by before the constant-time
    /// comparison of the whole digest.
    #[must_use]
    pub fn lookup_tag(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_be_bytes([a, b, c, d, e, f, g, h])
    }
}

impl ConstantTimeEq for KeyDigest {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

const PREFIX_LEN: usize = 8;

/// Writes the 256-bit big-endian number `bytes` as exactly [`KEY_BODY_LEN`] base62 digits.
fn encode_base62(bytes: &[u8; SEED_LEN], out: &mut String) {
    let mut number = Zeroizing::new(*bytes);
    let mut digits = Zeroizing::new([0u8; KEY_BODY_LEN]);
    for slot in digits.iter_mut().rev() {
        let mut remainder: u32 = 0;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            // INVARIANT: remainder < 62, so acc < 62 * 256 and acc / 62 < 256.
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        // INVARIANT: remainder < 62.
        *slot = base62_char(remainder as u8);
    }
    out.extend(digits.iter().map(|&d| char::from(d)));
}

/// The base62 character of a digit `0..62`: `0-9`, then `A-Z`, then `a-z`.
fn base62_char(digit: u8) -> u8 {
    match digit {
        0..=9 => b'0' + digit,
        10..=35 => b'A' + (digit - 10),
        _ => b'a' + digit.saturating_sub(36).min(25),
    }
}

fn display_prefix(text: &str) -> String {
    let shown = text
        .get(..PREFIX_LEN + DISPLAY_BODY_CHARS)
        .unwrap_or_default();
    format!("{shown}...")
}

/// `key_` and 24 hex digits of a SHA-256 over the key text, domain-separated from the digest so
/// that the id (public) is not the lookup digest.
fn key_id_for(text: &str) -> KeyId {
    let mut hasher = Sha256::new();
    hasher.update(b"whale-security/key-id/v1\0");
    hasher.update(text.as_bytes());
    let hash = hasher.finalize();
    let mut id = String::with_capacity(4 + 24);
    id.push_str(KeyId::PREFIX);
    for byte in hash.iter().take(12) {
        id.push_str(&format!("{byte:02x}"));
    }
    #[expect(
        clippy::expect_used,
        reason = "`key_` then 24 lowercase hex digits: the prefix is present and the suffix has \
                  1..=64 ASCII alphanumerics, which is all KeyId::new checks"
    )]
    KeyId::new(id).expect("a hex key id is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_of_zero_and_of_the_largest_seed_fill_exactly_43_digits() {
        let mut zero = String::new();
        encode_base62(&[0; 32], &mut zero);
        assert_eq!(zero, "0".repeat(43));
        let mut max = String::new();
        encode_base62(&[0xff; 32], &mut max);
        assert_eq!(max.len(), 43);
        // Python: the base62 digits of 2**256 - 1 with the same alphabet.
        assert_eq!(max, "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1");
    }

    #[test]
    fn base62_matches_a_slow_reference_on_small_numbers() {
        for n in [1u64, 61, 62, 63, 3843, 3844, u64::MAX] {
            let mut bytes = [0u8; 32];
            bytes[24..].copy_from_slice(&n.to_be_bytes());
            let mut got = String::new();
            encode_base62(&bytes, &mut got);
            let mut want = Vec::new();
            let mut m = n;
            while m > 0 {
                want.push(base62_char((m % 62) as u8));
                m /= 62;
            }
            want.reverse();
            let want = String::from_utf8(want).unwrap();
            assert_eq!(got.trim_start_matches('0'), want, "{n}");
        }
    }

    #[test]
    fn base62_alphabet_is_digits_upper_lower() {
        let all: String = (0..62).map(|d| char::from(base62_char(d))).collect();
        assert_eq!(
            all,
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        );
    }

    #[test]
    fn different_seeds_give_different_keys_and_ids() {
        let a = ApiKey::from_seed(Environment::Live, KeySeed::from_bytes([1; 32]));
        let b = ApiKey::from_seed(Environment::Live, KeySeed::from_bytes([2; 32]));
        let c = ApiKey::from_seed(Environment::Test, KeySeed::from_bytes([1; 32]));
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
        assert!(!bool::from(a.digest().ct_eq(&c.digest())));
    }

    #[test]
    fn a_generated_key_parses_and_its_digest_and_id_match() {
        let key = ApiKey::from_seed(Environment::Test, KeySeed::from_bytes([9; 32]));
        let presented = PresentedKey::parse(key.expose_secret()).unwrap();
        assert_eq!(presented.environment(), Environment::Test);
        assert!(bool::from(presented.digest().ct_eq(&key.digest())));
        assert_eq!(&presented.key_id(), key.id());
        assert_eq!(presented.display_prefix(), key.display_prefix());
        assert_eq!(key.display_prefix().len(), 8 + 4 + 3);
    }

    #[test]
    fn the_key_id_is_not_derived_from_the_digest_bytes() {
        let key = ApiKey::from_seed(Environment::Live, KeySeed::from_bytes([3; 32]));
        let digest_hex: String = key.digest().to_bytes()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!key.id().as_str().contains(&digest_hex));
    }

    #[test]
    fn parse_rejects_each_malformation_with_its_own_error() {
        let body = "a".repeat(43);
        assert_eq!(
            PresentedKey::parse(&format!("WK_LIVE_{body}")).unwrap_err(),
            ApiKeyError::UnknownPrefix
        );
        assert_eq!(
            PresentedKey::parse(&format!(" wk_live_{body}")).unwrap_err(),
            ApiKeyError::UnknownPrefix
        );
        assert_eq!(
            PresentedKey::parse("").unwrap_err(),
            ApiKeyError::UnknownPrefix
        );
        assert_eq!(
            PresentedKey::parse(&format!("wk_live_{body}a")).unwrap_err(),
            ApiKeyError::Length {
                found: 52,
                expected: 51
            }
        );
        assert_eq!(
            PresentedKey::parse(&format!("wk_live_{body} ")).unwrap_err(),
            ApiKeyError::Length {
                found: 52,
                expected: 51
            }
        );
        let mut odd = format!("wk_live_{body}");
        odd.replace_range(20..21, "_");
        assert_eq!(
            PresentedKey::parse(&odd).unwrap_err(),
            ApiKeyError::Alphabet { position: 20 }
        );
        // A two-byte character keeps the byte length but is not in the alphabet.
        let multi = format!("wk_live_é{}", "a".repeat(41));
        assert_eq!(
            PresentedKey::parse(&multi).unwrap_err(),
            ApiKeyError::Alphabet { position: 8 }
        );
    }

    #[test]
    fn debug_of_every_secret_type_hides_the_key() {
        let key = ApiKey::from_seed(Environment::Live, KeySeed::from_bytes([5; 32]));
        let text = key.expose_secret().to_owned();
        let body = &text[8..];
        let presented = PresentedKey::parse(&text).unwrap();
        for shown in [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{presented:?}"),
            format!("{:?}", key.digest()),
            format!("{:?}", KeySeed::from_bytes([5; 32])),
        ] {
            assert!(!shown.contains(body), "{shown}");
            assert!(!shown.contains(&body[..8]), "{shown}");
        }
    }
}
