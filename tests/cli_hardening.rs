//! The command line under hostile or careless use: broken pipes, invalid UTF-8, oversized
//! input, huge files. Exit status must stay 0 (positive), 1 (negative) or 2 (cannot run).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_whale-security"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs the binary with `args`, writing `stdin` to it (a command that exits without reading
/// it closes the pipe, which is not an error).
pub(crate) fn with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("whale-hardening-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A sessions file of `n` members with one live session each.
fn sessions_file(name: &str, n: usize) -> std::path::PathBuf {
    let records: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"{{"id":"s{i}","user":"user_u{i}","created_at":"2026-03-10T11:00:00Z"}}"#)
        })
        .collect();
    temp_file(name, format!("[{}]", records.join(",")).as_bytes())
}

/// 500 000 `é` (1 MB of two-byte characters) used to be cut mid-character at the read limit
/// and refused as "not UTF-8" with exit 2; it is a password that is too long: exit 1 with
/// `max_length`.
#[test]
fn an_oversized_multibyte_password_is_too_long_not_unreadable() {
    let password = "é".repeat(500_000);
    let out = with_stdin(
        &[
            "validate-password",
            "--settings",
            "data/spec-settings.json",
            "--json",
        ],
        password.as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["violations"][0]["code"], "max_length", "{v}");

    // Four-byte characters cut at every offset of the read limit: still too long, never
    // shortened into an acceptable password.
    for pad in 0..4 {
        let password = format!("{}{}", "a".repeat(pad), "\u{1F600}".repeat(600));
        let out = with_stdin(
            &[
                "validate-password",
                "--settings",
                "data/spec-settings.json",
                "--json",
            ],
            password.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(1), "pad {pad}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["violations"][0]["code"], "max_length", "pad {pad}: {v}");
    }
}

/// Invalid UTF-8 on standard input exits 2 and says where, without echoing the bytes.
#[test]
fn a_password_that_is_not_utf8_is_refused_with_its_byte_offset() {
    let out = with_stdin(
        &["validate-password", "--settings", "data/spec-settings.json"],
        b"Abc\xff123456789!",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("byte 3"), "{stderr}");
    assert!(
        !stderr.contains("Abc") && !stderr.contains("123456789"),
        "{stderr}"
    );
}

/// A settings file that is not UTF-8 names the file and the byte offset.
#[test]
fn a_settings_file_that_is_not_utf8_names_the_byte_offset() {
    let path = temp_file("latin1.json", b"{\"store_id\": \"caf\xe9\"}");
    let out = bin().arg("validate").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("latin1.json") && stderr.contains("byte 17"),
        "{stderr}"
    );
}

/// An empty settings file says it is empty rather than "EOF while parsing a value".
#[test]
fn an_empty_settings_file_is_reported_as_empty() {
    let path = temp_file("empty.json", b"  \n");
    let out = bin().arg("validate").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("empty"), "{stderr}");
}

/// `whale-security session ... | head -1` panicked with "failed printing to stdout: Broken
/// pipe" (exit 101). A reader that stops early is not a failure of the decision: no panic,
/// and the exit status is still the answer's.
#[test]
fn a_reader_closing_the_pipe_early_is_not_a_panic() {
    let sessions = sessions_file("pipe.json", 2_000);
    let mut child = bin()
        .args(["session", "--settings", "data/spec-settings.json", "--now"])
        .arg("2026-03-10T12:00:00Z")
        .arg("--sessions")
        .arg(&sessions)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The output (hundreds of kB) cannot fit the pipe: the writer meets the closed end.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {stderr}",
        out.status
    );
}

