//! A server on loopback with an in-memory store, in-memory keys and a clock the test moves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use whale_security::allowlist::parse_cidr;
use whale_security::api_keys::Environment;
use whale_security::http::{Api, ApiConfig, Clock, ForwardedHeader, TrustedProxies, router, serve};
use whale_security::id::{StoreId, UserId};
use whale_security::service::{ChangeRequest, EntropyError, SecurityService};
use whale_security::store::MemoryStore;
use whale_security::{SecuritySettings, time};

/// The instant every test starts at.
pub const T0: &str = "2026-03-10T10:00:00Z";

/// An address inside the spec's office network (203.0.113.0/24).
pub const OFFICE: &str = "203.0.113.9";

/// An address in no list.
pub const STRANGER: &str = "198.18.0.1";

pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn set(&self, t: &str) {
        *self.0.lock().unwrap() = time::parse(t).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct Server {
    pub base: String,
    pub client: Client,
    pub store: StoreId,
    pub key: String,
    pub clock: Arc<ManualClock>,
    pub service: Arc<SecurityService<MemoryStore>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// A server holding the spec's settings (allowlist enabled: office, VPN, warehouse) and one
    /// key for the store.
    pub async fn spec() -> Self {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/spec-settings.json"
        ))
        .unwrap();
        Self::start(SecuritySettings::from_json(&text).unwrap(), 64 * 1024).await
    }

    /// A server holding new default settings (allowlist disabled) for `store_a1`.
    pub async fn fresh() -> Self {
        let now = time::parse(T0).unwrap();
        let settings = SecuritySettings::new(
            StoreId::new("store_a1").unwrap(),
            UserId::new("user_admin").unwrap(),
            now,
        );
        Self::start(settings, 64 * 1024).await
    }

    pub async fn start(settings: SecuritySettings, body_limit: usize) -> Self {
        let now = time::parse(T0).unwrap();
        let clock = Arc::new(ManualClock(Mutex::new(now)));
        let service = Arc::new(SecurityService::new(MemoryStore::new()).with_entropy(seeded()));
        let store = settings.store_id().clone();
        let admin = ChangeRequest::new(UserId::new("user_admin").unwrap(), now);
        service.create_settings(settings, &admin).unwrap();
        let key = service
            .issue_key(&store, Environment::Live, &admin)
            .unwrap()
            .expose_secret()
            .to_owned();
        let config = ApiConfig {
            body_limit,
            trusted_proxies: TrustedProxies::new(
                [parse_cidr("127.0.0.0/8").unwrap()],
                ForwardedHeader::XForwardedFor,
            ),
        };
        let api = Api::new(Arc::clone(&service))
            .with_clock(Arc::clone(&clock) as _)
            .with_config(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router(api), async {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{addr}/v1/stores/{store}/security-settings"),
            client: Client::new(),
            store,
            key,
            clock,
            service,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A request to `path` (after `.../security-settings`) from `client` with the store's key.
    pub fn request(&self, method: Method, path: &str, client: &str) -> RequestBuilder {
        self.with_key(method, path, client, &self.key)
    }

    /// A request to `path` from `client` with `key`.
    pub fn with_key(&self, method: Method, path: &str, client: &str, key: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("X-Forwarded-For", client)
            .bearer_auth(key)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path, OFFICE)
    }

    pub fn put(&self, path: &str, body: &Value) -> RequestBuilder {
        self.request(Method::PUT, path, OFFICE).json(body)
    }

    pub fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.request(Method::POST, path, OFFICE).json(body)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path, OFFICE)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// A deterministic random source: a counter's bytes, different for every call.
fn seeded() -> impl Fn(&mut [u8]) -> Result<(), EntropyError> + Send + Sync {
    let counter = AtomicU64::new(1);
    move |dest: &mut [u8]| {
        let n = counter.fetch_add(1, Ordering::Relaxed).to_le_bytes();
        for (i, byte) in dest.iter_mut().enumerate() {
            *byte = n[i % 8] ^ u8::try_from(i % 251).unwrap();
        }
        Ok(())
    }
}

/// The status, the ETag and the JSON body of a response (`Null` for an empty body).
pub async fn read(response: Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, etag, body)
}

/// Asserts an error answer: the status, the code, and a message.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    let (got, _, body) = read(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"]["fields"].is_array(), "{body}");
    body
}

/// The fixture `tests/fixtures/spec/{name}` as JSON.
pub fn spec(name: &str) -> Value {
    serde_json::from_str(&crate::read_fixture(&format!("spec/{name}"))).unwrap()
}

/// Asserts that `ours` has every field of `theirs`, at the same place and of the same JSON type
/// (arrays compared by their first element when both have one), and no other field than those
/// and the `allowed_extra` paths.
pub fn assert_same_shape(ours: &Value, theirs: &Value, allowed_extra: &[&str]) {
    fn walk(ours: &Value, theirs: &Value, path: &str, extra: &[&str]) {
        match (ours, theirs) {
            (Value::Object(o), Value::Object(t)) => {
                for (k, tv) in t {
                    let p = format!("{path}.{k}");
                    let ov = o.get(k).unwrap_or_else(|| panic!("missing {p}"));
                    walk(ov, tv, &p, extra);
                }
                for k in o.keys() {
                    let p = format!("{path}.{k}");
                    assert!(
                        t.contains_key(k) || extra.contains(&p.as_str()),
                        "extra {p}"
                    );
                }
            }
            (Value::Array(o), Value::Array(t)) => {
                if let (Some(o), Some(t)) = (o.first(), t.first()) {
                    walk(o, t, &format!("{path}[0]"), extra);
                }
            }
            (Value::String(_), Value::String(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Null, Value::Null) => {}
            _ => panic!("{path}: ours {ours} vs spec {theirs}"),
        }
    }
    walk(ours, theirs, "", allowed_extra);
}
