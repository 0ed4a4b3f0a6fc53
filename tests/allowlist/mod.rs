//! The allowlist engine's public API: the compiled matcher against a naive scan, on random and
//! real lists.

mod matcher;
mod prefixes;
mod real_lists;
