//! Team members with their factors, and the TOTP factor state with compare-and-set.

use std::fmt;
use std::sync::Arc;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::id::{StoreId, UserId};
use crate::two_factor::Member;
use crate::two_factor::totp::{TotpParams, TotpSecret, TotpState};

/// Keeps each store's team members and their enrolled factors, as the compliance report reads
/// them.
pub trait MemberStore: Send + Sync {
    /// The members of `store_id`, in user id order.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptRecord`] when a stored member is not valid; storage failures.
    fn members(&self, store_id: &StoreId) -> Result<Vec<Member>, StoreError>;

    /// The member `user_id` of `store_id`, or `None`.
    ///
    /// # Errors
    ///
    /// As [`MemberStore::members`].
    fn member(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<Member>, StoreError>;

    /// Adds or replaces `members` (by user id; a later duplicate wins) and appends `audit`, in
    /// one transaction; returns the audit entry's sequence number.
    ///
    /// # Errors
    ///
    /// Storage failures; nothing is written on any error.
    fn put_members(
        &self,
        store_id: &StoreId,
        members: &[Member],
        audit: &AuditRecord,
    ) -> Result<u64, StoreError>;

    /// Removes member `user_id` with their TOTP factor, sessions and password history, and
    /// appends `audit`, in one transaction; returns the audit entry's sequence number.
    ///
    /// # Errors
    ///
    /// [`StoreError::MemberNotFound`]; storage failures.
    fn remove_member(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError>;
}

/// Keeps each member's TOTP factor: the secret, its parameters, and the verification state
/// (last accepted step, failure count, lockout).
///
/// # Contract
///
/// [`TotpStore::swap_totp_state`] is an atomic compare-and-set of the whole state: of two
/// verifications that read the same state, one swaps and the other is told the state moved on
/// ([`StateSwap::Stale`]), so one code cannot be accepted twice and no failure is lost.
///
/// SHORTCOMING: the secret is stored as given, unencrypted. A platform that keeps the database
/// where its operators or backups can read it should wrap this trait to encrypt secrets with a
/// key from its KMS (envelope encryption); this crate does not ship that wrapper yet.
pub trait TotpStore: Send + Sync {
    /// The TOTP factor of `user_id` in `store_id`, or `None`.
    ///
    /// # Errors
    ///
    /// [`StoreError::CorruptRecord`] when the stored factor is not valid; storage failures.
    fn totp(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<StoredTotp>, StoreError>;

    /// Stores (or replaces) the TOTP factor of `user_id` with a fresh state.
    ///
    /// # Errors
    ///
    /// Storage failures.
    fn put_totp(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        secret: &TotpSecret,
        params: TotpParams,
    ) -> Result<(), StoreError>;

    /// Replaces the state of `user_id`'s factor with `new` if it still is `expected`.
    ///
    /// # Errors
    ///
    /// [`StoreError::TotpNotEnrolled`] when the member has no factor; storage failures.
    fn swap_totp_state(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        expected: &TotpState,
        new: &TotpState,
    ) -> Result<StateSwap, StoreError>;
}

/// A stored TOTP factor. Its `Debug` does not show the secret.
#[derive(Clone)]
pub struct StoredTotp {
    /// The shared secret.
    pub secret: TotpSecret,
    /// The code parameters.
    pub params: TotpParams,
    /// The verification state.
    pub state: TotpState,
}

impl fmt::Debug for StoredTotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTotp")
            .field("secret", &self.secret)
            .field("params", &self.params)
            .field("state", &self.state)
            .finish()
    }
}

/// The answer of a compare-and-set.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum StateSwap {
    /// The state was `expected` and is now the new one.
    Swapped,
    /// The state had moved on; nothing was written.
    Stale {
        /// The state the store holds.
        current: TotpState,
    },
}

impl<T: MemberStore + ?Sized> MemberStore for Arc<T> {
    fn members(&self, store_id: &StoreId) -> Result<Vec<Member>, StoreError> {
        (**self).members(store_id)
    }

    fn member(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<Member>, StoreError> {
        (**self).member(store_id, user_id)
    }

    fn put_members(
        &self,
        store_id: &StoreId,
        members: &[Member],
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        (**self).put_members(store_id, members, audit)
    }

    fn remove_member(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        (**self).remove_member(store_id, user_id, audit)
    }
}

impl<T: TotpStore + ?Sized> TotpStore for Arc<T> {
    fn totp(&self, store_id: &StoreId, user_id: &UserId) -> Result<Option<StoredTotp>, StoreError> {
        (**self).totp(store_id, user_id)
    }

    fn put_totp(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        secret: &TotpSecret,
        params: TotpParams,
    ) -> Result<(), StoreError> {
        (**self).put_totp(store_id, user_id, secret, params)
    }

    fn swap_totp_state(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        expected: &TotpState,
        new: &TotpState,
    ) -> Result<StateSwap, StoreError> {
        (**self).swap_totp_state(store_id, user_id, expected, new)
    }
}
