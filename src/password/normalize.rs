//! Turning typed text into the one canonical form that is measured, checked and hashed.

use std::fmt;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use zeroize::Zeroizing;

use crate::password::PasswordError;

/// The longest accepted password, in Unicode code points after NFKC normalization.
///
/// NIST SP 800-63B-4 asks verifiers to accept at least 64 characters; 128 leaves room for
/// passphrases while keeping hashing and strength estimation cheap.
pub const MAX_LENGTH: usize = 128;

/// The largest accepted input in bytes, checked before normalization.
///
/// Normalization is linear but not free, so input over this size is rejected in O(1) without
/// being read. `2048 = 4 × 4 × MAX_LENGTH`: a code point takes at most 4 UTF-8 bytes and NFKC
/// composes at most 4 code points into one (the longest canonical decomposition), so no input
/// over 2048 bytes can normalize to [`MAX_LENGTH`] code points or fewer.
pub const MAX_INPUT_BYTES: usize = 4 * 4 * MAX_LENGTH;

/// A password in NFKC normal form, checked for length and forbidden characters.
///
/// This is the only form that is measured, compared and hashed: the precomposed `ñ` (NFC) and
/// `n` + U+0303 (NFD) a different keyboard produces normalize to the same text, and so do the
/// full-width and ASCII forms of a letter. Login and password change must both go through it,
/// or a password set on one device fails on another.
///
/// The text is zeroized on drop and never shown by `Debug`.
///
/// # Examples
///
/// ```
/// use whale_security::password::{NormalizedPassword, PasswordError};
///
/// let nfd = NormalizedPassword::new("Man\u{303}ana-2026")?;
/// let nfc = NormalizedPassword::new("Ma\u{f1}ana-2026")?;
/// assert_eq!(nfd, nfc);
/// assert_eq!(nfd.len(), 11);
/// assert_eq!(format!("{nfd:?}"), "NormalizedPassword(<redacted, 11 code points>)");
///
/// // NUL would truncate the password in a C-string hasher.
/// let nul = NormalizedPassword::new("Harbor-Lantern42\0tail");
/// assert!(matches!(nul, Err(PasswordError::InvalidCharacter { position: 16, .. })));
/// # Ok::<(), PasswordError>(())
/// ```
#[derive(Clone)]
pub struct NormalizedPassword {
    text: Zeroizing<String>,
    length: usize,
}

impl NormalizedPassword {
    /// Normalizes `input` to NFKC and checks it.
    ///
    /// Cost: O(1) for input over [`MAX_INPUT_BYTES`], otherwise linear in the input.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InputTooLarge`] over [`MAX_INPUT_BYTES`] bytes,
    /// [`PasswordError::TooLong`] over [`MAX_LENGTH`] code points after normalization,
    /// [`PasswordError::InvalidCharacter`] for a control, line-separator, bidirectional-control
    /// or noncharacter code point.
    pub fn new(input: &str) -> Result<Self, PasswordError> {
        let screened = screen(input)?;
        if screened.length > MAX_LENGTH {
            return Err(PasswordError::TooLong {
                length: screened.length,
                max: MAX_LENGTH,
            });
        }
        if let Some(invalid) = screened.invalid {
            return Err(PasswordError::InvalidCharacter {
                position: invalid.position,
                kind: invalid.kind,
            });
        }
        Ok(screened.password)
    }

    /// The length in Unicode code points.
    #[must_use]
    pub fn len(&self) -> usize {
        self.length
    }

    /// Whether the password is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The normalized text: the secret itself, for hashing.
    pub(crate) fn expose(&self) -> &str {
        &self.text
    }
}

impl PartialEq for NormalizedPassword {
    /// Compares in constant time for equal lengths.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.text.as_bytes().ct_eq(other.text.as_bytes()).into()
    }
}

impl Eq for NormalizedPassword {}

impl fmt::Debug for NormalizedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NormalizedPassword(<redacted, {} code points>)",
            self.length
        )
    }
}

