//! Parse -> print -> parse gives the same CIDR or address; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = whale_security::allowlist::fuzzing::parse_round_trip(data) {
        panic!("{finding}");
    }
});
