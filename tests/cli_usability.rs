//! Faults a new user met in the `whale-security` binary: silent omissions, exit codes against
//! the 0/1/2 convention, missing input taken as an answer, flags silently ignored.

use std::io::Write;
use std::path::Path;
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
    // A command that refuses its flags exits without reading stdin: the pipe is closed then.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A database holding the spec's store, its members and one key issued at its last rotation.
fn database(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("p.db");
    for args in [
        &[
            "settings",
            "import",
            "--db",
            path(&db),
            "--now",
            "2026-03-01T00:00:00Z",
        ][..],
        &[
            "members",
            "import",
            "--db",
            path(&db),
            "--now",
            "2026-03-01T00:00:00Z",
        ][..],
        &[
            "keys",
            "issue",
            "--db",
            path(&db),
            "--now",
            "2026-01-01T00:00:00Z",
        ][..],
    ] {
        let mut args = args.to_vec();
        match args[0] {
            "settings" => args.push("data/spec-settings.json"),
            "members" => args.push("data/members.json"),
            _ => {}
        }
        let out = run(&args, "");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    db
}

#[test]
fn preview_prints_members_affected_keys_due_and_the_actor_block_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let update = dir.path().join("t.json");
    std::fs::write(
        &update,
        r#"{"two_factor": {"methods": ["totp"]}, "api_key_rotation": {"interval_days": 30}}"#,
    )
    .unwrap();
    let args = [
        "preview",
        "--db",
        path(&db),
        "--now",
        "2026-03-10T10:00:00Z",
        "--actor",
        "user_e4f5g6",
        "--json",
        path(&update),
    ];
    let out = run(&args, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members = value["members_affected"].as_array().unwrap();
    // taylor holds only SMS, which no longer counts.
    let taylor = members
        .iter()
        .find(|m| m["user_id"] == "user_e4f5g6")
        .expect("taylor is affected");
    assert_eq!(taylor["email"], "taylor@example.com");
    assert_eq!(taylor["before"]["status"], "compliant");
    assert_ne!(taylor["after"]["status"], "compliant");
    assert_eq!(value["sessions_ending"], serde_json::json!([]));
    assert_eq!(
        value["keys_becoming_due"]["keys"].as_array().unwrap().len(),
        1
    );
    assert_eq!(value["blocks_actor"], true);
    assert_eq!(value["locks_out_caller"], false);
    assert_eq!(value["negative"], true);

    // The same parts in text.
    let text_args: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let out = run(&text_args, "");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("member\tuser_e4f5g6\ttaylor@example.com\tcompliant\t"),
        "{stdout}"
    );
    assert!(stdout.contains("key due\t"), "{stdout}");
    assert!(stdout.contains("blocks actor user_e4f5g6"), "{stdout}");
}

#[test]
fn preview_without_negative_effect_exits_0_and_help_defines_negative() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let update = dir.path().join("t.json");
    std::fs::write(&update, r#"{"api_key_rotation": {"interval_days": 30}}"#).unwrap();
    let out = run(
        &[
            "preview",
            "--db",
            path(&db),
            "--now",
            "2026-03-10T10:00:00Z",
            path(&update),
        ],
        "",
    );
    // A rotation falling due is reported but takes nobody's access away.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("key due\t"));
    let help = text(&run(&["preview", "--help"], "").stdout);
    assert!(help.contains("Exit 1 when"), "{help}");
}

