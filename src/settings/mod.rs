//! The stored security settings of one store, how they are read and validated, and how an
//! update is applied.
//!
//! [`SecuritySettings`] is the document a store keeps. Its JSON is the spec's GET response with
//! the allowlist's entries written out as objects and without the derived 2FA member counts;
//! [`view`] builds the spec's response shapes from it.
//!
//! Reading a document checks everything: unknown fields are errors (a typo such as
//! `require_upercase` must never silently weaken a policy), every number is within its
//! documented range, sets are non-empty and without duplicates, entry ids are unique, and the
//! rotation grace period is shorter than the rotation interval.

mod error;
pub(crate) mod json;
mod update;
pub mod view;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Value};

use crate::allowlist::IpAllowlist;
use crate::allowlist::Surface;
use crate::api_keys::{ApiKeyRotationPolicy, IntervalDays, RotationGraceHours};
use crate::id::{StoreId, UserId};
use crate::password::{MinLength, PasswordPolicy};
use crate::session::{MaxSessions, SessionPolicy, TimeoutMinutes};
use crate::set::NonEmptySet;
use crate::two_factor::{Method, TwoFactorPolicy};

pub use self::error::{SettingsError, SettingsErrors, plain_serde_message};
pub use self::update::{
    AllowlistUpdate, Applied, NewEntry, PasswordPolicyUpdate, RotationPolicyUpdate,
    SessionPolicyUpdate, SettingsUpdate, TwoFactorUpdate, add_entry, apply, record_rotation,
    remove_entry,
};

/// The security settings of one store.
///
/// Construct one with [`SecuritySettings::new`] (secure defaults) or by reading JSON
/// ([`SecuritySettings::from_json`] or serde); change it only through [`apply`], which validates
/// the result and returns the audit record. Every value you can hold is valid.
///
/// # Examples
///
/// ```
/// use whale_security::SecuritySettings;
///
/// let text = std::fs::read_to_string("data/spec-settings.json")?;
/// let settings = SecuritySettings::from_json(&text)?;
/// assert_eq!(settings.store_id().as_str(), "store_a1b2c3d4");
/// assert_eq!(settings.ip_allowlist().entries.len(), 3);
///
/// // A typo never weakens a policy: it is an error naming the field.
/// let typo = text.replace("require_uppercase", "require_upercase");
/// let err = SecuritySettings::from_json(&typo).unwrap_err();
/// assert!(err.to_string().contains("password_policy"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct SecuritySettings {
    object: SettingsTag,
    store_id: StoreId,
    two_factor: TwoFactorPolicy,
    ip_allowlist: IpAllowlist,
    session_policy: SessionPolicy,
    password_policy: PasswordPolicy,
    api_key_rotation: ApiKeyRotationPolicy,
    #[serde(with = "crate::time::rfc3339")]
    updated_at: DateTime<Utc>,
    updated_by: UserId,
}

impl SecuritySettings {
    /// Settings for a new store, created by `actor` at `now`, with these defaults: 2FA not
    /// required (TOTP and SMS allowed), allowlist disabled on both surfaces with no entries,
    /// sessions of 480 minutes with at most 3 at once and re-authentication for sensitive
    /// actions, passwords of at least 12 characters with upper case, a digit and a special
    /// character and no reuse of the last 5, and key rotation disabled (90 days, 48 hours of
    /// grace).
    #[must_use]
    pub fn new(store_id: StoreId, actor: UserId, now: DateTime<Utc>) -> Self {
        Self {
            object: SettingsTag,
            store_id,
            two_factor: TwoFactorPolicy {
                required: false,
                methods: NonEmptySet::single(Method::Totp).with(Method::Sms),
                grace_period_hours: None,
                enforcement_date: None,
            },
            ip_allowlist: IpAllowlist {
                enabled: false,
                applies_to: NonEmptySet::single(Surface::Api).with(Surface::Dashboard),
                entries: Vec::new(),
            },
            session_policy: SessionPolicy {
                timeout_minutes: TimeoutMinutes::DEFAULT,
                max_concurrent_sessions: MaxSessions::DEFAULT,
                require_re_auth_for_sensitive: true,
                idle_timeout_minutes: None,
                reauth_window_minutes: None,
                on_session_limit: None,
            },
            password_policy: PasswordPolicy {
                min_length: MinLength::DEFAULT,
                require_uppercase: true,
                require_number: true,
                require_special: true,
                max_age_days: None,
                prevent_reuse: Some(crate::password::PreventReuse::DEFAULT),
                min_strength: None,
            },
            api_key_rotation: ApiKeyRotationPolicy {
                enabled: false,
                interval_days: IntervalDays::DEFAULT,
                grace_period_hours: RotationGraceHours::DEFAULT,
                last_rotation: None,
                next_rotation: None,
            },
            updated_at: now,
            updated_by: actor,
        }
    }

