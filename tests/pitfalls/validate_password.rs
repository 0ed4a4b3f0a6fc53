//! `validate_password` pitfalls: Unicode length, normalization, huge input, NUL, special
//! characters, the meaning of "last N", and expiry arithmetic.

use serde_json::{Value, json};
use whale_security::password::{
    HashParams, NormalizedPassword, PasswordContext, PasswordPolicy, Violation, hash_password,
    password_expired, validate_password,
};
use whale_security::time;

use super::{cases, matches_expectation};

/// Cheap Argon2id parameters: the history is hashed for real, but fast in a debug build.
fn cheap() -> HashParams {
    HashParams::new(64, 1, 1).unwrap()
}

/// The candidate of a case: `password`, or `password_spec` (prefix + repeated character).
fn candidate(input: &Value) -> String {
    if let Some(p) = input.get("password") {
        return p.as_str().unwrap().to_owned();
    }
    let spec = &input["password_spec"];
    let prefix = spec["prefix"].as_str().unwrap();
    let fill = spec["repeat_char"].as_str().unwrap();
    let total = usize::try_from(spec["total_length"].as_u64().unwrap()).unwrap();
    let mut text = prefix.to_owned();
    text.extend(std::iter::repeat_n(fill, total - prefix.chars().count()));
    text
}

/// The case's plaintext history, hashed as a store would keep it (newest first).
fn history(input: &Value) -> Vec<String> {
    input
        .get("history")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    let password = NormalizedPassword::new(p.as_str().unwrap()).unwrap();
                    let salt = [u8::try_from(i).unwrap().wrapping_add(1); 16];
                    hash_password(&password, &salt, cheap())
                        .unwrap()
                        .as_phc()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn run(case: &Value) -> Value {
    let input = &case["input"];
    let policy: PasswordPolicy = serde_json::from_value(input["policy"].clone()).unwrap();
    if input.get("check").and_then(Value::as_str) == Some("max_age") {
        let changed = time::parse(input["password_changed_at"].as_str().unwrap()).unwrap();
        let now = time::parse(input["now"].as_str().unwrap()).unwrap();
        return json!({"expired": !password_expired(&policy, changed, now).permits()});
    }
    let history = history(input);
    let context = PasswordContext::new().with_history(&history);
    let password = candidate(input);
    let decision = validate_password(&policy, &password, &context);
    let codes: Vec<&str> = decision.violations().iter().map(Violation::code).collect();

    // B19's whole kind: an oversized input is refused with max_length before any hashing.
    if password.chars().count() > whale_security::password::MAX_LENGTH {
        assert!(codes.contains(&"max_length"), "{}: {codes:?}", case["id"]);
        assert_eq!(decision.assessment().hashes_verified(), 0, "{}", case["id"]);
        assert!(decision.assessment().strength().is_none());
    }

    let mut outcome = json!({
        "valid": decision.permits(),
        "no_panic": true,
        "codes": codes,
    });
    let expect = &case["expect"];
    // Subset checks become plain fields so `matches_expectation` can compare them.
    if let Some(include) = expect.get("violations_include") {
        let all = include
            .as_array()
            .unwrap()
            .iter()
            .all(|c| codes.contains(&c.as_str().unwrap()));
        outcome["violations_include"] = if all { include.clone() } else { json!(codes) };
    }
    if let Some(exclude) = expect.get("violations_exclude") {
        let none = exclude
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !codes.contains(&c.as_str().unwrap()));
        outcome["violations_exclude"] = if none { exclude.clone() } else { json!(codes) };
    }
    if expect.get("max_duration_ms").is_some() {
        // Wall-clock limits apply to release builds; the bounded work is asserted above.
        outcome["max_duration_ms"] = expect["max_duration_ms"].clone();
    }
    outcome
}

