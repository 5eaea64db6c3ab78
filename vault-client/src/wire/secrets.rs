//! User secrets, workspace keys and project entries: the one metadata shape all three
//! answer with, their versions, and the bodies that create and change them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vault_core::{
    Category, MilestoneId, Owner, ProfileId, ProjectId, ScopeKind, SecretId, SecretName, UserId,
    WorkspaceId,
};

use crate::Plaintext;

/// Metadata and masked value of a user secret, workspace key or project entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretView {
    #[schema(value_type = String)]
    pub id: SecretId,
    /// Set on user secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// Set on workspace keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub workspace_id: Option<WorkspaceId>,
    /// Set on project entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub project_id: Option<ProjectId>,
    #[schema(value_type = String)]
    pub name: SecretName,
    /// `all` or `agents` (user secrets, workspace keys); `project` or `milestone`
    /// (project entries).
    #[schema(value_type = String)]
    pub scope: ScopeKind,
    /// The profiles an `agents` scope reaches (user secrets and workspace keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub profile_ids: Option<Vec<ProfileId>>,
    /// The milestones a `milestone` scope reaches (project entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub milestone_ids: Option<Vec<MilestoneId>>,
    #[schema(value_type = String)]
    pub category: Category,
    pub masked: String,
    pub version: u32,
    pub description: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SecretView {
    /// Who owns the entry. Exactly one owner id is set on every entry the vault
    /// answers with; `None` means the answer was not the vault's.
    pub fn owner(&self) -> Option<Owner> {
        match (&self.user_id, &self.workspace_id, &self.project_id) {
            (Some(user), None, None) => Some(Owner::User(user.clone())),
            (None, Some(workspace), None) => Some(Owner::Workspace(workspace.clone())),
            (None, None, Some(project)) => Some(Owner::Project(project.clone())),
            _ => None,
        }
    }

    /// The profile or milestone ids of a narrow scope, as strings; empty otherwise.
    pub fn targets(&self) -> Vec<String> {
        match (&self.profile_ids, &self.milestone_ids) {
            (Some(profiles), _) => profiles.iter().map(|p| p.as_str().to_owned()).collect(),
            (None, Some(milestones)) => milestones.iter().map(|m| m.as_str().to_owned()).collect(),
            (None, None) => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretPage {
    pub data: Vec<SecretView>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionView {
    pub version: u32,
    pub masked: String,
    pub current: bool,
    pub restored_from: Option<u32>,
    pub kek_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    pub data: Vec<VersionView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version whose value becomes current again (as a new version).
    #[serde(deserialize_with = "crate::de::integral")]
    pub version: u32,
    #[serde(
        default,
        deserialize_with = "crate::de::integral_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_version: Option<u32>,
}

/// A value to compare with an entry's current one, without changing anything: how
/// `vaultctl import` tells `unchanged` from `rotate`. Each comparison is audited and
/// counted against the caller's budget (`too_many_comparisons`), since a run of them
/// tests guesses.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareValue {
    #[schema(value_type = String, format = Password)]
    pub value: Plaintext,
}

/// Whether a compared value is the entry's current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueComparison {
    /// True when the value is byte for byte the current version's.
    pub matches: bool,
    /// The version compared with: send it as `expected_version` when rotating.
    pub version: u32,
}

/// A new user secret.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecret {
    /// `^[A-Z_][A-Z0-9_]*$`, at most 256 characters.
    pub name: String,
    /// UTF-8, at most 64 KiB. Never returned.
    #[schema(value_type = String, format = Password)]
    pub value: Plaintext,
    /// `all` (default) or `agents`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339, in the future.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// For operator and orchestrator tokens: the user who owns the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A change to a user secret or workspace key; an absent field is left alone, a
/// `null` description or expiry clears it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSecret {
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Plaintext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_ids: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "crate::de::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "crate::de::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    /// Refuse the change (409) unless the secret is at this version.
    #[serde(
        default,
        deserialize_with = "crate::de::integral_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_version: Option<u32>,
}

/// A page of a user's secrets.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1 to 200; 50 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
    /// Whose secrets: required for orchestrator tokens; an operator without it lists
    /// every user's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A new workspace key.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// `^[A-Z_][A-Z0-9_]*$`, at most 256 characters.
    pub name: String,
    /// UTF-8, at most 64 KiB. Never returned.
    #[schema(value_type = String, format = Password)]
    pub value: Plaintext,
    /// `all` (default) or `agents`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339, in the future.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A page of workspace keys.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KeyListParams {
    /// 1 to 200; 50 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
}
