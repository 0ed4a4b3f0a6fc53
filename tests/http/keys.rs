//! Authentication: missing, malformed, unknown, expired, revoked and foreign keys, the grace
//! period header, and immediate rotation.

use reqwest::Method;
use serde_json::json;
use whale_security::api_keys::Environment;
use whale_security::http::KEY_EXPIRES_HEADER;
use whale_security::id::{StoreId, UserId};
use whale_security::service::ChangeRequest;
use whale_security::{SecuritySettings, time};

use super::harness::{OFFICE, Server, T0, assert_same_shape, expect_error, read, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_invalid_keys_are_401_with_distinct_codes() {
    let server = Server::fresh().await;
    let plain = |auth: Option<&str>| {
        let request = server
            .client
            .get(&server.base)
            .header("X-Forwarded-For", OFFICE);
        match auth {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
    };
    expect_error(plain(None).send().await.unwrap(), 401, "missing_api_key").await;
    expect_error(
        plain(Some("Basic dXNlcjpwYXNz")).send().await.unwrap(),
        401,
        "missing_api_key",
    )
    .await;
    expect_error(
        plain(Some("Bearer ")).send().await.unwrap(),
        401,
        "missing_api_key",
    )
    .await;
    expect_error(
        plain(Some("Bearer wk_live_short")).send().await.unwrap(),
        401,
        "invalid_api_key",
    )
    .await;
    let unknown = format!("Bearer wk_live_{}", "A".repeat(43));
    let body = expect_error(
        plain(Some(&unknown)).send().await.unwrap(),
        401,
        "invalid_api_key",
    )
    .await;
    assert!(!body.to_string().contains(&"A".repeat(43)), "{body}");
    // Two keys at once are refused, not resolved by picking one.
    let twice = server.get("").header("Authorization", "Bearer wk_live_x");
    let body = expect_error(twice.send().await.unwrap(), 400, "invalid_header").await;
    assert_eq!(body["error"]["fields"][0]["path"], "Authorization");
    // The scheme is case-insensitive.
    let lower = format!("bearer {}", server.key);
    assert_eq!(plain(Some(&lower)).send().await.unwrap().status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_store_is_403_api_key_wrong_store() {
    let server = Server::fresh().await;
    let now = time::parse(T0).unwrap();
    let other_store = StoreId::new("store_b2").unwrap();
    let admin = ChangeRequest::new(UserId::new("user_admin").unwrap(), now);
    server
        .service
        .create_settings(
            SecuritySettings::new(other_store.clone(), admin.actor().clone(), now),
            &admin,
        )
        .unwrap();
    let other = server
        .service
        .issue_key(&other_store, Environment::Live, &admin)
        .unwrap();
    let response = server
        .client
        .get(&server.base)
        .header("X-Forwarded-For", OFFICE)
        .bearer_auth(other.expose_secret())
        .send()
        .await
        .unwrap();
    let body = expect_error(response, 403, "api_key_wrong_store").await;
    assert!(!body.to_string().contains(other.expose_secret()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_401_api_key_revoked() {
    let server = Server::fresh().await;
    let now = time::parse(T0).unwrap();
    let id = whale_security::api_keys::PresentedKey::parse(&server.key)
        .unwrap()
        .key_id();
    let admin = ChangeRequest::new(UserId::new("user_admin").unwrap(), now);
    server
        .service
        .revoke_key(&server.store, &id, &admin)
        .unwrap();
    expect_error(server.get("").send().await.unwrap(), 401, "api_key_revoked").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_answers_the_spec_shape_and_the_old_key_works_until_its_grace_ends() {
    let server = Server::fresh().await;
    let request = spec("rotate-keys-request.json");
    let response = server.post("/rotate-keys", &request).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, _, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    assert_same_shape(&body, &spec("rotate-keys-response.json"), &[".new_keys"]);
    assert_eq!(body["rotated_keys"], 1);
    assert_eq!(body["rotated_at"], "2026-03-10T10:00:00.000Z");
    assert_eq!(body["old_key_expires_at"], "2026-03-11T10:00:00.000Z");
    // The rotation is recorded in the policy.
    let (_, _, policy) = read(server.get("/rotation-policy").send().await.unwrap()).await;
    assert_eq!(policy["last_rotation"], "2026-03-10T10:00:00.000Z");
    let new_key = body["new_keys"][0]["key"].as_str().unwrap().to_owned();
    assert!(
        new_key.starts_with(
            body["new_key_prefix"]
                .as_str()
                .unwrap()
                .trim_end_matches("...")
        )
    );

    // The old key works in its grace period and says until when.
    let old = server.get("").send().await.unwrap();
    assert_eq!(old.status(), 200);
    assert_eq!(
        old.headers()[KEY_EXPIRES_HEADER],
        "2026-03-11T10:00:00.000Z"
    );
    // The new key works and carries no expiry.
    let fresh = server
        .with_key(Method::GET, "", OFFICE, &new_key)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    assert!(fresh.headers().get(KEY_EXPIRES_HEADER).is_none());

    // At the expiry instant the old key is rejected; the new one still works.
    server.clock.set("2026-03-11T09:59:59.999Z");
    assert_eq!(server.get("").send().await.unwrap().status(), 200);
    server.clock.set("2026-03-11T10:00:00Z");
    expect_error(server.get("").send().await.unwrap(), 401, "api_key_expired").await;
    let fresh = server
        .with_key(Method::GET, "", OFFICE, &new_key)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromised_rotation_revokes_at_once_and_an_empty_body_takes_the_policy_grace() {
    let server = Server::fresh().await;
    let (status, _, body) = read(
        server
            .request(Method::POST, "/rotate-keys", OFFICE)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The default policy's grace is 48 hours.
    assert_eq!(body["old_key_expires_at"], "2026-03-12T10:00:00.000Z");
    let current = body["new_keys"][0]["key"].as_str().unwrap().to_owned();

    let compromised = json!({"compromised": true});
    let (status, _, body) = read(
        server
            .with_key(Method::POST, "/rotate-keys", OFFICE, &current)
            .json(&compromised)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let revoked = server
        .with_key(Method::GET, "", OFFICE, &current)
        .send()
        .await
        .unwrap();
    expect_error(revoked, 401, "api_key_revoked").await;
    server.stop().await;
}
