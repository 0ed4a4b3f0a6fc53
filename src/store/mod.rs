//! Durable state behind traits: settings with a version number, the append-only audit log, API
//! keys, members and their factors, TOTP state, sessions and password history.
//!
//! The core decides; a store remembers. Everything the engine keeps sits behind a trait here so
//! a platform can put it in SQLite (feature `sqlite`, [`SqliteStore`]), in PostgreSQL shared by a
//! fleet of instances (feature `postgres`, [`PostgresStore`]), in memory for tests and
//! examples ([`MemoryStore`]), or in its own database.
//!
//! # Contract
//!
//! - **Versions.** A store's settings carry a [`Version`]: 1 when created, plus one per write.
//!   Every write names the version it read; when the store holds another one the write is refused
//!   with [`StoreError::Conflict`] and changes nothing. No update is ever lost: of several writers
//!   that read the same version, exactly one commits.
//! - **One transaction.** A settings write and its audit entry commit together or not at all.
//! - **Audit.** Entries are append-only, numbered per store from 1 without gaps
//!   ([`AuditEntry::sequence`]), and read back in sequence order, filtered by a half-open time
//!   range `[since, until)` and paged with an opaque [`AuditCursor`].
//! - **Validation on read.** Stored documents are validated when read; a row that is not a valid
//!   document (tampered with, or written by a broken tool) is [`StoreError::CorruptRecord`], never
//!   a panic and never a default.
//! - **Precision.** Instants are kept to the millisecond, as the JSON documents write them.
//!
//! # Sync traits
//!
//! The traits are synchronous and `Send + Sync`: SQLite is synchronous, and a plain `#[test]`
//! uses [`MemoryStore`] without any runtime. An async service calls them through its runtime's
//! blocking pool (`tokio::task::spawn_blocking`); see [`crate::service`] for an example.
//!
// A store a build leaves out links to the crate's feature table, so the docs build without
// broken links in every feature combination.
#![cfg_attr(not(feature = "sqlite"), doc = "[`SqliteStore`]: crate#feature-flags")]
#![cfg_attr(
    not(feature = "postgres"),
    doc = "[`PostgresStore`]: crate#feature-flags"
)]

mod keys;
mod members;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rows;
mod sessions;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(test)]
pub(crate) mod contract;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::SecuritySettings;
use crate::audit::AuditRecord;
use crate::bounded::bounded_int;
use crate::id::{KeyId, StoreId, UserId};
use crate::session::SessionId;

pub use self::keys::{ApiKeyStore, KeyChanges, KeyUpdate};
pub(crate) use self::keys::{mismatched_store, revoked_copy};
pub use self::members::{MemberStore, StateSwap, StoredTotp, TotpStore};
pub use self::memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use self::postgres::{
    ChangeListener, ListenerOptions, ListenerStatus, PostgresOptions, PostgresStore,
};
pub use self::sessions::{PasswordHistoryStore, SessionStore};
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStore;

/// The version of a store's settings: 1 when created, plus one per committed write.
///
/// A writer names the version it read ([`SettingsStore::write_settings`]); a store holding any
/// other version refuses the write. HTTP front ends can carry it as an `ETag`.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The version of newly created settings.
    pub const FIRST: Self = Self(1);

    /// The version numbered `n`, as a client sends it back.
    #[must_use]
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// The version's number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The version after this one, or `None` once `u64::MAX` is reached.
    #[must_use]
    pub fn checked_next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A value read from a store's settings (the settings themselves, or one of their parts) with
/// the version it was read at.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// The settings' version; name it when writing changes based on this value.
    pub version: Version,
}

impl<T> Versioned<T> {
    /// The same version with the value mapped, such as one section of the settings.
    #[must_use]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Versioned<U> {
        Versioned {
            value: f(self.value),
            version: self.version,
        }
    }
}

/// What a committed write left behind: the new version and the audit entry's sequence number.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Committed {
    /// The settings' version after the write.
    pub version: Version,
    /// The sequence number of the audit entry appended with it.
    pub sequence: u64,
}

/// One entry of the audit log: the record, the store it belongs to, and its place in that
/// store's log.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The store the change was made to.
    pub store_id: StoreId,
    /// The entry's number in the store's log: 1, 2, 3, ... without gaps.
    pub sequence: u64,
    /// What changed, who changed it and when.
    #[serde(flatten)]
    pub record: AuditRecord,
}

