//! The router, the authentication middleware and the eight handlers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::auth::Grant;
use super::layer::{AllowlistLayer, ClientAddr, invalid_store_path, store_in_path};
use super::{Api, ApiError, ErrorCode};
use crate::allowlist::Surface;
use crate::api_keys::{RotateKeysRequest, RotateKeysResponse};
use crate::id::{EntryId, KeyId, StoreId};
use crate::service::{ChangeRequest, SecurityService, ServiceError};
use crate::settings::{NewEntry, RotationPolicyUpdate, SettingsError, SettingsUpdate};
use crate::store::{Store, StoreError, Version};

/// The response header telling a caller whose key is in its grace period when the key stops
/// working (RFC 3339, exclusive): `Whale-Key-Expires-At: 2026-03-11T10:00:00.000Z`.
pub const KEY_EXPIRES_HEADER: &str = "whale-key-expires-at";

/// The spec's eight endpoints over `api`, behind the allowlist layer (surface `api`, the
/// configured trusted proxies) and key authentication, with the body limit and JSON answers for
/// unknown routes and methods.
///
/// Serve it with connection info (`into_make_service_with_connect_info::<SocketAddr>()`, as
/// [`serve`](super::serve) does): without a peer address every request is denied.
pub fn router<S: Store + 'static>(api: Api<S>) -> Router {
    let allowlist = AllowlistLayer::new(Arc::clone(&api.service), Surface::Api)
        .trusted_proxies(api.config.trusted_proxies.clone())
        .clock(Arc::clone(&api.clock));
    let base = "/v1/stores/{store_id}/security-settings";
    Router::new()
        .route(base, get(get_settings::<S>).put(put_settings::<S>))
        .route(
            &format!("{base}/ip-allowlist"),
            get(list_allowlist::<S>).post(add_allowlist_entry::<S>),
        )
        .route(
            &format!("{base}/ip-allowlist/{{entry_id}}"),
            delete(remove_allowlist_entry::<S>),
        )
        .route(
            &format!("{base}/rotation-policy"),
            get(get_rotation_policy::<S>).put(put_rotation_policy::<S>),
        )
        .route(&format!("{base}/rotate-keys"), post(rotate_keys::<S>))
        .route_layer(middleware::from_fn_with_state(
            api.clone(),
            authenticate::<S>,
        ))
        .route_layer(allowlist)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(api.config.body_limit))
        .with_state(api)
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
struct Caller {
    store_id: StoreId,
    grant: Grant,
    client: Option<ClientAddr>,
}

impl Caller {
    /// A change request by this caller at `now`, guarded against locking the caller out
    /// unless `force`.
    fn change(&self, api: &Api<impl Store>, uri: &Uri) -> Result<ChangeRequest, ApiError> {
        let mut request = ChangeRequest::new(self.grant.actor()?, api.clock.now());
        if let Some(ClientAddr(ip)) = self.client {
            request = request.from_client(ip, Surface::Api);
        }
        if force(uri) {
            request = request.force();
        }
        Ok(request)
    }
}

async fn authenticate<S: Store + 'static>(
    State(api): State<Api<S>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match caller(&api, &request).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let expires_at = caller.grant.expires_at;
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    if let Some(t) = expires_at
        && let Ok(value) = HeaderValue::from_str(&crate::time::format(t))
    {
        response.headers_mut().insert(KEY_EXPIRES_HEADER, value);
    }
    response
}

/// The caller of `request`. Everything is read from the request before the first `await`:
/// a request body is not `Sync`, so a borrowed request cannot live across one.
fn caller<S: Store + 'static>(
    api: &Api<S>,
    request: &Request,
) -> impl Future<Output = Result<Caller, ApiError>> + Send + 'static {
    let read = (|| {
        let store_id = store_in_path(request.uri().path()).ok_or_else(invalid_store_path)?;
        let key = bearer(request.headers())?;
        let client = request
            .extensions()
            .get::<ClientAddr>()
            .copied()
            .or_else(|| {
                request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| ClientAddr(c.0.ip().to_canonical()))
            });
        Ok::<_, ApiError>((store_id, key, client))
    })();
    let service = Arc::clone(&api.service);
    let now = api.clock.now();
    async move {
        let (store_id, key, client) = read?;
        let grant = tokio::task::spawn_blocking(move || super::auth::verify(&service, &key, now))
            .await
            .map_err(|e| ApiError::internal(&e))??;
        if grant.store_id != store_id {
            return Err(ApiError::new(
                ErrorCode::ApiKeyWrongStore,
                format!(
                    "api key `{}` does not grant access to store `{store_id}`",
                    grant.key_id
                ),
            ));
        }
        Ok(Caller {
            store_id,
            grant,
            client,
        })
    }
}

