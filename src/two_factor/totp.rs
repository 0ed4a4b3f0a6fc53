//! TOTP (RFC 6238): enrolment, code checks with replay protection, and throttling.
//!
//! The arithmetic is totp-rs's; every `totp_rs::Totp` is built through its validating builder
//! from a [`TotpSecret`] and [`TotpParams`] that are valid by construction, never deserialized
//! (a deserialized one skips validation and panics on `step = 0` or `digits >= 10`).
//!
//! What this module adds on top:
//!
//! - **Exact codes.** A code is exactly `digits` ASCII digits: `5924` is not `005924`.
//! - **Window without underflow.** Steps `current - window ..= current + window`; steps before
//!   0 or past `u64` are skipped, never wrapped.
//! - **Replay.** [`TotpKey::check`] refuses a code whose step is not greater than the last
//!   accepted step, and an acceptance returns the new last step. The store must advance it with
//!   compare-and-set (`UPDATE … SET last_step = new WHERE last_step = old`), so two racing
//!   requests with the same code cannot both pass.
//! - **Throttling.** [`verify_totp`] takes and returns a [`TotpState`]: after
//!   [`ThrottlePolicy::max_failures`] consecutive rejections the member is locked out for
//!   [`ThrottlePolicy::lockout_seconds`]; during the lockout every code, valid or not, is refused
//!   without being checked, and the failure count is not reset.
//! - **Secrets.** [`TotpSecret`] zeroizes on drop, its `Debug` is redacted, codes are compared
//!   in constant time (`subtle`).

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::RangeError;
use crate::bounded::bounded_int;

/// Why a TOTP secret, parameter or label cannot be used. Messages never contain the secret.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    /// A character of the base32 secret is not in `A-Z`, `2-7` (any case), whitespace, or
    /// trailing `=` padding. The character itself is not shown: it is part of the secret.
    #[error("the secret's character {position} (counting from 1) is not base32")]
    SecretCharacter {
        /// The 1-based position of the character in the text given.
        position: usize,
    },
    /// The number of base32 characters cannot encode whole bytes.
    #[error("a base32 secret cannot have {chars} characters (a multiple of 8, or 8k+2, 4, 5 or 7)")]
    SecretLength {
        /// The number of base32 characters, without whitespace and padding.
        chars: usize,
    },
    /// `=` padding is present but wrong: not at the end, or not the amount the length needs.
    #[error("the secret's `=` padding does not match its length")]
    SecretPadding,
    /// The secret is shorter than RFC 4226's minimum of 128 bits.
    #[error("the secret has {bits} bits; at least {min_bits} are required")]
    SecretTooShort {
        /// The secret's length in bits.
        bits: usize,
        /// The minimum.
        min_bits: usize,
    },
    /// A parameter is out of its range.
    #[error("totp `{name}` {source}")]
    Parameter {
        /// The parameter: `digits`, `period` or `window`.
        name: &'static str,
        /// The value and the range.
        source: RangeError,
    },
    /// The issuer or account name of an `otpauth://` URI is empty or contains `:`.
    #[error("totp {field} `{value}` must be non-empty and must not contain `:`")]
    Label {
        /// `issuer` or `account`.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// totp-rs refused the values for a reason this module does not check itself.
    #[error("the totp library refused the parameters: {message}")]
    Library {
        /// totp-rs's message (it never contains the secret).
        message: String,
    },
}