bounded_int!(
    /// How many audit entries one page holds.
    PageLimit: u32 = 1..=1000, default 100
);

/// A question to the audit log: one store's entries, optionally within a time range, one page
/// at a time.
///
/// # Examples
///
/// ```
/// use whale_security::id::StoreId;
/// use whale_security::store::{AuditQuery, PageLimit};
/// use whale_security::time;
///
/// let query = AuditQuery::new(StoreId::new("store_a1")?)
///     .since(time::parse("2026-03-01T00:00:00Z")?)
///     .until(time::parse("2026-04-01T00:00:00Z")?)
///     .limit(PageLimit::new(50)?);
/// assert_eq!(query.page_limit().get(), 50);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuditQuery {
    store_id: StoreId,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    after: Option<AuditCursor>,
    limit: PageLimit,
}

impl AuditQuery {
    /// Every entry of `store_id`, first page, [`PageLimit::DEFAULT`] entries per page.
    #[must_use]
    pub fn new(store_id: StoreId) -> Self {
        Self {
            store_id,
            since: None,
            until: None,
            after: None,
            limit: PageLimit::DEFAULT,
        }
    }

    /// Only entries made at or after `t`.
    #[must_use]
    pub fn since(mut self, t: DateTime<Utc>) -> Self {
        self.since = Some(t);
        self
    }

    /// Only entries made before `t` (the range is half-open).
    #[must_use]
    pub fn until(mut self, t: DateTime<Utc>) -> Self {
        self.until = Some(t);
        self
    }

    /// The page after the one `cursor` came with ([`AuditPage::next`]).
    #[must_use]
    pub fn after(mut self, cursor: AuditCursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// At most `limit` entries per page.
    #[must_use]
    pub fn limit(mut self, limit: PageLimit) -> Self {
        self.limit = limit;
        self
    }

    /// The store asked about.
    #[must_use]
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }

    /// The start of the time range, inclusive.
    #[must_use]
    pub fn since_time(&self) -> Option<DateTime<Utc>> {
        self.since
    }

    /// The end of the time range, exclusive.
    #[must_use]
    pub fn until_time(&self) -> Option<DateTime<Utc>> {
        self.until
    }

    /// The cursor to continue after, if any.
    #[must_use]
    pub fn cursor(&self) -> Option<AuditCursor> {
        self.after
    }

    /// The page size.
    #[must_use]
    pub fn page_limit(&self) -> PageLimit {
        self.limit
    }

    /// The sequence number entries must be above.
    pub(crate) fn after_sequence(&self) -> u64 {
        self.after.map_or(0, |c| c.0)
    }

    /// Whether an entry made at `at` is in the time range.
    pub(crate) fn in_range(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| s <= at) && self.until.is_none_or(|u| at < u)
    }
}

/// One page of audit entries, in sequence order.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts, or `None` when this is the last one.
    pub next: Option<AuditCursor>,
}

impl AuditPage {
    /// Builds a page from up to `limit + 1` matching entries in sequence order: the extra one
    /// only says that another page exists.
    pub(crate) fn from_overfetch(mut entries: Vec<AuditEntry>, limit: PageLimit) -> Self {
        let limit = usize::try_from(limit.get()).unwrap_or(usize::MAX);
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next = if more {
            entries.last().map(|e| AuditCursor(e.sequence))
        } else {
            None
        };
        Self { entries, next }
    }
}

/// Where the next page of an audit query starts. Opaque: pass back what a page returned, as a
/// value or as its text.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct AuditCursor(u64);

impl fmt::Display for AuditCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "after_{}", self.0)
    }
}

impl FromStr for AuditCursor {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        text.strip_prefix("after_")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .map(Self)
            .ok_or_else(|| StoreError::InvalidCursor {
                text: crate::quote::shorten(text),
            })
    }
}

/// Keeps each store's settings and their version.
///
/// Implementations are `Send + Sync` and synchronous; see the [module docs](self) for the
/// contract every implementation meets.
pub trait SettingsStore: Send + Sync {
    /// The ids of every store that has settings, in id order.
    ///
    /// # Errors
    ///
    /// Storage failures ([`StoreError::Backend`], [`StoreError::CorruptRecord`], ...).
    fn store_ids(&self) -> Result<Vec<StoreId>, StoreError>;

