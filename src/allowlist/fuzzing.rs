//! Entry points of the fuzz targets in `fuzz/`, kept in the library so that ordinary tests can
//! replay the saved corpus on stable Rust without cargo-fuzz.
//!
//! Each function takes arbitrary bytes and returns a [`Finding`] when a property fails; it never
//! panics on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::{
    CidrSet, ClientSource, ForwardedHeader, TrustedProxies, parse_cidr, parse_ip, resolve_client_ip,
};

/// A property that failed on a fuzz input.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("fuzz finding: {0}")]
pub struct Finding(String);

/// Parses the bytes (as UTF-8) as a CIDR and as an address; whatever parses must print to text
/// that parses back to the same value, and printing must be a fixed point.
///
/// # Errors
///
/// A [`Finding`] describing the round trip that failed.
pub fn parse_round_trip(data: &[u8]) -> Result<(), Finding> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    if let Ok(cidr) = parse_cidr(text) {
        let printed = cidr.to_string();
        let again = parse_cidr(&printed)
            .map_err(|e| Finding(format!("`{text}` printed as `{printed}`, which fails: {e}")))?;
        if again != cidr || again.to_string() != printed {
            return Err(Finding(format!("`{text}` -> `{printed}` -> `{again}`")));
        }
        if IpNet::from(cidr).trunc() != IpNet::from(cidr) {
            return Err(Finding(format!("`{text}` kept host bits")));
        }
    }
    if let Ok(ip) = parse_ip(text) {
        let printed = ip.to_string();
        let again = parse_ip(&printed)
            .map_err(|e| Finding(format!("`{text}` printed as `{printed}`, which fails: {e}")))?;
        if again != ip || ip.to_canonical() != ip {
            return Err(Finding(format!("`{text}` -> `{printed}` -> `{again}`")));
        }
    }
    Ok(())
}

/// Reads the bytes as a list of networks followed by addresses, and checks that [`CidrSet`]
/// agrees with a naive `ipnet` scan on each address (and on its IPv4-mapped form).
///
/// Layout: the first byte is the number of networks (mod 64); each network is one byte
/// (bit 0: IPv6; the rest is the prefix length) and 4 or 16 address bytes; the remaining bytes
/// are addresses, one flag byte then 4 or 16 bytes each. Missing bytes end the list early.
///
/// # Errors
///
/// A [`Finding`] naming the list and the address where the answers differ.
pub fn matcher_differential(data: &[u8]) -> Result<(), Finding> {
    let mut bytes = data.iter().copied();
    let mut take = |n: usize| -> Vec<u8> { (&mut bytes).take(n).collect() };
    let count = take(1).first().copied().unwrap_or(0) % 64;
    let mut nets = Vec::new();
    for _ in 0..count {
        let head = take(1).first().copied().unwrap_or(0);
        let (v6, len) = (head & 1 == 1, head >> 1);
        let net = if v6 {
            IpNet::new(IpAddr::V6(Ipv6Addr::from(to_u128(&take(16)))), len % 129)
        } else {
            IpNet::new(
                IpAddr::V4(Ipv4Addr::from(to_u128(&take(4)) as u32)),
                len % 33,
            )
        };
        if let Ok(net) = net
            && let Ok(cidr) = super::Cidr::from_net(net.trunc())
        {
            nets.push(cidr);
        }
    }
    let set = CidrSet::new(nets.iter().copied());
    let rest: Vec<u8> = bytes.collect();
    let mut probes: Vec<IpAddr> = Vec::new();
    let mut chunks = rest.chunks(17);
    for chunk in &mut chunks {
        let flag = chunk.first().copied().unwrap_or(0);
        let body = chunk.get(1..).unwrap_or(&[]);
        if flag & 1 == 1 {
            probes.push(IpAddr::V6(Ipv6Addr::from(to_u128(body))));
        } else {
            let v4 = Ipv4Addr::from(to_u128(body.get(..4).unwrap_or(body)) as u32);
            probes.push(IpAddr::V4(v4));
            probes.push(IpAddr::V6(v4.to_ipv6_mapped()));
        }
    }
    // The edges of every network too.
    for c in &nets {
        match c.net() {
            IpNet::V4(n) => {
                let (a, b) = (u32::from(n.network()), u32::from(n.broadcast()));
                for k in [a.wrapping_sub(1), a, b, b.wrapping_add(1)] {
                    probes.push(IpAddr::V4(Ipv4Addr::from(k)));
                }
            }
            IpNet::V6(n) => {
                let (a, b) = (u128::from(n.network()), u128::from(n.broadcast()));
                for k in [a.wrapping_sub(1), a, b, b.wrapping_add(1)] {
                    probes.push(IpAddr::V6(Ipv6Addr::from(k)));
                }
            }
        }
    }
    // The batch path too: the fuzz addresses come first, so its sample often finds the block
    // far from the list.
    let mut batch = Vec::new();
    set.contains_many(&probes, &mut batch);
    for (ip, found) in probes.into_iter().zip(batch) {
        let canonical = ip.to_canonical();
        let want = nets.iter().any(|c| IpNet::from(*c).contains(&canonical));
        if set.contains(ip) != want || found != want {
            let list: Vec<String> = nets.iter().map(ToString::to_string).collect();
            return Err(Finding(format!(
                "set of [{}] says {} alone and {found} in a batch for {ip}, a scan says {want}",
                list.join(", "),
                set.contains(ip)
            )));
        }
    }
    Ok(())
}