/// The HMAC hash of a TOTP key.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1, RFC 6238's default and the one every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl TotpAlgorithm {
    /// The key length generated for this hash: its output size (20, 32 or 64 bytes), as RFC 6238's
    /// reference vectors use.
    #[must_use]
    pub fn key_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    fn to_lib(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

bounded_int!(
    /// Digits in a code (RFC 4226 allows 6 to 8).
    Digits: u8 = 6..=8, default 6
);
bounded_int!(
    /// Seconds per time step: at most ten minutes.
    PeriodSeconds: u32 = 1..=600, default 30
);
bounded_int!(
    /// Steps accepted on each side of the current one. RFC 6238 recommends at most 1; each more
    /// step widens the window a stolen code stays usable in by two periods.
    WindowSteps: u8 = 0..=10, default 1
);
bounded_int!(
    /// Consecutive rejections before a lockout.
    MaxFailures: u32 = 1..=100, default 5
);
bounded_int!(
    /// Seconds a lockout lasts: at most a day.
    LockoutSeconds: u32 = 1..=86400, default 900
);

/// How codes are computed and how far from the current step they are accepted.
///
/// Valid by construction; the default is SHA-1, 6 digits, 30 seconds, ±1 step (what every
/// authenticator app assumes).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpParams {
    /// The HMAC hash.
    #[serde(default)]
    pub algorithm: TotpAlgorithm,
    /// Digits per code.
    #[serde(default = "default_digits")]
    pub digits: Digits,
    /// Seconds per step.
    #[serde(default = "default_period")]
    pub period: PeriodSeconds,
    /// Steps accepted on each side of the current one.
    #[serde(default = "default_window")]
    pub window: WindowSteps,
}

impl TotpParams {
    /// Checks raw parameter values.
    ///
    /// # Errors
    ///
    /// [`TotpError::Parameter`] naming `digits` (6..=8), `period` (1..=600) or `window`
    /// (0..=10).
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::two_factor::totp::{TotpAlgorithm, TotpParams};
    ///
    /// assert!(TotpParams::new(TotpAlgorithm::Sha512, 8, 30, 1).is_ok());
    /// // Step 0 is a division by zero; 10 digits overflow u32: both refused up front.
    /// assert!(TotpParams::new(TotpAlgorithm::Sha1, 6, 0, 1).is_err());
    /// assert!(TotpParams::new(TotpAlgorithm::Sha1, 10, 30, 1).is_err());
    /// ```
    pub fn new(
        algorithm: TotpAlgorithm,
        digits: u8,
        period: u64,
        window: u8,
    ) -> Result<Self, TotpError> {
        let param = |name| move |source| TotpError::Parameter { name, source };
        Ok(Self {
            algorithm,
            digits: Digits::new(i64::from(digits)).map_err(param("digits"))?,
            period: PeriodSeconds::new(i64::try_from(period).unwrap_or(i64::MAX))
                .map_err(param("period"))?,
            window: WindowSteps::new(i64::from(window)).map_err(param("window"))?,
        })
    }
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha1,
            digits: Digits::DEFAULT,
            period: PeriodSeconds::DEFAULT,
            window: WindowSteps::DEFAULT,
        }
    }
}

fn default_digits() -> Digits {
    Digits::DEFAULT
}

fn default_period() -> PeriodSeconds {
    PeriodSeconds::DEFAULT
}

fn default_window() -> WindowSteps {
    WindowSteps::DEFAULT
}