/// `check-ip` printed with `println!` and panicked ("failed printing to stdout") when its reader
/// stopped early, as in `check-ip ... < addresses | head -1`. Every command writes through one
/// helper now: a closed pipe ends the output quietly and the exit status is still the answer's.
#[test]
fn check_ip_survives_a_reader_that_stops_early() {
    let mut child = bin()
        .args(["check-ip", "--settings", "data/spec-settings.json", "--now"])
        .arg("2026-03-10T12:00:00Z")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        for _ in 0..20_000 {
            if stdin.write_all(b"203.0.113.9\n").is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// Admission was answered member by member over every session and members were deduplicated
/// with a linear search, quadratic in the file's size (30 000 one-session members took 30 s).
/// It is now O(n log n); its cost is measured by the `session` benches, and this test checks
/// that every member of a large file gets its answer.
#[test]
fn every_member_of_a_large_sessions_file_gets_an_admission_answer() {
    let sessions = sessions_file("many.json", 5_000);
    let out = bin()
        .args(["session", "--settings", "data/spec-settings.json", "--now"])
        .arg("2026-03-10T12:00:00Z")
        .arg("--sessions")
        .arg(&sessions)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["admission"].as_array().unwrap().len(), 5_000);
}

/// One line of `check-ip`'s standard input that was not UTF-8 (`caf\xE9`, Latin-1) ended the
/// run: "cannot read standard input: stream did not contain valid UTF-8", exit 2, and no
/// answer for the lines after it. That line gets its own `error` line, the run goes on, and the
/// status is 1. A comment line that is not UTF-8 is still a comment.
#[test]
fn check_ip_answers_an_error_for_a_line_that_is_not_utf8_and_goes_on() {
    let input = b"203.0.113.9\ncaf\xe9\n# caf\xe9 (Latin-1 comment)\n198.51.100.42\n";
    let args = [
        "check-ip",
        "--settings",
        "data/spec-settings.json",
        "--now",
        "2026-03-10T12:00:00Z",
    ];
    let out = with_stdin(&args, input);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("203.0.113.9\tallow\t"), "{stdout}");
    assert_eq!(
        lines[1],
        "caf\u{fffd}\terror\tline 2 is not UTF-8 at byte 3"
    );
    assert!(lines[2].starts_with("198.51.100.42\tallow\t"), "{stdout}");

    let out = with_stdin(&[&args[..], &["--json"]].concat(), input);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["ip"], "caf\u{fffd}");
    assert_eq!(lines[1]["error"], "line 2 is not UTF-8 at byte 3");
    assert_eq!(lines[2]["allowed"], true);
}

/// `check-ip` echoed a rejected line raw: the line `8.8.8.8<TAB>allow<TAB>ip_a1b2c3` printed
/// `8.8.8.8⇥allow⇥ip_a1b2c3⇥error⇥…`, whose first columns read as an allow, and ESC, NUL and
/// bidirectional controls reached the terminal in the echo and in the error message. Each
/// line is three columns with those characters escaped, from standard input and from the
/// arguments alike.
#[test]
fn check_ip_escapes_control_and_bidi_characters_it_echoes() {
    let hostile = [
        "8.8.8.8\tallow\tip_a1b2c3",
        "\x1b[2J203.0.113.9",
        "1.1\u{85}.1.1",
        "\u{202e}9.9.9.9",
        "203.0.113.9\u{2066}",
        "10.0.0.1\0",
    ];
    let args = [
        "check-ip",
        "--settings",
        "data/spec-settings.json",
        "--now",
        "2026-03-10T12:00:00Z",
    ];
    let from_stdin = with_stdin(&args, hostile.join("\n").as_bytes());
    // An argument cannot hold NUL.
    let from_args = bin()
        .args(args)
        .args(&hostile[..hostile.len() - 1])
        .output()
        .unwrap();
    for (out, count) in [(from_stdin, hostile.len()), (from_args, hostile.len() - 1)] {
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), count, "{stdout}");
        for line in &lines {
            let columns: Vec<&str> = line.split('\t').collect();
            assert_eq!(columns.len(), 3, "{line:?}");
            assert_eq!(columns[1], "error", "{line:?}");
            for column in &columns {
                assert!(!crate::has_display_controls(column), "{line:?}");
            }
        }
        assert_eq!(
            lines[0],
            r"8.8.8.8\tallow\tip_a1b2c3	error	`8.8.8.8\tallow\tip_a1b2c3` contains whitespace"
        );
        assert!(
            lines[1].starts_with(r"\u{1b}[2J203.0.113.9	error	"),
            "{}",
            lines[1]
        );
    }
}

/// Arguments and keys of input files quoted in the commands' own error messages are escaped
/// the same way.
#[test]
fn arguments_and_file_keys_quoted_in_errors_are_escaped() {
    let out = bin()
        .args(["check-ip", "--settings", "data/spec-settings.json", "--now"])
        .arg("2026\x1b[2J\u{202e}")
        .arg("203.0.113.9")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(r"`2026\u{1b}[2J\u{202e}`"), "{stderr}");
    assert!(
        !crate::has_display_controls(stderr.trim_end()),
        "{stderr:?}"
    );

    let sessions = temp_file(
        "hostile-key.json",
        br#"[{"id": "s1", "user": "user_u1", "created_at": "2026-03-10T11:00:00Z", "x\u001b[2J\u202e": 1}]"#,
    );
    let out = bin()
        .args([
            "session",
            "--settings",
            "data/spec-settings.json",
            "--sessions",
        ])
        .arg(&sessions)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(r"x\u{1b}[2J\u{202e}"), "{stderr}");
    assert!(
        !crate::has_display_controls(stderr.trim_end()),
        "{stderr:?}"
    );
}

