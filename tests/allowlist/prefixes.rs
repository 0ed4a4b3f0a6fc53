//! Reading the real prefix lists under `data/prefixes/` (shared with `benches/check_ip.rs`).

use std::io::Read;
use std::path::PathBuf;

use whale_security::allowlist::{Cidr, parse_cidr};

/// The networks of `data/prefixes/NAME` (plain text, or gzip when the name ends in `.gz`),
/// skipping `#` comments and blank lines. Every line must parse strictly.
pub fn load(name: &str) -> Vec<Cidr> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/prefixes")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = if name.ends_with(".gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(bytes).unwrap()
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_cidr(l).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}
