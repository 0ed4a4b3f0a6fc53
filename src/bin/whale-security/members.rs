//! `whale-security members import --db FILE --store ID MEMBERS.json`: a store's team members.

use std::path::PathBuf;
use std::process::ExitCode;

use whale_security::id::UserId;
use whale_security::quote::{escape, shorten};
use whale_security::service::ChangeRequest;
use whale_security::settings::plain_serde_message;
use whale_security::two_factor::Member;

use crate::{common, db};

#[derive(clap::Subcommand)]
pub enum Args {
    /// Add or replace members (a JSON list of members with their factors), in one audited
    /// transaction. Exit 1, printing the error with its path, when the file is not a valid
    /// members list.
    Import {
        /// The database file.
        #[arg(long)]
        db: PathBuf,
        /// The store; may be left out when the database holds one store.
        #[arg(long)]
        store: Option<String>,
        /// Who is recorded in the audit log.
        #[arg(long, default_value = "user_cli")]
        actor: String,
        /// The instant recorded (RFC 3339); the system clock when absent.
        #[arg(long)]
        now: Option<String>,
        /// The members file (JSON list).
        file: PathBuf,
    },
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let Args::Import {
        db,
        store,
        actor,
        now,
        file,
    } = args;
    let text = common::read(file)?;
    let mut reader = serde_json::Deserializer::from_str(&text);
    let members: Vec<Member> = match serde_path_to_error::deserialize(&mut reader) {
        Ok(members) => members,
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!("{}: ", shorten(&path))
            };
            eprintln!(
                "error: {at}{}",
                escape(&plain_serde_message(&e.inner().to_string()))
            );
            return Ok(ExitCode::from(1));
        }
    };
    let actor = UserId::new(actor.as_str()).map_err(|e| format!("--actor: {e}"))?;
    let request = ChangeRequest::new(actor, common::now(now.as_deref())?);
    let service = db::open(db)?;
    let store_id = db::store_id(&service, store.as_deref())?;
    let written = service
        .put_members(&store_id, &members, &request)
        .map_err(|e| e.to_string())?;
    match written {
        Some(sequence) => outln!(
            "imported {} members into {store_id} (audit entry {sequence})",
            members.len()
        ),
        None => outln!("{} members of {store_id} unchanged", members.len()),
    }
    Ok(ExitCode::SUCCESS)
}
