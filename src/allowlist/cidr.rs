//! Strict parsing of client addresses and allowlist CIDRs.
//!
//! The parsers accept exactly one textual form per value and reject everything that other
//! software reads in more than one way:
//!
//! - IPv4 is four decimal octets without leading zeros. `0203.0.113.9` (octal to `inet_aton`),
//!   `0xcb.0.113.9`, `3405803785` and `203.113` are errors, never guesses.
//! - IPv6 is what [`std::net::Ipv6Addr`] reads; zone ids (`fe80::1%eth0`) are errors.
//! - IPv4-mapped IPv6 (`::ffff:203.0.113.9`, and `::ffff:0:0/96`-based CIDRs of length 96 or
//!   more) *is* the IPv4 address or range, and is returned as IPv4. IPv4-compatible
//!   (`::203.0.113.9`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses stay IPv6:
//!   they are different hosts, and unwrapping them would let `::1` pass as `0.0.0.1`.
//! - A CIDR with host bits set (`203.0.113.77/24`) is an error naming both readings, never
//!   silently widened or narrowed. A bare address is a /32 or /128.
//! - Whitespace anywhere, and lists (`198.51.100.200, 203.0.113.9`), are errors.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::quote::shorten;

/// What is wrong with an address or CIDR text. Each variant carries the text, quoted as
/// [`crate::quote::shorten`] does (escaped, and shortened when long).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The text is empty.
    #[error("address is empty")]
    Empty,
    /// The text holds several addresses where one is expected.
    #[error("`{text}` is a list; exactly one address is expected")]
    List {
        /// The text that was given.
        text: String,
    },
    /// The text contains whitespace.
    #[error("`{text}` contains whitespace")]
    Whitespace {
        /// The text that was given.
        text: String,
    },
    /// An IPv6 zone id (`%eth0`) was given; zones are local to one host and never match.
    #[error("`{text}` has a zone id, which is not supported")]
    ZoneId {
        /// The text that was given.
        text: String,
    },
    /// An IPv4 octet has a leading zero, which some parsers read as octal.
    #[error(
        "`{text}` has a leading zero in IPv4 octet `{octet}`, which is ambiguous (octal or decimal)"
    )]
    LeadingZero {
        /// The text that was given.
        text: String,
        /// The offending octet.
        octet: String,
    },
    /// A hexadecimal, integer or shorthand IPv4 form (`0xcb.0.113.9`, `3405803785`, `203.113`).
    #[error(
        "`{text}` is not a dotted-decimal IPv4 address (hex, integer and shorthand forms are ambiguous)"
    )]
    NonDecimalIpv4 {
        /// The text that was given.
        text: String,
    },
    /// The text is not an IP address at all.
    #[error("`{text}` is not an IP address")]
    Invalid {
        /// The text that was given.
        text: String,
    },
    /// The CIDR has a `/` with nothing after it.
    #[error("`{text}` has an empty prefix length")]
    EmptyPrefix {
        /// The text that was given.
        text: String,
    },
    /// The prefix length is not a plain decimal number (sign, leading zero, letters).
    #[error("`{text}` has an invalid prefix length")]
    InvalidPrefix {
        /// The text that was given.
        text: String,
    },
    /// The prefix length is larger than the address family allows.
    #[error("`{text}`: IPv{family} prefix length must be 0..{max}")]
    PrefixOutOfRange {
        /// The text that was given.
        text: String,
        /// 4 or 6.
        family: u8,
        /// 32 or 128.
        max: u8,
    },
    /// The address part has bits set past the prefix length.
    #[error("`{text}` has host bits set (did you mean {network} or {host}?)")]
    HostBitsSet {
        /// The text that was given.
        text: String,
        /// The network reading, with the host bits cleared.
        network: Cidr,
        /// The single-host reading.
        host: Cidr,
    },
}

/// A network in canonical form: host bits clear, IPv4-mapped IPv6 ranges expressed as IPv4.
///
/// Its text form (`Display`, serde) is the canonical one: `203.0.113.0/24`, `2001:db8::/32`,
/// and a single host is always written with its length (`198.51.100.42/32`).
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::Cidr;
///
/// let office: Cidr = "203.0.113.0/24".parse()?;
/// assert!(office.contains("203.0.113.9".parse()?));
///
/// // A bare address is one host.
/// let vpn: Cidr = "198.51.100.4".parse()?;
/// assert_eq!(vpn.to_string(), "198.51.100.4/32");
/// assert!(!vpn.contains("198.51.100.42".parse()?));
///
/// // IPv4-mapped IPv6 is IPv4.
/// let mapped: Cidr = "::ffff:192.0.2.0/124".parse()?;
/// assert_eq!(mapped.to_string(), "192.0.2.0/28");
///
/// // Host bits are an error, never a guess.
/// assert!("203.0.113.77/24".parse::<Cidr>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr(IpNet);

