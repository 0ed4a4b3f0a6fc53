//! The lockout guard, and explaining a decision.
//!
//! An administrator who saves an allowlist that excludes their own address loses access on
//! their next request. [`guard_lockout`] refuses such a proposed list unless the caller says so
//! explicitly; [`explain`] says why an address is or is not allowed by a (proposed) list.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::{AllowlistEntry, IpAllowlist, IpDecision, NotEnforcedReason, Surface, check_ip};

/// Whether [`guard_lockout`] may let a list through that denies the caller.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum LockoutPolicy {
    /// Refuse a list that would deny the caller (the default).
    #[default]
    Refuse,
    /// Accept it anyway: the caller confirmed they will lose access from this address.
    Force,
}

/// How long, in minutes, [`guard_lockout`] wants the caller admitted after the change: an entry
/// that admits them but expires sooner locks them out as surely as no entry, just later.
pub const LOCKOUT_MARGIN_MINUTES: i64 = 10;

/// A proposed allowlist was refused because it would lock the caller out.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LockoutError {
    /// The caller's own address would be denied on the surface they are using.
    #[error(
        "the proposed allowlist would deny your own address `{ip}` on the {surface} within {LOCKOUT_MARGIN_MINUTES} minutes; add an entry for it or force the change"
    )]
    WouldLockOut {
        /// The caller's address (canonical).
        ip: IpAddr,
        /// The surface the caller is using.
        surface: Surface,
    },
}

/// Checks that `proposed` still admits the caller's address `ip` on `surface` at `now` and for
/// the next [`LOCKOUT_MARGIN_MINUTES`] (entries only ever stop matching, so admitted at the end
/// of the margin means admitted throughout).
///
/// # Errors
///
/// [`LockoutError::WouldLockOut`] when the list would deny the caller and `policy` is
/// [`LockoutPolicy::Refuse`].
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::*;
///
/// let proposed: IpAllowlist = serde_json::from_str(r#"{
///     "enabled": true, "applies_to": ["dashboard"],
///     "entries": [{"id": "ip_a1", "cidr": "203.0.113.0/24",
///                  "added_at": "2026-03-10T10:00:00.000Z"}]
/// }"#)?;
/// let now = whale_security::time::parse("2026-03-10T12:00:00Z")?;
/// let me = parse_ip("198.51.100.7")?;
///
/// let err = guard_lockout(&proposed, me, Surface::Dashboard, now, LockoutPolicy::Refuse)
///     .unwrap_err();
/// assert!(err.to_string().contains("`198.51.100.7`"));
/// // Forced, or on a surface the list does not guard, it passes.
/// assert!(guard_lockout(&proposed, me, Surface::Dashboard, now, LockoutPolicy::Force).is_ok());
/// assert!(guard_lockout(&proposed, me, Surface::Api, now, LockoutPolicy::Refuse).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn guard_lockout(
    proposed: &IpAllowlist,
    ip: IpAddr,
    surface: Surface,
    now: DateTime<Utc>,
    policy: LockoutPolicy,
) -> Result<(), LockoutError> {
    let end = crate::time::checked_add_minutes(now, LOCKOUT_MARGIN_MINUTES).unwrap_or(now);
    let denied = [now, end]
        .into_iter()
        .any(|t| check_ip(proposed, ip, surface, t) == IpDecision::Deny);
    if denied && policy == LockoutPolicy::Refuse {
        return Err(LockoutError::WouldLockOut {
            ip: ip.to_canonical(),
            surface,
        });
    }
    Ok(())
}

/// Why an address is or is not allowed by a list; see [`explain`]. Its `Display` is a short
/// human-readable account.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct Explanation<'a> {
    /// The address as given.
    pub ip: IpAddr,
    /// The address as matched (`::ffff:a.b.c.d` becomes `a.b.c.d`).
    pub canonical: IpAddr,
    /// The surface checked.
    pub surface: Surface,
    /// The instant checked.
    pub now: DateTime<Utc>,
    /// The decision, naming the most specific live entry when allowed.
    pub decision: IpDecision<'a>,
    /// Every live entry containing the address, in list order.
    pub matching: Vec<&'a AllowlistEntry>,
    /// Entries that contain the address but have expired at `now`.
    pub expired: Vec<&'a AllowlistEntry>,
}

/// Checks `ip` against a (proposed) list and records the reasoning: the canonical address,
/// the decision, every live entry that contains it and every expired one that would have.
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::*;
///
/// let list: IpAllowlist = serde_json::from_str(r#"{
///     "enabled": true, "applies_to": ["api"],
///     "entries": [{"id": "ip_old", "cidr": "203.0.113.0/24",
///                  "added_at": "2026-03-01T10:00:00.000Z",
///                  "expires_at": "2026-03-10T12:00:00.000Z"}]
/// }"#)?;
/// // At the exact expiry instant the entry no longer matches.
/// let now = whale_security::time::parse("2026-03-10T12:00:00Z")?;
/// let why = explain(&list, parse_ip("::ffff:203.0.113.9")?, Surface::Api, now);
/// assert_eq!(why.decision, IpDecision::Deny);
/// assert_eq!(why.expired.len(), 1);
/// assert!(why.to_string().contains("expired"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn explain(
    list: &IpAllowlist,
    ip: IpAddr,
    surface: Surface,
    now: DateTime<Utc>,
) -> Explanation<'_> {
    let canonical = ip.to_canonical();
    let containing = list.entries.iter().filter(|e| e.cidr.contains(canonical));
    let (matching, expired) = containing.partition(|e| e.expires_at.is_none_or(|t| now < t));
    Explanation {
        ip,
        canonical,
        surface,
        now,
        decision: check_ip(list, ip, surface, now),
        matching,
        expired,
    }
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.ip)?;
        if self.canonical != self.ip {
            write!(f, " (IPv4-mapped; matched as {})", self.canonical)?;
        }
        write!(f, " on the {}: ", self.surface)?;
        match self.decision {
            IpDecision::NotEnforced {
                reason: NotEnforcedReason::Disabled,
            } => f.write_str("not enforced, the allowlist is disabled")?,
            IpDecision::NotEnforced { .. } => {
                write!(
                    f,
                    "not enforced, the allowlist does not guard the {}",
                    self.surface
                )?;
            }
            IpDecision::Allow { entry } => write!(
                f,
                "allowed by entry `{}` ({}), the most specific of {} matching",
                entry.id,
                entry.cidr,
                self.matching.len()
            )?,
            IpDecision::Deny => f.write_str("denied, no live entry contains it")?,
        }
        for e in &self.expired {
            if let Some(t) = e.expires_at {
                write!(
                    f,
                    "; entry `{}` ({}) would match but expired at {}",
                    e.id,
                    e.cidr,
                    crate::time::format(t)
                )?;
            }
        }
        Ok(())
    }
}
