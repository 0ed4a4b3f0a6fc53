//! Team members and their enrolled second factors, as the compliance report reads them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Method, TwoFactorPolicy};
use crate::id::UserId;
use crate::set::NonEmptySet;

/// A team member of a store, with the second factors they have enrolled.
///
/// Its JSON form (one element of the CLI's members file):
///
/// ```json
/// {
///   "user_id": "user_x1y2z3",
///   "email": "alex@example.com",
///   "joined_at": "2026-01-05T09:00:00.000Z",
///   "factors": [
///     { "method": "totp", "verified": true, "enrolled_at": "2026-01-06T10:00:00.000Z" }
///   ]
/// }
/// ```
///
/// `factors` may be absent (no factor). Unknown fields are errors.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The member's id.
    pub user_id: UserId,
    /// The member's email address, as the report lists it.
    pub email: String,
    /// When the member joined the store's team. A member who joins after the enforcement date
    /// gets the policy's grace period counted from this instant (see
    /// [`member_deadline`](super::member_deadline)).
    #[serde(with = "crate::time::rfc3339")]
    pub joined_at: DateTime<Utc>,
    /// The second factors the member has enrolled, verified or not.
    #[serde(default)]
    pub factors: Vec<Factor>,
}

/// One enrolled second factor. It holds no secret: the TOTP seed or phone number lives with the
/// factor's own store record.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    /// The factor's method.
    pub method: Method,
    /// Whether the member has proven possession (entered a correct code after enrolling). An
    /// unverified factor never counts: a half-finished enrolment is not 2FA.
    pub verified: bool,
    /// When the factor was enrolled. Informational: compliance reads the factor's present state.
    #[serde(with = "crate::time::rfc3339")]
    pub enrolled_at: DateTime<Utc>,
}

/// Why a member does not comply, from the most to the least advanced setup.
///
/// When several apply, the first in this order is reported: a verified factor of a disallowed
/// method ([`Gap::WeakMethod`]) outranks an unverified factor ([`Gap::Unverified`]), which
/// outranks nothing at all ([`Gap::NoFactor`]).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Gap {
    /// Verified factors, but only of methods the policy does not allow (SMS-only when the
    /// policy allows TOTP alone).
    WeakMethod,
    /// Factors enrolled but none verified, and none verified of another method either.
    Unverified,
    /// No factor at all.
    NoFactor,
}

impl Gap {
    /// The gap's name as the JSON writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WeakMethod => "weak_method",
            Self::Unverified => "unverified",
            Self::NoFactor => "no_factor",
        }
    }
}

/// How a member's factors measure against a policy's allowed methods.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FactorStanding {
    /// A verified factor of an allowed method.
    Compliant,
    /// No verified factor of an allowed method, and why.
    Lacking(Gap),
}

impl Member {
    /// How this member's factors measure against `methods`.
    ///
    /// Only a *verified* factor of an *allowed* method counts. Linear in the member's factors.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::set::NonEmptySet;
    /// use whale_security::two_factor::{FactorStanding, Gap, Member, Method};
    ///
    /// let member: Member = serde_json::from_str(r#"{
    ///     "user_id": "user_c3", "email": "sam@example.com",
    ///     "joined_at": "2026-01-05T09:00:00Z",
    ///     "factors": [{"method": "sms", "verified": true, "enrolled_at": "2026-02-15T09:00:00Z"}]
    /// }"#)?;
    /// // SMS-only is weak when the store allows TOTP alone, and fine when it allows SMS.
    /// assert_eq!(
    ///     member.standing(&NonEmptySet::single(Method::Totp)),
    ///     FactorStanding::Lacking(Gap::WeakMethod),
    /// );
    /// assert_eq!(
    ///     member.standing(&NonEmptySet::single(Method::Sms)),
    ///     FactorStanding::Compliant,
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn standing(&self, methods: &NonEmptySet<Method>) -> FactorStanding {
        standing(&self.factors, Allowed::of(methods))
    }

