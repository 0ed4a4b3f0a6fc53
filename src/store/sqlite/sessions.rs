//! Sessions (with the compare-and-set start) and password history in SQLite.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::{SqliteStore, TxError};
use crate::id::{StoreId, UserId};
use crate::session::{Session, SessionId};
use crate::store::{PasswordHistoryStore, SessionStore, StoreError};

impl SessionStore for SqliteStore {
    fn session(&self, store_id: &StoreId, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let conn = self.lock()?;
        let raw = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM sessions WHERE store_id = ?1 AND id = ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row([store_id.as_str(), id.as_str()], RawSession::read)
                    .optional()
            })
            .map_err(self.err())?;
        drop(conn);
        raw.map(|r| r.into_session(store_id)).transpose()
    }

    fn sessions_of(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
    ) -> Result<Vec<Session>, StoreError> {
        self.query_sessions(
            &format!(
                "SELECT {COLUMNS} FROM sessions WHERE store_id = ?1 AND user_id = ?2
                 ORDER BY created_ms, id"
            ),
            &[store_id.as_str(), user_id.as_str()],
            store_id,
        )
    }

    fn sessions(&self, store_id: &StoreId) -> Result<Vec<Session>, StoreError> {
        self.query_sessions(
            &format!(
                "SELECT {COLUMNS} FROM sessions WHERE store_id = ?1
                 ORDER BY user_id, created_ms, id"
            ),
            &[store_id.as_str()],
            store_id,
        )
    }

    fn start_session(
        &self,
        store_id: &StoreId,
        session: &Session,
        expected: &[SessionId],
        end: &[SessionId],
    ) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let run = || -> Result<(), TxError> {
            let held: BTreeSet<String> = tx
                .prepare_cached("SELECT id FROM sessions WHERE store_id = ?1 AND user_id = ?2")?
                .query_map([store_id.as_str(), session.user.as_str()], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let wanted: BTreeSet<String> = expected.iter().map(|id| id.to_string()).collect();
            if held != wanted {
                return Err(StoreError::SessionsChanged {
                    user_id: session.user.clone(),
                }
                .into());
            }
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM sessions WHERE store_id = ?1 AND id = ?2",
                    [store_id.as_str(), session.id.as_str()],
                    |row| row.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::DuplicateSession {
                    session_id: session.id.clone(),
                }
                .into());
            }
            for id in end {
                tx.execute(
                    "DELETE FROM sessions WHERE store_id = ?1 AND id = ?2",
                    [store_id.as_str(), id.as_str()],
                )?;
            }
            tx.execute(
                &format!(
                    "INSERT INTO sessions (store_id, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    store_id.as_str(),
                    session.id.as_str(),
                    session.user.as_str(),
                    session.created_at.timestamp_millis(),
                    session.last_activity_at.timestamp_millis(),
                    session.last_authenticated_at.timestamp_millis(),
                ],
            )?;
            Ok(())
        };
        run().map_err(|e| e.into_store(&err))?;
        tx.commit().map_err(&err)
    }

    fn touch_session(
        &self,
        store_id: &StoreId,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> Result<Session, StoreError> {
        {
            let conn = self.lock()?;
            let touched = conn
                .execute(
                    "UPDATE sessions SET last_activity_ms = max(last_activity_ms, ?3)
                     WHERE store_id = ?1 AND id = ?2",
                    params![store_id.as_str(), id.as_str(), at.timestamp_millis()],
                )
                .map_err(self.err())?;
            if touched == 0 {
                return Err(StoreError::SessionNotFound {
                    store_id: store_id.clone(),
                    session_id: id.clone(),
                });
            }
        }
        self.session(store_id, id)?
            .ok_or_else(|| StoreError::SessionNotFound {
                store_id: store_id.clone(),
                session_id: id.clone(),
            })
    }

    fn end_sessions(&self, store_id: &StoreId, ids: &[SessionId]) -> Result<usize, StoreError> {
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn.transaction().map_err(&err)?;
        let mut ended = 0;
        for id in ids {
            ended += tx
                .execute(
                    "DELETE FROM sessions WHERE store_id = ?1 AND id = ?2",
                    [store_id.as_str(), id.as_str()],
                )
                .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok(ended)
    }
}

impl SqliteStore {
    fn query_sessions(
        &self,
        sql: &str,
        args: &[&str],
        store_id: &StoreId,
    ) -> Result<Vec<Session>, StoreError> {
        let conn = self.lock()?;
        let err = self.err();
        let mut stmt = conn.prepare_cached(sql).map_err(&err)?;
        let rows: Vec<RawSession> = stmt
            .query_map(rusqlite::params_from_iter(args), RawSession::read)
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        drop(stmt);
        drop(conn);
        rows.into_iter().map(|r| r.into_session(store_id)).collect()
    }
}

impl PasswordHistoryStore for SqliteStore {
    fn password_history(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        limit: usize,
    ) -> Result<Vec<Zeroizing<String>>, StoreError> {
        let conn = self.lock()?;
        let err = self.err();
        let mut stmt = conn
            .prepare_cached(
                "SELECT phc FROM password_history WHERE store_id = ?1 AND user_id = ?2
                 ORDER BY sequence DESC LIMIT ?3",
            )
            .map_err(&err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![store_id.as_str(), user_id.as_str(), limit], |row| {
                row.get::<_, String>(0).map(Zeroizing::new)
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        Ok(rows)
    }

    fn push_password(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        phc: &str,
        at: DateTime<Utc>,
        keep: usize,
    ) -> Result<(), StoreError> {
        let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let keys = params![store_id.as_str(), user_id.as_str()];
        let next: i64 = tx
            .query_row(
                "SELECT coalesce(max(sequence), 0) + 1 FROM password_history
                 WHERE store_id = ?1 AND user_id = ?2",
                keys,
                |row| row.get(0),
            )
            .map_err(&err)?;
        tx.execute(
            "INSERT INTO password_history (store_id, user_id, sequence, phc, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                store_id.as_str(),
                user_id.as_str(),
                next,
                phc,
                at.timestamp_millis()
            ],
        )
        .map_err(&err)?;
        tx.execute(
            "DELETE FROM password_history WHERE store_id = ?1 AND user_id = ?2
               AND sequence <= ?3 - ?4",
            params![store_id.as_str(), user_id.as_str(), next, keep],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }
}

const COLUMNS: &str = "id, user_id, created_ms, last_activity_ms, last_authenticated_ms";

struct RawSession {
    id: String,
    user_id: String,
    created_ms: i64,
    last_activity_ms: i64,
    last_authenticated_ms: i64,
}

impl RawSession {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            user_id: row.get(1)?,
            created_ms: row.get(2)?,
            last_activity_ms: row.get(3)?,
            last_authenticated_ms: row.get(4)?,
        })
    }

    fn into_session(self, store_id: &StoreId) -> Result<Session, StoreError> {
        let corrupt = |detail: String| StoreError::CorruptRecord {
            what: "session",
            key: format!("{store_id}/{}", crate::quote::shorten(&self.id)),
            detail,
        };
        let instant = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .ok_or_else(|| corrupt(format!("instant {ms} is out of range")))
        };
        Ok(Session {
            id: SessionId::new(self.id.as_str()).map_err(|e| corrupt(e.to_string()))?,
            user: UserId::new(self.user_id.as_str()).map_err(|e| corrupt(e.to_string()))?,
            created_at: instant(self.created_ms)?,
            last_activity_at: instant(self.last_activity_ms)?,
            last_authenticated_at: instant(self.last_authenticated_ms)?,
        })
    }
}
