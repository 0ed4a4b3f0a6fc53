//! The service: the spec's operations on a store, with the hot `check_ip` served from memory.
//!
//! [`SecurityService`] ties the pure core to a [`Store`]. Every change follows one path:
//!
//! 1. read the settings and their version, and refuse at once if the caller's version is stale;
//! 2. compute the new settings and the audit record with the pure functions of
//!    [`crate::settings`] (the same ones [`SecurityService::preview`] runs);
//! 3. the lockout guard: a change that would deny the calling client's own address is refused
//!    unless forced ([`ChangeRequest::force`]);
//! 4. write the settings and append the audit record in one transaction, naming the version
//!    read, so a concurrent change turns into [`StoreError::Conflict`], never a lost update;
//! 5. swap the cached allowlist of the store, so this instance's next `check_ip` sees it.
//!
//! # Using it from async code
//!
//! The store traits are synchronous. From a tokio service, run calls that may touch the store
//! on the blocking pool; [`SecurityService::check_ip`] on a warm cache touches no store and
//! needs no such care.
//!
//! ```
//! use std::sync::Arc;
//! use whale_security::id::{StoreId, UserId};
//! use whale_security::service::{ChangeRequest, SecurityService};
//! use whale_security::settings::SettingsUpdate;
//! use whale_security::store::{MemoryStore, Version};
//! use whale_security::{SecuritySettings, time};
//!
//! let service = Arc::new(SecurityService::new(MemoryStore::new()));
//! let store_id = StoreId::new("store_a1")?;
//! let admin = UserId::new("user_admin")?;
//! let now = time::parse("2026-03-10T10:00:00Z")?;
//! service.create_settings(
//!     SecuritySettings::new(store_id.clone(), admin.clone(), now),
//!     &ChangeRequest::new(admin.clone(), now),
//! )?;
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! let updated = runtime.block_on(async {
//!     let service = Arc::clone(&service);
//!     let update = SettingsUpdate::from_json(r#"{"session_policy": {"timeout_minutes": 60}}"#)?;
//!     let request = ChangeRequest::new(admin, now);
//!     tokio::task::spawn_blocking(move || {
//!         service.update(&store_id, Version::FIRST, &update, &request)
//!     })
//!     .await?
//!     .map_err(Box::<dyn std::error::Error + Send + Sync>::from)
//! })?;
//! assert_eq!(updated.version, Version::new(2));
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

mod cache;
mod entropy;
mod keys;
mod preview;
mod sessions;
mod team;

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::Guard;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value};

use self::cache::{Cache, Snapshot};
use self::entropy::Source;
pub use self::entropy::{Entropy, EntropyError, OsEntropy};
pub use self::keys::{KeysRotated, Scheduled, ScheduledRun, VerifiedKey};
pub use self::preview::{KeysDue, MemberImpact, SessionEnding};
pub use self::sessions::SignIn;
pub use self::team::Compliance;
use crate::SecuritySettings;
use crate::allowlist::{
    AllowlistEntry, IpAllowlist, IpDecision, LockoutPolicy, Surface, check_ip, guard_lockout,
};
use crate::api_keys::{ApiKeyError, ApiKeyRotationPolicy};
use crate::audit::{self, AuditAction, AuditRecord, FieldChange};
use crate::id::{EntryId, StoreId, UserId};
use crate::password::{HashParams, PasswordError};
use crate::settings::view::{SettingsView, UpdateResponse};
use crate::settings::{
    Applied, NewEntry, RotationPolicyUpdate, SettingsErrors, SettingsUpdate, add_entry, apply,
    remove_entry,
};
use crate::store::{AuditPage, AuditQuery, Committed, Store, StoreError, Version, Versioned};
use crate::two_factor::PolicyChangeRefusal;
use crate::two_factor::totp::{ThrottlePolicy, TotpError};

/// The spec's operations on one [`Store`], with each store's allowlist cached in memory.
///
/// `check_ip` reads a snapshot swapped atomically (`arc-swap`) when a change commits: readers
/// never block, and a change made through this instance takes effect for its next check.
///
/// # Warning
///
/// A change committed by *another* process or service instance is not seen by this instance's
/// cache until [`SecurityService::refresh`] is called for the store: run it when your platform
/// broadcasts a settings change, or on a timer.
///
/// # Examples
///
/// ```
/// use whale_security::allowlist::{IpDecision, parse_ip};
/// use whale_security::id::{StoreId, UserId};
/// use whale_security::service::{ChangeRequest, SecurityService};
/// use whale_security::settings::SettingsUpdate;
/// use whale_security::store::{MemoryStore, StoreError, Version};
/// use whale_security::{SecuritySettings, Surface, time};
///
/// let service = SecurityService::new(MemoryStore::new());
/// let store = StoreId::new("store_a1")?;
/// let admin = UserId::new("user_admin")?;
/// let now = time::parse("2026-03-10T10:00:00Z")?;
/// let request = ChangeRequest::new(admin.clone(), now);
/// service.create_settings(SecuritySettings::new(store.clone(), admin, now), &request)?;
///
/// let office = parse_ip("203.0.113.9")?;
/// let update = SettingsUpdate::from_json(
///     r#"{"ip_allowlist": {"enabled": true, "entries": [{"cidr": "203.0.113.0/24"}]}}"#,
/// )?;
/// let updated = service.update(&store, Version::FIRST, &update, &request)?;
///
/// // The change is visible to the very next check.
/// let check = service.check_ip(&store, office, Surface::Api, now)?;
/// assert!(matches!(check.decision(), IpDecision::Allow { .. }));
/// assert_eq!(check.version(), updated.version);
/// let check = service.check_ip(&store, parse_ip("198.51.100.7")?, Surface::Api, now)?;
/// assert_eq!(check.decision(), IpDecision::Deny);
///
/// // Writing again from the version read before is a conflict, not a lost update.
/// let stale = service.update(&store, Version::FIRST, &update, &request);
/// assert!(matches!(stale.unwrap_err().store_error(), Some(StoreError::Conflict { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SecurityService<S> {
    store: S,
    cache: Cache,
    entropy: Source,
    throttle: ThrottlePolicy,
    hashing: HashParams,
}

