//! `validate_password`: every rule of the policy applied to one candidate.

use std::fmt;

use serde::Serialize;

use crate::password::hash::{HashLimits, PasswordHash, PasswordMatch, verify_password};
use crate::password::normalize::{Composition, InvalidCharacterKind, MAX_LENGTH, screen};
use crate::password::strength::{Strength, estimate_strength};
use crate::password::{PasswordError, PasswordPolicy};

/// What `validate_password` knows about the member besides the candidate.
///
/// - `words`: the member's email and name and the store's name, so a password built from them
///   scores low (used only when the policy sets `min_strength`).
/// - `history`: the member's stored PHC hashes, newest first, where `history[0]` is the
///   **current** password. With `prevent_reuse: N` the candidate is checked against
///   `history[..N]`: the last N passwords, the current one included (the reading of Active
///   Directory's "passwords remembered" and of the spec's "cannot reuse last 5 passwords").
///   So re-submitting the current password is always refused when N ≥ 1, and N = 1 only
///   forbids keeping the current one.
/// - `limits`: the bound on each stored hash's cost, checked before verifying.
///
/// `Debug` shows how many history entries there are, never their content.
#[derive(Clone, Default)]
pub struct PasswordContext<'a> {
    words: Vec<&'a str>,
    history: Vec<&'a str>,
    limits: HashLimits,
}

impl<'a> PasswordContext<'a> {
    /// An empty context: no words, no history, default [`HashLimits`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds words an attacker would try first (email, name, store name).
    #[must_use]
    pub fn with_words<I: IntoIterator<Item = &'a str>>(mut self, words: I) -> Self {
        self.words.extend(words);
        self
    }

    /// Sets the member's stored hashes, newest first; `history[0]` is the current password.
    #[must_use]
    pub fn with_history<S: AsRef<str>>(mut self, newest_first: &'a [S]) -> Self {
        self.history = newest_first.iter().map(AsRef::as_ref).collect();
        self
    }

    /// Sets the bound on each stored hash's cost.
    #[must_use]
    pub fn with_hash_limits(mut self, limits: HashLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl fmt::Debug for PasswordContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordContext")
            .field("words", &self.words.len())
            .field("history", &self.history.len())
            .field("limits", &self.limits)
            .finish()
    }
}

/// The verdict on a candidate password.
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum PasswordDecision {
    /// Every rule holds.
    Accept(Assessment),
    /// At least one rule fails; [`Assessment::violations`] lists every one.
    Reject(Assessment),
}

impl PasswordDecision {
    /// Whether the password may be set.
    #[must_use]
    pub fn permits(&self) -> bool {
        matches!(self, Self::Accept(_))
    }

    /// The measurements behind the verdict.
    pub fn assessment(&self) -> &Assessment {
        match self {
            Self::Accept(a) | Self::Reject(a) => a,
        }
    }

    /// Every violation; empty exactly when accepted.
    #[must_use]
    pub fn violations(&self) -> &[Violation] {
        &self.assessment().violations
    }
}

/// What was measured while validating.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Assessment {
    violations: Vec<Violation>,
    length: Option<usize>,
    strength: Option<Strength>,
    hashes_verified: usize,
}

impl Assessment {
    /// Every violation, in rule order: length, characters, composition, strength, reuse.
    #[must_use]
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The normalized length in code points, or `None` when the input was too large to read.
    #[must_use]
    pub fn length(&self) -> Option<usize> {
        self.length
    }

    /// zxcvbn's verdict, when the policy has `min_strength` and the input was scored.
    #[must_use]
    pub fn strength(&self) -> Option<&Strength> {
        self.strength.as_ref()
    }

    /// How many Argon2id verifications ran (0 when the input was rejected before hashing).
    #[must_use]
    pub fn hashes_verified(&self) -> usize {
        self.hashes_verified
    }
}

