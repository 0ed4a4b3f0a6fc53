//! The compliance report: who complies with the 2FA policy, who is still in their grace period,
//! and who is blocked.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::member::{Allowed, FactorStanding, Gap, Member, standing};
use super::{GraceHours, TwoFactorPolicy};
use crate::settings::view::{MemberCounts, NonCompliantMember};

/// Where one member stands against the 2FA policy at an instant.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MemberStatus {
    /// A verified factor of an allowed method.
    Compliant,
    /// Not compliant, but 2FA is not required, so nothing is enforced.
    NotEnforced {
        /// Why the member does not comply.
        gap: Gap,
    },
    /// Not compliant, still inside the grace period: `now < deadline`.
    Pending {
        /// The first instant at which the member is blocked.
        #[serde(with = "crate::time::rfc3339")]
        deadline: DateTime<Utc>,
        /// Why the member does not comply.
        gap: Gap,
    },
    /// Not compliant and past the deadline: `now >= deadline`.
    Blocked {
        /// The instant from which the member has been blocked.
        #[serde(with = "crate::time::rfc3339")]
        deadline: DateTime<Utc>,
        /// Why the member does not comply.
        gap: Gap,
    },
}

impl MemberStatus {
    /// Whether the member complies.
    #[must_use]
    pub fn is_compliant(self) -> bool {
        matches!(self, Self::Compliant)
    }

    /// Why the member does not comply, or `None` when they do.
    #[must_use]
    pub fn gap(self) -> Option<Gap> {
        match self {
            Self::Compliant => None,
            Self::NotEnforced { gap } | Self::Pending { gap, .. } | Self::Blocked { gap, .. } => {
                Some(gap)
            }
        }
    }
}

/// The result of [`compliance_report`], borrowing the members it was made from.
///
/// Each member has a [`MemberStatus`], in the order the members were given; the non-compliant
/// members are kept as positions, so building the report copies no id or email. The spec's
/// counts and list ([`MemberCounts`], which the settings views consume) are built on demand by
/// [`ComplianceReport::counts`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ComplianceReport<'a> {
    members: &'a [Member],
    statuses: Vec<MemberStatus>,
    non_compliant: Vec<usize>,
    tally: StatusTally,
}

/// How many members are in each status and each gap.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize)]
pub struct StatusTally {
    /// Members with a verified factor of an allowed method.
    pub compliant: u64,
    /// Non-compliant members while 2FA is not required.
    pub not_enforced: u64,
    /// Non-compliant members inside their grace period.
    pub pending: u64,
    /// Non-compliant members past their deadline.
    pub blocked: u64,
    /// Non-compliant members with verified factors of disallowed methods only.
    pub weak_method: u64,
    /// Non-compliant members with unverified factors only.
    pub unverified: u64,
    /// Members with no factor at all.
    pub no_factor: u64,
}

impl<'a> ComplianceReport<'a> {
    /// The spec's counts: how many members comply, and the non-compliant ones listed with id
    /// and email, for [`SettingsView::new`](crate::settings::view::SettingsView::new) and
    /// [`UpdateResponse::new`](crate::settings::view::UpdateResponse::new). Allocates the list.
    #[must_use]
    pub fn counts(&self) -> MemberCounts {
        MemberCounts {
            compliant: self.tally.compliant,
            non_compliant: self
                .non_compliant_members()
                .map(|m| NonCompliantMember {
                    user_id: m.user_id.clone(),
                    email: m.email.clone(),
                })
                .collect(),
        }
    }

    /// How many members comply.
    #[must_use]
    pub fn compliant_members(&self) -> u64 {
        self.tally.compliant
    }

    /// How many members do not comply.
    #[must_use]
    pub fn non_compliant_count(&self) -> usize {
        self.non_compliant.len()
    }

