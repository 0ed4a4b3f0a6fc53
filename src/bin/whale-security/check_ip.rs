//! `whale-security check-ip --settings FILE [--surface S] [--json] [IP...]`.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use whale_security::allowlist::{
    CompiledAllowlist, IpDecision, NotEnforcedReason, Surface, parse_ip,
};

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON).
    #[arg(long)]
    settings: PathBuf,
    /// The surface the requests arrive on.
    #[arg(long, default_value = "api")]
    surface: Surface,
    /// One JSON object per address instead of text.
    #[arg(long)]
    json: bool,
    /// The instant to decide at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// Client addresses; read from standard input, one per line, when none are given.
    ips: Vec<String>,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let settings = common::load_settings(&args.settings)?;
    let now = common::now(args.now.as_deref())?;
    let list = CompiledAllowlist::new(settings.ip_allowlist());
    let mut all_allowed = true;
    let mut answer = |text: &str| {
        let line = match parse_ip(text) {
            Err(e) => {
                all_allowed = false;
                if args.json {
                    json!({"ip": text, "error": e.to_string()}).to_string()
                } else {
                    format!("{text}\terror\t{e}")
                }
            }
            Ok(ip) => {
                let decision = list.check_ip(ip, args.surface, now);
                all_allowed &= decision.permits();
                render(text, &decision, args.json)
            }
        };
        println!("{line}");
    };
    if args.ips.is_empty() {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| format!("cannot read standard input: {e}"))?;
            let text = line.trim();
            if !text.is_empty() && !text.starts_with('#') {
                answer(text);
            }
        }
    } else {
        args.ips.iter().for_each(|ip| answer(ip));
    }
    Ok(if all_allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
        (Some(e), _) => format!("{text}\tallow\t{}\t{}\t{}", e.id, e.cidr, e.label.as_str()),
        (None, Some(reason)) => format!("{text}\t{outcome}\t{reason}"),
        (None, None) => format!("{text}\t{outcome}"),
    }
}
