//! The allowlist layer's overhead per request: a trivial axum handler called through tower's
//! `oneshot` (no network) bare, behind [`AllowlistLayer`], and behind the naive middleware that
//! reads the settings from the store and scans the list on every request.

// Test and bench code may panic: a panic is how a failed check is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;
use whale_security::http::{AllowlistLayer, Clock, store_in_path};
use whale_security::service::{ChangeRequest, SecurityService};
use whale_security::store::MemoryStore;
use whale_security::{SecuritySettings, Surface, check_ip, time};

struct Fixed(chrono::DateTime<chrono::Utc>);

impl Clock for Fixed {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

/// http/allowlist_layer/{bare,layer_allow,layer_deny,naive_allow}: one GET through `oneshot` to
/// a handler returning a constant: without a layer, behind the layer with an allowed and a
/// denied peer, and behind a naive `from_fn` middleware that reads the store per request.
fn layer(c: &mut Criterion) {
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    let text = std::fs::read_to_string(format!(
        "{}/data/spec-settings.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let settings = SecuritySettings::from_json(&text).unwrap();
    let store_id = settings.store_id().clone();
    let service = Arc::new(SecurityService::with_recent_clients(MemoryStore::new(), 0));
    let actor = settings.updated_by().clone();
    service
        .create_settings(settings, &ChangeRequest::new(actor, now))
        .unwrap();
    let path = format!("/v1/stores/{store_id}/orders");
    let handler = Router::new().route("/v1/stores/{store_id}/orders", get(|| async { "ok" }));
    let guarded = handler
        .clone()
        .layer(AllowlistLayer::new(Arc::clone(&service), Surface::Api).clock(Arc::new(Fixed(now))));
    let naive = handler.clone().layer(middleware::from_fn_with_state(
        Arc::clone(&service),
        naive_check,
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let allowed: SocketAddr = "203.0.113.9:5000".parse().unwrap();
    let denied: SocketAddr = "198.51.100.7:5000".parse().unwrap();
    let request = |peer: SocketAddr| {
        let mut request = Request::get(path.as_str()).body(Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    };

    for (name, app, peer, status) in [
        ("bare", &handler, allowed, StatusCode::OK),
        ("layer_allow", &guarded, allowed, StatusCode::OK),
        ("layer_deny", &guarded, denied, StatusCode::FORBIDDEN),
        ("naive_allow", &naive, allowed, StatusCode::OK),
    ] {
        let response = runtime
            .block_on(app.clone().oneshot(request(peer)))
            .unwrap();
        assert_eq!(response.status(), status, "{name}");
        c.bench_function(&format!("http/allowlist_layer/{name}"), |b| {
            b.iter(|| {
                let response = runtime
                    .block_on(app.clone().oneshot(black_box(request(peer))))
                    .unwrap();
                black_box(response.status())
            })
        });
    }
}

/// The naive baseline: read the settings from the store and scan the list on every request.
async fn naive_check(
    State(service): State<Arc<SecurityService<MemoryStore>>>,
    request: Request,
    next: Next,
) -> Response {
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    let Some(store_id) = store_in_path(request.uri().path()) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let permitted = match (service.settings(&store_id), peer) {
        (Ok(settings), Some(ip)) => {
            check_ip(settings.value.ip_allowlist(), ip, Surface::Api, now).permits()
        }
        _ => false,
    };
    if !permitted {
        return StatusCode::FORBIDDEN.into_response();
    }
    next.run(request).await
}

criterion_group!(benches, layer);
criterion_main!(benches);
