//! Audit records: who changed what, when, with each changed field's old and new value.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::UserId;

/// One entry of a store's audit trail.
///
/// Records never carry secrets: settings hold none, and the key and 2FA operations record ids
/// and prefixes only.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Who made the change.
    pub actor: UserId,
    /// When the change was made.
    #[serde(with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
    /// What kind of change it was.
    pub action: AuditAction,
    /// Each changed field, in document order.
    pub changes: Vec<FieldChange>,
}

/// The kind of change an [`AuditRecord`] records.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// Settings were created for a store.
    CreateSettings,
    /// A settings update (the REST API's PUT).
    UpdateSettings,
    /// One allowlist entry was added.
    AddAllowlistEntry,
    /// One allowlist entry was removed.
    RemoveAllowlistEntry,
    /// The rotation policy was updated.
    UpdateRotationPolicy,
    /// API keys were rotated.
    RotateKeys,
    /// An API key was issued.
    IssueKey,
    /// An API key was revoked.
    RevokeKey,
    /// Team members or their factors were added or changed.
    UpsertMembers,
    /// A team member was removed.
    RemoveMember,
}

/// One changed field: its path in the settings document and its values before and after.
///
/// Paths use dots between object keys (`password_policy.min_length`); an entry of a list of
/// objects with ids is addressed by its id (`ip_allowlist.entries.ip_a1b2c3`). A field that
/// did not exist before has `old: null`, one removed has `new: null`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    /// The field's path.
    pub path: String,
    /// The value before the change.
    pub old: Value,
    /// The value after the change.
    pub new: Value,
}

/// Lists the fields that differ between two JSON documents.
///
/// Objects are compared key by key; arrays of objects that all have a string `id` are compared
/// entry by entry, keyed by id; any other array is compared as one value.
///
/// Linear in the size of the documents (times their depth): a keyed array is indexed by id
/// once, so two allowlists of 50 000 entries compare in one pass each.
#[must_use]
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    diff_into(String::new(), old, new, &mut changes);
    changes
}

fn diff_into(path: String, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, va) in a {
                diff_into(
                    join(&path, key),
                    va,
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
            for (key, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                diff_into(join(&path, key), &Value::Null, vb, out);
            }
        }
        (Value::Array(a), Value::Array(b)) => match (keyed(a), keyed(b)) {
            (Some(a), Some(b)) => {
                // Indexed once, so lists of n entries compare in O(n), not O(n²). A repeated id
                // is compared with its first entry in the new list.
                let mut new_by_id: HashMap<&str, &Value> = HashMap::with_capacity(b.len());
                for &(id, vb) in &b {
                    new_by_id.entry(id).or_insert(vb);
                }
                let old_ids: HashSet<&str> = a.iter().map(|&(id, _)| id).collect();
                for &(id, va) in &a {
                    let vb = new_by_id.get(id).copied().unwrap_or(&Value::Null);
                    diff_into(join(&path, id), va, vb, out);
                }
                for &(id, vb) in b.iter().filter(|(id, _)| !old_ids.contains(id)) {
                    diff_into(join(&path, id), &Value::Null, vb, out);
                }
            }
            _ => out.push(FieldChange {
                path,
                old: old.clone(),
                new: new.clone(),
            }),
        },
        _ => out.push(FieldChange {
            path,
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

fn keyed(items: &[Value]) -> Option<Vec<(&str, &Value)>> {
    items
        .iter()
        .map(|v| Some((v.get("id")?.as_str()?, v)))
        .collect()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_fields_are_reported_by_path() {
        let old = json!({"a": {"b": 1, "c": 2}});
        let new = json!({"a": {"b": 1, "c": 3, "d": true}});
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes[0],
            FieldChange {
                path: "a.c".into(),
                old: json!(2),
                new: json!(3)
            }
        );
        assert_eq!(
            changes[1],
            FieldChange {
                path: "a.d".into(),
                old: Value::Null,
                new: json!(true)
            }
        );
    }

    #[test]
    fn lists_with_ids_are_compared_by_id() {
        let old = json!({"entries": [{"id": "ip_a", "cidr": "10.0.0.0/8"}, {"id": "ip_b", "cidr": "10.1.0.0/16"}]});
        let new = json!({"entries": [{"id": "ip_b", "cidr": "10.1.0.0/16"}, {"id": "ip_c", "cidr": "10.2.0.0/16"}]});
        let paths: Vec<_> = diff(&old, &new).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["entries.ip_a", "entries.ip_c"]);
    }

    /// The comparison as first written: a linear search of the other list per entry. The
    /// model the indexed comparison must agree with, order included.
    fn diff_by_scan(old: &Value, new: &Value) -> Vec<FieldChange> {
        fn walk(path: String, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
            if old == new {
                return;
            }
            match (old, new) {
                (Value::Object(a), Value::Object(b)) => {
                    for (key, va) in a {
                        walk(
                            join(&path, key),
                            va,
                            b.get(key).unwrap_or(&Value::Null),
                            out,
                        );
                    }
                    for (key, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                        walk(join(&path, key), &Value::Null, vb, out);
                    }
                }
                (Value::Array(a), Value::Array(b)) if keyed(a).is_some() && keyed(b).is_some() => {
                    let (a, b) = (keyed(a).unwrap(), keyed(b).unwrap());
                    for (id, va) in &a {
                        let vb = b
                            .iter()
                            .find(|(k, _)| k == id)
                            .map_or(&Value::Null, |(_, v)| *v);
                        walk(join(&path, id), va, vb, out);
                    }
                    for (id, vb) in b.iter().filter(|(k, _)| !a.iter().any(|(ka, _)| ka == k)) {
                        walk(join(&path, id), &Value::Null, vb, out);
                    }
                }
                _ => out.push(FieldChange {
                    path,
                    old: old.clone(),
                    new: new.clone(),
                }),
            }
        }
        let mut out = Vec::new();
        walk(String::new(), old, new, &mut out);
        out
    }

    fn entries() -> impl Strategy<Value = Value> {
        // Few ids and values, so ids repeat within a list and entries match across lists.
        proptest::collection::vec((0u8..5, 0u8..3), 0..8).prop_map(|items| {
            Value::Array(
                items
                    .into_iter()
                    .map(|(id, v)| json!({"id": format!("ip_{id}"), "v": v}))
                    .collect(),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        /// Lists keyed by id, repeated ids included, give the same changes in the same order as
        /// the linear scan did.
        #[test]
        fn keyed_lists_diff_as_the_linear_scan_did(a in entries(), b in entries()) {
            let old = json!({"list": {"entries": a}});
            let new = json!({"list": {"entries": b}});
            prop_assert_eq!(diff(&old, &new), diff_by_scan(&old, &new));
        }
    }

    #[test]
    fn other_lists_are_one_value() {
        let changes = diff(&json!({"m": ["totp"]}), &json!({"m": ["totp", "sms"]}));
        assert_eq!(
            changes,
            [FieldChange {
                path: "m".into(),
                old: json!(["totp"]),
                new: json!(["totp", "sms"])
            }]
        );
    }
}
