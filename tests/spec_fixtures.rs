//! Every JSON example of the spec parses into its type, and serializes back to the same value.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use whale_security::settings::SettingsUpdate;
use whale_security::settings::view::{SettingsView, UpdateResponse};

use crate::read_fixture;

fn round_trip<T: DeserializeOwned + Serialize>(name: &str) {
    let text = read_fixture(&format!("spec/{name}"));
    let original: Value = serde_json::from_str(&text).unwrap();
    let parsed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(written, original, "{name} does not round-trip");
}

#[test]
fn get_settings_response_round_trips() {
    round_trip::<SettingsView>("get-settings.json");
}

#[test]
fn update_requests_round_trip() {
    for name in [
        "update-two-factor-request.json",
        "update-ip-allowlist-request.json",
        "update-session-password-request.json",
        "update-rotation-request.json",
    ] {
        round_trip::<SettingsUpdate>(name);
    }
}

#[test]
fn update_responses_round_trip() {
    for name in [
        "update-two-factor-response.json",
        "update-ip-allowlist-response.json",
        "update-session-password-response.json",
        "update-rotation-response.json",
    ] {
        round_trip::<UpdateResponse>(name);
    }
}

#[test]
fn rotate_keys_request_and_response_round_trip() {
    round_trip::<whale_security::api_keys::RotateKeysRequest>("rotate-keys-request.json");
    round_trip::<whale_security::api_keys::RotateKeysResponse>("rotate-keys-response.json");
}

#[test]
fn a_rotation_response_with_another_object_tag_is_rejected() {
    let text = read_fixture("spec/rotate-keys-response.json")
        .replace("\"key_rotation\"", "\"security_settings\"");
    let err =
        serde_json::from_str::<whale_security::api_keys::RotateKeysResponse>(&text).unwrap_err();
    assert!(err.to_string().contains("expected `key_rotation`"), "{err}");
}