    /// The non-compliant members, in the order given.
    pub fn non_compliant_members(&self) -> impl Iterator<Item = &'a Member> + '_ {
        let members = self.members;
        self.non_compliant
            .iter()
            .filter_map(move |&i| members.get(i))
    }

    /// Each member's status, in the order the members were given.
    pub fn statuses(&self) -> &[MemberStatus] {
        &self.statuses
    }

    /// Each member with their status, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&'a Member, MemberStatus)> + '_ {
        self.members.iter().zip(self.statuses.iter().copied())
    }

    /// How many members are in each status and gap.
    #[must_use]
    pub fn tally(&self) -> StatusTally {
        self.tally
    }
}

/// The compliance report of `members` against `policy` at `now`.
///
/// A member complies with a *verified* factor of an *allowed* method; every other member is
/// listed as non-compliant, including those still inside their grace period (as the spec's
/// example response does). Each non-compliant member's status is
/// [`NotEnforced`](MemberStatus::NotEnforced) while 2FA is not required, otherwise
/// [`Pending`](MemberStatus::Pending) while `now < deadline` and
/// [`Blocked`](MemberStatus::Blocked) from the deadline on, where the deadline is
/// [`member_deadline`]: derived on every call, never stored.
///
/// Linear in the members and their factors: one pass, two vectors (statuses and the
/// non-compliant positions), nothing copied per member. Members are not deduplicated: a user id
/// given twice is counted twice.
///
/// # Examples
///
/// ```
/// use whale_security::two_factor::{Member, MemberStatus, TwoFactorPolicy, compliance_report};
/// use whale_security::time;
///
/// let policy: TwoFactorPolicy = serde_json::from_str(
///     r#"{"required": true, "methods": ["totp"], "enforcement_date": "2026-03-13T00:00:00Z"}"#,
/// )?;
/// let members: Vec<Member> = serde_json::from_str(r#"[
///   {"user_id": "user_a1", "email": "alex@example.com", "joined_at": "2026-01-01T00:00:00Z",
///    "factors": [{"method": "totp", "verified": true, "enrolled_at": "2026-02-01T09:00:00Z"}]},
///   {"user_id": "user_e5", "email": "casey@example.com", "joined_at": "2026-01-01T00:00:00Z"}
/// ]"#)?;
///
/// // One second before the enforcement date: listed as non-compliant, but only pending.
/// let report = compliance_report(&policy, &members, time::parse("2026-03-12T23:59:59Z")?);
/// assert_eq!(report.counts().compliant, 1);
/// assert_eq!(report.counts().non_compliant[0].email, "casey@example.com");
/// assert!(matches!(report.statuses()[1], MemberStatus::Pending { .. }));
///
/// // At the enforcement date itself: blocked (deadlines are half-open).
/// let report = compliance_report(&policy, &members, time::parse("2026-03-13T00:00:00Z")?);
/// assert!(matches!(report.statuses()[1], MemberStatus::Blocked { .. }));
/// assert_eq!(report.tally().blocked, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compliance_report<'a>(
    policy: &TwoFactorPolicy,
    members: &'a [Member],
    now: DateTime<Utc>,
) -> ComplianceReport<'a> {
    let rule = DeadlineRule::of(policy);
    let allowed = Allowed::of(&policy.methods);
    let mut tally = StatusTally::default();
    let mut non_compliant = Vec::new();
    let mut statuses = Vec::with_capacity(members.len());
    for (i, member) in members.iter().enumerate() {
        let status = rule.status(standing(&member.factors, allowed), member.joined_at, now);
        match status.gap() {
            None => {}
            Some(Gap::WeakMethod) => tally.weak_method += 1,
            Some(Gap::Unverified) => tally.unverified += 1,
            Some(Gap::NoFactor) => tally.no_factor += 1,
        }
        match status {
            MemberStatus::Compliant => tally.compliant += 1,
            MemberStatus::NotEnforced { .. } => tally.not_enforced += 1,
            MemberStatus::Pending { .. } => tally.pending += 1,
            MemberStatus::Blocked { .. } => tally.blocked += 1,
        }
        if !status.is_compliant() {
            non_compliant.push(i);
        }
        statuses.push(status);
    }
    ComplianceReport {
        members,
        statuses,
        non_compliant,
        tally,
    }
}

