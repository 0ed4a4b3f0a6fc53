//! Regression tests from a hostile-input review: each test names the input that once gave a
//! wrong, ambiguous or silent answer, and the behaviour that is right.

use whale_security::SecuritySettings;
use whale_security::settings::{SettingsError, SettingsUpdate};

fn spec_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap()
}

/// `"require_uppercase": true, "require_uppercase": false` was read as `false` (serde_json
/// keeps the last key): a policy must not depend on which duplicate a reader keeps.
#[test]
fn a_duplicate_policy_key_is_an_error_naming_the_field() {
    let text = spec_text().replace(
        r#""require_uppercase": true,"#,
        r#""require_uppercase": true, "require_uppercase": false,"#,
    );
    let errors = SecuritySettings::from_json(&text).unwrap_err();
    assert!(
        matches!(errors.as_slice(), [SettingsError::DuplicateField { path, .. }] if path == "password_policy.require_uppercase"),
        "{errors}"
    );
    assert!(
        errors
            .to_string()
            .contains("password_policy.require_uppercase"),
        "{errors}"
    );
}

/// Duplicates are refused at every level: the top level, inside list items, and in updates.
#[test]
fn duplicate_keys_are_refused_at_every_level_and_in_updates() {
    let text = spec_text().replacen("{", r#"{"store_id": "store_zz", "#, 1);
    let errors = SecuritySettings::from_json(&text).unwrap_err();
    assert_eq!(errors.as_slice()[0].path(), "store_id", "{errors}");

    let text = spec_text().replacen(
        r#""label": "VPN exit node","#,
        r#""label": "VPN exit node", "label": "x","#,
        1,
    );
    let errors = SecuritySettings::from_json(&text).unwrap_err();
    assert_eq!(
        errors.as_slice()[0].path(),
        "ip_allowlist.entries[1].label",
        "{errors}"
    );

    let err = SettingsUpdate::from_json(
        r#"{"session_policy": {"timeout_minutes": 5, "timeout_minutes": 525600}}"#,
    )
    .unwrap_err();
    assert!(matches!(err, SettingsError::DuplicateField { .. }), "{err}");
    assert_eq!(err.path(), "session_policy.timeout_minutes");

    let err = SettingsUpdate::from_json(r#"{"two_factor": {}, "two_factor": {"required": false}}"#)
        .unwrap_err();
    assert_eq!(err.path(), "two_factor");
}

/// Reading through serde (any format) refuses duplicates too, not only `from_json`.
#[test]
fn deserializing_settings_through_serde_refuses_duplicate_keys() {
    let text = spec_text().replace(
        r#""max_age_days": 90,"#,
        r#""max_age_days": 90, "max_age_days": 3650,"#,
    );
    let err = serde_json::from_str::<SecuritySettings>(&text).unwrap_err();
    assert!(
        err.to_string().contains("password_policy.max_age_days"),
        "{err}"
    );
}

/// A duplicate key that is also hostile (a megabyte long) is named shortened.
#[test]
fn a_huge_duplicate_key_is_shortened_in_the_error() {
    let key = "k".repeat(1 << 20);
    let text = format!(r#"{{"{key}": 1, "{key}": 2}}"#);
    let errors = SecuritySettings::from_json(&text).unwrap_err();
    assert!(
        errors.to_string().len() < 400,
        "{}",
        errors.to_string().len()
    );
}

/// A 100 000-character unknown key, or a 100 000-character string where a number goes, was
/// echoed whole in the error (a 100 kB "one-line" message); errors now quote it shortened.
#[test]
fn errors_quote_huge_keys_and_values_shortened() {
    let huge = "k".repeat(100_000);
    let mut doc: serde_json::Value = serde_json::from_str(&spec_text()).unwrap();
    doc[&huge] = 1.into();
    doc["password_policy"][&huge] = 1.into();
    doc["session_policy"]["timeout_minutes"] = huge.clone().into();
    doc["two_factor"]["methods"] = serde_json::json!([huge]);
    let errors = SecuritySettings::from_json(&doc.to_string()).unwrap_err();
    assert_eq!(errors.as_slice().len(), 4, "{errors}");
    for e in errors.as_slice() {
        assert!(
            e.to_string().len() < 600,
            "{} bytes: {}…",
            e.to_string().len(),
            &e.to_string()[..200]
        );
        assert!(e.path().len() < 300);
    }
    let err = SettingsUpdate::from_json(&format!(r#"{{"password_policy": {{"{huge}": 1}}}}"#))
        .unwrap_err();
    assert!(err.to_string().len() < 600);
}
