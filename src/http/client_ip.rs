//! The client address of a request that may have come through proxies.
//!
//! This is the allowlist module's resolver ([`resolve_client_ip`]) applied to the values of the
//! one header the trusted proxies write: an untrusted peer is the client whatever the headers
//! say; a trusted peer's header is walked from the right past trusted hops; anything that
//! cannot be read is an error, and the request is denied.

use std::net::IpAddr;

use crate::allowlist::resolve_client_ip;
pub use crate::allowlist::{ClientIpError, ForwardedHeader, MAX_HOPS, TrustedProxies};

/// Resolves the client address from the socket `peer` and the values of the header the trusted
/// proxies write (each header line as received, in order).
///
/// # Errors
///
/// A [`ClientIpError`] when the peer is trusted and its header cannot be read in full, or the
/// walk reaches a hidden hop.
pub fn resolve(
    peer: IpAddr,
    header_values: &[&str],
    proxies: &TrustedProxies,
) -> Result<IpAddr, ClientIpError> {
    resolve_client_ip(peer, header_values, proxies).map(|client| client.addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::{parse_cidr, parse_ip};

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
