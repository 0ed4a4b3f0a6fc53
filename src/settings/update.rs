//! Partial updates (the REST API's PUT body) and the pure function that applies them.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{SecuritySettings, SettingsError, SettingsErrors};
use crate::allowlist::{AllowlistEntry, Cidr, IpAllowlist, Label, Surface};
use crate::api_keys::{ApiKeyRotationPolicy, IntervalDays, RotationGraceHours};
use crate::audit::{self, AuditAction, AuditRecord};
use crate::id::{EntryId, UserId};
use crate::password::{MaxAgeDays, MinLength, MinStrength, PreventReuse};
use crate::session::{MaxSessions, OnSessionLimit, ReauthWindowMinutes, TimeoutMinutes};
use crate::set::NonEmptySet;
use crate::time::{checked_add_days, checked_add_hours, writable};
use crate::two_factor::{GraceHours, Method, TwoFactorPolicy};

/// A partial update of the settings: every section optional, every field in a section optional.
///
/// A field that is absent keeps its value. For the optional extension fields (such as
/// `max_age_days` or `idle_timeout_minutes`), `null` clears the value. Unknown fields are errors.
///
/// # Examples
///
/// ```
/// use whale_security::settings::SettingsUpdate;
///
/// let update = SettingsUpdate::from_json(r#"{"password_policy": {"min_length": 14}}"#)?;
/// assert!(update.password_policy.is_some());
///
/// let typo = SettingsUpdate::from_json(r#"{"password_policy": {"require_upercase": false}}"#);
/// assert_eq!(typo.unwrap_err().as_slice()[0].path(), "password_policy.require_upercase");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// Changes to the 2FA policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactorUpdate>,
    /// Changes to the IP allowlist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<AllowlistUpdate>,
    /// Changes to the session policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<SessionPolicyUpdate>,
    /// Changes to the password policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicyUpdate>,
    /// Changes to the key rotation policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_rotation: Option<RotationPolicyUpdate>,
}

impl SettingsUpdate {
    /// Reads an update from JSON.
    ///
    /// # Errors
    ///
    /// Every bad field, each [`SettingsError`] with its path, in the order of the paths: each
    /// field of each section is read on its own once the whole update has failed, so one bad
    /// field does not hide another. A syntax error (with its line and column) or a key repeated
    /// within one object ([`SettingsError::DuplicateField`]) is the only error reported.
    pub fn from_json(text: &str) -> Result<Self, SettingsErrors> {
        let value = super::json::parse(text)?;
        let first = match serde_path_to_error::deserialize(value.clone()) {
            Ok(update) => return Ok(update),
            Err(e) => SettingsError::from_path_error("", &e),
        };
        let mut errors = Vec::new();
        // Each error once, found in constant time: a body of thousands of bad keys stays linear.
        let mut seen = HashSet::new();
        if let Value::Object(sections) = value {
            for (name, section) in sections {
                match section {
                    Value::Object(fields) if fields.len() > 1 => {
                        for (field, v) in fields {
                            let within = format!("{name}.{field}");
                            let one = Value::Object([(field, v)].into_iter().collect());
                            probe_update(&name, one, &within, &mut errors, &mut seen);
                        }
                    }
                    section => {
                        probe_update(&name, section, &name, &mut errors, &mut seen);
                    }
                }
            }
        }
        if seen.insert(first.to_string()) {
            errors.insert(0, first);
        }
        Err(SettingsErrors::new(errors))
    }
}

/// Reads an update made of the one section `name` holding `value`, and records its error if it
/// lies within the field path `within` (an error elsewhere would come from the missing rest of
/// the section, not from this field) and was not recorded yet.
fn probe_update(
    name: &str,
    value: Value,
    within: &str,
    errors: &mut Vec<SettingsError>,
    seen: &mut HashSet<String>,
) {
    let update = Value::Object([(name.to_owned(), value)].into_iter().collect());
    let Err(e) = serde_path_to_error::deserialize::<_, SettingsUpdate>(update) else {
        return;
    };
    // Compared as written: the error's own path is escaped and cut for display.
    let inside = super::error::raw_path("", &e)
        .strip_prefix(within)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']));
    let e = SettingsError::from_path_error("", &e);
    if inside && seen.insert(e.to_string()) {
        errors.push(e);
    }
}