impl Cidr {
    /// Wraps a network, canonicalizing an IPv4-mapped range to IPv4.
    ///
    /// # Errors
    ///
    /// [`AddressError::HostBitsSet`] when `net` has bits set past its prefix length.
    pub fn from_net(net: IpNet) -> Result<Self, AddressError> {
        let net = canonical_net(net);
        if net.trunc() != net {
            return Err(host_bits_error(&net.to_string(), net));
        }
        Ok(Self(net))
    }

    /// The single-host network of `addr` (/32 or /128), canonicalized.
    #[must_use]
    pub fn host(addr: IpAddr) -> Self {
        let net = match addr.to_canonical() {
            IpAddr::V4(a) => IpNet::V4(Ipv4Net::from(a)),
            IpAddr::V6(a) => IpNet::V6(Ipv6Net::from(a)),
        };
        Self(net)
    }

    /// The network.
    #[must_use]
    pub fn net(&self) -> IpNet {
        self.0
    }

    /// The prefix length.
    #[must_use]
    pub fn prefix_len(&self) -> u8 {
        self.0.prefix_len()
    }

    /// Whether `addr` (canonicalized first: `::ffff:a.b.c.d` is `a.b.c.d`) is in this network.
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&addr.to_canonical())
    }

    /// Whether every address of `other` is in this network.
    #[must_use]
    pub fn covers(&self, other: &Cidr) -> bool {
        self.0.contains(&other.0)
    }
}

impl FromStr for Cidr {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, AddressError> {
        parse_cidr(text)
    }
}

impl TryFrom<String> for Cidr {
    type Error = AddressError;

    fn try_from(text: String) -> Result<Self, AddressError> {
        parse_cidr(&text)
    }
}

impl From<Cidr> for String {
    fn from(cidr: Cidr) -> String {
        cidr.to_string()
    }
}

