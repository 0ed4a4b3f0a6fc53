//! Two-factor enforcement: the policy, who complies with it, the login gate, and the factors
//! themselves (TOTP, SMS codes, recovery codes).
//!
//! - [`compliance_report`] and [`member_status`]: who complies, who is pending inside their
//!   grace period and who is blocked, with deadlines derived on every call
//!   ([`member_deadline`]).
//! - [`two_factor_requirement`]: what a member must do at login.
//! - [`check_policy_change`]: refuses to turn enforcement on for a store whose acting admin
//!   would be locked out.
//! - [`totp`], [`sms`], [`recovery`]: the factors, as pure state-in/state-out functions; the
//!   store layer persists the returned state with compare-and-set.

mod gate;
mod member;
pub mod recovery;
mod report;
pub mod sms;
pub mod totp;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bounded::bounded_int;
use crate::set::NonEmptySet;

pub use self::gate::{
    PolicyChangeDecision, PolicyChangeRefusal, TwoFactorRequirement, check_policy_change,
    two_factor_requirement,
};
pub use self::member::{Factor, FactorStanding, Gap, Member};
pub use self::report::{
    ComplianceReport, MemberStatus, StatusTally, compliance_report, member_deadline, member_status,
};

/// The store's 2FA policy.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorPolicy {
    /// Whether every team member must use a second factor.
    pub required: bool,
    /// The factor methods that count.
    pub methods: NonEmptySet<Method>,
    /// The grace period last given to members to comply, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_hours: Option<GraceHours>,
    /// From this instant on, non-compliant members are blocked.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub enforcement_date: Option<DateTime<Utc>>,
}

/// A second-factor method.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Time-based one-time passwords from an authenticator app (RFC 6238).
    Totp,
    /// One-time codes sent by SMS.
    Sms,
}

impl Method {
    /// The method's name as the JSON writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Sms => "sms",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

bounded_int!(
    /// Hours members get to set up 2FA once it is required: at most one year.
    GraceHours: u32 = 0..=8760
);
