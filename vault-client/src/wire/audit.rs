//! The audit trail as operators page through it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use vault_core::AuditAction;

#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// 1 to 200; 50 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only records before this position (the `next_before` of the previous page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// One of the actions the trail records (`secret.create`, `resolve`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Records whose target mentions this text (a secret id or name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditView {
    pub seq: u64,
    pub id: String,
    pub at: DateTime<Utc>,
    pub principal: String,
    /// An `AuditAction`'s name; records written by older versions may carry others.
    pub action: String,
    /// What was acted on, as recorded: ids and names, never a value. Its shape depends
    /// on the action, so it stays JSON.
    #[schema(value_type = Option<Object>)]
    pub target: Option<serde_json::Value>,
    pub outcome: String,
    pub request_id: String,
    pub hash: String,
}

impl AuditView {
    /// The action as the vault names it today; `None` for a name it no longer uses.
    pub fn action(&self) -> Option<AuditAction> {
        self.action.parse().ok()
    }

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

    /// The target as indented JSON, for a record shown whole; `None` without one.
    pub fn target_pretty(&self) -> Option<String> {
        self.target
            .as_ref()
            .and_then(|target| serde_json::to_string_pretty(target).ok())
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditView>,
    pub next_before: Option<u64>,
}