/// Changes to the 2FA policy.
///
/// Turning `required` on, or giving `grace_period_hours` while 2FA is not yet required, sets
/// `enforcement_date` to `now` plus the grace, as the spec's words say ("time for members to
/// comply"). The spec's example response shows a date that does not follow from its own
/// request; this crate follows the words.
///
/// While 2FA is already required, a new `grace_period_hours` counts from when enforcement
/// began (the old enforcement date minus the old grace): shortening the grace moves the
/// deadline earlier, lengthening it moves it later, and repeating an update changes nothing.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorUpdate {
    /// Whether 2FA is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// The methods that count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<NonEmptySet<Method>>,
    /// Hours from now until non-compliant members are blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_hours: Option<GraceHours>,
}

/// Changes to the IP allowlist. `entries`, when given, replaces the whole list.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistUpdate {
    /// Whether the list is enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The surfaces the list guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<NonEmptySet<Surface>>,
    /// The new list of entries. An entry whose network is already listed keeps its id and
    /// `added_at`; others get a new id and `added_at = now`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<NewEntry>>,
}

/// An entry as a client submits it: no id, no `added_at`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// The network or single address.
    pub cidr: Cidr,
    /// A note for people.
    #[serde(default)]
    pub label: Label,
    /// When the entry stops matching, if ever.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Changes to the session policy.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicyUpdate {
    /// Absolute session lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<TimeoutMinutes>,
    /// Live sessions per member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_sessions: Option<MaxSessions>,
    /// Whether sensitive actions need a recent authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_re_auth_for_sensitive: Option<bool>,
    /// Idle limit; `null` removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub idle_timeout_minutes: Option<Option<TimeoutMinutes>>,
    /// Re-authentication window; `null` restores the default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub reauth_window_minutes: Option<Option<ReauthWindowMinutes>>,
    /// Behaviour at the concurrent-session limit; `null` restores the default.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub on_session_limit: Option<Option<OnSessionLimit>>,
}

/// Changes to the password policy.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicyUpdate {
    /// Minimum length in code points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<MinLength>,
    /// Whether an uppercase letter is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_uppercase: Option<bool>,
    /// Whether a digit is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_number: Option<bool>,
    /// Whether a special character is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_special: Option<bool>,
    /// Password lifetime; `null` removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub max_age_days: Option<Option<MaxAgeDays>>,
    /// Remembered passwords; `null` removes the rule.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub prevent_reuse: Option<Option<PreventReuse>>,
    /// Lowest zxcvbn score; `null` removes the rule.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub min_strength: Option<Option<MinStrength>>,
}

/// Changes to the key rotation policy.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationPolicyUpdate {
    /// Whether keys rotate on a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Days between rotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_days: Option<IntervalDays>,
    /// Hours an old key keeps working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_hours: Option<RotationGraceHours>,
}

/// The result of applying a change: the new settings and the audit record describing it.
#[derive(Clone, Debug, Eq, PartialEq)]
#[must_use]
pub struct Applied {
    /// The settings after the change.
    pub settings: SecuritySettings,
    /// What changed. `changes` is empty for an update that changed nothing; the settings'
    /// `updated_at` and `updated_by` then stay as they were.
    pub audit: AuditRecord,
}