/// A TOTP shared secret: at least 128 bits, zeroized on drop, never printed.
///
/// It has no `Display` and no `Serialize`; [`TotpSecret::to_base32`] and
/// [`TotpSecret::as_bytes`] expose it explicitly for storage (encrypted at rest) and for
/// showing it once at enrolment.
///
/// Equality compares in constant time (for secrets of equal length).
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// The shortest secret accepted: RFC 4226's 128 bits.
    pub const MIN_BYTES: usize = 16;

    /// A fresh secret of the algorithm's key length (160 bits for SHA-1) from `rng`.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use whale_security::two_factor::totp::{TotpAlgorithm, TotpSecret};
    ///
    /// let secret = TotpSecret::generate(&mut StdRng::seed_from_u64(7), TotpAlgorithm::Sha1);
    /// assert_eq!(secret.as_bytes().len(), 20);
    /// assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted 160 bits>)");
    /// ```
    #[must_use]
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, algorithm: TotpAlgorithm) -> Self {
        let mut bytes = Zeroizing::new(vec![0; algorithm.key_len()]);
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps secret bytes, such as 20 bytes the caller drew from a CSPRNG.
    ///
    /// # Errors
    ///
    /// [`TotpError::SecretTooShort`] below 16 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(too_short(bytes.len()));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// Reads a base32 secret (RFC 4648 alphabet) as people copy it: any case, with whitespace
    /// between groups, with or without `=` padding.
    ///
    /// Anything else is an error: other characters (`0`, `1`, `8`, `-`, …), a length that
    /// does not encode whole bytes, padding in the middle or of the wrong amount, fewer than
    /// 128 bits. Unused low bits of the last character are ignored, as most decoders do.
    ///
    /// # Errors
    ///
    /// [`TotpError::SecretCharacter`], [`TotpError::SecretLength`],
    /// [`TotpError::SecretPadding`] or [`TotpError::SecretTooShort`]; none shows the secret.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::two_factor::totp::TotpSecret;
    ///
    /// let a = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// let b = TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq")?;
    /// assert_eq!(a, b);
    /// assert_eq!(a.as_bytes(), b"12345678901234567890");
    /// assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let mut data = Zeroizing::new(String::with_capacity(text.len()));
        let mut padding = 0usize;
        for (i, c) in text.chars().enumerate() {
            if c.is_ascii_whitespace() {
                continue;
            }
            if c == '=' {
                padding += 1;
                continue;
            }
            let upper = c.to_ascii_uppercase();
            if padding > 0 || !matches!(upper, 'A'..='Z' | '2'..='7') {
                return Err(if padding > 0 && c.is_ascii_alphanumeric() {
                    TotpError::SecretPadding
                } else {
                    TotpError::SecretCharacter { position: i + 1 }
                });
            }
            data.push(upper);
        }
        let expected_padding = match data.len() % 8 {
            0 => 0,
            2 => 6,
            4 => 4,
            5 => 3,
            7 => 1,
            _ => return Err(TotpError::SecretLength { chars: data.len() }),
        };
        if padding != 0 && padding != expected_padding {
            return Err(TotpError::SecretPadding);
        }
        let secret = totp_rs::Secret::try_from_base32(data.as_str())
            .map_err(|_| TotpError::SecretLength { chars: data.len() })?;
        Self::from_bytes(secret.as_bytes())
    }

    /// The secret in unpadded upper-case base32, for showing once at enrolment or storing
    /// (encrypted). Zeroized when dropped.
    #[must_use]
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(totp_rs::Secret::from(self.0.as_slice()).to_base32())
    }

    /// The raw secret bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }
}

impl Eq for TotpSecret {}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpSecret(<redacted {} bits>)", self.0.len() * 8)
    }
}

/// A secret with its parameters, ready to compute and check codes.
#[derive(Clone)]
pub struct TotpKey {
    inner: totp_rs::Totp,
    params: TotpParams,
}

