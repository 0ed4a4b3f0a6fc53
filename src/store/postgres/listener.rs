//! Propagation: a background thread that applies other instances' settings changes to this
//! instance's cache, by `LISTEN`/`NOTIFY` with a polling fallback.

use std::borrow::Borrow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator as _;

use super::PostgresStore;
use crate::id::StoreId;
use crate::service::SecurityService;
use crate::store::{Store, StoreError, Version};

/// Keeps a [`SecurityService`]'s cache in step with changes committed by other instances on the
/// same PostgreSQL store.
///
/// A thread holds a dedicated connection that `LISTEN`s to the store's channel. Every committed
/// settings change (through any instance, or by hand in `psql`) notifies it with the store id
/// and the new version, and the thread calls [`SecurityService::refresh`] for that store if this
/// instance has it cached at an older version.
///
/// # Propagation bound
///
/// - **Listening** (the normal case): a change reaches this instance's `check_ip` one
///   notification plus one settings read after it commits (single-digit milliseconds on a local
///   network; the test `a_change_through_one_instance_reaches_the_other_by_notify` measures it).
/// - **Always**, as long as the pool reaches the database: every
///   [`ListenerOptions::resync_interval`] (default 10 s) the thread compares every cached version
///   with the database in one query and refreshes the stale ones. This also covers a notification
///   lost to a dropped connection.
/// - **Listener down**: when the dedicated connection breaks, the thread polls every
///   [`ListenerOptions::poll_interval`] (default 1 s) and tries to reconnect at the same pace;
///   once reconnected it resyncs at once. A peer that vanishes without closing the connection is
///   noticed by TCP keepalive within about 11 s (idle 5 s, then 3 probes 2 s apart).
///
/// So a change is visible everywhere within `resync_interval` plus one connect timeout in the
/// worst case, and within milliseconds normally.
///
/// The thread stops when the listener is dropped or [`ChangeListener::stop`] is called (within
/// about 100 ms). It never panics; failures are counted in [`ChangeListener::status`].
pub struct ChangeListener {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl ChangeListener {
    /// Starts the listener thread for `service`, whose store is a [`PostgresStore`] (or an
    /// `Arc` of one).
    ///
    /// It returns at once; the first connection is made on the thread, so an unreachable
    /// database shows in [`ChangeListener::status`], not here.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the thread cannot be started.
    pub fn spawn<S>(
        service: Arc<SecurityService<S>>,
        options: ListenerOptions,
    ) -> Result<Self, StoreError>
    where
        S: Store + Borrow<PostgresStore> + 'static,
    {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            status: Mutex::new(ListenerStatus::default()),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("whale-pg-listener".into())
            .spawn(move || Worker::new(service, thread_shared, options).run())
            .map_err(|e| StoreError::Backend {
                detail: format!("cannot start the listener thread: {e}"),
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// What the listener has done so far.
    #[must_use]
    pub fn status(&self) -> ListenerStatus {
        self.shared.status().clone()
    }

    /// Stops the thread and waits for it (at most about 100 ms plus a call in progress).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A panic in the thread has nothing left to report; the listener is stopped either way.
            let _ = thread.join();
        }
    }
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.halt();
    }
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener")
            .field("status", &self.status())
            .finish()
    }
}

/// Timing of a [`ChangeListener`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use whale_security::store::ListenerOptions;
///
/// let options = ListenerOptions::default()
///     .poll_interval(Duration::from_millis(500))
///     .resync_interval(Duration::from_secs(30));
/// assert_eq!(options.poll_every(), Duration::from_millis(500));
/// // Zero would spin: intervals are at least 10 ms.
/// let zero = ListenerOptions::default().poll_interval(Duration::ZERO);
/// assert_eq!(zero.poll_every(), ListenerOptions::MIN_INTERVAL);
/// ```
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ListenerOptions {
    poll_interval: Duration,
    resync_interval: Duration,
}

impl ListenerOptions {
    /// The shortest interval accepted.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

