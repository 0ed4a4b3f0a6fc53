//! `whale-security rotation --settings FILE [--now T]`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON).
    #[arg(long)]
    settings: PathBuf,
    /// The instant to decide at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
}

/// Prints `{"due": bool, "next_rotation": T | null}` for the settings' rotation policy, counting
/// from `last_rotation` (or the stored `next_rotation` when keys never rotated). Exit 0 when a
/// rotation is due, 1 when it is not (or rotation is disabled).
pub fn run(args: &Args) -> Result<ExitCode, String> {
    let settings = common::load_settings(&args.settings)?;
    let now = common::now(args.now.as_deref())?;
    let decision = settings
        .api_key_rotation()
        .due_at(now)
        .map_err(|e| format!("{}: {e}", args.settings.display()))?;
    let next = decision.next_rotation().map(whale_security::time::format);
    outln!(
        "{}",
        json!({"due": decision.is_due(), "next_rotation": next}).to_string()
    );
    Ok(if decision.is_due() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
