//! Every validation rule of a settings document, each with an input that breaks it.

use proptest::prelude::*;
use serde_json::Value;
use whale_security::settings::{SettingsError, SettingsUpdate};
use whale_security::{SecuritySettings, SettingsErrors};

fn spec_settings() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The spec settings with the value at `pointer` replaced.
fn with(pointer: &str, value: Value) -> Result<SecuritySettings, SettingsErrors> {
    let mut doc = spec_settings();
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = value;
    SecuritySettings::from_json(&doc.to_string())
}

fn paths(result: Result<SecuritySettings, SettingsErrors>) -> Vec<String> {
    result
        .unwrap_err()
        .as_slice()
        .iter()
        .map(|e| e.path().to_owned())
        .collect()
}

#[test]
fn the_spec_settings_are_valid() {
    let settings = SecuritySettings::from_json(&spec_settings().to_string()).unwrap();
    let written: Value = serde_json::from_str(&settings.to_json_pretty()).unwrap();
    assert_eq!(written, spec_settings());
}

#[test]
fn a_misspelled_policy_field_is_an_unknown_field_not_a_weaker_policy() {
    let mut doc = spec_settings();
    let policy = doc["password_policy"].as_object_mut().unwrap();
    let value = policy.remove("require_uppercase").unwrap();
    policy.insert("require_upercase".into(), value);
    let errors = SecuritySettings::from_json(&doc.to_string()).unwrap_err();
    assert!(
        errors.as_slice().iter().any(|e| matches!(e, SettingsError::UnknownField { path } if path == "password_policy.require_upercase")),
        "{errors}"
    );
}

#[test]
fn an_unknown_top_level_field_is_named() {
    let mut doc = spec_settings();
    doc["two_factr"] = Value::Bool(true);
    assert_eq!(
        paths(SecuritySettings::from_json(&doc.to_string())),
        ["two_factr"]
    );
}

#[test]
fn a_missing_field_is_named() {
    let mut doc = spec_settings();
    doc["session_policy"]
        .as_object_mut()
        .unwrap()
        .remove("timeout_minutes");
    assert_eq!(
        paths(SecuritySettings::from_json(&doc.to_string())),
        ["session_policy.timeout_minutes"]
    );
}

#[test]
fn numbers_outside_their_documented_ranges_are_refused() {
    let cases: &[(&str, Value)] = &[
        ("/session_policy/timeout_minutes", 0.into()),
        ("/session_policy/timeout_minutes", 525_601.into()),
        ("/session_policy/timeout_minutes", (-5).into()),
        ("/session_policy/timeout_minutes", serde_json::json!(1e30)),
        ("/session_policy/timeout_minutes", serde_json::json!(480.5)),
        (
            "/session_policy/timeout_minutes",
            serde_json::json!(u64::MAX),
        ),
        ("/session_policy/max_concurrent_sessions", 0.into()),
        ("/password_policy/min_length", 0.into()),
        ("/password_policy/min_length", 65.into()),
        ("/password_policy/max_age_days", 0.into()),
        ("/password_policy/prevent_reuse", 25.into()),
        ("/two_factor/grace_period_hours", 8761.into()),
        ("/api_key_rotation/interval_days", 0.into()),
        ("/api_key_rotation/grace_period_hours", (-1).into()),
    ];
    for (pointer, value) in cases {
        let want = pointer.trim_start_matches('/').replace('/', ".");
        assert_eq!(
            paths(with(pointer, value.clone())),
            [want],
            "{pointer} = {value}"
        );
    }
}

#[test]
fn a_grace_period_not_shorter_than_the_interval_is_refused() {
    let mut doc = spec_settings();
    doc["api_key_rotation"]["interval_days"] = 2.into();
    doc["api_key_rotation"]["grace_period_hours"] = 48.into();
    let errors = SecuritySettings::from_json(&doc.to_string()).unwrap_err();
    assert!(matches!(
        errors.as_slice(),
        [SettingsError::GraceNotShorterThanInterval {
            grace_hours: 48,
            interval_days: 2,
            ..
        }]
    ));
}

