//! `whale-security rotation --settings FILE [--now T]`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use whale_security::api_keys::{RotationDue, ScheduleBasis};

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

/// Prints `{"due": bool, "next_rotation": T | null, "basis": {"from": KIND, "at": T | null} |
/// null}` for the settings' rotation policy, counting from `last_rotation` (or the stored
/// `next_rotation` when keys never rotated); `basis` says which, or why the rotation is due at
/// once (`recorded_in_future`, `never_scheduled`). Exit 0 when a rotation is due, 1 when it is
/// not (or rotation is disabled).
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
        json!({"due": decision.is_due(), "next_rotation": next, "basis": basis(&decision)})
            .to_string()
    );
    Ok(if decision.is_due() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the decision counts from, as `{"from": KIND, "at": T | null}`.
fn basis(decision: &RotationDue) -> Value {
    let basis = match decision {
        RotationDue::Due { basis, .. } | RotationDue::NotDue { basis, .. } => basis,
        _ => return Value::Null,
    };
    let (from, at) = match *basis {
        ScheduleBasis::LastRotation(at) => ("last_rotation", Some(at)),
        ScheduleBasis::KeysRotatedAt(at) => ("keys_rotated_at", Some(at)),
        ScheduleBasis::ScheduledAt(at) => ("scheduled_at", Some(at)),
        ScheduleBasis::OldestKeyCreatedAt(at) => ("oldest_key_created_at", Some(at)),
        ScheduleBasis::NeverScheduled => ("never_scheduled", None),
        ScheduleBasis::RecordedInFuture(at) => ("recorded_in_future", Some(at)),
        _ => ("other", None),
    };
    json!({"from": from, "at": at.map(whale_security::time::format)})
}
