//! The IP allowlist: which client addresses may reach the API and the dashboard.
//!
//! [`IpAllowlist`] is the stored policy; [`check_ip`] decides one request. Entries are
//! [`Cidr`]s, parsed strictly (see [`cidr`](self::parse_cidr) for the forms refused), and client
//! addresses are canonicalized so `::ffff:203.0.113.9` is `203.0.113.9`.
//!
//! An enabled list with no entries denies everyone: an empty allowlist is not "allow all".
//!
//! [`CompiledAllowlist`] is the same decision, compiled once per settings version for services
//! that check every request.
//!
//! # Design
//!
//! An allowlist is a set, not a routing table: for "may this address pass" only the union of
//! the entries matters. [`CidrSet`] merges the prefixes of each family into disjoint intervals
//! and keeps only their boundaries, sorted. A lookup counts the boundaries at or below the
//! address (its rank); the address is in the set when the count is odd.
//!
//! Up to 8 boundaries (four intervals) are compared all at once against a fixed array, with no
//! directory and no branch. Larger sets are `u64` keys: IPv4 addresses, or the top 64 bits of
//! IPv6 ones (prefixes longer than /64, rare in practice, go to a separate sorted `u128` array,
//! searched only for an address whose top 64 bits one of them shares). Keys are shifted right
//! by the trailing zero bits they all share, offset by the first one, and stored in one sorted
//! array of 32-bit keys when they fit (64-bit otherwise), padded with the type's maximum. A
//! directory of `2^k` equal buckets over the used key range holds each bucket's first key index
//! (`k` about `log2` of the boundaries plus 4 for small sets, about `log2` for large ones, at
//! most 18). Since every key after a bucket is above any address in it, the rank is the
//! directory entry plus a branch-free count over a fixed 32-byte window from there: no branch
//! on hit, miss or empty bucket, so a mixed stream cannot mispredict. A bucket holding more
//! keys than the window (clustered IPv6 prefixes) is searched instead, in the fixed number of
//! four-way rounds the largest bucket needs; batches of such lists run eight searches side by
//! side so that their loads overlap.
//!
//! Naming the matched entry is a separate structure (the prefixes flattened into segments, each
//! labelled with its most specific entry, found through the same kind of directory), used only by
//! [`CompiledAllowlist::check_ip`]; the plain [`CompiledAllowlist::check`] never touches it.
//!
//! Entries with an `expires_at` are kept out of both structures, in a short side list checked
//! against `now` on each lookup (after the fast structure, and only when it said no, for the
//! plain path). Lists usually have none or a few; a list made mostly of expiring entries is
//! checked linearly.
//!
//! # Complexity and size
//!
//! With `n` prefixes of a family merged into `m <= n` intervals (`2m` boundaries):
//!
//! - lookup: one directory load (two adjacent `u32`s) plus one 32-byte window of keys, or
//!   `O(log b)` comparisons for a bucket holding `b` boundaries, more than the window's 8
//!   (32-bit) or 4 (64-bit) keys. No allocation, no lock, no `unsafe`. Plus `O(log l)` for
//!   the `l` IPv6 boundaries of prefixes longer than /64 when the address is near one, and
//!   `O(e)` for `e` live expiring entries when the fast structure says no.
//! - memory of the allow/deny structure: `2m` stored keys (4 or 8 bytes) plus `4 * 2^k` bytes
//!   of directory, and a batch filter per family when it pays (8 KiB, or 128 KiB for lists
//!   that touch many of the top-16-bit buckets): 1.77 bytes per prefix on the full IPv4 BGP
//!   table, 7.16 on the IPv6 one (whose keys need 64 bits). [`CidrSet::heap_bytes`] reports it.
//! - the naming structure: at most `2n + 1` segments of one stored key plus a `u32` each, and
//!   its own directory.
//! - build: `O(n log n)` (one sort per structure).
//!
//! Measured figures (lookup times per list and address stream against the peer crates, bytes
//! per prefix, build time on the full BGP tables) are in `BENCHMARKS.md`, with the commands
//! that reproduce them.

mod cidr;
mod client;
mod compiled;
pub mod fuzzing;
mod guard;
mod lint;
mod matcher;
mod ranked;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::EntryId;
use crate::password::InvalidCharacterKind;
use crate::set::NonEmptySet;

pub use self::cidr::{AddressError, Cidr, parse_cidr, parse_ip};
pub use self::client::{
    ClientIp, ClientIpError, ClientSource, ForwardedHeader, MAX_HOPS, TrustedProxies,
    resolve_client_ip,
};
pub use self::compiled::{Access, CidrSet, CompiledAllowlist};
pub use self::guard::{
    Explanation, LOCKOUT_MARGIN_MINUTES, LockoutError, LockoutPolicy, explain, guard_lockout,
};
pub use self::lint::{LintWarning, MIN_IPV4_PREFIX, MIN_IPV6_PREFIX, lint_allowlist};

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

impl IpAllowlist {
    /// The most entries a stored allowlist may hold (checked when settings are read or
    /// changed). Published cloud ranges fit with room to spare (Azure's public IPv4 ranges are
    /// about 37 500); the compiled matcher itself has no such limit.
    pub const MAX_ENTRIES: usize = 50_000;
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
                text: crate::quote::shorten(text),
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

/// An entry's label: at most 200 characters, none of the characters a password may not hold.
///
/// Those are the characters that change how the text around them displays
/// ([`InvalidCharacterKind`]): controls, bidirectional controls (U+061C, U+200E, U+200F,
/// U+202A..=U+202E, U+2066..=U+2069), line separators and noncharacters. Labels are printed in
/// tab-separated CLI output, where such a character could hide or reorder the columns.
/// Right-to-left scripts are text like any other.
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
    /// [`LabelError::TooLong`] when the label is too long,
    /// [`LabelError::ControlCharacter`] when it holds a control character, and
    /// [`LabelError::InvalidCharacter`] when it holds another character of
    /// [`InvalidCharacterKind`].
    pub fn new(text: impl Into<String>) -> Result<Self, LabelError> {
        let text = text.into();
        if text.chars().count() > Self::MAX_CHARS {
            return Err(LabelError::TooLong {
                chars: text.chars().count(),
            });
        }
        match text.chars().find_map(InvalidCharacterKind::of) {
            None => Ok(Self(text)),
            Some(InvalidCharacterKind::Control) => Err(LabelError::ControlCharacter),
            Some(kind) => Err(LabelError::InvalidCharacter { kind }),
        }
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
    /// Holds another character that changes how the text around it displays: a bidirectional
    /// control, a line separator or a noncharacter.
    #[error("label contains a {kind}")]
    InvalidCharacter {
        /// Which kind of character.
        kind: InvalidCharacterKind,
    },
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
/// Among matching entries, the one with the longest prefix is reported; among equal networks,
/// the first in list order.
///
/// This is a linear scan over the entries, O(n) per lookup: fine for a one-off check (or as the
/// reference the tests compare against). A service checking every request builds a
/// [`CompiledAllowlist`] once per settings version instead.
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
    let mut best: Option<&AllowlistEntry> = None;
    for entry in &list.entries {
        let live = entry.expires_at.is_none_or(|t| now < t);
        if live
            && entry.cidr.contains(ip)
            && best.is_none_or(|b| entry.cidr.prefix_len() > b.cidr.prefix_len())
        {
            best = Some(entry);
        }
    }
    best.map_or(IpDecision::Deny, |entry| IpDecision::Allow { entry })
}