    /// The settings of `store_id` and their version, or `None` when the store has none.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptRecord`] when the stored document is not valid; storage failures.
    fn settings(
        &self,
        store_id: &StoreId,
    ) -> Result<Option<Versioned<SecuritySettings>>, StoreError>;

    /// Creates the settings of `settings.store_id()` at [`Version::FIRST`] and appends `audit`,
    /// in one transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when the store has settings; storage failures.
    fn create_settings(
        &self,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError>;

    /// Replaces the settings of `settings.store_id()`, which the writer read at `expected`, and
    /// appends `audit`, in one transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the store holds another version (nothing is written);
    /// [`StoreError::NotFound`] when the store has no settings; storage failures.
    fn write_settings(
        &self,
        expected: Version,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError>;
}

/// Reads the append-only audit log. Entries are appended only by the writes they record
/// ([`SettingsStore::write_settings`] and the like), in the same transaction.
pub trait AuditLog: Send + Sync {
    /// One page of the entries that `query` selects.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptRecord`] when a stored record is not valid; storage failures.
    fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError>;
}

/// Everything the service needs from a store. Implemented for every type that implements the
/// parts.
pub trait Store:
    SettingsStore
    + AuditLog
    + ApiKeyStore
    + MemberStore
    + TotpStore
    + SessionStore
    + PasswordHistoryStore
{
}

impl<T> Store for T where
    T: SettingsStore
        + AuditLog
        + ApiKeyStore
        + MemberStore
        + TotpStore
        + SessionStore
        + PasswordHistoryStore
        + ?Sized
{
}

impl<T: SettingsStore + ?Sized> SettingsStore for Arc<T> {
    fn store_ids(&self) -> Result<Vec<StoreId>, StoreError> {
        (**self).store_ids()
    }

    fn settings(
        &self,
        store_id: &StoreId,
    ) -> Result<Option<Versioned<SecuritySettings>>, StoreError> {
        (**self).settings(store_id)
    }

    fn create_settings(
        &self,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        (**self).create_settings(settings, audit)
    }

    fn write_settings(
        &self,
        expected: Version,
        settings: &SecuritySettings,
        audit: &AuditRecord,
    ) -> Result<Committed, StoreError> {
        (**self).write_settings(expected, settings, audit)
    }
}

impl<T: AuditLog + ?Sized> AuditLog for Arc<T> {
    fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        (**self).audit(query)
    }
}

/// Why a store operation failed.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The settings changed since the writer read them; nothing was written. Read them again,
    /// re-apply the change and retry.
    #[error(
        "settings of `{store_id}` changed: the write was based on version {expected}, the store holds version {found}"
    )]
    Conflict {
        /// The store.
        store_id: StoreId,
        /// The version the writer read.
        expected: Version,
        /// The version the store holds.
        found: Version,
    },
    /// The store has no settings.
    #[error("no settings for store `{store_id}`")]
    NotFound {
        /// The store asked for.
        store_id: StoreId,
    },
    /// Settings for the store already exist.
    #[error("settings for store `{store_id}` already exist")]
    AlreadyExists {
        /// The store.
        store_id: StoreId,
    },
    /// A stored row is not a valid document: tampered with, or written by another tool.
    #[error("stored {what} of `{key}` is invalid: {detail}")]
    CorruptRecord {
        /// What the row holds (`settings`, `audit entry`).
        what: &'static str,
        /// The row's key as stored (a store id, possibly with a sequence number).
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The file is not a database this crate can read (garbage, truncated, or corrupt).
    #[error("`{}` is not a readable whale-security database: {detail}", path.display())]
    CorruptDatabase {
        /// The file.
        path: PathBuf,
        /// What the database engine reported.
        detail: String,
    },
    /// The database file cannot be opened (missing directory, permissions, locked too long).
    #[error("cannot open `{}`: {detail}", path.display())]
    Unavailable {
        /// The file.
        path: PathBuf,
        /// What the operating system or database engine reported.
        detail: String,
    },
    /// The database was written by a newer build with a schema this one does not know.
    #[error(
        "`{}` has schema version {found}; this build knows versions up to {supported}",
        path.display()
    )]
    SchemaTooNew {
        /// The file; for PostgreSQL, the database (without password) and schema.
        path: PathBuf,
        /// The schema version found.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The text is not an audit cursor this crate wrote.
    #[error("`{text}` is not an audit cursor")]
    InvalidCursor {
        /// The text given, quoted as [`crate::quote::shorten`] does (escaped, shortened when long).
        text: String,
    },
    /// The database server cannot be reached, or refused the connection.
    #[error("cannot reach `{database}`: {detail}")]
    Unreachable {
        /// The database, without any password.
        database: String,
        /// What the client library reported.
        detail: String,
    },
    /// The store's configuration is invalid (a connection URL, a schema name).
    #[error("invalid store configuration: {detail}")]
    InvalidConfig {
        /// What is wrong; never contains a password.
        detail: String,
    },
    /// Any other storage failure.
    #[error("storage failed: {detail}")]
    Backend {
        /// What the storage engine reported.
        detail: String,
    },
    /// An API key with this id or digest is already stored.
    #[error("api key `{key_id}` is already stored")]
    DuplicateKey {
        /// The id of the key being written.
        key_id: KeyId,
    },
    /// The store has no API key with this id.
    #[error("store `{store_id}` has no api key `{key_id}`")]
    KeyNotFound {
        /// The store.
        store_id: StoreId,
        /// The id asked for.
        key_id: KeyId,
    },
    /// An API key changed (expired, revoked, rotated) between the read a rotation was planned
    /// on and its write; nothing was written. Plan the rotation again on fresh records.
    #[error("api key `{key_id}` changed since it was read; nothing was written")]
    KeyChanged {
        /// The key.
        key_id: KeyId,
    },
    /// The store has no member with this id.
    #[error("store `{store_id}` has no member `{user_id}`")]
    MemberNotFound {
        /// The store.
        store_id: StoreId,
        /// The member asked for.
        user_id: UserId,
    },
    /// The member has no TOTP factor.
    #[error("member `{user_id}` of store `{store_id}` has no totp factor")]
    TotpNotEnrolled {
        /// The store.
        store_id: StoreId,
        /// The member.
        user_id: UserId,
    },
    /// The store has no session with this id (it ended, or never existed).
    #[error("store `{store_id}` has no session `{session_id}`")]
    SessionNotFound {
        /// The store.
        store_id: StoreId,
        /// The session asked for.
        session_id: SessionId,
    },
    /// A session with this id exists.
    #[error("session `{session_id}` already exists")]
    DuplicateSession {
        /// The session id.
        session_id: SessionId,
    },
    /// The member's sessions changed between the admission decision and its write; nothing was
    /// written. Decide again on fresh sessions.
    #[error("the sessions of member `{user_id}` changed since they were read; nothing was written")]
    SessionsChanged {
        /// The member.
        user_id: UserId,
    },
    /// A thread panicked while holding the in-memory store's lock, so its state is unknown.
    #[error("the store's lock was poisoned by a panic in another thread")]
    Poisoned,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_text_round_trips_and_junk_is_refused() {
        let cursor = AuditCursor(42);
        assert_eq!(cursor.to_string().parse::<AuditCursor>().unwrap(), cursor);
        for junk in [
            "",
            "after_",
            "after_-1",
            "after_+1",
            "42",
            "after_1x",
            "after_99999999999999999999",
        ] {
            assert!(
                matches!(
                    junk.parse::<AuditCursor>(),
                    Err(StoreError::InvalidCursor { .. })
                ),
                "{junk}"
            );
        }
    }

    #[test]
    fn time_range_is_half_open() {
        let t = crate::time::parse("2026-03-10T10:00:00Z").unwrap();
        let q = AuditQuery::new(StoreId::new("store_a").unwrap())
            .since(t)
            .until(t);
        assert!(!q.in_range(t));
        let q = AuditQuery::new(StoreId::new("store_a").unwrap()).since(t);
        assert!(q.in_range(t));
    }

    #[test]
    fn version_stops_at_the_top_instead_of_wrapping() {
        assert_eq!(Version::new(u64::MAX).checked_next(), None);
        assert_eq!(Version::FIRST.checked_next(), Some(Version::new(2)));
    }
}
