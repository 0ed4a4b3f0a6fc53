//! The spec's response shapes, built from stored settings.
//!
//! The spec's GET response summarizes: the allowlist's `entries` is a count, and the 2FA section
//! carries member counts. Its update responses carry only the sections the update touched, with
//! the allowlist's entries written out and the 2FA section listing non-compliant members.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{SecuritySettings, SettingsTag, SettingsUpdate};
use crate::allowlist::{IpAllowlist, Surface};
use crate::api_keys::ApiKeyRotationPolicy;
use crate::id::{StoreId, UserId};
use crate::password::PasswordPolicy;
use crate::session::SessionPolicy;
use crate::set::NonEmptySet;
use crate::two_factor::{GraceHours, Method, TwoFactorPolicy};

/// How many members comply with the 2FA policy, and who does not.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
pub struct MemberCounts {
    /// Members with a verified factor of an allowed method.
    pub compliant: u64,
    /// Members without one.
    pub non_compliant: Vec<NonCompliantMember>,
}

/// A member who does not comply with the 2FA policy, as the spec lists them.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonCompliantMember {
    /// The member's id.
    pub user_id: UserId,
    /// The member's email address.
    pub email: String,
}

/// The spec's GET response.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsView {
    object: SettingsTag,
    /// The store.
    pub store_id: StoreId,
    /// The 2FA policy with member counts.
    pub two_factor: TwoFactorView,
    /// The allowlist, with its entries counted.
    pub ip_allowlist: AllowlistSummary,
    /// The session policy.
    pub session_policy: SessionPolicy,
    /// The password policy.
    pub password_policy: PasswordPolicy,
    /// The key rotation policy.
    pub api_key_rotation: ApiKeyRotationPolicy,
    /// When the settings last changed.
    #[serde(with = "crate::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Who last changed them.
    pub updated_by: UserId,
}

impl SettingsView {
    /// The GET view of `settings`, with the member counts of a compliance report.
    #[must_use]
    pub fn new(settings: &SecuritySettings, counts: &MemberCounts) -> Self {
        Self {
            object: SettingsTag,
            store_id: settings.store_id.clone(),
            two_factor: TwoFactorView::new(&settings.two_factor, counts, false),
            ip_allowlist: AllowlistSummary {
                enabled: settings.ip_allowlist.enabled,
                entries: settings.ip_allowlist.entries.len(),
                applies_to: settings.ip_allowlist.applies_to.clone(),
            },
            session_policy: settings.session_policy.clone(),
            password_policy: settings.password_policy.clone(),
            api_key_rotation: settings.api_key_rotation.clone(),
            updated_at: settings.updated_at,
            updated_by: settings.updated_by.clone(),
        }
    }
}

/// The 2FA section of a response.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorView {
    /// Whether 2FA is required.
    pub required: bool,
    /// The methods that count.
    pub methods: NonEmptySet<Method>,
    /// The grace period last given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_hours: Option<GraceHours>,
    /// When non-compliant members are blocked.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub enforcement_date: Option<DateTime<Utc>>,
    /// How many members comply.
    pub compliant_members: u64,
    /// How many do not.
    pub non_compliant_members: u64,
    /// Who does not, in update responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_compliant: Option<Vec<NonCompliantMember>>,
}

impl TwoFactorView {
    fn new(policy: &TwoFactorPolicy, counts: &MemberCounts, list_members: bool) -> Self {
        Self {
            required: policy.required,
            methods: policy.methods.clone(),
            grace_period_hours: policy.grace_period_hours,
            enforcement_date: policy.enforcement_date,
            compliant_members: counts.compliant,
            non_compliant_members: u64::try_from(counts.non_compliant.len()).unwrap_or(u64::MAX),
            non_compliant: list_members.then(|| counts.non_compliant.clone()),
        }
    }
}

/// The allowlist section of the GET response: entries counted, not listed.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSummary {
    /// Whether the list is enforced.
    pub enabled: bool,
    /// How many entries it has.
    pub entries: usize,
    /// The surfaces it guards.
    pub applies_to: NonEmptySet<Surface>,
}

/// The spec's PUT response: the sections the update touched, and the update time.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateResponse {
    object: SettingsTag,
    /// The 2FA policy with the non-compliant members listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactorView>,
    /// The allowlist with its entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<IpAllowlist>,
    /// The session policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<SessionPolicy>,
    /// The password policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    /// The key rotation policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_rotation: Option<ApiKeyRotationPolicy>,
    /// When the settings last changed.
    #[serde(with = "crate::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl UpdateResponse {
    /// The response to `update`, showing the touched sections of `settings` (the settings after
    /// the update), with the member counts of a compliance report.
    #[must_use]
    pub fn new(
        settings: &SecuritySettings,
        update: &SettingsUpdate,
        counts: &MemberCounts,
    ) -> Self {
        Self {
            object: SettingsTag,
            two_factor: update
                .two_factor
                .as_ref()
                .map(|_| TwoFactorView::new(&settings.two_factor, counts, true)),
            ip_allowlist: update
                .ip_allowlist
                .as_ref()
                .map(|_| settings.ip_allowlist.clone()),
            session_policy: update
                .session_policy
                .as_ref()
                .map(|_| settings.session_policy.clone()),
            password_policy: update
                .password_policy
                .as_ref()
                .map(|_| settings.password_policy.clone()),
            api_key_rotation: update
                .api_key_rotation
                .as_ref()
                .map(|_| settings.api_key_rotation.clone()),
            updated_at: settings.updated_at,
        }
    }
}
