use chrono::{DateTime, Utc};

use crate::id::{KeyId, StoreId};

/// Why a presented key was rejected, or why a key operation could not be carried out.
///
/// No variant ever holds the text of a key, any part of its random body, or its digest: the
/// facts carried are lengths, positions, key ids and instants, which are safe to log.
///
/// The rejections of a presented key are [`ApiKeyError::UnknownPrefix`],
/// [`ApiKeyError::Length`], [`ApiKeyError::Alphabet`] (the text is not a key at all),
/// [`ApiKeyError::Unknown`], [`ApiKeyError::Expired`] and [`ApiKeyError::Revoked`]. The rest are
/// refusals of an operation.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// The presented text does not start with `wk_live_` or `wk_test_`.
    #[error("an api key must start with `wk_live_` or `wk_test_`")]
    UnknownPrefix,
    /// The presented text has the wrong length for a key.
    #[error("an api key has {expected} characters, this one has {found}")]
    Length {
        /// The length of the presented text, in bytes.
        found: usize,
        /// The length every key has.
        expected: usize,
    },
    /// A character after the prefix is not an ASCII letter or digit.
    #[error(
        "an api key may only contain ASCII letters and digits after its prefix (position {position})"
    )]
    Alphabet {
        /// The byte offset of the first offending character in the presented text.
        position: usize,
    },
    /// The presented key is well formed but no stored key has its digest.
    #[error("the api key is not recognised")]
    Unknown,
    /// The key's grace period ended (or it was rotated with no grace) at `expired_at`.
    #[error("api key `{key_id}` expired at {expired_at}", expired_at = crate::time::format(*.expired_at))]
    Expired {
        /// The key's id.
        key_id: KeyId,
        /// The first instant the key was no longer valid.
        expired_at: DateTime<Utc>,
        /// The instant of the check.
        now: DateTime<Utc>,
    },
    /// The key's record is dated after the check by more than the clock-skew allowance.
    #[error("api key `{key_id}` is dated {valid_from}, later than now", valid_from = crate::time::format(*.valid_from))]
    NotYetValid {
        /// The key's id.
        key_id: KeyId,
        /// The key's creation instant.
        valid_from: DateTime<Utc>,
        /// The instant of the check.
        now: DateTime<Utc>,
    },
    /// The key was revoked (explicitly, or by a rotation for a compromised key).
    #[error("api key `{key_id}` was revoked at {revoked_at}", revoked_at = crate::time::format(*.revoked_at))]
    Revoked {
        /// The key's id.
        key_id: KeyId,
        /// When it was revoked.
        revoked_at: DateTime<Utc>,
    },
    /// No key of the store is active, so a rotation has nothing to give a successor to.
    #[error("store `{store_id}` has no active api key to rotate")]
    NothingToRotate {
        /// The store asked about.
        store_id: StoreId,
    },
    /// No stored key has this id.
    #[error("no api key has id `{key_id}`")]
    KeyNotFound {
        /// The id asked for.
        key_id: KeyId,
    },
    /// A key with this id or digest is already stored.
    #[error("api key `{key_id}` is already stored")]
    DuplicateKey {
        /// The id of the key already stored.
        key_id: KeyId,
    },
    /// A key record read from storage is inconsistent.
    #[error("api key record `{key_id}`: invalid `{field}`")]
    InvalidRecord {
        /// The record's id.
        key_id: KeyId,
        /// The field at fault.
        field: &'static str,
    },
    /// A rotation request asks for a compromised-key rotation and a grace period at once.
    #[error(
        "a rotation for a compromised key has no grace period, but a grace of {} was asked for",
        crate::quote::count(*grace_hours, "hour")
    )]
    GraceForCompromisedKey {
        /// The grace period in the request.
        grace_hours: u32,
    },
    /// A computed instant (such as `now` plus a grace period) is outside chrono's range.
    #[error("{what}: the resulting time is out of range")]
    TimeOutOfRange {
        /// What was being computed.
        what: &'static str,
    },
}
