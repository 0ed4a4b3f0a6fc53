//! The login gate, and the guard that keeps an admin from locking themselves out.

use chrono::{DateTime, Utc};

use super::member::Gap;
use super::report::DeadlineRule;
use super::{FactorStanding, Member, Method, TwoFactorPolicy};
use crate::id::UserId;
use crate::set::NonEmptySet;
use crate::settings::TwoFactorUpdate;

/// What a member must do about a second factor when they log in.
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum TwoFactorRequirement {
    /// 2FA is not required and the member has no verified factor: the password suffices.
    NotRequired,
    /// The member must pass one of their verified factors of these methods.
    ///
    /// This includes a member who opted in to 2FA while the store does not require it: their
    /// own protection is never silently dropped. Then `methods` is every verified method they
    /// have, allowed or not.
    Verify {
        /// The methods the member may verify with.
        methods: NonEmptySet<Method>,
    },
    /// The member may log in, but must be prompted to set up an allowed factor before
    /// `deadline` (`now < deadline`).
    SetUp {
        /// The first instant at which the member is blocked.
        deadline: DateTime<Utc>,
        /// Why the member does not comply.
        gap: Gap,
        /// The member's own verified factors of disallowed methods, if any: they still guard
        /// this login until an allowed factor replaces them.
        verify_first: Option<NonEmptySet<Method>>,
    },
    /// Past the deadline without an allowed verified factor (`now >= deadline`): no access to
    /// the store. The service may offer only the 2FA setup flow, after the password.
    Blocked {
        /// The instant from which the member has been blocked.
        deadline: DateTime<Utc>,
        /// Why the member does not comply.
        gap: Gap,
    },
}

/// What `member` must do about 2FA when logging in at `now` under `policy`.
///
/// The deadline is [`member_deadline`](super::member_deadline), derived on every call.
///
/// # Examples
///
/// ```
/// use whale_security::two_factor::{
///     Member, Method, TwoFactorPolicy, TwoFactorRequirement, two_factor_requirement,
/// };
/// use whale_security::time;
///
/// let policy: TwoFactorPolicy = serde_json::from_str(r#"{"required": true,
///     "methods": ["totp"], "enforcement_date": "2026-03-13T00:00:00Z"}"#)?;
/// let member: Member = serde_json::from_str(r#"{"user_id": "user_c3",
///     "email": "sam@example.com", "joined_at": "2026-01-01T00:00:00Z",
///     "factors": [{"method": "sms", "verified": true,
///                  "enrolled_at": "2026-02-15T09:00:00Z"}]}"#)?;
///
/// // SMS-only while the store allows TOTP alone: set up TOTP, passing the SMS code meanwhile.
/// let before = two_factor_requirement(&policy, &member, time::parse("2026-03-12T23:59:59Z")?);
/// assert!(matches!(before, TwoFactorRequirement::SetUp { verify_first: Some(_), .. }));
///
/// // At the deadline itself: blocked.
/// let at = two_factor_requirement(&policy, &member, time::parse("2026-03-13T00:00:00Z")?);
/// assert!(matches!(at, TwoFactorRequirement::Blocked { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn two_factor_requirement(
    policy: &TwoFactorPolicy,
    member: &Member,
    now: DateTime<Utc>,
) -> TwoFactorRequirement {
    let gap = match member.usable_methods(policy) {
        Ok(methods) => return TwoFactorRequirement::Verify { methods },
        Err(gap) => gap,
    };
    let verified = member.verified_methods();
    if !policy.required {
        return match verified {
            Some(methods) => TwoFactorRequirement::Verify { methods },
            None => TwoFactorRequirement::NotRequired,
        };
    }
    let deadline = DeadlineRule::of(policy).deadline(member.joined_at);
    if now < deadline {
        TwoFactorRequirement::SetUp {
            deadline,
            gap,
            verify_first: verified,
        }
    } else {
        TwoFactorRequirement::Blocked { deadline, gap }
    }
}

/// Whether an admin may make a 2FA policy change.
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum PolicyChangeDecision {
    /// The change may be applied.
    Allow,
    /// The change is refused.
    Refuse(PolicyChangeRefusal),
}

/// Why a 2FA policy change is refused.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum PolicyChangeRefusal {
    /// The change would require 2FA (turning `required` on, or changing the methods while it is
    /// on) while the acting member has no verified factor of a method the changed policy
    /// allows: they would be enforcing a rule they do not meet, and risk locking themselves
    /// out.
    ActorNotCompliant {
        /// The acting member.
        actor: UserId,
        /// Why they do not comply with the changed policy.
        gap: Gap,
        /// The methods the changed policy allows.
        methods: NonEmptySet<Method>,
    },
}