impl From<Cidr> for IpNet {
    fn from(cidr: Cidr) -> IpNet {
        cidr.0
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Parses one client address strictly and canonicalizes it (`::ffff:a.b.c.d` becomes
/// `a.b.c.d`).
///
/// # Errors
///
/// An [`AddressError`] naming the text and what is wrong with it: see the module docs for
/// the forms that are refused.
///
/// # Examples
///
/// ```
/// use std::net::IpAddr;
/// use whale_security::allowlist::parse_ip;
///
/// assert_eq!(parse_ip("::ffff:203.0.113.9")?, "203.0.113.9".parse::<IpAddr>()?);
/// assert_eq!(parse_ip("::203.0.113.9")?, "::203.0.113.9".parse::<IpAddr>()?);
/// assert!(parse_ip("0203.0.113.9").is_err());
/// assert!(parse_ip("198.51.100.200, 203.0.113.9").is_err());
/// assert!(parse_ip("fe80::1%eth0").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_ip(text: &str) -> Result<IpAddr, AddressError> {
    check_form(text)?;
    parse_addr(text, text).map(|a| a.to_canonical())
}

/// Parses a CIDR or a bare address (a /32 or /128) strictly; see [`Cidr`].
///
/// # Errors
///
/// An [`AddressError`] naming the text and what is wrong with it.
pub fn parse_cidr(text: &str) -> Result<Cidr, AddressError> {
    // On the whole text, before it is split: `10.0.0.0/8 # office` has whitespace, not an
    // invalid prefix length.
    check_form(text)?;
    let Some((addr_text, len_text)) = text.split_once('/') else {
        return Ok(Cidr::host(parse_addr(text, text)?));
    };
    let addr = parse_addr(addr_text, text)?;
    let len = parse_prefix_len(len_text, text)?;
    let net = match addr {
        IpAddr::V4(a) => {
            let net = Ipv4Net::new(a, len).map_err(|_| AddressError::PrefixOutOfRange {
                text: shorten(text),
                family: 4,
                max: 32,
            })?;
            IpNet::V4(net)
        }
        IpAddr::V6(a) => {
            let net = Ipv6Net::new(a, len).map_err(|_| AddressError::PrefixOutOfRange {
                text: shorten(text),
                family: 6,
                max: 128,
            })?;
            IpNet::V6(net)
        }
    };
    let net = canonical_net(net);
    if net.trunc() != net {
        return Err(host_bits_error(text, net));
    }
    Ok(Cidr(net))
}

/// An IPv4-mapped IPv6 range of length 96 or more becomes the IPv4 range it maps.
fn canonical_net(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else {
        return net;
    };
    let Some(v4) = v6.addr().to_ipv4_mapped() else {
        return net;
    };
    let Some(len) = v6.prefix_len().checked_sub(96) else {
        return net;
    };
    Ipv4Net::new(v4, len).map_or(net, IpNet::V4)
}

fn host_bits_error(text: &str, net: IpNet) -> AddressError {
    AddressError::HostBitsSet {
        text: shorten(text),
        network: Cidr(net.trunc()),
        host: Cidr::host(net.addr()),
    }
}

/// Refuses, anywhere in the whole input, what no part of an address or CIDR may hold: an
/// empty text, a list separator, whitespace, a zone id.
fn check_form(whole: &str) -> Result<(), AddressError> {
    if whole.is_empty() {
        return Err(AddressError::Empty);
    }
    if whole.contains(',') || whole.contains(';') {
        return Err(AddressError::List {
            text: shorten(whole),
        });
    }
    if whole.chars().any(char::is_whitespace) {
        return Err(AddressError::Whitespace {
            text: shorten(whole),
        });
    }
    if whole.contains('%') {
        return Err(AddressError::ZoneId {
            text: shorten(whole),
        });
    }
    Ok(())
}

/// Parses the address part. `whole` is the full input, for error messages; [`check_form`]
/// has checked it.
fn parse_addr(text: &str, whole: &str) -> Result<IpAddr, AddressError> {
    if text.is_empty() {
        return Err(AddressError::Invalid {
            text: shorten(whole),
        });
    }
    if text.contains(':') {
        return Ipv6Addr::from_str(text)
            .map(IpAddr::V6)
            .map_err(|_| AddressError::Invalid {
                text: shorten(whole),
            });
    }
    parse_ipv4(text, whole).map(IpAddr::V4)
}

fn parse_ipv4(text: &str, whole: &str) -> Result<Ipv4Addr, AddressError> {
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x' || b == b'X');
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        // Fewer parts is the shorthand or integer form other readers take; more parts, or an
        // empty one, is no form at all.
        let shorthand = parts.len() < 4 && parts.iter().all(|p| !p.is_empty());
        return Err(
            if shorthand && looks_numeric && text.bytes().any(|b| b.is_ascii_digit()) {
                AddressError::NonDecimalIpv4 {
                    text: shorten(whole),
                }
            } else {
                AddressError::Invalid {
                    text: shorten(whole),
                }
            },
        );
    }
    for part in &parts {
        if part.starts_with("0x") || part.starts_with("0X") {
            return Err(AddressError::NonDecimalIpv4 {
                text: shorten(whole),
            });
        }
        if part.len() > 1 && part.starts_with('0') && part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddressError::LeadingZero {
                text: shorten(whole),
                octet: shorten(part),
            });
        }
    }
    Ipv4Addr::from_str(text).map_err(|_| AddressError::Invalid {
        text: shorten(whole),
    })
}