#[test]
fn every_validate_password_pitfall_gets_the_expected_answer() {
    let mut failures = Vec::new();
    for case in cases("validate_password") {
        let outcome = run(&case);
        if !matches_expectation(&case, &outcome) {
            failures.push(format!(
                "{}: got {outcome}, want {}",
                case["id"], case["expect"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// B17's kind: length is code points after NFKC, whatever the byte count or the form.
#[test]
fn length_is_code_points_for_every_script() {
    let policy: PasswordPolicy = serde_json::from_value(json!({
        "min_length": 12, "require_uppercase": false, "require_number": false,
        "require_special": false
    }))
    .unwrap();
    for (text, length) in [
        ("\u{dc}n\u{ef}c\u{f6}d\u{e9}1!Pw", 11),   // 15 bytes
        ("U\u{308}n\u{ef}c\u{f6}d\u{e9}1!Pw", 11), // NFD Ü composes
        ("\u{5bc6}\u{7801}\u{5bc6}\u{7801}\u{5bc6}\u{7801}", 6), // 18 bytes of CJK
        ("😀😀😀😀😀😀😀😀😀😀😀", 11),            // 44 bytes
    ] {
        let d = validate_password(&policy, text, &PasswordContext::new());
        assert_eq!(
            d.violations(),
            [Violation::TooShort { length, min: 12 }],
            "{text}"
        );
    }
}

/// B20's kind: NUL and every other control or invisible-direction character, anywhere.
#[test]
fn control_characters_are_rejected_wherever_they_are() {
    let policy: PasswordPolicy = serde_json::from_value(json!({
        "min_length": 8, "require_uppercase": false, "require_number": false,
        "require_special": false, "prevent_reuse": 3
    }))
    .unwrap();
    let history: Vec<String> = vec![];
    let ctx = PasswordContext::new().with_history(&history);
    for c in [
        '\0', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{9b}', '\u{2028}', '\u{202e}',
    ] {
        for at in [0, 5, 15] {
            let mut text: Vec<char> = "Harbor-Lantern42".chars().collect();
            text.insert(at, c);
            let text: String = text.into_iter().collect();
            let d = validate_password(&policy, &text, &ctx);
            assert!(
                matches!(d.violations(), [Violation::InvalidCharacter { position, .. }] if *position == at),
                "{c:?} at {at}: {:?}",
                d.violations()
            );
        }
    }
}

/// B21's kind: any printable non-alphanumeric is special.
#[test]
fn every_printable_symbol_counts_as_special() {
    let policy: PasswordPolicy = serde_json::from_value(json!({
        "min_length": 8, "require_uppercase": true, "require_number": true,
        "require_special": true
    }))
    .unwrap();
    for sep in [
        " ", "-", ".", "{", "\\", "_", "€", "«", "😀", "§", "~", "\u{3000}",
    ] {
        let d = validate_password(
            &policy,
            &format!("Harbor{sep}Lantern42"),
            &PasswordContext::new(),
        );
        assert!(d.permits(), "{sep:?}: {:?}", d.violations());
    }
    let d = validate_password(&policy, "HarborLantern42", &PasswordContext::new());
    assert_eq!(d.violations(), [Violation::MissingSpecial]);
    // Non-ASCII uppercase counts as uppercase.
    let d = validate_password(&policy, "\u{c9}t\u{e9}-2026-ok", &PasswordContext::new());
    assert!(d.permits(), "{:?}", d.violations());
}

/// B22's kind: `prevent_reuse: N` covers `history[..N]`, `history[0]` being the current.
#[test]
fn prevent_reuse_covers_exactly_the_last_n_with_the_current_first() {
    let plain = [
        "Quartz-Meadow-71!",
        "Copper-Harbor-62@",
        "Velvet-Canyon-53#",
        "Saffron-Ridge-44$",
        "Indigo-Tundra-35%",
        "Cobalt-Prairie-26^",
    ];
    let history = history(&json!({"history": plain}));
    let ctx = PasswordContext::new().with_history(&history);
    let policy: PasswordPolicy = serde_json::from_value(json!({
        "min_length": 12, "require_uppercase": true, "require_number": true,
        "require_special": true, "prevent_reuse": 5
    }))
    .unwrap();
    for (generation, p) in plain.iter().enumerate() {
        let d = validate_password(&policy, p, &ctx);
        if generation < 5 {
            assert_eq!(
                d.violations(),
                [Violation::Reused {
                    generation,
                    remembered: 5
                }],
                "{p}"
            );
        } else {
            assert!(d.permits(), "{p}: {:?}", d.violations());
        }
    }
}
