//! `whale-security validate-password --settings FILE [--context WORD...] [--history FILE] [--json]`.
//!
//! The password is read from standard input, never from the arguments, where any user of the
//! machine could see it in the process list.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use whale_security::password::{
    MAX_INPUT_BYTES, PasswordContext, PasswordDecision, validate_password,
};

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON); its password_policy is applied.
    #[arg(long)]
    settings: PathBuf,
    /// Words the password must not be built from: the member's email and name, the store's name.
    #[arg(long = "context", value_name = "WORD")]
    context: Vec<String>,
    /// The member's stored argon2id PHC hashes, one per line, newest (the current) first.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Print {"valid": ..., "violations": [{"code": ..., ...}]} instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let settings = common::load_settings(&args.settings)?;
    let history: Vec<String> = match &args.history {
        Some(path) => common::read(path)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let password = read_password()?;
    let context = PasswordContext::new()
        .with_words(args.context.iter().map(String::as_str))
        .with_history(&history);
    let decision = validate_password(settings.password_policy(), &password, &context);
    print(&decision, args.json);
    Ok(if decision.permits() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Standard input, less one trailing line break, read up to just over the size limit so a
/// huge input is neither held in memory nor accepted.
fn read_password() -> Result<zeroize::Zeroizing<String>, String> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(MAX_INPUT_BYTES as u64 + 3)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    let text = String::from_utf8(std::mem::take(&mut *bytes))
        .map_err(|_| "standard input is not UTF-8".to_owned())?;
    let mut text = zeroize::Zeroizing::new(text);
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

fn print(decision: &PasswordDecision, as_json: bool) {
    if as_json {
        let violations: Vec<Value> = decision
            .violations()
            .iter()
            .map(|v| {
                let mut value = serde_json::to_value(v).unwrap_or_else(|_| json!({}));
                if let Some(object) = value.as_object_mut() {
                    object.insert("code".into(), json!(v.code()));
                    object.insert("message".into(), json!(v.to_string()));
                }
                value
            })
            .collect();
        let strength = decision
            .assessment()
            .strength()
            .map(|s| json!({"score": s.score(), "scored_length": s.scored_length()}));
        let out = json!({
            "valid": decision.permits(),
            "violations": violations,
            "strength": strength,
        });
        println!("{out}");
        return;
    }
    if decision.permits() {
        println!("valid");
    }
    for v in decision.violations() {
        println!("{}\t{v}", v.code());
    }
}
