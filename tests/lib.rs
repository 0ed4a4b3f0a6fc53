//! Public-API tests of whale-security, as one integration binary.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod allowlist;
mod api_keys;
#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod cli_allowlist;
#[cfg(feature = "cli")]
mod cli_features;
#[cfg(feature = "cli")]
mod cli_hardening;
#[cfg(all(feature = "cli", feature = "sqlite"))]
mod cli_keys;
#[cfg(feature = "cli")]
mod cli_password;
#[cfg(feature = "cli")]
mod cli_polish;
#[cfg(feature = "cli")]
mod cli_rotation;
#[cfg(all(feature = "cli", feature = "http", feature = "sqlite", unix))]
mod cli_serve;
#[cfg(feature = "cli")]
mod cli_session;
#[cfg(all(feature = "cli", feature = "sqlite"))]
mod cli_store;
#[cfg(feature = "cli")]
mod cli_two_factor;
#[cfg(all(feature = "cli", feature = "sqlite"))]
mod cli_usability;
mod hardening;
#[cfg(feature = "http")]
mod http;
mod password;
mod pitfalls;
mod service;
mod service_keys;
mod service_team;
mod session;
mod spec_fixtures;
#[cfg(all(feature = "sqlite", unix))]
mod store_crash;
mod two_factor;
mod validation;

use std::path::PathBuf;

/// The path of a file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The text of a file under `tests/fixtures`.
pub fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

/// Whether `text` holds a character that changes how the text around it displays: a C0 or C1
/// control (tab, ESC, NUL...), or a bidirectional control.
pub fn has_display_controls(text: &str) -> bool {
    text.chars().any(|c| {
        c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
    })
}
