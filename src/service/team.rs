//! Members, the compliance report, the 2FA enforcer guard, and TOTP verification through the
//! service.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value};

use super::{ChangeRequest, SecurityService, ServiceError};
use crate::SecuritySettings;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::id::{StoreId, UserId};
use crate::settings::TwoFactorUpdate;
use crate::settings::view::MemberCounts;
use crate::store::{StateSwap, Store, StoreError};
use crate::two_factor::totp::{
    ThrottlePolicy, TotpCheck, TotpKey, TotpParams, TotpSecret, verify_totp,
};
use crate::two_factor::{
    ComplianceReport, Member, PolicyChangeDecision, TwoFactorPolicy, check_policy_change,
    compliance_report,
};

impl<S: Store> SecurityService<S> {
    /// The members of `store_id` with their factors, in user id order.
    ///
    /// # Errors
    ///
    /// Storage failures and corrupt records.
    pub fn members(&self, store_id: &StoreId) -> Result<Vec<Member>, ServiceError> {
        Ok(self.store.members(store_id)?)
    }

    /// Adds or replaces `members` of `store_id` in one transaction, audited as
    /// [`AuditAction::UpsertMembers`] with each changed field (`members.<user_id>.factors`, ...).
    /// Members that change nothing are not written into the record; when nothing changes,
    /// nothing is written and the result is `None`.
    ///
    /// # Errors
    ///
    /// [`ServiceError::DuplicateMember`] when a user id appears twice; [`StoreError::NotFound`]
    /// when the store has no settings; storage failures.
    pub fn put_members(
        &self,
        store_id: &StoreId,
        members: &[Member],
        request: &ChangeRequest,
    ) -> Result<Option<u64>, ServiceError> {
        self.settings(store_id)?;
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = members.iter().find(|m| !seen.insert(&m.user_id)) {
            return Err(ServiceError::DuplicateMember {
                user_id: twice.user_id.clone(),
            });
        }
        let current = self.store.members(store_id)?;
        let mut old = Map::new();
        let mut new = Map::new();
        for member in members {
            if let Some(before) = current.iter().find(|c| c.user_id == member.user_id) {
                old.insert(member.user_id.to_string(), member_value(before));
            }
            new.insert(member.user_id.to_string(), member_value(member));
        }
        let changes = audit::diff(
            &Value::Object(Map::from_iter([("members".into(), Value::Object(old))])),
            &Value::Object(Map::from_iter([("members".into(), Value::Object(new))])),
        );
        if changes.is_empty() {
            return Ok(None);
        }
        let record = AuditRecord {
            actor: request.actor.clone(),
            at: request.now,
            action: AuditAction::UpsertMembers,
            changes,
        };
        Ok(Some(self.store.put_members(store_id, members, &record)?))
    }

    /// Removes member `user_id` of `store_id` with their TOTP factor, sessions and password
    /// history; audited as [`AuditAction::RemoveMember`].
    ///
    /// # Errors
    ///
    /// [`StoreError::MemberNotFound`]; storage failures.
    pub fn remove_member(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        request: &ChangeRequest,
    ) -> Result<u64, ServiceError> {
        let before =
            self.store
                .member(store_id, user_id)?
                .ok_or_else(|| StoreError::MemberNotFound {
                    store_id: store_id.clone(),
                    user_id: user_id.clone(),
                })?;
        let record = AuditRecord {
            actor: request.actor.clone(),
            at: request.now,
            action: AuditAction::RemoveMember,
            changes: vec![audit::FieldChange {
                path: format!("members.{user_id}"),
                old: member_value(&before),
                new: Value::Null,
            }],
        };
        Ok(self.store.remove_member(store_id, user_id, &record)?)
    }

    /// Who complies with `store_id`'s 2FA policy at `now`, who is pending and who is blocked.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when the store has no settings; storage failures.
    pub fn compliance_report(
        &self,
        store_id: &StoreId,
        now: DateTime<Utc>,
    ) -> Result<Compliance, ServiceError> {
        let settings = self.settings(store_id)?;
        Ok(Compliance {
            policy: settings.value.two_factor().clone(),
            members: self.store.members(store_id)?,
            now,
        })
    }

