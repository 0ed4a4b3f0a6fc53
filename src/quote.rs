//! Quoting user input in error messages.

/// `text` cut to its first 100 characters (with `…` when cut), so an error message stays one
/// short line even for a hostile megabyte of input.
pub(crate) fn shorten(text: &str) -> String {
    const LIMIT: usize = 100;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}