impl<S: Store> SecurityService<S> {
    /// How many times [`SecurityService::rotate_keys`] plans again after losing a race.
    pub const ROTATION_ATTEMPTS: u32 = 3;

    /// How many times [`SecurityService::verify_totp`] re-checks a code after the state moved.
    pub const TOTP_ATTEMPTS: u32 = 16;

    /// How many times [`SecurityService::sign_in`] decides again after the member's sessions
    /// changed.
    pub const SESSION_ATTEMPTS: u32 = 8;

    /// How many recent `check_ip` clients each store remembers for previews, by default.
    pub const DEFAULT_RECENT_CLIENTS: usize = 256;

    /// A service over `store`, remembering the last [`Self::DEFAULT_RECENT_CLIENTS`] clients
    /// checked per store.
    #[must_use]
    pub fn new(store: S) -> Self {
        Self::with_recent_clients(store, Self::DEFAULT_RECENT_CLIENTS)
    }

    /// A service that remembers the last `capacity` clients checked per store, for
    /// [`SecurityService::preview`]; `0` turns the memory off (no lock at all on the hot path).
    #[must_use]
    pub fn with_recent_clients(store: S, capacity: usize) -> Self {
        Self {
            store,
            cache: Cache::new(capacity),
            entropy: Source(Box::new(OsEntropy)),
            throttle: ThrottlePolicy::default(),
            hashing: HashParams::OWASP,
        }
    }

    /// Draws new keys, salts and secrets from `entropy` instead of the operating system (a
    /// seeded source makes tests repeatable; never use one in production).
    #[must_use]
    pub fn with_entropy(mut self, entropy: impl Entropy + 'static) -> Self {
        self.entropy = Source(Box::new(entropy));
        self
    }

