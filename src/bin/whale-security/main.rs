//! `whale-security`: the policy engine's decisions from the command line.
//!
//! Exit status: 0 when the command ran and every answer is positive (valid, allowed); 1 when
//! the command ran and some answer is negative or some address or input line could not be read
//! (a malformed `check-ip` address is an answer, as an argument or a line), which includes a
//! document the command judges or is asked to store (`validate`, `settings import|update`,
//! `preview`, `members import`, `lint-allowlist`) being refused: every error is printed with its
//! field path, as `error: PATH: MESSAGE` on standard error; 2 when the command could not run.
//! Errors clap finds in the options are clap's several lines starting `error:`; any other error
//! that stops a command (unreadable files, invalid settings given with `--settings`, a malformed
//! option value, missing input, a version conflict) starts with a `whale-security: MESSAGE` line
//! on standard error, which an invalid settings file follows with one indented line per error.
//! `keys rotate` with no active key also prints a `whale-security:` line, with exit 1: nothing
//! was rotated, a negative answer. Results (documents, decisions, lint warnings, reports) go to
//! standard output.

/// Writes one line to standard output, like `println!`, without panicking on a closed pipe: a
/// reader that stops early (`| head -1`) ends the output quietly, and any other write failure
/// ends the run with status 2.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::common::write_line(format_args!($($arg)*))
    };
}

#[cfg(feature = "sqlite")]
mod audit;
mod check_ip;
mod common;
#[cfg(feature = "sqlite")]
mod db;
#[cfg(feature = "sqlite")]
mod keys;
mod lint_allowlist;
#[cfg(feature = "sqlite")]
mod members;
#[cfg(feature = "sqlite")]
mod preview;
mod report;
mod rotation;
#[cfg(all(feature = "http", feature = "sqlite"))]
mod serve;
mod session;
#[cfg(feature = "sqlite")]
mod settings;
mod totp;
mod validate;
mod validate_password;

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
    /// Decide session expiry, admission of one more sign-in, and re-authentication.
    Session(session::Args),
    /// Decide whether a scheduled API key rotation is due (exit 0 when due, 1 when not).
    Rotation(rotation::Args),
    /// Check a password read from standard input against the settings' password policy.
    ValidatePassword(validate_password::Args),
    /// Keep a store's settings in a database: import, show, update (audited).
    #[cfg(feature = "sqlite")]
    #[command(subcommand)]
    Settings(settings::Args),
    /// Keep a store's settings (needs the cargo feature `sqlite`; not in this build).
    #[cfg(not(feature = "sqlite"))]
    Settings(NotBuilt),
    /// Print a database's audit log, optionally one store, a time range, one page at a time.
    #[cfg(feature = "sqlite")]
    Audit(audit::Args),
    /// Print a database's audit log (needs the cargo feature `sqlite`; not in this build).
    #[cfg(not(feature = "sqlite"))]
    Audit(NotBuilt),
    /// Show what an update would change and which client addresses it would deny, without
    /// writing it.
    #[cfg(feature = "sqlite")]
    Preview(preview::Args),
    /// Show what an update would change (needs the cargo feature `sqlite`; not in this build).
    #[cfg(not(feature = "sqlite"))]
    Preview(NotBuilt),
    /// Issue or rotate a store's API keys in a database.
    #[cfg(feature = "sqlite")]
    #[command(subcommand)]
    Keys(keys::Args),
    /// Issue or rotate a store's API keys (needs the cargo feature `sqlite`; not in this build).
    #[cfg(not(feature = "sqlite"))]
    Keys(NotBuilt),
    /// Import a store's team members and their factors into a database.
    #[cfg(feature = "sqlite")]
    #[command(subcommand)]
    Members(members::Args),
    /// Import a store's team members (needs the cargo feature `sqlite`; not in this build).
    #[cfg(not(feature = "sqlite"))]
    Members(NotBuilt),
    /// Report which members comply with the 2FA policy, with each member's status (exit 1 when
    /// a member is pending or blocked; members are `not_enforced` while 2FA is not required).
    Report(report::Args),
    /// TOTP operations for operators.
    Totp(totp::Args),
    /// Print warnings about an allowlist: duplicates, covered, over-broad, reserved ranges.
    LintAllowlist(lint_allowlist::Args),
    /// Serve the REST API over a database until SIGINT or SIGTERM (feature `http`).
    #[cfg(all(feature = "http", feature = "sqlite"))]
    Serve(serve::Args),
    /// Serve the REST API (needs the cargo features `http` and `sqlite`; not in this build).
    #[cfg(not(all(feature = "http", feature = "sqlite")))]
    Serve(NotBuilt),
}