/// A character that no password may contain.
///
/// These are the characters that change how the text around them displays. This is the one
/// definition of them: allowlist labels refuse them too ([`crate::allowlist::Label`]), and
/// [`crate::quote`] shows them escaped when it quotes input in a message.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidCharacterKind {
    /// A C0 or C1 control character, NUL and DEL included (general category Cc).
    Control,
    /// U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR.
    LineSeparator,
    /// A bidirectional formatting character (U+061C, U+200E, U+200F, U+202A..=U+202E,
    /// U+2066..=U+2069): it makes the displayed text differ from what is typed.
    BidiControl,
    /// A Unicode noncharacter (U+FDD0..=U+FDEF, U+xxFFFE, U+xxFFFF).
    Noncharacter,
}

impl InvalidCharacterKind {
    /// Classifies `c`, or `None` when it may appear in a password.
    #[must_use]
    pub fn of(c: char) -> Option<Self> {
        let cp = u32::from(c);
        if c.is_control() {
            Some(Self::Control)
        } else if matches!(c, '\u{2028}' | '\u{2029}') {
            Some(Self::LineSeparator)
        } else if matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        {
            Some(Self::BidiControl)
        } else if (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE {
            Some(Self::Noncharacter)
        } else {
            None
        }
    }
}

impl fmt::Display for InvalidCharacterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Control => "control",
            Self::LineSeparator => "line separator",
            Self::BidiControl => "bidirectional control",
            Self::Noncharacter => "noncharacter",
        })
    }
}

/// The character classes a composition rule asks for.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub(crate) struct Composition {
    pub(crate) uppercase: bool,
    pub(crate) number: bool,
    pub(crate) special: bool,
}

impl Composition {
    /// Classifies every character of a normalized password.
    ///
    /// Uppercase is any character with the Unicode `Uppercase` property (`É`, `Ω`, `Ж`), a
    /// number any `Numeric` character (`7`, `٣`), special any other character that is neither
    /// alphanumeric, nor a combining mark, nor invalid: space, `-`, `.`, `{`, `\`, `€`, `😀`.
    pub(crate) fn of(text: &str) -> Self {
        text.chars().fold(Self::default(), |acc, c| Self {
            uppercase: acc.uppercase || c.is_uppercase(),
            number: acc.number || c.is_numeric(),
            special: acc.special || is_special(c),
        })
    }
}

/// Whether `c` counts as a special character.
#[must_use]
pub fn is_special(c: char) -> bool {
    !c.is_alphanumeric() && !is_combining_mark(c) && InvalidCharacterKind::of(c).is_none()
}

/// The first invalid character of a normalized password, and how many there are.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Invalid {
    pub(crate) position: usize,
    pub(crate) kind: InvalidCharacterKind,
    pub(crate) count: usize,
}

/// A normalized input with its measurements, before any rule is applied.
pub(crate) struct Screened {
    pub(crate) password: NormalizedPassword,
    pub(crate) length: usize,
    pub(crate) invalid: Option<Invalid>,
}