impl TotpKey {
    /// Builds the key through totp-rs's validating builder.
    ///
    /// # Errors
    ///
    /// [`TotpError::Library`] only if totp-rs refuses values this module already checked
    /// (which would be a bug here, reported rather than hidden).
    pub fn new(secret: &TotpSecret, params: TotpParams) -> Result<Self, TotpError> {
        let inner = builder(secret, params)
            .build()
            .map_err(|e| library_error(&e))?;
        Ok(Self { inner, params })
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// The time step `now` falls in, or `None` before 1970 (no step exists then).
    #[must_use]
    pub fn step_at(&self, now: DateTime<Utc>) -> Option<u64> {
        let seconds = u64::try_from(now.timestamp()).ok()?;
        Some(seconds / u64::from(self.params.period.get()))
    }

    /// The code of `step`, or `None` when the step's start is past `u64` seconds. Zeroized when
    /// dropped.
    #[must_use]
    pub fn code_at_step(&self, step: u64) -> Option<Zeroizing<String>> {
        let time = step.checked_mul(u64::from(self.params.period.get()))?;
        Some(Zeroizing::new(self.inner.generate(time).to_string()))
    }

    /// Checks `code` at `now` against the window around the current step, refusing steps not
    /// greater than `last_step` (the member's last accepted step, `None` if none yet).
    ///
    /// Of the steps in the window whose code matches and that are greater than `last_step`, the
    /// earliest is accepted. Every step's code is computed and compared in constant time; the
    /// comparison of the code does not stop at the first difference.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::two_factor::totp::{
    ///     TotpCheck, TotpKey, TotpParams, TotpRejection, TotpSecret,
    /// };
    /// use whale_security::time;
    ///
    /// let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// let key = TotpKey::new(&secret, TotpParams::default())?;
    /// let now = time::parse("2009-02-13T23:31:30Z")?; // RFC 6238: 89005924 at this instant
    ///
    /// let TotpCheck::Accept { step } = key.check("005924", now, None) else { panic!() };
    /// assert_eq!(step, 41152263);
    /// // The same code again is a replay; the leading zeros are not optional.
    /// let replay = key.check("005924", now, Some(step));
    /// assert!(matches!(replay, TotpCheck::Reject(TotpRejection::Replayed { .. })));
    /// let short = key.check("5924", now, None);
    /// assert!(matches!(short, TotpCheck::Reject(TotpRejection::Malformed { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, code: &str, now: DateTime<Utc>, last_step: Option<u64>) -> TotpCheck {
        let digits = usize::from(self.params.digits.get());
        if code.len() != digits || !code.bytes().all(|b| b.is_ascii_digit()) {
            return TotpCheck::Reject(TotpRejection::Malformed {
                expected_digits: self.params.digits.get(),
                length: code.chars().count(),
            });
        }
        let Some(current) = self.step_at(now) else {
            return TotpCheck::Reject(TotpRejection::BeforeEpoch);
        };
        let window = u64::from(self.params.window.get());
        let mut accepted: Option<u64> = None;
        let mut replayed: Option<u64> = None;
        for step in current.saturating_sub(window)..=current.saturating_add(window) {
            let Some(expected) = self.code_at_step(step) else {
                continue;
            };
            if !bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                continue;
            }
            if last_step.is_some_and(|last| step <= last) {
                replayed = Some(step);
            } else if accepted.is_none() {
                accepted = Some(step);
            }
        }
        match (accepted, replayed, last_step) {
            (Some(step), _, _) => TotpCheck::Accept { step },
            (None, Some(step), Some(last_step)) => {
                TotpCheck::Reject(TotpRejection::Replayed { step, last_step })
            }
            _ => TotpCheck::Reject(TotpRejection::NoMatch {
                step: current,
                window: self.params.window.get(),
            }),
        }
    }
}

impl fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpKey")
            .field("secret", &"<redacted>")
            .field("params", &self.params)
            .finish()
    }
}

/// The outcome of checking one code.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TotpCheck {
    /// The code matches `step`, which is greater than the last accepted step. Store `step` as
    /// the new last accepted step with compare-and-set.
    Accept {
        /// The matched step: the new last accepted step.
        step: u64,
    },
    /// The code is refused.
    Reject(TotpRejection),
}

impl TotpCheck {
    /// The accepted step, or `None` when refused.
    #[must_use]
    pub fn accepted_step(self) -> Option<u64> {
        match self {
            Self::Accept { step } => Some(step),
            Self::Reject(_) => None,
        }
    }
}

/// Why a code is refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum TotpRejection {
    /// Not exactly `expected_digits` ASCII digits.
    Malformed {
        /// The digits a code must have.
        expected_digits: u8,
        /// The characters given.
        length: usize,
    },
    /// No step in the window has this code.
    NoMatch {
        /// The current step.
        step: u64,
        /// Steps accepted on each side.
        window: u8,
    },
    /// The code matches a step already used (not greater than the last accepted one).
    Replayed {
        /// The step the code matches.
        step: u64,
        /// The member's last accepted step.
        last_step: u64,
    },
    /// `now` is before 1970, where no step exists: fail closed.
    BeforeEpoch,
    /// Too many failures: refused without being checked until `until`.
    LockedOut {
        /// The first instant at which codes are checked again.
        until: DateTime<Utc>,
        /// The consecutive failures that caused the lockout.
        failures: u32,
    },
}

