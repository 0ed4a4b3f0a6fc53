//! Members (as `jsonb` documents validated on read) and TOTP factors with an atomic
//! compare-and-set of their state, in PostgreSQL.

use chrono::{DateTime, SubsecRound, Utc};
use postgres::types::{ToSql, Type};

use super::{PostgresStore, append, backend, begin, write_record};
use crate::audit::AuditRecord;
use crate::id::{StoreId, UserId};
use crate::store::rows::{corrupt_totp, read_member};
use crate::store::{MemberStore, StateSwap, StoreError, StoredTotp, TotpStore};
use crate::two_factor::Member;
use crate::two_factor::totp::{TotpParams, TotpSecret, TotpState};

impl MemberStore for PostgresStore {
    fn members(&self, store_id: &StoreId) -> Result<Vec<Member>, StoreError> {
        let rows = self.run(|client| {
            client
                .query_typed(
                    "SELECT user_id, document::text FROM members WHERE store_id = $1
                     ORDER BY user_id",
                    &[(&store_id.as_str(), Type::TEXT)],
                )
                .map_err(backend)
        })?;
        rows.iter()
            .map(|row| {
                let user: &str = row.try_get(0).map_err(backend)?;
                let doc: &str = row.try_get(1).map_err(backend)?;
                read_member(store_id, user, doc)
            })
            .collect()
    }

    fn member(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<Member>, StoreError> {
        let row = self.run(|client| {
            client
                .query_typed_opt(
                    "SELECT document::text FROM members WHERE store_id = $1 AND user_id = $2",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&user_id.as_str(), Type::TEXT),
                    ],
                )
                .map_err(backend)
        })?;
        row.map(|row| {
            let doc: &str = row.try_get(0).map_err(backend)?;
            read_member(store_id, user_id.as_str(), doc)
        })
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
        let record = write_record(audit)?;
        self.run(|client| {
            let mut tx = begin(client)?;
            // One row at a time, in order, so a later duplicate of a user id wins.
            for (user, doc) in &docs {
                tx.execute_typed(
                    "INSERT INTO members (store_id, user_id, document) VALUES ($1, $2, $3::jsonb)
                     ON CONFLICT (store_id, user_id) DO UPDATE SET document = excluded.document",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (user, Type::TEXT),
                        (doc, Type::TEXT),
                    ],
                )
                .map_err(backend)?;
            }
            let sequence = append(&mut tx, store_id, audit.at, &record)?;
            tx.commit().map_err(backend)?;
            Ok(sequence)
        })
    }

    fn remove_member(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let record = write_record(audit)?;
        self.run(|client| {
            let mut tx = begin(client)?;
            let keys: [(&(dyn ToSql + Sync), Type); 2] = [
                (&store_id.as_str(), Type::TEXT),
                (&user_id.as_str(), Type::TEXT),
            ];
            let removed = tx
                .execute_typed(
                    "DELETE FROM members WHERE store_id = $1 AND user_id = $2",
                    &keys,
                )
                .map_err(backend)?;
            if removed == 0 {
                return Err(StoreError::MemberNotFound {
                    store_id: store_id.clone(),
                    user_id: user_id.clone(),
                });
            }
            for sql in [
                "DELETE FROM totp_factors WHERE store_id = $1 AND user_id = $2",
                "DELETE FROM sessions WHERE store_id = $1 AND user_id = $2",
                "DELETE FROM password_history WHERE store_id = $1 AND user_id = $2",
            ] {
                tx.execute_typed(sql, &keys).map_err(backend)?;
            }
            let sequence = append(&mut tx, store_id, audit.at, &record)?;
            tx.commit().map_err(backend)?;
            Ok(sequence)
        })
    }
}

