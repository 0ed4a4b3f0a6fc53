//! `verify_totp` pitfalls: RFC 6238 vectors, codes that lost their leading zeros, the window at
//! step 0, formatted secrets and invalid parameters. Each case's kind is covered beyond the
//! single input: every Appendix B vector, every length but the right one, windows of 0 to 3 at
//! the first steps, and every parameter bound.

use chrono::DateTime;
use serde_json::{Value, json};
use whale_security::two_factor::totp::{TotpAlgorithm, TotpCheck, TotpKey, TotpParams, TotpSecret};

use super::{cases, matches_expectation};

fn run(input: &Value) -> Value {
    let secret = match TotpSecret::from_base32(input["secret"].as_str().unwrap()) {
        Ok(secret) => secret,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let number =
        |name: &str, default: u64| input.get(name).and_then(Value::as_u64).unwrap_or(default);
    let params = match TotpParams::new(
        TotpAlgorithm::Sha1,
        u8::try_from(number("digits", 6)).unwrap_or(u8::MAX),
        number("period", 30),
        u8::try_from(number("window", 1)).unwrap_or(u8::MAX),
    ) {
        Ok(params) => params,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let key = TotpKey::new(&secret, params).unwrap();
    let now = DateTime::from_timestamp(input["now_unix"].as_i64().unwrap(), 0).unwrap();
    let last_step = input["last_used_step"].as_u64();
    match key.check(input["code"].as_str().unwrap(), now, last_step) {
        TotpCheck::Accept { step } => json!({"valid": true, "matched_step": step}),
        TotpCheck::Reject(_) => json!({"valid": false}),
    }
}

#[test]
fn every_verify_totp_pitfall_gets_the_expected_answer() {
    let mut failures = Vec::new();
    for case in cases("verify_totp") {
        let outcome = run(&case["input"]);
        if !matches_expectation(&case, &outcome) {
            failures.push(format!(
                "{}: got {outcome}, want {}",
                case["id"], case["expect"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// RFC 6238 Appendix B: (time, SHA-1, SHA-256, SHA-512), 8 digits, 30-second steps.
const APPENDIX_B: [(i64, &str, &str, &str); 6] = [
    (59, "94287082", "46119246", "90693936"),
    (1_111_111_109, "07081804", "68084774", "25091201"),
    (1_111_111_111, "14050471", "67062674", "99943326"),
    (1_234_567_890, "89005924", "91819424", "93441116"),
    (2_000_000_000, "69279037", "90698825", "38618901"),
    (20_000_000_000, "65353130", "77737706", "47863826"),
];

fn rfc_key(algorithm: TotpAlgorithm, digits: u8, window: u8) -> TotpKey {
    let seed: &[u8] = match algorithm {
        TotpAlgorithm::Sha1 => b"12345678901234567890",
        TotpAlgorithm::Sha256 => b"12345678901234567890123456789012",
        TotpAlgorithm::Sha512 => {
            b"1234567890123456789012345678901234567890123456789012345678901234"
        }
    };
    let params = TotpParams::new(algorithm, digits, 30, window).unwrap();
    TotpKey::new(&TotpSecret::from_bytes(seed).unwrap(), params).unwrap()
}

#[test]
fn every_rfc_6238_appendix_b_vector_passes_for_sha1_sha256_and_sha512_at_8_digits() {
    for (t, sha1, sha256, sha512) in APPENDIX_B {
        let now = DateTime::from_timestamp(t, 0).unwrap();
        let step = u64::try_from(t / 30).unwrap();
        for (algorithm, code) in [
            (TotpAlgorithm::Sha1, sha1),
            (TotpAlgorithm::Sha256, sha256),
            (TotpAlgorithm::Sha512, sha512),
        ] {
            let key = rfc_key(algorithm, 8, 0);
            assert_eq!(
                key.check(code, now, None),
                TotpCheck::Accept { step },
                "{algorithm:?} T={t}"
            );
            assert_eq!(key.code_at_step(step).unwrap().as_str(), code);
            // The 6-digit code is the last six digits of the 8-digit one.
            let six = rfc_key(algorithm, 6, 0);
            let tail = code.get(2..).unwrap();
            assert_eq!(
                six.check(tail, now, None),
                TotpCheck::Accept { step },
                "{algorithm:?} T={t} 6 digits"
            );
        }
    }
}

#[test]
fn a_code_is_accepted_only_at_exactly_its_length_so_leading_zeros_matter() {
    // 07081804 (8 digits) and 081804 (6 digits) at T = 1111111109 both start with a zero.
    let now = DateTime::from_timestamp(1_111_111_109, 0).unwrap();
    let eight = rfc_key(TotpAlgorithm::Sha1, 8, 1);
    let six = rfc_key(TotpAlgorithm::Sha1, 6, 1);
    assert!(eight.check("07081804", now, None).accepted_step().is_some());
    assert!(six.check("081804", now, None).accepted_step().is_some());
    for wrong in [
        "7081804",
        "007081804",
        "81804",
        "0081804",
        " 81804",
        "81804 ",
    ] {
        assert_eq!(
            eight.check(wrong, now, None).accepted_step(),
            None,
            "{wrong}"
        );
        assert_eq!(six.check(wrong, now, None).accepted_step(), None, "{wrong}");
    }
}

#[test]
fn the_window_reaches_exactly_its_width_on_each_side_and_never_below_step_0() {
    let key = |window| rfc_key(TotpAlgorithm::Sha1, 6, window);
    for window in 0..=3u8 {
        for now_step in 0..=4u64 {
            let now =
                DateTime::from_timestamp(i64::try_from(now_step * 30 + 15).unwrap(), 0).unwrap();
            for code_step in 0..=8u64 {
                let k = key(window);
                let code = k.code_at_step(code_step).unwrap();
                let inside = code_step.abs_diff(now_step) <= u64::from(window);
                assert_eq!(
                    k.check(&code, now, None).accepted_step(),
                    inside.then_some(code_step),
                    "window {window}, now step {now_step}, code step {code_step}"
                );
            }
        }
    }
}

#[test]
fn formatted_secrets_read_the_same_and_anything_else_is_an_error() {
    let canonical = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    for text in [
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        "GEZD\tGNBV\nGY3T QOJQ GEZD GNBV GY3T QOJQ ",
        "GeZdGnBvGy3TqOjQgEzDgNbVgY3tQoJq",
    ] {
        assert_eq!(TotpSecret::from_base32(text).unwrap(), canonical, "{text}");
    }
    // 21 bytes: 34 characters, unpadded or padded with exactly six `=`.
    let unpadded = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE").unwrap();
    let padded = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE======").unwrap();
    assert_eq!(unpadded, padded);
    for text in [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ8",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ-",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE=",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ=GE",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZ",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGN",
        "ĞEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "GEZDGNBVGY3TQOJQ",
    ] {
        assert!(TotpSecret::from_base32(text).is_err(), "{text}");
    }
}

#[test]
fn every_parameter_bound_is_checked_before_a_key_exists() {
    for period in [0, 601, u64::MAX] {
        assert!(
            TotpParams::new(TotpAlgorithm::Sha1, 6, period, 1).is_err(),
            "{period}"
        );
    }
    for digits in [0, 5, 9, 10, u8::MAX] {
        assert!(
            TotpParams::new(TotpAlgorithm::Sha1, digits, 30, 1).is_err(),
            "{digits}"
        );
    }
    assert!(TotpParams::new(TotpAlgorithm::Sha1, 6, 30, 11).is_err());
    for digits in 6..=8 {
        for period in [1, 30, 600] {
            assert!(TotpParams::new(TotpAlgorithm::Sha512, digits, period, 0).is_ok());
        }
    }
    // Deserializing parameters goes through the same bounds.
    assert!(serde_json::from_str::<TotpParams>(r#"{"period": 0}"#).is_err());
    assert!(serde_json::from_str::<TotpParams>(r#"{"digits": 10}"#).is_err());
}
