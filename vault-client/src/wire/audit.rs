//! The audit trail as operators page through it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditView>,
    pub next_before: Option<u64>,
}
