//! Resolution and sessions: the orchestrator's calls, and the agent's runtime lookup.
//! These are the only answers that carry plaintext, in `SecretValue`s.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vault_core::{EnvName, SecretValue, SkipReason, Source};

use crate::Plaintext;

/// The agent context a resolution or a session is for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub user_id: String,
    pub profile_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone_id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub user_id: String,
    pub profile_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone_id: Option<String>,
    /// The profile's `setup_commands` env: the highest layer.
    #[schema(value_type = Option<HashMap<String, String>>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_env: Option<BTreeMap<String, Plaintext>>,
    /// The platform's baseline env: the lowest layer, and the only one reserved names
    /// may come from.
    #[schema(value_type = Option<HashMap<String, String>>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_env: Option<BTreeMap<String, Plaintext>>,
    /// Add `sources` (per name, the winner, what it shadowed and what was skipped) and
    /// `unresolved` (names every source of which was skipped, with why).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explain: bool,
}

impl ResolveRequest {
    /// A request for `context` with no layers of the orchestrator's own.
    pub fn for_context(context: Context) -> Self {
        ResolveRequest {
            user_id: context.user_id,
            profile_id: context.profile_id,
            workspace_id: context.workspace_id,
            project_id: context.project_id,
            milestone_id: context.milestone_id,
            ..ResolveRequest::default()
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResolveResponse {
    #[schema(value_type = HashMap<String, String>)]
    #[serde(with = "crate::plaintext::env")]
    pub env: BTreeMap<EnvName, SecretValue>,
    /// Names left out because every entry holding them has expired.
    pub expired: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub sources: Option<BTreeMap<String, Explained>>,
    /// With `explain`: names no source could set (expired, reserved for the baseline,
    /// or protected), each with the sources skipped and the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub unresolved: Option<BTreeMap<String, Vec<SkippedSource>>>,
}

/// Where one name's value came from, and what it won over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explained {
    #[serde(flatten)]
    pub winner: Source,
    pub shadowed: Vec<Source>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedSource>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSource {
    #[serde(flatten)]
    pub source: Source,
    pub reason: SkipReason,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    pub user_id: String,
    pub profile_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone_id: Option<String>,
    /// 1 to 86400; 3600 when absent.
    #[serde(
        default,
        deserialize_with = "crate::de::integral_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl_seconds: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    /// The session's bearer token. Shown once; only its hash is kept.
    #[schema(value_type = String)]
    pub token: Plaintext,
    pub expires_at: DateTime<Utc>,
    pub user_id: String,
    pub profile_id: String,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    pub milestone_id: Option<String>,
}

/// The whole env of a session's context, as the runner inside the container fetches
/// it: what `POST /v1/resolve` answers the orchestrator from the stored layers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RuntimeEnv {
    #[schema(value_type = HashMap<String, String>)]
    #[serde(with = "crate::plaintext::env")]
    pub env: BTreeMap<EnvName, SecretValue>,
    /// Names left out because every entry holding them has expired.
    pub expired: Vec<String>,
}

/// A name looked up by an agent tool: the value when live, `null` with `expired`
/// when the entry that would answer has expired.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RuntimeSecret {
    pub name: String,
    #[schema(value_type = Option<String>)]
    #[serde(with = "crate::plaintext::optional_value")]
    pub value: Option<SecretValue>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}