    /// How often to poll and try to reconnect while the notification connection is down.
    #[must_use]
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every.max(Self::MIN_INTERVAL);
        self
    }

    /// How often to compare every cached version with the database while listening.
    #[must_use]
    pub fn resync_interval(mut self, every: Duration) -> Self {
        self.resync_interval = every.max(Self::MIN_INTERVAL);
        self
    }

    /// The poll interval.
    #[must_use]
    pub fn poll_every(&self) -> Duration {
        self.poll_interval
    }

    /// The resync interval.
    #[must_use]
    pub fn resync_every(&self) -> Duration {
        self.resync_interval
    }
}

impl Default for ListenerOptions {
    /// Poll every second while the notification connection is down; resync every 10 s.
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            resync_interval: Duration::from_secs(10),
        }
    }
}

/// Counters and state of a [`ChangeListener`], for health checks and metrics.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub struct ListenerStatus {
    /// Whether the notification connection is up and listening.
    pub listening: bool,
    /// The server process id of the listening connection while it is up (`pg_backend_pid()`).
    pub backend_pid: Option<i32>,
    /// Successful connects of the notification connection (1 + reconnects).
    pub connects: u64,
    /// Notifications received.
    pub notifications: u64,
    /// Comparisons of every cached version with the database (resyncs and polls).
    pub resyncs: u64,
    /// Stores refreshed because a notification or a comparison showed a newer version.
    pub refreshes: u64,
    /// Failures so far (connects, queries, refreshes).
    pub errors: u64,
    /// The most recent failure.
    pub last_error: Option<StoreError>,
}

struct Shared {
    stop: AtomicBool,
    status: Mutex<ListenerStatus>,
}

impl Shared {
    fn status(&self) -> MutexGuard<'_, ListenerStatus> {
        // The status is plain counters: one left half-written by a panic is still usable.
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn failed(&self, e: StoreError) {
        let mut status = self.status();
        status.errors = status.errors.saturating_add(1);
        status.last_error = Some(e);
    }
}

/// The thread's state.
struct Worker<S> {
    service: Arc<SecurityService<S>>,
    shared: Arc<Shared>,
    options: ListenerOptions,
    channel: String,
}

impl<S: Store + Borrow<PostgresStore>> Worker<S> {
    fn new(
        service: Arc<SecurityService<S>>,
        shared: Arc<Shared>,
        options: ListenerOptions,
    ) -> Self {
        let channel = service.store().borrow().channel();
        Self {
            service,
            shared,
            options,
            channel,
        }
    }

    fn run(self) {
        let mut listener: Option<Client> = None;
        let mut next_connect = Instant::now();
        let mut next_resync = Instant::now();
        while !self.shared.stopped() {
            let now = Instant::now();
            if listener.is_none() && now >= next_connect {
                next_connect = now + self.options.poll_interval;
                if let Some(client) = self.connect() {
                    listener = Some(client);
                    // Changes made while no one listened are found by resyncing at once.
                    next_resync = now;
                }
            }
            let interval = if listener.is_some() {
                self.options.resync_interval
            } else {
                self.options.poll_interval
            };
            if Instant::now() >= next_resync {
                self.resync();
                next_resync = Instant::now() + interval;
            }
            let wait = next_resync
                .saturating_duration_since(Instant::now())
                .min(TICK);
            let Some(client) = listener.as_mut() else {
                std::thread::sleep(wait);
                continue;
            };
            if let Err(e) = self.receive(client, wait) {
                self.shared.failed(e);
                listener = None;
                let mut status = self.shared.status();
                status.listening = false;
                status.backend_pid = None;
                drop(status);
                // Poll at once: a change may have committed while the connection was dying.
                next_resync = Instant::now();
                next_connect = Instant::now();
            }
        }
        let mut status = self.shared.status();
        status.listening = false;
        status.backend_pid = None;
    }