/// Applies `update` to `current` on behalf of `actor` at `now`.
///
/// Pure: no I/O, no clock. The result is validated as a whole (the rotation grace period must
/// stay shorter than the interval) before it is returned.
///
/// Rules beyond copying fields:
/// - 2FA: turning `required` on sets `enforcement_date = now + grace` (the stored grace, zero if
///   none); while it is already on, a new grace counts from when enforcement began, so
///   shortening it never pushes the deadline later (see [`TwoFactorUpdate`]).
/// - Allowlist: `entries` replaces the list; networks already listed keep their id and
///   `added_at`.
/// - Rotation: `next_rotation` is `last_rotation + interval_days` when keys have rotated
///   before; otherwise, once enabled, `now + interval_days` when the interval is first set or
///   changed. Disabling rotation clears it.
///
/// # Errors
///
/// [`SettingsErrors`] naming each field that makes the result invalid, or
/// [`SettingsError::TimeOutOfRange`] when a computed date cannot be represented.
///
/// # Examples
///
/// ```
/// use whale_security::settings::{SettingsUpdate, apply};
/// use whale_security::{SecuritySettings, id::{StoreId, UserId}, time};
///
/// let now = time::parse("2026-03-10T10:00:00Z")?;
/// let admin = UserId::new("user_d4e5f6a7")?;
/// let current = SecuritySettings::new(StoreId::new("store_a1b2c3d4")?, admin.clone(), now);
///
/// let update = SettingsUpdate::from_json(
///     r#"{"two_factor": {"required": true, "grace_period_hours": 72}}"#,
/// )?;
/// let applied = apply(&current, &update, &admin, now)?;
/// assert_eq!(
///     applied.settings.two_factor().enforcement_date,
///     Some(time::parse("2026-03-13T10:00:00Z")?),
/// );
/// assert_eq!(applied.audit.changes[0].path, "two_factor.required");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply(
    current: &SecuritySettings,
    update: &SettingsUpdate,
    actor: &UserId,
    now: DateTime<Utc>,
) -> Result<Applied, SettingsErrors> {
    let mut next = current.clone();
    // An oversized list is refused before it is merged and diffed, which is wasted work.
    let mut oversized = None;
    if let Some(u) = &update.two_factor {
        apply_two_factor(&mut next.two_factor, u, now)?;
    }
    if let Some(u) = &update.ip_allowlist {
        let list = &mut next.ip_allowlist;
        if let Some(enabled) = u.enabled {
            list.enabled = enabled;
        }
        if let Some(applies_to) = &u.applies_to {
            list.applies_to = applies_to.clone();
        }
        match &u.entries {
            Some(entries) if entries.len() > IpAllowlist::MAX_ENTRIES => {
                oversized = Some(entries.len());
            }
            Some(entries) => list.entries = merge_entries(&list.entries, entries, now),
            None => {}
        }
    }
    if let Some(u) = &update.session_policy {
        let p = &mut next.session_policy;
        set(&mut p.timeout_minutes, u.timeout_minutes);
        set(&mut p.max_concurrent_sessions, u.max_concurrent_sessions);
        set(
            &mut p.require_re_auth_for_sensitive,
            u.require_re_auth_for_sensitive,
        );
        set(&mut p.idle_timeout_minutes, u.idle_timeout_minutes);
        set(&mut p.reauth_window_minutes, u.reauth_window_minutes);
        set(&mut p.on_session_limit, u.on_session_limit);
    }
    if let Some(u) = &update.password_policy {
        let p = &mut next.password_policy;
        set(&mut p.min_length, u.min_length);
        set(&mut p.require_uppercase, u.require_uppercase);
        set(&mut p.require_number, u.require_number);
        set(&mut p.require_special, u.require_special);
        set(&mut p.max_age_days, u.max_age_days);
        set(&mut p.prevent_reuse, u.prevent_reuse);
        set(&mut p.min_strength, u.min_strength);
    }
    if let Some(u) = &update.api_key_rotation {
        apply_rotation(&mut next.api_key_rotation, u, now)?;
    }
    if let Some(count) = oversized {
        // The errors `finish` would give for the merged list: `next` still holds the current
        // list, whose ids are unique, so only the count differs.
        return Err(SettingsErrors::new(next.cross_field_errors_counting(count)));
    }
    finish(current, next, actor, now, AuditAction::UpdateSettings)
}

/// Adds one allowlist entry (the REST API's POST), returning it with its new id.
///
/// # Errors
///
/// As [`apply`].
pub fn add_entry(
    current: &SecuritySettings,
    entry: NewEntry,
    actor: &UserId,
    now: DateTime<Utc>,
) -> Result<(Applied, AllowlistEntry), SettingsErrors> {
    let count = current.ip_allowlist.entries.len().saturating_add(1);
    if count > IpAllowlist::MAX_ENTRIES {
        return Err(SettingsErrors::new(
            current.cross_field_errors_counting(count),
        ));
    }
    let mut next = current.clone();
    let taken: HashSet<&EntryId> = current.ip_allowlist.entries.iter().map(|e| &e.id).collect();
    let added = AllowlistEntry {
        id: fresh_entry_id(&entry.cidr, now, current.ip_allowlist.entries.len(), |id| {
            taken.contains(id)
        }),
        cidr: entry.cidr,
        label: entry.label,
        added_at: now,
        expires_at: entry.expires_at,
    };
    next.ip_allowlist.entries.push(added.clone());
    let applied = finish(current, next, actor, now, AuditAction::AddAllowlistEntry)?;
    Ok((applied, added))
}

