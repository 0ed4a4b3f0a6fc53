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
    let [err] = err.as_slice() else {
        panic!("one error: {err}")
    };
    assert!(matches!(err, SettingsError::DuplicateField { .. }), "{err}");
    assert_eq!(err.path(), "session_policy.timeout_minutes");

    let err = SettingsUpdate::from_json(r#"{"two_factor": {}, "two_factor": {"required": false}}"#)
        .unwrap_err();
    assert_eq!(err.as_slice()[0].path(), "two_factor");
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

/// Error messages quoted input as it came: `1.2.3.4\x1b[2J` cleared the terminal of whoever
/// read the message, a tab forged a column of tab-separated output, and U+202E reversed the
/// rest of the line. Every message that quotes input shows such characters escaped (`\t`,
/// `\u{1b}`, `\u{202e}`), and the rest of the input as it was.
#[test]
fn errors_quote_control_and_bidi_characters_escaped() {
    use whale_security::allowlist::{parse_cidr, parse_ip};
    use whale_security::id::StoreId;

    let hostile = [
        "1.2.3.4\x1b[2J",
        "8.8.8.8\tallow",
        "10.0.0.1\0",
        "\u{202e}4.3.2.1",
        "1.1\u{85}.1.1",
        "2001:db8::\u{2066}1",
    ];
    for text in hostile {
        let messages = [
            parse_ip(text).unwrap_err().to_string(),
            parse_cidr(&format!("{text}/32")).unwrap_err().to_string(),
            StoreId::new(format!("store_{text}"))
                .unwrap_err()
                .to_string(),
        ];
        for message in messages {
            assert!(!crate::has_display_controls(&message), "{message:?}");
        }
    }
    assert_eq!(
        parse_ip("8.8.8.8\tallow").unwrap_err().to_string(),
        r"`8.8.8.8\tallow` contains whitespace"
    );
    assert_eq!(
        parse_ip("1.2.3.4\x1b[2J").unwrap_err().to_string(),
        r"`1.2.3.4\u{1b}[2J` is not an IP address"
    );

    // Keys and values of settings documents and updates: serde quotes an unknown key as it is.
    let key = "require_\u{1b}[31mupper\u{202e}case\t";
    let mut doc: serde_json::Value = serde_json::from_str(&spec_text()).unwrap();
    doc["password_policy"][key] = 1.into();
    doc["session_policy"]["timeout_minutes"] = "8\u{1b}0".into();
    let errors = SecuritySettings::from_json(&doc.to_string()).unwrap_err();
    assert_eq!(errors.as_slice().len(), 2, "{errors}");
    for e in errors.as_slice() {
        assert!(!crate::has_display_controls(&e.to_string()), "{e:?}");
        assert!(!crate::has_display_controls(e.path()), "{e:?}");
    }
    let update = format!(
        r#"{{"password_policy": {{{}: 1}}}}"#,
        serde_json::json!(key)
    );
    let err = SettingsUpdate::from_json(&update).unwrap_err();
    assert_eq!(
        err.to_string(),
        r"password_policy.require_\u{1b}[31mupper\u{202e}case\t: unknown field"
    );
    let twice = format!(r#"{{"{k}": 1, "{k}": 2}}"#, k = "a\\u001bb");
    let err = SettingsUpdate::from_json(&twice).unwrap_err();
    assert!(!crate::has_display_controls(&err.to_string()), "{err:?}");
}

/// A label holding U+202E (right-to-left override) was accepted and printed by `check-ip`,
/// where it reverses the columns after it; only control characters were refused. Labels refuse
/// what passwords refuse: controls, bidirectional controls (U+061C, U+200E, U+200F,
/// U+202A..=U+202E, U+2066..=U+2069), line separators and noncharacters, on reading a document
/// and in an update.
#[test]
fn labels_refuse_bidirectional_controls_as_passwords_do() {
    use whale_security::allowlist::{Label, LabelError};
    use whale_security::password::InvalidCharacterKind;

    for c in [
        '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
        '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ] {
        let err = Label::new(format!("Office {c}network")).unwrap_err();
        assert_eq!(
            err,
            LabelError::InvalidCharacter {
                kind: InvalidCharacterKind::BidiControl
            },
            "{:04x}",
            u32::from(c)
        );
        assert_eq!(err.to_string(), "label contains a bidirectional control");
    }
    for (text, kind) in [
        ("a\u{2028}b", InvalidCharacterKind::LineSeparator),
        ("a\u{fdd0}b", InvalidCharacterKind::Noncharacter),
    ] {
        assert_eq!(
            Label::new(text).unwrap_err(),
            LabelError::InvalidCharacter { kind }
        );
    }
    assert_eq!(
        Label::new("a\u{1b}b").unwrap_err(),
        LabelError::ControlCharacter
    );
    // Scripts written right to left are text like any other.
    assert!(Label::new("משרד ראשי").is_ok());

    let mut doc: serde_json::Value = serde_json::from_str(&spec_text()).unwrap();
    doc["ip_allowlist"]["entries"][0]["label"] = "Office \u{202e}krowten".into();
    let errors = SecuritySettings::from_json(&doc.to_string()).unwrap_err();
    assert_eq!(
        errors.as_slice()[0].path(),
        "ip_allowlist.entries[0].label",
        "{errors}"
    );
    let update = r#"{"ip_allowlist": {"entries": [{"cidr": "10.0.0.0/8", "label": "\u2067x"}]}}"#;
    let err = SettingsUpdate::from_json(update).unwrap_err();
    assert_eq!(
        err.as_slice()[0].path(),
        "ip_allowlist.entries[0].label",
        "{err}"
    );
}

mod future_records {
    use chrono::{DateTime, Utc};
    use whale_security::api_keys::{ApiKeyRotationPolicy, rotation_due};
    use whale_security::id::UserId;
    use whale_security::session::{
        ExpiryReason, ReauthDecision, SensitiveAction, Session, SessionId, SessionPolicy,
        SessionStatus, reauth_required, session_expired,
    };
    use whale_security::time::{self, MAX_CLOCK_SKEW_SECONDS};

    fn t(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn policy() -> SessionPolicy {
        serde_json::from_str(
            r#"{"timeout_minutes": 480, "max_concurrent_sessions": 3,
                "require_re_auth_for_sensitive": true, "idle_timeout_minutes": 30}"#,
        )
        .unwrap()
    }

    fn session(created: &str) -> Session {
        Session::signed_in(
            SessionId::new("s1").unwrap(),
            UserId::new("user_a").unwrap(),
            t(created),
        )
    }

    /// A record with `created_at: 9999-12-31T23:59:59Z` was live at every `now` before it (the
    /// future instant counted as `now`, so each check said "live for 8 more hours"): a
    /// perpetual session from one corrupt or forged field. Beyond the clock-skew allowance a
    /// stored instant after `now` is not trusted: the session is not live.
    #[test]
    fn a_session_recorded_far_in_the_future_is_not_live_at_any_earlier_now() {
        let p = policy();
        let s = session("9999-12-31T23:59:59Z");
        for now in [
            "2026-03-10T12:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:54:58Z",
        ] {
            let status = session_expired(&p, &s, t(now));
            let SessionStatus::Expired { reason } = status else {
                panic!("{now}: {status:?}")
            };
            assert!(
                matches!(
                    reason,
                    ExpiryReason::RecordedInFuture {
                        field: "created_at",
                        ..
                    }
                ),
                "{reason:?}"
            );
            assert_eq!(reason.as_str(), "recorded_in_future");
        }
    }

    /// Within the allowance (servers whose clocks disagree by seconds) the record is read
    /// as before: the future instant counts as `now`, exactly at the allowance too.
    #[test]
    fn a_session_recorded_within_the_clock_skew_allowance_is_live() {
        let p = policy();
        let now = t("2026-03-10T12:00:00Z");
        let at_limit = time::checked_add_minutes(now, MAX_CLOCK_SKEW_SECONDS / 60).unwrap();
        let mut s = session("2026-03-10T12:00:00Z");
        s.created_at = at_limit;
        s.last_activity_at = at_limit;
        s.last_authenticated_at = at_limit;
        assert!(!session_expired(&p, &s, now).is_expired());
        let one_ms_more = at_limit + chrono::TimeDelta::try_milliseconds(1).unwrap();
        s.last_activity_at = one_ms_more;
        assert!(matches!(
            session_expired(&p, &s, now),
            SessionStatus::Expired {
                reason: ExpiryReason::RecordedInFuture {
                    field: "last_activity_at",
                    ..
                }
            }
        ));
    }

    /// `last_authenticated_at: 9999-…` made every sensitive action proceed without
    /// re-authentication, forever. Now the session is refused.
    #[test]
    fn a_re_authentication_recorded_far_in_the_future_never_lets_an_action_proceed() {
        let p = policy();
        let mut s = session("2026-03-10T11:00:00Z");
        s.last_activity_at = t("2026-03-10T11:59:00Z");
        s.last_authenticated_at = t("9999-12-31T23:59:59Z");
        let d = reauth_required(
            &p,
            &s,
            &SensitiveAction::ExportData,
            t("2026-03-10T12:00:00Z"),
        );
        assert!(!d.permits(), "{d:?}");
        assert!(matches!(d, ReauthDecision::SessionExpired { .. }), "{d:?}");
    }

    /// `last_rotation: 9999-…` postponed rotation forever ("not due yet"). A last rotation
    /// beyond the clock-skew allowance is not trusted: the rotation is due now (fail closed).
    #[test]
    fn a_last_rotation_far_in_the_future_is_due_now() {
        let p: ApiKeyRotationPolicy = serde_json::from_str(
            r#"{"enabled": true, "interval_days": 90, "grace_period_hours": 48}"#,
        )
        .unwrap();
        let now = t("2026-03-10T12:00:00Z");
        for last in ["2026-03-11T00:00:00Z", "9999-12-31T23:59:59Z"] {
            let d = rotation_due(&p, t(last), now).unwrap();
            assert!(d.is_due(), "{last}: {d:?}");
        }
        let d = rotation_due(&p, DateTime::<Utc>::MAX_UTC, now).unwrap();
        assert!(d.is_due(), "{d:?}");
        // Within the allowance: counted as recorded, not due.
        assert!(
            !rotation_due(&p, t("2026-03-10T12:05:00Z"), now)
                .unwrap()
                .is_due()
        );
        // A stored next_rotation further ahead than one interval (and the allowance) is
        // corrupt as well.
        let mut p = p;
        p.next_rotation = Some(t("9999-12-31T23:59:59Z"));
        assert!(p.due_at(now).unwrap().is_due());
        p.next_rotation = Some(t("2026-06-08T12:00:00Z"));
        assert!(!p.due_at(now).unwrap().is_due());
    }
}
