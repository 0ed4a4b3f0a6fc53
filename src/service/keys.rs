//! API keys through the service: issue, verify (the hot path of API authentication), revoke,
//! rotate now, and scheduled rotation.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ChangeRequest, SecurityService, ServiceError};
use crate::SecuritySettings;
use crate::api_keys::{
    ApiKey, ApiKeyError, Environment, KeyRing, KeySeed, PresentedKey, RotateKeysRequest,
    RotateKeysResponse, Rotation, RotationPlan, SEED_LEN, ScheduleBasis, ScheduledRotation,
    StoredKey, Verified, plan_rotation, plan_scheduled_rotation,
};
use crate::audit::{AuditAction, AuditRecord, FieldChange};
use crate::id::{KeyId, StoreId};
use crate::settings::record_rotation;
use crate::store::{Committed, KeyChanges, Store, StoreError, Versioned};

impl<S: Store> SecurityService<S> {
    /// Issues a new key for `store_id` (to bootstrap a store, or add an integration), audited
    /// as [`AuditAction::IssueKey`] without key text or digest. The returned key is the only
    /// time its text exists: show [`ApiKey::expose_secret`] once and drop it.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when the store has no settings; [`ServiceError::Entropy`] when
    /// the random source fails; storage failures.
    pub fn issue_key(
        &self,
        store_id: &StoreId,
        environment: Environment,
        request: &ChangeRequest,
    ) -> Result<ApiKey, ServiceError> {
        self.settings(store_id)?;
        let key = ApiKey::from_seed(environment, self.seed()?);
        let record = StoredKey::new(&key, store_id.clone(), request.now);
        let audit = AuditRecord {
            actor: request.actor.clone(),
            at: request.now,
            action: AuditAction::IssueKey,
            changes: vec![FieldChange {
                path: format!("api_keys.{}", record.id()),
                old: Value::Null,
                new: key_summary(&record),
            }],
        };
        self.store.insert_key(&record, &audit)?;
        Ok(key)
    }

    /// Checks a presented key at `now`: the hot path of API authentication.
    ///
    /// One digest of the text, one indexed lookup, a constant-time comparison of the whole
    /// digest. The key's store is [`VerifiedKey::store_id`]; check it against the store the
    /// request addresses.
    ///
    /// Fail closed: every `Err` is a refusal.
    ///
    /// SHORTCOMING: every call reads the store (no key cache, so a revocation holds at once).
    /// [`SqliteStore`] holds one connection behind a mutex, so concurrent verifications on it
    /// run one at a time (about 3 µs each here); a pool of read connections, or a
    /// revocation-aware cache, would lift that.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Key`] with [`ApiKeyError::UnknownPrefix`], [`ApiKeyError::Length`] or
    /// [`ApiKeyError::Alphabet`] (not a key), [`ApiKeyError::Unknown`], [`ApiKeyError::Expired`]
    /// (at the expiry instant itself) or [`ApiKeyError::Revoked`]; storage failures.
    ///
    #[cfg_attr(feature = "sqlite", doc = "[`SqliteStore`]: crate::store::SqliteStore")]
    #[cfg_attr(not(feature = "sqlite"), doc = "[`SqliteStore`]: crate#feature-flags")]
    pub fn verify_key(
        &self,
        presented: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedKey, ServiceError> {
        let presented = PresentedKey::parse(presented)?;
        let key = self
            .store
            .key_by_digest(&presented.digest())?
            .ok_or(ApiKeyError::Unknown)?;
        let expires_at = key.usable_at(now)?;
        Ok(VerifiedKey { key, expires_at })
    }

    /// The key records of `store_id`, oldest first (no key text or digest is kept to show).
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn keys(&self, store_id: &StoreId) -> Result<Vec<StoredKey>, ServiceError> {
        Ok(self.store.keys_of(store_id)?)
    }

    /// Revokes key `key_id` of `store_id` now; audited as [`AuditAction::RevokeKey`].
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyNotFound`]; storage failures.
    pub fn revoke_key(
        &self,
        store_id: &StoreId,
        key_id: &KeyId,
        request: &ChangeRequest,
    ) -> Result<u64, ServiceError> {
        let audit = AuditRecord {
            actor: request.actor.clone(),
            at: request.now,
            action: AuditAction::RevokeKey,
            changes: vec![FieldChange {
                path: format!("api_keys.{key_id}.revoked_at"),
                old: Value::Null,
                new: json!(crate::time::format(request.now)),
            }],
        };
        Ok(self
            .store
            .revoke_key(store_id, key_id, request.now, &audit)?)
    }

    /// Rotates every active key of `store_id` now (the spec's `POST .../rotate-keys`).
    ///
    /// Each active key gets a successor; the old ones stay valid for the request's grace (the
    /// policy's by default) or are revoked at once when `compromised`. Keys still in the grace
    /// of an earlier rotation have it cut short, so at most two generations are valid. The
    /// successors, the old keys' expiry, the policy's `last_rotation`/`next_rotation` and the
    /// audit record ([`AuditAction::RotateKeys`], key ids and instants only) commit in one
    /// transaction. A concurrent change (another rotation, a settings edit) makes the service
    /// plan again on fresh records, up to [`Self::ROTATION_ATTEMPTS`] times.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Key`] with [`ApiKeyError::NothingToRotate`] when no key is active, or
    /// [`ApiKeyError::GraceForCompromisedKey`]; [`StoreError::NotFound`];
    /// [`ServiceError::Entropy`]; [`StoreError::Conflict`] or [`StoreError::KeyChanged`] when
    /// every attempt raced another change; storage failures.
    pub fn rotate_keys(
        &self,
        store_id: &StoreId,
        rotate: &RotateKeysRequest,
        request: &ChangeRequest,
    ) -> Result<KeysRotated, ServiceError> {
        let outcome = self.rotate_with(store_id, request, |settings, ring, at| {
            let mode = rotate.mode(settings.api_key_rotation())?;
            Ok(Ok(plan_rotation(
                store_id,
                ring.keys_of(store_id),
                mode,
                at,
            )?))
        })?;
        outcome.map_err(|_| {
            ServiceError::Key(ApiKeyError::NothingToRotate {
                store_id: store_id.clone(),
            })
        })
    }