/// One broken rule, with what was measured and the limit.
///
/// [`code`](Self::code) is stable and named after the policy field the rule comes from;
/// `Display` is a plain sentence a UI can show. Serialized, a violation is an object with
/// `code` and its fields. No violation contains the password or a hash.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "code")]
#[non_exhaustive]
pub enum Violation {
    /// Fewer code points than `min_length`.
    #[serde(rename = "min_length")]
    TooShort {
        /// The normalized length in code points.
        length: usize,
        /// The policy's minimum.
        min: u16,
    },
    /// More code points than [`MAX_LENGTH`].
    #[serde(rename = "max_length")]
    TooLong {
        /// The normalized length in code points.
        length: usize,
        /// [`MAX_LENGTH`].
        max: usize,
    },
    /// More bytes than [`MAX_INPUT_BYTES`](crate::password::MAX_INPUT_BYTES); nothing else
    /// was checked.
    #[serde(rename = "max_length")]
    InputTooLarge {
        /// The input's length in bytes.
        bytes: usize,
        /// The largest accepted input in bytes.
        max_bytes: usize,
    },
    /// A control, separator, bidirectional-control or noncharacter code point.
    #[serde(rename = "invalid_character")]
    InvalidCharacter {
        /// 0-based code-point index of the first one in the normalized password.
        position: usize,
        /// What the first one is.
        kind: InvalidCharacterKind,
        /// How many there are.
        count: usize,
    },
    /// `require_uppercase` and no uppercase letter.
    #[serde(rename = "require_uppercase")]
    MissingUppercase,
    /// `require_number` and no digit.
    #[serde(rename = "require_number")]
    MissingNumber,
    /// `require_special` and no character other than letters and digits.
    #[serde(rename = "require_special")]
    MissingSpecial,
    /// The candidate matches one of the last `remembered` passwords.
    #[serde(rename = "prevent_reuse")]
    Reused {
        /// Which one: 0 is the current password, 1 the one before, and so on.
        generation: usize,
        /// The policy's `prevent_reuse`.
        remembered: u8,
    },
    /// A remembered hash could not be checked, so reuse cannot be ruled out (fail closed).
    #[serde(rename = "prevent_reuse")]
    ReuseUnverifiable {
        /// The history index of the hash.
        generation: usize,
        /// The policy's `prevent_reuse`.
        remembered: u8,
        /// Why it could not be checked.
        #[serde(serialize_with = "serialize_display")]
        error: PasswordError,
    },
    /// zxcvbn scored the password under `min_strength`.
    #[serde(rename = "min_strength")]
    TooWeak {
        /// The score, 0..=4.
        score: u8,
        /// The policy's minimum.
        min: u8,
        /// zxcvbn's warning.
        warning: Option<String>,
        /// zxcvbn's suggestions.
        suggestions: Vec<String>,
    },
}

impl Violation {
    /// The stable code: `min_length`, `max_length`, `invalid_character`, `require_uppercase`,
    /// `require_number`, `require_special`, `prevent_reuse` or `min_strength`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "min_length",
            Self::TooLong { .. } | Self::InputTooLarge { .. } => "max_length",
            Self::InvalidCharacter { .. } => "invalid_character",
            Self::MissingUppercase => "require_uppercase",
            Self::MissingNumber => "require_number",
            Self::MissingSpecial => "require_special",
            Self::Reused { .. } | Self::ReuseUnverifiable { .. } => "prevent_reuse",
            Self::TooWeak { .. } => "min_strength",
        }
    }
}