    /// The methods of this member's verified factors, or `None` when none is verified.
    #[must_use]
    pub fn verified_methods(&self) -> Option<NonEmptySet<Method>> {
        let mut methods: Option<NonEmptySet<Method>> = None;
        for factor in self.factors.iter().filter(|f| f.verified) {
            methods = Some(match methods {
                Some(set) => set.with(factor.method),
                None => NonEmptySet::single(factor.method),
            });
        }
        methods
    }

    /// The methods of this member's verified factors that `policy` allows, or why there are
    /// none.
    ///
    /// # Errors
    ///
    /// The member's [`Gap`] when no verified factor has an allowed method.
    pub fn usable_methods(&self, policy: &TwoFactorPolicy) -> Result<NonEmptySet<Method>, Gap> {
        let allowed = Allowed::of(&policy.methods);
        let mut methods: Option<NonEmptySet<Method>> = None;
        for factor in self
            .factors
            .iter()
            .filter(|f| f.verified && allowed.contains(f.method))
        {
            methods = Some(match methods {
                Some(set) => set.with(factor.method),
                None => NonEmptySet::single(factor.method),
            });
        }
        match methods {
            Some(methods) => Ok(methods),
            None => Err(gap_without_allowed(&self.factors)),
        }
    }
}

/// The allowed methods as flags, so the per-member loop does no search.
#[derive(Clone, Copy)]
pub(super) struct Allowed {
    totp: bool,
    sms: bool,
}

impl Allowed {
    pub(super) fn of(methods: &NonEmptySet<Method>) -> Self {
        Self {
            totp: methods.contains(Method::Totp),
            sms: methods.contains(Method::Sms),
        }
    }

    fn contains(self, method: Method) -> bool {
        match method {
            Method::Totp => self.totp,
            Method::Sms => self.sms,
        }
    }
}

pub(super) fn standing(factors: &[Factor], allowed: Allowed) -> FactorStanding {
    if factors
        .iter()
        .any(|f| f.verified && allowed.contains(f.method))
    {
        return FactorStanding::Compliant;
    }
    FactorStanding::Lacking(gap_without_allowed(factors))
}

/// The gap of factors none of which is a verified factor of an allowed method: any verified
/// factor is then of a disallowed method.
fn gap_without_allowed(factors: &[Factor]) -> Gap {
    if factors.iter().any(|f| f.verified) {
        Gap::WeakMethod
    } else if factors.is_empty() {
        Gap::NoFactor
    } else {
        Gap::Unverified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(method: Method, verified: bool) -> Factor {
        Factor {
            method,
            verified,
            enrolled_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_unverified_factor_of_an_allowed_method_does_not_count() {
        let allowed = Allowed::of(&NonEmptySet::single(Method::Totp));
        assert_eq!(
            standing(&[factor(Method::Totp, false)], allowed),
            FactorStanding::Lacking(Gap::Unverified)
        );
    }

    #[test]
    fn a_verified_disallowed_factor_outranks_an_unverified_allowed_one() {
        let allowed = Allowed::of(&NonEmptySet::single(Method::Totp));
        let factors = [factor(Method::Totp, false), factor(Method::Sms, true)];
        assert_eq!(
            standing(&factors, allowed),
            FactorStanding::Lacking(Gap::WeakMethod)
        );
    }

    #[test]
    fn any_verified_allowed_factor_makes_the_member_compliant() {
        let allowed = Allowed::of(&NonEmptySet::single(Method::Totp).with(Method::Sms));
        let factors = [factor(Method::Totp, false), factor(Method::Sms, true)];
        assert_eq!(standing(&factors, allowed), FactorStanding::Compliant);
        assert_eq!(
            standing(&[], allowed),
            FactorStanding::Lacking(Gap::NoFactor)
        );
    }

    #[test]
    fn unknown_member_fields_are_refused() {
        let text =
            r#"{"user_id":"user_a","email":"a@x","joined_at":"2026-01-01T00:00:00Z","admin":true}"#;
        assert!(serde_json::from_str::<Member>(text).is_err());
    }
}
