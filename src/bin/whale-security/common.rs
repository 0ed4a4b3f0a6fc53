//! Helpers shared by the subcommands.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use whale_security::SecuritySettings;
use whale_security::allowlist::{ForwardedHeader, Surface};
use whale_security::quote::shorten;
use whale_security::settings::SettingsError;
#[cfg(feature = "sqlite")]
use whale_security::settings::SettingsUpdate;
use whale_security::time::InstantError;

/// Reads and validates a settings file, or describes why it could not be.
pub fn load_settings(path: &Path) -> Result<SecuritySettings, String> {
    let text = read(path)?;
    SecuritySettings::from_json(&text).map_err(|errors| {
        let lines: Vec<String> = errors.as_slice().iter().map(|e| format!("  {e}")).collect();
        format!(
            "{} is not valid settings:\n{}",
            path.display(),
            lines.join("\n")
        )
    })
}

/// Reads an update file: `Ok(Err(errors))` when it was read but is not a valid update, with
/// every error found, each with its field path.
#[cfg(feature = "sqlite")]
pub fn read_update(path: &Path) -> Result<Result<SettingsUpdate, Vec<SettingsError>>, String> {
    Ok(SettingsUpdate::from_json(&read(path)?)
        .map_err(whale_security::settings::SettingsErrors::into_vec))
}

/// A changed field as `PATH<TAB>OLD<TAB>NEW`, the values as JSON with what displays as nothing
/// escaped (JSON escapes controls, not zero-width characters).
#[cfg(feature = "sqlite")]
pub fn change_line(change: &whale_security::audit::FieldChange) -> String {
    use whale_security::quote::escape;
    format!(
        "{}\t{}\t{}",
        change.path,
        escape(&change.old.to_string()),
        escape(&change.new.to_string())
    )
}

/// Prints each error as `error: PATH: MESSAGE` on standard error: the answer of a command whose
/// input document was refused (exit 1). Standard output gets nothing, so a redirected result
/// file never holds error lines.
pub fn print_errors<'a>(errors: impl IntoIterator<Item = &'a SettingsError>) -> ExitCode {
    for e in errors {
        eprintln!("error: {e}");
    }
    ExitCode::from(1)
}

/// Reads a UTF-8 file, naming it (and the first byte that is not UTF-8) in the error. A
/// leading byte-order mark is skipped ([`BOM`]).
pub fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read {}: not UTF-8 at byte {}",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    if text.starts_with(BOM) {
        text.drain(..BOM.len());
    }
    Ok(text)
}

/// The UTF-8 byte-order mark, which many editors write at the start of a file. Every reader of
/// a file or of standard input skips one at the very start and reads the rest as if it were
/// absent; anywhere else it is a character like another.
pub const BOM: &str = "\u{feff}";

/// Parses `--now`, or takes the system clock when it is absent.
pub fn now(arg: Option<&str>) -> Result<DateTime<Utc>, String> {
    match arg {
        Some(text) => instant("--now", text),
        None => Ok(Utc::now()),
    }
}

/// Parses the value of the option `flag` as an RFC 3339 instant; the error names the option, the
/// value and the format expected, with an example, since chrono's own words ("premature end of
/// input") do not say that a date alone or a time without an offset is refused.
pub fn instant(flag: &str, text: &str) -> Result<DateTime<Utc>, String> {
    // The instant may be stored (a plain list's `added_at`, an audit entry's time), so it must
    // be one a document can hold.
    whale_security::time::parse_writable(text).map_err(|e| match e {
        InstantError::Syntax(e) => format!(
            "{flag} `{}` is not an RFC 3339 timestamp ({e}): give a date, a time and an offset, \
             such as 2026-03-10T12:00:00Z or 2026-03-10T13:00:00+01:00",
            shorten(text)
        ),
        e => format!("{flag} `{}` is {e}", shorten(text)),
    })
}

/// Where the comment of a line in a plain list (`check-ip`'s addresses, `lint-allowlist`'s
/// networks) starts: at a `#` that begins the line or follows a space or tab; the line's length
/// when it has none. A `#` inside a word is not a comment, so `203.0.113.9#office` is refused
/// as written rather than read as `203.0.113.9`. Bytes, so a comment is found (and skipped)
/// whatever its encoding.
pub fn comment_start(line: &[u8]) -> usize {
    let mut after_blank = true;
    for (i, &b) in line.iter().enumerate() {
        if b == b'#' && after_blank {
            return i;
        }
        after_blank = b == b' ' || b == b'\t';
    }
    line.len()
}

/// `line` without the spaces, tabs and line-ending characters around it: ASCII blanks only,
/// so a Unicode space or separator next to an address stays and makes it invalid, as it does
/// in an argument.
pub fn trim_blanks(line: &str) -> &str {
    line.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// A surface, as an option value: `api` or `dashboard`, in any case.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SurfaceArg {
    /// Requests to the API.
    Api,
    /// Requests to the dashboard.
    Dashboard,
}

impl From<SurfaceArg> for Surface {
    fn from(arg: SurfaceArg) -> Self {
        match arg {
            SurfaceArg::Api => Self::Api,
            SurfaceArg::Dashboard => Self::Dashboard,
        }
    }
}

/// The forwarding header trusted proxies write, as an option value: its name in any case
/// (`X-Forwarded-For`, `x-forwarded-for`, `Forwarded`).
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum HeaderArg {
    /// `X-Forwarded-For`.
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl From<HeaderArg> for ForwardedHeader {
    fn from(arg: HeaderArg) -> Self {
        match arg {
            HeaderArg::XForwardedFor => Self::XForwardedFor,
            HeaderArg::Forwarded => Self::Forwarded,
        }
    }
}

/// The error of a subcommand or option this build leaves out: `needs` pairs each cargo feature it
/// needs with whether the build has it. The message names the missing ones, and the rebuild it
/// suggests enables every needed one, so that it does not drop one this build has.
#[cfg(not(all(feature = "http", feature = "sqlite", feature = "postgres")))]
pub fn not_built(what: &str, needs: &[(&str, bool)]) -> String {
    let named: Vec<String> = needs
        .iter()
        .filter(|(_, built)| !built)
        .map(|(feature, _)| format!("`{feature}`"))
        .collect();
    let plural = if named.len() == 1 { "" } else { "s" };
    let flag = needs
        .iter()
        .map(|(feature, _)| *feature)
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "{what} is not in this build: it needs the cargo feature{plural} {}; rebuild with \
         `--features {flag}` (for example `cargo install --locked --path . --features {flag}`)",
        named.join(" and ")
    )
}

/// The body of `outln!`: see there.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    match out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("whale-security: cannot write standard output: {e}");
            std::process::exit(2);
        }
        _ => {}
    }
}
