//! `whale-security serve (--db FILE | --database-url URL) --listen ADDR [--store ID]`: the REST
//! API over a SQLite database or a PostgreSQL server, until SIGINT or SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use whale_security::SecuritySettings;
use whale_security::allowlist::parse_cidr;
use whale_security::api_keys::Environment;
use whale_security::http::{Api, ApiConfig, TrustedProxies, router, serve, shutdown_signal};
use whale_security::id::{StoreId, UserId};
use whale_security::service::{ChangeRequest, SecurityService};
#[cfg(feature = "postgres")]
use whale_security::store::{ChangeListener, ListenerOptions, PostgresStore};
use whale_security::store::{SqliteStore, Store};

use crate::common::HeaderArg;

#[derive(clap::Args)]
pub struct Args {
    /// The SQLite database file; created with the store's settings when missing.
    #[arg(long, required_unless_present = "database_url")]
    db: Option<PathBuf>,
    /// A PostgreSQL URL (`postgres://user@host:port/db`) instead of `--db`: for a fleet of
    /// instances sharing one database. Changes made through any instance reach this one by
    /// LISTEN/NOTIFY, with polling as the fallback.
    #[cfg(feature = "postgres")]
    #[arg(long, conflicts_with = "db")]
    database_url: Option<String>,
    /// A PostgreSQL URL instead of `--db` (needs the cargo feature `postgres`; not in this
    /// build).
    #[cfg(not(feature = "postgres"))]
    #[arg(long, conflicts_with = "db", value_name = "URL")]
    database_url: Option<String>,
    /// The address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A store to serve beside every other store of the database. On first start (an empty
    /// database) its settings are created with secure defaults and its first API key is
    /// printed, once. Needed on first start.
    #[arg(long)]
    store: Option<String>,
    /// Create --store, as on first start, even though the database already holds other stores
    /// (without it, a --store the database does not hold is refused, so a mistyped id does not
    /// create a store).
    #[arg(long, requires = "store")]
    create_store: bool,
    /// A proxy network whose forwarding header is believed (repeatable); none by default.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<String>,
    /// The header the trusted proxies write (its name in any case).
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "x-forwarded-for"
    )]
    forwarded_header: HeaderArg,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = ApiConfig::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// With `--db`: how often, in seconds, to reread the settings of every store, so changes
    /// made by other processes on the same file (`settings update`, another `serve`) take
    /// effect; 0 turns it off. Changes made through this server take effect at once anyway.
    #[arg(long, default_value_t = 2)]
    refresh_seconds: u64,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    #[cfg(not(feature = "postgres"))]
    if args.database_url.is_some() {
        return Err(crate::common::not_built(
            "`serve --database-url`",
            &[("http", true), ("sqlite", true), ("postgres", false)],
        ));
    }
    init_logs();
    #[cfg(feature = "postgres")]
    if let Some(url) = &args.database_url {
        let store = PostgresStore::connect(url).map_err(|e| e.to_string())?;
        let service = Arc::new(SecurityService::new(store));
        let _listener = ChangeListener::spawn(Arc::clone(&service), ListenerOptions::default())
            .map_err(|e| e.to_string())?;
        return serve_with(service, args);
    }
    let db = args
        .db
        .as_ref()
        .ok_or("--db FILE (or --database-url URL) is required")?;
    if args.store.is_none() && !db.exists() {
        // Checked before opening, which would create the file.
        return Err(format!(
            "{} does not exist; name the store to create with --store store_...",
            db.display()
        ));
    }
    let store = SqliteStore::open(db).map_err(|e| e.to_string())?;
    let service = Arc::new(SecurityService::new(store));
    if args.refresh_seconds > 0 {
        spawn_refresher(
            Arc::clone(&service),
            Duration::from_secs(args.refresh_seconds),
        );
    }
    serve_with(service, args)
}

/// Rereads every store's settings each `interval`, so a change committed by another process on
/// the same database reaches this server's allowlist cache within one interval. A store whose
/// version did not move is left as it is.
fn spawn_refresher<S: Store + 'static>(service: Arc<SecurityService<S>>, interval: Duration) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(interval);
            let stores = match service.store().store_ids() {
                Ok(stores) => stores,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list stores to refresh");
                    continue;
                }
            };
            for store_id in &stores {
                let before = service.cached_version(store_id);
                match service.refresh(store_id) {
                    Ok(version) if before != Some(version) => {
                        tracing::info!(store = %store_id, %version, "settings changed elsewhere; refreshed");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(store = %store_id, error = %e, "cannot refresh"),
                }
            }
        }
    });
}

/// Serves `service` until SIGINT or SIGTERM.
fn serve_with<S: Store + 'static>(
    service: Arc<SecurityService<S>>,
    args: &Args,
) -> Result<ExitCode, String> {
    let proxies = args
        .trusted_proxies
        .iter()
        .map(|text| parse_cidr(text).map_err(|e| format!("--trusted-proxy: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let header = args.forwarded_header.into();
    let stores = bootstrap(&service, args.store.as_deref(), args.create_store)?;
    for store_id in &stores {
        // Fill the allowlist cache now, so no request waits for the database to fill it.
        service.refresh(store_id).map_err(|e| e.to_string())?;
    }

    let config = ApiConfig {
        body_limit: args.body_limit,
        trusted_proxies: TrustedProxies::new(proxies, header),
    };
    let app = router(Api::new(service).with_config(config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // Before the announcement: a SIGTERM sent as soon as it is read must find the handler.
        let shutdown = shutdown_signal();
        outln!("listening on http://{addr}");
        flush();
        tracing::info!(%addr, stores = stores.len(), "serving");
        serve(listener, app, shutdown)
            .await
            .map_err(|e| format!("server failed: {e}"))
    })?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The stores to serve: every store in the database, plus `--store` created with its first key
/// when it is new and the database holds no other store (or `create` says to).
fn bootstrap<S: Store>(
    service: &SecurityService<S>,
    store: Option<&str>,
    create: bool,
) -> Result<Vec<StoreId>, String> {
    let mut stores = service.store().store_ids().map_err(|e| e.to_string())?;
    let Some(text) = store else {
        if stores.is_empty() {
            return Err(
                "the database holds no store; name the one to create with --store store_...".into(),
            );
        }
        return Ok(stores);
    };
    let store_id = StoreId::new(text).map_err(|e| format!("--store: {e}"))?;
    if stores.contains(&store_id) {
        return Ok(stores);
    }
    if !stores.is_empty() && !create {
        let held: Vec<String> = stores.iter().take(5).map(ToString::to_string).collect();
        return Err(format!(
            "the database holds no store `{store_id}` (it holds {}{}); to create it, add \
             --create-store",
            held.join(", "),
            if stores.len() > held.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }
    let now = chrono::Utc::now();
    let actor = UserId::new("user_bootstrap").map_err(|e| e.to_string())?;
    let request = ChangeRequest::new(actor.clone(), now);
    service
        .create_settings(
            SecuritySettings::new(store_id.clone(), actor, now),
            &request,
        )
        .map_err(|e| e.to_string())?;
    let key = service
        .issue_key(&store_id, Environment::Live, &request)
        .map_err(|e| e.to_string())?;
    // The key's text goes to standard output once and nowhere else: never to the log.
    outln!("created store {store_id}");
    outln!("api key (shown once, keep it now): {}", key.expose_secret());
    flush();
    stores.push(store_id);
    Ok(stores)
}

/// Request logs on standard error, filtered by `RUST_LOG` (default `info`).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn flush() {
    let _ = std::io::stdout().flush();
}