#[test]
fn sets_must_be_non_empty_known_and_without_duplicates() {
    for (pointer, value) in [
        ("/two_factor/methods", serde_json::json!([])),
        ("/two_factor/methods", serde_json::json!(["totp", "totp"])),
        ("/two_factor/methods", serde_json::json!(["email"])),
        ("/ip_allowlist/applies_to", serde_json::json!([])),
        (
            "/ip_allowlist/applies_to",
            serde_json::json!(["api", "api"]),
        ),
        ("/ip_allowlist/applies_to", serde_json::json!(["admin"])),
    ] {
        let got = paths(with(pointer, value.clone()));
        let want = pointer.trim_start_matches('/').replace('/', ".");
        assert_eq!(got.len(), 1, "{pointer} = {value}: {got:?}");
        assert!(got[0].starts_with(&want), "{pointer} = {value}: {got:?}");
    }
}

#[test]
fn an_invalid_entry_names_its_position_and_the_text() {
    let errors = with("/ip_allowlist/entries/1/cidr", "203.0.113.77/24".into()).unwrap_err();
    let [SettingsError::Invalid { path, message }] = errors.as_slice() else {
        panic!("{errors}")
    };
    assert_eq!(path, "ip_allowlist.entries[1].cidr");
    assert!(
        message.contains("203.0.113.0/24 or 203.0.113.77/32"),
        "{message}"
    );
}

#[test]
fn duplicate_entry_ids_are_refused() {
    let errors = with("/ip_allowlist/entries/2/id", "ip_a1b2c3".into()).unwrap_err();
    assert!(
        matches!(errors.as_slice(), [SettingsError::DuplicateEntryId { path, .. }] if path == "ip_allowlist.entries[2].id")
    );
}

#[test]
fn bad_ids_and_timestamps_are_refused() {
    assert_eq!(paths(with("/store_id", "shop_1".into())), ["store_id"]);
    assert_eq!(paths(with("/updated_by", "".into())), ["updated_by"]);
    assert_eq!(
        paths(with("/updated_at", "yesterday".into())),
        ["updated_at"]
    );
    assert_eq!(paths(with("/object", "store".into())), ["object"]);
}

#[test]
fn every_broken_section_is_reported_at_once() {
    let mut doc = spec_settings();
    doc["session_policy"]["timeout_minutes"] = 0.into();
    doc["password_policy"]["min_length"] = "twelve".into();
    doc["extra"] = 1.into();
    let got = paths(SecuritySettings::from_json(&doc.to_string()));
    assert_eq!(
        got,
        [
            "session_policy.timeout_minutes",
            "password_policy.min_length",
            "extra"
        ]
    );
}

