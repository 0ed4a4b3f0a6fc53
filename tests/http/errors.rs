//! Every error status, each with its stable code and JSON body.

use reqwest::Method;
use serde_json::json;

use super::harness::{OFFICE, Server, expect_error, read};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_400_or_422_with_the_field_path() {
    let server = Server::fresh().await;
    let raw = |body: &'static str| {
        server
            .request(Method::PUT, "", OFFICE)
            .header("content-type", "application/json")
            .body(body)
    };
    expect_error(raw("{").send().await.unwrap(), 400, "malformed_json").await;
    expect_error(raw("").send().await.unwrap(), 400, "malformed_json").await;

    let body = expect_error(
        raw(r#"{"password_policy": {"require_upercase": false}}"#)
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body["error"]["fields"][0]["path"],
        "password_policy.require_upercase"
    );

    let entries = json!({"ip_allowlist": {"entries": [
        {"cidr": "203.0.113.0/24"}, {"cidr": "010.001.002.003/8"}
    ]}});
    let body = expect_error(
        server.put("", &entries).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body["error"]["fields"][0]["path"],
        "ip_allowlist.entries[1].cidr"
    );

    let out_of_range = json!({"session_policy": {"timeout_minutes": 0}});
    let body = expect_error(
        server.put("", &out_of_range).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body["error"]["fields"][0]["path"],
        "session_policy.timeout_minutes"
    );

    // Every bad field is named, as the command line names them.
    let two_bad =
        json!({"session_policy": {"timeout_minutes": 0}, "password_policy": {"min_length": 0}});
    let body = expect_error(
        server.put("", &two_bad).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    let paths: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "password_policy.min_length",
            "session_policy.timeout_minutes"
        ]
    );

    let entry = json!({"cidr": "203.0.113.0/24", "id": "ip_mine"});
    let body = expect_error(
        server.post("/ip-allowlist", &entry).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["fields"][0]["path"], "id");

    let rotation = json!({"compromised": true, "grace_period_hours": 5});
    let body = expect_error(
        server.post("/rotate-keys", &rotation).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["fields"][0]["path"], "grace_period_hours");

    // Nothing was written by any of them.
    assert_eq!(
        server
            .service
            .settings(&server.store)
            .unwrap()
            .version
            .get(),
        1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_path_parameters_are_400() {
    let server = Server::fresh().await;
    let body = expect_error(
        server
            .delete("/ip-allowlist/not-an-id")
            .send()
            .await
            .unwrap(),
        400,
        "invalid_path",
    )
    .await;
    assert_eq!(body["error"]["fields"][0]["path"], "entry_id");

    let url = server.base.replace("store_a1", "shop-1");
    let response = server
        .client
        .get(url)
        .bearer_auth(&server.key)
        .header("X-Forwarded-For", OFFICE)
        .send()
        .await
        .unwrap();
    // Not a store id at all: a bad request, which tells nothing about which stores exist.
    let body = expect_error(response, 400, "invalid_path").await;
    assert_eq!(body["error"]["fields"][0]["path"], "store_id");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413() {
    let server = Server::start(
        whale_security::SecuritySettings::new(
            whale_security::id::StoreId::new("store_a1").unwrap(),
            whale_security::id::UserId::new("user_admin").unwrap(),
            whale_security::time::parse(super::harness::T0).unwrap(),
        ),
        1024,
    )
    .await;
    let label = "x".repeat(2000);
    let big = json!({"cidr": "203.0.113.0/24", "label": label});
    expect_error(
        server.post("/ip-allowlist", &big).send().await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_and_unknown_methods_405() {
    let server = Server::fresh().await;
    expect_error(
        server.get("/nothing-here").send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    expect_error(
        server
            .request(Method::PATCH, "", OFFICE)
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(
        server
            .request(Method::DELETE, "/rotation-policy", OFFICE)
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_address_gets_403_json_and_never_reaches_the_handler() {
    let server = Server::spec().await;
    let change = json!({"ip_allowlist": {"enabled": false}});
    let response = server
        .request(Method::PUT, "", "192.0.2.200")
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "the 403 is JSON"
    );
    let body = expect_error(response, 403, "ip_not_allowed").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("192.0.2.200")
    );
    assert_eq!(
        server
            .service
            .settings(&server.store)
            .unwrap()
            .version
            .get(),
        1
    );

    // Even without a key: the address is checked first.
    let anonymous = server
        .client
        .get(&server.base)
        .header("X-Forwarded-For", "192.0.2.200")
        .send()
        .await
        .unwrap();
    expect_error(anonymous, 403, "ip_not_allowed").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_forwarding_header_fails_closed() {
    let server = Server::fresh().await;
    for bad in [
        "203.0.113.9,,10.0.0.1",
        "0203.0.113.9",
        "unknown",
        "203.0.113.9 extra",
    ] {
        let response = server.request(Method::GET, "", bad).send().await.unwrap();
        let body = expect_error(response, 403, "client_ip_unresolved").await;
        assert_eq!(
            body["error"]["fields"][0]["path"], "x-forwarded-for",
            "{bad}"
        );
    }
    let (status, _, _) = read(
        server
            .request(Method::GET, "", OFFICE)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}