/// Removes the allowlist entry with id `id` (the REST API's DELETE).
///
/// # Errors
///
/// [`SettingsError::EntryNotFound`] when no entry has that id.
pub fn remove_entry(
    current: &SecuritySettings,
    id: &EntryId,
    actor: &UserId,
    now: DateTime<Utc>,
) -> Result<Applied, SettingsErrors> {
    let mut next = current.clone();
    let before = next.ip_allowlist.entries.len();
    next.ip_allowlist.entries.retain(|e| &e.id != id);
    if next.ip_allowlist.entries.len() == before {
        return Err(SettingsError::EntryNotFound { id: id.clone() }.into());
    }
    finish(current, next, actor, now, AuditAction::RemoveAllowlistEntry)
}

/// Records a key rotation carried out at `rotated_at` by `actor`: `api_key_rotation`'s
/// `last_rotation` becomes `rotated_at` and its `next_rotation` `rotated_at + interval_days`
/// (cleared when scheduled rotation is disabled), as
/// [`ApiKeyRotationPolicy::after_rotation`] computes. The audit action is
/// [`AuditAction::RotateKeys`].
///
/// # Errors
///
/// [`SettingsError::TimeOutOfRange`] when the next rotation cannot be represented.
pub fn record_rotation(
    current: &SecuritySettings,
    rotated_at: DateTime<Utc>,
    actor: &UserId,
) -> Result<Applied, SettingsErrors> {
    let mut next = current.clone();
    next.api_key_rotation = current
        .api_key_rotation
        .after_rotation(rotated_at)
        .map_err(|_| SettingsError::TimeOutOfRange {
            path: "api_key_rotation.next_rotation".into(),
        })?;
    finish(current, next, actor, rotated_at, AuditAction::RotateKeys)
}

fn finish(
    current: &SecuritySettings,
    mut next: SecuritySettings,
    actor: &UserId,
    now: DateTime<Utc>,
    action: AuditAction,
) -> Result<Applied, SettingsErrors> {
    let errors = next.cross_field_errors();
    if !errors.is_empty() {
        return Err(SettingsErrors::new(errors));
    }
    let changes = audit::diff(&policy_value(current), &policy_value(&next));
    if !changes.is_empty() {
        next.updated_at = now;
        next.updated_by = actor.clone();
    }
    let audit = AuditRecord {
        actor: actor.clone(),
        at: now,
        action,
        changes,
    };
    Ok(Applied {
        settings: next,
        audit,
    })
}

/// The settings as JSON without the bookkeeping fields, for diffing.
fn policy_value(settings: &SecuritySettings) -> Value {
    let mut value = serde_json::to_value(settings).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("updated_at");
        map.remove("updated_by");
        map.remove("object");
    }
    value
}

fn apply_two_factor(
    p: &mut TwoFactorPolicy,
    u: &TwoFactorUpdate,
    now: DateTime<Utc>,
) -> Result<(), SettingsError> {
    let was_required = p.required;
    let old_grace = p.grace_period_hours;
    set(&mut p.required, u.required);
    if let Some(methods) = &u.methods {
        p.methods = methods.clone();
    }
    if let Some(grace) = u.grace_period_hours {
        p.grace_period_hours = Some(grace);
    }
    let turned_on = p.required && !was_required;
    if u.grace_period_hours.is_none() && !turned_on {
        return Ok(());
    }
    let hours = |grace: Option<GraceHours>| i64::from(grace.map_or(0, GraceHours::get));
    let out_of_range = || SettingsError::TimeOutOfRange {
        path: "two_factor.enforcement_date".into(),
    };
    // While enforcement is in force, the grace counts from when it began, so that shortening
    // the grace can only bring the deadline earlier.
    let start = match p.enforcement_date {
        Some(date) if was_required && p.required => {
            checked_add_hours(date, -hours(old_grace)).ok_or_else(out_of_range)?
        }
        _ => now,
    };
    let date = checked_add_hours(start, hours(p.grace_period_hours))
        .and_then(writable)
        .ok_or_else(out_of_range)?;
    p.enforcement_date = Some(date);
    Ok(())
}

