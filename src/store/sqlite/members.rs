//! Members (as JSON documents validated on read) and TOTP factors with an atomic
//! compare-and-set of their state.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, append, read_sequence};
use crate::audit::AuditRecord;
use crate::id::{StoreId, UserId};
use crate::store::rows::{corrupt_totp, read_member};
use crate::store::{MemberStore, StateSwap, StoreError, StoredTotp, TotpStore};
use crate::two_factor::Member;
use crate::two_factor::totp::{TotpParams, TotpSecret, TotpState};

impl MemberStore for SqliteStore {
    fn members(&self, store_id: &StoreId) -> Result<Vec<Member>, StoreError> {
        let conn = self.lock()?;
        let err = self.err();
        let mut stmt = conn
            .prepare_cached(
                "SELECT user_id, document FROM members WHERE store_id = ?1 ORDER BY user_id",
            )
            .map_err(&err)?;
        let rows: Vec<(String, String)> = stmt
            .query_map([store_id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        drop(stmt);
        drop(conn);
        rows.iter()
            .map(|(user, doc)| read_member(store_id, user, doc))
            .collect()
    }

    fn member(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<Member>, StoreError> {
        let conn = self.lock()?;
        let doc: Option<String> = conn
            .prepare_cached("SELECT document FROM members WHERE store_id = ?1 AND user_id = ?2")
            .and_then(|mut stmt| {
                stmt.query_row([store_id.as_str(), user_id.as_str()], |row| row.get(0))
                    .optional()
            })
            .map_err(self.err())?;
        drop(conn);
        doc.map(|doc| read_member(store_id, user_id.as_str(), &doc))
            .transpose()
    }

    fn put_members(
        &self,
        store_id: &StoreId,
        members: &[Member],
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let docs = members
            .iter()
            .map(|m| {
                serde_json::to_string(m)
                    .map(|doc| (m.user_id.as_str(), doc))
                    .map_err(|e| StoreError::Backend {
                        detail: format!("cannot serialize member: {e}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        for (user, doc) in &docs {
            tx.execute(
                "INSERT INTO members (store_id, user_id, document) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store_id, user_id) DO UPDATE SET document = excluded.document",
                params![store_id.as_str(), user, doc],
            )
            .map_err(&err)?;
        }
        let sequence = append(&tx, store_id, audit).map_err(&err)?;
        tx.commit().map_err(&err)?;
        read_sequence(store_id, sequence)
    }

    fn remove_member(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let keys = [store_id.as_str(), user_id.as_str()];
        let removed = tx
            .execute(
                "DELETE FROM members WHERE store_id = ?1 AND user_id = ?2",
                keys,
            )
            .map_err(&err)?;
        if removed == 0 {
            return Err(StoreError::MemberNotFound {
                store_id: store_id.clone(),
                user_id: user_id.clone(),
            });
        }
        for sql in [
            "DELETE FROM totp_factors WHERE store_id = ?1 AND user_id = ?2",
            "DELETE FROM sessions WHERE store_id = ?1 AND user_id = ?2",
            "DELETE FROM password_history WHERE store_id = ?1 AND user_id = ?2",
        ] {
            tx.execute(sql, keys).map_err(&err)?;
        }
        let sequence = append(&tx, store_id, audit).map_err(&err)?;
        tx.commit().map_err(&err)?;
        read_sequence(store_id, sequence)
    }
}

impl TotpStore for SqliteStore {
    fn totp(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<StoredTotp>, StoreError> {
        let conn = self.lock()?;
        let row = conn
            .prepare_cached(
                "SELECT secret, params, last_step, failures, locked_until_ms FROM totp_factors
                 WHERE store_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row([store_id.as_str(), user_id.as_str()], |row| {
                    Ok(RawTotp {
                        secret: row.get(0)?,
                        params: row.get(1)?,
                        state: RawState {
                            last_step: row.get(2)?,
                            failures: row.get(3)?,
                            locked_until_ms: row.get(4)?,
                        },
                    })
                })
                .optional()
            })
            .map_err(self.err())?;
        drop(conn);
        row.map(|raw| raw.into_factor(store_id, user_id))
            .transpose()
    }

    fn put_totp(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        secret: &TotpSecret,
        params: TotpParams,
    ) -> Result<(), StoreError> {
        let params = serde_json::to_string(&params).map_err(|e| StoreError::Backend {
            detail: format!("cannot serialize totp parameters: {e}"),
        })?;
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO totp_factors (store_id, user_id, secret, params) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (store_id, user_id) DO UPDATE SET secret = excluded.secret,
                 params = excluded.params, last_step = NULL, failures = 0, locked_until_ms = NULL",
            params![
                store_id.as_str(),
                user_id.as_str(),
                secret.as_bytes(),
                params
            ],
        )
        .map_err(self.err())?;
        Ok(())
    }

    fn swap_totp_state(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        expected: &TotpState,
        new: &TotpState,
    ) -> Result<StateSwap, StoreError> {
        let old = RawState::of(expected)?;
        let next = RawState::of(new)?;
        let mut conn = self.lock()?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        // The compare and the set are one statement: `IS` compares NULLs as equal.
        let swapped = tx
            .execute(
                "UPDATE totp_factors SET last_step = ?3, failures = ?4, locked_until_ms = ?5
                 WHERE store_id = ?1 AND user_id = ?2
                   AND last_step IS ?6 AND failures = ?7 AND locked_until_ms IS ?8",
                params![
                    store_id.as_str(),
                    user_id.as_str(),
                    next.last_step,
                    next.failures,
                    next.locked_until_ms,
                    old.last_step,
                    old.failures,
                    old.locked_until_ms,
                ],
            )
            .map_err(&err)?;
        if swapped == 1 {
            tx.commit().map_err(&err)?;
            return Ok(StateSwap::Swapped);
        }
        let current = tx
            .query_row(
                "SELECT last_step, failures, locked_until_ms FROM totp_factors
                 WHERE store_id = ?1 AND user_id = ?2",
                [store_id.as_str(), user_id.as_str()],
                |row| {
                    Ok(RawState {
                        last_step: row.get(0)?,
                        failures: row.get(1)?,
                        locked_until_ms: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(&err)?;
        drop(tx);
        match current {
            None => Err(StoreError::TotpNotEnrolled {
                store_id: store_id.clone(),
                user_id: user_id.clone(),
            }),
            Some(raw) => Ok(StateSwap::Stale {
                current: raw.into_state(store_id, user_id)?,
            }),
        }
    }
}

struct RawTotp {
    secret: Vec<u8>,
    params: String,
    state: RawState,
}

struct RawState {
    last_step: Option<i64>,
    failures: i64,
    locked_until_ms: Option<i64>,
}

impl RawState {
    fn of(state: &TotpState) -> Result<Self, StoreError> {
        let last_step = state
            .last_step
            .map(i64::try_from)
            .transpose()
            .map_err(|_| StoreError::Backend {
                detail: "a totp step beyond SQLite's integers".into(),
            })?;
        Ok(Self {
            last_step,
            failures: i64::from(state.failures),
            locked_until_ms: state.locked_until.map(|t| t.timestamp_millis()),
        })
    }

    fn into_state(self, store_id: &StoreId, user_id: &UserId) -> Result<TotpState, StoreError> {
        let corrupt = |detail: &str| corrupt_totp(store_id, user_id, detail.into());
        Ok(TotpState {
            last_step: self
                .last_step
                .map(u64::try_from)
                .transpose()
                .map_err(|_| corrupt("negative last step"))?,
            failures: u32::try_from(self.failures).map_err(|_| corrupt("failures out of range"))?,
            locked_until: self
                .locked_until_ms
                .map(|ms| {
                    DateTime::<Utc>::from_timestamp_millis(ms)
                        .ok_or_else(|| corrupt("lockout instant out of range"))
                })
                .transpose()?,
        })
    }
}

impl RawTotp {
    fn into_factor(self, store_id: &StoreId, user_id: &UserId) -> Result<StoredTotp, StoreError> {
        let secret = TotpSecret::from_bytes(&self.secret)
            .map_err(|e| corrupt_totp(store_id, user_id, e.to_string()))?;
        let params: TotpParams = serde_json::from_str(&self.params)
            .map_err(|e| corrupt_totp(store_id, user_id, e.to_string()))?;
        Ok(StoredTotp {
            secret,
            params,
            state: self.state.into_state(store_id, user_id)?,
        })
    }
}