    /// Opens the notification connection and starts listening.
    fn connect(&self) -> Option<Client> {
        let started = self.service.store().borrow().dedicated_connection();
        let listening = started.and_then(|mut client| {
            // INVARIANT: the channel is built from a schema name that passed `check_name`, so
            // it holds no double quote.
            client
                .batch_execute(&format!("LISTEN \"{}\"", self.channel))
                .map_err(super::backend)?;
            let pid: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .and_then(|row| row.try_get(0))
                .map_err(super::backend)?;
            Ok((client, pid))
        });
        match listening {
            Ok((client, pid)) => {
                let mut status = self.shared.status();
                status.listening = true;
                status.backend_pid = Some(pid);
                status.connects = status.connects.saturating_add(1);
                Some(client)
            }
            Err(e) => {
                self.shared.failed(e);
                None
            }
        }
    }

    /// Waits up to `wait` for notifications and applies them; an error means the connection is
    /// gone.
    fn receive(&self, client: &mut Client, wait: Duration) -> Result<(), StoreError> {
        let mut payloads = Vec::new();
        {
            let mut notifications = client.notifications();
            let first = notifications
                .timeout_iter(wait)
                .next()
                .map_err(super::backend)?;
            if let Some(first) = first {
                payloads.push(first.payload().to_owned());
                let mut more = notifications.iter();
                while let Some(next) = more.next().map_err(super::backend)? {
                    payloads.push(next.payload().to_owned());
                }
            }
        }
        if client.is_closed() {
            return Err(StoreError::Backend {
                detail: "the notification connection closed".into(),
            });
        }
        for payload in payloads {
            {
                let mut status = self.shared.status();
                status.notifications = status.notifications.saturating_add(1);
            }
            // A payload this build did not write is ignored; the next resync covers its store.
            if let Some((version, store_id)) = parse_payload(&payload) {
                self.refresh_if_stale(&store_id, version);
            }
        }
        Ok(())
    }

    /// Compares every cached version with the database and refreshes the stale stores.
    fn resync(&self) {
        {
            let mut status = self.shared.status();
            status.resyncs = status.resyncs.saturating_add(1);
        }
        let cached = self.service.cached_versions();
        if cached.is_empty() {
            return;
        }
        let ids: Vec<StoreId> = cached.into_iter().map(|(id, _)| id).collect();
        match self.service.store().borrow().versions(&ids) {
            Ok(current) => {
                for (store_id, version) in current {
                    self.refresh_if_stale(&store_id, version);
                }
            }
            Err(e) => self.shared.failed(e),
        }
    }

    fn refresh_if_stale(&self, store_id: &StoreId, version: Version) {
        // Stores this instance never cached load on their first check; nothing to do.
        let Some(cached) = self.service.cached_version(store_id) else {
            return;
        };
        if cached >= version {
            return;
        }
        match self.service.refresh(store_id) {
            Ok(_) => {
                let mut status = self.shared.status();
                status.refreshes = status.refreshes.saturating_add(1);
            }
            Err(e) => match e {
                crate::service::ServiceError::Store(e) => self.shared.failed(e),
                other => self.shared.failed(StoreError::Backend {
                    detail: other.to_string(),
                }),
            },
        }
    }
}

/// Reads the trigger's `"<version> <store_id>"`.
fn parse_payload(payload: &str) -> Option<(Version, StoreId)> {
    let (version, store_id) = payload.split_once(' ')?;
    let version = version.parse::<u64>().ok().map(Version::new)?;
    Some((version, StoreId::new(store_id).ok()?))
}

/// The longest the thread waits before checking whether it should stop.
const TICK: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back_and_junk_is_ignored() {
        assert_eq!(
            parse_payload("7 store_a"),
            Some((Version::new(7), StoreId::new("store_a").unwrap()))
        );
        for junk in ["", "7", "x store_a", "-1 store_a", "7 ", "7 not an id!"] {
            assert_eq!(parse_payload(junk), None, "{junk}");
        }
    }
}
