//! `whale-security check-ip --settings FILE [--surface S] [--json] [--explain] [IP...]`, or
//! one request behind proxies: `--peer IP [--trusted-proxy CIDR]... [--forwarded-header H]
//! [--header VALUE]...`.

use std::io::{BufRead, Read};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use whale_security::allowlist::{
    ClientIp, ClientSource, CompiledAllowlist, IpAllowlist, IpDecision, NotEnforcedReason, Surface,
    TrustedProxies, explain, parse_cidr, parse_ip, resolve_client_ip,
};
use whale_security::quote::{escape, shorten};

use crate::common::{self, HeaderArg, SurfaceArg};

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON).
    #[arg(long)]
    settings: PathBuf,
    /// The surface the requests arrive on.
    #[arg(long, value_enum, ignore_case = true, default_value = "api")]
    surface: SurfaceArg,
    /// One JSON object per address instead of text.
    #[arg(long)]
    json: bool,
    /// Explain each answer: the canonical address, every matching and expired entry.
    #[arg(long)]
    explain: bool,
    /// The instant to decide at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// Decide one request whose socket peer is this address; its client address is resolved
    /// from the forwarded header when the peer is a trusted proxy.
    /// Client addresses cannot be given with it.
    // Refused in `run`, not with clap's `conflicts_with`: clap drops the `requires = "peer"` of
    // the proxy flags below when `peer` conflicts with a given argument, so `--header H
    // 1.2.3.4` would pass silently.
    #[arg(long)]
    peer: Option<String>,
    /// A trusted proxy network (repeatable).
    #[arg(long = "trusted-proxy", requires = "peer")]
    trusted_proxies: Vec<String>,
    /// The header the trusted proxies write (its name in any case).
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "x-forwarded-for",
        requires = "peer"
    )]
    forwarded_header: HeaderArg,
    /// One value of that header as received (repeatable, in order).
    #[arg(long = "header", requires = "peer")]
    header_values: Vec<String>,
    /// Client addresses; read from standard input, one per line, when none are given. At least
    /// one is needed. On standard input, blank lines are skipped and `#` starts a comment at the
    /// start of a line or after a space or tab (`203.0.113.9  # office`). A malformed address is
    /// answered with an `error` line in its place (exit 1), as an argument or as a line.
    #[arg(required = false)]
    ips: Vec<String>,
}

impl Args {
    fn surface(&self) -> Surface {
        self.surface.into()
    }
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let settings = common::load_settings(&args.settings)?;
    let now = common::now(args.now.as_deref())?;
    let source = settings.ip_allowlist();
    let list = CompiledAllowlist::new(source);
    if let Some(peer) = &args.peer {
        if !args.ips.is_empty() {
            return Err(
                "--peer decides one request: give its forwarded addresses with --header, not as \
                 arguments"
                    .into(),
            );
        }
        return run_request(args, peer, source, &list, now);
    }
    let mut all_allowed = true;
    let mut answered = false;
    // `unreadable` says why a line could not be read; `text` is then its lossy decoding.
    let mut answer = |text: &str, unreadable: Option<String>| {
        answered = true;
        let parsed = match unreadable {
            Some(why) => Err(why),
            None => parse_ip(text).map_err(|e| e.to_string()),
        };
        let line = match parsed {
            Err(e) => {
                all_allowed = false;
                if args.json {
                    json!({"ip": shorten(text), "error": e}).to_string()
                } else {
                    // The line as written, escaped (a tab in it must not add a column) and cut
                    // as the message cuts it.
                    format!("{}\terror\t{e}", shorten(text))
                }
            }
            Ok(ip) => {
                let decision = list.check_ip(ip, args.surface(), now);
                all_allowed &= decision.permits();
                let mut line = render(text, &decision, args.json);
                if args.explain {
                    // As written (parse_ip has already checked it), so a mapped form shows.
                    let raw = text.parse::<IpAddr>().unwrap_or(ip);
                    line = with_explanation(line, source, raw, args, now);
                }
                line
            }
        };
        outln!("{line}");
    };
    if args.ips.is_empty() {
        // Bytes, not text, per line: a line that is not UTF-8 is answered with an error of its
        // own, and the lines after it are still read.
        let mut input = std::io::stdin().lock();
        let mut bytes = Vec::new();
        let mut number: usize = 0;
        let failed = |e: std::io::Error| format!("cannot read standard input: {e}");
        loop {
            bytes.clear();
            let read = (&mut input)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut bytes)
                .map_err(failed)?;
            if read == 0 {
                break;
            }
            number = number.saturating_add(1);
            if bytes.len() > MAX_LINE && !bytes.ends_with(b"\n") {
                // No address is this long: answer the line without holding the rest of it.
                skip_line(&mut input).map_err(failed)?;
                let start = String::from_utf8_lossy(&bytes);
                answer(
                    common::trim_blanks(&start),
                    Some(format!("line {number} is longer than {MAX_LINE} bytes")),
                );
                continue;
            }
            let mut line = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            if number == 1 {
                line = line.strip_prefix(common::BOM.as_bytes()).unwrap_or(line);
            }
            // A comment is skipped whatever its encoding.
            line = line.get(..common::comment_start(line)).unwrap_or(line);
            let lossy = String::from_utf8_lossy(line);
            let text = common::trim_blanks(&lossy);
            if text.is_empty() {
                continue;
            }
            let unreadable = std::str::from_utf8(line)
                .err()
                .map(|e| format!("line {number} is not UTF-8 at byte {}", e.valid_up_to()));
            answer(text, unreadable);
        }
    } else {
        args.ips.iter().for_each(|ip| answer(ip, None));
    }
    if !answered {
        // Nothing was decided: exit 0 would claim every address was allowed.
        return Err(
            "no addresses given: pass them as arguments or one per line on standard \
             input"
                .into(),
        );
    }
    Ok(exit(all_allowed))
}