impl fmt::Display for Violation {
    /// A sentence for the member.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { length, min } => write!(
                f,
                "Use at least {min} characters (this password has {length})."
            ),
            Self::TooLong { length, max } => write!(
                f,
                "Use at most {max} characters (this password has {length})."
            ),
            Self::InputTooLarge { .. } => write!(f, "Use at most {MAX_LENGTH} characters."),
            Self::InvalidCharacter { .. } => f.write_str(
                "Remove control characters such as tabs, line breaks or invisible direction marks.",
            ),
            Self::MissingUppercase => f.write_str("Add an uppercase letter."),
            Self::MissingNumber => f.write_str("Add a digit."),
            Self::MissingSpecial => f.write_str("Add a symbol or a space, such as - . ! or #."),
            Self::Reused { remembered, .. } => write!(
                f,
                "Choose a password different from your last {remembered}."
            ),
            Self::ReuseUnverifiable { .. } => f.write_str(
                "This password could not be checked against your previous passwords; try again \
                 later or contact support.",
            ),
            Self::TooWeak { warning, .. } => {
                f.write_str("Choose a password that is harder to guess.")?;
                match warning {
                    Some(w) => write!(f, " {w}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Applies every rule of `policy` to `candidate` and returns every violation.
///
/// Order and cost:
/// 1. Input over [`MAX_INPUT_BYTES`](crate::password::MAX_INPUT_BYTES) (2048) bytes is rejected
///    with [`Violation::InputTooLarge`] alone, in O(1): a 1 MB input costs nothing.
/// 2. NFKC normalization; length in code points against `min_length` and [`MAX_LENGTH`] (128);
///    control, separator, bidirectional-control and noncharacter code points.
/// 3. Composition on the normalized text: uppercase is any Unicode uppercase letter, number any
///    numeric character, special any other printable character that is not a letter, digit
///    or combining mark (space, `-`, `.`, `{`, `\`, `€` all count).
/// 4. Only if step 2 found nothing too long or invalid: strength with zxcvbn when the policy
///    has `min_strength` (first [`STRENGTH_WINDOW`](crate::password::STRENGTH_WINDOW) code
///    points: under 1 ms typically, about 140 ms on the worst input measured, in release),
///    then reuse against `history[..prevent_reuse]` (one Argon2id run per remembered hash,
///    stopping at the first match; 20 to 35 ms each at OWASP cost in release here). A stored
///    hash that is malformed or over [`HashLimits`] gives [`Violation::ReuseUnverifiable`]:
///    fail closed.
///
/// See [`PasswordContext`] for what `history[0]` means.
///
/// # Examples
///
/// ```
/// use whale_security::password::{PasswordContext, PasswordPolicy, Violation, validate_password};
///
/// let policy: PasswordPolicy = serde_json::from_str(
///     r#"{"min_length": 12, "require_uppercase": true, "require_number": true,
///         "require_special": true, "max_age_days": 90, "prevent_reuse": 5}"#,
/// )?;
///
/// // 11 code points in 15 bytes: too short, and every other miss is listed too.
/// let d = validate_password(&policy, "\u{fc}n\u{ef}c\u{f6}d\u{e9}1!pw", &PasswordContext::new());
/// let codes: Vec<&str> = d.violations().iter().map(Violation::code).collect();
/// assert_eq!(codes, ["min_length", "require_uppercase"]);
/// assert_eq!(d.violations()[0], Violation::TooShort { length: 11, min: 12 });
///
/// // Exactly the minimum passes; '-' is special.
/// assert!(validate_password(&policy, "Harbor-Lant4", &PasswordContext::new()).permits());
///
/// // A megabyte is refused before it is read.
/// let huge = "x".repeat(1 << 20);
/// let d = validate_password(&policy, &huge, &PasswordContext::new());
/// assert_eq!(d.violations()[0].code(), "max_length");
/// assert_eq!(d.assessment().hashes_verified(), 0);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn validate_password(
    policy: &PasswordPolicy,
    candidate: &str,
    context: &PasswordContext<'_>,
) -> PasswordDecision {
    let screened = match screen(candidate) {
        Ok(s) => s,
        Err(_) => {
            return decide(Assessment {
                violations: vec![Violation::InputTooLarge {
                    bytes: candidate.len(),
                    max_bytes: crate::password::MAX_INPUT_BYTES,
                }],
                length: None,
                strength: None,
                hashes_verified: 0,
            });
        }
    };

    let mut violations = Vec::new();
    let length = screened.length;
    let min = policy.min_length.get();
    if length < usize::from(min) {
        violations.push(Violation::TooShort { length, min });
    }
    if length > MAX_LENGTH {
        violations.push(Violation::TooLong {
            length,
            max: MAX_LENGTH,
        });
    }
    if let Some(invalid) = screened.invalid {
        violations.push(Violation::InvalidCharacter {
            position: invalid.position,
            kind: invalid.kind,
            count: invalid.count,
        });
    }

    let composition = Composition::of(screened.password.expose());
    if policy.require_uppercase && !composition.uppercase {
        violations.push(Violation::MissingUppercase);
    }
    if policy.require_number && !composition.number {
        violations.push(Violation::MissingNumber);
    }
    if policy.require_special && !composition.special {
        violations.push(Violation::MissingSpecial);
    }

    // Input that can never be stored is not worth scoring or hashing.
    let storable = length <= MAX_LENGTH && screened.invalid.is_none();
    let mut strength = None;
    if let (true, Some(min_strength)) = (storable, policy.min_strength) {
        let s = estimate_strength(&screened.password, &context.words);
        if s.score() < min_strength.get() {
            violations.push(Violation::TooWeak {
                score: s.score(),
                min: min_strength.get(),
                warning: s.warning().map(str::to_owned),
                suggestions: s.suggestions().to_vec(),
            });
        }
        strength = Some(s);
    }

    let mut hashes_verified = 0;
    let remembered = policy.prevent_reuse.map_or(0, |n| n.get());
    if storable {
        for (generation, phc) in context
            .history
            .iter()
            .take(usize::from(remembered))
            .enumerate()
        {
            let outcome = PasswordHash::parse(phc, &context.limits).and_then(|hash| {
                hashes_verified += 1;
                verify_password(&screened.password, &hash)
            });
            match outcome {
                Ok(PasswordMatch::Mismatch) => {}
                Ok(PasswordMatch::Match) => {
                    violations.push(Violation::Reused {
                        generation,
                        remembered,
                    });
                    break;
                }
                Err(error) => violations.push(Violation::ReuseUnverifiable {
                    generation,
                    remembered,
                    error,
                }),
            }
        }
    }

    decide(Assessment {
        violations,
        length: Some(length),
        strength,
        hashes_verified,
    })
}

fn decide(assessment: Assessment) -> PasswordDecision {
    if assessment.violations.is_empty() {
        PasswordDecision::Accept(assessment)
    } else {
        PasswordDecision::Reject(assessment)
    }
}

fn serialize_display<S: serde::Serializer>(
    value: &impl fmt::Display,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::{
        HashParams, MinLength, MinStrength, NormalizedPassword, PreventReuse, hash_password,
    };

    fn policy() -> PasswordPolicy {
        PasswordPolicy {
            min_length: MinLength::new(12).unwrap(),
            require_uppercase: true,
            require_number: true,
            require_special: true,
            max_age_days: None,
            prevent_reuse: Some(PreventReuse::new(3).unwrap()),
            min_strength: None,
        }
    }

    fn hashes(passwords: &[&str]) -> Vec<String> {
        let params = HashParams::new(64, 1, 1).unwrap();
        passwords
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let salt = [u8::try_from(i).unwrap(); 16];
                hash_password(&NormalizedPassword::new(p).unwrap(), &salt, params)
                    .unwrap()
                    .as_phc()
                    .to_owned()
            })
            .collect()
    }

    fn codes(d: &PasswordDecision) -> Vec<&'static str> {
        d.violations().iter().map(Violation::code).collect()
    }

    #[test]
    fn a_compliant_password_is_accepted_with_no_violations() {
        let d = validate_password(&policy(), "Harbor-Lantern42", &PasswordContext::new());
        assert!(d.permits());
        assert_eq!(d.assessment().length(), Some(16));
    }

    #[test]
    fn every_failed_rule_is_reported_not_just_the_first() {
        let d = validate_password(&policy(), "abc", &PasswordContext::new());
        assert_eq!(
            codes(&d),
            [
                "min_length",
                "require_uppercase",
                "require_number",
                "require_special"
            ]
        );
    }

    #[test]
    fn the_current_password_counts_among_the_remembered() {
        let history = hashes(&[
            "Current-Pass-1",
            "Older-Pass-22",
            "Oldest-Pass-333",
            "Ancient-Pass-4",
        ]);
        let ctx = PasswordContext::new().with_history(&history);
        let d = validate_password(&policy(), "Current-Pass-1", &ctx);
        assert_eq!(
            d.violations(),
            [Violation::Reused {
                generation: 0,
                remembered: 3
            }]
        );
        let d = validate_password(&policy(), "Oldest-Pass-333", &ctx);
        assert_eq!(codes(&d), ["prevent_reuse"]);
        // history[3] is the fourth most recent: outside `prevent_reuse: 3`.
        let d = validate_password(&policy(), "Ancient-Pass-4", &ctx);
        assert!(d.permits(), "{:?}", d.violations());
        assert_eq!(d.assessment().hashes_verified(), 3);
    }

    #[test]
    fn a_tampered_history_hash_fails_closed_without_burning_cpu() {
        let mut history = hashes(&["Current-Pass-1"]);
        history[0] = history[0].replace("t=1", "t=4294967295");
        let ctx = PasswordContext::new().with_history(&history);
        let d = validate_password(&policy(), "Brand-New-Pass-9", &ctx);
        assert!(matches!(
            d.violations(),
            [Violation::ReuseUnverifiable {
                generation: 0,
                error: PasswordError::HashParamOutOfBounds { param: "t", .. },
                ..
            }]
        ));
        assert_eq!(d.assessment().hashes_verified(), 0);
    }

    #[test]
    fn strength_is_scored_only_when_the_policy_asks() {
        let d = validate_password(&policy(), "Password-123", &PasswordContext::new());
        assert!(d.assessment().strength().is_none());
        let mut strict = policy();
        strict.min_strength = Some(MinStrength::new(3).unwrap());
        let d = validate_password(&strict, "Password-123", &PasswordContext::new());
        assert!(matches!(
            d.violations(),
            [Violation::TooWeak { min: 3, .. }]
        ));
    }

    #[test]
    fn context_words_make_a_password_built_from_them_weak() {
        let strict = PasswordPolicy {
            require_uppercase: false,
            require_number: false,
            require_special: false,
            min_strength: Some(MinStrength::new(3).unwrap()),
            ..policy()
        };
        assert!(validate_password(&strict, "Whalemart-Jane", &PasswordContext::new()).permits());
        let ctx = PasswordContext::new().with_words(["jane.doe@whalemart.example", "Whalemart"]);
        let d = validate_password(&strict, "Whalemart-Jane", &ctx);
        assert_eq!(codes(&d), ["min_strength"]);
    }

    #[test]
    fn violations_serialize_with_their_code_and_never_the_password() {
        let d = validate_password(&policy(), "secretpw", &PasswordContext::new());
        let json = serde_json::to_string(d.violations()).unwrap();
        assert!(
            json.contains(r#""code":"min_length","length":8,"min":12"#),
            "{json}"
        );
        assert!(!json.contains("secretpw"));
        assert!(!format!("{d:?}").contains("secretpw"));
        for v in d.violations() {
            assert!(!v.to_string().contains("secretpw"));
        }
    }

    #[test]
    fn context_debug_hides_the_history() {
        let history = hashes(&["Current-Pass-1"]);
        let ctx = PasswordContext::new().with_history(&history);
        let tail = history[0].rsplit('$').next().unwrap();
        assert!(!format!("{ctx:?}").contains(tail));
    }
}
