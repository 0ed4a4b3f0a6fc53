//! `keys issue|rotate` and `members import` of the `whale-security` binary on one database.

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
fn keys_are_issued_once_rotated_and_audited_and_members_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("security.db");
    let db = path(&db);
    let now = ["--now", "2026-03-10T10:00:00Z"];
    let out = run(&[
        &["settings", "import", "--db", db][..],
        &now,
        &["data/spec-settings.json"],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // No key yet: a rotation has nothing to rotate (a negative answer, exit 1).
    let out = run(&[&["keys", "rotate", "--db", db][..], &now].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no active api key"));

    let out = run(&[
        &["keys", "issue", "--db", db, "--store", "store_a1b2c3d4"][..],
        &now,
    ]
    .concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let key = text(&out.stdout).trim().to_owned();
    assert!(key.starts_with("wk_live_") && key.len() == 51, "{key}");
    assert!(!text(&out.stderr).contains(&key));

    let out = run(&[
        &[
            "keys",
            "rotate",
            "--db",
            db,
            "--grace-hours",
            "1",
            "--actor",
            "user_ops",
        ][..],
        &["--now", "2026-03-10T11:00:00Z"],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(json["rotation"]["rotated_keys"], 1);
    assert_eq!(
        json["rotation"]["old_key_expires_at"],
        "2026-03-10T12:00:00.000Z"
    );
    let new_key = json["new_keys"][0]["key"].as_str().unwrap();
    assert!(new_key.starts_with("wk_live_") && new_key != key);

    let out = run(&[
        &["keys", "rotate", "--db", db, "--compromised"][..],
        &["--now", "2026-03-10T11:30:00Z"],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(
        json["rotation"]["old_key_expires_at"],
        "2026-03-10T11:30:00.000Z"
    );

    let out = run(&[
        &["members", "import", "--db", db][..],
        &now,
        &["data/members.json"],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("imported "),
        "{}",
        text(&out.stdout)
    );
    let again = run(&[
        &["members", "import", "--db", db][..],
        &now,
        &["data/members.json"],
    ]
    .concat());
    assert!(
        text(&again.stdout).contains("unchanged"),
        "{}",
        text(&again.stdout)
    );

    // The audit log names every action and holds no key text.
    let audit = run(&["audit", "--db", db]);
    let log = text(&audit.stdout);
    for action in ["issue_key", "rotate_keys", "upsert_members"] {
        assert!(log.contains(action), "{log}");
    }
    assert!(!log.contains(&key[8..]) && !log.contains(&new_key[8..]));

    // Bad arguments cannot run: exit 2.
    let out = run(&["keys", "issue", "--db", db, "--env", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["keys", "rotate", "--db", db, "--grace-hours", "9000"]);
    assert_eq!(out.status.code(), Some(2));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"user_id": "user_a", "email": "a@x", "joined_at": "2026-01-01T00:00:00Z", "admin": true}]"#).unwrap();
    // A refused members file is a negative answer: exit 1 with the error and its path, on
    // standard error.
    let out = run(&["members", "import", "--db", db, path(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("admin"), "{}", text(&out.stderr));
}
