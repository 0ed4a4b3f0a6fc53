//! The store commands of the `whale-security` binary: `settings import|show|update`, `audit`
//! and `preview` on one database.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn import_update_audit_and_preview_work_on_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("security.db");
    let update = dir.path().join("update.json");
    std::fs::write(
        &update,
        r#"{"ip_allowlist": {"entries": [{"cidr": "198.51.100.42/32", "label": "VPN"}]}}"#,
    )
    .unwrap();

    let out = run(&[
        "settings",
        "import",
        "--db",
        path(&db),
        "--now",
        "2026-03-10T10:00:00Z",
        "data/spec-settings.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "created store_a1b2c3d4 at version 1\n");

    // Importing the same store twice is refused.
    let again = run(&[
        "settings",
        "import",
        "--db",
        path(&db),
        "data/spec-settings.json",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exist"));

    // The preview names the office address the update would cut off, and writes nothing.
    let preview = run(&[
        "preview",
        "--db",
        path(&db),
        "--now",
        "2026-03-11T00:00:00Z",
        "--json",
        "--ip",
        "203.0.113.9",
        "--ip",
        "198.51.100.42",
        path(&update),
    ]);
    assert_eq!(preview.status.code(), Some(1), "{}", text(&preview.stderr));
    let value: serde_json::Value = serde_json::from_slice(&preview.stdout).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["denied"].as_array().unwrap().len(), 1);
    assert_eq!(value["denied"][0]["ip"], "203.0.113.9");
    assert_eq!(value["denied"][0]["denied_before"], false);

    let updated = run(&[
        "settings",
        "update",
        "--db",
        path(&db),
        "--actor",
        "user_d4e5f6a7",
        "--if-version",
        "1",
        "--now",
        "2026-03-11T00:00:00Z",
        path(&update),
    ]);
    assert_eq!(updated.status.code(), Some(0), "{}", text(&updated.stderr));
    assert!(text(&updated.stdout).ends_with("store_a1b2c3d4 is at version 2\n"));

    // The same update from the old version is a conflict.
    let stale = run(&[
        "settings",
        "update",
        "--db",
        path(&db),
        "--actor",
        "user_d4e5f6a7",
        "--if-version",
        "1",
        path(&update),
    ]);
    assert_eq!(stale.status.code(), Some(2));
    assert!(
        text(&stale.stderr).contains("holds version 2"),
        "{}",
        text(&stale.stderr)
    );

    let shown = run(&["settings", "show", "--db", path(&db)]);
    let value: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(value["version"], 2);
    assert_eq!(
        value["settings"]["ip_allowlist"]["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The audit log: both entries, or only the update with --since.
    let all = run(&["audit", "--db", path(&db), "--json"]);
    let entries: Vec<serde_json::Value> = text(&all.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "create_settings");
    assert_eq!(entries[1]["action"], "update_settings");
    assert_eq!(entries[1]["sequence"], 2);
    let since = run(&[
        "audit",
        "--db",
        path(&db),
        "--since",
        "2026-03-10T12:00:00Z",
    ]);
    let lines = text(&since.stdout);
    assert!(
        lines
            .lines()
            .all(|l| l.contains("\t2\t2026-03-11T00:00:00.000Z\tuser_d4e5f6a7\tupdate_settings\t")),
        "{lines}"
    );
    assert_eq!(lines.lines().count(), 3, "{lines}");

    // One page at a time, with the cursor of the next page.
    let page = run(&["audit", "--db", path(&db), "--limit", "1", "--json"]);
    assert_eq!(text(&page.stdout).lines().count(), 1);
    assert!(
        text(&page.stderr).contains("--after after_1"),
        "{}",
        text(&page.stderr)
    );
    let rest = run(&[
        "audit",
        "--db",
        path(&db),
        "--store",
        "store_a1b2c3d4",
        "--after",
        "after_1",
        "--json",
    ]);
    assert_eq!(text(&rest.stdout).lines().count(), 1);
}

#[test]
fn a_missing_or_garbage_database_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let out = run(&["audit", "--db", path(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !missing.exists(),
        "a read command must not create a database"
    );

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0xa5_u8; 4096]).unwrap();
    let out = run(&["settings", "show", "--db", path(&garbage)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a readable whale-security database"),
        "{}",
        text(&out.stderr)
    );
}

/// `settings update` runs the same guards as the API: the 2FA guard for `--actor`, the lockout
/// guard for `--from`, and `--force` overrides both, as their refusals say.
#[test]
fn settings_update_guards_the_actor_and_the_caller_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("security.db");
    let db = path(&db);
    let at = ["--now", "2026-03-11T00:00:00Z"];
    let out = run(&["settings", "import", "--db", db, "data/spec-settings.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&["members", "import", "--db", db, "data/members.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The owner has only TOTP: an SMS-only policy would block them.
    let sms = dir.path().join("sms.json");
    std::fs::write(&sms, r#"{"two_factor": {"methods": ["sms"]}}"#).unwrap();
    let update = |extra: &[&str], file: &Path| {
        let mut args = vec!["settings", "update", "--db", db, "--actor", "user_d4e5f6a7"];
        args.extend(at);
        args.extend(extra);
        args.push(path(file));
        run(&args)
    };
    let refused = update(&[], &sms);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("--force"),
        "{}",
        text(&refused.stderr)
    );
    let forced = update(&["--force"], &sms);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));

    // A list without the caller's address would lock it out on the surface it uses.
    let narrow = dir.path().join("narrow.json");
    std::fs::write(
        &narrow,
        r#"{"ip_allowlist": {"entries": [{"cidr": "198.51.100.42/32"}]}}"#,
    )
    .unwrap();
    let from = ["--from", "203.0.113.9", "--surface", "dashboard"];
    let refused = update(&from, &narrow);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let message = text(&refused.stderr);
    assert!(
        message.contains("203.0.113.9") && message.contains("--force"),
        "{message}"
    );
    let forced = update(&[&from[..], &["--force"]].concat(), &narrow);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));

    // --surface names the surface of --from: alone it would guard nothing, so it is refused.
    let alone = update(&["--surface", "dashboard"], &narrow);
    assert_eq!(alone.status.code(), Some(2), "{}", text(&alone.stderr));
    assert!(
        text(&alone.stderr).contains("--from"),
        "{}",
        text(&alone.stderr)
    );
}
