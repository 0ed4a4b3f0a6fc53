//! Sessions (with the compare-and-set start) and password history in PostgreSQL.

use std::collections::BTreeSet;

use chrono::{DateTime, SubsecRound, Utc};
use postgres::Row;
use postgres::types::{ToSql, Type};
use zeroize::Zeroizing;

use super::{PostgresStore, backend, begin};
use crate::id::{StoreId, UserId};
use crate::session::{Session, SessionId};
use crate::store::{PasswordHistoryStore, SessionStore, StoreError};

impl SessionStore for PostgresStore {
    fn session(&self, store_id: &StoreId, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let row = self.run(|client| {
            client
                .query_typed_opt(
                    &format!("SELECT {COLUMNS} FROM sessions WHERE store_id = $1 AND id = $2"),
                    &[(&store_id.as_str(), Type::TEXT), (&id.as_str(), Type::TEXT)],
                )
                .map_err(backend)
        })?;
        row.map(|row| read_session(store_id, &row)).transpose()
    }

    fn sessions_of(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = self.run(|client| {
            client
                .query_typed(
                    &format!(
                        "SELECT {COLUMNS} FROM sessions WHERE store_id = $1 AND user_id = $2
                         ORDER BY created_at, id"
                    ),
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&user_id.as_str(), Type::TEXT),
                    ],
                )
                .map_err(backend)
        })?;
        rows.iter().map(|row| read_session(store_id, row)).collect()
    }

    fn sessions(&self, store_id: &StoreId) -> Result<Vec<Session>, StoreError> {
        let rows = self.run(|client| {
            client
                .query_typed(
                    &format!(
                        "SELECT {COLUMNS} FROM sessions WHERE store_id = $1
                         ORDER BY user_id, created_at, id"
                    ),
                    &[(&store_id.as_str(), Type::TEXT)],
                )
                .map_err(backend)
        })?;
        rows.iter().map(|row| read_session(store_id, row)).collect()
    }

    fn start_session(
        &self,
        store_id: &StoreId,
        session: &Session,
        expected: &[SessionId],
        end: &[SessionId],
    ) -> Result<(), StoreError> {
        let wanted: BTreeSet<&str> = expected.iter().map(SessionId::as_str).collect();
        let end: Vec<&str> = end.iter().map(SessionId::as_str).collect();
        let created = session.created_at.trunc_subsecs(3);
        let active = session.last_activity_at.trunc_subsecs(3);
        let authenticated = session.last_authenticated_at.trunc_subsecs(3);
        self.run(|client| {
            let mut tx = begin(client)?;
            // Sign-ins of one member serialize here: without it two of them could both read the
            // same sessions and both start one, past the session limit.
            lock_member(&mut tx, store_id, &session.user)?;
            let held = tx
                .query_typed(
                    "SELECT id FROM sessions WHERE store_id = $1 AND user_id = $2",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&session.user.as_str(), Type::TEXT),
                    ],
                )
                .map_err(backend)?;
            let held: BTreeSet<&str> = held
                .iter()
                .map(|row| row.try_get(0).map_err(backend))
                .collect::<Result<_, _>>()?;
            if held != wanted {
                return Err(StoreError::SessionsChanged {
                    user_id: session.user.clone(),
                });
            }
            tx.execute_typed(
                "DELETE FROM sessions WHERE store_id = $1 AND id = ANY($2)",
                &[(&store_id.as_str(), Type::TEXT), (&end, Type::TEXT_ARRAY)],
            )
            .map_err(backend)?;
            let params: [(&(dyn ToSql + Sync), Type); 6] = [
                (&store_id.as_str(), Type::TEXT),
                (&session.id.as_str(), Type::TEXT),
                (&session.user.as_str(), Type::TEXT),
                (&created, Type::TIMESTAMPTZ),
                (&active, Type::TIMESTAMPTZ),
                (&authenticated, Type::TIMESTAMPTZ),
            ];
            let inserted = tx
                .execute_typed(
                    &format!(
                        "INSERT INTO sessions (store_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT DO NOTHING"
                    ),
                    &params,
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::DuplicateSession {
                    session_id: session.id.clone(),
                });
            }
            tx.commit().map_err(backend)
        })
    }

    fn touch_session(
        &self,
        store_id: &StoreId,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> Result<Session, StoreError> {
        let at = at.trunc_subsecs(3);
        let row = self.run(|client| {
            // Activity only moves forward: a late, older touch changes nothing.
            client
                .query_typed_opt(
                    &format!(
                        "UPDATE sessions SET last_activity_at = greatest(last_activity_at, $3)
                         WHERE store_id = $1 AND id = $2 RETURNING {COLUMNS}"
                    ),
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&id.as_str(), Type::TEXT),
                        (&at, Type::TIMESTAMPTZ),
                    ],
                )
                .map_err(backend)
        })?;
        let Some(row) = row else {
            return Err(StoreError::SessionNotFound {
                store_id: store_id.clone(),
                session_id: id.clone(),
            });
        };
        read_session(store_id, &row)
    }

    fn end_sessions(&self, store_id: &StoreId, ids: &[SessionId]) -> Result<usize, StoreError> {
        let ids: Vec<&str> = ids.iter().map(SessionId::as_str).collect();
        let ended = self.run(|client| {
            client
                .execute_typed(
                    "DELETE FROM sessions WHERE store_id = $1 AND id = ANY($2)",
                    &[(&store_id.as_str(), Type::TEXT), (&ids, Type::TEXT_ARRAY)],
                )
                .map_err(backend)
        })?;
        Ok(usize::try_from(ended).unwrap_or(usize::MAX))
    }
}

