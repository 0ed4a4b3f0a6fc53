//! `whale-security validate-password --settings FILE [--context WORD...] [--history FILE] [--json]`.
//!
//! The password is read from standard input, never from the arguments, where any user of the
//! machine could see it in the process list.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};
use whale_security::password::{
    HashLimits, MAX_INPUT_BYTES, PasswordContext, PasswordDecision, PasswordHash, Violation,
    validate_password,
};

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON); its password_policy is applied.
    #[arg(long)]
    settings: PathBuf,
    /// Words an attacker would try first (the member's email and name, the store's name): a
    /// password built from them scores lower in the strength check, so they count only when the
    /// policy sets `min_strength`.
    #[arg(long = "context", value_name = "WORD")]
    context: Vec<String>,
    /// The member's stored argon2id PHC hashes, one per line, newest (the current) first; a
    /// line that is not one is an error naming the line (exit 2).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Print {"valid": ..., "violations": [{"code": ..., ...}]} instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let settings = common::load_settings(&args.settings)?;
    let history = match &args.history {
        Some(path) => read_history(path)?,
        None => Vec::new(),
    };
    let (password, cut) = read_password()?;
    if password.is_empty() {
        // An empty read is a missing input (a forgotten pipe), not a password to judge.
        return Err("no password on standard input".into());
    }
    let context = PasswordContext::new()
        .with_words(args.context.iter().map(String::as_str))
        .with_history(&history);
    let policy = settings.password_policy();
    if !args.context.is_empty() && policy.min_strength.is_none() {
        eprintln!(
            "note: --context has no effect: the policy sets no min_strength, the only check that \
             uses context words"
        );
    }
    let decision = validate_password(policy, &password, &context);
    print(&decision, args.json, cut)?;
    Ok(if decision.permits() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The stored hashes of a history file, blank lines skipped. A line that is not a usable argon2id
/// PHC string is an error naming the file and the line: the file is context the check cannot do
/// without, not an answer about the password (the library would count such a hash as a
/// `prevent_reuse` violation, and the operator would never learn the file is broken).
fn read_history(path: &Path) -> Result<Vec<String>, String> {
    let text = common::read(path)?;
    let mut hashes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // The error says what is wrong and never repeats the hash.
        PasswordHash::parse(line, &HashLimits::DEFAULT).map_err(|e| {
            format!(
                "cannot read history {}: line {}: {e}",
                path.display(),
                i + 1
            )
        })?;
        hashes.push(line.to_owned());
    }
    Ok(hashes)
}

/// Standard input, less a leading byte-order mark ([`common::BOM`]) and one trailing line
/// break, read up to just over the size limit so a huge input is neither held in memory nor
/// accepted; and whether the read stopped there, leaving the input's size unknown.
fn read_password() -> Result<(zeroize::Zeroizing<String>, bool), String> {
    // Past the limit by a byte-order mark, more than a line break and one whole character, so
    // an input cut here still measures over the limit once a cut character is dropped.
    const READ_LIMIT: usize = MAX_INPUT_BYTES + 8 + common::BOM.len();
    // Allocated once: a growing buffer would leave copies of the password in freed memory.
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(READ_LIMIT));
    std::io::stdin()
        .lock()
        .take(READ_LIMIT as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    let cut = bytes.len() >= READ_LIMIT;
    // Drained in place: no copy of the password is left behind.
    let skipped = if bytes.starts_with(common::BOM.as_bytes()) {
        bytes.drain(..common::BOM.len());
        common::BOM.len()
    } else {
        0
    };
    let valid = match std::str::from_utf8(&bytes) {
        Ok(_) => bytes.len(),
        // The read stopped inside a character of an oversized input: drop the partial
        // character; what remains is still over the limit and is refused as too long.
        Err(e) if cut && e.error_len().is_none() => e.valid_up_to(),
        // The offset is no secret; the bytes are, so they are not quoted.
        Err(e) => {
            return Err(format!(
                "standard input is not UTF-8 at byte {}",
                e.valid_up_to().saturating_add(skipped)
            ));
        }
    };
    bytes.truncate(valid);
    let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
        // Checked above; the bytes are wiped even on this path.
        zeroize::Zeroize::zeroize(&mut e.into_bytes());
        "standard input is not UTF-8".to_owned()
    })?;
    let mut text = zeroize::Zeroizing::new(text);
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok((text, cut))
}

/// Prints the decision. In JSON, an input over the size limit is `"exceeds_max_bytes": true`,
/// with `bytes` its size, or null when `cut`: the read stopped past the limit, so the size is
/// unknown (the library measured only what was read).
fn print(decision: &PasswordDecision, as_json: bool, cut: bool) -> Result<(), String> {
    if as_json {
        let violations: Vec<Value> = decision
            .violations()
            .iter()
            .map(|v| {
                let mut value = serde_json::to_value(v).unwrap_or_else(|_| json!({}));
                if let Some(object) = value.as_object_mut() {
                    object.insert("code".into(), json!(v.code()));
                    object.insert("message".into(), json!(v.to_string()));
                    if matches!(v, Violation::InputTooLarge { .. }) {
                        object.insert("exceeds_max_bytes".into(), json!(true));
                        if cut {
                            object.insert("bytes".into(), Value::Null);
                        }
                    }
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
        outln!("{out}");
        return Ok(());
    }
    if decision.permits() {
        outln!("valid");
    }
    for v in decision.violations() {
        outln!("{}\t{v}", v.code());
    }
    Ok(())
}