    /// The store underneath.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Creates a store's settings, recording every field in the audit log as set.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when the store has settings; storage failures.
    pub fn create_settings(
        &self,
        settings: SecuritySettings,
        request: &ChangeRequest,
    ) -> Result<Committed, ServiceError> {
        let record = AuditRecord {
            actor: request.actor.clone(),
            at: request.now,
            action: AuditAction::CreateSettings,
            changes: audit::diff(&Value::Object(Map::new()), &policy_value(&settings)),
        };
        let committed = self.store.create_settings(&settings, &record)?;
        self.cache.publish(
            settings.store_id(),
            settings.ip_allowlist(),
            committed.version,
        );
        Ok(committed)
    }

    /// The settings of `store_id` and their version.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when the store has no settings; storage failures.
    pub fn settings(
        &self,
        store_id: &StoreId,
    ) -> Result<Versioned<SecuritySettings>, ServiceError> {
        self.store
            .settings(store_id)?
            .ok_or_else(|| not_found(store_id))
    }

    /// The spec's GET response for `store_id`, with its version; the 2FA counts come from the
    /// compliance report over the store's members.
    ///
    /// # Errors
    ///
    /// As [`SecurityService::settings`].
    pub fn view(&self, store_id: &StoreId) -> Result<Versioned<SettingsView>, ServiceError> {
        let settings = self.settings(store_id)?;
        let counts = self.member_counts(&settings.value)?;
        Ok(settings.map(|s| SettingsView::new(&s, &counts)))
    }

    /// Applies `update` (the spec's PUT) to settings read at `expected`.
    ///
    /// An update that changes nothing writes nothing: its result has no `committed` and the
    /// version stays.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Rejected`] when the result would be invalid; [`ServiceError::WouldLockOut`]
    /// when it would deny the calling client; [`StoreError::Conflict`] when the settings are no
    /// longer at `expected`; storage failures.
    pub fn update(
        &self,
        store_id: &StoreId,
        expected: Version,
        update: &SettingsUpdate,
        request: &ChangeRequest,
    ) -> Result<Updated, ServiceError> {
        let (applied, committed, version) =
            self.commit(store_id, expected, request, |current| {
                apply(current, update, &request.actor, request.now)
            })?;
        self.updated(applied, committed, version, update)
    }

    /// The allowlist of `store_id` (the spec's list operation), with the settings' version.
    ///
    /// # Errors
    ///
    /// As [`SecurityService::settings`].
    pub fn allowlist(&self, store_id: &StoreId) -> Result<Versioned<IpAllowlist>, ServiceError> {
        Ok(self.settings(store_id)?.map(|s| s.ip_allowlist().clone()))
    }

    /// Adds one allowlist entry to settings read at `expected`, returning it with its new id.
    ///
    /// # Errors
    ///
    /// As [`SecurityService::update`].
    pub fn add_allowlist_entry(
        &self,
        store_id: &StoreId,
        expected: Version,
        entry: NewEntry,
        request: &ChangeRequest,
    ) -> Result<(AllowlistEntry, Updated), ServiceError> {
        let mut added = None;
        let (applied, committed, version) =
            self.commit(store_id, expected, request, |current| {
                let (applied, entry) = add_entry(current, entry, &request.actor, request.now)?;
                added = Some(entry);
                Ok(applied)
            })?;
        let entry = added.ok_or_else(|| StoreError::Backend {
            detail: "the new entry was not returned".into(),
        })?;
        Ok((
            entry,
            self.updated(applied, committed, version, &allowlist_touched())?,
        ))
    }

    /// Removes the allowlist entry `entry_id` from settings read at `expected`.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Rejected`] with `EntryNotFound` when no entry has that id; otherwise as
    /// [`SecurityService::update`].
    pub fn remove_allowlist_entry(
        &self,
        store_id: &StoreId,
        expected: Version,
        entry_id: &EntryId,
        request: &ChangeRequest,
    ) -> Result<Updated, ServiceError> {
        let (applied, committed, version) =
            self.commit(store_id, expected, request, |current| {
                remove_entry(current, entry_id, &request.actor, request.now)
            })?;
        self.updated(applied, committed, version, &allowlist_touched())
    }