    /// Stores (or replaces) the TOTP factor of `user_id`, with a fresh verification state.
    /// Enrol with [`crate::two_factor::totp::enroll_totp`] and call this once the member has
    /// confirmed a first code.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn set_totp(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        secret: &TotpSecret,
        params: TotpParams,
    ) -> Result<(), ServiceError> {
        Ok(self.store.put_totp(store_id, user_id, secret, params)?)
    }

    /// Checks a TOTP `code` of `user_id` at `now`, with replay protection and throttling
    /// ([`SecurityService::with_totp_throttle`]).
    ///
    /// The new state is written with a compare-and-set against the state read: of two
    /// requests racing with the same valid code exactly one is accepted, the other is checked
    /// again on the new state and refused as a replay. Fail closed: every `Err` is a refusal.
    ///
    /// # Errors
    ///
    /// [`StoreError::TotpNotEnrolled`]; [`ServiceError::Totp`] when the stored parameters cannot
    /// build a key; [`ServiceError::Contended`] when the state kept moving for
    /// [`Self::TOTP_ATTEMPTS`] rounds; storage failures.
    pub fn verify_totp(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<TotpCheck, ServiceError> {
        let now = now.trunc_subsecs(3);
        let not_enrolled = || StoreError::TotpNotEnrolled {
            store_id: store_id.clone(),
            user_id: user_id.clone(),
        };
        let factor = self
            .store
            .totp(store_id, user_id)?
            .ok_or_else(not_enrolled)?;
        let key = TotpKey::new(&factor.secret, factor.params)?;
        let mut state = factor.state;
        for _ in 0..Self::TOTP_ATTEMPTS {
            let attempt = verify_totp(&key, code, &state, &self.throttle, now);
            if attempt.state == state {
                return Ok(attempt.check);
            }
            match self
                .store
                .swap_totp_state(store_id, user_id, &state, &attempt.state)?
            {
                StateSwap::Swapped => return Ok(attempt.check),
                StateSwap::Stale { current } => state = current,
            }
        }
        Err(ServiceError::Contended {
            what: "totp state",
            attempts: Self::TOTP_ATTEMPTS,
        })
    }

    /// Checks TOTP codes with `throttle` instead of [`ThrottlePolicy::default`].
    #[must_use]
    pub fn with_totp_throttle(mut self, throttle: ThrottlePolicy) -> Self {
        self.throttle = throttle;
        self
    }

    /// The 2FA counts of the GET view and update responses: the compliance report of the
    /// store's members under `settings`' policy. The counts (compliant, non-compliant) do not
    /// depend on the instant.
    pub(super) fn member_counts(
        &self,
        settings: &SecuritySettings,
    ) -> Result<MemberCounts, ServiceError> {
        let members = self.store.members(settings.store_id())?;
        Ok(compliance_report(settings.two_factor(), &members, settings.updated_at()).counts())
    }

    /// The enforcer guard: refuses a 2FA change after which the acting member could not sign
    /// in (2FA turned on, or its methods changed, while they have no verified factor of an
    /// allowed method), unless forced. An actor who is not a member of the store is not subject
    /// to its 2FA policy, so the guard lets them through.
    pub(super) fn two_factor_guard(
        &self,
        before: &SecuritySettings,
        after: &SecuritySettings,
        request: &ChangeRequest,
    ) -> Result<(), ServiceError> {
        if request.force || before.two_factor() == after.two_factor() {
            return Ok(());
        }
        let Some(actor) = self.store.member(before.store_id(), &request.actor)? else {
            return Ok(());
        };
        let new = after.two_factor();
        let update = TwoFactorUpdate {
            required: Some(new.required),
            methods: Some(new.methods.clone()),
            grace_period_hours: None,
        };
        match check_policy_change(before.two_factor(), &update, &actor) {
            PolicyChangeDecision::Allow => Ok(()),
            PolicyChangeDecision::Refuse(refusal) => Err(ServiceError::WouldBlockActor(refusal)),
        }
    }
}

/// A compliance report with the data it was computed from, from
/// [`SecurityService::compliance_report`].
#[derive(Clone, Debug)]
pub struct Compliance {
    policy: TwoFactorPolicy,
    members: Vec<Member>,
    now: DateTime<Utc>,
}

impl Compliance {
    /// The report: each member's status, the tally, the non-compliant members.
    pub fn report(&self) -> ComplianceReport<'_> {
        compliance_report(&self.policy, &self.members, self.now)
    }

    /// The spec's member counts.
    #[must_use]
    pub fn counts(&self) -> MemberCounts {
        self.report().counts()
    }

    /// The policy the report applies.
    #[must_use]
    pub fn policy(&self) -> &TwoFactorPolicy {
        &self.policy
    }

    /// The members, in user id order.
    #[must_use]
    pub fn members(&self) -> &[Member] {
        &self.members
    }
}

fn member_value(member: &Member) -> Value {
    serde_json::to_value(member).unwrap_or(Value::Null)
}