/// A UTF-8 byte-order mark, as many editors write at the start of a file, made `validate` say
/// only `line 1, column 1: expected value`, made `lint-allowlist` read a settings file as a
/// list of CIDRs (with the invisible mark in the message), and made the first line on
/// `check-ip`'s standard input an error. Every reader of a file or of standard input skips one
/// leading mark, and reads the rest as it would without it.
#[test]
fn a_leading_byte_order_mark_is_skipped_by_every_reader() {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let spec = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    let settings = temp_file("bom-settings.json", &[BOM, &spec].concat());
    let settings = settings.to_str().unwrap();
    let now = ["--now", "2026-03-10T12:00:00Z"];

    let out = bin().args(["validate", settings]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");

    // Read as the settings file it is: its entries are linted, not its text as CIDRs.
    let out = bin()
        .args(["lint-allowlist", settings])
        .args(now)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(stdout.contains("ip_a1b2c3"), "{stdout}");
    let list = temp_file("bom-list.txt", &[BOM, b"203.0.113.0/24\n"].concat());
    let out = bin()
        .arg("lint-allowlist")
        .arg(&list)
        .args(now)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error"), "{stderr}");

    let out = with_stdin(
        &[&["check-ip", "--settings", settings][..], &now].concat(),
        &[BOM, b"203.0.113.9\n198.51.100.42\n"].concat(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("203.0.113.9\tallow\t"), "{stdout}");

    // Only the first mark of the input: one later in the input is a character like another.
    let out = with_stdin(
        &[&["check-ip", "--settings", settings][..], &now].concat(),
        &[b"203.0.113.9\n", BOM, b"198.51.100.42\n"].concat(),
    );
    assert_eq!(out.status.code(), Some(1));

    // The password is read without the mark: 11 characters are too short for the spec's 12.
    let out = with_stdin(
        &["validate-password", "--settings", settings, "--json"],
        &[BOM, "Zq9!vR2#mXw".as_bytes()].concat(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["violations"][0]["code"], "min_length", "{v}");
}

/// A 10 MB line of stdin was held whole in memory and echoed back whole: a line is now read
/// up to a bound, answered with an error saying so, and the lines after it are still read.
#[test]
fn check_ip_answers_an_overlong_line_without_holding_it_and_reads_on() {
    let mut input = vec![b'1'; 10_000_000];
    input.extend_from_slice(b"\n203.0.113.9\n");
    let out = with_stdin(
        &[
            "check-ip",
            "--settings",
            "data/spec-settings.json",
            "--now",
            "2026-03-10T12:00:00Z",
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", text.len());
    assert!(lines[0].len() < 1_000, "{}", lines[0].len());
    assert!(lines[0].contains("line 1 is longer than"), "{}", lines[0]);
    assert!(lines[1].starts_with("203.0.113.9\tallow"), "{}", lines[1]);
}

/// Lines were trimmed of Unicode whitespace, so NEL and LINE SEPARATOR around an address were
/// dropped and the address allowed, while the same text as an argument was refused; and the
/// JSON answer echoed DEL and C1 controls raw (serde escapes only U+0000 to U+001F).
#[test]
fn check_ip_trims_ascii_blanks_only_and_escapes_every_control_in_json() {
    let args = [
        "check-ip",
        "--settings",
        "data/spec-settings.json",
        "--now",
        "2026-03-10T12:00:00Z",
        "--json",
    ];
    let out = with_stdin(
        &args,
        "\u{85}203.0.113.9\u{2028}\n 203.0.113.9\t\r\n".as_bytes(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("\"error\""), "{text}");
    assert!(lines[1].contains("\"allowed\":true"), "{text}");
    assert_eq!(out.status.code(), Some(1));

    let out = with_stdin(&args, "1.2.3.4\u{9b}31m\n\u{7f}\n".as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    for c in ['\u{9b}', '\u{7f}', '\u{85}', '\u{2028}'] {
        assert!(!text.contains(c), "{text:?}");
    }
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}
