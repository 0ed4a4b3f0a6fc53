//! `whale-security totp verify --secret-file F CODE [--now T] [--last-step N]`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use whale_security::quote::shorten;
use whale_security::two_factor::totp::{
    TotpAlgorithm, TotpCheck, TotpKey, TotpParams, TotpRejection, TotpSecret,
};
use zeroize::Zeroizing;

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check one code against a secret; prints {"valid", "matched_step"}.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// A file holding the base32 secret (any case, spaces and padding allowed).
    #[arg(long)]
    secret_file: PathBuf,
    /// The code, exactly `--digits` digits.
    code: String,
    /// The instant to check at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// The member's last accepted step: codes of this step or earlier are replays.
    #[arg(long)]
    last_step: Option<u64>,
    /// The HMAC hash: sha1, sha256 or sha512.
    #[arg(long, default_value = "sha1", value_parser = parse_algorithm)]
    algorithm: TotpAlgorithm,
    /// Digits per code (6 to 8).
    #[arg(long, default_value_t = 6)]
    digits: u8,
    /// Seconds per step (1 to 600).
    #[arg(long, default_value_t = 30)]
    period: u64,
    /// Steps accepted on each side of the current one (0 to 10).
    #[arg(long, default_value_t = 1)]
    window: u8,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    match &args.command {
        Command::Verify(args) => verify(args),
    }
}

fn verify(args: &VerifyArgs) -> Result<ExitCode, String> {
    let now = common::now(args.now.as_deref())?;
    let text = Zeroizing::new(common::read(&args.secret_file)?);
    let secret = TotpSecret::from_base32(&text)
        .map_err(|e| format!("{}: {e}", args.secret_file.display()))?;
    let params = TotpParams::new(args.algorithm, args.digits, args.period, args.window)
        .map_err(|e| e.to_string())?;
    let key = TotpKey::new(&secret, params).map_err(|e| e.to_string())?;
    let check = key.check(&args.code, now, args.last_step);
    let reason = match check {
        TotpCheck::Accept { .. } => None,
        TotpCheck::Reject(TotpRejection::Malformed { .. }) => Some("malformed"),
        TotpCheck::Reject(TotpRejection::Replayed { .. }) => Some("replayed"),
        TotpCheck::Reject(TotpRejection::BeforeEpoch) => Some("before_epoch"),
        TotpCheck::Reject(_) => Some("no_match"),
    };
    let mut out = json!({
        "valid": check.accepted_step().is_some(),
        "matched_step": check.accepted_step(),
    });
    if let (Some(reason), Some(map)) = (reason, out.as_object_mut()) {
        map.insert("reason".into(), json!(reason));
    }
    outln!("{out}");
    Ok(if check.accepted_step().is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse_algorithm(text: &str) -> Result<TotpAlgorithm, String> {
    match text.to_ascii_lowercase().as_str() {
        "sha1" => Ok(TotpAlgorithm::Sha1),
        "sha256" => Ok(TotpAlgorithm::Sha256),
        "sha512" => Ok(TotpAlgorithm::Sha512),
        _ => Err(format!("`{}` is not sha1, sha256 or sha512", shorten(text))),
    }
}
