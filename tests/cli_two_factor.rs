//! The `report` and `totp verify` commands on the shipped example files.

use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn report_prints_the_spec_counts_the_non_compliant_list_and_each_status() {
    let out = run(&[
        "report",
        "--settings",
        "data/spec-settings.json",
        "--members",
        "data/members.json",
        "--now",
        "2026-03-10T10:00:00Z",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["compliant_members"], 5);
    assert_eq!(v["non_compliant_members"], 3);
    let emails: Vec<&str> = v["non_compliant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["alex@example.com", "jordan@example.com", "sam@example.com"]
    );
    let sam = &v["members"][7];
    assert_eq!(sam["status"], "pending");
    assert_eq!(sam["deadline"], "2026-03-12T12:00:00.000Z");
    assert_eq!(v["members"][5]["status"], "blocked");
    assert_eq!(v["members"][6]["gap"], "unverified");
    assert_eq!(v["summary"]["blocked"], 2);
}

#[test]
fn report_names_the_path_of_a_bad_member_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("whale-cli-2fa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("members.json");
    std::fs::write(
        &file,
        r#"[{"user_id": "user_a", "email": "a@x", "joined_at": "2026-01-01T00:00:00Z",
             "factors": [{"method": "email", "verified": true, "enrolled_at": "2026-01-01T00:00:00Z"}]}]"#,
    )
    .unwrap();
    let out = run(&[
        "report",
        "--settings",
        "data/spec-settings.json",
        "--members",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("[0].factors[0].method"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn totp_verify_accepts_the_rfc_code_once_and_refuses_its_replay() {
    let base = [
        "totp",
        "verify",
        "--secret-file",
        "data/totp-rfc6238.secret",
        "--now",
        "2009-02-13T23:31:30Z",
    ];
    let first = run(&[&base[..], &["005924"]].concat());
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(
        json(&first),
        serde_json::json!({"valid": true, "matched_step": 41152263})
    );

    let replay = run(&[&base[..], &["--last-step", "41152263", "005924"]].concat());
    assert_eq!(replay.status.code(), Some(1));
    assert_eq!(json(&replay)["valid"], false);
    assert_eq!(json(&replay)["matched_step"], Value::Null);

    let short = run(&[&base[..], &["5924"]].concat());
    assert_eq!(json(&short)["reason"], "malformed");
}

#[test]
fn totp_verify_refuses_a_zero_period_as_an_error_not_a_panic() {
    let out = run(&[
        "totp",
        "verify",
        "--secret-file",
        "data/totp-rfc6238.secret",
        "--period",
        "0",
        "287082",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("period"));
}