    /// Runs the scheduled rotation of every store whose policy makes one due at the request's
    /// `now`, with the policy's grace; audited as [`AuditAction::RotateKeys`] by the request's
    /// actor (a system user).
    ///
    /// Idempotent: the planner counts a rotation from the newest successor key as well as from
    /// `last_rotation`, so a second run at the same instant (or one after a crash between runs)
    /// rotates nothing. One store's failure does not stop the others: each store has its own
    /// outcome.
    ///
    /// # Errors
    ///
    /// Storage failures while listing the stores.
    pub fn run_scheduled_rotations(
        &self,
        request: &ChangeRequest,
    ) -> Result<Vec<ScheduledRun>, ServiceError> {
        let runs = self
            .store
            .store_ids()?
            .into_iter()
            .map(|store_id| {
                let outcome = self.rotate_with(&store_id, request, |settings, ring, at| {
                    let policy = settings.api_key_rotation();
                    Ok(
                        match plan_scheduled_rotation(
                            policy,
                            &store_id,
                            ring.keys_of(&store_id),
                            at,
                        )? {
                            ScheduledRotation::Rotate { plan, .. } => Ok(plan),
                            ScheduledRotation::Wait {
                                next_rotation,
                                basis,
                            } => Err(Scheduled::Wait {
                                next_rotation,
                                basis,
                            }),
                            ScheduledRotation::Disabled => Err(Scheduled::Disabled),
                            ScheduledRotation::NoActiveKeys => Err(Scheduled::NoActiveKeys),
                        },
                    )
                });
                let outcome = match outcome {
                    Ok(Ok(rotated)) => Ok(Scheduled::Rotated(rotated)),
                    Ok(Err(skipped)) => Ok(skipped),
                    Err(e) => Err(e),
                };
                ScheduledRun { store_id, outcome }
            })
            .collect();
        Ok(runs)
    }

    /// Reads, plans with `decide`, applies the plan to a copy of the keys, and commits the
    /// difference with the settings' rotation dates; replans on a race.
    ///
    /// The rotation instant is the request's `now`, or the newest key's creation when that is
    /// later (a server whose clock is behind another's): a rotation never dates a key's expiry
    /// before the key existed.
    fn rotate_with(
        &self,
        store_id: &StoreId,
        request: &ChangeRequest,
        mut decide: impl FnMut(
            &SecuritySettings,
            &KeyRing,
            DateTime<Utc>,
        ) -> Result<Result<RotationPlan, Scheduled>, ServiceError>,
    ) -> Result<Result<KeysRotated, Scheduled>, ServiceError> {
        let mut attempt = 1;
        loop {
            let settings = self.settings(store_id)?;
            let keys = self.store.keys_of(store_id)?;
            let mut ring = KeyRing::new();
            for key in &keys {
                ring.insert(key.clone())?;
            }
            let at = keys
                .iter()
                .map(StoredKey::created_at)
                .fold(request.now, DateTime::max);
            let plan = match decide(&settings.value, &ring, at)? {
                Ok(plan) => plan,
                Err(skipped) => return Ok(Err(skipped)),
            };
            match self.commit_plan(&settings, &keys, ring, &plan, request) {
                Err(ServiceError::Store(
                    StoreError::Conflict { .. } | StoreError::KeyChanged { .. },
                )) if attempt < Self::ROTATION_ATTEMPTS => attempt += 1,
                other => return other.map(Ok),
            }
        }
    }