/// How many failures lock a member out, and for how long. The default: 5 failures, 15 minutes.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottlePolicy {
    /// Consecutive rejections that start a lockout.
    pub max_failures: MaxFailures,
    /// How long a lockout lasts.
    pub lockout_seconds: LockoutSeconds,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: MaxFailures::DEFAULT,
            lockout_seconds: LockoutSeconds::DEFAULT,
        }
    }
}

/// A member's TOTP verification state, as the store keeps it next to the secret.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpState {
    /// The last accepted step; codes of this step or earlier are refused.
    #[serde(default)]
    pub last_step: Option<u64>,
    /// Consecutive rejections since the last acceptance or the end of the last lockout.
    #[serde(default)]
    pub failures: u32,
    /// While `now < locked_until`, every code is refused unchecked.
    #[serde(default, with = "crate::time::rfc3339_option")]
    pub locked_until: Option<DateTime<Utc>>,
}

/// The result of [`verify_totp`]: the decision, and the state to store.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct TotpAttempt {
    /// Whether the code is accepted.
    pub check: TotpCheck,
    /// The member's state after this attempt. Store it with compare-and-set against the state
    /// passed in; on a conflict, reload and verify again.
    pub state: TotpState,
}

/// Checks `code` for a member whose stored state is `state`, under `throttle`.
///
/// - While locked (`now < locked_until`) the code is not checked: the answer is
///   [`TotpRejection::LockedOut`] and the state is returned unchanged, so a valid code does not
///   end the lockout or reset the count early.
/// - Once the lockout has expired, counting restarts from zero.
/// - An acceptance stores the matched step and clears the failure count. A rejection (wrong,
///   malformed or replayed code) adds one failure; the `max_failures`-th starts a lockout of
///   `lockout_seconds` from `now`.
///
/// # Examples
///
/// ```
/// use whale_security::two_factor::totp::*;
/// use whale_security::time;
///
/// let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
/// let key = TotpKey::new(&secret, TotpParams::default())?;
/// let throttle = ThrottlePolicy {
///     max_failures: MaxFailures::new(2)?,
///     lockout_seconds: LockoutSeconds::new(300)?,
/// };
/// let now = time::parse("2009-02-13T23:31:30Z")?;
///
/// let first = verify_totp(&key, "000000", &TotpState::default(), &throttle, now);
/// let second = verify_totp(&key, "000001", &first.state, &throttle, now);
/// assert_eq!(second.state.locked_until, Some(time::parse("2009-02-13T23:36:30Z")?));
///
/// // The right code during the lockout is refused, and the count stays.
/// let valid = verify_totp(&key, "005924", &second.state, &throttle, now);
/// assert!(matches!(valid.check, TotpCheck::Reject(TotpRejection::LockedOut { .. })));
/// assert_eq!(valid.state, second.state);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_totp(
    key: &TotpKey,
    code: &str,
    state: &TotpState,
    throttle: &ThrottlePolicy,
    now: DateTime<Utc>,
) -> TotpAttempt {
    let mut next = *state;
    if let Some(until) = state.locked_until {
        if now < until {
            return TotpAttempt {
                check: TotpCheck::Reject(TotpRejection::LockedOut {
                    until,
                    failures: state.failures,
                }),
                state: next,
            };
        }
        next.locked_until = None;
        next.failures = 0;
    }
    let check = key.check(code, now, state.last_step);
    match check {
        TotpCheck::Accept { step } => {
            next.last_step = Some(step);
            next.failures = 0;
        }
        TotpCheck::Reject(_) => {
            next.failures = next.failures.saturating_add(1);
            if next.failures >= throttle.max_failures.get() {
                let lockout = TimeDelta::try_seconds(i64::from(throttle.lockout_seconds.get()))
                    .unwrap_or(TimeDelta::MAX);
                // Past the end of time the lock never ends: fail closed.
                next.locked_until = Some(
                    now.checked_add_signed(lockout)
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                );
            }
        }
    }
    TotpAttempt { check, state: next }
}

/// A new TOTP factor: the secret to store and the `otpauth://` URI to show as a QR code.
///
/// The factor is unverified until the member enters a first correct code: check it with
/// [`TotpKey::check`] (`last_step = None`), then store the factor as verified with the
/// returned step as its last step.
pub struct TotpEnrollment {
    secret: TotpSecret,
    params: TotpParams,
    uri: Zeroizing<String>,
}

