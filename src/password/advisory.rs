//! Where a password policy departs from NIST SP 800-63B-4 and OWASP ASVS 5.0.
//!
//! The spec's settings stay accepted as they are: a store may need composition rules or expiry
//! for its own auditors. Advisories are warnings an admin UI can show next to the settings.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use crate::password::PasswordPolicy;

/// Whether every member who signs in with a password also has a second factor.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum MfaCoverage {
    /// Every member has a verified second factor (2FA required and no non-compliant member).
    AllMembers,
    /// Some member signs in with the password alone.
    NotAllMembers,
}

/// One departure from current guidance.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Advisory {
    /// The stable code.
    pub code: AdvisoryCode,
    /// The policy field concerned.
    pub field: &'static str,
    /// The guidance departed from, with its section.
    pub reference: &'static str,
    /// The value the guidance suggests; `null` means "remove the field".
    pub suggested: Value,
}

impl fmt::Display for Advisory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.code {
            AdvisoryCode::CompositionRules => {
                "composition rules push members towards predictable patterns such as `Password1!`"
            }
            AdvisoryCode::PeriodicExpiry => {
                "forced periodic changes lead to predictable successors; change passwords on \
                 evidence of compromise instead"
            }
            AdvisoryCode::MinLengthSingleFactor => {
                "a password that is the only factor should be at least 15 characters"
            }
            AdvisoryCode::MinLengthMultiFactor => {
                "a password should be at least 8 characters even with a second factor"
            }
            AdvisoryCode::NoStrengthRule => {
                "candidates should be screened against commonly used and context-derived \
                 passwords; set `min_strength`"
            }
        };
        write!(
            f,
            "{}: {why} (suggested {} = {}; {})",
            self.code.as_str(),
            self.field,
            self.suggested,
            self.reference
        )
    }
}

/// The stable code of an [`Advisory`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdvisoryCode {
    /// `require_uppercase`, `require_number` or `require_special` is on.
    CompositionRules,
    /// `max_age_days` is set.
    PeriodicExpiry,
    /// `min_length` is under 15 while some member has no second factor.
    MinLengthSingleFactor,
    /// `min_length` is under 8.
    MinLengthMultiFactor,
    /// No `min_strength`, so nothing screens out common or context-derived passwords.
    NoStrengthRule,
}

impl AdvisoryCode {
    /// The code as text: `composition_rules`, `periodic_expiry`, `min_length_single_factor`,
    /// `min_length_multi_factor` or `no_strength_rule`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CompositionRules => "composition_rules",
            Self::PeriodicExpiry => "periodic_expiry",
            Self::MinLengthSingleFactor => "min_length_single_factor",
            Self::MinLengthMultiFactor => "min_length_multi_factor",
            Self::NoStrengthRule => "no_strength_rule",
        }
    }
}

