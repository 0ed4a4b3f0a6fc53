//! `whale-security preview --db FILE [--store ID] UPDATE.json [--ip IP]...`: what an update
//! would do, without writing it.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use whale_security::allowlist::{Surface, parse_ip};
use whale_security::id::UserId;
use whale_security::service::{ChangeRequest, Client, ServiceError};
use whale_security::settings::SettingsUpdate;

use crate::{common, db};

#[derive(clap::Args)]
pub struct Args {
    /// The database file.
    #[arg(long)]
    db: PathBuf,
    /// The store; may be left out when the database holds one store.
    #[arg(long)]
    store: Option<String>,
    /// A client address to test against the new allowlist; repeat for more.
    #[arg(long = "ip")]
    ips: Vec<String>,
    /// The surface the tested clients arrive on.
    #[arg(long, default_value = "api")]
    surface: Surface,
    /// The instant to decide at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The update file (JSON), as `settings update` takes it.
    file: PathBuf,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let update = SettingsUpdate::from_json(&common::read(&args.file)?)
        .map_err(|e| format!("{} is not a valid update: {e}", args.file.display()))?;
    let clients = args
        .ips
        .iter()
        .map(|text| {
            parse_ip(text)
                .map(|ip| Client {
                    ip,
                    surface: args.surface,
                })
                .map_err(|e| format!("--ip: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let service = db::open(&args.db)?;
    let store_id = db::store_id(&service, args.store.as_deref())?;
    let actor = UserId::new("user_preview").map_err(|e| e.to_string())?;
    let request = ChangeRequest::new(actor, common::now(args.now.as_deref())?);
    let preview = match service.preview(&store_id, &update, Some(&clients), &request) {
        Ok(preview) => preview,
        Err(ServiceError::Rejected(errors)) => {
            for e in errors.as_slice() {
                outln!("error: {e}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.to_string()),
    };
    let cut_off = preview.denied_clients.iter().any(|d| !d.denied_before);
    if args.json {
        let out = json!({
            "store_id": store_id,
            "version": preview.version,
            "changes": preview.changes,
            "denied": preview.denied_clients.iter().map(|d| json!({
                "ip": d.client.ip.to_string(),
                "surface": d.client.surface,
                "denied_before": d.denied_before,
            })).collect::<Vec<_>>(),
        });
        outln!("{out}");
    } else {
        outln!("{store_id} at version {}", preview.version);
        for change in &preview.changes {
            outln!("change\t{}\t{}\t{}", change.path, change.old, change.new);
        }
        for d in &preview.denied_clients {
            let kind = if d.denied_before {
                "still denied"
            } else {
                "newly denied"
            };
            outln!("deny\t{}\t{}\t{kind}", d.client.ip, d.client.surface);
        }
    }
    Ok(if cut_off {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
