//! Strength estimation with zxcvbn, on a bounded window of the password.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::password::NormalizedPassword;

/// How many leading code points of a password zxcvbn scores.
///
/// zxcvbn's matching is super-linear in length: on l33t-symbol input (`4@8({[<3=69#!|170$5%2+`
/// repeated) it took 40 ms at 32 code points, 110 ms at 48, 190 ms at 64 and 490 ms at 100 in a
/// release build here, and zxcvbn itself only truncates at 100. Scoring the first 32 code
/// points bounds the worst case: 54–140 ms measured for the worst 32-code-point window found
/// (`A4@8({[<3=69#!|170$5%2+4@8({[<3`) on a loaded 2-core machine, against 625 ms for zxcvbn on
/// the whole 65-code-point input (`cargo bench --bench password`).
///
/// Warning: a password whose first 32 code points are weak is judged weak even if what follows
/// is strong (`aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa` + anything). That errs on the side of rejection
/// and only affects passwords over 32 code points, which then need a stronger start.
pub const STRENGTH_WINDOW: usize = 32;

/// The most context words passed to zxcvbn, after splitting.
pub const MAX_CONTEXT_WORDS: usize = 32;

/// The longest context word passed to zxcvbn, in code points; longer words are truncated.
pub const MAX_CONTEXT_WORD_LENGTH: usize = 64;

/// zxcvbn's verdict on a password.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Strength {
    score: u8,
    scored_length: usize,
    warning: Option<String>,
    suggestions: Vec<String>,
}

impl Strength {
    /// The zxcvbn score, 0 (guessable in 10³ tries) to 4 (over 10¹⁰).
    #[must_use]
    pub fn score(&self) -> u8 {
        self.score
    }

    /// How many code points were scored: at most [`STRENGTH_WINDOW`].
    #[must_use]
    pub fn scored_length(&self) -> usize {
        self.scored_length
    }

    /// zxcvbn's warning, such as "This is similar to a commonly used password."
    #[must_use]
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// zxcvbn's suggestions for a stronger password.
    #[must_use]
    pub fn suggestions(&self) -> &[String] {
        &self.suggestions
    }
}

/// Scores the first [`STRENGTH_WINDOW`] code points of `password` with zxcvbn.
///
/// `context` holds words an attacker would try first: the member's email and name, the store's
/// name. Each is NFKC-normalized, and also split at every non-alphanumeric character so that
/// `jane.doe@acme.example` contributes `jane`, `doe` and `acme` (parts under 3 code points are
/// dropped). At most [`MAX_CONTEXT_WORDS`] words of at most [`MAX_CONTEXT_WORD_LENGTH`] code
/// points are used.
///
/// Known shortcoming: there is no breached-password blocklist (NIST SP 800-63B-4 asks for one,
/// ASVS 5.0 V6.2.12 at level 2); zxcvbn's built-in dictionaries of common passwords and words
/// are the only list consulted, so a random-looking password from a public breach corpus can
/// still score 4. A store needing that check must add a k-anonymity lookup (such as Have I Been
/// Pwned's range API) at its edge; the core stays free of I/O.
///
/// Cost: bounded by the window; at most about 140 ms in release on the worst input measured,
/// under 1 ms for ordinary passwords.
///
/// # Examples
///
/// ```
/// use whale_security::password::{NormalizedPassword, estimate_strength};
///
/// let p = NormalizedPassword::new("Whalemart-Jane")?;
/// let blind = estimate_strength(&p, &[]);
/// let aware = estimate_strength(&p, &["jane.doe@whalemart.example"]);
/// assert!(blind.score() >= 3);
/// assert!(aware.score() <= 2);
/// # Ok::<(), whale_security::password::PasswordError>(())
/// ```
pub fn estimate_strength(password: &NormalizedPassword, context: &[&str]) -> Strength {
    let window: String = password.expose().chars().take(STRENGTH_WINDOW).collect();
    let window = zeroize::Zeroizing::new(window);
    let words = context_words(context);
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let entropy = zxcvbn::zxcvbn(&window, &inputs);
    let feedback = entropy.feedback();
    Strength {
        score: u8::from(entropy.score()),
        scored_length: window.chars().count(),
        warning: feedback.and_then(|f| f.warning()).map(|w| w.to_string()),
        suggestions: feedback
            .map(|f| f.suggestions().iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
    }
}

/// The bounded, normalized, split context words.
fn context_words(context: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut push = |word: String| {
        if words.len() < MAX_CONTEXT_WORDS && word.chars().count() >= 3 && !words.contains(&word) {
            words.push(word);
        }
    };
    for raw in context {
        let word: String = raw.nfkc().take(MAX_CONTEXT_WORD_LENGTH).collect();
        for part in word.split(|c: char| !c.is_alphanumeric()) {
            push(part.to_owned());
        }
        push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_words_are_split_bounded_and_deduplicated() {
        let long = "y".repeat(500);
        let words = context_words(&["jane.doe@acme.example", "Acme", &long, "acme"]);
        assert!(words.contains(&"jane".to_owned()));
        assert!(words.contains(&"doe".to_owned()));
        assert!(words.contains(&"acme".to_owned()));
        assert!(words.contains(&"jane.doe@acme.example".to_owned()));
        assert_eq!(words.iter().filter(|w| *w == "acme").count(), 1);
        assert!(
            words
                .iter()
                .all(|w| w.chars().count() <= MAX_CONTEXT_WORD_LENGTH)
        );
        let many: Vec<String> = (0..100).map(|i| format!("word{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(context_words(&refs).len(), MAX_CONTEXT_WORDS);
    }

    #[test]
    fn only_the_window_is_scored() {
        let p = NormalizedPassword::new(&"Qz7!".repeat(30)).unwrap();
        assert_eq!(estimate_strength(&p, &[]).scored_length(), STRENGTH_WINDOW);
    }

    #[test]
    fn a_password_made_of_context_words_scores_lower_than_without_them() {
        let p = NormalizedPassword::new("Whalemart-Jane").unwrap();
        let blind = estimate_strength(&p, &[]).score();
        let aware = estimate_strength(&p, &["Whalemart", "Jane Doe"]).score();
        assert!(aware < blind, "aware {aware} blind {blind}");
    }
}