impl TotpStore for PostgresStore {
    fn totp(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<StoredTotp>, StoreError> {
        let row = self.run(|client| {
            client
                .query_typed_opt(
                    "SELECT secret, params::text, last_step, failures, locked_until
                     FROM totp_factors WHERE store_id = $1 AND user_id = $2",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&user_id.as_str(), Type::TEXT),
                    ],
                )
                .map_err(backend)
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let corrupt = |detail: String| corrupt_totp(store_id, user_id, detail);
        let secret: &[u8] = row.try_get(0).map_err(backend)?;
        let secret = TotpSecret::from_bytes(secret).map_err(|e| corrupt(e.to_string()))?;
        let params: &str = row.try_get(1).map_err(backend)?;
        let params: TotpParams =
            serde_json::from_str(params).map_err(|e| corrupt(e.to_string()))?;
        let state = RawState {
            last_step: row.try_get(2).map_err(backend)?,
            failures: row.try_get(3).map_err(backend)?,
            locked_until: row.try_get(4).map_err(backend)?,
        }
        .into_state(store_id, user_id)?;
        Ok(Some(StoredTotp {
            secret,
            params,
            state,
        }))
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
        self.run(|client| {
            client
                .execute_typed(
                    "INSERT INTO totp_factors (store_id, user_id, secret, params)
                     VALUES ($1, $2, $3, $4::jsonb)
                     ON CONFLICT (store_id, user_id) DO UPDATE SET secret = excluded.secret,
                         params = excluded.params, last_step = NULL, failures = 0,
                         locked_until = NULL",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&user_id.as_str(), Type::TEXT),
                        (&secret.as_bytes(), Type::BYTEA),
                        (&params, Type::TEXT),
                    ],
                )
                .map_err(backend)?;
            Ok(())
        })
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
        self.run(|client| {
            // The compare and the set are one statement: a concurrent swap of the same row
            // waits for the row lock, then re-checks the WHERE against the committed state and
            // matches nothing. `IS NOT DISTINCT FROM` compares NULLs as equal.
            let params: [(&(dyn ToSql + Sync), Type); 8] = [
                (&store_id.as_str(), Type::TEXT),
                (&user_id.as_str(), Type::TEXT),
                (&next.last_step, Type::INT8),
                (&next.failures, Type::INT8),
                (&next.locked_until, Type::TIMESTAMPTZ),
                (&old.last_step, Type::INT8),
                (&old.failures, Type::INT8),
                (&old.locked_until, Type::TIMESTAMPTZ),
            ];
            let swapped = client
                .execute_typed(
                    "UPDATE totp_factors SET last_step = $3, failures = $4, locked_until = $5
                     WHERE store_id = $1 AND user_id = $2
                       AND last_step IS NOT DISTINCT FROM $6 AND failures = $7
                       AND locked_until IS NOT DISTINCT FROM $8",
                    &params,
                )
                .map_err(backend)?;
            if swapped == 1 {
                return Ok(StateSwap::Swapped);
            }
            let current = client
                .query_typed_opt(
                    "SELECT last_step, failures, locked_until FROM totp_factors
                     WHERE store_id = $1 AND user_id = $2",
                    &[
                        (&store_id.as_str(), Type::TEXT),
                        (&user_id.as_str(), Type::TEXT),
                    ],
                )
                .map_err(backend)?;
            let Some(row) = current else {
                return Err(StoreError::TotpNotEnrolled {
                    store_id: store_id.clone(),
                    user_id: user_id.clone(),
                });
            };
            let current = RawState {
                last_step: row.try_get(0).map_err(backend)?,
                failures: row.try_get(1).map_err(backend)?,
                locked_until: row.try_get(2).map_err(backend)?,
            };
            Ok(StateSwap::Stale {
                current: current.into_state(store_id, user_id)?,
            })
        })
    }
}

/// A TOTP state in the columns' types.
struct RawState {
    last_step: Option<i64>,
    failures: i64,
    locked_until: Option<DateTime<Utc>>,
}

impl RawState {
    fn of(state: &TotpState) -> Result<Self, StoreError> {
        let last_step = state
            .last_step
            .map(i64::try_from)
            .transpose()
            .map_err(|_| StoreError::Backend {
                detail: "a totp step beyond PostgreSQL's bigint".into(),
            })?;
        Ok(Self {
            last_step,
            failures: i64::from(state.failures),
            // Instants are kept to the millisecond, as in every other store.
            locked_until: state.locked_until.map(|t| t.trunc_subsecs(3)),
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
            locked_until: self.locked_until,
        })
    }
}
