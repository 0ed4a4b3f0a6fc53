//! `whale-security keys issue|rotate --db FILE --store ID`: API keys of a store in a database.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use whale_security::api_keys::{ApiKeyError, Environment, RotateKeysRequest, RotationGraceHours};
use whale_security::id::UserId;
use whale_security::service::{ChangeRequest, ServiceError};

use crate::{common, db};

#[derive(clap::Subcommand)]
pub enum Args {
    /// Issue a new key for a store; its text is printed once, on standard output.
    Issue {
        /// The database file.
        #[arg(long)]
        db: PathBuf,
        /// The store; may be left out when the database holds one store.
        #[arg(long)]
        store: Option<String>,
        /// The key's environment, in any case.
        #[arg(long, value_enum, ignore_case = true, default_value = "live")]
        env: EnvArg,
        /// Who is recorded in the audit log.
        #[arg(long, default_value = "user_cli")]
        actor: String,
        /// The instant recorded (RFC 3339); the system clock when absent.
        #[arg(long)]
        now: Option<String>,
    },
    /// Rotate every active key of a store now; prints the API's response and each new key's
    /// text once, as JSON. Exit 1 when the store has no active key.
    Rotate {
        /// The database file.
        #[arg(long)]
        db: PathBuf,
        /// The store; may be left out when the database holds one store.
        #[arg(long)]
        store: Option<String>,
        /// Hours the old keys keep working; the policy's grace when absent.
        #[arg(long)]
        grace_hours: Option<u32>,
        /// The old keys are compromised: revoke them at once (no grace).
        #[arg(long)]
        compromised: bool,
        /// Who is recorded in the audit log.
        #[arg(long, default_value = "user_cli")]
        actor: String,
        /// The instant of the rotation (RFC 3339); the system clock when absent.
        #[arg(long)]
        now: Option<String>,
    },
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    match args {
        Args::Issue {
            db,
            store,
            env,
            actor,
            now,
        } => {
            let environment = match env {
                EnvArg::Live => Environment::Live,
                EnvArg::Test => Environment::Test,
            };
            let request = request(actor, now.as_deref())?;
            let service = db::open(db)?;
            let store_id = db::store_id(&service, store.as_deref())?;
            let key = service
                .issue_key(&store_id, environment, &request)
                .map_err(|e| e.to_string())?;
            eprintln!(
                "issued {} ({}) for {store_id}; the key is shown once:",
                key.id(),
                key.display_prefix()
            );
            outln!("{}", key.expose_secret());
            Ok(ExitCode::SUCCESS)
        }
        Args::Rotate {
            db,
            store,
            grace_hours,
            compromised,
            actor,
            now,
        } => {
            let grace_period_hours = grace_hours
                .map(|h| RotationGraceHours::new(i64::from(h)))
                .transpose()
                .map_err(|e| format!("--grace-hours: {e}"))?;
            let rotate = RotateKeysRequest {
                grace_period_hours,
                compromised: *compromised,
            };
            let request = request(actor, now.as_deref())?;
            let service = db::open(db)?;
            let store_id = db::store_id(&service, store.as_deref())?;
            let rotated = match service.rotate_keys(&store_id, &rotate, &request) {
                Ok(rotated) => rotated,
                Err(ServiceError::Key(e @ ApiKeyError::NothingToRotate { .. })) => {
                    eprintln!("whale-security: {e}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.to_string()),
            };
            let new_keys: Vec<_> = rotated
                .rotation
                .new_keys()
                .iter()
                .map(|(old, key)| {
                    json!({"replaces": old, "key_id": key.id(), "key": key.expose_secret()})
                })
                .collect();
            let out = json!({"rotation": rotated.response(), "new_keys": new_keys});
            outln!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A key's environment, as an option value.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum EnvArg {
    /// `wk_live_` keys.
    Live,
    /// `wk_test_` keys.
    Test,
}

fn request(actor: &str, now: Option<&str>) -> Result<ChangeRequest, String> {
    let actor = UserId::new(actor).map_err(|e| format!("--actor: {e}"))?;
    Ok(ChangeRequest::new(actor, common::now(now)?))
}
