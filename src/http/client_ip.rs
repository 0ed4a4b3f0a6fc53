//! The client address of a request that may have come through proxies.
//!
//! SHORTCOMING: this is the HTTP module's own minimal resolver, written while the allowlist
//! module's `resolve_client_ip` (same inputs: the socket peer, the values of the one header the
//! trusted proxies write, and the trusted networks) was being built in parallel. It reads
//! `X-Forwarded-For` and RFC 7239 `Forwarded` `for=` parameters, walks from the right and fails
//! closed on anything it cannot read, but it matches trusted proxies by a linear scan and does not
//! report how the address was found. Replacing [`resolve`]'s body with a call to the allowlist
//! module's resolver is the whole swap: callers only see [`TrustedProxies`] and [`resolve`].

use std::net::IpAddr;

use crate::allowlist::{Cidr, parse_ip};

/// The most hops read from a forwarding header; longer chains are refused.
pub const MAX_HOPS: usize = 64;

/// Which header the trusted proxies write. Only that one is read; the other is ignored, since
/// any client can send it.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, in lower case as HTTP/2 writes it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// The proxies in front of the service and the header they write.
///
/// With no networks (the default) headers are never read and the socket peer is the client.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<Cidr>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Proxies at `networks`, writing `header`.
    pub fn new(networks: impl IntoIterator<Item = Cidr>, header: ForwardedHeader) -> Self {
        Self {
            networks: networks.into_iter().collect(),
            header,
        }
    }

    /// Whether `ip` is a trusted proxy.
    #[must_use]
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The header these proxies write.
    #[must_use]
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }
}

/// Why the client address could not be resolved. The request must be denied.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIpError {
    /// A hop of the header is not an address.
    #[error("{header} hop `{hop}` is not a valid address")]
    BadAddress {
        /// The header's name.
        header: &'static str,
        /// The hop's text, shortened.
        hop: String,
    },
    /// The header is not well formed (empty element, no `for=` in a `Forwarded` element).
    #[error("{header} header is malformed: {problem}")]
    Malformed {
        /// The header's name.
        header: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// More hops than [`MAX_HOPS`].
    #[error("{header} has more than {max} hops")]
    TooManyHops {
        /// The header's name.
        header: &'static str,
        /// [`MAX_HOPS`].
        max: usize,
    },
}

/// Resolves the client address from the socket `peer` and the values of the header the trusted
/// proxies write (each header line as received, in order).
///
/// An untrusted peer is the client, whatever the headers say. A trusted peer's header is walked
/// from the right, skipping trusted hops; the first untrusted hop is the client. With every hop
/// trusted, the leftmost one is the client; with no header, the peer is.
///
/// # Errors
///
/// A [`ClientIpError`] when the peer is trusted and its header cannot be read in full.
pub fn resolve(
    peer: IpAddr,
    header_values: &[&str],
    proxies: &TrustedProxies,
) -> Result<IpAddr, ClientIpError> {
    let peer = peer.to_canonical();
    if !proxies.trusts(peer) {
        return Ok(peer);
    }
    let header = proxies.header;
    let name = header.name();
    let mut hops = Vec::new();
    for value in header_values {
        for element in value.split(',') {
            if hops.len() == MAX_HOPS {
                return Err(ClientIpError::TooManyHops {
                    header: name,
                    max: MAX_HOPS,
                });
            }
            hops.push(hop(header, element.trim())?);
        }
    }
    let mut client = peer;
    for ip in hops.into_iter().rev() {
        client = ip;
        if !proxies.trusts(ip) {
            break;
        }
    }
    Ok(client)
}

/// The address of one element of the header.
fn hop(header: ForwardedHeader, element: &str) -> Result<IpAddr, ClientIpError> {
    let name = header.name();
    if element.is_empty() {
        return Err(ClientIpError::Malformed {
            header: name,
            problem: "empty element",
        });
    }
    let text = match header {
        ForwardedHeader::XForwardedFor => element,
        ForwardedHeader::Forwarded => forwarded_for(element).ok_or(ClientIpError::Malformed {
            header: name,
            problem: "an element without a `for=` parameter",
        })?,
    };
    parse_ip(text).map_err(|_| ClientIpError::BadAddress {
        header: name,
        hop: crate::quote::shorten(text),
    })
}

