//! Helpers shared by the subcommands.

use std::path::Path;

use chrono::{DateTime, Utc};
use whale_security::SecuritySettings;

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

/// Reads a UTF-8 file, naming it in the error.
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Parses `--now`, or takes the system clock when it is absent.
pub fn now(arg: Option<&str>) -> Result<DateTime<Utc>, String> {
    match arg {
        Some(text) => whale_security::time::parse(text)
            .map_err(|e| format!("--now `{text}` is not an RFC 3339 timestamp: {e}")),
        None => Ok(Utc::now()),
    }
}
