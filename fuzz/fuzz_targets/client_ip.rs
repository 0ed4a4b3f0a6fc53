//! Forwarding headers from a trusted proxy: the resolved client is canonical, outside the
//! proxies when read from a hop, the same on a second read; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = whale_security::allowlist::fuzzing::client_ip(data) {
        panic!("{finding}");
    }
});