    /// Reads and validates a settings document.
    ///
    /// # Errors
    ///
    /// [`SettingsErrors`] listing every problem found, each with its field path: at most one
    /// per top-level field, plus the checks across fields once each field is readable. A
    /// syntax error stops reading at once and carries its line and column, and so does a key
    /// repeated within one object ([`SettingsError::DuplicateField`]: JSON readers disagree on
    /// which value wins, so a policy must not depend on it).
    pub fn from_json(text: &str) -> Result<Self, SettingsErrors> {
        Self::from_value(json::parse(text)?)
    }

    /// Validates a settings document already parsed as JSON; see [`SecuritySettings::from_json`].
    ///
    /// A [`Value`] cannot hold a repeated key: whatever parsed it has already chosen one of
    /// them. Prefer [`SecuritySettings::from_json`] or serde, which refuse repeated keys.
    ///
    /// # Errors
    ///
    /// [`SettingsErrors`] listing every problem found, each with its field path.
    pub fn from_value(value: Value) -> Result<Self, SettingsErrors> {
        let Value::Object(mut map) = value else {
            return Err(SettingsErrors::one(SettingsError::Invalid {
                path: String::new(),
                message: "a settings document must be a JSON object".into(),
            }));
        };
        let mut errors = Vec::new();
        let object = field::<SettingsTag>(&mut map, "object", &mut errors);
        let store_id = field(&mut map, "store_id", &mut errors);
        let two_factor = field(&mut map, "two_factor", &mut errors);
        let ip_allowlist = field(&mut map, "ip_allowlist", &mut errors);
        let session_policy = field(&mut map, "session_policy", &mut errors);
        let password_policy = field(&mut map, "password_policy", &mut errors);
        let api_key_rotation = field(&mut map, "api_key_rotation", &mut errors);
        let updated_at = field::<Timestamp>(&mut map, "updated_at", &mut errors);
        let updated_by = field(&mut map, "updated_by", &mut errors);
        for key in map.keys() {
            errors.push(SettingsError::UnknownField {
                path: error::bounded(key),
            });
        }
        let (
            Some(_),
            Some(store_id),
            Some(two_factor),
            Some(ip_allowlist),
            Some(session_policy),
            Some(password_policy),
            Some(api_key_rotation),
            Some(Timestamp(updated_at)),
            Some(updated_by),
        ) = (
            object,
            store_id,
            two_factor,
            ip_allowlist,
            session_policy,
            password_policy,
            api_key_rotation,
            updated_at,
            updated_by,
        )
        else {
            return Err(SettingsErrors::new(errors));
        };
        let settings = Self {
            object: SettingsTag,
            store_id,
            two_factor,
            ip_allowlist,
            session_policy,
            password_policy,
            api_key_rotation: scheduled(api_key_rotation),
            updated_at,
            updated_by,
        };
        errors.extend(settings.cross_field_errors());
        if !errors.is_empty() {
            return Err(SettingsErrors::new(errors));
        }
        Ok(settings)
    }

    /// The document as pretty-printed JSON.
    #[must_use]
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data with string keys cannot fail; an empty string would only
        // appear if serde_json's own invariants broke.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The store these settings belong to.
    #[must_use]
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }

    /// The 2FA policy.
    #[must_use]
    pub fn two_factor(&self) -> &TwoFactorPolicy {
        &self.two_factor
    }

    /// The IP allowlist.
    #[must_use]
    pub fn ip_allowlist(&self) -> &IpAllowlist {
        &self.ip_allowlist
    }

    /// The session policy.
    #[must_use]
    pub fn session_policy(&self) -> &SessionPolicy {
        &self.session_policy
    }

    /// The password policy.
    #[must_use]
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.password_policy
    }

    /// The API key rotation policy.
    #[must_use]
    pub fn api_key_rotation(&self) -> &ApiKeyRotationPolicy {
        &self.api_key_rotation
    }

    /// When the settings last changed.
    #[must_use]
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Who last changed the settings.
    #[must_use]
    pub fn updated_by(&self) -> &UserId {
        &self.updated_by
    }

    /// The checks that span several fields; each failure names the field to fix.
    fn cross_field_errors(&self) -> Vec<SettingsError> {
        self.cross_field_errors_counting(self.ip_allowlist.entries.len())
    }

    /// [`Self::cross_field_errors`] as if the allowlist had `entry_count` entries: how an
    /// update that would make the list too long is refused without building the list.
    fn cross_field_errors_counting(&self, entry_count: usize) -> Vec<SettingsError> {
        let mut errors = Vec::new();
        let rotation = &self.api_key_rotation;
        let interval_hours = u64::from(rotation.interval_days.get()) * 24;
        if u64::from(rotation.grace_period_hours.get()) >= interval_hours {
            errors.push(SettingsError::GraceNotShorterThanInterval {
                path: "api_key_rotation.grace_period_hours".into(),
                grace_hours: rotation.grace_period_hours.get(),
                interval_days: rotation.interval_days.get(),
            });
        }
        if rotation.enabled
            && let Some(last) = rotation.last_rotation
            && crate::time::checked_add_days(last, i64::from(rotation.interval_days.get()))
                .and_then(crate::time::writable)
                .is_none()
        {
            errors.push(SettingsError::TimeOutOfRange {
                path: "api_key_rotation.next_rotation".into(),
            });
        }
        errors.extend(entry_errors(
            &self.ip_allowlist,
            entry_count,
            "ip_allowlist.",
        ));
        errors
    }
}

