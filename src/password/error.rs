//! The password module's error type.

use crate::password::normalize::InvalidCharacterKind;

/// Why a password or a stored password hash could not be processed.
///
/// Variants up to [`InvalidCharacter`](Self::InvalidCharacter) reject the typed password; the
/// hash variants reject a stored PHC string; [`InvalidHashParams`](Self::InvalidHashParams) and
/// [`InvalidHashLimits`](Self::InvalidHashLimits) mean the caller configured this wrong. No
/// message ever contains a password, a salt or a hash output.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The input is over [`MAX_INPUT_BYTES`](crate::password::MAX_INPUT_BYTES) and was not
    /// normalized.
    #[error("password input is {bytes} bytes, more than the {max_bytes} accepted")]
    InputTooLarge {
        /// The input's length in bytes.
        bytes: usize,
        /// The largest accepted input in bytes.
        max_bytes: usize,
    },
    /// The normalized password has more than [`MAX_LENGTH`](crate::password::MAX_LENGTH)
    /// code points.
    #[error("password has {length} characters, more than the {max} allowed")]
    TooLong {
        /// The normalized length in code points.
        length: usize,
        /// The largest allowed length.
        max: usize,
    },
    /// The normalized password contains a character that is never allowed.
    #[error("password contains a {kind} character at position {position}")]
    InvalidCharacter {
        /// The 0-based code-point index of the first such character in the normalized password.
        position: usize,
        /// What kind of character it is.
        kind: InvalidCharacterKind,
    },
    /// The stored hash is not a well-formed PHC string.
    #[error("stored password hash is not a well-formed PHC string")]
    MalformedHash,
    /// The stored hash names an algorithm other than argon2id.
    #[error("stored password hash uses `{algorithm}`, only `argon2id` is accepted")]
    UnsupportedAlgorithm {
        /// The algorithm identifier found (not secret).
        algorithm: String,
    },
    /// The stored hash names an Argon2 version other than 19 (0x13).
    #[error("stored password hash has version `{version}`, only 19 is accepted")]
    UnsupportedVersion {
        /// The version found, or 0 when absent.
        version: u32,
    },
    /// A cost parameter or size of the stored hash is outside the configured limits.
    #[error("stored password hash has {param} = {value}, outside {min}..={max}")]
    HashParamOutOfBounds {
        /// The parameter: `m`, `t`, `p`, `m*t`, `salt length` or `output length`.
        param: &'static str,
        /// The value found.
        value: u64,
        /// The smallest accepted value.
        min: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// Hashing parameters given by the caller are outside their documented range.
    #[error("hash parameter {param} = {value} is outside {min}..={max}")]
    InvalidHashParams {
        /// The parameter: `m`, `t` or `p`.
        param: &'static str,
        /// The value given.
        value: u64,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// Verification limits given by the caller are outside their documented range.
    #[error("hash limit {limit} = {value} is outside {min}..={max}")]
    InvalidHashLimits {
        /// The limit: `max_memory_kib`, `max_iterations`, `max_parallelism` or `max_work`.
        limit: &'static str,
        /// The value given.
        value: u64,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// The Argon2 implementation refused to run (for example, it could not allocate memory).
    #[error("argon2 failed: {0}")]
    Argon2(String),
}
