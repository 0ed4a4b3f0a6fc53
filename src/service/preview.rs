//! The parts of a preview that read members, sessions and keys.

use chrono::{DateTime, Utc};

use crate::SecuritySettings;
use crate::api_keys::{ScheduledRotation, StoredKey, plan_scheduled_rotation};
use crate::id::{KeyId, UserId};
use crate::session::{EndReason, Session, SessionId, sessions_ended_by};
use crate::two_factor::{Member, MemberStatus, member_status};

/// A member whose 2FA status an update would change for the worse.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MemberImpact {
    /// The member.
    pub user_id: UserId,
    /// Their email, to notify them.
    pub email: String,
    /// Their status under the current policy.
    pub before: MemberStatus,
    /// Their status under the updated policy.
    pub after: MemberStatus,
}

/// A live session an update would end.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SessionEnding {
    /// The session.
    pub session_id: SessionId,
    /// Its member.
    pub user_id: UserId,
    /// Why the new policy ends it.
    pub reason: EndReason,
}

/// Keys an update would make due for rotation.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct KeysDue {
    /// When the rotation falls due under the new policy (at or before the preview's `now`).
    pub due_at: DateTime<Utc>,
    /// The active keys a scheduled run would rotate.
    pub keys: Vec<KeyId>,
}

pub(super) fn members_affected(
    before: &SecuritySettings,
    after: &SecuritySettings,
    members: &[Member],
    now: DateTime<Utc>,
) -> Vec<MemberImpact> {
    members
        .iter()
        .filter_map(|m| {
            let old = member_status(before.two_factor(), m, now);
            let new = member_status(after.two_factor(), m, now);
            let worse = match (old, new) {
                (_, MemberStatus::Compliant) => false,
                (MemberStatus::Blocked { .. }, _) => false,
                (MemberStatus::Pending { .. }, MemberStatus::Blocked { .. }) => true,
                (MemberStatus::Pending { .. }, _) => false,
                (MemberStatus::NotEnforced { .. }, MemberStatus::NotEnforced { .. }) => false,
                (MemberStatus::Compliant | MemberStatus::NotEnforced { .. }, _) => true,
            };
            worse.then(|| MemberImpact {
                user_id: m.user_id.clone(),
                email: m.email.clone(),
                before: old,
                after: new,
            })
        })
        .collect()
}

pub(super) fn sessions_ending(
    before: &SecuritySettings,
    after: &SecuritySettings,
    sessions: &[Session],
    now: DateTime<Utc>,
) -> Vec<SessionEnding> {
    sessions_ended_by(
        before.session_policy(),
        after.session_policy(),
        sessions,
        now,
    )
    .into_iter()
    .map(|e| SessionEnding {
        session_id: e.session.id.clone(),
        user_id: e.session.user.clone(),
        reason: e.reason,
    })
    .collect()
}

pub(super) fn keys_becoming_due(
    before: &SecuritySettings,
    after: &SecuritySettings,
    keys: &[StoredKey],
    now: DateTime<Utc>,
) -> Option<KeysDue> {
    let store_id = after.store_id();
    let due = |s: &SecuritySettings| {
        plan_scheduled_rotation(s.api_key_rotation(), store_id, keys, now).ok()
    };
    if matches!(due(before), Some(ScheduledRotation::Rotate { .. })) {
        return None;
    }
    match due(after)? {
        ScheduledRotation::Rotate { plan, due_at, .. } => Some(KeysDue {
            due_at,
            keys: plan.rotate().to_vec(),
        }),
        _ => None,
    }
}
