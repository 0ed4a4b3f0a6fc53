use std::fmt;

use crate::id::EntryId;

/// One problem with a settings document or update, with the path of the field to fix.
///
/// Paths use dots between object keys and `[i]` for list positions
/// (`ip_allowlist.entries[2].cidr`); the empty path is the document itself, and a message about
/// it has no path prefix.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The text is not JSON.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON reader found.
        message: String,
    },
    /// A field holds a value of the wrong type or out of its range.
    #[error("{}{message}", at(path))]
    Invalid {
        /// The field's path.
        path: String,
        /// What is wrong with its value.
        message: String,
    },
    /// A required field is absent.
    #[error("{}missing field", at(path))]
    MissingField {
        /// The field's path.
        path: String,
    },
    /// A key appears twice in one JSON object. JSON readers disagree on which value wins, so a
    /// policy must not depend on the choice: the document is refused.
    #[error("{}duplicate field (line {line}, column {column})", at(path))]
    DuplicateField {
        /// The repeated key's path.
        path: String,
        /// 1-based line of the second occurrence's value.
        line: usize,
        /// 1-based column of the second occurrence's value.
        column: usize,
    },
    /// A field the document does not define (often a typo).
    #[error("{}unknown field", at(path))]
    UnknownField {
        /// The field's path.
        path: String,
    },
    /// The key rotation grace period is not shorter than the rotation interval, so old keys
    /// would never expire before the next rotation.
    #[error(
        "{}a grace period of {} must be shorter than the rotation interval of {}",
        at(path),
        crate::quote::count(*grace_hours, "hour"),
        crate::quote::count(*interval_days, "day")
    )]
    GraceNotShorterThanInterval {
        /// The field's path.
        path: String,
        /// The grace period given.
        grace_hours: u32,
        /// The rotation interval.
        interval_days: u32,
    },
    /// Two allowlist entries share an id.
    #[error("{}entry id `{id}` is used more than once", at(path))]
    DuplicateEntryId {
        /// The path of the second use.
        path: String,
        /// The repeated id.
        id: EntryId,
    },
    /// The allowlist has more entries than [`IpAllowlist::MAX_ENTRIES`]: every write rewrites
    /// the whole document, so an unbounded list would make each change slower than the last.
    ///
    /// [`IpAllowlist::MAX_ENTRIES`]: crate::allowlist::IpAllowlist::MAX_ENTRIES
    #[error("{path}: {count} entries; at most {max} are allowed")]
    TooManyEntries {
        /// The list's path.
        path: String,
        /// How many entries the list would have.
        count: usize,
        /// The most it may have.
        max: usize,
    },
    /// No allowlist entry has this id.
    #[error("ip_allowlist.entries: no entry has id `{id}`")]
    EntryNotFound {
        /// The id asked for.
        id: EntryId,
    },
    /// A computed instant (such as `now` plus a grace period) is outside the representable
    /// range of time.
    #[error("{}the resulting time is out of range", at(path))]
    TimeOutOfRange {
        /// The field whose value could not be computed.
        path: String,
    },
}

impl SettingsError {
    /// The path of the field to fix; empty for the whole document.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::Syntax { .. } => "",
            Self::EntryNotFound { .. } => "ip_allowlist.entries",
            Self::Invalid { path, .. }
            | Self::MissingField { path }
            | Self::UnknownField { path }
            | Self::DuplicateField { path, .. }
            | Self::GraceNotShorterThanInterval { path, .. }
            | Self::DuplicateEntryId { path, .. }
            | Self::TooManyEntries { path, .. }
            | Self::TimeOutOfRange { path } => path,
        }
    }

    pub(crate) fn syntax(e: &serde_json::Error) -> Self {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the variant carries those separately.
        let message = match message.rfind(" at line ") {
            Some(cut) => message.get(..cut).unwrap_or(&message).to_owned(),
            None => message,
        };
        Self::Syntax {
            line: e.line(),
            // serde_json gives column 0 for an end of input just after a newline.
            column: e.column().max(1),
            message: bounded(&message),
        }
    }

    /// Turns a deserialization error under the top-level field `prefix` into an error with the
    /// full path.
    pub(crate) fn from_path_error(
        prefix: &str,
        e: &serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        // Paths and messages are built whole, then escaped and cut (serde quotes the offending
        // key or value whole, and hostile input may be megabytes long): a key is compared with
        // the path before either is cut.
        let inner = plain_serde_message(&e.inner().to_string());
        let inner = match inner.rfind(" at line ") {
            Some(cut) => inner.get(..cut).unwrap_or(&inner).to_owned(),
            None => inner,
        };
        let mut path = raw_path(prefix, e);
        if let Some(rest) = inner.strip_prefix("unknown field `") {
            // The path already ends at the unknown key. serde writes "unknown field `KEY`,
            // expected ..." (or "..., there are no fields"), and the key itself may hold
            // backticks: it ends at the last of those two endings.
            let name = ["`, expected ", "`, there are no fields"]
                .iter()
                .filter_map(|ending| rest.rfind(ending))
                .max()
                .and_then(|end| rest.get(..end))
                .unwrap_or(rest);
            if !path.ends_with(name) {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
            }
            return Self::UnknownField {
                path: bounded(&path),
            };
        }
        if let Some(rest) = inner.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
            return Self::MissingField {
                path: bounded(&path),
            };
        }
        Self::Invalid {
            path: bounded(&path),
            message: bounded(&inner),
        }
    }
}

