//! Hostile requests: every answer is a documented client error with a JSON body, never a 500,
//! and no request body is read more leniently than the settings reader reads a file.

use reqwest::Method;

use super::harness::{OFFICE, Server, expect_error, read};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_json_key_is_refused_by_every_endpoint_with_a_body() {
    let server = Server::fresh().await;
    let cases: [(Method, &str, &str, &str); 4] = [
        (
            Method::PUT,
            "",
            r#"{"session_policy": {"timeout_minutes": 30, "timeout_minutes": 60}}"#,
            "session_policy.timeout_minutes",
        ),
        (
            Method::POST,
            "/ip-allowlist",
            r#"{"cidr": "203.0.113.0/24", "cidr": "0.0.0.0/0"}"#,
            "cidr",
        ),
        (
            Method::PUT,
            "/rotation-policy",
            r#"{"interval_days": 90, "interval_days": 30}"#,
            "interval_days",
        ),
        (
            Method::POST,
            "/rotate-keys",
            r#"{"compromised": false, "compromised": true}"#,
            "compromised",
        ),
    ];
    for (method, path, body, field) in cases {
        let response = server
            .request(method.clone(), path, OFFICE)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 422, "validation_failed").await;
        assert_eq!(
            error["error"]["fields"][0]["path"], field,
            "{method} {path}"
        );
    }
    // Nothing was changed by any of them.
    let (_, etag, _) = read(server.get("").send().await.unwrap()).await;
    assert_eq!(etag.as_deref(), Some("\"1\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_body_is_malformed_json() {
    let server = Server::fresh().await;
    for body in [
        b"{\"session_policy\": {\"\xff\": 1}}".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        b"{\"session_policy\": {}}\x00".to_vec(),
    ] {
        let response = server
            .request(Method::PUT, "", OFFICE)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(response, 400, "malformed_json").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_if_match_headers_are_refused_rather_than_one_picked() {
    let server = Server::fresh().await;
    for (first, second) in [
        ("\"1\"", "\"999\""),
        ("\"999\"", "\"1\""),
        ("\"1\"", "\"1\""),
    ] {
        let response = server
            .request(Method::PUT, "", OFFICE)
            .header("if-match", first)
            .header("if-match", second)
            .json(&serde_json::json!({"session_policy": {"timeout_minutes": 45}}))
            .send()
            .await
            .unwrap();
        let body = expect_error(response, 400, "invalid_header").await;
        assert_eq!(body["error"]["fields"][0]["path"], "If-Match");
    }
    let (_, etag, _) = read(server.get("").send().await.unwrap()).await;
    assert_eq!(etag.as_deref(), Some("\"1\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_answer_echoes_the_presented_key() {
    let server = Server::fresh().await;
    let real = server.key.clone();
    let tail = &real[real.len() - 12..];
    for presented in [
        format!("{real}!"),
        format!("{}é", &real[..real.len() - 1]),
        real[..real.len() - 1].to_owned(),
        format!("{real}{real}"),
        format!("wk_test_{}", &real[8..]),
        real.to_uppercase(),
    ] {
        let response = server
            .client
            .get(&server.base)
            .header("X-Forwarded-For", OFFICE)
            .header("authorization", format!("Bearer {presented}"))
            .send()
            .await
            .unwrap();
        let (status, _, body) = read(response).await;
        assert_eq!(status, 401, "{body}");
        let text = body.to_string();
        assert!(!text.contains(tail), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_and_very_wide_bodies_are_client_errors() {
    let server = Server::fresh().await;
    let deep = format!("{{\"a\":{}", "[".repeat(60_000));
    let wide = format!(
        "{{{}\"x\":0}}",
        (0..4_000)
            .map(|i| format!("\"k{i}\":[0],"))
            .collect::<String>()
    );
    for (body, status, code) in [
        (deep, 400, "malformed_json"),
        (wide, 422, "validation_failed"),
    ] {
        let started = std::time::Instant::now();
        let response = server
            .request(Method::PUT, "", OFFICE)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(response, status, code).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
