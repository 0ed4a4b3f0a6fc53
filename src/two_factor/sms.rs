//! SMS one-time codes: issued from caller randomness, stored hashed, checked in constant time,
//! with an expiry and an attempt limit.
//!
//! The flow: [`issue_sms_code`] returns the plaintext [`SmsCode`] to send and the
//! [`SmsChallenge`] to store; [`send_sms_code`] does both through an [`SmsSender`], the only
//! I/O, implemented by the caller for its provider. [`verify_sms_code`] takes the stored
//! challenge and returns the decision with the challenge to store back (attempt counted, or
//! consumed); the store must write it with compare-and-set so two racing requests cannot both
//! spend the same attempt or the same code.
//!
//! A 6-digit code has only a million values: its salted SHA-256 keeps it out of plain sight in
//! the store (dumps, logs, support tools), but is no barrier to an attacker who holds the store
//! and has minutes to search. What protects the code is its short life and the attempt limit.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::bounded::bounded_int;

/// Why an SMS input is refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SmsError {
    /// The phone number is not in E.164 form (`+` then 8 to 15 digits, no leading zero).
    #[error("`{number}` is not an E.164 phone number (`+` and 8 to 15 digits)")]
    PhoneNumber {
        /// The text given.
        number: String,
    },
}

/// Sends a text message to a phone; implemented by the caller for its SMS provider.
pub trait SmsSender {
    /// The provider's error.
    type Error;

    /// Sends `text` to `to`. `text` contains the one-time code: never log it.
    ///
    /// # Errors
    ///
    /// The provider's error when the message could not be handed over.
    fn send(&mut self, to: &PhoneNumber, text: &str) -> Result<(), Self::Error>;
}

/// A phone number in E.164 form, such as `+14155550123`.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks `text` is `+` followed by 8 to 15 digits, the first not `0`.
    ///
    /// # Errors
    ///
    /// [`SmsError::PhoneNumber`] otherwise.
    pub fn new(text: &str) -> Result<Self, SmsError> {
        let digits = text.strip_prefix('+').unwrap_or_default();
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !ok {
            return Err(SmsError::PhoneNumber {
                number: crate::quote::shorten(text),
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The number's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

bounded_int!(
    /// Digits in an SMS code.
    SmsDigits: u8 = 6..=8, default 6
);
bounded_int!(
    /// Seconds an SMS code stays valid: 30 seconds to 15 minutes.
    SmsTtlSeconds: u32 = 30..=900, default 300
);
bounded_int!(
    /// Attempts allowed per SMS code.
    SmsAttempts: u32 = 1..=10, default 3
);

/// How SMS codes are made and how long and how often they may be tried. The default: 6 digits,
/// 5 minutes, 3 attempts.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SmsPolicy {
    /// Digits per code.
    pub digits: SmsDigits,
    /// Lifetime of a code.
    pub ttl_seconds: SmsTtlSeconds,
    /// Attempts per code.
    pub max_attempts: SmsAttempts,
}

impl Default for SmsPolicy {
    fn default() -> Self {
        Self {
            digits: SmsDigits::DEFAULT,
            ttl_seconds: SmsTtlSeconds::DEFAULT,
            max_attempts: SmsAttempts::DEFAULT,
        }
    }
}

/// A plaintext SMS code, to send and then drop. Zeroized on drop; `Debug` is redacted.
pub struct SmsCode(Zeroizing<String>);

impl SmsCode {
    /// The code's digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SmsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmsCode(<redacted>)")
    }
}

/// An issued SMS code as the store keeps it: salted hash, expiry, attempts. `Debug` omits the
/// salt and hash.
#[derive(Clone, Eq, PartialEq)]
pub struct SmsChallenge {
    salt: [u8; 16],
    hash: [u8; 32],
    digits: SmsDigits,
    expires_at: DateTime<Utc>,
    attempts: u32,
    max_attempts: SmsAttempts,
    consumed: bool,
}

impl SmsChallenge {
    /// Rebuilds a stored challenge from its parts (as [`SmsChallenge::parts`] returned them).
    #[must_use]
    pub fn from_parts(parts: SmsChallengeParts) -> Self {
        Self {
            salt: parts.salt,
            hash: parts.hash,
            digits: parts.digits,
            expires_at: parts.expires_at,
            attempts: parts.attempts,
            max_attempts: parts.max_attempts,
            consumed: parts.consumed,
        }
    }

    /// The parts to store.
    #[must_use]
    pub fn parts(&self) -> SmsChallengeParts {
        SmsChallengeParts {
            salt: self.salt,
            hash: self.hash,
            digits: self.digits,
            expires_at: self.expires_at,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            consumed: self.consumed,
        }
    }

    /// The first instant at which the code is expired.
    #[must_use]
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Attempts still allowed.
    #[must_use]
    pub fn attempts_left(&self) -> u32 {
        self.max_attempts.get().saturating_sub(self.attempts)
    }
}

impl fmt::Debug for SmsChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsChallenge")
            .field("hash", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .field("max_attempts", &self.max_attempts)
            .field("consumed", &self.consumed)
            .finish()
    }
}

/// The stored fields of an [`SmsChallenge`]. Holds the code's hash: no `Debug`, no `Serialize`.
#[expect(
    missing_debug_implementations,
    reason = "holds a code hash, which never appears in Debug"
)]
pub struct SmsChallengeParts {
    /// Random salt of the hash.
    pub salt: [u8; 16],
    /// SHA-256 of the salt and the code.
    pub hash: [u8; 32],
    /// Digits of the code.
    pub digits: SmsDigits,
    /// First instant the code is expired.
    pub expires_at: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: SmsAttempts,
    /// Whether the code was accepted already.
    pub consumed: bool,
}

