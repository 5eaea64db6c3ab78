//! A workspace's admin and member registrations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A workspace's admin or member registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceUserView {
    pub workspace_id: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceUserList {
    /// For members: the registered ones; the workspace's admins are members too
    /// without a registration of their own.
    pub data: Vec<WorkspaceUserView>,
}