/// The field path of a serde error under `prefix`, as written (not escaped, not cut).
pub(crate) fn raw_path(prefix: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let sub = e.path().to_string();
    let mut path = prefix.to_owned();
    if sub != "." {
        if !path.is_empty() && !sub.starts_with('[') {
            path.push('.');
        }
        path.push_str(&sub);
    }
    path
}

/// A serde message with the Rust type it expected put in words, for people who write JSON and
/// not Rust: `invalid type: string "480", expected i64` becomes `invalid type: string "480",
/// expected an integer`, `expected u8` becomes `expected an integer from 0 to 255`, and
/// `expected struct Member` becomes `expected a JSON object`. Any other message is returned as
/// it was.
///
/// Every settings error already passes through it; call it on the message of your own serde
/// errors (the command line does, for members and sessions files).
///
/// # Examples
///
/// ```
/// use whale_security::settings::plain_serde_message;
///
/// assert_eq!(
///     plain_serde_message(r#"invalid type: string "480", expected i64"#),
///     r#"invalid type: string "480", expected an integer"#,
/// );
/// assert_eq!(
///     plain_serde_message("invalid value: integer `-5`, expected u32"),
///     "invalid value: integer `-5`, expected an integer from 0 to 4294967295",
/// );
/// assert_eq!(
///     plain_serde_message("invalid type: integer `5`, expected struct Member at line 1 column 2"),
///     "invalid type: integer `5`, expected a JSON object at line 1 column 2",
/// );
/// assert_eq!(plain_serde_message("missing field `email`"), "missing field `email`");
/// ```
#[must_use]
pub fn plain_serde_message(message: &str) -> String {
    let Some(at) = message.rfind("expected ") else {
        return message.to_owned();
    };
    let (head, tail) = message.split_at(at.saturating_add("expected ".len()));
    // serde_json may append " at line L column C" after the expectation.
    let (expected, rest) = match tail.find(" at line ") {
        Some(cut) => tail.split_at(cut),
        None => (tail, ""),
    };
    let words = match expected {
        "i8" => "an integer from -128 to 127",
        "i16" => "an integer from -32768 to 32767",
        "i32" => "an integer from -2147483648 to 2147483647",
        "i64" | "i128" | "isize" => "an integer",
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" | "u128" | "usize" => "an integer from 0 up",
        "f32" | "f64" => "a number",
        "char" => "a single character",
        "a map" => "a JSON object",
        _ if expected.starts_with("struct ") => "a JSON object",
        _ if expected.starts_with("tuple struct ") => "a value of another type",
        _ if expected.starts_with("enum ") => "one of the names allowed here",
        _ if expected.starts_with("a sequence") => "a JSON array",
        _ => return message.to_owned(),
    };
    format!("{head}{words}{rest}")
}

/// The prefix naming the field an error is about: `path: `, or nothing for the whole document
/// (the empty path), so a message never starts with a bare `: `.
fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// `text` cut to its first [`MAX_QUOTED`] characters (with `…` when cut) and escaped as
/// [`crate::quote`] does, so that an error quoting hostile input stays one short line that
/// displays as written.
pub(crate) fn bounded(text: &str) -> String {
    crate::quote::shorten_to(text, MAX_QUOTED)
}

/// The most characters of a path or message an error quotes.
const MAX_QUOTED: usize = 200;

/// Every problem found in one settings document.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SettingsErrors(Vec<SettingsError>);

impl SettingsErrors {
    pub(crate) fn new(errors: Vec<SettingsError>) -> Self {
        Self(errors)
    }

    pub(crate) fn one(error: SettingsError) -> Self {
        Self(vec![error])
    }

    /// The problems, in document order.
    #[must_use]
    pub fn as_slice(&self) -> &[SettingsError] {
        &self.0
    }

    /// The problems, by value.
    #[must_use]
    pub fn into_vec(self) -> Vec<SettingsError> {
        self.0
    }
}

impl fmt::Display for SettingsErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(e, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsErrors {}

impl From<SettingsError> for SettingsErrors {
    fn from(e: SettingsError) -> Self {
        Self::one(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_about_the_whole_document_has_no_path_prefix() {
        let whole = [
            SettingsError::Invalid {
                path: String::new(),
                message: "a settings document must be a JSON object".into(),
            },
            SettingsError::MissingField {
                path: String::new(),
            },
            SettingsError::UnknownField {
                path: String::new(),
            },
            SettingsError::DuplicateField {
                path: String::new(),
                line: 1,
                column: 2,
            },
            SettingsError::TimeOutOfRange {
                path: String::new(),
            },
        ];
        for e in whole {
            let text = e.to_string();
            assert!(!text.starts_with(':') && !text.contains(": :"), "{text}");
        }
        let field = SettingsError::MissingField {
            path: "two_factor.required".into(),
        };
        assert_eq!(field.to_string(), "two_factor.required: missing field");
    }
}
