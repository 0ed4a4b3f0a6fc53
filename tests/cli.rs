//! The `whale-security` binary on the shipped real-input files.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn check_ip_json_names_the_matched_entry_and_keeps_going_after_a_bad_line() {
    let out = run(
        &[
            "check-ip",
            "--settings",
            "data/spec-settings.json",
            "--json",
            "--now",
            "2026-03-10T12:00:00Z",
        ],
        "::ffff:203.0.113.9\n0203.0.113.9\n198.51.100.42\n198.51.100.4\n",
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["allowed"], true);
    assert_eq!(lines[0]["entry"], "ip_a1b2c3");
    assert!(lines[1]["error"].as_str().unwrap().contains("leading zero"));
    assert_eq!(lines[2]["entry"], "ip_d4e5f6");
    assert_eq!(lines[3]["allowed"], false);
    assert_eq!(lines[3]["entry"], serde_json::Value::Null);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_ip_answers_on_the_real_google_cloud_list() {
    let addresses = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/gcp-addresses.txt"
    ))
    .unwrap();
    let out = run(
        &[
            "check-ip",
            "--settings",
            "data/gcp-settings.json",
            "--now",
            "2026-03-10T12:00:00Z",
        ],
        &addresses,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let allowed = text
        .lines()
        .filter(|l| l.split('\t').nth(1) == Some("allow"))
        .count();
    let denied = text
        .lines()
        .filter(|l| l.split('\t').nth(1) == Some("deny"))
        .count();
    let errors = text
        .lines()
        .filter(|l| l.split('\t').nth(1) == Some("error"))
        .count();
    assert_eq!((allowed, denied, errors), (10, 5, 4), "{text}");
}

#[test]
fn check_ip_refuses_a_settings_file_with_an_invalid_entry() {
    let dir = std::env::temp_dir().join(format!("whale-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    std::fs::write(&path, text.replace("192.0.2.0/28", "192.0.2.1/28")).unwrap();
    let out = run(
        &[
            "check-ip",
            "--settings",
            path.to_str().unwrap(),
            "192.0.2.1",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("ip_allowlist.entries[2].cidr"), "{err}");
}

#[test]
fn validate_lists_every_error_with_its_path() {
    let dir = std::env::temp_dir().join(format!("whale-cli-v-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    std::fs::write(
        &path,
        text.replace("\"timeout_minutes\": 480", "\"timeout_minutes\": 0")
            .replace("require_number", "require_numbr"),
    )
    .unwrap();
    let out = run(&["validate", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("error: session_policy.timeout_minutes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: password_policy.require_numbr"),
        "{stderr}"
    );
}

#[test]
fn validate_prints_a_valid_file_normalized() {
    let out = run(&["validate", "data/spec-settings.json"], "");
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["store_id"], "store_a1b2c3d4");
}
