//! What the console shows, as the API sends it: metadata and masked values only. No
//! type here can hold a plaintext value; the one secret the console ever holds is the
//! rotate buffer, which lives in `app.rs` and zeroizes itself.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One row of a browser tab: a user secret, a workspace key or a project entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRow {
    pub id: String,
    /// `user:alice`, `workspace:acme`, `project:apollo`.
    pub owner: String,
    pub name: String,
    /// `all`, `agents`, `project` or `milestone`.
    pub scope: String,
    /// Profile or milestone ids of a narrow scope.
    pub targets: Vec<String>,
    pub category: String,
    pub masked: String,
    pub version: u32,
    pub expires_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Live,
    /// Within seven days.
    Soon,
    Expired,
}

impl SecretRow {
    pub fn expiry(&self, now: DateTime<Utc>) -> Expiry {
        match self.expires_at {
            Some(at) if at <= now => Expiry::Expired,
            Some(at) if at - now <= chrono::Duration::days(7) => Expiry::Soon,
            _ => Expiry::Live,
        }
    }

    pub fn scope_label(&self) -> String {
        if self.targets.is_empty() {
            self.scope.clone()
        } else {
            format!("{}: {}", self.scope, self.targets.join(","))
        }
    }

    /// Whether the `/` filter keeps this row: a case-insensitive match on name or owner.
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.to_lowercase();
        self.name.to_lowercase().contains(&filter) || self.owner.to_lowercase().contains(&filter)
    }
}

/// One page of a tab, and where the next one starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowPage {
    pub rows: Vec<SecretRow>,
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    pub version: u32,
    pub masked: String,
    pub current: bool,
    pub restored_from: Option<u32>,
    pub created_at: DateTime<Utc>,
}

/// How an API call failed, as the console shows it inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// The problem+json `code`, or `unreachable` when no answer came.
    pub code: String,
    pub detail: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

/// One audit record as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub id: String,
    pub at: DateTime<Utc>,
    pub principal: String,
    pub action: String,
    pub outcome: String,
    pub request_id: String,
    /// The record's target as stored: ids and names, never a value.
    pub target: Option<Value>,
}

impl AuditRow {
    /// The target as a line an operator reads: the name first, then each id by what
    /// it is (`secret sec_…`, `user alice`), a refused request's method and path,
    /// nested contexts flattened. Never raw JSON.
    pub fn target_label(&self) -> String {
        let mut parts = Vec::new();
        match &self.target {
            None | Some(Value::Null) => {}
            Some(Value::Object(fields)) => describe(fields, &mut parts),
            Some(other) => parts.push(scalar(other)),
        }
        parts.join(" · ")
    }

    /// The `/` filter on the audit tab: action, target or principal.
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.to_lowercase();
        [&self.action, &self.target_label(), &self.principal]
            .iter()
            .any(|field| field.to_lowercase().contains(&filter))
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn describe(fields: &serde_json::Map<String, Value>, parts: &mut Vec<String>) {
    if let Some(name) = fields.get("name").and_then(Value::as_str) {
        parts.push(name.to_owned());
    }
    if let (Some(method), Some(path)) = (
        fields.get("method").and_then(Value::as_str),
        fields.get("path").and_then(Value::as_str),
    ) {
        parts.push(format!("{method} {path}"));
    }
    for (key, value) in fields {
        if matches!(key.as_str(), "name" | "method" | "path") {
            continue;
        }
        let label = key.strip_suffix("_id").unwrap_or(key).replace('_', " ");
        match value {
            Value::Null => {}
            Value::Object(inner) => describe(inner, parts),
            other => parts.push(format!("{label} {}", scalar(other))),
        }
    }
}
