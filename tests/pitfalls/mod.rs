//! The scenarios of `fixtures/pitfalls.json`, each a kind of failure that has hit real software
//! doing this job. Each function under test has its own submodule; this one loads the cases.

mod check_ip;
mod compliance_report;
mod rotation_due;
mod session_expired;
mod validate_password;
mod verify_totp;

use serde_json::Value;

/// Every case of `pitfalls.json` for `function`.
pub fn cases(function: &str) -> Vec<Value> {
    let all: Vec<Value> = serde_json::from_str(&crate::read_fixture("pitfalls.json")).unwrap();
    let cases: Vec<Value> = all
        .into_iter()
        .filter(|c| c["function"] == function)
        .collect();
    assert!(!cases.is_empty(), "no pitfall cases for {function}");
    cases
}

/// Whether `outcome` matches the case's `expect` or `alt_expect`. `outcome` is either
/// `{"error": ...}` or an object of the fields the case names.
pub fn matches_expectation(case: &Value, outcome: &Value) -> bool {
    let fits = |expect: &Value| -> bool {
        let Some(expect) = expect.as_object() else {
            return false;
        };
        if expect.contains_key("error") {
            return outcome.get("error").is_some();
        }
        expect.iter().all(|(k, v)| outcome.get(k) == Some(v))
    };
    fits(&case["expect"]) || case.get("alt_expect").is_some_and(fits)
}
