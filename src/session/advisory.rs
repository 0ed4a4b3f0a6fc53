//! Where a session policy departs from NIST SP 800-63B-4, as coded advisories.

use std::fmt;

use super::{SessionPolicy, TimeoutMinutes};

/// The advisories for `policy` judged at assurance level `level`, in a fixed order (lifetime,
/// idle timeout, re-authentication).
///
/// | code | fires when | reference | suggested |
/// | --- | --- | --- | --- |
/// | `session.lifetime_too_long` | `timeout_minutes` above 30 days (AAL1, SHOULD), 24 h (AAL2, SHOULD) or 12 h (AAL3, SHALL) | SP 800-63B-4 §2.1.3, §2.2.3, §2.3.3 | that maximum |
/// | `session.no_idle_timeout` | no `idle_timeout_minutes` at AAL2 or AAL3 | §2.2.3, §2.3.3 (SHOULD) | 60 / 15 minutes |
/// | `session.idle_timeout_too_long` | `idle_timeout_minutes` above 1 h (AAL2) or 15 min (AAL3) | §2.2.3, §2.3.3 (SHOULD) | 60 / 15 minutes |
/// | `session.reauth_not_required` | `require_re_auth_for_sensitive` off, at any level | OWASP ASVS 5.0 V7.5 | on |
///
/// Advisories never block a change: the caller shows them (the CLI prints them) and decides.
/// SP 800-63B-4 lets a re-authentication reset the overall timeout; this crate's lifetime
/// counts from sign-in only, which is never weaker.
///
/// # Examples
///
/// ```
/// use whale_security::session::{Aal, AdvisoryCode, advisories};
/// use whale_security::SecuritySettings;
///
/// // The spec's example: 8-hour sessions, no idle timeout.
/// let settings = SecuritySettings::from_json(&std::fs::read_to_string("data/spec-settings.json")?)?;
/// let found = advisories(settings.session_policy(), Aal::Aal2);
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].code, AdvisoryCode::NoIdleTimeout);
/// assert_eq!(found[0].code.as_str(), "session.no_idle_timeout");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn advisories(policy: &SessionPolicy, level: Aal) -> Vec<Advisory> {
    let mut out = Vec::new();
    let (max_lifetime, lifetime_strength) = match level {
        Aal::Aal1 => (AAL1_LIFETIME, Requirement::Should),
        Aal::Aal2 => (AAL2_LIFETIME, Requirement::Should),
        Aal::Aal3 => (AAL3_LIFETIME, Requirement::Shall),
    };
    if policy.timeout_minutes > max_lifetime {
        out.push(Advisory {
            code: AdvisoryCode::LifetimeTooLong,
            level,
            requirement: lifetime_strength,
            reference: level.reauth_section(),
            field: "session_policy.timeout_minutes",
            current: Setting::Minutes(policy.timeout_minutes.get()),
            suggested: Setting::Minutes(max_lifetime.get()),
        });
    }
    let max_idle = match level {
        Aal::Aal1 => None,
        Aal::Aal2 => Some(AAL2_IDLE),
        Aal::Aal3 => Some(AAL3_IDLE),
    };
    if let Some(max_idle) = max_idle {
        let code = match policy.idle_timeout_minutes {
            None => Some(AdvisoryCode::NoIdleTimeout),
            Some(idle) if idle > max_idle => Some(AdvisoryCode::IdleTimeoutTooLong),
            Some(_) => None,
        };
        if let Some(code) = code {
            out.push(Advisory {
                code,
                level,
                requirement: Requirement::Should,
                reference: level.reauth_section(),
                field: "session_policy.idle_timeout_minutes",
                current: policy
                    .idle_timeout_minutes
                    .map_or(Setting::Unset, |m| Setting::Minutes(m.get())),
                suggested: Setting::Minutes(max_idle.get()),
            });
        }
    }
    if !policy.require_re_auth_for_sensitive {
        out.push(Advisory {
            code: AdvisoryCode::ReauthNotRequired,
            level,
            requirement: Requirement::Should,
            reference: "OWASP ASVS 5.0 V7.5",
            field: "session_policy.require_re_auth_for_sensitive",
            current: Setting::Enabled(false),
            suggested: Setting::Enabled(true),
        });
    }
    out
}

/// An authenticator assurance level of NIST SP 800-63B-4.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Aal {
    /// AAL1: single-factor authentication.
    Aal1,
    /// AAL2: two factors; the level a store requiring 2FA aims at.
    Aal2,
    /// AAL3: phishing-resistant hardware-backed authentication.
    Aal3,
}

impl Aal {
    /// `aal1`, `aal2` or `aal3`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
            Self::Aal3 => "aal3",
        }
    }

    fn reauth_section(self) -> &'static str {
        match self {
            Self::Aal1 => "NIST SP 800-63B-4 §2.1.3",
            Self::Aal2 => "NIST SP 800-63B-4 §2.2.3",
            Self::Aal3 => "NIST SP 800-63B-4 §2.3.3",
        }
    }
}

impl std::str::FromStr for Aal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "aal1" | "1" => Ok(Self::Aal1),
            "aal2" | "2" => Ok(Self::Aal2),
            "aal3" | "3" => Ok(Self::Aal3),
            _ => Err(format!(
                "`{}` is not aal1, aal2 or aal3",
                crate::quote::shorten(text)
            )),
        }
    }
}

/// One departure of a session policy from the guidance.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Advisory {
    /// The stable code.
    pub code: AdvisoryCode,
    /// The level the policy was judged at.
    pub level: Aal,
    /// How strongly the reference asks for it.
    pub requirement: Requirement,
    /// The document and section, such as `NIST SP 800-63B-4 §2.2.3`.
    pub reference: &'static str,
    /// The settings field to change, such as `session_policy.idle_timeout_minutes`.
    pub field: &'static str,
    /// Its current value.
    pub current: Setting,
    /// The value the reference suggests (a maximum, for the time limits).
    pub suggested: Setting,
}

