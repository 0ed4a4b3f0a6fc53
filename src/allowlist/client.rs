//! The client address of a request that may have come through proxies.
//!
//! The socket peer is the only address nobody can forge. A proxy appends the address it
//! received the request from to `X-Forwarded-For` (or `Forwarded`, RFC 7239), so the header's
//! right end was written by the proxy nearest to us and its left end by whoever sent the
//! request, possibly an attacker. [`resolve_client_ip`] therefore trusts the headers only when
//! the peer is a configured trusted proxy, and walks them from the right, skipping addresses of
//! trusted proxies; the first untrusted address is the client.
//!
//! A header that cannot be read in full is an error, and the caller denies the request: a
//! guess would let anyone who can write the header choose their address.

use std::net::IpAddr;

use super::{AddressError, CidrSet, parse_ip};
use crate::quote::shorten;

/// The most hops read from a header; longer chains are refused (bounds the work per request).
pub const MAX_HOPS: usize = 64;

/// Which header the trusted proxies write. Only that one is read; the other is ignored, since
/// anyone can send it.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "X-Forwarded-For",
            Self::Forwarded => "Forwarded",
        }
    }
}

/// The proxies in front of the service, and the header they write.
#[derive(Clone, Debug)]
pub struct TrustedProxies {
    set: CidrSet,
    header: ForwardedHeader,
}

/// No trusted proxies: headers are never read and the socket peer is always the client.
impl Default for TrustedProxies {
    fn default() -> Self {
        Self::new([], ForwardedHeader::default())
    }
}

impl TrustedProxies {
    /// Proxies at the given networks, writing `header`. With no networks, headers are never
    /// read and the peer is always the client.
    pub fn new(networks: impl IntoIterator<Item = super::Cidr>, header: ForwardedHeader) -> Self {
        Self {
            set: CidrSet::new(networks),
            header,
        }
    }

    /// Whether `ip` is a trusted proxy.
    #[must_use]
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.set.contains(ip)
    }

    /// The header these proxies write.
    #[must_use]
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }
}

/// Where the client address came from.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ClientSource {
    /// The socket peer is not a trusted proxy, so it is the client; headers were not read.
    UntrustedPeer,
    /// The peer is a trusted proxy and sent no header line (`header_values` is empty): the peer
    /// is the client. A header line that is present but empty is malformed, not absent.
    TrustedPeerWithoutHeader,
    /// The first untrusted hop of the header, counting from the right.
    Header {
        /// The header it came from.
        header: ForwardedHeader,
        /// The trusted hops skipped before it (the peer included).
        skipped: usize,
    },
    /// Every hop is a trusted proxy; the leftmost one is taken as the client.
    AllHopsTrusted {
        /// The header it came from.
        header: ForwardedHeader,
    },
}

/// A resolved client address and how it was found.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ClientIp {
    /// The client address, canonical (`::ffff:a.b.c.d` is `a.b.c.d`).
    pub addr: IpAddr,
    /// How it was found.
    pub source: ClientSource,
}

/// Why the client address could not be resolved. The request should be denied.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIpError {
    /// A hop of the header is not an address.
    #[error("{header} hop `{hop}` is not a valid address: {source}")]
    BadAddress {
        /// The header's name.
        header: &'static str,
        /// The hop's text.
        hop: String,
        /// What is wrong with it.
        source: AddressError,
    },
    /// The header is not well formed (empty element, bad quoting, missing `for=`).
    #[error("{header} header is malformed at `{element}`: {problem}")]
    Malformed {
        /// The header's name.
        header: &'static str,
        /// The offending element.
        element: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The walk reached a hop that hides its address (`unknown`, `_obfuscated`) before any
    /// untrusted address.
    #[error("{header} hop `{hop}` hides the address, so the client cannot be determined")]
    Hidden {
        /// The header's name.
        header: &'static str,
        /// The hop's text.
        hop: String,
    },
    /// More hops than [`MAX_HOPS`].
    #[error("{header} has {hops} hops; at most {max} are read")]
    TooManyHops {
        /// The header's name.
        header: &'static str,
        /// The number of hops.
        hops: usize,
        /// [`MAX_HOPS`].
        max: usize,
    },
}