/// The key of the one `Authorization: Bearer <key>` header, held in memory that is wiped on
/// drop. Two `Authorization` headers are refused: which one counts would be a guess.
fn bearer(headers: &HeaderMap) -> Result<Zeroizing<String>, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorCode::MissingApiKey,
            "send the store's api key as `Authorization: Bearer wk_live_...`",
        )
    };
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or_else(missing)?;
    if values.next().is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidHeader,
            "send exactly one `Authorization` header",
        )
        .with_field("Authorization", "repeated"));
    }
    let text = value.to_str().map_err(|_| missing())?;
    let (scheme, key) = text.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
        return Err(missing());
    }
    Ok(Zeroizing::new(key.trim().to_owned()))
}

async fn get_settings<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Result<Response, ApiError> {
    let store_id = caller.store_id;
    let view = blocking(&api, move |s| s.view(&store_id)).await?;
    json(StatusCode::OK, &view.value, Some(view.version))
}

async fn put_settings<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    uri: Uri,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let update = SettingsUpdate::from_json(utf8(&body)?)?;
    let request = caller.change(&api, &uri)?;
    let store_id = caller.store_id;
    let updated = write(
        &api,
        &store_id,
        if_match(&headers)?,
        move |s, store_id, v| s.update(store_id, v, &update, &request),
    )
    .await?;
    json(StatusCode::OK, &updated.response, Some(updated.version))
}

async fn list_allowlist<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Result<Response, ApiError> {
    let store_id = caller.store_id;
    let list = blocking(&api, move |s| s.allowlist(&store_id)).await?;
    json(StatusCode::OK, &list.value, Some(list.version))
}

async fn add_allowlist_entry<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    uri: Uri,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let entry: NewEntry = parse(&body, false)?;
    let request = caller.change(&api, &uri)?;
    let store_id = caller.store_id;
    let (entry, updated) = write(
        &api,
        &store_id,
        if_match(&headers)?,
        move |s, store_id, v| s.add_allowlist_entry(store_id, v, entry.clone(), &request),
    )
    .await?;
    let mut response = json(StatusCode::CREATED, &entry, Some(updated.version))?;
    let location = format!("{}/{}", uri.path().trim_end_matches('/'), entry.id);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    Ok(response)
}

async fn remove_allowlist_entry<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let text = uri.path().rsplit('/').next().unwrap_or_default();
    let entry_id = EntryId::new(text).map_err(|e| {
        ApiError::new(ErrorCode::InvalidPath, e.to_string()).with_field("entry_id", e.to_string())
    })?;
    let request = caller.change(&api, &uri)?;
    let store_id = caller.store_id;
    let updated = write(
        &api,
        &store_id,
        if_match(&headers)?,
        move |s, store_id, v| s.remove_allowlist_entry(store_id, v, &entry_id, &request),
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(ETAG, etag(updated.version));
    Ok(response)
}

async fn get_rotation_policy<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Result<Response, ApiError> {
    let store_id = caller.store_id;
    let policy = blocking(&api, move |s| s.rotation_policy(&store_id)).await?;
    json(StatusCode::OK, &policy.value, Some(policy.version))
}

async fn put_rotation_policy<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    uri: Uri,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let policy: RotationPolicyUpdate = parse(&body, false)?;
    let request = caller.change(&api, &uri)?;
    let store_id = caller.store_id;
    let updated = write(
        &api,
        &store_id,
        if_match(&headers)?,
        move |s, store_id, v| s.put_rotation_policy(store_id, v, &policy, &request),
    )
    .await?;
    json(StatusCode::OK, &updated.response, Some(updated.version))
}

async fn rotate_keys<S: Store + 'static>(
    State(api): State<Api<S>>,
    axum::Extension(caller): axum::Extension<Caller>,
    uri: Uri,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let asked: RotateKeysRequest = parse(&body, true)?;
    let request = caller.change(&api, &uri)?;
    let store_id = caller.store_id;
    let lock = api.writers.of(&store_id);
    let _turn = lock.lock().await;
    let rotated = blocking(&api, move |s| s.rotate_keys(&store_id, &asked, &request)).await?;
    let new_keys = rotated
        .rotation
        .new_keys()
        .iter()
        .map(|(old, new)| NewKey {
            id: new.id(),
            replaces: old,
            key: new.expose_secret(),
        })
        .collect();
    let body = RotateKeysBody {
        response: rotated.response(),
        new_keys,
    };
    let mut response = json(StatusCode::OK, &body, Some(rotated.committed.version))?;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The spec's rotation response, plus each new key's text: shown once, here, since the caller
