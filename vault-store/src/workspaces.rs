//! Workspace admins (the users who manage one workspace's BYOK keys) and members (the
//! users whose agents get those keys; admins count as members).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use vault_core::{UserId, WorkspaceId, WorkspaceRole};

use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Entity, StoreError, StoreResult};
use crate::schema::{workspace_admins, workspace_members};

/// A user registered with a workspace, as an admin or as a member (admins are members
/// without a member row of their own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceUser {
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
) -> StoreResult<WorkspaceUser> {
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
    Ok(WorkspaceUser {
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
) -> StoreResult<Vec<WorkspaceUser>> {
    let rows: Vec<(String, i64)> = workspace_admins::table
        .filter(workspace_admins::workspace_id.eq(workspace.as_str()))
        .order(workspace_admins::user_id.asc())
        .select((workspace_admins::user_id, workspace_admins::created_at))
        .load(conn)?;
    rows.into_iter()
        .map(|(user, created_at)| {
            Ok(WorkspaceUser {
                workspace_id: workspace.clone(),
                user_id: UserId::parse(&user)
                    .map_err(StoreError::stored("workspace_admins.user_id"))?,
                created_at: from_micros("workspace_admins.created_at", created_at)?,
            })
        })
        .collect()
}

fn member_created_at(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
) -> StoreResult<Option<i64>> {
    Ok(workspace_members::table
        .find((workspace.as_str(), user.as_str()))
        .select(workspace_members::created_at)
        .first(conn)
        .optional()?)
}

/// Registers the member; registering one twice keeps the first registration.
pub(crate) fn put_member(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
    now: DateTime<Utc>,
) -> StoreResult<WorkspaceUser> {
    if member_created_at(conn, workspace, user)?.is_none() {
        // A savepoint, as for admins: a lost race leaves the winner's row.
        let inserted = write_transaction(conn, |conn| {
            diesel::insert_into(workspace_members::table)
                .values((
                    workspace_members::workspace_id.eq(workspace.as_str()),
                    workspace_members::user_id.eq(user.as_str()),
                    workspace_members::created_at.eq(micros(now)),
                ))
                .execute(conn)
                .map_err(StoreError::from)
        });
        match inserted {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    member(conn, workspace, user)?.ok_or(StoreError::NotFound(Entity::WorkspaceMember))
}

pub(crate) fn remove_member(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
) -> StoreResult<()> {
    let removed =
        diesel::delete(workspace_members::table.find((workspace.as_str(), user.as_str())))
            .execute(conn)?;
    if removed == 0 {
        return Err(StoreError::NotFound(Entity::WorkspaceMember));
    }
    Ok(())
}

pub(crate) fn member(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
) -> StoreResult<Option<WorkspaceUser>> {
    member_created_at(conn, workspace, user)?
        .map(|created_at| {
            Ok(WorkspaceUser {
                workspace_id: workspace.clone(),
                user_id: user.clone(),
                created_at: from_micros("workspace_members.created_at", created_at)?,
            })
        })
        .transpose()
}

pub(crate) fn members(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
) -> StoreResult<Vec<WorkspaceUser>> {
    let rows: Vec<(String, i64)> = workspace_members::table
        .filter(workspace_members::workspace_id.eq(workspace.as_str()))
        .order(workspace_members::user_id.asc())
        .select((workspace_members::user_id, workspace_members::created_at))
        .load(conn)?;
    rows.into_iter()
        .map(|(user, created_at)| {
            Ok(WorkspaceUser {
                workspace_id: workspace.clone(),
                user_id: UserId::parse(&user)
                    .map_err(StoreError::stored("workspace_members.user_id"))?,
                created_at: from_micros("workspace_members.created_at", created_at)?,
            })
        })
        .collect()
}

/// What `user` is to `workspace`: an admin, a registered member, or nobody.
pub(crate) fn role(
    conn: &mut DbConnection,
    workspace: &WorkspaceId,
    user: &UserId,
) -> StoreResult<Option<WorkspaceRole>> {
    if is_admin(conn, workspace, user)? {
        return Ok(Some(WorkspaceRole::Admin));
    }
    Ok(member_created_at(conn, workspace, user)?.map(|_| WorkspaceRole::Member))
}
