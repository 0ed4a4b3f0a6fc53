//! The compiled set agrees with a naive ipnet scan on fuzzed lists and addresses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = whale_security::allowlist::fuzzing::matcher_differential(data) {
        panic!("{finding}");
    }
});