/// Whether an SMS code is accepted.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SmsCheck {
    /// The code matches; the challenge is now consumed.
    Accept,
    /// The code is refused.
    Reject(SmsRejection),
}

/// Why an SMS code is refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SmsRejection {
    /// `now >= expires_at`.
    Expired {
        /// When the code expired.
        expires_at: DateTime<Utc>,
    },
    /// Every allowed attempt was spent: a new code must be issued.
    AttemptsExhausted {
        /// The attempts allowed.
        max_attempts: u32,
    },
    /// The code was already accepted once.
    AlreadyUsed,
    /// Wrong code (or not exactly the expected digits); one attempt spent.
    Mismatch {
        /// Attempts still allowed.
        attempts_left: u32,
    },
}

/// The result of [`verify_sms_code`]: the decision and the challenge to store back.
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SmsAttempt {
    /// Whether the code is accepted.
    pub check: SmsCheck,
    /// The challenge after this attempt.
    pub challenge: SmsChallenge,
}

/// Issues a code: the plaintext to send, and the challenge to store.
///
/// Digits are uniform up to a bias below 10⁻¹¹ (a 64-bit draw reduced modulo 10^digits).
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use whale_security::two_factor::sms::*;
/// use whale_security::time;
///
/// let now = time::parse("2026-03-10T10:00:00Z")?;
/// let mut rng = StdRng::seed_from_u64(3);
/// let (code, challenge) = issue_sms_code(&mut rng, &SmsPolicy::default(), now);
/// assert_eq!(code.as_str().len(), 6);
/// assert_eq!(challenge.expires_at(), time::parse("2026-03-10T10:05:00Z")?);
///
/// // Valid until the instant before expiry; at expiry it is refused.
/// let at_expiry = verify_sms_code(&challenge, code.as_str(), challenge.expires_at());
/// assert!(matches!(at_expiry.check, SmsCheck::Reject(SmsRejection::Expired { .. })));
/// let ok = verify_sms_code(&challenge, code.as_str(), now);
/// assert_eq!(ok.check, SmsCheck::Accept);
/// // Single use.
/// let again = verify_sms_code(&ok.challenge, code.as_str(), now);
/// assert_eq!(again.check, SmsCheck::Reject(SmsRejection::AlreadyUsed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn issue_sms_code<R: CryptoRng + ?Sized>(
    rng: &mut R,
    policy: &SmsPolicy,
    now: DateTime<Utc>,
) -> (SmsCode, SmsChallenge) {
    let digits = policy.digits.get();
    let modulus = 10u64.pow(u32::from(digits));
    let mut draw = Zeroizing::new([0u8; 8]);
    rng.fill_bytes(draw.as_mut());
    let value = u64::from_le_bytes(*draw) % modulus;
    let code = Zeroizing::new(format!("{value:0width$}", width = usize::from(digits)));
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let ttl = TimeDelta::try_seconds(i64::from(policy.ttl_seconds.get())).unwrap_or_default();
    let challenge = SmsChallenge {
        salt,
        hash: hash(&salt, &code),
        digits: policy.digits,
        // Past the end of time the code is born expired: fail closed.
        expires_at: now.checked_add_signed(ttl).unwrap_or(now),
        attempts: 0,
        max_attempts: policy.max_attempts,
        consumed: false,
    };
    (SmsCode(code), challenge)
}

/// Issues a code and sends it to `to` with `sender`; returns the challenge to store.
///
/// # Errors
///
/// The sender's error; nothing is to be stored then.
pub fn send_sms_code<S: SmsSender + ?Sized, R: CryptoRng + ?Sized>(
    sender: &mut S,
    rng: &mut R,
    to: &PhoneNumber,
    policy: &SmsPolicy,
    now: DateTime<Utc>,
) -> Result<SmsChallenge, S::Error> {
    let (code, challenge) = issue_sms_code(rng, policy, now);
    let text = Zeroizing::new(format!("Your verification code is {}", code.as_str()));
    sender.send(to, &text)?;
    Ok(challenge)
}