#[test]
fn truncated_json_gives_line_and_column() {
    let text = spec_settings().to_string();
    let errors = SecuritySettings::from_json(&text[..text.len() / 2]).unwrap_err();
    assert!(
        matches!(errors.as_slice(), [SettingsError::Syntax { line: 1, .. }]),
        "{errors}"
    );
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(SecuritySettings::from_json(&text).is_err());
    assert!(SettingsUpdate::from_json(&text).is_err());
    let nested = format!(
        r#"{{"two_factor": {}1{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(SettingsUpdate::from_json(&nested).is_err());
}

#[test]
fn a_document_that_is_not_an_object_is_refused() {
    for text in ["[]", "null", "42", "\"settings\""] {
        assert!(SecuritySettings::from_json(text).is_err(), "{text}");
    }
}

#[test]
fn update_errors_name_the_field() {
    let paths = |json: &str| -> Vec<String> {
        let errors = SettingsUpdate::from_json(json).unwrap_err();
        errors
            .as_slice()
            .iter()
            .map(|e| e.path().to_owned())
            .collect()
    };
    assert_eq!(
        paths(r#"{"session_policy": {"timeout_minutes": 0}}"#),
        ["session_policy.timeout_minutes"]
    );
    assert_eq!(
        paths(
            r#"{"ip_allowlist": {"entries": [{"cidr": "10.0.0.0/8"}, {"cidr": "0203.0.113.9"}]}}"#
        ),
        ["ip_allowlist.entries[1].cidr"]
    );
    assert_eq!(
        paths(r#"{"two_factor": {"required": "yes"}}"#),
        ["two_factor.required"]
    );
}

#[test]
fn an_update_reports_every_bad_field_of_every_section() {
    let errors = SettingsUpdate::from_json(
        r#"{"session_policy": {"timeout_minutes": 0, "max_concurrent_sessions": 3,
                               "reauth_window_minutes": -1},
            "password_policy": {"min_length": 0},
            "colour": "blue"}"#,
    )
    .unwrap_err();
    let paths: Vec<&str> = errors.as_slice().iter().map(|e| e.path()).collect();
    assert_eq!(
        paths,
        [
            "colour",
            "password_policy.min_length",
            "session_policy.reauth_window_minutes",
            "session_policy.timeout_minutes",
        ]
    );
    // A syntax error or a repeated key leaves nothing to split: one error.
    assert_eq!(
        SettingsUpdate::from_json("{").unwrap_err().as_slice().len(),
        1
    );
    let twice = r#"{"password_policy": {"min_length": 0}, "password_policy": {"min_length": 0}}"#;
    assert_eq!(
        SettingsUpdate::from_json(twice)
            .unwrap_err()
            .as_slice()
            .len(),
        1
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)))]

    /// Cutting or corrupting a valid document anywhere gives an error, never a panic.
    #[test]
    fn corrupted_documents_never_panic(cut in 0usize..2000, byte in any::<u8>(), at in 0usize..2000) {
        let mut bytes = spec_settings().to_string().into_bytes();
        let at = at % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut.max(1));
        let text = String::from_utf8_lossy(&bytes);
        let _ = SecuritySettings::from_json(&text);
        let _ = SettingsUpdate::from_json(&text);
    }

    /// Whatever valid document goes in, writing it and reading it back gives the same settings.
    #[test]
    fn settings_round_trip(timeout in 1u32..=525_600, min_len in 1u16..=64, grace in 0u32..=2000, interval in 84u32..=3650) {
        let mut doc = spec_settings();
        doc["session_policy"]["timeout_minutes"] = timeout.into();
        doc["password_policy"]["min_length"] = min_len.into();
        doc["api_key_rotation"]["grace_period_hours"] = grace.into();
        doc["api_key_rotation"]["interval_days"] = interval.into();
        let settings = SecuritySettings::from_json(&doc.to_string()).unwrap();
        let again = SecuritySettings::from_json(&settings.to_json_pretty()).unwrap();
        prop_assert_eq!(settings, again);
    }
}

/// Repeated POSTs could grow an allowlist without bound, and every write rewrites the whole
/// document. A list over `IpAllowlist::MAX_ENTRIES` is refused when read, and adding one entry
/// to a full list is refused too.
#[test]
fn an_allowlist_over_the_entry_limit_is_refused_when_read_and_when_added_to() {
    use whale_security::allowlist::{Cidr, IpAllowlist};
    use whale_security::id::UserId;
    use whale_security::settings::{NewEntry, add_entry};

    let max = IpAllowlist::MAX_ENTRIES;
    let entry = |i: usize| {
        serde_json::json!({
            "id": format!("ip_{i}"),
            "cidr": format!("10.{}.{}.{}/32", i >> 16, (i >> 8) & 0xff, i & 0xff),
            "added_at": "2026-03-10T10:00:00.000Z",
        })
    };
    let mut doc = spec_settings();
    doc["ip_allowlist"]["entries"] = (0..max).map(entry).collect();
    let full = SecuritySettings::from_json(&doc.to_string()).unwrap();

    let now = whale_security::time::parse("2026-03-10T12:00:00Z").unwrap();
    let one_more = NewEntry {
        cidr: "192.0.2.1".parse::<Cidr>().unwrap(),
        label: Default::default(),
        expires_at: None,
    };
    let err = add_entry(&full, one_more, &UserId::new("user_a").unwrap(), now).unwrap_err();
    assert!(
        matches!(err.as_slice(), [SettingsError::TooManyEntries { count, .. }] if *count == max + 1),
        "{err}"
    );

    doc["ip_allowlist"]["entries"] = (0..=max).map(entry).collect();
    assert_eq!(
        paths(SecuritySettings::from_json(&doc.to_string())),
        ["ip_allowlist.entries"]
    );
}