fn apply_rotation(
    p: &mut ApiKeyRotationPolicy,
    u: &RotationPolicyUpdate,
    now: DateTime<Utc>,
) -> Result<(), SettingsError> {
    let interval_changed = u.interval_days.is_some_and(|d| d != p.interval_days);
    let enabled_now = u.enabled == Some(true) && !p.enabled;
    set(&mut p.enabled, u.enabled);
    set(&mut p.interval_days, u.interval_days);
    set(&mut p.grace_period_hours, u.grace_period_hours);
    if !p.enabled {
        p.next_rotation = None;
        return Ok(());
    }
    let days = i64::from(p.interval_days.get());
    let out_of_range = || SettingsError::TimeOutOfRange {
        path: "api_key_rotation.next_rotation".into(),
    };
    p.next_rotation = match (p.last_rotation, p.next_rotation) {
        (Some(last), _) => Some(
            checked_add_days(last, days)
                .and_then(writable)
                .ok_or_else(out_of_range)?,
        ),
        (None, Some(next)) if !interval_changed && !enabled_now => Some(next),
        (None, _) => Some(
            checked_add_days(now, days)
                .and_then(writable)
                .ok_or_else(out_of_range)?,
        ),
    };
    Ok(())
}

/// Keeps the id and `added_at` of networks already listed; gives new ones fresh ids.
///
/// A network listed several times keeps its old entries in list order, one per new entry.
/// Linear: the old list is indexed by network and by id once.
fn merge_entries(
    old: &[AllowlistEntry],
    new: &[NewEntry],
    now: DateTime<Utc>,
) -> Vec<AllowlistEntry> {
    let mut unclaimed: HashMap<Cidr, VecDeque<&AllowlistEntry>> = HashMap::new();
    for entry in old {
        unclaimed.entry(entry.cidr).or_default().push_back(entry);
    }
    let old_ids: HashSet<&EntryId> = old.iter().map(|o| &o.id).collect();
    let mut fresh_ids: HashSet<EntryId> = HashSet::new();
    let mut out = Vec::with_capacity(new.len());
    for entry in new {
        let kept = unclaimed.get_mut(&entry.cidr).and_then(VecDeque::pop_front);
        let (id, added_at) = match kept {
            Some(o) => (o.id.clone(), o.added_at),
            None => {
                // Never an id of the current list, even one this update drops: the audit diff
                // would read the new network as that entry changed.
                let id = fresh_entry_id(&entry.cidr, now, out.len(), |id| {
                    old_ids.contains(id) || fresh_ids.contains(id)
                });
                fresh_ids.insert(id.clone());
                (id, now)
            }
        };
        out.push(AllowlistEntry {
            id,
            cidr: entry.cidr,
            label: entry.label.clone(),
            added_at,
            expires_at: entry.expires_at,
        });
    }
    out
}

/// A deterministic id for a new entry: a hash of its network, the instant it is added and its
/// position in the list, probed past ids in use.
///
/// Ids carry no meaning; determinism keeps [`apply`] pure (no randomness) and repeatable. The
/// instant keeps a network removed and added again later from getting its old id back, which a
/// client still holding the old id could otherwise delete. Known shortcoming: at the very same
/// instant and position (a fixed clock) the old id can come back, since a pure function of the
/// current settings cannot know the ids of removed entries. The position keeps many entries
/// of one network added at one instant from probing past each other's ids, which took time
/// quadratic in their number.
fn fresh_entry_id(
    cidr: &Cidr,
    now: DateTime<Utc>,
    position: usize,
    in_use: impl Fn(&EntryId) -> bool,
) -> EntryId {
    let text = format!(
        "{cidr} {} {} {position}",
        now.timestamp(),
        now.timestamp_subsec_nanos()
    );
    let mut attempt: u64 = 0;
    loop {
        let hash = fnv1a(text.as_bytes(), attempt) & 0xffff_ffff_ffff;
        // The text is `ip_` and 12 hex digits, which is always a valid id; the fallback arm
        // only keeps the function total.
        if let Ok(id) = EntryId::new(format!("ip_{hash:012x}"))
            && !in_use(&id)
        {
            return id;
        }
        attempt = attempt.wrapping_add(1);
    }
}