#[test]
fn an_invalid_update_is_a_negative_answer_listing_every_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"session_policy": {"timeout_minutes": 0}, "password_policy": {"min_length": 1000}}"#,
    )
    .unwrap();
    for command in ["update", "preview"] {
        let mut args = vec![];
        if command == "update" {
            args.extend(["settings", "update", "--actor", "user_d4e5f6a7"]);
        } else {
            args.push("preview");
        }
        args.extend(["--db", path(&db), path(&bad)]);
        let out = run(&args, "");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{command}: {}",
            text(&out.stderr)
        );
        // The errors are diagnostics: standard output, which may be redirected to a file,
        // gets none of them.
        assert_eq!(text(&out.stdout), "", "{command}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("error: session_policy.timeout_minutes: "),
            "{stderr}"
        );
        assert!(
            stderr.contains("error: password_policy.min_length: "),
            "{stderr}"
        );
    }
    // A version conflict is no answer about the update: it cannot run.
    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"session_policy": {"timeout_minutes": 60}}"#).unwrap();
    let out = run(
        &[
            "settings",
            "update",
            "--db",
            path(&db),
            "--actor",
            "user_d4e5f6a7",
            "--if-version",
            "9",
            path(&good),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}

#[test]
fn importing_an_invalid_document_is_a_negative_answer_listing_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[]").unwrap();
    let db = dir.path().join("p.db");
    let out = run(&["settings", "import", "--db", path(&db), path(&bad)], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "error: a settings document must be a JSON object\n"
    );

    let db = database(dir.path());
    std::fs::write(&bad, r#"[{"user_id": "nope"}]"#).unwrap();
    let out = run(&["members", "import", "--db", path(&db), path(&bad)], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).starts_with("error: [0].user_id: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_ip_with_no_address_on_standard_input_cannot_run() {
    for stdin in ["", "\n# only a comment\n\n"] {
        let out = run(
            &["check-ip", "--settings", "data/spec-settings.json"],
            stdin,
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("no addresses given"));
        assert_eq!(text(&out.stdout), "");
    }
}

#[test]
fn validate_password_with_empty_standard_input_cannot_run() {
    for stdin in ["", "\n", "\r\n"] {
        let out = run(
            &["validate-password", "--settings", "data/spec-settings.json"],
            stdin,
        );
        assert_eq!(out.status.code(), Some(2), "{stdin:?}");
        assert!(text(&out.stderr).contains("no password on standard input"));
    }
}

#[test]
fn check_ip_proxy_flags_without_peer_are_refused_and_usage_shows_addresses_optional() {
    for flags in [
        &["--header", "198.51.100.42"][..],
        &["--trusted-proxy", "10.0.0.0/8"][..],
        &["--forwarded-header", "forwarded"][..],
    ] {
        for ips in [&[][..], &["1.2.3.4"][..]] {
            let mut args = vec!["check-ip", "--settings", "data/spec-settings.json"];
            args.extend(flags);
            args.extend(ips);
            let out = run(&args, "1.2.3.4\n");
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(
                text(&out.stderr).contains("--peer"),
                "{args:?}: {}",
                text(&out.stderr)
            );
            assert_eq!(text(&out.stdout), "");
        }
    }
    let out = run(
        &[
            "check-ip",
            "--settings",
            "data/spec-settings.json",
            "--peer",
            "1.2.3.4",
            "5.6.7.8",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let help = text(&run(&["check-ip", "--help"], "").stdout);
    assert!(help.contains("[IPS]..."), "{help}");
    assert!(!help.contains("<IPS>..."), "{help}");
}

#[test]
fn session_refuses_an_unknown_action_name_listing_the_known_ones() {
    let base = [
        "session",
        "--settings",
        "data/spec-settings.json",
        "--sessions",
        "data/sessions.json",
        "--now",
        "2026-03-10T10:00:00Z",
        "--action",
    ];
    let mut args = base.to_vec();
    args.push("rotate_keys");
    let out = run(&args, "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("rotate_keys"), "{stderr}");
    assert!(stderr.contains("rotate_api_keys"), "{stderr}");
    assert!(stderr.contains("custom:"), "{stderr}");

    let mut args = base.to_vec();
    args.push("custom:rotate_keys");
    let out = run(&args, "");
    assert_ne!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["sessions"][0]["reauth"]["action"], "rotate_keys");
}

/// `validate bad.json > normalized.json` wrote the error lines into the output file: they go
/// to standard error, and standard output stays empty.
#[test]
fn validate_omits_the_empty_path_of_a_whole_document_error_on_standard_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.json");
    std::fs::write(&file, "[]").unwrap();
    let out = run(&["validate", path(&file)], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "error: a settings document must be a JSON object\n"
    );
}

#[test]
fn lint_allowlist_json_names_code_entries_and_cidrs() {
    let out = run(
        &[
            "lint-allowlist",
            "--json",
            "--now",
            "2026-03-10T10:00:00Z",
            "data/spec-settings.json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    let first = &lines[0];
    assert_eq!(first["code"], "reserved_range");
    assert_eq!(first["entries"], serde_json::json!(["ip_a1b2c3"]));
    assert_eq!(first["cidrs"], serde_json::json!(["203.0.113.0/24"]));
    assert!(first["message"].as_str().unwrap().contains("RFC 5737"));

    // A list that cannot be read is a negative answer naming the line, not a failure to run.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("list.txt");
    std::fs::write(&file, "10.0.0.0/8\n10.0.0.300/32\n").unwrap();
    let out = run(&["lint-allowlist", path(&file)], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).starts_with("error: line 2: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn audit_after_defaults_to_the_only_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let first = run(&["audit", "--db", path(&db), "--limit", "1"], "");
    assert_eq!(first.status.code(), Some(0));
    let hint = text(&first.stderr);
    let cursor = hint.trim().rsplit(' ').next().unwrap().to_owned();
    let next = run(
        &[
            "audit",
            "--db",
            path(&db),
            "--limit",
            "1",
            "--after",
            &cursor,
        ],
        "",
    );
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    assert_ne!(text(&next.stdout), text(&first.stdout));
    assert!(!text(&next.stdout).is_empty());
}
