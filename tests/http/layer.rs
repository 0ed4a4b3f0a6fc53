//! The allowlist layer in front of a plain service, without a server: the socket peer is set
//! on each request as axum's `ConnectInfo`, so any peer address can be tried.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response};
use tower::{Layer, ServiceExt, service_fn};
use whale_security::allowlist::parse_cidr;
use whale_security::http::{AllowlistLayer, ForwardedHeader, TrustedProxies};
use whale_security::id::UserId;
use whale_security::service::{ChangeRequest, SecurityService};
use whale_security::store::MemoryStore;
use whale_security::{SecuritySettings, Surface, time};

/// A path of the spec's store, whose allowlist admits 203.0.113.0/24 on the API.
const PATH: &str = "/v1/stores/store_a1b2c3d4/orders";

/// Sends one request for [`PATH`] from `peer` with `headers` through the layer; the status and
/// body.
async fn send(
    proxies: TrustedProxies,
    peer: &str,
    headers: &[(&str, HeaderValue)],
) -> (u16, String) {
    send_to(PATH, proxies, peer, headers).await
}

/// [`send`] for any path.
async fn send_to(
    path: &str,
    proxies: TrustedProxies,
    peer: &str,
    headers: &[(&str, HeaderValue)],
) -> (u16, String) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/spec-settings.json"
    ))
    .unwrap();
    let now = time::parse("2026-03-10T10:00:00Z").unwrap();
    let service = Arc::new(SecurityService::new(MemoryStore::new()));
    let admin = ChangeRequest::new(UserId::new("user_admin").unwrap(), now);
    service
        .create_settings(SecuritySettings::from_json(&text).unwrap(), &admin)
        .unwrap();
    let inner = service_fn(|_: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(String::from("reached")))
    });
    let guarded = AllowlistLayer::new(service, Surface::Api)
        .trusted_proxies(proxies)
        .layer(inner);
    let mut request = Request::builder().uri(path);
    for (name, value) in headers {
        request = request.header(*name, value.clone());
    }
    let mut request = request.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = guarded.oneshot(request).await.unwrap();
    (response.status().as_u16(), response.into_body())
}

fn proxies(header: ForwardedHeader) -> TrustedProxies {
    TrustedProxies::new([parse_cidr("10.0.0.0/8").unwrap()], header)
}

/// A header value holding the byte 0xE9 (`é` in Latin-1), which is not UTF-8.
fn not_text(prefix: &str) -> HeaderValue {
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.extend_from_slice(b"caf\xE9");
    HeaderValue::from_bytes(&bytes).unwrap()
}

/// `X-Forwarded-For: caf\xE9` from an allowed peer that is not a trusted proxy was a 403
/// `client_ip_unresolved`: the layer decoded every forwarding header before asking whether the
/// peer may write one. An untrusted peer's forwarding headers are never read, whatever bytes
/// they hold, with no proxies configured or with proxies that do not include the peer, for
/// either header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_peers_forwarding_headers_are_never_read_even_when_not_text() {
    let both = [
        ("x-forwarded-for", not_text("")),
        ("forwarded", not_text("for=")),
    ];
    for proxies in [
        TrustedProxies::default(),
        proxies(ForwardedHeader::XForwardedFor),
        proxies(ForwardedHeader::Forwarded),
    ] {
        let answer = send(proxies.clone(), "203.0.113.9:4711", &both).await;
        assert_eq!(answer, (200, "reached".to_owned()), "{proxies:?}");
        // The header does not rescue a peer outside the list either.
        let (status, body) = send(proxies.clone(), "192.0.2.200:4711", &both).await;
        assert_eq!(status, 403, "{proxies:?}");
        assert!(body.contains("ip_not_allowed"), "{body}");
    }
}

/// A trusted proxy's header that is not text still fails closed, naming the header; the header
/// the proxies do not write is ignored, text or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxys_forwarding_header_that_is_not_text_fails_closed() {
    for (header, name, other, prefix) in [
        (
            ForwardedHeader::XForwardedFor,
            "x-forwarded-for",
            "forwarded",
            "",
        ),
        (
            ForwardedHeader::Forwarded,
            "forwarded",
            "x-forwarded-for",
            "for=",
        ),
    ] {
        let (status, body) = send(
            proxies(header),
            "10.0.0.5:4711",
            &[(name, not_text(prefix))],
        )
        .await;
        assert_eq!(status, 403, "{name}");
        assert!(body.contains("client_ip_unresolved"), "{body}");
        assert!(body.contains(name), "{body}");

        let office = HeaderValue::from_static("203.0.113.9");
        let office = if prefix.is_empty() {
            office
        } else {
            HeaderValue::from_static("for=203.0.113.9")
        };
        let answer = send(
            proxies(header),
            "10.0.0.5:4711",
            &[(name, office), (other, not_text(""))],
        )
        .await;
        assert_eq!(answer, (200, "reached".to_owned()), "{name}");
    }
}

/// A store without settings answers exactly as a store whose allowlist denies the address, so
/// an address outside every allowlist cannot learn which stores exist; a path whose store id
/// is not an id at all is a bad request, which says nothing about any store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_store_looks_denied_and_an_invalid_store_id_is_a_bad_path() {
    let none = TrustedProxies::default;
    let denied = send(none(), "192.0.2.200:4711", &[]).await;
    let unknown = send_to(
        "/v1/stores/store_other/orders",
        none(),
        "192.0.2.200:4711",
        &[],
    )
    .await;
    assert_eq!(denied.0, 403);
    assert!(denied.1.contains("ip_not_allowed"), "{}", denied.1);
    assert_eq!(unknown, denied);
    // Even an address the existing store admits learns nothing about the other store's
    // existence beyond "not admitted".
    let unknown = send_to(
        "/v1/stores/store_other/orders",
        none(),
        "203.0.113.9:4711",
        &[],
    )
    .await;
    assert_eq!(unknown.0, 403, "{}", unknown.1);
    assert!(unknown.1.contains("ip_not_allowed"), "{}", unknown.1);

    let (status, body) = send_to("/v1/stores/bad/orders", none(), "203.0.113.9:4711", &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid_path"), "{body}");
    assert!(body.contains("store_id"), "{body}");
    // Outside `/v1/stores/` no store is named: closed, as before.
    let (status, body) = send_to("/health", none(), "203.0.113.9:4711", &[]).await;
    assert_eq!(status, 403, "{body}");
}

/// The layer checks the store named right after `/v1/stores/`; a path that goes on with `..`
/// (plain or percent-encoded) or an empty segment could name another store to anything behind
/// it that normalizes paths, so it is refused before reaching the inner service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_could_climb_out_of_its_store_is_refused() {
    let none = TrustedProxies::default;
    for path in [
        "/v1/stores/store_a1b2c3d4/../store_zzzz/x",
        "/v1/stores/store_a1b2c3d4/%2e%2E/store_zzzz/x",
        "/v1/stores/store_a1b2c3d4/./x",
        "/v1/stores/store_a1b2c3d4//x",
    ] {
        let (status, body) = send_to(path, none(), "203.0.113.9:4711", &[]).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("invalid_path"), "{body}");
    }
    let (status, _) = send_to(
        "/v1/stores/store_a1b2c3d4/x.y/z",
        none(),
        "203.0.113.9:4711",
        &[],
    )
    .await;
    assert_eq!(status, 200);
}