/// has no other way to learn it.
#[derive(Serialize)]
struct RotateKeysBody<'a> {
    #[serde(flatten)]
    response: RotateKeysResponse,
    new_keys: Vec<NewKey<'a>>,
}

#[derive(Serialize)]
struct NewKey<'a> {
    id: &'a KeyId,
    replaces: &'a KeyId,
    key: &'a str,
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no endpoint at `{}`", crate::quote::shorten(uri.path())),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "the endpoint does not accept this method",
    )
}

/// A request body, or the API's answer when it is over the limit or unreadable.
struct JsonBody(Bytes);

impl<St: Send + Sync> FromRequest<St> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request<Body>, state: &St) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(JsonBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        "the request body is larger than the server accepts",
                    )
                } else {
                    ApiError::new(ErrorCode::MalformedJson, rejection.body_text())
                }
            })
    }
}

/// Reads a JSON body into `T`, naming the field at fault; an empty body reads as `{}` when
/// `empty_is_object`.
fn parse<T: DeserializeOwned>(body: &[u8], empty_is_object: bool) -> Result<T, ApiError> {
    let body = if empty_is_object && body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    // Read as strictly as a settings file: a repeated key is refused, whichever copy a proxy
    // or a reviewer would have believed.
    let value = crate::settings::json::parse(utf8(body)?).map_err(ApiError::from)?;
    serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::from(SettingsError::from_path_error("", &e)))
}

/// The request body as text.
fn utf8(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!(
                "the request body is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// The version an `If-Match` header names: `"N"` or `N`; `None` without the header. Two
/// `If-Match` headers are refused: which one counts would be a guess.
fn if_match(headers: &HeaderMap) -> Result<Option<Version>, ApiError> {
    let mut values = headers.get_all(IF_MATCH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidHeader,
            "send at most one `If-Match` header",
        )
        .with_field("If-Match", "repeated"));
    }
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidHeader,
            "If-Match must name one settings version, as the ETag gives it: \"3\"",
        )
        .with_field("If-Match", "expected a version such as \"3\"")
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse()
        .map(|n| Some(Version::new(n)))
        .map_err(|_| invalid())
}

fn force(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|pair| pair == "force=true"))
}

fn etag(version: Version) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn json<T: Serialize>(
    status: StatusCode,
    body: &T,
    version: Option<Version>,
) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(&e))?;
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(v) = version {
        headers.insert(ETAG, etag(v));
    }
    Ok(response)
}

/// Runs a service call on the blocking pool.
async fn blocking<S: Store + 'static, T: Send + 'static>(
    api: &Api<S>,
    call: impl FnOnce(&SecurityService<S>) -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ApiError> {
    let service = Arc::clone(&api.service);
    tokio::task::spawn_blocking(move || call(&service))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(ApiError::from)
}

/// How many times a change without `If-Match` is re-applied after losing a race.
const WRITE_ATTEMPTS: usize = 16;

/// Runs a change on the blocking pool at version `expected`, or, without one, at the current
/// version, re-reading and re-applying it when a change from elsewhere commits first. Changes
/// to one store through this API instance wait for each other.
async fn write<S: Store + 'static, T: Send + 'static>(
    api: &Api<S>,
    store_id: &StoreId,
    expected: Option<Version>,
    change: impl Fn(&SecurityService<S>, &StoreId, Version) -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ApiError> {
    // Changes to one store through this instance run one at a time, so they never race each
    // other; only a change committed elsewhere (another process) can still cost a retry.
    let lock = api.writers.of(store_id);
    let _turn = lock.lock().await;
    let store_id = store_id.clone();
    blocking(api, move |s| {
        if let Some(v) = expected {
            return change(s, &store_id, v);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = s.settings(&store_id)?.version;
            match change(s, &store_id, current) {
                Err(ServiceError::Store(StoreError::Conflict { .. }))
                    if attempt < WRITE_ATTEMPTS => {}
                other => return other,
            }
        }
    })
    .await
}
