//! The allowlist as a tower [`Layer`]: any axum or tower service can enforce a store's IP
//! allowlist by adding it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, Response, Uri};
use futures_util::future::Either;
use std::future::{Ready, ready};
use tower::{Layer, Service};

use super::client_ip::{self, ForwardedHeader, TrustedProxies};
use super::{ApiError, Clock, ErrorCode, SystemClock};
use crate::allowlist::{IpDecision, Surface};
use crate::id::StoreId;
use crate::service::{SecurityService, ServiceError};
use crate::store::{Store, StoreError};

/// The resolved client address of a request, put in its extensions by [`AllowlistLayer`] for
/// the handlers behind it (the API's lockout guard uses it).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ClientAddr(pub IpAddr);

/// Enforces a store's IP allowlist in front of any service.
///
/// For each request it:
/// 1. finds the store: by default the `{store_id}` of a `/v1/stores/{store_id}/...` path;
/// 2. resolves the client address from the socket peer (axum's `ConnectInfo<SocketAddr>`
///    extension) and, when the peer is a trusted proxy, the forwarding header the proxies write
///    (any other peer's forwarding headers are not read at all, whatever bytes they hold);
/// 3. checks it against the store's allowlist on the configured surface through
///    [`SecurityService::check_ip`] (served from memory: lock-free, no store read once the
///    store's allowlist is cached);
/// 4. passes the request on with a [`ClientAddr`] extension, or answers 403 with a JSON error
///    body.
///
/// Fail closed: no peer address, an unreadable forwarding header from a trusted proxy, no store
/// in the request, or a store without settings is a 403; a storage failure is a 500. Neither
/// reaches the inner service. A store without settings gets the very answer a denied address
/// gets, so that addresses outside the allowlists cannot probe which stores exist; a
/// `/v1/stores/{store_id}` path whose id is not a valid store id, or that goes on with a `.`,
/// `..` or empty segment, is a 400 `invalid_path`.
///
/// # Warning
///
/// The first request for a store that is not cached yet reads the store synchronously on the
/// async worker. Warm the cache at start with [`SecurityService::refresh`] (the `serve` command
/// does) when that read may be slow.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, routing::get};
/// use whale_security::Surface;
/// use whale_security::http::AllowlistLayer;
/// use whale_security::service::SecurityService;
/// use whale_security::store::MemoryStore;
///
/// let service = Arc::new(SecurityService::new(MemoryStore::new()));
/// let app: Router = Router::new()
///     .route("/v1/stores/{store_id}/orders", get(|| async { "orders" }))
///     .layer(AllowlistLayer::new(service, Surface::Api));
/// # let _ = app;
/// ```
pub struct AllowlistLayer<S> {
    shared: Arc<Shared<S>>,
}

impl<S: Store + 'static> AllowlistLayer<S> {
    /// Guards `surface` with the allowlists of `service`'s stores, the store taken from the
    /// path, the socket peer taken as the client (no trusted proxies), the system clock.
    #[must_use]
    pub fn new(service: Arc<SecurityService<S>>, surface: Surface) -> Self {
        Self {
            shared: Arc::new(Shared {
                service,
                surface,
                proxies: TrustedProxies::default(),
                clock: Arc::new(SystemClock),
                store: StoreSelector::Path,
            }),
        }
    }

    /// Trusts `proxies`' forwarding header when the peer is one of them.
    #[must_use]
    pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
        self.with(|s| s.proxies = proxies)
    }

    /// Reads `now` from `clock` (entries with an expiry stop matching at it).
    #[must_use]
    pub fn clock(self, clock: Arc<dyn Clock>) -> Self {
        self.with(|s| s.clock = clock)
    }

    /// Guards every request with the allowlist of `store_id`, whatever the path.
    #[must_use]
    pub fn fixed_store(self, store_id: StoreId) -> Self {
        self.with(|s| s.store = StoreSelector::Fixed(store_id))
    }

    /// Finds each request's store with `select`; `None` denies the request.
    #[must_use]
    pub fn store_from(
        self,
        select: impl Fn(&Uri, &HeaderMap) -> Option<StoreId> + Send + Sync + 'static,
    ) -> Self {
        self.with(|s| s.store = StoreSelector::Custom(Arc::new(select)))
    }

    fn with(self, change: impl FnOnce(&mut Shared<S>)) -> Self {
        let mut shared = Shared {
            service: Arc::clone(&self.shared.service),
            surface: self.shared.surface,
            proxies: self.shared.proxies.clone(),
            clock: Arc::clone(&self.shared.clock),
            store: self.shared.store.clone(),
        };
        change(&mut shared);
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> Clone for AllowlistLayer<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for AllowlistLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllowlistLayer")
            .field("surface", &self.shared.surface)
            .field("proxies", &self.shared.proxies)
            .finish_non_exhaustive()
    }
}

impl<S, I> Layer<I> for AllowlistLayer<S> {
    type Service = AllowlistService<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        AllowlistService {
            shared: Arc::clone(&self.shared),
            inner,
        }
    }
}

/// The service [`AllowlistLayer`] wraps around `I`.
pub struct AllowlistService<S, I> {
    shared: Arc<Shared<S>>,
    inner: I,
}

impl<S, I: Clone> Clone for AllowlistService<S, I> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            inner: self.inner.clone(),
        }
    }
}

impl<S, I: fmt::Debug> fmt::Debug for AllowlistService<S, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllowlistService")
            .field("surface", &self.shared.surface)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, I, B, R> Service<Request<B>> for AllowlistService<S, I>