/// Resolves the client address of a request from its socket `peer` and the values of the
/// header the trusted proxies write (each header line as received, in order; the other header
/// is ignored).
///
/// # Errors
///
/// A [`ClientIpError`] when the peer is trusted and the header cannot be read in full, or the
/// walk reaches a hidden hop. The caller must deny the request.
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::*;
///
/// let proxies = TrustedProxies::new([parse_cidr("10.0.0.0/8")?], ForwardedHeader::XForwardedFor);
/// let peer = parse_ip("10.0.0.5")?;
///
/// // The attacker wrote `1.1.1.1`; our proxy appended the address it saw.
/// let ip = resolve_client_ip(peer, &["1.1.1.1, 203.0.113.9, 10.0.0.7"], &proxies)?;
/// assert_eq!(ip.addr, parse_ip("203.0.113.9")?);
///
/// // An untrusted peer is the client, whatever the header says.
/// let direct = resolve_client_ip(parse_ip("198.51.100.1")?, &["10.0.0.1"], &proxies)?;
/// assert_eq!(direct.addr, parse_ip("198.51.100.1")?);
/// assert_eq!(direct.source, ClientSource::UntrustedPeer);
///
/// // A malformed header is an error, never a guess.
/// assert!(resolve_client_ip(peer, &["203.0.113.9,,10.0.0.7"], &proxies).is_err());
/// assert!(resolve_client_ip(peer, &["0203.0.113.9"], &proxies).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve_client_ip(
    peer: IpAddr,
    header_values: &[&str],
    proxies: &TrustedProxies,
) -> Result<ClientIp, ClientIpError> {
    let peer = peer.to_canonical();
    if !proxies.trusts(peer) {
        return Ok(ClientIp {
            addr: peer,
            source: ClientSource::UntrustedPeer,
        });
    }
    let header = proxies.header;
    let name = header.name();
    let hops = split_hops(header, header_values)?;
    if hops.is_empty() {
        return Ok(ClientIp {
            addr: peer,
            source: ClientSource::TrustedPeerWithoutHeader,
        });
    }
    let mut leftmost = peer;
    for (skipped, hop) in hops.iter().rev().enumerate() {
        let Some(addr) = read_hop(header, hop)? else {
            return Err(ClientIpError::Hidden {
                header: name,
                hop: shorten(hop),
            });
        };
        if !proxies.trusts(addr) {
            return Ok(ClientIp {
                addr,
                source: ClientSource::Header {
                    header,
                    skipped: skipped.saturating_add(1),
                },
            });
        }
        leftmost = addr;
    }
    Ok(ClientIp {
        addr: leftmost,
        source: ClientSource::AllHopsTrusted { header },
    })
}

/// The hops of all header lines, left to right, each checked for form (addresses are read later,
/// from the right). Every hop is checked, so a malformed header is refused wherever it is bad.
fn split_hops<'a>(
    header: ForwardedHeader,
    values: &[&'a str],
) -> Result<Vec<&'a str>, ClientIpError> {
    let name = header.name();
    let mut hops = Vec::new();
    for value in values {
        // A trusted proxy appends the address it saw, so a blank line from it is not "no
        // header": it is a header that cannot be read, and the request is denied.
        if value.trim().is_empty() {
            return Err(ClientIpError::Malformed {
                header: name,
                element: String::new(),
                problem: "empty header",
            });
        }
        // `Forwarded` values may be quoted strings holding commas; `X-Forwarded-For` has no
        // quoting, so a quote there is text (and fails as an address).
        let elements = match header {
            ForwardedHeader::XForwardedFor => value.split(',').collect(),
            ForwardedHeader::Forwarded => {
                split_unquoted(value, b',').map_err(|problem| ClientIpError::Malformed {
                    header: name,
                    element: shorten(value),
                    problem,
                })?
            }
        };
        for element in elements {
            let element = element.trim_matches([' ', '\t']);
            if element.is_empty() {
                return Err(ClientIpError::Malformed {
                    header: name,
                    element: shorten(value),
                    problem: "empty element",
                });
            }
            let hop = match header {
                ForwardedHeader::XForwardedFor => element,
                ForwardedHeader::Forwarded => forwarded_for(element)?,
            };
            hops.push(hop);
            if hops.len() > MAX_HOPS {
                return Err(ClientIpError::TooManyHops {
                    header: name,
                    hops: hops.len(),
                    max: MAX_HOPS,
                });
            }
        }
    }
    // Every hop must be readable, even those left of the client.
    for hop in &hops {
        read_hop(header, hop)?;
    }
    Ok(hops)
}

