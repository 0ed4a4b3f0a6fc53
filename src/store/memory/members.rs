//! Members and TOTP factors in memory.

use super::MemoryStore;
use crate::audit::AuditRecord;
use crate::id::{StoreId, UserId};
use crate::store::{MemberStore, StateSwap, StoreError, StoredTotp, TotpStore};
use crate::two_factor::Member;
use crate::two_factor::totp::{TotpParams, TotpSecret, TotpState};

impl MemberStore for MemoryStore {
    fn members(&self, store_id: &StoreId) -> Result<Vec<Member>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .members
            .get(store_id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    fn member(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<Member>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .members
            .get(store_id)
            .and_then(|m| m.get(user_id))
            .cloned())
    }

    fn put_members(
        &self,
        store_id: &StoreId,
        members: &[Member],
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let mut inner = self.write()?;
        let sequence = inner.next_sequence(store_id)?;
        let stored = inner.members.entry(store_id.clone()).or_default();
        for member in members {
            stored.insert(member.user_id.clone(), member.clone());
        }
        inner.append(store_id, audit, sequence);
        Ok(sequence)
    }

    fn remove_member(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let mut inner = self.write()?;
        let exists = inner
            .members
            .get(store_id)
            .is_some_and(|m| m.contains_key(user_id));
        if !exists {
            return Err(StoreError::MemberNotFound {
                store_id: store_id.clone(),
                user_id: user_id.clone(),
            });
        }
        let sequence = inner.next_sequence(store_id)?;
        if let Some(m) = inner.members.get_mut(store_id) {
            m.remove(user_id);
        }
        if let Some(t) = inner.totp.get_mut(store_id) {
            t.remove(user_id);
        }
        if let Some(p) = inner.passwords.get_mut(store_id) {
            p.remove(user_id);
        }
        if let Some(s) = inner.sessions.get_mut(store_id) {
            s.retain(|_, session| &session.user != user_id);
        }
        inner.append(store_id, audit, sequence);
        Ok(sequence)
    }
}

impl TotpStore for MemoryStore {
    fn totp(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<StoredTotp>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .totp
            .get(store_id)
            .and_then(|t| t.get(user_id))
            .cloned())
    }

    fn put_totp(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        secret: &TotpSecret,
        params: TotpParams,
    ) -> Result<(), StoreError> {
        let factor = StoredTotp {
            secret: secret.clone(),
            params,
            state: TotpState::default(),
        };
        self.write()?
            .totp
            .entry(store_id.clone())
            .or_default()
            .insert(user_id.clone(), factor);
        Ok(())
    }

    fn swap_totp_state(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        expected: &TotpState,
        new: &TotpState,
    ) -> Result<StateSwap, StoreError> {
        let mut inner = self.write()?;
        let Some(factor) = inner
            .totp
            .get_mut(store_id)
            .and_then(|t| t.get_mut(user_id))
        else {
            return Err(StoreError::TotpNotEnrolled {
                store_id: store_id.clone(),
                user_id: user_id.clone(),
            });
        };
        if factor.state != *expected {
            return Ok(StateSwap::Stale {
                current: factor.state,
            });
        }
        factor.state = *new;
        Ok(StateSwap::Swapped)
    }
}
