//! The IP allowlist: which client addresses may reach the API and the dashboard.
//!
//! [`IpAllowlist`] is the stored policy; [`check_ip`] decides one request. Entries are
//! [`Cidr`]s, parsed strictly (see [`cidr`](self::parse_cidr) for the forms refused), and client
//! addresses are canonicalized so `::ffff:203.0.113.9` is `203.0.113.9`.
//!
//! An enabled list with no entries denies everyone: an empty allowlist is not "allow all".

mod cidr;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::EntryId;
use crate::set::NonEmptySet;

pub use self::cidr::{AddressError, Cidr, parse_cidr, parse_ip};

/// The stored allowlist of a store.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpAllowlist {
    /// Whether the list is enforced at all.
    pub enabled: bool,
    /// Which surfaces the list guards.
    pub applies_to: NonEmptySet<Surface>,
    /// The allowed networks. Ids are unique within a list.
    pub entries: Vec<AllowlistEntry>,
}

/// One allowed network.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistEntry {
    /// The entry's id.
    pub id: EntryId,
    /// The network, in canonical form.
    pub cidr: Cidr,
    /// A human-readable note, such as `Office network`.
    #[serde(default)]
    pub label: Label,
    /// When the entry was added.
    #[serde(with = "crate::time::rfc3339")]
    pub added_at: DateTime<Utc>,
    /// When the entry stops matching, if ever (an extension of the spec): it matches while
    /// `now < expires_at`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A surface a request arrives on.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    /// The REST API.
    Api,
    /// The web dashboard.
    Dashboard,
}

impl Surface {
    /// The surface's name as the JSON writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Dashboard => "dashboard",
        }
    }
}

impl FromStr for Surface {
    type Err = UnknownSurfaceError;

    fn from_str(text: &str) -> Result<Self, UnknownSurfaceError> {
        match text {
            "api" => Ok(Self::Api),
            "dashboard" => Ok(Self::Dashboard),
            _ => Err(UnknownSurfaceError {
                text: text.chars().take(40).collect(),
            }),
        }
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A surface name other than `api` or `dashboard`.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("unknown surface `{text}` (expected `api` or `dashboard`)")]
pub struct UnknownSurfaceError {
    text: String,
}

/// An entry's label: at most 200 characters, no control characters.
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    /// The longest label, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Checks and wraps a label.
    ///
    /// # Errors
    ///
    /// [`LabelError`] when the label is too long or holds a control character.
    pub fn new(text: impl Into<String>) -> Result<Self, LabelError> {
        let text = text.into();
        if text.chars().count() > Self::MAX_CHARS {
            return Err(LabelError::TooLong {
                chars: text.chars().count(),
            });
        }
        if text.chars().any(char::is_control) {
            return Err(LabelError::ControlCharacter);
        }
        Ok(Self(text))
    }

    /// The label's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Label {
    type Error = LabelError;

    fn try_from(text: String) -> Result<Self, LabelError> {
        Self::new(text)
    }
}

impl From<Label> for String {
    fn from(label: Label) -> String {
        label.0
    }
}

/// Why a label was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// Longer than [`Label::MAX_CHARS`].
    #[error("label has {chars} characters; at most 200 are allowed")]
    TooLong {
        /// The label's length in characters.
        chars: usize,
    },
    /// Holds a control character (newline, NUL, ...).
    #[error("label contains a control character")]
    ControlCharacter,
}

/// The answer for one request.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IpDecision<'a> {
    /// The address is in `entry`, the most specific live entry that contains it.
    Allow {
        /// The matched entry.
        entry: &'a AllowlistEntry,
    },
    /// The list is enforced on this surface and no live entry contains the address.
    Deny,
    /// The list does not apply to this request.
    NotEnforced {
        /// Why not.
        reason: NotEnforcedReason,
    },
}

impl IpDecision<'_> {
    /// Whether the request may proceed (allowed, or not enforced).
    #[must_use]
    pub fn permits(&self) -> bool {
        !matches!(self, Self::Deny)
    }
}

/// Why an allowlist did not apply.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum NotEnforcedReason {
    /// The list is disabled.
    Disabled,
    /// The list does not guard the request's surface.
    SurfaceNotCovered,
}

/// Decides whether `ip`, arriving on `surface` at `now`, may pass `list`.
///
/// The address is canonicalized first (`::ffff:a.b.c.d` is `a.b.c.d`). An entry with
/// `expires_at <= now` never matches.
/// Among matching entries, the one with the longest prefix is reported.
///
/// This is a linear scan over the entries: O(n) per lookup.
///
/// # Examples
///
/// ```
/// # use whale_security::allowlist::*;
/// let list: IpAllowlist = serde_json::from_str(r#"{
///     "enabled": true, "applies_to": ["api"],
///     "entries": [{"id": "ip_a1", "cidr": "203.0.113.0/24", "label": "Office",
///                  "added_at": "2026-03-10T10:00:00.000Z"}]
/// }"#)?;
/// let now = whale_security::time::parse("2026-03-10T12:00:00Z")?;
///
/// assert!(check_ip(&list, parse_ip("::ffff:203.0.113.9")?, Surface::Api, now).permits());
/// assert_eq!(check_ip(&list, parse_ip("198.51.100.7")?, Surface::Api, now), IpDecision::Deny);
/// assert!(matches!(
///     check_ip(&list, parse_ip("198.51.100.7")?, Surface::Dashboard, now),
///     IpDecision::NotEnforced { .. }
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_ip(
    list: &IpAllowlist,
    ip: IpAddr,
    surface: Surface,
    now: DateTime<Utc>,
) -> IpDecision<'_> {
    if !list.enabled {
        return IpDecision::NotEnforced {
            reason: NotEnforcedReason::Disabled,
        };
    }
    if !list.applies_to.contains(surface) {
        return IpDecision::NotEnforced {
            reason: NotEnforcedReason::SurfaceNotCovered,
        };
    }
    let ip = ip.to_canonical();
    list.entries
        .iter()
        .filter(|e| e.expires_at.is_none_or(|t| now < t) && e.cidr.contains(ip))
        .max_by_key(|e| e.cidr.prefix_len())
        .map_or(IpDecision::Deny, |entry| IpDecision::Allow { entry })
}
