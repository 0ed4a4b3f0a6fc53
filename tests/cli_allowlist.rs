//! The `check-ip` proxy options and `lint-allowlist` subcommand of the binary.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

const NOW: &str = "2026-03-10T12:00:00Z";

#[test]
fn check_ip_resolves_the_client_behind_a_trusted_proxy_and_shows_how() {
    let out = run(&[
        "check-ip",
        "--settings",
        "data/spec-settings.json",
        "--now",
        NOW,
        "--json",
        "--peer",
        "10.0.0.5",
        "--trusted-proxy",
        "10.0.0.0/8",
        "--header",
        "1.1.1.1, 203.0.113.9",
        "--header",
        "10.0.0.7",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ip"], "203.0.113.9");
    assert_eq!(v["entry"], "ip_a1b2c3");
    assert!(
        v["resolved"].as_str().unwrap().contains("X-Forwarded-For"),
        "{v}"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn check_ip_ignores_headers_from_an_untrusted_peer() {
    let out = run(&[
        "check-ip",
        "--settings",
        "data/spec-settings.json",
        "--now",
        NOW,
        "--peer",
        "198.51.100.7",
        "--trusted-proxy",
        "10.0.0.0/8",
        "--header",
        "203.0.113.9",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("not a trusted proxy"), "{text}");
    assert!(text.contains("198.51.100.7\tdeny"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_ip_denies_when_the_forwarded_header_is_malformed() {
    let out = run(&[
        "check-ip",
        "--settings",
        "data/spec-settings.json",
        "--now",
        NOW,
        "--peer",
        "10.0.0.5",
        "--trusted-proxy",
        "10.0.0.0/8",
        "--forwarded-header",
        "forwarded",
        "--header",
        "for=unknown",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("deny") && text.contains("hides the address"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_ip_explains_a_mapped_address() {
    let out = run(&[
        "check-ip",
        "--settings",
        "data/spec-settings.json",
        "--now",
        NOW,
        "--explain",
        "::ffff:192.0.2.9",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("IPv4-mapped; matched as 192.0.2.9"), "{text}");
    assert!(text.contains("ip_a7b8c9"), "{text}");
}

#[test]
fn lint_allowlist_prints_warnings_and_exits_one() {
    let dir = std::env::temp_dir().join(format!("whale-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("list.txt");
    std::fs::write(
        &path,
        "# office\n81.2.69.0/24\n81.2.69.7\n0.0.0.0/0\n81.2.69.0/24\n",
    )
    .unwrap();
    let out = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("over-broad"), "{text}");
    assert!(text.contains("duplicates entry `ip_line2`"), "{text}");
    assert!(text.contains("covered by entry"), "{text}");
    assert_eq!(out.status.code(), Some(1));

    std::fs::write(&path, "81.2.69.0/24\n").unwrap();
    let clean = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty());

    std::fs::write(&path, "081.2.69.0/24\n").unwrap();
    // The list under review is refused: a negative answer naming the line, on standard error.
    let bad = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .starts_with("error: line 1: ")
    );
}

/// A plain list with `10.0.0.0/8`, `bad` and `1.2.3.4/40` was reported as wrong at line 2
/// only: every bad line is named, in order, and nothing is linted (exit 1).
#[test]
fn lint_allowlist_names_every_bad_line_of_a_plain_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    std::fs::write(
        &path,
        "10.0.0.0/8\nbad\n# comment\n1.2.3.4/40\n\n10.0.0.1/33\n",
    )
    .unwrap();
    let out = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].starts_with("error: line 2: "), "{stderr}");
    assert!(lines[0].contains("`bad`"), "{stderr}");
    assert!(lines[1].starts_with("error: line 4: "), "{stderr}");
    assert!(lines[1].contains("40"), "{stderr}");
    assert!(lines[2].starts_with("error: line 6: "), "{stderr}");
}

/// The allowlist object alone (what `GET .../ip-allowlist` answers) is linted as it is, with
/// the same strictness as inside settings: repeated ids are named with their path.
#[test]
fn lint_allowlist_reads_an_allowlist_object_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.json");
    std::fs::write(
        &path,
        r#"{"enabled": true, "applies_to": ["api"], "entries": [
            {"id": "ip_a", "cidr": "81.2.69.0/24", "added_at": "2026-03-10T10:00:00Z"},
            {"id": "ip_b", "cidr": "81.2.69.0/24", "added_at": "2026-03-10T10:00:00Z"}
        ]}"#,
    )
    .unwrap();
    let out = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("duplicates entry `ip_a`"), "{text}");
    assert_eq!(out.status.code(), Some(1));

    std::fs::write(
        &path,
        r#"{"enabled": true, "applies_to": ["api"], "entries": []}"#,
    )
    .unwrap();
    let out = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("denied"), "{text}");

    std::fs::write(
        &path,
        r#"{"enabled": true, "applies_to": ["api"], "entries": [
            {"id": "ip_a", "cidr": "81.2.69.0/24", "added_at": "2026-03-10T10:00:00Z"},
            {"id": "ip_a", "cidr": "81.2.70.0/24", "added_at": "2026-03-10T10:00:00Z"}
        ]}"#,
    )
    .unwrap();
    let out = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("entries[1].id"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// A plain list longer than a stored allowlist may be was linted without a word, while the
/// same list as JSON was refused: both are held to `IpAllowlist::MAX_ENTRIES`.
#[test]
fn lint_allowlist_holds_a_plain_list_to_the_entry_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    let lines: String = (0..50_001u32)
        .map(|i| format!("10.{}.{}.0/24\n", i >> 8, i & 0xff))
        .collect();
    std::fs::write(&path, lines).unwrap();
    let out = run(&["lint-allowlist", path.to_str().unwrap(), "--now", NOW]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("50001 entries; at most 50000"), "{stderr}");
}

/// `--now` must be an instant a document can hold: it becomes the `added_at` of a plain list's
/// entries, so one outside the years 0000 to 9999 in UTC is a bad option (exit 2), not an error
/// in the file.
#[test]
fn a_now_outside_the_writable_years_is_a_bad_option() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    std::fs::write(&path, "10.0.0.0/8\n").unwrap();
    for now in [
        "0000-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-23:59",
        "2016-12-31T23:59:60Z",
    ] {
        let out = run(&["lint-allowlist", path.to_str().unwrap(), "--now", now]);
        assert_eq!(out.status.code(), Some(2), "{now}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("--now"), "{stderr}");
    }
}

/// A label is the admin's text, shown as written, except characters that display as nothing
/// (a zero-width space, a soft hyphen): escaped, so two labels that look alike read apart.
#[test]
fn check_ip_shows_invisible_characters_of_a_label_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("data/spec-settings.json").unwrap()).unwrap();
    settings["ip_allowlist"]["entries"][0]["label"] = "Office\u{200b}\u{ad}".into();
    std::fs::write(&path, settings.to_string()).unwrap();
    let out = run(&[
        "check-ip",
        "--settings",
        path.to_str().unwrap(),
        "--now",
        NOW,
        "203.0.113.9",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r"Office\u{200b}\u{ad}"), "{text}");
}