    /// The API key rotation policy of `store_id`, with the settings' version.
    ///
    /// # Errors
    ///
    /// As [`SecurityService::settings`].
    pub fn rotation_policy(
        &self,
        store_id: &StoreId,
    ) -> Result<Versioned<ApiKeyRotationPolicy>, ServiceError> {
        Ok(self
            .settings(store_id)?
            .map(|s| s.api_key_rotation().clone()))
    }

    /// Updates the rotation policy (the spec's PUT rotation-policy) of settings read at
    /// `expected`; audited as [`AuditAction::UpdateRotationPolicy`].
    ///
    /// # Errors
    ///
    /// As [`SecurityService::update`].
    pub fn put_rotation_policy(
        &self,
        store_id: &StoreId,
        expected: Version,
        policy: &RotationPolicyUpdate,
        request: &ChangeRequest,
    ) -> Result<Updated, ServiceError> {
        let update = SettingsUpdate {
            api_key_rotation: Some(policy.clone()),
            ..SettingsUpdate::default()
        };
        let (applied, committed, version) =
            self.commit(store_id, expected, request, |current| {
                let mut applied = apply(current, &update, &request.actor, request.now)?;
                applied.audit.action = AuditAction::UpdateRotationPolicy;
                Ok(applied)
            })?;
        self.updated(applied, committed, version, &update)
    }

    /// Decides whether `ip`, arriving on `surface` at `now`, may reach `store_id`: the hot path.
    ///
    /// Served from the store's cached allowlist without locks; only the first call for a store
    /// (or one after the cache was never filled) reads the store. The decision is
    /// [`IpCheck::decision`].
    ///
    /// Fail closed: an `Err` (no settings, storage failure) must be answered as a denial.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when the store has no settings; storage failures while filling
    /// the cache.
    pub fn check_ip(
        &self,
        store_id: &StoreId,
        ip: IpAddr,
        surface: Surface,
        now: DateTime<Utc>,
    ) -> Result<IpCheck, ServiceError> {
        let client = Client { ip, surface };
        let snapshot = match self.cache.check(store_id, client) {
            Some(snapshot) => snapshot,
            None => {
                self.load(store_id)?;
                self.cache
                    .check(store_id, client)
                    .ok_or_else(|| not_found(store_id))?
            }
        };
        Ok(IpCheck {
            snapshot,
            ip,
            surface,
            now,
        })
    }

    /// Reloads `store_id`'s allowlist into the cache from the store, for changes committed by
    /// other processes; returns the version now cached.
    ///
    /// # Errors
    ///
    /// As [`SecurityService::settings`].
    pub fn refresh(&self, store_id: &StoreId) -> Result<Version, ServiceError> {
        Ok(self.load(store_id)?.version())
    }

    /// The settings version this instance's cache holds for `store_id`, or `None` when it has
    /// not cached the store (no `check_ip`, change or refresh for it yet).
    ///
    /// A propagation loop compares it with the store's version to decide whether to
    /// [`SecurityService::refresh`].
    #[must_use]
    pub fn cached_version(&self, store_id: &StoreId) -> Option<Version> {
        self.cache.version(store_id)
    }

    /// Every store this instance has cached, with the version cached, in no particular order.
    #[must_use]
    pub fn cached_versions(&self) -> Vec<(StoreId, Version)> {
        self.cache.versions()
    }

