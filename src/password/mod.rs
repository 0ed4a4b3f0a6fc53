//! Password policy: validation of a candidate, strength, reuse against Argon2id history,
//! expiry and standards advisories.
//!
//! Every check works on the NFKC form of the password ([`NormalizedPassword`]), measured in
//! code points, at most [`MAX_LENGTH`] of them; input over [`MAX_INPUT_BYTES`] is refused
//! before it is read. [`validate_password`] returns every violation with its numbers;
//! [`password_expired`] applies `max_age_days` as a half-open window; [`advisories`] says where
//! a policy departs from NIST SP 800-63B-4 and OWASP ASVS 5.0.
//!
//! Everything here is pure: salts come from the caller, and the only clock is the `now`
//! argument.

mod advisory;
mod error;
mod expiry;
mod hash;
mod normalize;
mod strength;
mod validate;

use serde::{Deserialize, Serialize};

use crate::bounded::bounded_int;

pub use crate::password::advisory::{Advisory, AdvisoryCode, MfaCoverage, advisories};
pub use crate::password::error::PasswordError;
pub use crate::password::expiry::{ExpiryReason, PasswordExpiry, password_expired};
pub use crate::password::hash::{
    HashLimits, HashParams, PasswordHash, PasswordMatch, Rehash, hash_password, needs_rehash,
    verify_password,
};
pub use crate::password::normalize::{
    InvalidCharacterKind, MAX_INPUT_BYTES, MAX_LENGTH, NormalizedPassword, is_special,
};
pub use crate::password::strength::{
    MAX_CONTEXT_WORD_LENGTH, MAX_CONTEXT_WORDS, STRENGTH_WINDOW, Strength, estimate_strength,
};
pub use crate::password::validate::{
    Assessment, PasswordContext, PasswordDecision, Violation, validate_password,
};

/// The store's password policy.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// The fewest Unicode code points a password may have, after NFKC normalization.
    pub min_length: MinLength,
    /// Whether an uppercase letter is required.
    pub require_uppercase: bool,
    /// Whether a digit is required.
    pub require_number: bool,
    /// Whether a character that is neither a letter nor a digit is required.
    pub require_special: bool,
    /// Days after which a password must be changed; absent means never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<MaxAgeDays>,
    /// How many previous passwords may not be reused; absent means no reuse rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_reuse: Option<PreventReuse>,
    /// The lowest zxcvbn score (0 to 4) accepted (an extension of the spec); absent means no
    /// strength rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_strength: Option<MinStrength>,
}

bounded_int!(
    /// A minimum password length in code points.
    MinLength: u16 = 1..=64, default 12
);

bounded_int!(
    /// A password lifetime in days: at most ten years.
    MaxAgeDays: u32 = 1..=3650
);

bounded_int!(
    /// How many previous passwords are remembered.
    PreventReuse: u8 = 0..=24, default 5
);

bounded_int!(
    /// A zxcvbn score.
    MinStrength: u8 = 0..=4
);
