//! Projects, their milestones and members, and the bodies of their vault entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vault_core::{Category, ProjectRole};

use crate::Plaintext;
use crate::wire::SecretPage;

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// 1-128 characters of A-Z, a-z, 0-9, `_`, `.`, `-`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    /// The project's first Accountable member.
    pub accountable_user_id: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMilestone {
    /// Generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMember {
    /// `accountable`, `responsible`, `consulted` or `informed`.
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MilestoneView {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    #[schema(value_type = String)]
    pub role: ProjectRole,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    pub id: String,
    pub name: String,
    pub milestones: Vec<MilestoneView>,
    pub members: Vec<MemberView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectRemovalView {
    pub project_id: String,
    /// Vault entries deleted with every version.
    pub entries_removed: u64,
    pub milestones_removed: u64,
    pub members_removed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MilestoneRemovalView {
    pub milestone_id: String,
    /// Entries that still reach other milestones, now without this one.
    pub entries_narrowed: u64,
    /// Entries whose only milestone this was, deleted with every version.
    pub entries_deleted: u64,
}

/// A new project vault entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    /// `^[A-Z_][A-Z0-9_]*$`, at most 256 characters.
    pub name: String,
    /// UTF-8, at most 64 KiB. Never returned.
    #[schema(value_type = String, format = Password)]
    pub value: Plaintext,
    /// `api_key`, `access_token`, `secret`, `certificate`, `password`,
    /// `webhook_secret` or `other`.
    pub category: String,
    /// `project` or `milestone`.
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339, in the future.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A change to a project vault entry; absent fields are left alone.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntry {
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Plaintext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
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
    /// Refuse the change (409) unless the entry is at this version.
    #[serde(
        default,
        deserialize_with = "crate::de::integral_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_version: Option<u32>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntryListParams {
    /// 1 to 200; 50 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Needs a role that reads entry metadata (not Informed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
}

/// What an Informed member sees of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryName {
    pub name: String,
    #[schema(value_type = String)]
    pub category: Category,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryNamePage {
    pub data: Vec<EntryName>,
    pub next_cursor: Option<String>,
}

/// Full masked metadata, or names and categories only for Informed members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EntryList {
    Full(SecretPage),
    Names(EntryNamePage),
}

impl EntryList {
    /// The cursor of the next page, whichever shape this page has.
    pub fn next_cursor(&self) -> Option<&str> {
        match self {
            EntryList::Full(page) => page.next_cursor.as_deref(),
            EntryList::Names(page) => page.next_cursor.as_deref(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProjectListParams {
    /// 1 to 200; 50 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectSummary {
    pub id: String,
    pub name: String,
    /// The caller's role, for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub role: Option<ProjectRole>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectPage {
    pub data: Vec<ProjectSummary>,
    pub next_cursor: Option<String>,
}