where
    S: Store + 'static,
    I: Service<Request<B>, Response = Response<R>>,
    R: From<String>,
{
    type Response = Response<R>;
    type Error = I::Error;
    type Future = Either<Ready<Result<Response<R>, I::Error>>, I::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match self.shared.admit(&request) {
            Ok(client) => {
                request.extensions_mut().insert(ClientAddr(client));
                Either::Right(self.inner.call(request))
            }
            Err(error) => Either::Left(ready(Ok(deny(&error)))),
        }
    }
}

struct Shared<S> {
    service: Arc<SecurityService<S>>,
    surface: Surface,
    proxies: TrustedProxies,
    clock: Arc<dyn Clock>,
    store: StoreSelector,
}

impl<S: Store> Shared<S> {
    /// The client address when the allowlist lets the request through.
    fn admit<B>(&self, request: &Request<B>) -> Result<IpAddr, ApiError> {
        let client = self.client(request)?;
        let path = request.uri().path();
        if matches!(self.store, StoreSelector::Path)
            && path.strip_prefix("/v1/stores/").is_some_and(|rest| {
                StoreId::new(rest.split('/').next().unwrap_or_default()).is_err() || climbs(rest)
            })
        {
            // Not an id at all: saying so tells nothing about which stores exist.
            return Err(invalid_store_path());
        }
        let store_id = match &self.store {
            StoreSelector::Path => store_in_path(path),
            StoreSelector::Fixed(id) => Some(id.clone()),
            StoreSelector::Custom(select) => select(request.uri(), request.headers()),
        }
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::IpNotAllowed,
                "the request names no store whose allowlist could admit it",
            )
        })?;
        let now = self.clock.now();
        let check = match self.service.check_ip(&store_id, client, self.surface, now) {
            Ok(check) => check,
            Err(ServiceError::Store(StoreError::NotFound { .. })) => {
                return Err(not_allowed(client, self.surface));
            }
            Err(e) => return Err(ApiError::internal(&e)),
        };
        match check.decision() {
            IpDecision::Allow { .. } | IpDecision::NotEnforced { .. } => Ok(client),
            IpDecision::Deny => {
                tracing::info!(%store_id, %client, surface = %self.surface, "denied by the ip allowlist");
                Err(not_allowed(client, self.surface))
            }
        }
    }

    fn client<B>(&self, request: &Request<B>) -> Result<IpAddr, ApiError> {
        let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
            return Err(ApiError::new(
                ErrorCode::ClientIpUnresolved,
                "the connection's peer address is unknown",
            ));
        };
        let peer = peer.ip().to_canonical();
        // Anyone can send a forwarding header: one from a peer that is not a trusted proxy is
        // never read, not even decoded, so its bytes cannot turn an allowed request away.
        if !self.proxies.trusts(peer) {
            return Ok(peer);
        }
        let name = match self.proxies.header() {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        let mut values = Vec::new();
        for value in request.headers().get_all(name) {
            let text = value.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::ClientIpUnresolved,
                    format!("the {name} header is not text"),
                )
                .with_field(name, "not visible ASCII")
            })?;
            values.push(text);
        }
        client_ip::resolve(peer, &values, &self.proxies).map_err(|e| {
            ApiError::new(ErrorCode::ClientIpUnresolved, e.to_string())
                .with_field(name, e.to_string())
        })
    }
}

#[derive(Clone)]
enum StoreSelector {
    Path,
    Fixed(StoreId),
    Custom(Arc<dyn SelectStore>),
}

/// A function finding a request's store.
trait SelectStore: Fn(&Uri, &HeaderMap) -> Option<StoreId> + Send + Sync {}

impl<F: Fn(&Uri, &HeaderMap) -> Option<StoreId> + Send + Sync> SelectStore for F {}

/// The store id of a `/v1/stores/{store_id}` or `/v1/stores/{store_id}/...` path, if valid.
#[must_use]
pub fn store_in_path(path: &str) -> Option<StoreId> {
    let rest = path.strip_prefix("/v1/stores/")?;
    let id = rest.split('/').next()?;
    StoreId::new(id).ok()
}

/// Whether the path after `/v1/stores/` has a `.` or `..` segment (plain or percent-encoded) or
/// an empty one before its end: a service behind the layer that normalizes paths could then
/// serve another store than the one whose allowlist was checked.
fn climbs(rest: &str) -> bool {
    let segments: Vec<&str> = rest.split('/').collect();
    segments.iter().enumerate().any(|(i, segment)| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".." || (segment.is_empty() && i + 1 < segments.len())
    })
}

/// The answer to a `/v1/stores/{store_id}` path whose id is not a valid store id.
pub(super) fn invalid_store_path() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidPath,
        "the store id in the path is not valid",
    )
    .with_field(
        "store_id",
        "expected `store_` and 1 to 64 letters, digits or `_`",
    )
}

fn not_allowed(client: IpAddr, surface: Surface) -> ApiError {
    ApiError::new(
        ErrorCode::IpNotAllowed,
        format!(
            "the store's ip allowlist does not admit `{client}` on the {surface} (a store \
             without settings answers the same, so a denied address cannot tell which stores exist)"
        ),
    )
}

fn deny<R: From<String>>(error: &ApiError) -> Response<R> {
    let mut response = Response::new(R::from(error.to_json()));
    *response.status_mut() = error.status();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}