/// Checks a 2FA policy update against the acting member's own factors; the service layer
/// calls it before [`apply`](crate::settings::apply).
///
/// Refuses when the update leaves 2FA required and either turns it on or changes the allowed
/// methods, while `actor` has no verified factor of a method the resulting policy allows. Any
/// other update (turning 2FA off, changing only the grace period, a no-op) is allowed.
///
/// # Examples
///
/// ```
/// use whale_security::settings::TwoFactorUpdate;
/// use whale_security::two_factor::{
///     Member, PolicyChangeDecision, TwoFactorPolicy, check_policy_change,
/// };
///
/// let current: TwoFactorPolicy =
///     serde_json::from_str(r#"{"required": false, "methods": ["totp", "sms"]}"#)?;
/// let admin: Member = serde_json::from_str(r#"{"user_id": "user_d4e5f6a7",
///     "email": "owner@example.com", "joined_at": "2025-01-01T00:00:00Z"}"#)?;
/// let update: TwoFactorUpdate = serde_json::from_str(r#"{"required": true}"#)?;
///
/// assert!(matches!(
///     check_policy_change(&current, &update, &admin),
///     PolicyChangeDecision::Refuse(_),
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_policy_change(
    current: &TwoFactorPolicy,
    update: &TwoFactorUpdate,
    actor: &Member,
) -> PolicyChangeDecision {
    let required = update.required.unwrap_or(current.required);
    let methods = update.methods.as_ref().unwrap_or(&current.methods);
    let turning_on = required && !current.required;
    let methods_changed = *methods != current.methods;
    if !required || !(turning_on || methods_changed) {
        return PolicyChangeDecision::Allow;
    }
    match actor.standing(methods) {
        FactorStanding::Compliant => PolicyChangeDecision::Allow,
        FactorStanding::Lacking(gap) => {
            PolicyChangeDecision::Refuse(PolicyChangeRefusal::ActorNotCompliant {
                actor: actor.user_id.clone(),
                gap,
                methods: methods.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse;
    use crate::two_factor::Factor;

    fn member(factors: &[(Method, bool)]) -> Member {
        Member {
            user_id: UserId::new("user_admin").unwrap(),
            email: "a@example.com".into(),
            joined_at: parse("2026-01-01T00:00:00Z").unwrap(),
            factors: factors
                .iter()
                .map(|&(method, verified)| Factor {
                    method,
                    verified,
                    enrolled_at: parse("2026-01-02T00:00:00Z").unwrap(),
                })
                .collect(),
        }
    }

    fn policy(required: bool, methods: &[Method]) -> TwoFactorPolicy {
        TwoFactorPolicy {
            required,
            methods: NonEmptySet::new(methods.iter().copied()).unwrap(),
            grace_period_hours: None,
            enforcement_date: Some(parse("2026-03-13T00:00:00Z").unwrap()),
        }
    }

    #[test]
    fn an_opted_in_member_must_verify_even_when_the_store_does_not_require_2fa() {
        let req = two_factor_requirement(
            &policy(false, &[Method::Totp]),
            &member(&[(Method::Sms, true)]),
            parse("2026-03-20T00:00:00Z").unwrap(),
        );
        assert_eq!(
            req,
            TwoFactorRequirement::Verify {
                methods: NonEmptySet::single(Method::Sms)
            }
        );
    }

    #[test]
    fn only_allowed_verified_methods_are_offered_for_verification() {
        let req = two_factor_requirement(
            &policy(true, &[Method::Totp]),
            &member(&[(Method::Sms, true), (Method::Totp, true)]),
            parse("2026-03-20T00:00:00Z").unwrap(),
        );
        assert_eq!(
            req,
            TwoFactorRequirement::Verify {
                methods: NonEmptySet::single(Method::Totp)
            }
        );
    }

    #[test]
    fn a_member_without_factors_needs_nothing_when_2fa_is_off() {
        let req = two_factor_requirement(
            &policy(false, &[Method::Totp]),
            &member(&[(Method::Totp, false)]),
            parse("2026-03-20T00:00:00Z").unwrap(),
        );
        assert_eq!(req, TwoFactorRequirement::NotRequired);
    }

    #[test]
    fn turning_2fa_on_is_refused_for_an_admin_with_only_an_unverified_factor() {
        let update = TwoFactorUpdate {
            required: Some(true),
            ..TwoFactorUpdate::default()
        };
        let decision = check_policy_change(
            &policy(false, &[Method::Totp]),
            &update,
            &member(&[(Method::Totp, false)]),
        );
        assert!(matches!(
            decision,
            PolicyChangeDecision::Refuse(PolicyChangeRefusal::ActorNotCompliant {
                gap: Gap::Unverified,
                ..
            })
        ));
    }

    #[test]
    fn dropping_the_admins_method_while_required_is_refused() {
        let update = TwoFactorUpdate {
            methods: Some(NonEmptySet::single(Method::Totp)),
            ..TwoFactorUpdate::default()
        };
        let decision = check_policy_change(
            &policy(true, &[Method::Totp, Method::Sms]),
            &update,
            &member(&[(Method::Sms, true)]),
        );
        assert!(matches!(decision, PolicyChangeDecision::Refuse(_)));
    }

    #[test]
    fn a_compliant_admin_may_turn_2fa_on_and_anyone_may_turn_it_off() {
        let on = TwoFactorUpdate {
            required: Some(true),
            ..TwoFactorUpdate::default()
        };
        let off = TwoFactorUpdate {
            required: Some(false),
            ..TwoFactorUpdate::default()
        };
        let p = policy(false, &[Method::Totp]);
        assert_eq!(
            check_policy_change(&p, &on, &member(&[(Method::Totp, true)])),
            PolicyChangeDecision::Allow
        );
        assert_eq!(
            check_policy_change(&policy(true, &[Method::Totp]), &off, &member(&[])),
            PolicyChangeDecision::Allow
        );
    }
}