/// Normalizes `input` and measures it; rejects only input over [`MAX_INPUT_BYTES`].
pub(crate) fn screen(input: &str) -> Result<Screened, PasswordError> {
    // Checked before reading the text, so a megabyte costs nothing.
    if input.len() > MAX_INPUT_BYTES {
        return Err(PasswordError::InputTooLarge {
            bytes: input.len(),
            max_bytes: MAX_INPUT_BYTES,
        });
    }

    let text = Zeroizing::new(input.nfkc().collect::<String>());
    let mut length = 0;
    let mut invalid: Option<Invalid> = None;
    for (position, c) in text.chars().enumerate() {
        length += 1;
        if let Some(kind) = InvalidCharacterKind::of(c) {
            match &mut invalid {
                Some(first) => first.count += 1,
                None => {
                    invalid = Some(Invalid {
                        position,
                        kind,
                        count: 1,
                    });
                }
            }
        }
    }
    Ok(Screened {
        password: NormalizedPassword { text, length },
        length,
        invalid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_code_points_not_bytes() {
        let p = NormalizedPassword::new("\u{dc}n\u{ef}c\u{f6}d\u{e9}1!Pw").unwrap();
        assert_eq!(p.len(), 11);
    }

    #[test]
    fn nfkc_folds_full_width_and_compatibility_forms() {
        let full = NormalizedPassword::new("\u{ff21}\u{ff42}\u{ff43}\u{ff11}").unwrap();
        assert_eq!(full, NormalizedPassword::new("Abc1").unwrap());
        assert_eq!(full.expose(), "Abc1");
    }

    #[test]
    fn input_over_the_byte_cap_is_rejected_before_normalizing() {
        let big = "x".repeat(MAX_INPUT_BYTES + 1);
        assert_eq!(
            NormalizedPassword::new(&big).unwrap_err(),
            PasswordError::InputTooLarge {
                bytes: MAX_INPUT_BYTES + 1,
                max_bytes: MAX_INPUT_BYTES
            }
        );
    }

    #[test]
    fn exactly_max_length_is_accepted_and_one_more_is_too_long() {
        assert!(NormalizedPassword::new(&"x".repeat(MAX_LENGTH)).is_ok());
        assert_eq!(
            NormalizedPassword::new(&"x".repeat(MAX_LENGTH + 1)).unwrap_err(),
            PasswordError::TooLong {
                length: MAX_LENGTH + 1,
                max: MAX_LENGTH
            }
        );
    }

    #[test]
    fn control_separator_bidi_and_noncharacters_are_invalid() {
        for (c, kind) in [
            ('\0', InvalidCharacterKind::Control),
            ('\t', InvalidCharacterKind::Control),
            ('\u{7f}', InvalidCharacterKind::Control),
            ('\u{85}', InvalidCharacterKind::Control),
            ('\u{2028}', InvalidCharacterKind::LineSeparator),
            ('\u{202E}', InvalidCharacterKind::BidiControl),
            ('\u{FFFF}', InvalidCharacterKind::Noncharacter),
            ('\u{10FFFE}', InvalidCharacterKind::Noncharacter),
        ] {
            assert_eq!(InvalidCharacterKind::of(c), Some(kind), "{c:?}");
        }
        for c in [' ', 'a', '\u{200D}', '\u{FFFD}', '😀'] {
            assert_eq!(InvalidCharacterKind::of(c), None, "{c:?}");
        }
    }

    #[test]
    fn every_printable_non_alphanumeric_is_special_but_marks_are_not() {
        for c in [' ', '-', '.', '{', '\\', '€', '😀', '«', '_'] {
            assert!(is_special(c), "{c:?}");
        }
        for c in ['a', 'Z', '7', 'é', '\u{303}', '\0'] {
            assert!(!is_special(c), "{c:?}");
        }
    }

    #[test]
    fn non_ascii_uppercase_counts_as_uppercase() {
        assert!(Composition::of("\u{c9}t\u{e9}").uppercase);
        assert!(Composition::of("\u{416}").uppercase);
        assert!(!Composition::of("\u{e9}t\u{e9}").uppercase);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = NormalizedPassword::new("Hunter2-secret").unwrap();
        assert!(!format!("{p:?}").contains("Hunter2"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        /// Normalizing a normalized password changes nothing.
        #[test]
        fn normalization_is_idempotent(
            text in "[ -~\u{a0}-\u{17f}\u{300}-\u{36f}\u{1100}-\u{11ff}\u{ac00}-\u{ac10}\u{ff01}-\u{ff5e}\u{fb00}-\u{fb06}\u{2460}-\u{2473}]{0,60}"
        ) {
            if let Ok(once) = NormalizedPassword::new(&text) {
                let twice = NormalizedPassword::new(once.expose()).unwrap();
                proptest::prop_assert_eq!(once.expose(), twice.expose());
                proptest::prop_assert_eq!(once.len(), twice.len());
            }
        }
    }
}
