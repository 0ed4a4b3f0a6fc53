//! `whale-security settings import|show|update --db FILE ...`: a store's settings in a database.

use std::path::PathBuf;
use std::process::ExitCode;

use whale_security::SecuritySettings;
use whale_security::allowlist::parse_ip;
use whale_security::id::UserId;
use whale_security::service::{ChangeRequest, ServiceError};
use whale_security::store::Version;

use crate::common::SurfaceArg;
use crate::{common, db};

#[derive(clap::Subcommand)]
pub enum Args {
    /// Create a store's settings in the database from a settings file (creating the database
    /// when missing). Exit 1, printing every error with its field path, when the file is not
    /// valid settings; 2 when the store already exists.
    Import {
        /// The database file.
        #[arg(long)]
        db: PathBuf,
        /// Who is recorded in the audit log; the file's `updated_by` when absent.
        #[arg(long)]
        actor: Option<String>,
        /// The instant recorded (RFC 3339); the system clock when absent.
        #[arg(long)]
        now: Option<String>,
        /// The settings file (JSON).
        file: PathBuf,
    },
    /// Print a store's settings and their version as JSON.
    Show {
        /// The database file.
        #[arg(long)]
        db: PathBuf,
        /// The store; may be left out when the database holds one store.
        #[arg(long)]
        store: Option<String>,
    },
    /// Apply an update (the API's PUT body) to a store's settings and record it in the audit log.
    ///
    /// Exit 1, printing every error with its field path, when the update is invalid or would
    /// leave the settings invalid; 2 when it cannot run (such as a version conflict).
    Update {
        /// The database file.
        #[arg(long)]
        db: PathBuf,
        /// The store; may be left out when the database holds one store.
        #[arg(long)]
        store: Option<String>,
        /// Who makes the change (a `user_` id), recorded in the audit log.
        #[arg(long)]
        actor: String,
        /// Apply only if the settings are still at this version (as `settings show` printed; not
        /// an audit entry's sequence number).
        #[arg(long)]
        if_version: Option<u64>,
        /// The client address the change comes from (on --surface), for the lockout guard: a
        /// change after which the allowlist would deny it is refused.
        #[arg(long = "from", value_name = "IP")]
        from: Option<String>,
        /// The surface --from arrives on.
        #[arg(
            long,
            value_enum,
            ignore_case = true,
            default_value = "api",
            requires = "from"
        )]
        surface: SurfaceArg,
        /// Apply the change even if it would block the actor (2FA) or lock out --from.
        #[arg(long)]
        force: bool,
        /// The instant recorded (RFC 3339); the system clock when absent.
        #[arg(long)]
        now: Option<String>,
        /// The update file (JSON).
        file: PathBuf,
    },
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    match args {
        Args::Import {
            db,
            actor,
            now,
            file,
        } => {
            let settings = match SecuritySettings::from_json(&common::read(file)?) {
                Ok(settings) => settings,
                Err(errors) => return Ok(common::print_errors(errors.as_slice())),
            };
            let actor = match actor {
                Some(text) => UserId::new(text.as_str()).map_err(|e| format!("--actor: {e}"))?,
                None => settings.updated_by().clone(),
            };
            let request = ChangeRequest::new(actor, common::now(now.as_deref())?);
            let store_id = settings.store_id().clone();
            let service = db::create(db)?;
            let committed = service
                .create_settings(settings, &request)
                .map_err(|e| e.to_string())?;
            outln!("created {store_id} at version {}", committed.version);
            Ok(ExitCode::SUCCESS)
        }
        Args::Show { db, store } => {
            let service = db::open(db)?;
            let store_id = db::store_id(&service, store.as_deref())?;
            let read = db::settings(&service, &store_id)?;
            // Written by hand so the document keeps its field order.
            outln!(
                "{{\n  \"version\": {},\n  \"settings\": {}\n}}",
                read.version,
                read.value.to_json_pretty().replace('\n', "\n  ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Args::Update {
            db,
            store,
            actor,
            if_version,
            from,
            surface,
            force,
            now,
            file,
        } => {
            let update = match common::read_update(file)? {
                Ok(update) => update,
                Err(errors) => return Ok(common::print_errors(&errors)),
            };
            let actor = UserId::new(actor.as_str()).map_err(|e| format!("--actor: {e}"))?;
            let mut request = ChangeRequest::new(actor, common::now(now.as_deref())?);
            if let Some(text) = from {
                let ip = parse_ip(text).map_err(|e| format!("--from: {e}"))?;
                request = request.from_client(ip, (*surface).into());
            }
            if *force {
                request = request.force();
            }
            let service = db::open(db)?;
            let store_id = db::store_id(&service, store.as_deref())?;
            let expected = match if_version {
                Some(v) => Version::new(*v),
                None => db::settings(&service, &store_id)?.version,
            };
            match service.update(&store_id, expected, &update, &request) {
                Ok(updated) => {
                    for change in &updated.changes {
                        outln!("{}", common::change_line(change));
                    }
                    match updated.committed {
                        Some(_) => outln!("{store_id} is at version {}", updated.version),
                        None => {
                            outln!("no change; {store_id} stays at version {}", updated.version)
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(ServiceError::Rejected(errors)) => Ok(common::print_errors(errors.as_slice())),
                Err(e @ (ServiceError::WouldLockOut { .. } | ServiceError::WouldBlockActor(_))) => {
                    Err(format!("{e} (--force)"))
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}
