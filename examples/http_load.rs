//! A bounded load test of the REST API on loopback: allowlisted GETs, then concurrent writes,
//! against the router served by `serve` over a SQLite database in a temporary directory.
//!
//! ```text
//! cargo run --release --features http --example http_load -- [GETS] [WRITES] [CONCURRENCY]
//! ```
//!
//! Defaults: 20 000 GETs, 2 000 writes (half `POST ip-allowlist`, half `PUT` of the session
//! timeout, each a read-modify-write of the settings without `If-Match`), 32 concurrent
//! clients. Prints requests per second and latency percentiles, fails on any 5xx or any other
//! unexpected status, and checks that no write was lost: every posted entry is in the list and
//! the settings' version rose by exactly the number of writes. Stops after 120 s at most.

// Example code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use whale_security::SecuritySettings;
use whale_security::api_keys::Environment;
use whale_security::http::{Api, router, serve};
use whale_security::id::{StoreId, UserId};
use whale_security::service::{ChangeRequest, SecurityService};
use whale_security::store::SqliteStore;

const DEADLINE: Duration = Duration::from_secs(120);

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("counts are numbers"))
        .collect();
    let gets = args.first().copied().unwrap_or(20_000);
    let writes = args.get(1).copied().unwrap_or(2_000);
    let concurrency = args.get(2).copied().unwrap_or(32).max(1);

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("security.db")).unwrap();
    let service = Arc::new(SecurityService::new(store));
    let store_id = StoreId::new("store_load").unwrap();
    let now = chrono::Utc::now();
    let admin = ChangeRequest::new(UserId::new("user_admin").unwrap(), now);
    service
        .create_settings(
            SecuritySettings::new(store_id.clone(), admin.actor().clone(), now),
            &admin,
        )
        .unwrap();
    let key = service
        .issue_key(&store_id, Environment::Live, &admin)
        .unwrap()
        .expose_secret()
        .to_owned();
    service.refresh(&store_id).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!(
            "http://{}/v1/stores/{store_id}/security-settings",
            listener.local_addr().unwrap()
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router(Api::new(service)), async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let started = Instant::now();

        // An enforced allowlist with the loopback client among other entries.
        let setup = json!({"ip_allowlist": {"enabled": true, "entries": [
            {"cidr": "127.0.0.1/32", "label": "load generator"},
            {"cidr": "203.0.113.0/24"}, {"cidr": "198.51.100.42/32"}, {"cidr": "192.0.2.0/28"}
        ]}});
        let r = client.put(&base).bearer_auth(&key).json(&setup).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

        let get = {
            let (client, base, key) = (client.clone(), base.clone(), key.clone());
            move |_: usize| {
                let (client, base, key) = (client.clone(), base.clone(), key.clone());
                async move { client.get(&base).bearer_auth(&key).send().await.unwrap().status() }
            }
        };
        let gets_report = phase("GET security-settings (allowlisted)", gets, concurrency, 200, get, started).await;

        let version_before = version(&client, &base, &key).await;
        let write = {
            let (client, base, key) = (client.clone(), base.clone(), key.clone());
            move |i: usize| {
                let (client, base, key) = (client.clone(), base.clone(), key.clone());
                async move {
                    if i.is_multiple_of(2) {
                        let entry = json!({"cidr": format!("10.{}.{}.0/24", i / 256 % 256, i % 256)});
                        let r = client.post(format!("{base}/ip-allowlist")).bearer_auth(&key).json(&entry).send().await.unwrap();
                        // 201 is the only success for a POST.
                        if r.status() == 201 { reqwest::StatusCode::OK } else { r.status() }
                    } else {
                        // A value no other write sets, so every PUT changes the settings.
                        let change = json!({"session_policy": {"timeout_minutes": 5 + i}});
                        client.put(&base).bearer_auth(&key).json(&change).send().await.unwrap().status()
                    }
                }
            }
        };
        let writes_report = phase("concurrent writes (POST ip-allowlist + PUT settings)", writes, concurrency, 200, write, started).await;

        let version_after = version(&client, &base, &key).await;
        let list: Value = client.get(format!("{base}/ip-allowlist")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        let entries = list["entries"].as_array().unwrap().len();
        let posted = writes.div_ceil(2);
        println!("writes: {writes} done, version {version_before} -> {version_after}, entries {entries} (4 + {posted} posted)");
        assert_eq!(entries, 4 + posted, "a posted entry was lost");
        assert_eq!(version_after - version_before, writes as u64, "a write was lost or doubled");
        assert!(gets_report && writes_report, "unexpected statuses");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}

/// Runs `count` requests made by `request(i)` with `concurrency` clients; prints rate and
/// latency percentiles; returns whether every status was `expected`.
async fn phase<F, Fut>(
    name: &str,
    count: usize,
    concurrency: usize,
    expected: u16,
    request: F,
    started: Instant,
) -> bool
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = reqwest::StatusCode> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let begin = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, request) = (Arc::clone(&next), request.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bad = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || started.elapsed() > DEADLINE {
                    return (latencies, bad);
                }
                let t = Instant::now();
                let status = request(i).await;
                latencies.push(t.elapsed());
                if status.as_u16() != expected {
                    bad.push(status.as_u16());
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut bad = Vec::new();
    for w in workers {
        let (l, b) = w.await.unwrap();
        latencies.extend(l);
        bad.extend(b);
    }
    let elapsed = begin.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies.get(i).copied().unwrap_or_default()
    };
    let server_errors = bad.iter().filter(|s| **s >= 500).count();
    println!(
        "{name}: {} requests, {concurrency} clients, {:.2} s, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, 5xx {server_errors}, other unexpected {}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
        bad.len() - server_errors,
    );
    latencies.len() == count && bad.is_empty()
}

async fn version(client: &reqwest::Client, base: &str, key: &str) -> u64 {
    let r = client.get(base).bearer_auth(key).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap();
    etag.trim_matches('"').parse().unwrap()
}
