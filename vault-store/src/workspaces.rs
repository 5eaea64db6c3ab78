//! Workspace admins: the users who manage one workspace's BYOK keys.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use vault_core::{UserId, WorkspaceId};

use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Entity, StoreError, StoreResult};
use crate::schema::workspace_admins;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceAdmin {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
}

/// Registers the admin; registering one twice keeps the first registration.
pub(crate) fn put_admin(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
    now: DateTime<Utc>,
) -> StoreResult<WorkspaceAdmin> {
    if !is_admin(conn, workspace, user)? {
        // A savepoint: losing a race to register the same admin leaves the outer
        // transaction usable, and the winner's row is the answer.
        let inserted = write_transaction(conn, |conn| {
            diesel::insert_into(workspace_admins::table)
                .values((
                    workspace_admins::workspace_id.eq(workspace.as_str()),
                    workspace_admins::user_id.eq(user.as_str()),
                    workspace_admins::created_at.eq(micros(now)),
                ))
                .execute(conn)
                .map_err(StoreError::from)
        });
        match inserted {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    let created_at: i64 = workspace_admins::table
        .find((workspace.as_str(), user.as_str()))
        .select(workspace_admins::created_at)
        .first(conn)?;
    Ok(WorkspaceAdmin {
        workspace_id: workspace.clone(),
        user_id: user.clone(),
        created_at: from_micros("workspace_admins.created_at", created_at)?,
    })
}

pub(crate) fn remove_admin(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
) -> StoreResult<()> {
    let removed = diesel::delete(workspace_admins::table.find((workspace.as_str(), user.as_str())))
        .execute(conn)?;
    if removed == 0 {
        return Err(StoreError::NotFound(Entity::WorkspaceAdmin));
    }
    Ok(())
}

pub(crate) fn is_admin(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
) -> StoreResult<bool> {
    let found: i64 = workspace_admins::table
        .find((workspace.as_str(), user.as_str()))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

pub(crate) fn admins(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
) -> StoreResult<Vec<WorkspaceAdmin>> {
    let rows: Vec<(String, i64)> = workspace_admins::table
        .filter(workspace_admins::workspace_id.eq(workspace.as_str()))
        .order(workspace_admins::user_id.asc())
        .select((workspace_admins::user_id, workspace_admins::created_at))
        .load(conn)?;
    rows.into_iter()
        .map(|(user, created_at)| {
            Ok(WorkspaceAdmin {
                workspace_id: workspace.clone(),
                user_id: UserId::parse(&user)
                    .map_err(StoreError::stored("workspace_admins.user_id"))?,
                created_at: from_micros("workspace_admins.created_at", created_at)?,
            })
        })
        .collect()
}
