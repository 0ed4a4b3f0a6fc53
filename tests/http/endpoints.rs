//! Each of the spec's eight endpoints, with the spec's example requests.

use reqwest::Method;
use serde_json::{Value, json};
use whale_security::audit::AuditAction;
use whale_security::store::AuditQuery;

use super::harness::{OFFICE, STRANGER, Server, T0, assert_same_shape, expect_error, read, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_settings_answers_the_spec_shape_with_the_version_as_etag() {
    let server = Server::spec().await;
    let (status, etag, body) = read(server.get("").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_same_shape(
        &body,
        &spec("get-settings.json"),
        &[
            ".two_factor.grace_period_hours",
            ".password_policy.prevent_reuse",
            ".api_key_rotation.last_rotation",
        ],
    );
    assert_eq!(body["store_id"], "store_a1b2c3d4");
    assert_eq!(body["ip_allowlist"]["entries"], 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_update_examples_answer_the_spec_response_shapes() {
    let server = Server::spec().await;
    let examples = [
        ("update-two-factor", vec![".two_factor.grace_period_hours"]),
        ("update-ip-allowlist", vec![]),
        ("update-session-password", vec![]),
        ("update-rotation", vec![]),
    ];
    for (name, extra) in examples {
        let request = spec(&format!("{name}-request.json"));
        let response = server.put("", &request).send().await.unwrap();
        let (status, etag, body) = read(response).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_same_shape(&body, &spec(&format!("{name}-response.json")), &extra);
        assert_eq!(body["object"], "security_settings");
        let stored = server.service.settings(&server.store).unwrap();
        assert_eq!(etag, Some(format!("\"{}\"", stored.version)), "{name}");
        assert_eq!(
            body["updated_at"],
            whale_security::time::format(stored.value.updated_at()),
            "{name}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2fa_update_sets_the_enforcement_date_from_the_grace_period() {
    let server = Server::fresh().await;
    let request = spec("update-two-factor-request.json");
    let (status, _, body) = read(server.put("", &request).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["two_factor"]["required"], true);
    assert_eq!(
        body["two_factor"]["enforcement_date"],
        "2026-03-13T10:00:00.000Z"
    );
    assert!(body["two_factor"]["non_compliant"].is_array());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_entries_are_listed_added_and_removed() {
    let server = Server::spec().await;

    let (status, etag, list) = read(server.get("/ip-allowlist").send().await.unwrap()).await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"1\"")));
    assert_eq!(list["enabled"], true);
    assert_eq!(list["entries"].as_array().unwrap().len(), 3);
    assert_same_shape(
        &list,
        &spec("update-ip-allowlist-response.json")["ip_allowlist"],
        &[],
    );

    let new = json!({"cidr": "192.0.2.128/25", "label": "Branch"});
    let response = server.post("/ip-allowlist", &new).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (status, etag, entry) = read(response).await;
    assert_eq!((status, etag.as_deref()), (201, Some("\"2\"")), "{entry}");
    assert_eq!(entry["cidr"], "192.0.2.128/25");
    assert_eq!(entry["label"], "Branch");
    assert_eq!(entry["added_at"], "2026-03-10T10:00:00.000Z");
    let id = entry["id"].as_str().unwrap();
    assert!(id.starts_with("ip_"));
    assert!(
        location.ends_with(&format!("/ip-allowlist/{id}")),
        "{location}"
    );

    let (_, _, list) = read(server.get("/ip-allowlist").send().await.unwrap()).await;
    assert_eq!(list["entries"].as_array().unwrap().len(), 4);

    let (status, etag, body) = read(
        server
            .delete(&format!("/ip-allowlist/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, etag.as_deref(), body),
        (204, Some("\"3\""), Value::Null)
    );
    let again = server
        .delete(&format!("/ip-allowlist/{id}"))
        .send()
        .await
        .unwrap();
    expect_error(again, 404, "entry_not_found").await;

    // The spec's own example deletion.
    let response = server
        .delete("/ip-allowlist/ip_a7b8c9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, _, list) = read(server.get("/ip-allowlist").send().await.unwrap()).await;
    let ids: Vec<&str> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ip_a1b2c3", "ip_d4e5f6"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotation_policy_is_read_and_updated() {
    let server = Server::spec().await;
    let (status, etag, policy) = read(server.get("/rotation-policy").send().await.unwrap()).await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"1\"")));
    assert_eq!(
        policy,
        json!({"enabled": true, "interval_days": 90, "grace_period_hours": 48,
               "last_rotation": "2026-01-01T00:00:00.000Z",
               "next_rotation": "2026-04-01T00:00:00.000Z"})
    );

    let change = json!({"interval_days": 30, "grace_period_hours": 24});
    let (status, etag, body) = read(
        server
            .put("/rotation-policy", &change)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"2\"")), "{body}");
    assert_same_shape(&body, &spec("update-rotation-response.json"), &[]);
    assert_eq!(body["api_key_rotation"]["interval_days"], 30);
    assert_eq!(
        body["api_key_rotation"]["next_rotation"],
        "2026-01-31T00:00:00.000Z"
    );

    // A grace period as long as the interval is refused with the field's path.
    let bad = json!({"interval_days": 1, "grace_period_hours": 24});
    let body = expect_error(
        server.put("/rotation-policy", &bad).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert!(
        body["error"]["fields"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("api_key_rotation"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlist_change_takes_effect_on_the_next_request() {
    let server = Server::spec().await;
    let from = |client: &str| server.request(Method::GET, "", client);

    expect_error(from(STRANGER).send().await.unwrap(), 403, "ip_not_allowed").await;
    let add = json!({"cidr": format!("{STRANGER}/32"), "label": "New office"});
    let (status, _, entry) = read(server.post("/ip-allowlist", &add).send().await.unwrap()).await;
    assert_eq!(status, 201);
    assert_eq!(from(STRANGER).send().await.unwrap().status(), 200);

    let path = format!("/ip-allowlist/{}", entry["id"].as_str().unwrap());
    assert_eq!(server.delete(&path).send().await.unwrap().status(), 204);
    expect_error(from(STRANGER).send().await.unwrap(), 403, "ip_not_allowed").await;

    // Disabling the list lets everyone in at once.
    let off = json!({"ip_allowlist": {"enabled": false}});
    assert_eq!(server.put("", &off).send().await.unwrap().status(), 200);
    assert_eq!(from(STRANGER).send().await.unwrap().status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_denies_the_caller_is_refused_unless_forced() {
    let server = Server::spec().await;
    let only_vpn = json!({"ip_allowlist": {"entries": [{"cidr": "198.51.100.42/32"}]}});
    let body = expect_error(
        server.put("", &only_vpn).send().await.unwrap(),
        409,
        "would_lock_out",
    )
    .await;
    assert!(body["error"]["message"].as_str().unwrap().contains(OFFICE));

    let forced = server
        .request(Method::PUT, "?force=true", OFFICE)
        .json(&only_vpn)
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), 200);
    expect_error(server.get("").send().await.unwrap(), 403, "ip_not_allowed").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_names_the_version_and_a_stale_one_is_a_conflict() {
    let server = Server::fresh().await;
    let change = json!({"session_policy": {"timeout_minutes": 60}});
    let ok = server
        .put("", &change)
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.headers()["etag"], "\"2\"");

    let stale = json!({"session_policy": {"timeout_minutes": 90}});
    let response = server
        .put("", &stale)
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    expect_error(response, 409, "version_conflict").await;
    let (_, etag, body) = read(server.get("").send().await.unwrap()).await;
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(body["session_policy"]["timeout_minutes"], 60);

    let bare = server
        .put("", &stale)
        .header("If-Match", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 200);
    for bad in ["W/\"3\"", "abc", "\"\"", "3, 4"] {
        let response = server
            .put("", &stale)
            .header("If-Match", bad)
            .send()
            .await
            .unwrap();
        let body = expect_error(response, 400, "invalid_header").await;
        assert_eq!(body["error"]["fields"][0]["path"], "If-Match");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_without_if_match_are_all_kept() {
    let server = Server::fresh().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let request = server.post(
            "/ip-allowlist",
            &json!({"cidr": format!("10.{i}.0.0/16"), "label": format!("net {i}")}),
        );
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 201);
    }
    let (_, etag, list) = read(server.get("/ip-allowlist").send().await.unwrap()).await;
    assert_eq!(list["entries"].as_array().unwrap().len(), 24);
    assert_eq!(etag.as_deref(), Some("\"25\""));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_audited_with_the_key_as_actor() {
    let server = Server::fresh().await;
    let change = json!({"password_policy": {"min_length": 14}});
    assert_eq!(server.put("", &change).send().await.unwrap().status(), 200);
    let page = server
        .service
        .audit(&AuditQuery::new(server.store.clone()))
        .unwrap();
    let last = page.entries.last().unwrap();
    assert_eq!(last.record.action, AuditAction::UpdateSettings);
    let actor = last.record.actor.as_str();
    assert!(actor.starts_with("user_key_"), "{actor}");
    assert!(!actor.contains(&server.key["wk_live_".len()..]));
    assert_eq!(last.record.at, whale_security::time::parse(T0).unwrap());
    server.stop().await;
}