/// Reads the bytes as forwarding header lines sent by a trusted proxy and checks what
/// [`resolve_client_ip`] makes of them: an answer from a header hop is an address outside the
/// trusted proxies, one when every hop is trusted is a trusted one, every address is canonical
/// (never `::ffff:a.b.c.d`), and the same lines give the same answer again.
///
/// Then the bytes play the client's part in what the proxy writes: the proxy appends the client
/// it saw, `198.51.100.77` (in `Forwarded`, with the client's Host header as a quoted `host`
/// parameter, escaped as the grammar says), after the lines the client sent. Whatever the client
/// wrote, the answer is that address, or an error when its own lines are malformed: never an
/// address of its choosing.
///
/// Layout: the first byte picks the header (bit 0: `Forwarded`, else `X-Forwarded-For`); the
/// rest, as UTF-8 (lossily), is split at `\n` into header lines. The peer is `10.0.0.1`; the
/// trusted proxies are `10.0.0.0/8` and `fd00::/8`.
///
/// # Errors
///
/// A [`Finding`] naming the lines and the answer that breaks a property.
pub fn client_ip(data: &[u8]) -> Result<(), Finding> {
    let (head, rest) = data.split_first().unwrap_or((&0, &[]));
    let header = if head & 1 == 1 {
        ForwardedHeader::Forwarded
    } else {
        ForwardedHeader::XForwardedFor
    };
    let text = String::from_utf8_lossy(rest);
    let lines: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').collect()
    };
    let proxies = TrustedProxies::new(
        ["10.0.0.0/8", "fd00::/8"]
            .into_iter()
            .filter_map(|t| parse_cidr(t).ok()),
        header,
    );
    let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    appended_hop_wins(header, &text, &lines)?;
    let first = resolve_client_ip(peer, &lines, &proxies);
    let again = resolve_client_ip(peer, &lines, &proxies);
    let show = || format!("{header:?} {lines:?}");
    if first != again {
        return Err(Finding(format!("{}: {first:?}, then {again:?}", show())));
    }
    let Ok(client) = first else {
        return Ok(());
    };
    let trusted = proxies.trusts(client.addr);
    let consistent = match client.source {
        ClientSource::Header { .. } => !trusted,
        ClientSource::AllHopsTrusted { .. } | ClientSource::TrustedPeerWithoutHeader => trusted,
        ClientSource::UntrustedPeer => false,
    };
    if !consistent || client.addr.to_canonical() != client.addr {
        return Err(Finding(format!("{}: {client:?}", show())));
    }
    Ok(())
}

/// The second property of [`client_ip`]: the hop the trusted proxy appends wins.
fn appended_hop_wins(header: ForwardedHeader, text: &str, lines: &[&str]) -> Result<(), Finding> {
    let seen = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77));
    let appended = match header {
        ForwardedHeader::XForwardedFor => seen.to_string(),
        ForwardedHeader::Forwarded => {
            // A quoted string holds any visible character, space and tab; `"` and `\` escaped.
            let host: String = text
                .chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .flat_map(|c| match c {
                    '"' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            format!("for={seen};host=\"{host}\"")
        }
    };
    let proxies = TrustedProxies::new(parse_cidr("10.0.0.0/8").ok(), header);
    let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    // The proxy's line alone (in `Forwarded`, carrying the client's text in `host`), then after
    // the client's own lines.
    let alone = [appended.as_str()];
    let after: Vec<&str> = lines.iter().copied().chain(alone).collect();
    for (sent, must_resolve) in [(&alone[..], true), (&after[..], false)] {
        match resolve_client_ip(peer, sent, &proxies) {
            Ok(client) if client.addr == seen => {}
            Err(_) if !must_resolve => {}
            other => {
                return Err(Finding(format!(
                    "{header:?} {sent:?}: {other:?}, not {seen} as the proxy appended"
                )));
            }
        }
    }
    Ok(())
}

/// Big-endian bytes (at most 16) as a `u128`.
fn to_u128(bytes: &[u8]) -> u128 {
    bytes
        .iter()
        .take(16)
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
}
