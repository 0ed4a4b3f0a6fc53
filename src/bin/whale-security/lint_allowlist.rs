//! `whale-security lint-allowlist FILE [--now RFC3339] [--json]`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use whale_security::SecuritySettings;
use whale_security::allowlist::{IpAllowlist, lint_allowlist};

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// A settings file (JSON), an allowlist object alone (JSON with `entries`, as `GET
    /// .../ip-allowlist` answers), or a plain list of CIDRs, one per line, taken as an enabled
    /// list on both surfaces; blank lines are skipped and `#` starts a comment at the start of
    /// a line or after a space or tab (`203.0.113.0/24  # office`).
    file: PathBuf,
    /// The instant to review at, for expired entries (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// One JSON object per warning instead of text: `code` (stable: enabled_empty, duplicate,
    /// covered, over_broad, reserved_range, expired), `entries` and `cidrs` involved (the
    /// reported entry first), and `message`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let now = common::now(args.now.as_deref())?;
    let text = common::read(&args.file)?;
    // The list under review is the subject: one that cannot be read is a negative answer.
    let list = if text.trim_start().starts_with('{') {
        let read = if is_allowlist_object(&text) {
            IpAllowlist::from_json(&text)
        } else {
            SecuritySettings::from_json(&text).map(|s| s.ip_allowlist().clone())
        };
        match read {
            Ok(list) => list,
            Err(errors) => return Ok(common::print_errors(errors.as_slice())),
        }
    } else {
        match plain_list(&text, now) {
            Ok(list) => list,
            Err(errors) => {
                for e in errors {
                    eprintln!("error: {e}");
                }
                return Ok(ExitCode::from(1));
            }
        }
    };
    let warnings = lint_allowlist(&list, now);
    for w in &warnings {
        if args.json {
            let cidrs: Vec<String> = w.cidrs().iter().map(ToString::to_string).collect();
            outln!(
                "{}",
                json!({
                    "code": w.code(),
                    "entries": w.entries(),
                    "cidrs": cidrs,
                    "message": w.to_string(),
                })
            );
        } else {
            outln!("warning: {w}");
        }
    }
    Ok(if warnings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether `text` is a JSON object with `entries` at its top level and no `ip_allowlist`: an
/// allowlist on its own rather than settings. Anything unreadable is left to the settings
/// reader, which says what is wrong and where.
fn is_allowlist_object(text: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .is_ok_and(|map| map.contains_key("entries") && !map.contains_key("ip_allowlist"))
}

/// A list of CIDRs, one per line, as an enabled list on both surfaces with ids `ip_lineN`; or
/// every line that is not a CIDR, as `line N: MESSAGE`, in order.
fn plain_list(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<IpAllowlist, Vec<String>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line
            .get(..common::comment_start(line.as_bytes()))
            .unwrap_or(line);
        let line = common::trim_blanks(line);
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        match whale_security::allowlist::parse_cidr(line) {
            Ok(cidr) => entries.push(json!({
                "id": format!("ip_line{n}"),
                "cidr": cidr.to_string(),
                "added_at": whale_security::time::format(now),
            })),
            Err(e) => errors.push(format!("line {n}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Read as any allowlist is, so a plain list is held to the same limits (at most
    // `IpAllowlist::MAX_ENTRIES` entries) as one written as JSON.
    let list = json!({
        "enabled": true, "applies_to": ["api", "dashboard"], "entries": entries
    });
    IpAllowlist::from_json(&list.to_string())
        .map_err(|errors| errors.as_slice().iter().map(ToString::to_string).collect())
}