/// Lists where `policy` departs from NIST SP 800-63B-4 §3.1.1.2 and OWASP ASVS 5.0 V6.2.
///
/// One advisory per composition field that is on, one for `max_age_days`, one for
/// `min_length` (15 when `mfa` is [`MfaCoverage::NotAllMembers`], else 8), one when
/// `min_strength` is absent or 0. The spec's example policy gets five.
///
/// # Examples
///
/// ```
/// use whale_security::password::{AdvisoryCode, MfaCoverage, PasswordPolicy, advisories};
///
/// let spec: PasswordPolicy = serde_json::from_str(
///     r#"{"min_length": 12, "require_uppercase": true, "require_number": true,
///         "require_special": true, "max_age_days": 90, "prevent_reuse": 5}"#,
/// )?;
/// let codes: Vec<_> = advisories(&spec, MfaCoverage::NotAllMembers).iter().map(|a| a.code).collect();
/// assert_eq!(codes, [
///     AdvisoryCode::MinLengthSingleFactor,
///     AdvisoryCode::CompositionRules,
///     AdvisoryCode::CompositionRules,
///     AdvisoryCode::CompositionRules,
///     AdvisoryCode::PeriodicExpiry,
///     AdvisoryCode::NoStrengthRule,
/// ]);
///
/// let modern: PasswordPolicy = serde_json::from_str(
///     r#"{"min_length": 15, "require_uppercase": false, "require_number": false,
///         "require_special": false, "min_strength": 3}"#,
/// )?;
/// assert!(advisories(&modern, MfaCoverage::NotAllMembers).is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn advisories(policy: &PasswordPolicy, mfa: MfaCoverage) -> Vec<Advisory> {
    let mut out = Vec::new();
    let min_length = policy.min_length.get();
    match mfa {
        MfaCoverage::NotAllMembers if min_length < 15 => out.push(Advisory {
            code: AdvisoryCode::MinLengthSingleFactor,
            field: "min_length",
            reference: "NIST SP 800-63B-4 §3.1.1.2 (15 when single-factor); OWASP ASVS 5.0 V6.2.1",
            suggested: json!(15),
        }),
        _ if min_length < 8 => out.push(Advisory {
            code: AdvisoryCode::MinLengthMultiFactor,
            field: "min_length",
            reference: "NIST SP 800-63B-4 §3.1.1.2 (8 with MFA); OWASP ASVS 5.0 V6.2.1",
            suggested: json!(8),
        }),
        _ => {}
    }
    for (on, field) in [
        (policy.require_uppercase, "require_uppercase"),
        (policy.require_number, "require_number"),
        (policy.require_special, "require_special"),
    ] {
        if on {
            out.push(Advisory {
                code: AdvisoryCode::CompositionRules,
                field,
                reference: "NIST SP 800-63B-4 §3.1.1.2 (no composition rules); OWASP ASVS 5.0 V6.2.5",
                suggested: json!(false),
            });
        }
    }
    if policy.max_age_days.is_some() {
        out.push(Advisory {
            code: AdvisoryCode::PeriodicExpiry,
            field: "max_age_days",
            reference: "NIST SP 800-63B-4 §3.1.1.2 (no periodic change); OWASP ASVS 5.0 V6.2.10",
            suggested: Value::Null,
        });
    }
    if policy.min_strength.is_none_or(|s| s.get() == 0) {
        out.push(Advisory {
            code: AdvisoryCode::NoStrengthRule,
            field: "min_strength",
            reference: "NIST SP 800-63B-4 §3.1.1.2 (blocklist); OWASP ASVS 5.0 V6.2.4, V6.2.11",
            suggested: json!(3),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::{MinLength, MinStrength};

    fn modern() -> PasswordPolicy {
        PasswordPolicy {
            min_length: MinLength::new(15).unwrap(),
            require_uppercase: false,
            require_number: false,
            require_special: false,
            max_age_days: None,
            prevent_reuse: None,
            min_strength: Some(MinStrength::new(3).unwrap()),
        }
    }

    #[test]
    fn min_length_12_is_fine_with_mfa_for_all_but_not_without() {
        let mut p = modern();
        p.min_length = MinLength::new(12).unwrap();
        assert!(advisories(&p, MfaCoverage::AllMembers).is_empty());
        let a = advisories(&p, MfaCoverage::NotAllMembers);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].code, AdvisoryCode::MinLengthSingleFactor);
        assert_eq!(a[0].suggested, json!(15));
    }

    #[test]
    fn min_length_under_8_is_flagged_even_with_mfa() {
        let mut p = modern();
        p.min_length = MinLength::new(6).unwrap();
        let a = advisories(&p, MfaCoverage::AllMembers);
        assert_eq!(a[0].code, AdvisoryCode::MinLengthMultiFactor);
        assert_eq!(a[0].suggested, json!(8));
    }

    #[test]
    fn a_zero_strength_rule_counts_as_none() {
        let mut p = modern();
        p.min_strength = Some(MinStrength::new(0).unwrap());
        let a = advisories(&p, MfaCoverage::AllMembers);
        assert_eq!(a[0].code, AdvisoryCode::NoStrengthRule);
        assert!(a[0].to_string().starts_with("no_strength_rule: "));
    }

    #[test]
    fn advisories_serialize_with_code_reference_and_suggestion() {
        let mut p = modern();
        p.max_age_days = Some(crate::password::MaxAgeDays::new(90).unwrap());
        let json = serde_json::to_value(advisories(&p, MfaCoverage::AllMembers)).unwrap();
        assert_eq!(json[0]["code"], "periodic_expiry");
        assert_eq!(json[0]["suggested"], Value::Null);
        assert!(json[0]["reference"].as_str().unwrap().contains("800-63B-4"));
    }
}