    /// What `update` would do if applied now, computed by the same pure functions on the stored
    /// settings, without writing anything.
    ///
    /// `clients` are the addresses to test against the new allowlist; `None` takes the clients
    /// this instance recently checked for the store (see
    /// [`SecurityService::with_recent_clients`]).
    ///
    /// # Errors
    ///
    /// [`ServiceError::Rejected`] when the update would be invalid; as
    /// [`SecurityService::settings`].
    pub fn preview(
        &self,
        store_id: &StoreId,
        update: &SettingsUpdate,
        clients: Option<&[Client]>,
        request: &ChangeRequest,
    ) -> Result<Preview, ServiceError> {
        let current = self.settings(store_id)?;
        let applied = apply(&current.value, update, &request.actor, request.now)
            .map_err(ServiceError::Rejected)?;
        let recent;
        let clients = match clients {
            Some(clients) => clients,
            None => {
                recent = self.cache.recent(store_id);
                &recent
            }
        };
        let before = current.value.ip_allowlist();
        let after = applied.settings.ip_allowlist();
        let denied_clients = clients
            .iter()
            .filter(|c| check_ip(after, c.ip, c.surface, request.now) == IpDecision::Deny)
            .map(|c| DeniedClient {
                client: *c,
                denied_before: check_ip(before, c.ip, c.surface, request.now) == IpDecision::Deny,
            })
            .collect();
        let store = &self.store;
        let (before, after) = (&current.value, &applied.settings);
        let members = store.members(store_id)?;
        let sessions = store.sessions(store_id)?;
        let keys = store.keys_of(store_id)?;
        Ok(Preview {
            version: current.version,
            changes: applied.audit.changes,
            locks_out_caller: lockout(before, after, request).is_err(),
            blocks_actor: self.two_factor_guard(before, after, request).is_err(),
            denied_clients,
            members_affected: preview::members_affected(before, after, &members, request.now),
            sessions_ending: preview::sessions_ending(before, after, &sessions, request.now),
            keys_becoming_due: preview::keys_becoming_due(before, after, &keys, request.now),
        })
    }

    /// The clients recently checked against `store_id` by this instance, newest first, without
    /// repeats.
    #[must_use]
    pub fn recent_clients(&self, store_id: &StoreId) -> Vec<Client> {
        self.cache.recent(store_id)
    }

    /// One page of `query`'s audit entries.
    ///
    /// # Errors
    ///
    /// Storage failures and corrupt records.
    pub fn audit(&self, query: &AuditQuery) -> Result<AuditPage, ServiceError> {
        Ok(self.store.audit(query)?)
    }

    /// The result of a committed (or empty) change: the new settings and the spec's response
    /// showing the sections `touched` names.
    fn updated(
        &self,
        applied: Applied,
        committed: Option<Committed>,
        version: Version,
        touched: &SettingsUpdate,
    ) -> Result<Updated, ServiceError> {
        let response = UpdateResponse::new(
            &applied.settings,
            touched,
            &self.member_counts(&applied.settings)?,
        );
        Ok(Updated {
            settings: applied.settings,
            version,
            committed,
            changes: applied.audit.changes,
            response,
        })
    }

    /// The one write path: read, compute, guard, write with the version read, publish.
    fn commit(
        &self,
        store_id: &StoreId,
        expected: Version,
        request: &ChangeRequest,
        change: impl FnOnce(&SecuritySettings) -> Result<Applied, SettingsErrors>,
    ) -> Result<(Applied, Option<Committed>, Version), ServiceError> {
        let current = self.settings(store_id)?;
        if current.version != expected {
            return Err(StoreError::Conflict {
                store_id: store_id.clone(),
                expected,
                found: current.version,
            }
            .into());
        }
        let applied = change(&current.value).map_err(ServiceError::Rejected)?;
        lockout(&current.value, &applied.settings, request)?;
        self.two_factor_guard(&current.value, &applied.settings, request)?;
        if applied.audit.changes.is_empty() {
            return Ok((applied, None, current.version));
        }
        let committed = self
            .store
            .write_settings(expected, &applied.settings, &applied.audit)?;
        self.cache
            .publish(store_id, applied.settings.ip_allowlist(), committed.version);
        Ok((applied, Some(committed), committed.version))
    }

    fn load(&self, store_id: &StoreId) -> Result<Guard<Arc<Snapshot>>, ServiceError> {
        let read = self.settings(store_id)?;
        Ok(self
            .cache
            .publish(store_id, read.value.ip_allowlist(), read.version))
    }
}