/// `policy` with `next_rotation` as the schedule counts it: once keys have rotated (and while
/// rotation is enabled) it is `last_rotation + interval_days`, whatever was written, so the
/// settings never show a date the schedule ignores.
fn scheduled(mut policy: ApiKeyRotationPolicy) -> ApiKeyRotationPolicy {
    if policy.enabled
        && let Some(last) = policy.last_rotation
        && let Some(next) =
            crate::time::checked_add_days(last, i64::from(policy.interval_days.get()))
                .and_then(crate::time::writable)
    {
        policy.next_rotation = Some(next);
    }
    policy
}

/// The checks on an allowlist's entries as a whole, as if it had `entry_count` entries: at
/// most [`IpAllowlist::MAX_ENTRIES`], ids unique. Paths start with `prefix`.
fn entry_errors(list: &IpAllowlist, entry_count: usize, prefix: &str) -> Vec<SettingsError> {
    let mut errors = Vec::new();
    if entry_count > IpAllowlist::MAX_ENTRIES {
        errors.push(SettingsError::TooManyEntries {
            path: format!("{prefix}entries"),
            count: entry_count,
            max: IpAllowlist::MAX_ENTRIES,
        });
    }
    let mut seen = HashSet::new();
    for (i, entry) in list.entries.iter().enumerate() {
        if !seen.insert(&entry.id) {
            errors.push(SettingsError::DuplicateEntryId {
                path: format!("{prefix}entries[{i}].id"),
                id: entry.id.clone(),
            });
        }
    }
    errors
}

impl IpAllowlist {
    /// Reads and validates an allowlist on its own: the `ip_allowlist` object of a settings
    /// document, as the REST API's `GET .../ip-allowlist` answers it. As strict as
    /// [`SecuritySettings::from_json`] is with the same object inside settings: unknown fields,
    /// repeated keys, repeated entry ids and more than [`IpAllowlist::MAX_ENTRIES`] entries are
    /// errors. (Deserializing an `IpAllowlist` with serde checks each field but not the last
    /// three.)
    ///
    /// # Errors
    ///
    /// [`SettingsErrors`] with field paths such as `entries[1].cidr`.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::allowlist::IpAllowlist;
    ///
    /// let list = IpAllowlist::from_json(r#"{"enabled": true, "applies_to": ["api"], "entries": [
    ///     {"id": "ip_office", "cidr": "203.0.113.0/24", "added_at": "2026-03-10T10:00:00Z"}
    /// ]}"#)?;
    /// assert_eq!(list.entries.len(), 1);
    ///
    /// let twice = r#"{"enabled": true, "applies_to": ["api"], "entries": [
    ///     {"id": "ip_a", "cidr": "203.0.113.0/24", "added_at": "2026-03-10T10:00:00Z"},
    ///     {"id": "ip_a", "cidr": "198.51.100.0/24", "added_at": "2026-03-10T10:00:00Z"}
    /// ]}"#;
    /// let errors = IpAllowlist::from_json(twice).unwrap_err();
    /// assert_eq!(errors.as_slice()[0].path(), "entries[1].id");
    /// # Ok::<(), whale_security::settings::SettingsErrors>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, SettingsErrors> {
        let value = json::parse(text)?;
        let list: Self = serde_path_to_error::deserialize(value)
            .map_err(|e| SettingsErrors::one(SettingsError::from_path_error("", &e)))?;
        let errors = entry_errors(&list, list.entries.len(), "");
        if errors.is_empty() {
            Ok(list)
        } else {
            Err(SettingsErrors::new(errors))
        }
    }
}

impl<'de> Deserialize<'de> for SecuritySettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::from_value(json::deserialize_strict(d)?).map_err(de::Error::custom)
    }
}

/// Takes `name` out of `map` and reads it as `T`, recording an error with its path on failure.
fn field<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    name: &str,
    errors: &mut Vec<SettingsError>,
) -> Option<T> {
    let Some(value) = map.remove(name) else {
        errors.push(SettingsError::MissingField {
            path: name.to_owned(),
        });
        return None;
    };
    serde_path_to_error::deserialize(value)
        .map_err(|e| errors.push(SettingsError::from_path_error(name, &e)))
        .ok()
}

/// An instant read in the crate's RFC 3339 form.
#[derive(Deserialize)]
struct Timestamp(#[serde(with = "crate::time::rfc3339")] DateTime<Utc>);

macro_rules! object_tag {
    ($(#[$doc:meta])* $name:ident = $text:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
        pub(crate) struct $name;

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($text)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                if text != $text {
                    return Err(de::Error::custom(format_args!(
                        "expected `{}`, found `{}`",
                        $text,
                        $crate::quote::shorten(&text)
                    )));
                }
                Ok(Self)
            }
        }
    };
}

pub(crate) use object_tag;

object_tag!(
    /// The `"object": "security_settings"` tag.
    SettingsTag = "security_settings"
);
