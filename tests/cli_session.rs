//! The `whale-security session` command on the shipped example files.

use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn session_at(now: &str, extra: &[&str]) -> (Value, Option<i32>) {
    let mut args = vec![
        "session",
        "--settings",
        "data/spec-settings.json",
        "--sessions",
        "data/sessions.json",
        "--now",
        now,
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (value, out.status.code())
}

#[test]
fn session_reports_expiry_admission_reauth_and_advisories() {
    let (out, code) = session_at("2026-03-10T12:00:00Z", &["--action", "rotate_api_keys"]);
    let sessions = out["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 5);
    let by_id = |id: &str| sessions.iter().find(|s| s["id"] == id).unwrap();

    // Signed in at 03:00 with an 8-hour lifetime: ended at 11:00, half-open.
    let old = by_id("sess_old_desktop");
    assert_eq!(old["expired"], true);
    assert_eq!(old["reason"], "lifetime");
    assert_eq!(old["ends_at"], "2026-03-10T11:00:00.000Z");
    assert_eq!(old["reauth"]["decision"], "session_expired");

    let laptop = by_id("sess_laptop");
    assert_eq!(laptop["expired"], false);
    assert_eq!(laptop["ends_at"], "2026-03-10T16:00:00.000Z");
    // Authenticated at 11:50, the default 15-minute window runs to 12:05.
    assert_eq!(laptop["reauth"]["decision"], "proceed");
    assert_eq!(laptop["reauth"]["recent_until"], "2026-03-10T12:05:00.000Z");
    // Active at 11:45 but authenticated at 09:30: activity is not authentication.
    assert_eq!(by_id("sess_tablet")["reauth"]["decision"], "reauthenticate");

    let admission = out["admission"].as_array().unwrap();
    assert_eq!(admission[0]["user"], "user_d4e5f6a7");
    assert_eq!(admission[0]["decision"], "reject");
    assert_eq!(admission[0]["live"], 3);
    assert_eq!(admission[1]["decision"], "admit");

    let codes: Vec<&str> = out["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["session.no_idle_timeout"]);
    assert_eq!(code, Some(1));
}

#[test]
fn session_exits_zero_only_when_every_answer_is_positive() {
    let dir = std::env::temp_dir().join(format!("whale-cli-s0-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("one.json");
    std::fs::write(
        &path,
        r#"[{"id": "s1", "user": "user_a", "created_at": "2026-03-10T11:55:00Z"}]"#,
    )
    .unwrap();
    let args = |action: &'static str| {
        let mut a = vec![
            "session".to_owned(),
            "--settings".into(),
            "data/spec-settings.json".into(),
            "--sessions".into(),
            path.to_str().unwrap().to_owned(),
            "--now".into(),
            "2026-03-10T12:00:00Z".into(),
            "--aal".into(),
            "aal1".into(),
        ];
        if !action.is_empty() {
            a.extend(["--action".to_owned(), action.to_owned()]);
        }
        a
    };
    let live = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args("change_two_factor"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    // Live, admitted (1 of 3), authenticated 5 minutes ago, no advisory at AAL1.
    assert_eq!(
        live.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&live.stdout)
    );
    let out: Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(out["sessions"][0]["reauth"]["decision"], "proceed");
    assert_eq!(out["advisories"].as_array().unwrap().len(), 0);

    // Ten minutes later the 15-minute window has closed: a negative answer.
    let mut later = args("change_two_factor");
    later[6] = "2026-03-10T12:10:00Z".into();
    let stale = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(later)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(stale.status.code(), Some(1));
}

#[test]
fn session_refuses_a_bad_sessions_file_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("whale-cli-s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sessions.json");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sessions.json"))
        .unwrap();
    std::fs::write(
        &path,
        text.replacen("2026-03-10T09:00:00.000Z", "yesterday", 1),
    )
    .unwrap();
    let out = run(&[
        "session",
        "--settings",
        "data/spec-settings.json",
        "--sessions",
        path.to_str().unwrap(),
        "--now",
        "2026-03-10T12:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("[1].created_at"), "{err}");
    assert!(err.contains("`yesterday`"), "{err}");
}

#[test]
fn session_refuses_an_unknown_level_or_a_malformed_action() {
    let out = run(&[
        "session",
        "--settings",
        "data/spec-settings.json",
        "--sessions",
        "data/sessions.json",
        "--action",
        "Rotate Keys",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// A sessions file holding one id twice (even for two members), or a session active or
/// authenticated before it was created, was read without a word: such records are corrupt,
/// and the file is refused naming the record and field.
#[test]
fn session_refuses_repeated_ids_and_activity_before_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.json");
    let cases = [
        (
            r#"[{"id": "s1", "user": "user_a", "created_at": "2026-03-10T10:00:00Z"},
                {"id": "s1", "user": "user_b", "created_at": "2026-03-10T10:00:00Z"}]"#,
            "[1].id",
        ),
        (
            r#"[{"id": "s1", "user": "user_a", "created_at": "2026-03-10T10:00:00Z",
                 "last_activity_at": "2026-03-10T09:00:00Z"}]"#,
            "[0].last_activity_at",
        ),
        (
            r#"[{"id": "s1", "user": "user_a", "created_at": "2026-03-10T10:00:00Z",
                 "last_authenticated_at": "2026-03-10T09:59:59Z"}]"#,
            "[0].last_authenticated_at",
        ),
    ];
    for (text, field) in cases {
        std::fs::write(&path, text).unwrap();
        let out = run(&[
            "session",
            "--settings",
            "data/spec-settings.json",
            "--sessions",
            path.to_str().unwrap(),
            "--now",
            "2026-03-10T12:00:00Z",
        ]);
        assert_eq!(out.status.code(), Some(2), "{field}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(field), "{err}");
        assert!(out.stdout.is_empty());
    }
}
