//! Sessions and password history.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::StoreError;
use crate::id::{StoreId, UserId};
use crate::session::{Session, SessionId};

/// Keeps each store's sessions. A stored session is one that has not been ended; whether it is
/// still live is the session policy's answer ([`crate::session::session_expired`]), not the
/// store's.
///
/// # Contract
///
/// [`SessionStore::start_session`] is a compare-and-set on the member's set of sessions: it
/// starts the session only if the member holds exactly the sessions the admission decision
/// was made on, so two sign-ins racing at the concurrent-session limit cannot both be admitted.
pub trait SessionStore: Send + Sync {
    /// The session `id` of `store_id`, or `None`.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptRecord`]; storage failures.
    fn session(&self, store_id: &StoreId, id: &SessionId) -> Result<Option<Session>, StoreError>;

    /// The sessions of `user_id` in `store_id`, oldest first.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::session`].
    fn sessions_of(&self, store_id: &StoreId, user_id: &UserId)
    -> Result<Vec<Session>, StoreError>;

    /// Every session of `store_id`, by member then age.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::session`].
    fn sessions(&self, store_id: &StoreId) -> Result<Vec<Session>, StoreError>;

    /// Ends the sessions `end` and starts `session`, in one transaction, if the member of
    /// `session` holds exactly the sessions `expected` (in any order).
    ///
    /// # Errors
    ///
    /// [`StoreError::SessionsChanged`] when the member's sessions differ from `expected`;
    /// [`StoreError::DuplicateSession`] when the id exists; storage failures. Nothing is written
    /// on any error.
    fn start_session(
        &self,
        store_id: &StoreId,
        session: &Session,
        expected: &[SessionId],
        end: &[SessionId],
    ) -> Result<(), StoreError>;

    /// Records activity on session `id` at `at` (an earlier `at` than the stored one is
    /// ignored); returns the session as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::SessionNotFound`]; storage failures.
    fn touch_session(
        &self,
        store_id: &StoreId,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> Result<Session, StoreError>;

    /// Ends (removes) the sessions `ids` of `store_id`; returns how many existed.
    ///
    /// # Errors
    ///
    /// Storage failures.
    fn end_sessions(&self, store_id: &StoreId, ids: &[SessionId]) -> Result<usize, StoreError>;
}

/// Keeps each member's password hashes (PHC strings), newest first; the newest is the current
/// password's.
pub trait PasswordHistoryStore: Send + Sync {
    /// The newest `limit` hashes of `user_id`, newest first.
    ///
    /// # Errors
    ///
    /// Storage failures.
    fn password_history(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        limit: usize,
    ) -> Result<Vec<Zeroizing<String>>, StoreError>;

    /// Adds `phc` as the newest hash of `user_id` and keeps only the newest `keep` (at least
    /// that one), in one transaction.
    ///
    /// # Errors
    ///
    /// Storage failures.
    fn push_password(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        phc: &str,
        at: DateTime<Utc>,
        keep: usize,
    ) -> Result<(), StoreError>;
}

impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    fn session(&self, store_id: &StoreId, id: &SessionId) -> Result<Option<Session>, StoreError> {
        (**self).session(store_id, id)
    }

    fn sessions_of(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
    ) -> Result<Vec<Session>, StoreError> {
        (**self).sessions_of(store_id, user_id)
    }

    fn sessions(&self, store_id: &StoreId) -> Result<Vec<Session>, StoreError> {
        (**self).sessions(store_id)
    }

    fn start_session(
        &self,
        store_id: &StoreId,
        session: &Session,
        expected: &[SessionId],
        end: &[SessionId],
    ) -> Result<(), StoreError> {
        (**self).start_session(store_id, session, expected, end)
    }

    fn touch_session(
        &self,
        store_id: &StoreId,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> Result<Session, StoreError> {
        (**self).touch_session(store_id, id, at)
    }

    fn end_sessions(&self, store_id: &StoreId, ids: &[SessionId]) -> Result<usize, StoreError> {
        (**self).end_sessions(store_id, ids)
    }
}

impl<T: PasswordHistoryStore + ?Sized> PasswordHistoryStore for Arc<T> {
    fn password_history(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        limit: usize,
    ) -> Result<Vec<Zeroizing<String>>, StoreError> {
        (**self).password_history(store_id, user_id, limit)
    }

    fn push_password(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        phc: &str,
        at: DateTime<Utc>,
        keep: usize,
    ) -> Result<(), StoreError> {
        (**self).push_password(store_id, user_id, phc, at, keep)
    }
}