/// Large lists, distinct /24s: `10.a.b.0/24` for the `i`-th.
fn many_networks(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| serde_json::json!({"cidr": format!("10.{}.{}.0/24", i >> 8, i & 0xff)}))
        .collect()
}

/// Replacing the allowlist with 40 000 distinct networks once took 51 s in a release build: the
/// merge searched the old list and rebuilt the set of ids in use for every new entry, and the
/// audit diff searched by id per entry. It applies (quickly, even unoptimized), then a second
/// replacement keeps every id and an added entry is audited alone.
#[test]
fn an_update_of_40_000_entries_applies_and_is_audited_entry_by_entry() {
    use whale_security::allowlist::Cidr;
    use whale_security::id::UserId;
    use whale_security::settings::{NewEntry, add_entry, apply};

    let actor = UserId::new("user_a").unwrap();
    let t1 = whale_security::time::parse("2026-03-10T12:00:00Z").unwrap();
    let t2 = whale_security::time::parse("2026-03-11T12:00:00Z").unwrap();
    let current = SecuritySettings::from_json(&spec_settings().to_string()).unwrap();
    let mut networks = many_networks(40_000);
    let update = |entries: &[Value]| {
        SettingsUpdate::from_json(
            &serde_json::json!({"ip_allowlist": {"entries": entries}}).to_string(),
        )
        .unwrap()
    };

    let first = apply(&current, &update(&networks), &actor, t1).unwrap();
    let entries = &first.settings.ip_allowlist().entries;
    assert_eq!(entries.len(), 40_000);
    // Three spec entries removed, 40 000 added, each under its own path.
    assert_eq!(first.audit.changes.len(), 40_003);

    // The same networks again, one more at the front and the order reversed: every listed one
    // keeps its id and `added_at`.
    networks.reverse();
    networks.insert(0, serde_json::json!({"cidr": "192.0.2.0/24"}));
    let second = apply(&first.settings, &update(&networks), &actor, t2).unwrap();
    let before: std::collections::HashMap<String, _> = entries
        .iter()
        .map(|e| (e.cidr.to_string(), (e.id.clone(), e.added_at)))
        .collect();
    for entry in second.settings.ip_allowlist().entries.iter().skip(1) {
        assert_eq!(
            before[&entry.cidr.to_string()],
            (entry.id.clone(), entry.added_at)
        );
    }
    let paths: Vec<_> = second
        .audit
        .changes
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    let added = &second.settings.ip_allowlist().entries[0];
    assert_eq!(paths, [format!("ip_allowlist.entries.{}", added.id)]);

    let one_more = NewEntry {
        cidr: "198.51.100.0/24".parse::<Cidr>().unwrap(),
        label: Default::default(),
        expires_at: None,
    };
    let (applied, entry) = add_entry(&second.settings, one_more, &actor, t2).unwrap();
    assert_eq!(applied.settings.ip_allowlist().entries.len(), 40_002);
    assert_eq!(applied.audit.changes.len(), 1);
    assert_eq!(
        applied.audit.changes[0].path,
        format!("ip_allowlist.entries.{}", entry.id)
    );
}