/// Who asks for a change, when, and from where.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ChangeRequest {
    actor: UserId,
    now: DateTime<Utc>,
    caller: Option<Client>,
    force: bool,
}

impl ChangeRequest {
    /// A change by `actor` at `now`. `now` is cut to whole milliseconds, the precision every
    /// stored document keeps, so what is stored and what is returned agree.
    #[must_use]
    pub fn new(actor: UserId, now: DateTime<Utc>) -> Self {
        Self {
            actor,
            now: now.trunc_subsecs(3),
            caller: None,
            force: false,
        }
    }

    /// The client the change comes from; turns on the lockout guard, which refuses a change
    /// after which the allowlist would deny this client when it allowed it before.
    #[must_use]
    pub fn from_client(mut self, ip: IpAddr, surface: Surface) -> Self {
        self.caller = Some(Client { ip, surface });
        self
    }

    /// Applies the change even if it locks the calling client out.
    #[must_use]
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Who makes the change.
    #[must_use]
    pub fn actor(&self) -> &UserId {
        &self.actor
    }

    /// When, to the millisecond.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// A client address on a surface.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Client {
    /// The address.
    pub ip: IpAddr,
    /// The surface it arrived on.
    pub surface: Surface,
}

/// The result of a change.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Updated {
    /// The settings after the change.
    pub settings: SecuritySettings,
    /// Their version.
    pub version: Version,
    /// The write, or `None` when the change changed nothing and nothing was written.
    pub committed: Option<Committed>,
    /// Each changed field, as the audit log records it.
    pub changes: Vec<FieldChange>,
    /// The spec's response body.
    pub response: UpdateResponse,
}

/// The answer of [`SecurityService::check_ip`]: the allowlist snapshot it was decided on.
#[must_use]
pub struct IpCheck {
    snapshot: Guard<Arc<Snapshot>>,
    ip: IpAddr,
    surface: Surface,
    now: DateTime<Utc>,
}

impl IpCheck {
    /// The decision: [`crate::check_ip`] on the snapshot taken at the call.
    pub fn decision(&self) -> IpDecision<'_> {
        self.snapshot.decide(self.ip, self.surface, self.now)
    }

    /// The settings version the snapshot belongs to.
    #[must_use]
    pub fn version(&self) -> Version {
        self.snapshot.version()
    }
}

impl std::fmt::Debug for IpCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpCheck")
            .field("ip", &self.ip)
            .field("surface", &self.surface)
            .field("version", &self.version())
            .field("decision", &self.decision())
            .finish()
    }
}

/// What an update would do, from [`SecurityService::preview`], each part computed by its
/// module's pure function on stored data: clients the allowlist would deny, members who would
/// become non-compliant or blocked, live sessions that would end, keys that would become due.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct Preview {
    /// The settings version previewed; pass it to [`SecurityService::update`] to apply exactly
    /// this change (a conflict then means someone changed the settings since).
    pub version: Version,
    /// Each field the update would change, as the audit log would record it.
    pub changes: Vec<FieldChange>,
    /// Whether the lockout guard would refuse the update for the request's client.
    pub locks_out_caller: bool,
    /// Whether the 2FA enforcer guard would refuse the update for the acting member.
    pub blocks_actor: bool,
    /// The tested clients the new allowlist would deny.
    pub denied_clients: Vec<DeniedClient>,
    /// Members whose 2FA status the update would change to a non-compliant one (or from
    /// pending to blocked), at the request's `now`.
    pub members_affected: Vec<MemberImpact>,
    /// Live sessions the new session policy would end at once.
    pub sessions_ending: Vec<SessionEnding>,
    /// Keys a scheduled rotation would rotate at once under the new rotation policy but not
    /// under the current one; `None` when the update makes no rotation newly due.
    pub keys_becoming_due: Option<KeysDue>,
}

