//! `whale-security validate-password`: password on standard input, exit status, JSON codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use whale_security::password::{HashParams, NormalizedPassword, hash_password};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .arg("validate-password")
        .args(["--settings", "data/spec-settings.json"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command stops reading just past the size limit, so a huge input meets a closed pipe.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_valid_password_exits_0_and_an_invalid_one_exits_1_with_every_code() {
    let ok = run(&["--json"], b"Harbor-Lantern42\n");
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(json(&ok)["valid"], true);

    let bad = run(&["--json"], "\u{fc}n\u{ef}c\u{f6}d\u{e9}1!pw\n".as_bytes());
    assert_eq!(bad.status.code(), Some(1));
    let v = json(&bad);
    assert_eq!(v["valid"], false);
    let codes: Vec<&str> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["min_length", "require_uppercase"]);
    assert_eq!(v["violations"][0]["length"], 11);
    assert_eq!(v["violations"][0]["min"], 12);
    assert!(
        v["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("12")
    );
}

#[test]
fn a_huge_or_nul_password_is_refused_and_never_echoed() {
    let huge = vec![b'x'; 1 << 20];
    let out = run(&["--json"], &huge);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["violations"][0]["code"], "max_length");

    let out = run(&[], b"Harbor-Lantern42\0secret-tail\n");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("invalid_character\t"), "{text}");
    assert!(!text.contains("secret-tail"));
}

#[test]
fn history_file_catches_reuse_of_the_current_password() {
    let dir = std::env::temp_dir().join(format!("whale-cli-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.txt");
    let stored = hash_password(
        &NormalizedPassword::new("Ma\u{f1}ana-Lluvia-2026").unwrap(),
        &[5; 16],
        HashParams::new(64, 1, 1).unwrap(),
    )
    .unwrap();
    std::fs::write(&path, format!("{}\n", stored.as_phc())).unwrap();
    let out = run(
        &["--json", "--history", path.to_str().unwrap()],
        "Man\u{303}ana-Lluvia-2026\n".as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["violations"][0]["code"], "prevent_reuse");
    assert_eq!(v["violations"][0]["generation"], 0);
}

#[test]
fn unreadable_settings_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(["validate-password", "--settings", "/nonexistent.json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A garbage `--history` file was judged as a `prevent_reuse` violation (exit 1): a line that
/// is not a usable argon2id PHC string is an error naming the file and the line (exit 2), and
/// no part of a hash is shown.
#[test]
fn a_malformed_history_file_is_an_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.txt");
    let stored = hash_password(
        &NormalizedPassword::new("Old-Harbor-Lantern-1").unwrap(),
        &[7; 16],
        HashParams::new(64, 1, 1).unwrap(),
    )
    .unwrap();
    let phc = stored.as_phc();
    let tail = phc.rsplit('$').next().unwrap();
    for (text, line, says) in [
        (format!("{phc}\n\nnot a hash\n"), 3, "PHC"),
        (format!("{}\n", phc.replace("t=1", "t=4294967295")), 1, "t"),
        (
            format!("{phc}\n{}\n", phc.replace("argon2id", "argon2i")),
            2,
            "argon2i",
        ),
        ("garbage\n".to_owned(), 1, "PHC"),
    ] {
        std::fs::write(&path, &text).unwrap();
        let out = run(
            &["--json", "--history", path.to_str().unwrap()],
            b"Harbor-Lantern42\n",
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(out.stdout.is_empty(), "{text}");
        assert!(stderr.starts_with("whale-security: "), "{stderr}");
        assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
        assert!(stderr.contains(&format!("line {line}: ")), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains(tail), "{stderr}");
    }
}

/// Context words only feed the strength estimate: with no `min_strength` in the policy they
/// change nothing, and the command says so instead of passing in silence.
#[test]
fn context_words_without_min_strength_get_a_note() {
    let out = run(&["--context", "Whalemart", "--json"], b"Whalemart-2026");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["valid"], true);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("min_strength"), "{stderr}");
    // Without --context there is nothing to note.
    let out = run(&["--json"], b"Whalemart-2026");
    assert!(out.stderr.is_empty());
}
