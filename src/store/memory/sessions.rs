//! Sessions and password history in memory.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::MemoryStore;
use crate::id::{StoreId, UserId};
use crate::session::{Session, SessionId};
use crate::store::{PasswordHistoryStore, SessionStore, StoreError};

impl SessionStore for MemoryStore {
    fn session(&self, store_id: &StoreId, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .sessions
            .get(store_id)
            .and_then(|s| s.get(id))
            .cloned())
    }

    fn sessions_of(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
    ) -> Result<Vec<Session>, StoreError> {
        let mut sessions: Vec<Session> = self
            .sessions(store_id)?
            .into_iter()
            .filter(|s| &s.user == user_id)
            .collect();
        sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(sessions)
    }

    fn sessions(&self, store_id: &StoreId) -> Result<Vec<Session>, StoreError> {
        let inner = self.read()?;
        let mut sessions: Vec<Session> = inner
            .sessions
            .get(store_id)
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        sessions
            .sort_by(|a, b| (&a.user, a.created_at, &a.id).cmp(&(&b.user, b.created_at, &b.id)));
        Ok(sessions)
    }

    fn start_session(
        &self,
        store_id: &StoreId,
        session: &Session,
        expected: &[SessionId],
        end: &[SessionId],
    ) -> Result<(), StoreError> {
        let mut inner = self.write()?;
        let stored = inner.sessions.entry(store_id.clone()).or_default();
        let held: BTreeSet<&SessionId> = stored
            .values()
            .filter(|s| s.user == session.user)
            .map(|s| &s.id)
            .collect();
        if held != expected.iter().collect() {
            return Err(StoreError::SessionsChanged {
                user_id: session.user.clone(),
            });
        }
        if stored.contains_key(&session.id) {
            return Err(StoreError::DuplicateSession {
                session_id: session.id.clone(),
            });
        }
        for id in end {
            stored.remove(id);
        }
        stored.insert(session.id.clone(), session.clone());
        Ok(())
    }

    fn touch_session(
        &self,
        store_id: &StoreId,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> Result<Session, StoreError> {
        let mut inner = self.write()?;
        let Some(session) = inner.sessions.get_mut(store_id).and_then(|s| s.get_mut(id)) else {
            return Err(StoreError::SessionNotFound {
                store_id: store_id.clone(),
                session_id: id.clone(),
            });
        };
        session.last_activity_at = session.last_activity_at.max(at);
        Ok(session.clone())
    }

    fn end_sessions(&self, store_id: &StoreId, ids: &[SessionId]) -> Result<usize, StoreError> {
        let mut inner = self.write()?;
        let Some(stored) = inner.sessions.get_mut(store_id) else {
            return Ok(0);
        };
        Ok(ids.iter().filter(|id| stored.remove(*id).is_some()).count())
    }
}

impl PasswordHistoryStore for MemoryStore {
    fn password_history(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        limit: usize,
    ) -> Result<Vec<Zeroizing<String>>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .passwords
            .get(store_id)
            .and_then(|p| p.get(user_id))
            .map(|h| h.iter().rev().take(limit).map(|p| p.0.clone()).collect())
            .unwrap_or_default())
    }

    fn push_password(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        phc: &str,
        _at: DateTime<Utc>,
        keep: usize,
    ) -> Result<(), StoreError> {
        let mut inner = self.write()?;
        let history = inner
            .passwords
            .entry(store_id.clone())
            .or_default()
            .entry(user_id.clone())
            .or_default();
        history.push(Phc(Zeroizing::new(phc.to_owned())));
        let extra = history.len().saturating_sub(keep.max(1));
        history.drain(..extra);
        Ok(())
    }
}

/// A stored password hash; its `Debug` does not show it.
#[derive(Clone)]
pub(super) struct Phc(Zeroizing<String>);

impl fmt::Debug for Phc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phc(<redacted>)")
    }
}