/// The address of a `Forwarded` element's `for=` parameter: `for=192.0.2.1`,
/// `for="[2001:db8::1]:4711"`, `for="192.0.2.1:80"`. Obfuscated and `unknown` nodes are not
/// addresses, and the caller refuses them.
fn forwarded_for(element: &str) -> Option<&str> {
    let value = element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let value = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split_once(']').map(|(addr, _port)| addr);
    }
    // An IPv4 address may carry a port; an unbracketed IPv6 address may not.
    match value.split_once(':') {
        Some((addr, port)) if !port.contains(':') => Some(addr),
        _ => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::parse_cidr;

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new([parse_cidr("10.0.0.0/8").unwrap()], header)
    }

    fn ip(text: &str) -> IpAddr {
        parse_ip(text).unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_the_header_says() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        assert_eq!(
            resolve(ip("198.51.100.1"), &["10.0.0.1"], &p),
            Ok(ip("198.51.100.1"))
        );
        // Even an unreadable header is ignored when nobody trusted wrote it.
        assert_eq!(
            resolve(ip("198.51.100.1"), &["garbage,,"], &p),
            Ok(ip("198.51.100.1"))
        );
    }

    #[test]
    fn a_trusted_peer_header_is_walked_from_the_right_past_trusted_hops() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let got = resolve(ip("10.0.0.5"), &["1.1.1.1, 203.0.113.9, 10.0.0.7"], &p);
        assert_eq!(got, Ok(ip("203.0.113.9")));
        let lines = resolve(ip("10.0.0.5"), &["1.1.1.1", "203.0.113.9, 10.0.0.7"], &p);
        assert_eq!(lines, Ok(ip("203.0.113.9")));
    }

    #[test]
    fn a_trusted_peer_without_header_is_the_client() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        assert_eq!(resolve(ip("10.0.0.5"), &[], &p), Ok(ip("10.0.0.5")));
    }

    #[test]
    fn every_hop_trusted_gives_the_leftmost() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        assert_eq!(
            resolve(ip("10.0.0.5"), &["10.1.1.1, 10.2.2.2"], &p),
            Ok(ip("10.1.1.1"))
        );
    }

    #[test]
    fn malformed_headers_from_a_trusted_peer_fail_closed() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        for bad in [
            "203.0.113.9,,10.0.0.7",
            "0203.0.113.9",
            "unknown",
            "",
            " , ",
        ] {
            assert!(resolve(ip("10.0.0.5"), &[bad], &p).is_err(), "{bad:?}");
        }
        let long = vec!["203.0.113.9"; MAX_HOPS + 1].join(",");
        assert!(matches!(
            resolve(ip("10.0.0.5"), &[&long], &p),
            Err(ClientIpError::TooManyHops { .. })
        ));
    }

    #[test]
    fn forwarded_for_parameters_are_read_with_quotes_ports_and_brackets() {
        let p = proxies(ForwardedHeader::Forwarded);
        let peer = ip("10.0.0.5");
        assert_eq!(
            resolve(peer, &["for=203.0.113.9;proto=https"], &p),
            Ok(ip("203.0.113.9"))
        );
        assert_eq!(
            resolve(peer, &["for=\"[2001:db8::1]:4711\", for=10.0.0.7"], &p),
            Ok(ip("2001:db8::1"))
        );
        assert_eq!(
            resolve(peer, &["For=\"192.0.2.1:80\""], &p),
            Ok(ip("192.0.2.1"))
        );
        for bad in ["for=unknown", "for=_hidden", "proto=https", "for=\"[::1\""] {
            assert!(resolve(peer, &[bad], &p).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ipv4_mapped_peers_are_canonical() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        assert_eq!(
            resolve("::ffff:10.0.0.5".parse().unwrap(), &["203.0.113.9"], &p),
            Ok(ip("203.0.113.9"))
        );
    }
}
