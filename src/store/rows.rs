//! Row conversions shared by the SQL stores: every document is validated on the way out of
//! the database, so a tampered row is a typed error, never a panic or a silently wrong policy.

use crate::SecuritySettings;
use crate::id::{StoreId, UserId};
use crate::store::{StoreError, Version};
use crate::two_factor::Member;

/// Reads a stored settings document through the full validation, refusing one filed under
/// another store.
pub(super) fn read_settings(
    store_id: &StoreId,
    document: &str,
) -> Result<SecuritySettings, StoreError> {
    let corrupt = |detail: String| StoreError::CorruptRecord {
        what: "settings",
        key: store_id.to_string(),
        detail,
    };
    let settings = SecuritySettings::from_json(document).map_err(|e| corrupt(e.to_string()))?;
    if settings.store_id() != store_id {
        return Err(corrupt(format!(
            "the document belongs to `{}`",
            settings.store_id()
        )));
    }
    Ok(settings)
}

/// Serializes settings for storage.
pub(super) fn write_json(settings: &SecuritySettings) -> Result<String, StoreError> {
    serde_json::to_string(settings).map_err(|e| StoreError::Backend {
        detail: format!("cannot serialize settings: {e}"),
    })
}

/// Serializes an audit record for storage.
#[cfg(feature = "postgres")]
pub(super) fn write_record(record: &crate::audit::AuditRecord) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Backend {
        detail: format!("cannot serialize the audit record: {e}"),
    })
}

/// Reads a stored version, which is always at least 1.
pub(super) fn read_version(store_id: &StoreId, n: i64) -> Result<Version, StoreError> {
    u64::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .map(Version::new)
        .ok_or_else(|| StoreError::CorruptRecord {
            what: "settings",
            key: store_id.to_string(),
            detail: format!("version `{n}` is not a positive number"),
        })
}

/// Reads a stored audit sequence number, which is never negative.
pub(super) fn read_sequence(store_id: &StoreId, n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::CorruptRecord {
        what: "audit entry",
        key: format!("{store_id}#{n}"),
        detail: "the sequence number is negative".into(),
    })
}

/// The error for an unreadable TOTP row of `user_id`.
pub(super) fn corrupt_totp(store_id: &StoreId, user_id: &UserId, detail: String) -> StoreError {
    StoreError::CorruptRecord {
        what: "totp factor",
        key: format!("{store_id}/{user_id}"),
        detail,
    }
}

/// Reads a stored member document, refusing one filed under another user.
pub(super) fn read_member(store_id: &StoreId, user: &str, doc: &str) -> Result<Member, StoreError> {
    let corrupt = |detail: String| StoreError::CorruptRecord {
        what: "member",
        key: format!("{store_id}/{}", crate::quote::shorten(user)),
        detail,
    };
    let member: Member = serde_json::from_str(doc).map_err(|e| corrupt(e.to_string()))?;
    if member.user_id.as_str() != user {
        return Err(corrupt(format!(
            "the document belongs to `{}`",
            member.user_id
        )));
    }
    Ok(member)
}