impl TotpEnrollment {
    /// The secret, to store encrypted.
    #[must_use]
    pub fn secret(&self) -> &TotpSecret {
        &self.secret
    }

    /// The parameters, to store with the secret.
    #[must_use]
    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// The `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=ISSUER` URI for authenticator apps.
    /// It contains the secret: show it once, never log it.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The key to check the confirmation code with.
    ///
    /// # Errors
    ///
    /// As [`TotpKey::new`].
    pub fn key(&self) -> Result<TotpKey, TotpError> {
        TotpKey::new(&self.secret, self.params)
    }
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrollment")
            .field("secret", &self.secret)
            .field("params", &self.params)
            .field("uri", &"<redacted>")
            .finish()
    }
}

/// Starts a TOTP enrolment with a fresh secret from `rng` (the algorithm's key length: 160 bits
/// for SHA-1).
///
/// # Errors
///
/// [`TotpError::Label`] when `issuer` or `account` is empty or contains `:`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use whale_security::two_factor::totp::{TotpParams, enroll_totp};
///
/// let mut rng = StdRng::seed_from_u64(1);
/// let enrollment = enroll_totp(&mut rng, TotpParams::default(), "Whale Shop", "alex@example.com")?;
/// assert!(enrollment.uri().starts_with("otpauth://totp/Whale%20Shop:alex%40example.com?secret="));
/// assert!(enrollment.uri().contains("&issuer=Whale%20Shop"));
/// assert!(!format!("{enrollment:?}").contains(enrollment.secret().to_base32().as_str()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn enroll_totp<R: CryptoRng + ?Sized>(
    rng: &mut R,
    params: TotpParams,
    issuer: &str,
    account: &str,
) -> Result<TotpEnrollment, TotpError> {
    let secret = TotpSecret::generate(rng, params.algorithm);
    enroll_totp_with_secret(secret, params, issuer, account)
}

/// Starts a TOTP enrolment with a secret the caller made (for instance from
/// [`TotpSecret::from_bytes`] over bytes from its own CSPRNG).
///
/// # Errors
///
/// [`TotpError::Label`] when `issuer` or `account` is empty or contains `:`.
pub fn enroll_totp_with_secret(
    secret: TotpSecret,
    params: TotpParams,
    issuer: &str,
    account: &str,
) -> Result<TotpEnrollment, TotpError> {
    for (field, value) in [("issuer", issuer), ("account", account)] {
        if value.is_empty() || value.contains(':') {
            return Err(TotpError::Label {
                field,
                value: crate::quote::shorten(value),
            });
        }
    }
    let totp = builder(&secret, params)
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| library_error(&e))?;
    let uri = Zeroizing::new(totp.to_url().map_err(|e| library_error(&e))?);
    Ok(TotpEnrollment {
        secret,
        params,
        uri,
    })
}

fn builder(secret: &TotpSecret, params: TotpParams) -> totp_rs::Builder {
    totp_rs::Builder::new()
        .with_algorithm(params.algorithm.to_lib())
        .with_digits(params.digits.get())
        .with_step_duration(u64::from(params.period.get()))
        .with_skew(0)
        .with_secret(secret.as_bytes())
}

fn library_error(e: &totp_rs::TotpError) -> TotpError {
    TotpError::Library {
        message: e.to_string(),
    }
}