/// An update over the entry limit is refused with the same errors as before, in the same order,
/// whatever else the update gets wrong: the entry count, and a rotation grace not shorter
/// than the interval.
#[test]
fn an_update_over_the_entry_limit_is_refused_with_every_error() {
    use whale_security::allowlist::IpAllowlist;
    use whale_security::id::UserId;
    use whale_security::settings::apply;

    let max = IpAllowlist::MAX_ENTRIES;
    let actor = UserId::new("user_a").unwrap();
    let now = whale_security::time::parse("2026-03-10T12:00:00Z").unwrap();
    let current = SecuritySettings::from_json(&spec_settings().to_string()).unwrap();
    let networks = many_networks(max + 1);

    let alone = serde_json::json!({"ip_allowlist": {"entries": networks}});
    let err = apply(
        &current,
        &SettingsUpdate::from_json(&alone.to_string()).unwrap(),
        &actor,
        now,
    )
    .unwrap_err();
    assert_eq!(
        err.as_slice(),
        [SettingsError::TooManyEntries {
            path: "ip_allowlist.entries".into(),
            count: max + 1,
            max,
        }]
    );
    assert_eq!(
        err.to_string(),
        format!(
            "ip_allowlist.entries: {} entries; at most {max} are allowed",
            max + 1
        )
    );

    let both = serde_json::json!({
        "ip_allowlist": {"entries": networks},
        "api_key_rotation": {"interval_days": 1, "grace_period_hours": 24},
    });
    let err = apply(
        &current,
        &SettingsUpdate::from_json(&both.to_string()).unwrap(),
        &actor,
        now,
    )
    .unwrap_err();
    let paths: Vec<_> = err.as_slice().iter().map(SettingsError::path).collect();
    assert_eq!(
        paths,
        [
            "api_key_rotation.grace_period_hours",
            "ip_allowlist.entries"
        ]
    );
}

/// `next_rotation` follows from `last_rotation` and the interval once keys have rotated; a
/// stored value that said otherwise was shown back unchanged while the schedule ignored it.
/// Reading now gives the date the schedule uses.
#[test]
fn next_rotation_reads_as_the_last_rotation_plus_the_interval() {
    let settings = with(
        "/api_key_rotation/next_rotation",
        Value::from("2030-01-01T00:00:00.000Z"),
    )
    .unwrap();
    let next = whale_security::time::parse("2026-04-01T00:00:00Z").unwrap();
    assert_eq!(settings.api_key_rotation().next_rotation, Some(next));
    assert!(
        settings
            .to_json_pretty()
            .contains("2026-04-01T00:00:00.000Z")
    );
    let mut doc = spec_settings();
    doc["api_key_rotation"]
        .as_object_mut()
        .unwrap()
        .remove("next_rotation");
    let settings = SecuritySettings::from_json(&doc.to_string()).unwrap();
    assert_eq!(settings.api_key_rotation().next_rotation, Some(next));
    // Without a rotation yet, the stored date is the schedule.
    doc["api_key_rotation"]
        .as_object_mut()
        .unwrap()
        .remove("last_rotation");
    doc["api_key_rotation"]["next_rotation"] = Value::from("2030-01-01T00:00:00Z");
    let settings = SecuritySettings::from_json(&doc.to_string()).unwrap();
    let later = whale_security::time::parse("2030-01-01T00:00:00Z").unwrap();
    assert_eq!(settings.api_key_rotation().next_rotation, Some(later));
}

/// A last rotation in December 9999 made the derived next rotation fall in year 10000, which
/// was written as `+10000-...` and could not be read back: a store imported with it could never
/// load its settings again. Every computed instant must stay within the years the documents
/// can write (0000 to 9999), so such a document is refused.
#[test]
fn a_computed_instant_past_year_9999_is_refused_not_written_unreadably() {
    let mut doc = spec_settings();
    doc["api_key_rotation"]["last_rotation"] = Value::from("9999-12-01T00:00:00Z");
    doc["api_key_rotation"]
        .as_object_mut()
        .unwrap()
        .remove("next_rotation");
    let errors = SecuritySettings::from_json(&doc.to_string()).unwrap_err();
    assert_eq!(
        errors
            .as_slice()
            .iter()
            .map(|e| e.path())
            .collect::<Vec<_>>(),
        ["api_key_rotation.next_rotation"],
        "{errors}"
    );
    // The latest instant that still works is written and read back.
    doc["api_key_rotation"]["last_rotation"] = Value::from("9999-10-02T23:59:59Z");
    let settings = SecuritySettings::from_json(&doc.to_string()).unwrap();
    let again = SecuritySettings::from_json(&settings.to_json_pretty()).unwrap();
    assert_eq!(settings, again);
}