impl PasswordHistoryStore for PostgresStore {
    fn password_history(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        limit: usize,
    ) -> Result<Vec<Zeroizing<String>>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.run(|client| {
            client
                .query_typed(
                    "SELECT phc FROM password_history WHERE store_id = $1 AND user_id = $2
                     ORDER BY sequence DESC LIMIT $3",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&user_id.as_str(), Type::TEXT),
                        (&limit, Type::INT8),
                    ],
                )
                .map_err(backend)
        })?;
        rows.iter()
            .map(|row| {
                row.try_get::<_, String>(0)
                    .map(Zeroizing::new)
                    .map_err(backend)
            })
            .collect()
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
        let at = at.trunc_subsecs(3);
        self.run(|client| {
            let mut tx = begin(client)?;
            // Two password changes of one member at once would otherwise take the same number.
            lock_member(&mut tx, store_id, user_id)?;
            let params: [(&(dyn ToSql + Sync), Type); 5] = [
                (&store_id.as_str(), Type::TEXT),
                (&user_id.as_str(), Type::TEXT),
                (&phc, Type::TEXT),
                (&at, Type::TIMESTAMPTZ),
                (&keep, Type::INT8),
            ];
            tx.execute_typed(
                "WITH next AS (
                     SELECT coalesce(max(sequence), 0) + 1 AS sequence FROM password_history
                     WHERE store_id = $1 AND user_id = $2
                 ), added AS (
                     INSERT INTO password_history (store_id, user_id, sequence, phc, made_at)
                     SELECT $1, $2, sequence, $3, $4 FROM next
                 )
                 DELETE FROM password_history
                 WHERE store_id = $1 AND user_id = $2
                   AND sequence <= (SELECT sequence FROM next) - $5",
                &params,
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }
}

const COLUMNS: &str = "id, user_id, created_at, last_activity_at, last_authenticated_at";

/// The first key of the per-member advisory lock: the bytes `WHAM`.
const MEMBER_LOCK: i32 = 0x5748_414D;

/// Serializes the transactions of one member of one store until `tx` ends. Two members whose
/// keys hash alike only wait for each other; correctness does not depend on the hash.
fn lock_member(
    tx: &mut postgres::Transaction<'_>,
    store_id: &StoreId,
    user_id: &UserId,
) -> Result<(), StoreError> {
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))",
        &[
            (&MEMBER_LOCK, Type::INT4),
            (&store_id.as_str(), Type::TEXT),
            (&user_id.as_str(), Type::TEXT),
        ],
    )
    .map_err(backend)?;
    Ok(())
}

fn read_session(store_id: &StoreId, row: &Row) -> Result<Session, StoreError> {
    let id: &str = row.try_get(0).map_err(backend)?;
    let corrupt = |detail: String| StoreError::CorruptRecord {
        what: "session",
        key: format!("{store_id}/{}", crate::quote::shorten(id)),
        detail,
    };
    let user: &str = row.try_get(1).map_err(backend)?;
    Ok(Session {
        id: SessionId::new(id).map_err(|e| corrupt(e.to_string()))?,
        user: UserId::new(user).map_err(|e| corrupt(e.to_string()))?,
        created_at: row.try_get(2).map_err(backend)?,
        last_activity_at: row.try_get(3).map_err(backend)?,
        last_authenticated_at: row.try_get(4).map_err(backend)?,
    })
}