/// The `for=` value of one `Forwarded` element, unquoted.
///
/// Every parameter is checked against the grammar of RFC 7239 (section 4): a token, `=`, and a
/// token or a quoted string. Values of other parameters are not read, but a quoted one may hold
/// `,`, `;` and `=` as text (a `host` carries the client's own Host header), so separators are
/// only looked for outside quotes.
fn forwarded_for(element: &str) -> Result<&str, ClientIpError> {
    let malformed = |problem| ClientIpError::Malformed {
        header: "Forwarded",
        element: shorten(element),
        problem,
    };
    let mut found = None;
    for pair in split_unquoted(element, b';').map_err(malformed)? {
        let pair = pair.trim_matches([' ', '\t']);
        if pair.is_empty() {
            // `for=a;;proto=b`: the grammar allows empty parameters.
            continue;
        }
        // The name is a token, which holds no quote, so the first `=` ends it.
        let Some((key, value)) = pair.split_once('=') else {
            return Err(malformed("a parameter has no `=`"));
        };
        if key.is_empty() || !key.bytes().all(is_tchar) {
            return Err(malformed("a parameter name is not a token"));
        }
        let quoted = match value.strip_prefix('"') {
            Some(rest) => Some(quoted_string(rest).ok_or_else(|| malformed("bad quoting"))?),
            None if !value.is_empty() && value.bytes().all(is_tchar) => None,
            // A token cannot hold `:` or `[]`: IPv6 nodes and ports must be quoted.
            None => return Err(malformed("a value is neither a token nor a quoted string")),
        };
        if !key.eq_ignore_ascii_case("for") {
            continue;
        }
        if found.is_some() {
            return Err(malformed("`for` appears twice"));
        }
        found = Some(match quoted {
            // A node never needs an escape: one in a `for` value is refused, not unescaped.
            Some(inner) if inner.contains('\\') => return Err(malformed("bad quoting")),
            Some(inner) => inner,
            None => value,
        });
    }
    found.ok_or_else(|| malformed("no `for=` parameter"))
}

/// `text` cut at each `separator` outside quoted strings (a `\` inside quotes escapes the next
/// character); an error when a quoted string is not closed.
fn split_unquoted(text: &str, separator: u8) -> Result<Vec<&str>, &'static str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in text.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if !quoted && b == separator {
            // `separator` is ASCII, so `i` is a character boundary.
            parts.push(text.get(start..i).unwrap_or_default());
            start = i.saturating_add(1);
        }
    }
    if quoted {
        return Err("a quoted string is not closed");
    }
    parts.push(text.get(start..).unwrap_or_default());
    Ok(parts)
}

/// The inside of a quoted string whose opening quote is already stripped: `rest` must end at its
/// closing quote, with no other unescaped quote and no control character but tab
/// (RFC 9110, section 5.6.4). Escapes are left in place.
fn quoted_string(rest: &str) -> Option<&str> {
    let mut escaped = false;
    for (i, b) in rest.bytes().enumerate() {
        if b.is_ascii_control() && b != b'\t' {
            return None;
        }
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            // The closing quote must end the value.
            return (i.saturating_add(1) == rest.len())
                .then(|| rest.get(..i))
                .flatten();
        }
    }
    None
}

