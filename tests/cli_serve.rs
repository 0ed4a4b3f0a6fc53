//! `whale-security serve`: first start creates the store and prints its key once, the key
//! survives a restart, SIGTERM stops the server cleanly, and the log never holds the key.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

struct Serve {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Serve {
    fn start(db: &Path) -> Self {
        Self::start_with(db, &[])
    }

    fn start_with(db: &Path, extra: &[&str]) -> Self {
        Self::spawn(db, &[&["--store", "store_cli1"], extra].concat())
    }

    fn spawn(db: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_whale-security"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--db")
            .arg(db)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdout }
    }

    /// The lines printed up to and including `listening on http://ADDR`, and ADDR.
    fn until_listening(&mut self) -> (Vec<String>, String) {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            assert!(self.stdout.read_line(&mut line).unwrap() > 0, "{lines:?}");
            let line = line.trim_end().to_owned();
            if let Some(addr) = line.strip_prefix("listening on http://") {
                let addr = addr.to_owned();
                lines.push(line);
                return (lines, addr);
            }
            lines.push(line);
        }
    }

    /// Sends SIGTERM and returns the exit status's success and the standard error.
    fn terminate(mut self) -> (bool, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (exit.success(), stderr)
    }
}

async fn get(addr: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!(
            "http://{addr}/v1/stores/store_cli1/security-settings"
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn serve_prints_the_first_key_once_keeps_it_across_restarts_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("security.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let mut first = Serve::start(&db);
    let (lines, addr) = first.until_listening();
    let key = lines
        .iter()
        .find_map(|l| l.strip_prefix("api key (shown once, keep it now): "))
        .unwrap_or_else(|| panic!("no key printed: {lines:?}"))
        .to_owned();
    assert!(key.starts_with("wk_live_"));
    assert_eq!(runtime.block_on(get(&addr, &key)), 200);
    assert_eq!(runtime.block_on(get(&addr, "wk_live_nope")), 401);
    let (clean, log) = first.terminate();
    assert!(clean, "{log}");
    assert!(log.contains("status=200"), "{log}");
    assert!(
        !log.contains(&key["wk_live_".len()..]),
        "the log holds the key"
    );

    let mut second = Serve::start(&db);
    let (lines, addr) = second.until_listening();
    assert_eq!(lines.len(), 1, "no second key: {lines:?}");
    assert_eq!(runtime.block_on(get(&addr, &key)), 200);
    let (clean, log) = second.terminate();
    assert!(clean, "{log}");
}

#[test]
fn serve_without_a_store_on_an_empty_database_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("empty.db"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--store"));
}

/// A running `serve --db` cached each store's allowlist when it started and never read the
/// file again, so `settings update` on the same database by another process was not enforced
/// until a restart. The server now rereads every store each `--refresh-seconds`.
#[test]
fn serve_enforces_a_change_committed_by_another_process_on_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("security.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut server = Serve::start_with(&db, &["--refresh-seconds", "1"]);
    let (lines, addr) = server.until_listening();
    let key = lines
        .iter()
        .find_map(|l| l.strip_prefix("api key (shown once, keep it now): "))
        .unwrap()
        .to_owned();
    assert_eq!(runtime.block_on(get(&addr, &key)), 200);

    let update = dir.path().join("update.json");
    std::fs::write(
        &update,
        r#"{"ip_allowlist": {"enabled": true, "entries": [{"cidr": "198.51.100.0/24"}]}}"#,
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args([
            "settings",
            "update",
            "--store",
            "store_cli1",
            "--actor",
            "user_ops",
        ])
        .arg("--db")
        .arg(&db)
        .arg(&update)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");

    // The refresher runs every second; give it a bounded number of chances.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut last = 0;
    while std::time::Instant::now() < deadline {
        last = runtime.block_on(get(&addr, &key));
        if last == 403 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(last, 403, "the change made elsewhere was not enforced");
    let (clean, log) = server.terminate();
    assert!(clean, "{log}");
}

/// A mistyped `--store` on a database that holds other stores is refused instead of creating a
/// second store; `--create-store` creates it. A first start that cannot run leaves no file.
#[test]
fn serve_creates_a_store_beside_others_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("security.db");
    let mut first = Serve::start(&db);
    first.until_listening();
    let (clean, log) = first.terminate();
    assert!(clean, "{log}");

    let serve = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_whale-security"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", "store_other"])
            .arg("--db")
            .arg(&db)
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = serve(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--create-store") && stderr.contains("store_cli1"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("api key"));

    let mut created = Serve::spawn(&db, &["--store", "store_other", "--create-store"]);
    let (lines, _) = created.until_listening();
    assert!(
        lines.iter().any(|l| l == "created store store_other"),
        "{lines:?}"
    );
    let (clean, log) = created.terminate();
    assert!(clean, "{log}");

    let missing = dir.path().join("missing.db");
    let output = Command::new(env!("CARGO_BIN_EXE_whale-security"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!missing.exists());
}
