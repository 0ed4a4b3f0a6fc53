//! The spec's REST API over HTTP (feature `http`): an axum [`Router`](axum::Router), the allowlist as a tower
//! [`Layer`](tower::Layer), and a server with graceful shutdown.
//!
//! # Endpoints
//!
//! Every path starts with `/v1/stores/{store_id}/security-settings`:
//!
//! | Method | Path | Body | Answer |
//! |---|---|---|---|
//! | GET | `` | | 200 [`SettingsView`](crate::settings::view::SettingsView) |
//! | PUT | `` | [`SettingsUpdate`](crate::settings::SettingsUpdate) | 200 [`UpdateResponse`](crate::settings::view::UpdateResponse) |
//! | GET | `/ip-allowlist` | | 200 [`IpAllowlist`](crate::allowlist::IpAllowlist) |
//! | POST | `/ip-allowlist` | [`NewEntry`](crate::settings::NewEntry) | 201 [`AllowlistEntry`](crate::allowlist::AllowlistEntry) |
//! | DELETE | `/ip-allowlist/{id}` | | 204 |
//! | GET | `/rotation-policy` | | 200 [`ApiKeyRotationPolicy`](crate::api_keys::ApiKeyRotationPolicy) |
//! | PUT | `/rotation-policy` | [`RotationPolicyUpdate`](crate::settings::RotationPolicyUpdate) | 200 [`UpdateResponse`](crate::settings::view::UpdateResponse) |
//! | POST | `/rotate-keys` | [`RotateKeysRequest`](crate::api_keys::RotateKeysRequest) (may be empty) | 200 [`RotateKeysResponse`](crate::api_keys::RotateKeysResponse) plus `new_keys` |
//!
//! # Versions
//!
//! Every answer about the settings carries `ETag: "N"`, the settings' version. A change may send
//! `If-Match: "N"` (or `N`): when the settings are no longer at `N` nothing is written and the
//! answer is 409 `version_conflict`. Without `If-Match` the change is applied to the current
//! settings, re-read and re-applied when a concurrent change wins the race, so concurrent
//! changes to different fields are all kept. Changes to one store through one [`Api`] queue on
//! an async lock, so they do not race each other at all.
//!
//! # Errors
//!
//! `{"error": {"code", "message", "fields": [{"path", "message"}]}}` with a stable
//! [`ErrorCode`]: 400 malformed JSON or header, 401 missing, invalid, expired or revoked key,
//! 403 address not allowed or key of another store, 404, 405, 409 version conflict, lockout
//! guard or nothing to rotate, 413 body over [`ApiConfig::body_limit`], 422 invalid field (each
//! with its path), 500 storage failure (detail in the log only).
//!
//! # Lockout guard
//!
//! A change after which the allowlist would deny the calling client's own address is refused
//! with 409 `would_lock_out`; add `?force=true` to apply it anyway.
//!
//! # Blocking
//!
//! The service and stores are synchronous: every call that may read or write the store runs on
//! tokio's blocking pool (`spawn_blocking`), including key verification. The allowlist check
//! runs inline: it is a lock-free read of the cached allowlist.

pub mod client_ip;

mod auth;
mod error;
mod layer;
mod routes;
mod server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::id::StoreId;
use crate::service::SecurityService;
use crate::store::Store;

pub use self::auth::Grant;
pub use self::client_ip::{ForwardedHeader, TrustedProxies};
pub use self::error::{ApiError, ErrorCode, FieldError};
pub use self::layer::{AllowlistLayer, AllowlistService, ClientAddr, store_in_path};
pub use self::routes::{KEY_EXPIRES_HEADER, router};
pub use self::server::{serve, shutdown_signal};

/// Where the API reads `now`.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Settings of the HTTP API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The largest request body accepted, in bytes; larger ones get 413. Default 64 KiB, room
    /// for an allowlist of several hundred entries in one PUT.
    pub body_limit: usize,
    /// The proxies whose forwarding header is believed. Default: none (the socket peer is the
    /// client).
    pub trusted_proxies: TrustedProxies,
}

impl ApiConfig {
    /// The default body limit.
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            body_limit: Self::DEFAULT_BODY_LIMIT,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// What the API's handlers share: the service, the clock and the configuration.
pub struct Api<S> {
    service: Arc<SecurityService<S>>,
    clock: Arc<dyn Clock>,
    config: ApiConfig,
    writers: Arc<Writers>,
}

impl<S: Store + 'static> Api<S> {
    /// An API over `service` (its settings and its keys), with the system clock and default
    /// settings.
    #[must_use]
    pub fn new(service: Arc<SecurityService<S>>) -> Self {
        Self {
            service,
            clock: Arc::new(SystemClock),
            config: ApiConfig::default(),
            writers: Arc::default(),
        }
    }

    /// Reads `now` from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `config`.
    #[must_use]
    pub fn with_config(mut self, config: ApiConfig) -> Self {
        self.config = config;
        self
    }

    /// The service.
    #[must_use]
    pub fn service(&self) -> &Arc<SecurityService<S>> {
        &self.service
    }
}

impl<S> Clone for Api<S> {
    fn clone(&self) -> Self {
        Self {
            service: Arc::clone(&self.service),
            clock: Arc::clone(&self.clock),
            config: self.config.clone(),
            writers: Arc::clone(&self.writers),
        }
    }
}

/// One async lock per store, taken by every change through the API: read-modify-write cycles of
/// one store queue instead of racing and retrying.
///
/// The map keeps one small entry per store ever changed through this instance, for the life of
/// the process (a few dozen bytes each).
#[derive(Debug, Default)]
struct Writers(Mutex<HashMap<StoreId, Arc<tokio::sync::Mutex<()>>>>);

impl Writers {
    fn of(&self, store_id: &StoreId) -> Arc<tokio::sync::Mutex<()>> {
        // The map is only read and inserted into; a poisoned lock still holds a usable map.
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(store_id.clone()).or_default())
    }
}

impl<S> std::fmt::Debug for Api<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
