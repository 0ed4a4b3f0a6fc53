//! A writer killed with `SIGKILL` in the middle of its writes leaves an SQLite database that
//! opens, passes `PRAGMA integrity_check` and holds every change it reported as committed.
//!
//! The writer is this test binary itself, started with [`CHILD_ENV`] naming the database: it
//! runs [`crash_child_writer`], which updates the settings in a loop through the service and
//! prints `committed N` after each commit returns.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use whale_security::SecuritySettings;
use whale_security::id::{StoreId, UserId};
use whale_security::service::{ChangeRequest, SecurityService};
use whale_security::settings::SettingsUpdate;
use whale_security::store::{AuditQuery, PageLimit, SettingsStore, SqliteStore, Version};

/// Names the database the child writes to; its presence selects the child role.
const CHILD_ENV: &str = "WHALE_SECURITY_CRASH_CHILD_DB";

fn store_id() -> StoreId {
    StoreId::new("store_crash").unwrap()
}

fn request() -> ChangeRequest {
    let now = whale_security::time::parse("2026-03-10T10:00:00Z").unwrap();
    ChangeRequest::new(UserId::new("user_writer").unwrap(), now)
}

#[test]
fn a_writer_killed_mid_write_leaves_a_database_with_every_committed_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut reported_before = 0_u64;
    // Each round kills the writer after a different number of commits, then reopens the file.
    for kill_after in [15_usize, 32, 7] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store_crash::crash_child_writer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut reported = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(v) = line.strip_prefix("committed ") {
                reported.push(v.parse::<u64>().unwrap());
                if reported.len() == kill_after {
                    break;
                }
            }
        }
        assert_eq!(reported.len(), kill_after, "the writer stopped early");
        // `Child::kill` sends SIGKILL on Unix: no destructor, no flush, no rollback.
        child.kill().unwrap();
        // Lines the writer printed before it died still count as reported commits.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(v) = line.strip_prefix("committed ") {
                reported.push(v.parse().unwrap());
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer must have been killed");

        let last_reported = *reported.iter().max().unwrap();
        assert!(last_reported > reported_before);
        reported_before = last_reported;

        let store = SqliteStore::open(&path).unwrap();
        store.integrity_check().unwrap();
        let service = SecurityService::new(store);
        let read = service.settings(&store_id()).unwrap();
        // Every reported commit is there; at most one more committed before its line was printed.
        assert!(
            read.version.get() >= last_reported,
            "lost a committed write"
        );
        assert!(read.version.get() <= last_reported + 1);
        // The document is the one written at that version, in full.
        assert_eq!(
            u64::from(read.value.session_policy().timeout_minutes.get()),
            read.version.get()
        );
        // One audit entry per version, numbered without gaps.
        let page = service
            .audit(&AuditQuery::new(store_id()).limit(PageLimit::MAX))
            .unwrap();
        let sequences: Vec<u64> = page.entries.iter().map(|e| e.sequence).collect();
        assert!(sequences.iter().copied().eq(1..=read.version.get()));
    }
}

/// The child role of the crash test: writes until killed. Does nothing unless started by it.
#[test]
#[ignore = "the child role of the crash test, which starts it with the database path"]
fn crash_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let service = SecurityService::new(SqliteStore::open(path).unwrap());
    let request = request();
    // Reopened after a kill, it continues from the stored version.
    if service.store().settings(&store_id()).unwrap().is_none() {
        let settings = SecuritySettings::new(store_id(), request.actor().clone(), request.now());
        let settings = whale_security::settings::apply(
            &settings,
            &SettingsUpdate::from_json(r#"{"session_policy":{"timeout_minutes":1}}"#).unwrap(),
            request.actor(),
            request.now(),
        )
        .unwrap()
        .settings;
        let committed = service.create_settings(settings, &request).unwrap();
        println!("committed {}", committed.version);
    }
    loop {
        let read = service.settings(&store_id()).unwrap();
        let next = read.version.get() + 1;
        let update = SettingsUpdate::from_json(&format!(
            r#"{{"session_policy":{{"timeout_minutes":{next}}}}}"#
        ))
        .unwrap();
        let updated = service
            .update(&store_id(), read.version, &update, &request)
            .unwrap();
        assert_eq!(updated.version, Version::new(next));
        println!("committed {}", updated.version);
    }
}