fn fnv1a(bytes: &[u8], salt: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// Reads a field that distinguishes "absent" (outer `None`) from `null` (`Some(None)`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::parse_cidr;
    use crate::id::StoreId;
    use crate::time::parse;

    fn base() -> SecuritySettings {
        SecuritySettings::new(
            StoreId::new("store_a1").unwrap(),
            UserId::new("user_admin").unwrap(),
            parse("2026-01-01T00:00:00Z").unwrap(),
        )
    }

    fn update(json: &str) -> SettingsUpdate {
        SettingsUpdate::from_json(json).unwrap()
    }

    /// Stored instants stay within the years a document can hold: a next rotation or an
    /// enforcement date past year 9999 would be written as `+10000-...` and never read back.
    #[test]
    fn computed_instants_past_year_9999_are_refused() {
        let actor = UserId::new("user_a").unwrap();
        let late = parse("9999-12-30T00:00:00Z").unwrap();
        for (json, path) in [
            (
                r#"{"api_key_rotation":{"enabled":true,"interval_days":90}}"#,
                "api_key_rotation.next_rotation",
            ),
            (
                r#"{"two_factor":{"required":true,"grace_period_hours":72}}"#,
                "two_factor.enforcement_date",
            ),
        ] {
            let errors = apply(&base(), &update(json), &actor, late).unwrap_err();
            assert_eq!(errors.as_slice()[0].path(), path, "{errors}");
        }
    }

    /// Many entries of one network added at one instant each probed past the ids of all
    /// the others before it: 8 000 took 27 s (debug build). Their positions now set them
    /// apart from the first try.
    #[test]
    fn many_entries_of_one_network_added_at_once_get_distinct_ids_directly() {
        let actor = UserId::new("user_a").unwrap();
        let t0 = parse("2026-03-10T10:00:00Z").unwrap();
        let entries: Vec<String> = (0..20_000)
            .map(|_| r#"{"cidr":"203.0.113.0/24"}"#.to_owned())
            .collect();
        let list = format!(
            r#"{{"ip_allowlist":{{"entries":[{}]}}}}"#,
            entries.join(",")
        );
        let applied = apply(&base(), &update(&list), &actor, t0).unwrap();
        let ids: HashSet<&EntryId> = applied
            .settings
            .ip_allowlist()
            .entries
            .iter()
            .map(|e| &e.id)
            .collect();
        assert_eq!(ids.len(), 20_000);
    }

    /// A client holding the id of a removed entry must not be able to remove a later entry
    /// for the same network with it: ids of entries added at different instants differ.
    #[test]
    fn a_network_added_again_after_removal_gets_a_new_id() {
        let actor = UserId::new("user_a").unwrap();
        let entry = || NewEntry {
            cidr: parse_cidr("203.0.113.0/24").unwrap(),
            label: Label::default(),
            expires_at: None,
        };
        let t0 = parse("2026-03-10T10:00:00Z").unwrap();
        let (first, added) = add_entry(&base(), entry(), &actor, t0).unwrap();
        let t1 = parse("2026-03-10T11:00:00Z").unwrap();
        let removed = remove_entry(&first.settings, &added.id, &actor, t1).unwrap();
        let t2 = parse("2026-03-10T12:00:00Z").unwrap();
        let (_, again) = add_entry(&removed.settings, entry(), &actor, t2).unwrap();
        assert_ne!(again.id, added.id);
        // The same for a whole list replaced later.
        let list = r#"{"ip_allowlist":{"entries":[{"cidr":"203.0.113.0/24"}]}}"#;
        let a = apply(&base(), &update(list), &actor, t0).unwrap();
        let b = apply(&base(), &update(list), &actor, t2).unwrap();
        assert_ne!(
            a.settings.ip_allowlist().entries[0].id,
            b.settings.ip_allowlist().entries[0].id
        );
    }

    #[test]
    fn grace_sets_enforcement_date_from_now() {
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let applied = apply(
            &base(),
            &update(r#"{"two_factor":{"required":true,"grace_period_hours":72}}"#),
            &UserId::new("user_b").unwrap(),
            now,
        )
        .unwrap();
        assert_eq!(
            applied.settings.two_factor().enforcement_date,
            Some(parse("2026-03-13T10:00:00Z").unwrap())
        );
        assert_eq!(applied.settings.updated_at(), now);
        assert_eq!(applied.settings.updated_by().as_str(), "user_b");
    }

    #[test]
    fn shortening_the_grace_while_required_moves_the_deadline_earlier() {
        let actor = UserId::new("user_a").unwrap();
        let t0 = parse("2026-03-10T10:00:00Z").unwrap();
        let on = apply(
            &base(),
            &update(r#"{"two_factor":{"required":true,"grace_period_hours":72}}"#),
            &actor,
            t0,
        )
        .unwrap();
        let later = parse("2026-03-12T10:00:00Z").unwrap();
        let shorter = apply(
            &on.settings,
            &update(r#"{"two_factor":{"grace_period_hours":48}}"#),
            &actor,
            later,
        )
        .unwrap();
        assert_eq!(
            shorter.settings.two_factor().enforcement_date,
            Some(parse("2026-03-12T10:00:00Z").unwrap())
        );
        let again = apply(
            &on.settings,
            &update(r#"{"two_factor":{"required":true,"grace_period_hours":72}}"#),
            &actor,
            later,
        )
        .unwrap();
        assert!(again.audit.changes.is_empty(), "{:?}", again.audit.changes);
    }

    #[test]
    fn turning_required_on_again_counts_the_grace_from_now() {
        let actor = UserId::new("user_a").unwrap();
        let t0 = parse("2026-03-10T10:00:00Z").unwrap();
        let on = apply(
            &base(),
            &update(r#"{"two_factor":{"required":true,"grace_period_hours":24}}"#),
            &actor,
            t0,
        )
        .unwrap();
        let off = apply(
            &on.settings,
            &update(r#"{"two_factor":{"required":false}}"#),
            &actor,
            t0,
        )
        .unwrap();
        let t1 = parse("2026-04-01T00:00:00Z").unwrap();
        let on_again = apply(
            &off.settings,
            &update(r#"{"two_factor":{"required":true}}"#),
            &actor,
            t1,
        )
        .unwrap();
        assert_eq!(
            on_again.settings.two_factor().enforcement_date,
            Some(parse("2026-04-02T00:00:00Z").unwrap())
        );
    }

    #[test]
    fn replacing_entries_keeps_ids_of_networks_already_listed() {
        let t1 = parse("2026-03-10T10:00:00Z").unwrap();
        let t2 = parse("2026-03-11T10:00:00Z").unwrap();
        let actor = UserId::new("user_a").unwrap();
        let first = apply(
            &base(),
            &update(r#"{"ip_allowlist":{"entries":[{"cidr":"203.0.113.0/24","label":"Office"}]}}"#),
            &actor,
            t1,
        )
        .unwrap();
        let kept_id = first.settings.ip_allowlist().entries[0].id.clone();
        let second = apply(&first.settings, &update(r#"{"ip_allowlist":{"entries":[{"cidr":"198.51.100.42","label":"VPN"},{"cidr":"203.0.113.0/24","label":"HQ"}]}}"#), &actor, t2).unwrap();
        let entries = &second.settings.ip_allowlist().entries;
        assert_eq!(entries[1].id, kept_id);
        assert_eq!(entries[1].added_at, t1);
        assert_eq!(entries[1].label.as_str(), "HQ");
        assert_eq!(entries[0].added_at, t2);
        assert_ne!(entries[0].id, kept_id);
    }

    #[test]
    fn the_same_network_twice_gets_two_ids() {
        let actor = UserId::new("user_a").unwrap();
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let applied = apply(
            &base(),
            &update(
                r#"{"ip_allowlist":{"entries":[{"cidr":"10.0.0.0/8"},{"cidr":"10.0.0.0/8"}]}}"#,
            ),
            &actor,
            now,
        )
        .unwrap();
        let e = &applied.settings.ip_allowlist().entries;
        assert_ne!(e[0].id, e[1].id);
    }

    #[test]
    fn rotation_grace_not_shorter_than_interval_is_refused() {
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let err = apply(
            &base(),
            &update(r#"{"api_key_rotation":{"interval_days":1,"grace_period_hours":24}}"#),
            &UserId::new("user_a").unwrap(),
            now,
        )
        .unwrap_err();
        assert_eq!(
            err.as_slice()[0].path(),
            "api_key_rotation.grace_period_hours"
        );
    }

    #[test]
    fn no_op_update_changes_nothing() {
        let current = base();
        let applied = apply(
            &current,
            &update(r#"{"session_policy":{"timeout_minutes":480}}"#),
            &UserId::new("user_x").unwrap(),
            parse("2026-05-01T00:00:00Z").unwrap(),
        )
        .unwrap();
        assert!(applied.audit.changes.is_empty());
        assert_eq!(applied.settings, current);
    }

    #[test]
    fn null_clears_an_extension_field() {
        let actor = UserId::new("user_a").unwrap();
        let now = parse("2026-03-10T10:00:00Z").unwrap();
        let set = apply(
            &base(),
            &update(r#"{"password_policy":{"max_age_days":90}}"#),
            &actor,
            now,
        )
        .unwrap();
        assert!(set.settings.password_policy().max_age_days.is_some());
        let cleared = apply(
            &set.settings,
            &update(r#"{"password_policy":{"max_age_days":null}}"#),
            &actor,
            now,
        )
        .unwrap();
        assert_eq!(cleared.settings.password_policy().max_age_days, None);
        assert_eq!(
            cleared.audit.changes[0].path,
            "password_policy.max_age_days"
        );
    }

    #[test]
    fn enabling_rotation_schedules_the_first_one() {
        let now = parse("2026-01-01T00:00:00Z").unwrap();
        let applied = apply(
            &base(),
            &update(r#"{"api_key_rotation":{"enabled":true}}"#),
            &UserId::new("user_a").unwrap(),
            now,
        )
        .unwrap();
        assert_eq!(
            applied.settings.api_key_rotation().next_rotation,
            Some(parse("2026-04-01T00:00:00Z").unwrap())
        );
    }

    /// The merge as first written: a linear search of the old list per new entry. The model
    /// the indexed merge must agree with, ids and `added_at` included.
    fn merge_by_scan(
        old: &[AllowlistEntry],
        new: &[NewEntry],
        now: DateTime<Utc>,
    ) -> Vec<AllowlistEntry> {
        let mut taken: HashSet<EntryId> = HashSet::new();
        let mut out = Vec::new();
        for entry in new {
            let kept = old
                .iter()
                .find(|o| o.cidr == entry.cidr && !taken.contains(&o.id));
            let (id, added_at) = match kept {
                Some(o) => (o.id.clone(), o.added_at),
                None => {
                    let in_use: HashSet<&EntryId> =
                        old.iter().map(|o| &o.id).chain(taken.iter()).collect();
                    (
                        fresh_entry_id(&entry.cidr, now, out.len(), |id| in_use.contains(id)),
                        now,
                    )
                }
            };
            taken.insert(id.clone());
            out.push(AllowlistEntry {
                id,
                cidr: entry.cidr,
                label: entry.label.clone(),
                added_at,
                expires_at: entry.expires_at,
            });
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        /// Replacing a list keeps the same ids and `added_at` as the linear scan did, for lists
        /// drawn from a few networks (so networks repeat in both lists), with old ids that may
        /// collide with the hashed ids of new entries.
        #[test]
        fn merging_entries_agrees_with_the_linear_scan(
            old in proptest::collection::vec((0u8..6, 0u8..3), 0..12),
            new in proptest::collection::vec(0u8..8, 0..12),
        ) {
            let t0 = parse("2026-01-01T00:00:00Z").unwrap();
            let now = parse("2026-03-10T10:00:00Z").unwrap();
            let cidr = |n: u8| parse_cidr(&format!("10.{n}.0.0/16")).unwrap();
            let mut seen = HashSet::new();
            let old: Vec<AllowlistEntry> = old
                .into_iter()
                .enumerate()
                .filter_map(|(i, (n, how))| {
                    // Some old ids are the ids a new entry of another network would hash to.
                    let id = match how {
                        0 => EntryId::new(format!("ip_old{i}")).unwrap(),
                        _ => fresh_entry_id(&cidr(n.wrapping_add(how)), t0, 0, |_| false),
                    };
                    seen.insert(id.clone()).then(|| AllowlistEntry {
                        id,
                        cidr: cidr(n),
                        label: Label::default(),
                        added_at: t0,
                        expires_at: None,
                    })
                })
                .collect();
            let new: Vec<NewEntry> = new
                .into_iter()
                .map(|n| NewEntry { cidr: cidr(n), label: Label::default(), expires_at: None })
                .collect();
            proptest::prop_assert_eq!(
                merge_entries(&old, &new, now),
                merge_by_scan(&old, &new, now)
            );
        }
    }

    #[test]
    fn removing_an_unknown_entry_is_an_error() {
        let err = remove_entry(
            &base(),
            &EntryId::new("ip_nope").unwrap(),
            &UserId::new("user_a").unwrap(),
            parse("2026-01-01T00:00:00Z").unwrap(),
        )
        .unwrap_err();
        assert!(matches!(
            err.as_slice()[0],
            SettingsError::EntryNotFound { .. }
        ));
    }
}