/// One member's status against `policy` at `now`; see [`compliance_report`].
///
/// # Examples
///
/// ```
/// use whale_security::two_factor::{Gap, Member, MemberStatus, TwoFactorPolicy, member_status};
/// use whale_security::time;
///
/// let policy: TwoFactorPolicy = serde_json::from_str(
///     r#"{"required": false, "methods": ["totp", "sms"]}"#,
/// )?;
/// let member: Member = serde_json::from_str(
///     r#"{"user_id": "user_e5", "email": "casey@example.com",
///         "joined_at": "2026-01-01T00:00:00Z"}"#,
/// )?;
/// let now = time::parse("2026-03-12T00:00:00Z")?;
/// assert_eq!(
///     member_status(&policy, &member, now),
///     MemberStatus::NotEnforced { gap: Gap::NoFactor },
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn member_status(
    policy: &TwoFactorPolicy,
    member: &Member,
    now: DateTime<Utc>,
) -> MemberStatus {
    DeadlineRule::of(policy).status(
        standing(&member.factors, Allowed::of(&policy.methods)),
        member.joined_at,
        now,
    )
}

/// The first instant at which `member` is blocked if they do not comply, when `policy` requires
/// 2FA; `None` when it does not.
///
/// The rule: `deadline = max(enforcement_date, joined_at + grace_period_hours)`, with a missing
/// grace read as 0 and a missing enforcement date as "enforced since forever" (only the
/// member's own grace counts). So
///
/// - members on the team when 2FA was turned on have until the enforcement date;
/// - a member who joins later gets the full grace period from the day they join, never less;
/// - shortening the grace (which re-anchors the enforcement date, and shortens the grace of
///   late joiners) moves deadlines earlier on the next call: nothing is cached;
/// - the deadline depends on neither the member's factors nor when they changed, so a member
///   who removes or loses their factor after the deadline is blocked at once: no new grace.
///
/// When `joined_at + grace` is beyond the representable range, the grace is dropped (fail
/// closed) and `joined_at` counts alone.
///
/// # Examples
///
/// ```
/// use whale_security::two_factor::{Member, TwoFactorPolicy, member_deadline};
/// use whale_security::time;
///
/// let policy: TwoFactorPolicy = serde_json::from_str(r#"{"required": true, "methods": ["totp"],
///     "grace_period_hours": 72, "enforcement_date": "2026-03-13T00:00:00Z"}"#)?;
/// let late: Member = serde_json::from_str(
///     r#"{"user_id": "user_n1", "email": "new@example.com",
///         "joined_at": "2026-04-01T08:00:00Z"}"#,
/// )?;
/// assert_eq!(member_deadline(&policy, &late), Some(time::parse("2026-04-04T08:00:00Z")?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn member_deadline(policy: &TwoFactorPolicy, member: &Member) -> Option<DateTime<Utc>> {
    let rule = DeadlineRule::of(policy);
    rule.required.then(|| rule.deadline(member.joined_at))
}

/// The policy's deadline inputs, read once per report.
pub(super) struct DeadlineRule {
    required: bool,
    enforcement_date: Option<DateTime<Utc>>,
    grace: TimeDelta,
}

impl DeadlineRule {
    pub(super) fn of(policy: &TwoFactorPolicy) -> Self {
        let hours = policy.grace_period_hours.map_or(0, GraceHours::get);
        Self {
            required: policy.required,
            enforcement_date: policy.enforcement_date,
            // INVARIANT: GraceHours is at most 8760, far inside TimeDelta's range; the fallback
            // of no grace only fails closed.
            grace: TimeDelta::try_hours(i64::from(hours)).unwrap_or_default(),
        }
    }