fn too_short(len: usize) -> TotpError {
    TotpError::SecretTooShort {
        bits: len.saturating_mul(8),
        min_bits: TotpSecret::MIN_BYTES * 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SHA1: &[u8] = b"12345678901234567890";

    fn key(secret: &[u8], params: TotpParams) -> TotpKey {
        TotpKey::new(&TotpSecret::from_bytes(secret).unwrap(), params).unwrap()
    }

    fn at(unix: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix, 0).unwrap()
    }

    #[test]
    fn counter_zero_with_a_window_does_not_underflow() {
        let k = key(RFC_SHA1, TotpParams::default());
        assert_eq!(
            k.check("755224", at(15), None),
            TotpCheck::Accept { step: 0 }
        );
    }

    #[test]
    fn a_time_before_1970_is_refused_not_wrapped() {
        let k = key(RFC_SHA1, TotpParams::default());
        assert_eq!(
            k.check("755224", at(-1), None),
            TotpCheck::Reject(TotpRejection::BeforeEpoch)
        );
    }

    #[test]
    fn the_last_representable_instant_does_not_overflow() {
        let k = key(RFC_SHA1, TotpParams::default());
        let check = k.check("123456", DateTime::<Utc>::MAX_UTC, None);
        assert!(matches!(check, TotpCheck::Reject(_)));
    }

    #[test]
    fn non_ascii_digits_and_signs_are_malformed() {
        let k = key(RFC_SHA1, TotpParams::default());
        for code in ["+55224", "７55224", " 55224", "75522a", "7552240"] {
            assert!(
                matches!(
                    k.check(code, at(15), None),
                    TotpCheck::Reject(TotpRejection::Malformed { .. })
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn a_code_from_two_steps_ago_is_outside_a_window_of_one() {
        let k = key(RFC_SHA1, TotpParams::default());
        // 287082 is step 1 (T = 59); at T = 90 the current step is 3.
        assert!(matches!(
            k.check("287082", at(90), None),
            TotpCheck::Reject(TotpRejection::NoMatch { step: 3, .. })
        ));
        let wide = key(
            RFC_SHA1,
            TotpParams {
                window: WindowSteps::new(2).unwrap(),
                ..TotpParams::default()
            },
        );
        assert_eq!(
            wide.check("287082", at(90), None),
            TotpCheck::Accept { step: 1 }
        );
    }

    #[test]
    fn base32_rejects_bad_characters_lengths_and_padding_without_echoing_the_secret() {
        let bad = [
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ0",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQ=JQ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE==",
            "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
            "GEZDGNBV",
            "",
        ];
        for text in bad {
            let err = TotpSecret::from_base32(text).unwrap_err();
            assert!(!err.to_string().contains("GEZD"), "{err}");
        }
        let padded = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE======").unwrap();
        assert_eq!(padded.as_bytes().len(), 21);
    }

    #[test]
    fn debug_of_secret_key_and_enrollment_shows_no_secret() {
        let secret = TotpSecret::from_bytes(RFC_SHA1).unwrap();
        let b32 = secret.to_base32();
        let k = TotpKey::new(&secret, TotpParams::default()).unwrap();
        let e =
            enroll_totp_with_secret(secret.clone(), TotpParams::default(), "Shop", "a@b").unwrap();
        for text in [format!("{secret:?}"), format!("{k:?}"), format!("{e:?}")] {
            assert!(!text.contains(b32.as_str()), "{text}");
            assert!(!text.contains("12345678901234567890"), "{text}");
            assert!(!text.contains("3132333435"), "{text}");
        }
    }

    #[test]
    fn a_lockout_that_expired_restarts_the_count() {
        let k = key(RFC_SHA1, TotpParams::default());
        let throttle = ThrottlePolicy {
            max_failures: MaxFailures::new(1).unwrap(),
            lockout_seconds: LockoutSeconds::new(60).unwrap(),
        };
        let locked = verify_totp(&k, "000000", &TotpState::default(), &throttle, at(59));
        assert_eq!(locked.state.locked_until, Some(at(119)));
        // At the exact end of the lockout, codes are checked again.
        let after = verify_totp(&k, "000000", &locked.state, &throttle, at(119));
        assert!(matches!(
            after.check,
            TotpCheck::Reject(TotpRejection::NoMatch { .. })
        ));
        assert_eq!(after.state.failures, 1);
    }

    #[test]
    fn labels_with_colons_are_refused() {
        let secret = TotpSecret::from_bytes(RFC_SHA1).unwrap();
        let err =
            enroll_totp_with_secret(secret, TotpParams::default(), "Shop:Evil", "a").unwrap_err();
        assert!(matches!(
            err,
            TotpError::Label {
                field: "issuer",
                ..
            }
        ));
    }
}
