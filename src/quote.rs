//! Quoting user input in messages and text output.
//!
//! Input is shown as it was given, except for the characters that change how the text around
//! them displays. Those are written as Rust escapes: `\t`, `\n`, `\r`, `\0`, and `\u{..}` for
//! the rest (ESC is `\u{1b}`, RIGHT-TO-LEFT OVERRIDE `\u{202e}`). They are the characters
//! [`InvalidCharacterKind::of`] classifies, the ones no password may hold: C0 and C1
//! controls, bidirectional controls (U+061C, U+200E, U+200F, U+202A..=U+202E,
//! U+2066..=U+2069), the line and paragraph separators, and noncharacters; and, besides those,
//! the characters that display as nothing (zero-width spaces and joiners, the byte order mark,
//! soft hyphens, variation selectors, tag characters). So a tab in input cannot add a column to
//! tab-separated output, ESC cannot reach a terminal, U+202E cannot reverse the rest of a line,
//! and `203.0.113.9` followed by a ZERO WIDTH SPACE does not read as a valid address in the
//! message that refuses it.
//!
//! The escapes are for reading, not for decoding back: a backslash in the input is not
//! doubled, so `\t` in a message may stand for a tab or for the two characters `\` and `t`.
//!
//! # Examples
//!
//! ```
//! use whale_security::quote::{escape, shorten};
//!
//! assert_eq!(escape("8.8.8.8\tallow"), r"8.8.8.8\tallow");
//! assert_eq!(escape("\u{1b}[2J\u{202e}1.2.3.4\0"), r"\u{1b}[2J\u{202e}1.2.3.4\0");
//! // Everything else is kept, right-to-left scripts and backslashes included.
//! assert_eq!(escape(r"משרד C:\temp"), r"משרד C:\temp");
//!
//! let long = "a".repeat(1_000);
//! assert_eq!(shorten(&long), format!("{}…", "a".repeat(100)));
//! assert_eq!(shorten("\u{1b}x"), r"\u{1b}x");
//! ```

use std::borrow::Cow;
use std::fmt::Write;

use crate::password::InvalidCharacterKind;

/// `text` with every character that changes how text displays escaped (see the module docs).
///
/// Borrows when there is nothing to escape.
#[must_use]
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().saturating_add(8));
    for c in text.chars() {
        match c {
            '\t' => out.push_str(r"\t"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\0' => out.push_str(r"\0"),
            c if needs_escape(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` cut to its first 100 characters (with `…` when cut) and escaped as [`escape`] does,
/// so an error message stays one short line that displays as written, even for a hostile
/// megabyte of input.
#[must_use]
pub fn shorten(text: &str) -> String {
    shorten_to(text, 100)
}

/// [`shorten`] with a limit of `limit` characters of input.
pub(crate) fn shorten_to(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", escape(text.get(..cut).unwrap_or_default())),
        None => escape(text).into_owned(),
    }
}

/// `n` followed by `unit`, plural unless `n` is 1: `1 day`, `90 days`, `0 hours`. For messages;
/// `unit` is an English noun whose plural adds `s`.
pub(crate) fn count(n: impl Into<u64>, unit: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Whether `c` is shown escaped: a character [`InvalidCharacterKind::of`] classifies (those
/// change how the text around them displays), or one that displays as nothing.
fn needs_escape(c: char) -> bool {
    InvalidCharacterKind::of(c).is_some() || invisible(c)
}

/// Whether `c` is default-ignorable (Unicode's `Default_Ignorable_Code_Point`): a character a
/// renderer shows as nothing when it does not handle it, such as ZERO WIDTH SPACE, WORD JOINER,
/// the byte order mark, soft hyphens, variation selectors, Hangul fillers and tag characters.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_controls_are_escaped_and_nothing_else() {
        assert_eq!(
            escape("a\tb\nc\rd\0e\u{7f}f\u{85}g\u{9b}h"),
            r"a\tb\nc\rd\0e\u{7f}f\u{85}g\u{9b}h"
        );
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
            '\u{2028}', '\u{2029}', '\u{fdd0}', '\u{fffe}',
        ] {
            let text = format!("x{c}y");
            assert_eq!(escape(&text), format!("x\\u{{{:x}}}y", u32::from(c)));
        }
        for kept in [
            "",
            "plain",
            "é ü ß",
            "משרד",
            "العربية",
            r"C:\temp",
            "`quoted`",
            "😀",
        ] {
            assert!(matches!(escape(kept), Cow::Borrowed(_)), "{kept}");
        }
    }

    /// Characters that display as nothing would make `203.0.113.9\u{200b}` read as a valid
    /// address in the message that refuses it.
    #[test]
    fn characters_that_display_as_nothing_are_escaped() {
        for c in [
            '\u{ad}',
            '\u{34f}',
            '\u{115f}',
            '\u{180e}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{2060}',
            '\u{2064}',
            '\u{3164}',
            '\u{fe0f}',
            '\u{feff}',
            '\u{ffa0}',
            '\u{1d173}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e007f}',
        ] {
            let text = format!("203.0.113.9{c}");
            assert_eq!(
                escape(&text),
                format!("203.0.113.9\\u{{{:x}}}", u32::from(c))
            );
        }
        for kept in ['\u{a0}', '\u{2000}', '\u{3000}', '\u{fe10}', '\u{1d17b}'] {
            // Visible as space, or not default-ignorable.
            let text = format!("a{kept}b");
            assert!(
                matches!(escape(&text), Cow::Borrowed(_)),
                "{:x}",
                u32::from(kept)
            );
        }
    }

    #[test]
    fn a_count_of_one_is_singular_and_every_other_plural() {
        assert_eq!(count(1_u32, "day"), "1 day");
        assert_eq!(count(0_u32, "hour"), "0 hours");
        assert_eq!(count(90_u32, "day"), "90 days");
    }

    #[test]
    fn shortening_cuts_the_input_then_escapes_it() {
        assert_eq!(
            shorten(&"\u{1b}".repeat(150)),
            format!("{}…", r"\u{1b}".repeat(100))
        );
        assert_eq!(shorten(&"é".repeat(100)), "é".repeat(100));
        assert_eq!(shorten_to("abcdef", 3), "abc…");
    }
}