    pub(super) fn deadline(&self, joined_at: DateTime<Utc>) -> DateTime<Utc> {
        let own = joined_at
            .checked_add_signed(self.grace)
            .unwrap_or(joined_at);
        match self.enforcement_date {
            Some(date) => date.max(own),
            None => own,
        }
    }

    fn status(
        &self,
        standing: FactorStanding,
        joined_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> MemberStatus {
        let FactorStanding::Lacking(gap) = standing else {
            return MemberStatus::Compliant;
        };
        if !self.required {
            return MemberStatus::NotEnforced { gap };
        }
        let deadline = self.deadline(joined_at);
        if now < deadline {
            MemberStatus::Pending { deadline, gap }
        } else {
            MemberStatus::Blocked { deadline, gap }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::NonEmptySet;
    use crate::time::parse;
    use crate::two_factor::{Factor, Method};

    fn policy(grace: Option<u32>, enforcement: Option<&str>) -> TwoFactorPolicy {
        TwoFactorPolicy {
            required: true,
            methods: NonEmptySet::single(Method::Totp),
            grace_period_hours: grace.map(|h| GraceHours::new(i64::from(h)).unwrap()),
            enforcement_date: enforcement.map(|t| parse(t).unwrap()),
        }
    }

    fn member(joined: &str, factors: Vec<Factor>) -> Member {
        Member {
            user_id: crate::id::UserId::new("user_t").unwrap(),
            email: "t@example.com".into(),
            joined_at: parse(joined).unwrap(),
            factors,
        }
    }

    #[test]
    fn a_member_who_joins_after_enforcement_gets_the_full_grace_from_joining() {
        let p = policy(Some(24), Some("2026-03-13T00:00:00Z"));
        let m = member("2026-03-20T12:00:00Z", vec![]);
        assert_eq!(
            member_deadline(&p, &m),
            Some(parse("2026-03-21T12:00:00Z").unwrap())
        );
    }

    #[test]
    fn shortening_the_grace_moves_a_late_joiners_deadline_earlier() {
        let m = member("2026-03-20T12:00:00Z", vec![]);
        let long = member_deadline(&policy(Some(72), Some("2026-03-13T00:00:00Z")), &m);
        let short = member_deadline(&policy(Some(1), Some("2026-03-13T00:00:00Z")), &m);
        assert!(short < long);
    }

    #[test]
    fn losing_the_factor_after_the_deadline_blocks_at_once() {
        let p = policy(Some(72), Some("2026-03-13T00:00:00Z"));
        let now = parse("2026-06-01T00:00:00Z").unwrap();
        let mut m = member(
            "2026-01-01T00:00:00Z",
            vec![Factor {
                method: Method::Totp,
                verified: true,
                enrolled_at: parse("2026-01-02T00:00:00Z").unwrap(),
            }],
        );
        assert_eq!(member_status(&p, &m, now), MemberStatus::Compliant);
        m.factors.clear();
        assert!(matches!(
            member_status(&p, &m, now),
            MemberStatus::Blocked { .. }
        ));
    }

    #[test]
    fn a_missing_enforcement_date_enforces_from_the_members_own_grace() {
        let p = policy(None, None);
        let m = member("2026-01-01T00:00:00Z", vec![]);
        assert!(matches!(
            member_status(&p, &m, parse("2026-01-01T00:00:00Z").unwrap()),
            MemberStatus::Blocked { .. }
        ));
    }

    #[test]
    fn a_grace_past_the_end_of_time_is_dropped_not_a_panic() {
        let p = policy(Some(8760), None);
        let m = Member {
            joined_at: DateTime::<Utc>::MAX_UTC,
            ..member("2026-01-01T00:00:00Z", vec![])
        };
        assert_eq!(member_deadline(&p, &m), Some(DateTime::<Utc>::MAX_UTC));
    }
}
