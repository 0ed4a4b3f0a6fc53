//! The allowlist engine's public API: the compiled matcher against a naive scan, on random and
//! real lists; the fuzz corpus replay.

mod edges;
mod fuzz_corpus;
mod hostile;
mod matcher;
mod prefixes;
mod real_lists;
