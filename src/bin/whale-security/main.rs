//! `whale-security`: the policy engine's decisions from the command line.
//!
//! Exit status: 0 when the command ran and every answer is positive (valid, allowed); 1 when
//! the command ran and some answer is negative or some input line could not be read; 2 when the
//! command could not run (unreadable or invalid settings, bad arguments).

mod check_ip;
mod common;
mod lint_allowlist;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Store security policy decisions: IP allowlists, passwords, sessions, 2FA and key rotation.
#[derive(Parser)]
#[command(name = "whale-security", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a settings file; print it normalized, or every error with its field path.
    Validate(validate::Args),
    /// Decide whether client addresses may pass a store's IP allowlist.
    CheckIp(check_ip::Args),
    /// Print warnings about an allowlist: duplicates, covered, over-broad, reserved ranges.
    LintAllowlist(lint_allowlist::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::CheckIp(args) => check_ip::run(&args),
        Command::LintAllowlist(args) => lint_allowlist::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("whale-security: {message}");
            ExitCode::from(2)
        }
    }
}