/// Checks `code` against a stored challenge at `now`.
///
/// Order of checks: already used, expired (`now >= expires_at`), attempts exhausted; then one
/// attempt is spent and the code compared in constant time with the stored hash.
pub fn verify_sms_code(challenge: &SmsChallenge, code: &str, now: DateTime<Utc>) -> SmsAttempt {
    let mut next = challenge.clone();
    let reject = |reason, challenge| SmsAttempt {
        check: SmsCheck::Reject(reason),
        challenge,
    };
    if challenge.consumed {
        return reject(SmsRejection::AlreadyUsed, next);
    }
    if now >= challenge.expires_at {
        return reject(
            SmsRejection::Expired {
                expires_at: challenge.expires_at,
            },
            next,
        );
    }
    if challenge.attempts >= challenge.max_attempts.get() {
        return reject(
            SmsRejection::AttemptsExhausted {
                max_attempts: challenge.max_attempts.get(),
            },
            next,
        );
    }
    next.attempts = next.attempts.saturating_add(1);
    let well_formed = code.len() == usize::from(challenge.digits.get())
        && code.bytes().all(|b| b.is_ascii_digit());
    let matches = bool::from(hash(&challenge.salt, code).ct_eq(&challenge.hash));
    if well_formed && matches {
        next.consumed = true;
        return SmsAttempt {
            check: SmsCheck::Accept,
            challenge: next,
        };
    }
    let attempts_left = next.attempts_left();
    reject(SmsRejection::Mismatch { attempts_left }, next)
}

fn hash(salt: &[u8; 16], code: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"whale-security sms v1\0");
    hasher.update(salt);
    hasher.update(code.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::time::parse;

    fn issue() -> (SmsCode, SmsChallenge, DateTime<Utc>) {
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let (code, challenge) =
            issue_sms_code(&mut StdRng::seed_from_u64(9), &SmsPolicy::default(), now);
        (code, challenge, now)
    }

    #[test]
    fn the_right_code_after_the_attempts_are_spent_is_refused() {
        let (code, mut challenge, now) = issue();
        for _ in 0..3 {
            challenge = verify_sms_code(&challenge, "abcdef", now).challenge;
        }
        let last = verify_sms_code(&challenge, code.as_str(), now);
        assert_eq!(
            last.check,
            SmsCheck::Reject(SmsRejection::AttemptsExhausted { max_attempts: 3 })
        );
    }

    #[test]
    fn a_wrong_code_spends_one_attempt_and_says_how_many_are_left() {
        let (code, challenge, now) = issue();
        let wrong = if code.as_str() == "000000" {
            "000001"
        } else {
            "000000"
        };
        let attempt = verify_sms_code(&challenge, wrong, now);
        assert_eq!(
            attempt.check,
            SmsCheck::Reject(SmsRejection::Mismatch { attempts_left: 2 })
        );
        assert_eq!(
            verify_sms_code(&attempt.challenge, code.as_str(), now).check,
            SmsCheck::Accept
        );
    }

    #[test]
    fn debug_shows_neither_the_code_nor_its_hash() {
        let (code, challenge, _) = issue();
        let text = format!("{code:?} {challenge:?}");
        assert!(!text.contains(code.as_str()), "{text}");
        let hex: String = challenge.hash.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&hex[..8]), "{text}");
        assert!(!text.contains(&format!("{:?}", challenge.hash[0..4].to_vec())));
    }

    #[test]
    fn the_sender_gets_the_code_and_the_store_gets_only_its_hash() {
        struct Recording(Vec<(String, String)>);
        impl SmsSender for Recording {
            type Error = std::convert::Infallible;
            fn send(&mut self, to: &PhoneNumber, text: &str) -> Result<(), Self::Error> {
                self.0.push((to.as_str().to_owned(), text.to_owned()));
                Ok(())
            }
        }
        let mut sender = Recording(Vec::new());
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let to = PhoneNumber::new("+14155550123").unwrap();
        let challenge = send_sms_code(
            &mut sender,
            &mut StdRng::seed_from_u64(1),
            &to,
            &SmsPolicy::default(),
            now,
        )
        .unwrap();
        let code = sender.0[0].1.rsplit(' ').next().unwrap().to_owned();
        assert_eq!(
            verify_sms_code(&challenge, &code, now).check,
            SmsCheck::Accept
        );
    }

    #[test]
    fn phone_numbers_must_be_e164() {
        for bad in ["14155550123", "+0415555012", "+1415", "+1 415 555 0123", ""] {
            assert!(PhoneNumber::new(bad).is_err(), "{bad}");
        }
    }
}
