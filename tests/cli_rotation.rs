//! `whale-security rotation` on the spec's settings.

use std::process::{Command, Output};

use serde_json::{Value, json};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn rotation(settings: &str, now: &str) -> (Option<i32>, Value) {
    let out = run(&["rotation", "--settings", settings, "--now", now]);
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), value)
}

#[test]
fn rotation_is_not_due_before_and_due_at_the_spec_next_rotation() {
    // The spec: last rotation 2026-01-01, 90 days.
    let (code, value) = rotation("data/spec-settings.json", "2026-03-10T12:00:00Z");
    assert_eq!(code, Some(1));
    assert_eq!(
        value,
        json!({"due": false, "next_rotation": "2026-04-01T00:00:00.000Z",
               "basis": {"from": "last_rotation", "at": "2026-01-01T00:00:00.000Z"}})
    );
    let (code, value) = rotation("data/spec-settings.json", "2026-04-01T00:00:00Z");
    assert_eq!(code, Some(0));
    assert_eq!(
        value,
        json!({"due": true, "next_rotation": "2026-04-01T00:00:00.000Z",
               "basis": {"from": "last_rotation", "at": "2026-01-01T00:00:00.000Z"}})
    );
}

#[test]
fn rotation_reports_disabled_as_never_due_and_bad_input_as_exit_2() {
    let dir = std::env::temp_dir().join(format!("whale-cli-rot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("disabled.json");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["api_key_rotation"]["enabled"] = json!(false);
    std::fs::write(&path, doc.to_string()).unwrap();
    let (code, value) = rotation(path.to_str().unwrap(), "2030-01-01T00:00:00Z");
    assert_eq!(code, Some(1));
    assert_eq!(
        value,
        json!({"due": false, "next_rotation": null, "basis": null})
    );

    let out = run(&[
        "rotation",
        "--settings",
        "data/spec-settings.json",
        "--now",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// A stored `next_rotation` too far ahead to trust is due at once, and the answer says why.
#[test]
fn a_schedule_too_far_ahead_is_due_now_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.json");
    let mut settings: Value =
        serde_json::from_str(&std::fs::read_to_string("data/spec-settings.json").unwrap()).unwrap();
    let policy = &mut settings["api_key_rotation"];
    policy.as_object_mut().unwrap().remove("last_rotation");
    policy["next_rotation"] = json!("2030-01-01T00:00:00.000Z");
    std::fs::write(&file, settings.to_string()).unwrap();
    let (code, value) = rotation(file.to_str().unwrap(), "2026-03-10T12:00:00Z");
    assert_eq!(code, Some(0));
    assert_eq!(
        value,
        json!({"due": true, "next_rotation": "2026-03-10T12:00:00.000Z",
               "basis": {"from": "recorded_in_future", "at": "2030-01-01T00:00:00.000Z"}})
    );
}