/// The arguments of a subcommand this build leaves out, taken as they come (`--help` included),
/// so the command is refused for what it is, a missing cargo feature, and not for its arguments.
#[cfg(not(all(feature = "http", feature = "sqlite")))]
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
struct NotBuilt {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<std::ffi::OsString>,
}

#[cfg(not(all(feature = "http", feature = "sqlite")))]
impl NotBuilt {
    /// The refusal `message` of the subcommand `name` (exit 2), or, when its arguments ask for
    /// help (`--help`, `-h`), the subcommand's help followed by the message (exit 0): asking
    /// what a command is for is not running it.
    fn refuse(&self, name: &str, message: String) -> Result<ExitCode, String> {
        let wants_help = self.args.iter().any(|a| a == "--help" || a == "-h");
        if !wants_help {
            return Err(message);
        }
        let mut cli = <Cli as clap::CommandFactory>::command();
        cli.build();
        if let Some(command) = cli.find_subcommand_mut(name) {
            outln!("{}", command.render_help());
        }
        outln!("{message}");
        Ok(ExitCode::SUCCESS)
    }
}

/// What the database commands need, in a build that leaves it out.
#[cfg(not(feature = "sqlite"))]
const SQLITE: &[(&str, bool)] = &[("sqlite", false)];

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::CheckIp(args) => check_ip::run(&args),
        Command::Session(args) => session::run(&args),
        Command::Rotation(args) => rotation::run(&args),
        Command::ValidatePassword(args) => validate_password::run(&args),
        #[cfg(feature = "sqlite")]
        Command::Settings(args) => settings::run(&args),
        #[cfg(feature = "sqlite")]
        Command::Audit(args) => audit::run(&args),
        #[cfg(feature = "sqlite")]
        Command::Preview(args) => preview::run(&args),
        #[cfg(feature = "sqlite")]
        Command::Keys(args) => keys::run(&args),
        #[cfg(feature = "sqlite")]
        Command::Members(args) => members::run(&args),
        #[cfg(not(feature = "sqlite"))]
        Command::Settings(args) => args.refuse("settings", common::not_built("`settings`", SQLITE)),
        #[cfg(not(feature = "sqlite"))]
        Command::Audit(args) => args.refuse("audit", common::not_built("`audit`", SQLITE)),
        #[cfg(not(feature = "sqlite"))]
        Command::Preview(args) => args.refuse("preview", common::not_built("`preview`", SQLITE)),
        #[cfg(not(feature = "sqlite"))]
        Command::Keys(args) => args.refuse("keys", common::not_built("`keys`", SQLITE)),
        #[cfg(not(feature = "sqlite"))]
        Command::Members(args) => args.refuse("members", common::not_built("`members`", SQLITE)),
        Command::Report(args) => report::run(&args),
        Command::Totp(args) => totp::run(&args),
        Command::LintAllowlist(args) => lint_allowlist::run(&args),
        #[cfg(all(feature = "http", feature = "sqlite"))]
        Command::Serve(args) => serve::run(&args),
        #[cfg(not(all(feature = "http", feature = "sqlite")))]
        Command::Serve(args) => args.refuse(
            "serve",
            common::not_built(
                "`serve`",
                &[
                    ("http", cfg!(feature = "http")),
                    ("sqlite", cfg!(feature = "sqlite")),
                ],
            ),
        ),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("whale-security: {message}");
            ExitCode::from(2)
        }
    }
}
