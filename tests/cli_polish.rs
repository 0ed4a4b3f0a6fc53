//! What a new user met in the `whale-security` binary's help, option values and messages:
//! developer notes in help, case-sensitive option values, comments that were not skipped,
//! echoed input that was not shortened, sizes that were not the input's, messages that named
//! Rust types or gave no hint.

use std::process::Output;

const SPEC: &str = "data/spec-settings.json";
const NOW: &str = "2026-03-10T12:00:00Z";

/// Runs the binary with `args` and `stdin`; the helper the hardening tests use.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    crate::cli_hardening::with_stdin(args, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `check-ip --help` ended `--peer` with a note for developers about clap's `conflicts_with`.
#[test]
fn check_ip_help_shows_no_developer_note() {
    let out = run(&["check-ip", "--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("--peer"), "{help}");
    assert!(!help.contains("conflicts_with"), "{help}");
    assert!(!help.contains("clap"), "{help}");
}

/// `--surface Dashboard` and `--forwarded-header Forwarded` (the header's own spelling) were
/// refused while `--algorithm SHA256` was accepted: every value list ignores case.
#[test]
fn option_values_ignore_case_and_take_the_real_header_names() {
    let out = run(
        &[
            "check-ip",
            "--settings",
            SPEC,
            "--now",
            NOW,
            "--surface",
            "Dashboard",
            "203.0.113.9",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("203.0.113.9\tallow"));

    for header in [
        "Forwarded",
        "X-Forwarded-For",
        "FORWARDED",
        "x-forwarded-for",
    ] {
        let value = if header.eq_ignore_ascii_case("forwarded") {
            "for=203.0.113.9"
        } else {
            "203.0.113.9"
        };
        let out = run(
            &[
                "check-ip",
                "--settings",
                SPEC,
                "--now",
                NOW,
                "--peer",
                "10.0.0.1",
                "--trusted-proxy",
                "10.0.0.0/8",
                "--forwarded-header",
                header,
                "--header",
                value,
            ],
            b"",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{header}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("203.0.113.9\tallow"), "{header}");
    }
}

/// `203.0.113.9 # office` was answered "contains whitespace": a `#` at the start of a line or
/// after whitespace starts a comment, in `check-ip`'s input and in a plain list for
/// `lint-allowlist` alike.
#[test]
fn trailing_comments_are_skipped_by_check_ip_and_lint_allowlist() {
    let out = run(
        &["check-ip", "--settings", SPEC, "--now", NOW],
        b"203.0.113.9 # office\n198.51.100.42\t# VPN\n# whole line\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("203.0.113.9\tallow\t"), "{stdout}");
    assert!(lines[1].starts_with("198.51.100.42\tallow\t"), "{stdout}");

    // A `#` inside a word is no comment: the address is malformed, and says so.
    let out = run(
        &["check-ip", "--settings", SPEC, "--now", NOW],
        b"203.0.113.9#office\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("\terror\t"));

    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        "81.2.69.0/24 # office\n# a comment\n2a00:1450::/32\t# mail\n",
    )
    .unwrap();
    let out = run(
        &["lint-allowlist", "--now", NOW, list.to_str().unwrap()],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A malformed address given as an argument is an answer about that address, as a malformed
/// input line is: an `error` line in its place, the other addresses still decided, exit 1.
#[test]
fn a_malformed_address_argument_is_an_error_answer_with_exit_1() {
    let out = run(
        &[
            "check-ip",
            "--settings",
            SPEC,
            "--now",
            NOW,
            "notanip",
            "203.0.113.9",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("notanip\terror\t"), "{stdout}");
    assert!(stdout.contains("\n203.0.113.9\tallow\t"), "{stdout}");
    assert!(out.stderr.is_empty());
}

/// A 100 000-character bad line was echoed whole in the first column, though the message
/// beside it was shortened.
#[test]
fn check_ip_shortens_the_echo_of_a_long_bad_line() {
    let line = "x".repeat(100_000);
    for json in [false, true] {
        let mut args = vec!["check-ip", "--settings", SPEC, "--now", NOW];
        if json {
            args.push("--json");
        }
        let out = run(&args, format!("{line}\n").as_bytes());
        assert_eq!(out.status.code(), Some(1));
        let stdout = text(&out.stdout);
        assert!(stdout.len() < 1_000, "json {json}: {} bytes", stdout.len());
        assert!(stdout.contains("xxx…"), "{stdout}");
    }
}

/// `validate-password --json` on a 3 201-byte input reported `"bytes": 2059`, the length it had
/// read, not the input's.
#[test]
fn an_oversized_password_is_reported_over_the_cap_without_a_made_up_size() {
    let out = run(
        &["validate-password", "--settings", SPEC, "--json"],
        &[b'a'; 3_201],
    );
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let violation = &value["violations"][0];
    assert_eq!(violation["code"], "max_length");
    assert_eq!(violation["max_bytes"], 2048);
    assert_eq!(violation["exceeds_max_bytes"], true, "{violation}");
    assert!(violation["bytes"].is_null(), "{violation}");

    // Read whole (just over the cap), the size is known and given.
    let out = run(
        &["validate-password", "--settings", SPEC, "--json"],
        &[b'a'; 2_050],
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let violation = &value["violations"][0];
    assert_eq!(violation["bytes"], 2_050, "{violation}");
    assert_eq!(violation["exceeds_max_bytes"], true, "{violation}");
}

/// `"timeout_minutes": "480"` was refused with "expected i64", a Rust type name.
#[test]
fn a_wrong_json_type_is_named_in_words_not_rust_types() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    let spec = std::fs::read_to_string(SPEC).unwrap();
    for (from, to, expected) in [
        (
            r#""timeout_minutes": 480"#,
            r#""timeout_minutes": "480""#,
            "expected an integer",
        ),
        (
            r#""prevent_reuse": 5"#,
            r#""prevent_reuse": -5"#,
            "is out of range",
        ),
        (
            r#""session_policy": {"#,
            r#""session_policy": 5, "x": {"#,
            "expected a JSON object",
        ),
    ] {
        assert!(spec.contains(from), "{from}");
        std::fs::write(&file, spec.replacen(from, to, 1)).unwrap();
        let out = run(&["validate", file.to_str().unwrap()], b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        for rust in [
            "i64", "u32", "u8", "u16", "u64", "usize", "i32", "struct ", "enum ", "tuple ",
        ] {
            assert!(!stderr.contains(rust), "{rust}: {stderr}");
        }
    }

    let members = dir.path().join("m.json");
    std::fs::write(&members, "[5]").unwrap();
    let out = run(
        &[
            "report",
            "--settings",
            SPEC,
            "--members",
            members.to_str().unwrap(),
            "--now",
            NOW,
        ],
        b"",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected a JSON object"), "{stderr}");
    assert!(!stderr.contains("struct"), "{stderr}");
}

/// A grace period of 24 hours against an interval of 1 day read "of 1 days".
#[test]
fn a_grace_against_a_one_day_interval_is_singular() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let changed = spec
        .replacen(r#""interval_days": 90"#, r#""interval_days": 1"#, 1)
        .replacen(
            r#""grace_period_hours": 48"#,
            r#""grace_period_hours": 24"#,
            1,
        );
    std::fs::write(&file, changed).unwrap();
    let out = run(&["validate", file.to_str().unwrap()], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interval of 1 day\n"), "{stderr}");
}

/// `lint-allowlist` on `::/64` read "is in reserved by the IETF (RFC 4291); IPv4-mapped clients
/// are matched as IPv4 only range ::/8".
#[test]
fn the_reserved_range_warning_is_one_clean_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "::/64\n64:ff9b::cb00:7109/128\n10.0.0.0/8\n").unwrap();
    let out = run(
        &["lint-allowlist", "--now", NOW, list.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        lines[0],
        "warning: entry `ip_line1` (::/64) is in the IETF-reserved (RFC 4291) range ::/8, which \
         API clients on the Internet never have; an IPv4 client matches only entries written as \
         IPv4 or as `::ffff:a.b.c.d`"
    );
    assert!(
        lines[1].contains("is in the NAT64 well-known (RFC 6052) range 64:ff9b::/96, which"),
        "{stdout}"
    );
    assert_eq!(
        lines[2],
        "warning: entry `ip_line3` (10.0.0.0/8) is in the private-use (RFC 1918) range \
         10.0.0.0/8, which API clients on the Internet never have"
    );
}

/// `--now 2026-03-10` gave only "premature end of input".
#[test]
fn a_timestamp_without_time_or_offset_names_the_expected_format() {
    for now in ["2026-03-10", "2026-03-10T12:00:00"] {
        let out = run(&["rotation", "--settings", SPEC, "--now", now], b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("2026-03-10T12:00:00Z"), "{stderr}");
        assert!(stderr.contains("offset"), "{stderr}");
    }
}

/// `report` when the store does not require 2FA: members without a factor are `not_enforced`,
/// not violations, so the report exits 0.
#[test]
fn report_exits_0_when_2fa_is_not_required() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    let spec = std::fs::read_to_string(SPEC).unwrap();
    std::fs::write(
        &file,
        spec.replacen(r#""required": true"#, r#""required": false"#, 1),
    )
    .unwrap();
    let out = run(
        &[
            "report",
            "--settings",
            file.to_str().unwrap(),
            "--members",
            "data/members.json",
            "--now",
            NOW,
        ],
        b"",
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(value["summary"]["not_enforced"].as_u64().unwrap() > 0);
    assert_eq!(value["summary"]["blocked"], 0);
    assert_eq!(value["summary"]["pending"], 0);
    assert_eq!(out.status.code(), Some(0));

    // Required: the same members are pending or blocked, and that is exit 1.
    let out = run(
        &[
            "report",
            "--settings",
            SPEC,
            "--members",
            "data/members.json",
            "--now",
            NOW,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
}

/// The two sample settings files shared a store id, so both could not go in one database.
#[cfg(feature = "sqlite")]
#[test]
fn both_sample_settings_files_import_into_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("both.db");
    let db = db.to_str().unwrap();
    for file in [SPEC, "data/gcp-settings.json"] {
        let out = run(&["settings", "import", "--db", db, "--now", NOW, file], b"");
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out.stderr));
    }
}

/// A database file that does not exist gave "unable to open database file: fresh.db" and no
/// hint.
#[cfg(feature = "sqlite")]
#[test]
fn a_missing_database_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let out = run(&["settings", "show", "--db", db.to_str().unwrap()], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("whale-security: "), "{stderr}");
    assert!(stderr.contains("fresh.db"), "{stderr}");
    assert!(stderr.contains("settings import"), "{stderr}");
    assert!(!db.exists());
}

/// `--surface` of `preview` and `--env` of `keys issue` ignore case too.
#[cfg(feature = "sqlite")]
#[test]
fn database_command_values_ignore_case() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let db = db.to_str().unwrap();
    let out = run(&["settings", "import", "--db", db, "--now", NOW, SPEC], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(
        &["keys", "issue", "--db", db, "--env", "Test", "--now", NOW],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("wk_test_"));
    let update = dir.path().join("u.json");
    std::fs::write(&update, r#"{"session_policy": {"timeout_minutes": 240}}"#).unwrap();
    let out = run(
        &[
            "preview",
            "--db",
            db,
            "--surface",
            "DASHBOARD",
            "--now",
            NOW,
            update.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
