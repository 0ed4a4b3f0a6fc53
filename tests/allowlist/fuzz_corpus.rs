//! Replays the saved fuzz corpus (`fuzz/corpus/*`) through the library-side fuzz entry points,
//! so CI covers the fuzz targets on stable without cargo-fuzz.

use std::path::PathBuf;

use proptest::prelude::*;
use whale_security::allowlist::fuzzing::{client_ip, matcher_differential, parse_round_trip};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| {
            let path = f.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn parse_cidr_corpus_round_trips() {
    for (name, data) in corpus("parse_cidr") {
        parse_round_trip(&data).unwrap_or_else(|f| panic!("{name}: {f}"));
    }
}

#[test]
fn matcher_differential_corpus_agrees_with_a_scan() {
    for (name, data) in corpus("matcher_differential") {
        matcher_differential(&data).unwrap_or_else(|f| panic!("{name}: {f}"));
    }
}

#[test]
fn client_ip_corpus_keeps_its_properties() {
    for (name, data) in corpus("client_ip") {
        client_ip(&data).unwrap_or_else(|f| panic!("{name}: {f}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)))]

    /// Address-like text round-trips through parse and print, or is refused; never a panic.
    #[test]
    fn address_like_text_round_trips_or_is_refused(text in "[0-9a-fA-F:./%, x]{0,45}") {
        prop_assert!(parse_round_trip(text.as_bytes()).is_ok());
    }

    /// Random byte strings as differential inputs.
    #[test]
    fn random_bytes_agree_in_the_differential_target(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let r = matcher_differential(&data);
        prop_assert!(r.is_ok(), "{:?}", r);
    }

    /// Header-like text from a trusted proxy, in either header.
    #[test]
    fn header_like_text_keeps_the_client_ip_properties(
        forwarded in any::<bool>(),
        text in "[0-9a-fA-F:./\\[\\]_,; =\"x%\n]{0,60}|(for=)?[0-9.:a-f\\[\\]]{0,40}(, [0-9.]{0,15}){0,3}",
    ) {
        let mut data = vec![u8::from(forwarded)];
        data.extend_from_slice(text.as_bytes());
        let r = client_ip(&data);
        prop_assert!(r.is_ok(), "{:?}", r);
    }
}
