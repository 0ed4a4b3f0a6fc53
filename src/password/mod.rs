//! Password policy.

use serde::{Deserialize, Serialize};

use crate::bounded::bounded_int;

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