/// A client the previewed allowlist would deny.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct DeniedClient {
    /// The client.
    pub client: Client,
    /// Whether the current allowlist denies it too; `false` means the update would cut it off.
    pub denied_before: bool,
}

/// Why a service operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The store failed, or refused the write (a [`StoreError::Conflict`] among them).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change would leave the settings invalid; each error names its field.
    #[error("the change is invalid: {0}")]
    Rejected(SettingsErrors),
    /// An API key was refused (malformed, unknown, expired, revoked) or a key operation could
    /// not be carried out (nothing to rotate, a grace for a compromised key).
    #[error(transparent)]
    Key(#[from] ApiKeyError),
    /// The random source failed; nothing was written.
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    /// The 2FA change would block the member making it (they have no verified factor of a
    /// method the new policy allows); set one up first, or force the change.
    #[error("{}", refusal_text(.0))]
    WouldBlockActor(PolicyChangeRefusal),
    /// The same member appears twice in one write.
    #[error("member `{user_id}` appears more than once")]
    DuplicateMember {
        /// The member.
        user_id: UserId,
    },
    /// A record kept changing under concurrent requests; nothing more was tried.
    #[error("the {what} kept changing under concurrent requests ({attempts} attempts)")]
    Contended {
        /// What kept changing.
        what: &'static str,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A stored TOTP factor cannot be used.
    #[error(transparent)]
    Totp(#[from] TotpError),
    /// A password could not be normalized or hashed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The change would make the allowlist deny the client making it.
    #[error(
        "the change would deny your own address `{ip}` on the {surface} within {} minutes; add it to the allowlist first, or force the change",
        crate::allowlist::LOCKOUT_MARGIN_MINUTES
    )]
    WouldLockOut {
        /// The calling client's address.
        ip: IpAddr,
        /// The surface it called on.
        surface: Surface,
    },
}

impl ServiceError {
    /// The store error inside, if this is one.
    #[must_use]
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// The lockout guard: refuses a change that makes the allowlist deny the calling client when it
/// allowed (or did not apply to) it before. A client the current list already denies is not
/// locked out by the change, so it is let through.
fn lockout(
    before: &SecuritySettings,
    after: &SecuritySettings,
    request: &ChangeRequest,
) -> Result<(), ServiceError> {
    let Some(Client { ip, surface }) = request.caller else {
        return Ok(());
    };
    let policy = if request.force {
        LockoutPolicy::Force
    } else {
        LockoutPolicy::Refuse
    };
    let guard = |s: &SecuritySettings| {
        guard_lockout(
            s.ip_allowlist(),
            ip,
            surface,
            request.now,
            LockoutPolicy::Refuse,
        )
    };
    if guard(before).is_err() {
        return Ok(());
    }
    guard_lockout(after.ip_allowlist(), ip, surface, request.now, policy)
        .map_err(|_| ServiceError::WouldLockOut { ip, surface })
}

fn refusal_text(refusal: &PolicyChangeRefusal) -> String {
    match refusal {
        PolicyChangeRefusal::ActorNotCompliant {
            actor,
            gap,
            methods,
        } => {
            let methods: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
            format!(
                "the change would block `{actor}` ({}): verify a factor of {} first, or force the change",
                gap.as_str(),
                methods.join(" or ")
            )
        }
    }
}

/// The settings as JSON without bookkeeping fields, for the creation audit record.
fn policy_value(settings: &SecuritySettings) -> Value {
    let mut value = serde_json::to_value(settings).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for key in ["object", "store_id", "updated_at", "updated_by"] {
            map.remove(key);
        }
    }
    value
}

fn not_found(store_id: &StoreId) -> ServiceError {
    StoreError::NotFound {
        store_id: store_id.clone(),
    }
    .into()
}

/// An update naming only the allowlist section, so responses to entry changes show the list.
fn allowlist_touched() -> SettingsUpdate {
    SettingsUpdate {
        ip_allowlist: Some(crate::settings::AllowlistUpdate::default()),
        ..SettingsUpdate::default()
    }
}