fn parse_prefix_len(len_text: &str, whole: &str) -> Result<u8, AddressError> {
    if len_text.is_empty() {
        return Err(AddressError::EmptyPrefix {
            text: shorten(whole),
        });
    }
    if !len_text.bytes().all(|b| b.is_ascii_digit())
        || (len_text.len() > 1 && len_text.starts_with('0'))
    {
        return Err(AddressError::InvalidPrefix {
            text: shorten(whole),
        });
    }
    let family_max = |family| if family == 4 { 32 } else { 128 };
    let family = if whole.contains(':') { 6 } else { 4 };
    // Any digit string too long for a u8 is out of range for both families.
    len_text
        .parse::<u8>()
        .map_err(|_| AddressError::PrefixOutOfRange {
            text: shorten(whole),
            family,
            max: family_max(family),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> AddressError {
        parse_cidr(text).unwrap_err()
    }

    #[test]
    fn canonical_forms_print_back_unchanged() {
        for text in [
            "203.0.113.0/24",
            "0.0.0.0/0",
            "198.51.100.42/32",
            "2001:db8::/32",
            "::/0",
            "::1/128",
        ] {
            assert_eq!(parse_cidr(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn bare_addresses_are_single_hosts() {
        assert_eq!(
            parse_cidr("198.51.100.4").unwrap().to_string(),
            "198.51.100.4/32"
        );
        assert_eq!(
            parse_cidr("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
    }

    #[test]
    fn leading_zero_octets_are_ambiguous() {
        assert!(matches!(
            err("0203.0.113.9"),
            AddressError::LeadingZero { .. }
        ));
        assert!(matches!(
            err("010.001.002.003/8"),
            AddressError::LeadingZero { .. }
        ));
        assert!(matches!(
            parse_ip("0203.0.113.9"),
            Err(AddressError::LeadingZero { .. })
        ));
    }

    #[test]
    fn hex_integer_and_shorthand_ipv4_are_refused() {
        for text in [
            "0xcb.0.113.9",
            "3405803785",
            "203.113",
            "127.1",
            "0xcb007109",
        ] {
            assert!(
                matches!(parse_ip(text), Err(AddressError::NonDecimalIpv4 { .. })),
                "{text}"
            );
        }
    }

    /// Too many parts, or an empty one, is no other reader's IPv4 form either: not ambiguous,
    /// just not an address.
    #[test]
    fn extra_or_empty_ipv4_parts_are_not_called_other_forms() {
        for text in ["203.0.113.9.", "1.2.3.4.5", ".1.2.3", "1..2.3", "1.2..3"] {
            assert!(
                matches!(parse_ip(text), Err(AddressError::Invalid { .. })),
                "{text}: {:?}",
                parse_ip(text)
            );
        }
    }

    #[test]
    fn prefix_lengths_are_checked() {
        assert!(matches!(
            err("203.0.113.0/33"),
            AddressError::PrefixOutOfRange { max: 32, .. }
        ));
        assert!(matches!(
            err("2001:db8::/129"),
            AddressError::PrefixOutOfRange { max: 128, .. }
        ));
        assert!(matches!(
            err("203.0.113.0/999999999999"),
            AddressError::PrefixOutOfRange { .. }
        ));
        assert!(matches!(
            err("203.0.113.0/"),
            AddressError::EmptyPrefix { .. }
        ));
        assert!(matches!(
            err("203.0.113.0/+24"),
            AddressError::InvalidPrefix { .. }
        ));
        assert!(matches!(
            err("203.0.113.0/024"),
            AddressError::InvalidPrefix { .. }
        ));
        assert!(matches!(
            err("203.0.113.0/24/24"),
            AddressError::InvalidPrefix { .. }
        ));
    }

    #[test]
    fn host_bits_name_both_readings() {
        let e = err("203.0.113.77/24");
        assert_eq!(
            e.to_string(),
            "`203.0.113.77/24` has host bits set (did you mean 203.0.113.0/24 or 203.0.113.77/32?)"
        );
    }

    #[test]
    fn mapped_ranges_become_ipv4_but_compatible_nat64_and_6to4_do_not() {
        assert_eq!(
            parse_cidr("::ffff:0:0/96").unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            parse_cidr("::ffff:203.0.113.9").unwrap().to_string(),
            "203.0.113.9/32"
        );
        assert_eq!(
            parse_cidr("::203.0.113.0/120").unwrap().to_string(),
            "::cb00:7100/120"
        );
        assert!(parse_cidr("64:ff9b::/96").unwrap().net().addr().is_ipv6());
        assert!(parse_cidr("2002::/16").unwrap().net().addr().is_ipv6());
        assert_eq!(parse_ip("::1").unwrap(), "::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn lists_whitespace_and_zones_are_refused() {
        assert!(matches!(
            parse_ip("198.51.100.200, 203.0.113.9"),
            Err(AddressError::List { .. })
        ));
        assert!(matches!(
            parse_ip(" 203.0.113.9"),
            Err(AddressError::Whitespace { .. })
        ));
        assert!(matches!(
            parse_ip("fe80::1%eth0"),
            Err(AddressError::ZoneId { .. })
        ));
        assert!(matches!(parse_ip(""), Err(AddressError::Empty)));
    }

    /// `203.0.113.0/24 ` and `10.0.0.0/8 # office` were said to have an invalid prefix length:
    /// only the address part was checked for whitespace and lists. Whitespace anywhere is
    /// whitespace, a list anywhere is a list, and a zone id anywhere is a zone id.
    #[test]
    fn whitespace_lists_and_zones_after_the_slash_are_named() {
        for text in [
            "203.0.113.0/24 ",
            "10.0.0.0/8 # office",
            "10.0.0.0/\t8",
            "2001:db8::/32\u{a0}",
            "203.0.113.0 /24",
        ] {
            assert!(
                matches!(err(text), AddressError::Whitespace { .. }),
                "{text:?}: {}",
                err(text)
            );
        }
        assert!(matches!(
            err("10.0.0.0/8,10.1.0.0/16"),
            AddressError::List { .. }
        ));
        assert!(matches!(
            err("10.0.0.0/8; 10.1.0.0/16"),
            AddressError::List { .. }
        ));
        assert!(matches!(err("fe80::/64%eth0"), AddressError::ZoneId { .. }));
    }

    #[test]
    fn zero_padded_ipv6_groups_are_plain_hex() {
        assert_eq!(
            parse_cidr("2600:3c12:0b00::/40").unwrap().to_string(),
            "2600:3c12:b00::/40"
        );
    }
}