/// An instant is read only if it can be written back as it was read: UTC years 0000 to 9999
/// (an offset can push a date written in range out of it), and milliseconds, the precision every
/// stored document keeps (finer digits are cut on reading, so a decision does not change once
/// the document is saved).
#[test]
fn instants_are_read_as_they_will_be_written() {
    for (pointer, text) in [
        ("/updated_at", "0000-01-01T00:00:00+00:01"),
        (
            "/ip_allowlist/entries/0/added_at",
            "9999-12-31T23:59:59-23:59",
        ),
        (
            "/api_key_rotation/next_rotation",
            "9999-12-31T23:30:00-01:00",
        ),
        // A leap second: stored as milliseconds it would become the next day's first second.
        ("/updated_at", "2016-12-31T23:59:60.500Z"),
    ] {
        assert_eq!(
            paths(with(pointer, Value::from(text))),
            [pointer
                .trim_start_matches('/')
                .replace("/entries/0/", ".entries[0].")
                .replace('/', ".")],
            "{text}"
        );
    }
    let update = SettingsUpdate::from_json(
        r#"{"ip_allowlist": {"entries": [{"cidr": "203.0.113.0/24",
            "expires_at": "9999-12-31T23:59:59-23:59"}]}}"#,
    )
    .unwrap_err();
    assert_eq!(
        update.as_slice()[0].path(),
        "ip_allowlist.entries[0].expires_at"
    );

    let fine = with(
        "/ip_allowlist/entries/0/added_at",
        Value::from("2026-03-01T12:00:00.000999Z"),
    )
    .unwrap();
    let added = fine.ip_allowlist().entries[0].added_at;
    assert_eq!(
        whale_security::time::format(added),
        "2026-03-01T12:00:00.000Z"
    );
    assert_eq!(added.timestamp_subsec_nanos(), 0);
    let again = SecuritySettings::from_json(&fine.to_json_pretty()).unwrap();
    assert_eq!(again, fine);
}

/// An unknown key is named whole in the path, even when it holds a backtick (the quote of
/// serde's message) or serde's own words.
#[test]
fn an_unknown_key_is_named_whole() {
    for key in ["x`y", "x`, expected y", "`"] {
        let update =
            serde_json::json!({"ip_allowlist": {"entries": [{"cidr": "10.0.0.0/8", key: 1}]}});
        let errors = SettingsUpdate::from_json(&update.to_string()).unwrap_err();
        assert_eq!(
            errors.as_slice()[0].path(),
            format!("ip_allowlist.entries[0].{key}"),
            "{key}"
        );
    }
}

/// A field whose path is shown escaped (a zero-width space, a tab) or cut (a key of hundreds of
/// characters) is still reported, once, beside the other bad fields.
#[test]
fn bad_fields_with_escaped_or_long_paths_are_each_reported_once() {
    let long = "k".repeat(300);
    for key in ["z\u{200b}z", "zz\t", long.as_str()] {
        let update = serde_json::json!({"password_policy": {"min_length": "x", key: 1}});
        let errors = SettingsUpdate::from_json(&update.to_string()).unwrap_err();
        let paths: Vec<&str> = errors.as_slice().iter().map(|e| e.path()).collect();
        assert_eq!(paths.len(), 2, "{key:?}: {paths:?}");
        assert!(paths.contains(&"password_policy.min_length"), "{paths:?}");
        let other = paths
            .iter()
            .find(|p| **p != "password_policy.min_length")
            .unwrap();
        assert!(
            other.starts_with("password_policy.") && other.len() < 300,
            "{other}"
        );
        // The key appears once, not its cut form twice.
        assert_eq!(other.matches('.').count(), 1, "{other}");
    }
}