/// The longest line of standard input read as an address (with its comment).
const MAX_LINE: usize = 4096;

/// Reads past the end of the current line (or to the end of the input), keeping nothing.
fn skip_line(input: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => {
                input.consume(end.saturating_add(1));
                return Ok(());
            }
            None => {
                let len = buffer.len();
                input.consume(len);
            }
        }
    }
}

/// One request behind proxies: resolve the client address, then decide it. A header that
/// cannot be read is a denial (exit 1), as the library's callers must treat it.
fn run_request(
    args: &Args,
    peer: &str,
    source: &IpAllowlist,
    list: &CompiledAllowlist,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ExitCode, String> {
    let peer = parse_ip(peer).map_err(|e| format!("--peer: {e}"))?;
    let mut networks = Vec::new();
    for text in &args.trusted_proxies {
        networks.push(parse_cidr(text).map_err(|e| format!("--trusted-proxy: {e}"))?);
    }
    let proxies = TrustedProxies::new(networks, args.forwarded_header.into());
    let values: Vec<&str> = args.header_values.iter().map(String::as_str).collect();
    let client = match resolve_client_ip(peer, &values, &proxies) {
        Ok(client) => client,
        Err(e) => {
            if args.json {
                outln!(
                    "{}",
                    json!({"peer": peer.to_string(), "allowed": false, "decision": "deny", "error": e.to_string()})
                );
            } else {
                outln!("{peer}\tdeny\tclient address unresolved: {e}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    let how = resolution(&client, peer);
    let decision = list.check_ip(client.addr, args.surface(), now);
    let text = client.addr.to_string();
    let mut line = render(&text, &decision, args.json);
    if args.json {
        line = with_fields(
            &line,
            [("peer", json!(peer.to_string())), ("resolved", json!(how))],
        );
    } else {
        outln!("client {text}: {how}");
    }
    if args.explain {
        line = with_explanation(line, source, client.addr, args, now);
    }
    outln!("{line}");
    Ok(exit(decision.permits()))
}

fn resolution(client: &ClientIp, peer: IpAddr) -> String {
    match client.source {
        ClientSource::UntrustedPeer => {
            format!("the socket peer {peer} is not a trusted proxy, so headers were ignored")
        }
        ClientSource::TrustedPeerWithoutHeader => {
            format!("the socket peer {peer} is a trusted proxy but sent no forwarded header")
        }
        ClientSource::Header { header, skipped } => format!(
            "from {}, the first untrusted hop from the right after {skipped} trusted hop(s) (peer {peer} included)",
            header.name()
        ),
        ClientSource::AllHopsTrusted { header } => format!(
            "every hop of {} is a trusted proxy; the leftmost was taken",
            header.name()
        ),
        _ => "resolved".to_owned(),
    }
}

fn with_explanation(
    line: String,
    source: &IpAllowlist,
    ip: IpAddr,
    args: &Args,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let why = explain(source, ip, args.surface(), now).to_string();
    if args.json {
        return with_fields(&line, [("explanation", json!(why))]);
    }
    format!("{line}\n  because: {why}")
}

/// Adds fields to a one-line JSON object.
fn with_fields<const N: usize>(line: &str, fields: [(&str, serde_json::Value); N]) -> String {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(line) else {
        return line.to_owned();
    };
    for (k, v) in fields {
        map.insert(k.to_owned(), v);
    }
    serde_json::Value::Object(map).to_string()
}

fn exit(positive: bool) -> ExitCode {
    if positive {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn render(text: &str, decision: &IpDecision<'_>, as_json: bool) -> String {
    let (outcome, entry) = match decision {
        IpDecision::Allow { entry } => ("allow", Some(*entry)),
        IpDecision::Deny => ("deny", None),
        IpDecision::NotEnforced { .. } => ("not_enforced", None),
    };
    let reason = match decision {
        IpDecision::NotEnforced {
            reason: NotEnforcedReason::Disabled,
        } => Some("allowlist disabled"),
        IpDecision::NotEnforced { .. } => Some("surface not covered"),
        _ => None,
    };
    if as_json {
        return json!({
            "ip": text,
            "allowed": decision.permits(),
            "decision": outcome,
            "entry": entry.map(|e| e.id.as_str()),
            "cidr": entry.map(|e| e.cidr.to_string()),
        })
        .to_string();
    }
    match (entry, reason) {
        (Some(e), _) => format!(
            "{text}\tallow\t{}\t{}\t{}",
            e.id,
            e.cidr,
            escape(e.label.as_str())
        ),
        (None, Some(reason)) => format!("{text}\t{outcome}\t{reason}"),
        (None, None) => format!("{text}\t{outcome}"),
    }
}