impl fmt::Display for Advisory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: `{}` is {}; {} says it {} be ",
            self.code.as_str(),
            self.field,
            self.current,
            self.reference,
            self.requirement.as_str(),
        )?;
        match self.suggested {
            Setting::Minutes(m) => write!(f, "at most {m} minutes")?,
            other => write!(f, "{other}")?,
        }
        write!(f, " at {}", self.level.as_str().to_ascii_uppercase())
    }
}

/// The stable code of an advisory. The texts from [`AdvisoryCode::as_str`] never change.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum AdvisoryCode {
    /// `session.lifetime_too_long`: the absolute lifetime exceeds the level's maximum.
    LifetimeTooLong,
    /// `session.no_idle_timeout`: no inactivity timeout at a level that wants one.
    NoIdleTimeout,
    /// `session.idle_timeout_too_long`: the inactivity timeout exceeds the level's maximum.
    IdleTimeoutTooLong,
    /// `session.reauth_not_required`: sensitive actions need no recent authentication.
    ReauthNotRequired,
}

impl AdvisoryCode {
    /// The code's text, such as `session.no_idle_timeout`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LifetimeTooLong => "session.lifetime_too_long",
            Self::NoIdleTimeout => "session.no_idle_timeout",
            Self::IdleTimeoutTooLong => "session.idle_timeout_too_long",
            Self::ReauthNotRequired => "session.reauth_not_required",
        }
    }
}

/// The strength of a requirement (RFC 2119 terms as NIST uses them).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Requirement {
    /// A recommendation.
    Should,
    /// A requirement.
    Shall,
}

impl Requirement {
    /// `SHOULD` or `SHALL`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Should => "SHOULD",
            Self::Shall => "SHALL",
        }
    }
}

/// A setting's value as an advisory reports it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Setting {
    /// A number of minutes.
    Minutes(u32),
    /// An optional limit that is not set.
    Unset,
    /// A switch.
    Enabled(bool),
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Minutes(m) => write!(f, "{m} minutes"),
            Self::Unset => f.write_str("unset"),
            Self::Enabled(on) => f.write_str(if *on { "on" } else { "off" }),
        }
    }
}

// The constants build the newtype directly (its field is private to `crate::session`); the
// test below checks each against the type's range.

/// SP 800-63B-4 §2.1.3: overall timeout SHOULD be no more than 30 days at AAL1.
pub(super) const AAL1_LIFETIME: TimeoutMinutes = TimeoutMinutes(30 * 24 * 60);
/// SP 800-63B-4 §2.2.3: overall timeout SHOULD be no more than 24 hours at AAL2.
pub(super) const AAL2_LIFETIME: TimeoutMinutes = TimeoutMinutes(24 * 60);
/// SP 800-63B-4 §2.2.3: inactivity timeout SHOULD be no more than 1 hour at AAL2.
pub(super) const AAL2_IDLE: TimeoutMinutes = TimeoutMinutes(60);
/// SP 800-63B-4 §2.3.3: overall timeout SHALL be no more than 12 hours at AAL3.
pub(super) const AAL3_LIFETIME: TimeoutMinutes = TimeoutMinutes(12 * 60);
/// SP 800-63B-4 §2.3.3: inactivity timeout SHOULD be no more than 15 minutes at AAL3.
pub(super) const AAL3_IDLE: TimeoutMinutes = TimeoutMinutes(15);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{OnSessionLimit, ReauthWindowMinutes};

    #[test]
    fn the_nist_constants_are_valid_timeouts() {
        for c in [
            AAL1_LIFETIME,
            AAL2_LIFETIME,
            AAL2_IDLE,
            AAL3_LIFETIME,
            AAL3_IDLE,
        ] {
            assert_eq!(TimeoutMinutes::new(c.get().into()), Ok(c));
        }
    }

    #[test]
    fn each_preset_is_clean_at_its_own_level_and_the_weaker_ones_are_not_at_aal3() {
        for level in [Aal::Aal1, Aal::Aal2, Aal::Aal3] {
            assert_eq!(advisories(&SessionPolicy::preset(level), level), vec![]);
        }
        let codes: Vec<AdvisoryCode> = advisories(&SessionPolicy::preset(Aal::Aal1), Aal::Aal3)
            .iter()
            .map(|a| a.code)
            .collect();
        assert_eq!(
            codes,
            [AdvisoryCode::LifetimeTooLong, AdvisoryCode::NoIdleTimeout]
        );
    }

    #[test]
    fn limits_exactly_at_the_maximum_are_clean_and_one_minute_over_is_not() {
        let mut p = SessionPolicy::preset(Aal::Aal3);
        p.timeout_minutes = TimeoutMinutes::new(721).unwrap();
        p.idle_timeout_minutes = Some(TimeoutMinutes::new(16).unwrap());
        p.require_re_auth_for_sensitive = false;
        p.reauth_window_minutes = Some(ReauthWindowMinutes::DEFAULT);
        p.on_session_limit = Some(OnSessionLimit::EndOldest);
        let found = advisories(&p, Aal::Aal3);
        let codes: Vec<&str> = found.iter().map(|a| a.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "session.lifetime_too_long",
                "session.idle_timeout_too_long",
                "session.reauth_not_required"
            ]
        );
        assert_eq!(found[0].requirement, Requirement::Shall);
        assert_eq!(
            found[0].to_string(),
            "session.lifetime_too_long: `session_policy.timeout_minutes` is 721 minutes; \
             NIST SP 800-63B-4 §2.3.3 says it SHALL be at most 720 minutes at AAL3"
        );
    }
}