/// Whether `b` may appear in an HTTP token (RFC 9110, section 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Reads one hop: `Some(address)`, or `None` for `unknown` and obfuscated identifiers (which
/// only `Forwarded` allows). Ports are accepted and dropped (`203.0.113.9:443`,
/// `[2001:db8::1]:443`, and in `Forwarded` the obfuscated `203.0.113.9:_p1` of RFC 7239); a
/// port that is not one (`:99999`, `:http`) makes the hop malformed.
fn read_hop(header: ForwardedHeader, hop: &str) -> Result<Option<IpAddr>, ClientIpError> {
    let name = header.name();
    let bad = |source| ClientIpError::BadAddress {
        header: name,
        hop: shorten(hop),
        source,
    };
    if header == ForwardedHeader::Forwarded {
        // A hidden node, with or without a port: `unknown` (any case) or `_obfuscated`.
        let (node, port) = hop.split_once(':').unwrap_or((hop, ""));
        if node.eq_ignore_ascii_case("unknown") || node.starts_with('_') {
            let hidden = (node.eq_ignore_ascii_case("unknown") || is_obfuscated(node))
                && ((port.is_empty() && !hop.ends_with(':')) || is_port(header, port));
            return if hidden {
                Ok(None)
            } else {
                Err(bad(AddressError::Invalid { text: shorten(hop) }))
            };
        }
    }
    let addr_text = if let Some(rest) = hop.strip_prefix('[') {
        // Brackets hold an IPv6 address, whose text always has a `:`.
        let Some((inner, after)) = rest
            .split_once(']')
            .filter(|(inner, _)| inner.contains(':'))
        else {
            return Err(bad(AddressError::Invalid { text: shorten(hop) }));
        };
        if !after.is_empty() && !after.strip_prefix(':').is_some_and(|p| is_port(header, p)) {
            return Err(bad(AddressError::Invalid { text: shorten(hop) }));
        }
        inner
    } else if let Some((host, port)) = hop.rsplit_once(':')
        && !host.contains(':')
    {
        // `a.b.c.d:port`; a bare IPv6 address has more than one colon.
        if !is_port(header, port) {
            return Err(bad(AddressError::Invalid { text: shorten(hop) }));
        }
        host
    } else {
        hop
    };
    parse_ip(addr_text).map(Some).map_err(bad)
}

/// Whether `text` is a port number (1 to 5 digits, at most 65535) or, in `Forwarded`, an
/// obfuscated port (`_` then letters, digits, `.`, `_`, `-`).
fn is_port(header: ForwardedHeader, text: &str) -> bool {
    let number = (1..=5).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u16>().is_ok();
    number || (header == ForwardedHeader::Forwarded && is_obfuscated(text))
}