    fn commit_plan(
        &self,
        settings: &Versioned<SecuritySettings>,
        keys: &[StoredKey],
        mut ring: KeyRing,
        plan: &RotationPlan,
        request: &ChangeRequest,
    ) -> Result<KeysRotated, ServiceError> {
        let store_id = settings.value.store_id();
        // Draw every seed first: the OS source can fail, the planner's seed callback cannot.
        let mut seeds = Vec::with_capacity(plan.rotate().len());
        for _ in plan.rotate() {
            seeds.push(self.seed()?);
        }
        let mut short = false;
        let rotation = ring.apply_rotation(plan, || {
            seeds.pop().unwrap_or_else(|| {
                short = true;
                KeySeed::from_bytes([0; SEED_LEN])
            })
        })?;
        if short {
            // INVARIANT: apply_rotation draws at most one seed per planned key; reaching here
            // means it drew more, and a key from the all-zero seed must never be stored.
            return Err(StoreError::Backend {
                detail: "the rotation asked for more seeds than it planned".into(),
            }
            .into());
        }
        let changes = KeyChanges::between(store_id, keys, ring.keys_of(store_id));
        let mut applied = record_rotation(&settings.value, plan.rotated_at(), &request.actor)
            .map_err(ServiceError::Rejected)?;
        applied.audit.changes.extend(key_changes(&changes));
        let committed = self.store.commit_rotation(
            &changes,
            settings.version,
            &applied.settings,
            &applied.audit,
        )?;
        self.cache
            .publish(store_id, applied.settings.ip_allowlist(), committed.version);
        Ok(KeysRotated {
            rotation,
            committed,
        })
    }

    fn seed(&self) -> Result<KeySeed, ServiceError> {
        let mut bytes = zeroize::Zeroizing::new([0_u8; SEED_LEN]);
        self.entropy.0.fill(bytes.as_mut())?;
        Ok(KeySeed::from_bytes(*bytes))
    }
}

/// A presented key that passed [`SecurityService::verify_key`]: its record, and the end of its
/// grace period if it was rotated.
#[derive(Clone, Debug)]
pub struct VerifiedKey {
    key: StoredKey,
    expires_at: Option<DateTime<Utc>>,
}

impl VerifiedKey {
    /// The decision in the API key module's terms.
    pub fn verified(&self) -> Verified<'_> {
        match self.expires_at {
            None => Verified::Valid { key: &self.key },
            Some(expires_at) => Verified::InGrace {
                key: &self.key,
                expires_at,
            },
        }
    }

    /// The key's record.
    #[must_use]
    pub fn key(&self) -> &StoredKey {
        &self.key
    }

    /// The store the key belongs to.
    #[must_use]
    pub fn store_id(&self) -> &StoreId {
        self.key.store_id()
    }

    /// When the key stops working, if it was rotated and is in its grace period; tell the
    /// client to switch (for instance in a response header).
    #[must_use]
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
}

/// A committed rotation: the new keys (their text, to deliver once) and the write.
#[derive(Debug)]
pub struct KeysRotated {
    /// The rotation; [`Rotation::new_keys`] holds each replaced key's id with its successor.
    pub rotation: Rotation,
    /// The settings version and audit sequence number the rotation committed.
    pub committed: Committed,
}

impl KeysRotated {
    /// The spec's response body.
    pub fn response(&self) -> RotateKeysResponse {
        self.rotation.response()
    }
}

/// One store's scheduled rotation, from [`SecurityService::run_scheduled_rotations`].
#[derive(Debug)]
pub struct ScheduledRun {
    /// The store.
    pub store_id: StoreId,
    /// What happened, or why it could not run.
    pub outcome: Result<Scheduled, ServiceError>,
}

/// What a scheduled run did for one store.
#[derive(Debug)]
pub enum Scheduled {
    /// Keys were rotated.
    Rotated(KeysRotated),
    /// Not due yet.
    Wait {
        /// When it will be due.
        next_rotation: DateTime<Utc>,
        /// What the schedule counts from.
        basis: ScheduleBasis,
    },
    /// The store's policy does not rotate on a schedule.
    Disabled,
    /// The store has no active key to rotate.
    NoActiveKeys,
}

/// The audit lines of a rotation's key writes: ids, environments and instants; never key
/// text, digest or display prefix.
fn key_changes(changes: &KeyChanges) -> Vec<FieldChange> {
    let time = |t: Option<DateTime<Utc>>| t.map_or(Value::Null, |t| json!(crate::time::format(t)));
    let mut out = Vec::new();
    for update in changes.updated() {
        let (before, after) = (update.before(), update.after());
        let id = after.id();
        if before.expires_at() != after.expires_at() {
            out.push(FieldChange {
                path: format!("api_keys.{id}.expires_at"),
                old: time(before.expires_at()),
                new: time(after.expires_at()),
            });
        }
        if before.revoked_at() != after.revoked_at() {
            out.push(FieldChange {
                path: format!("api_keys.{id}.revoked_at"),
                old: time(before.revoked_at()),
                new: time(after.revoked_at()),
            });
        }
    }
    for key in changes.created() {
        out.push(FieldChange {
            path: format!("api_keys.{}", key.id()),
            old: Value::Null,
            new: key_summary(key),
        });
    }
    out
}

fn key_summary(key: &StoredKey) -> Value {
    let mut value = json!({
        "environment": key.environment(),
        "created_at": crate::time::format(key.created_at()),
    });
    if let (Some(predecessor), Value::Object(map)) = (key.predecessor(), &mut value) {
        map.insert("predecessor".into(), json!(predecessor.as_str()));
    }
    value
}