/// Whether `text` is an obfuscated node or port of RFC 7239: `_` then one or more letters,
/// digits, `.`, `_` or `-`.
fn is_obfuscated(text: &str) -> bool {
    text.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(
            ["10.0.0.0/8", "2001:db8:ffff::/48"]
                .into_iter()
                .map(|t| t.parse().unwrap()),
            header,
        )
    }

    fn ip(text: &str) -> IpAddr {
        parse_ip(text).unwrap()
    }

    #[test]
    fn walks_from_the_right_skipping_trusted_hops() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let got = resolve_client_ip(
            ip("10.0.0.1"),
            &["6.6.6.6, 203.0.113.9", "10.2.2.2, 10.3.3.3"],
            &p,
        )
        .unwrap();
        assert_eq!(got.addr, ip("203.0.113.9"));
        assert_eq!(
            got.source,
            ClientSource::Header {
                header: ForwardedHeader::XForwardedFor,
                skipped: 3
            }
        );
    }

    #[test]
    fn mapped_peer_and_hops_are_canonical() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let got = resolve_client_ip(ip("::ffff:10.0.0.1"), &["::ffff:203.0.113.9"], &p).unwrap();
        assert_eq!(got.addr, ip("203.0.113.9"));
    }

    #[test]
    fn all_trusted_hops_give_the_leftmost() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let got = resolve_client_ip(ip("10.0.0.1"), &["10.9.9.9, 10.0.0.2"], &p).unwrap();
        assert_eq!(got.addr, ip("10.9.9.9"));
    }

    #[test]
    fn trusted_peer_without_header_is_the_client() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let got = resolve_client_ip(ip("10.0.0.1"), &[], &p).unwrap();
        assert_eq!(got.source, ClientSource::TrustedPeerWithoutHeader);
        assert_eq!(got.addr, ip("10.0.0.1"));
        // A header line that is there but empty is not "no header".
        assert!(resolve_client_ip(ip("10.0.0.1"), &[""], &p).is_err());
    }

    #[test]
    fn ports_are_dropped_but_bad_ports_are_errors() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let got = resolve_client_ip(ip("10.0.0.1"), &["[2001:db8::1]:443"], &p).unwrap();
        assert_eq!(got.addr, ip("2001:db8::1"));
        let got = resolve_client_ip(ip("10.0.0.1"), &["203.0.113.9:8080"], &p).unwrap();
        assert_eq!(got.addr, ip("203.0.113.9"));
        assert!(resolve_client_ip(ip("10.0.0.1"), &["203.0.113.9:http"], &p).is_err());
        assert!(resolve_client_ip(ip("10.0.0.1"), &["[2001:db8::1"], &p).is_err());
        let got = resolve_client_ip(ip("10.0.0.1"), &["203.0.113.9:65535"], &p).unwrap();
        assert_eq!(got.addr, ip("203.0.113.9"));
        // Five digits, but no port: the header is malformed, not the port dropped.
        for bad in [
            "203.0.113.9:65536",
            "203.0.113.9:99999",
            "[2001:db8::1]:70000",
        ] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[bad], &p).is_err(),
                "{bad}"
            );
        }
        // Obfuscated ports are `Forwarded` syntax only.
        assert!(resolve_client_ip(ip("10.0.0.1"), &["203.0.113.9:_p1"], &p).is_err());
        let p = proxies(ForwardedHeader::Forwarded);
        for good in [r#"for="203.0.113.9:_p1""#, r#"for="[2001:db8::1]:_a.b-c_""#] {
            let got = resolve_client_ip(ip("10.0.0.1"), &[good], &p).unwrap();
            assert!(
                got.addr.is_ipv4() || got.addr == ip("2001:db8::1"),
                "{good}"
            );
        }
        for bad in [
            r#"for="203.0.113.9:_""#,
            r#"for="203.0.113.9:_a b""#,
            r#"for="[2001:db8::1]:99999""#,
        ] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[bad], &p).is_err(),
                "{bad}"
            );
        }
    }

    /// A hidden node is `unknown` (any case) or `_` and letters, digits, `.`, `_`, `-`, with or
    /// without a port; anything else starting with `_` is malformed, even left of the client.
    /// Parameter names are tokens; empty parameters are allowed (RFC 7239, section 4).
    #[test]
    fn forwarded_hidden_nodes_and_parameters_follow_rfc_7239() {
        let p = proxies(ForwardedHeader::Forwarded);
        for good in [
            r#"for="_gazonk", for=203.0.113.9"#,
            r#"for=Unknown, for=203.0.113.9"#,
            r#"for="unknown:443", for=203.0.113.9"#,
            r#"for="_a.b-c_:_p1", for=203.0.113.9"#,
            "for=203.0.113.9;;proto=https",
            ";for=203.0.113.9",
        ] {
            let got = resolve_client_ip(ip("10.0.0.1"), &[good], &p).unwrap();
            assert_eq!(got.addr, ip("203.0.113.9"), "{good}");
        }
        for bad in [
            r#"for="_a b", for=203.0.113.9"#,
            "for=_!!, for=203.0.113.9",
            "for=_, for=203.0.113.9",
            r#"for="_x:99999", for=203.0.113.9"#,
            r#"for="unknown:http", for=203.0.113.9"#,
            "for =6.6.6.6;for=203.0.113.9",
            "for=203.0.113.9;=x",
            "for=203.0.113.9;a b=c",
        ] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[bad], &p).is_err(),
                "{bad}"
            );
        }
    }

    /// Brackets are for IPv6 only, and in `Forwarded` an IPv6 node (with its `:` and `[]`,
    /// which a token cannot hold) must be quoted (RFC 7239, section 6).
    #[test]
    fn brackets_hold_ipv6_only_and_forwarded_quotes_it() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        for bad in ["[203.0.113.9]", "[203.0.113.9]:443"] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[bad], &p).is_err(),
                "{bad}"
            );
        }
        let got = resolve_client_ip(ip("10.0.0.1"), &["[::ffff:203.0.113.9]"], &p).unwrap();
        assert_eq!(got.addr, ip("203.0.113.9"));
        let p = proxies(ForwardedHeader::Forwarded);
        for bad in [
            "for=[2001:db8::1]",
            "for=[2001:db8::1]:443",
            "for=2001:db8::1",
            r#"for="[203.0.113.9]""#,
            "for=203.0.113.9:443",
        ] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[bad], &p).is_err(),
                "{bad}"
            );
        }
        for good in [
            r#"for="[2001:db8::1]""#,
            r#"for="203.0.113.9:443""#,
            "for=203.0.113.9",
        ] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[good], &p).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn malformed_anywhere_is_an_error_even_left_of_the_client() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        for bad in [
            "garbage, 203.0.113.9",
            "203.0.113.9,",
            "unknown",
            "fe80::1%eth0",
        ] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[bad], &p).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn forwarded_header_reads_for_values_and_refuses_hidden_hops() {
        let p = proxies(ForwardedHeader::Forwarded);
        let got = resolve_client_ip(
            ip("10.0.0.1"),
            &[r#"for=_hidden, For="[2001:db8:cafe::17]:4711";proto=https, for=10.1.1.1;by=10.0.0.1"#],
            &p,
        )
        .unwrap();
        assert_eq!(got.addr, ip("2001:db8:cafe::17"));
        assert!(matches!(
            resolve_client_ip(ip("10.0.0.1"), &["for=unknown"], &p),
            Err(ClientIpError::Hidden { .. })
        ));
        assert!(resolve_client_ip(ip("10.0.0.1"), &["proto=https"], &p).is_err());
        assert!(resolve_client_ip(ip("10.0.0.1"), &[r#"for="203.0.113.9"#], &p).is_err());
    }

    /// Commas, semicolons and `=` inside a quoted value (a `host` holds the client's Host header,
    /// whose text the client chose) are text, not separators: they cannot smuggle a `for=`.
    #[test]
    fn quoted_values_of_any_parameter_cannot_split_the_header() {
        let p = proxies(ForwardedHeader::Forwarded);
        for header in [
            r#"for=6.6.6.6;host="x,for=203.0.113.9;a=""#,
            r#"for=6.6.6.6;host="x,for=203.0.113.9;a=";proto=https"#,
            r#"for=6.6.6.6;host="a;for=203.0.113.9""#,
            r#"for=6.6.6.6;host="a\",for=203.0.113.9""#,
            r#"for=6.6.6.6;host="a\\", for=10.0.0.3"#,
        ] {
            let got = resolve_client_ip(ip("10.0.0.1"), &[header], &p).unwrap();
            assert_eq!(got.addr, ip("6.6.6.6"), "{header}");
        }
        for bad in [
            // An unterminated quoted string, with or without an escaped quote.
            r#"for=6.6.6.6;host="x, for=203.0.113.9"#,
            r#"for=6.6.6.6;host="x\", for=203.0.113.9"#,
            // Text after a closing quote, and a quote inside a token.
            r#"for=6.6.6.6;host="x"y, for=203.0.113.9"#,
            r#"for=6.6.6.6;host=x"y", for=203.0.113.9"#,
            // An unquoted value that is not a token, for any parameter.
            "for=6.6.6.6;host=a b, for=203.0.113.9",
            "for=6.6.6.6;host=, for=203.0.113.9",
            // A control character in a quoted value.
            "for=6.6.6.6;host=\"a\u{1}b\", for=203.0.113.9",
        ] {
            assert!(
                resolve_client_ip(ip("10.0.0.1"), &[bad], &p).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn too_many_hops_are_refused() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let long = vec!["10.0.0.9"; MAX_HOPS + 1].join(",");
        assert!(matches!(
            resolve_client_ip(ip("10.0.0.1"), &[&long], &p),
            Err(ClientIpError::TooManyHops { .. })
        ));
    }
}
