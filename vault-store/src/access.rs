//! The roles that decide whether a resolution context's user may have its workspace and
//! project layers injected. Read on every disclosure of plaintext and never cached, so
//! a removed member, a deleted project or a revoked workspace membership ends access at
//! the very next request, on every replica.

use diesel::dsl::exists;
use diesel::prelude::*;
use vault_core::{
    ContextRoles, ProjectId, ResolutionContext, UserId, UserStanding, WorkspaceId, WorkspaceRole,
};

use crate::db::{DbConnection, on_backend, read_transaction};
use crate::error::{StoreError, StoreResult};
use crate::schema::{project_members, workspace_admins, workspace_members};

/// One statement of fixed shape for every context (an absent workspace or project
/// binds NULL, which equals nothing; no bound LIMIT, so SQLite keeps it prepared), made
/// of primary-key lookups; none at all for a context naming neither layer.
pub(crate) fn context_roles(
    conn: &mut DbConnection,
    context: &ResolutionContext,
) -> StoreResult<ContextRoles> {
    let user = context.user().as_str();
    let project = context.project().map(|p| p.as_str());
    let workspace = context.workspace().map(|w| w.as_str());
    if project.is_none() && workspace.is_none() {
        return Ok(ContextRoles::default());
    }
    let (role, admin, member): (Option<String>, bool, bool) =
        on_backend!(conn, |conn| diesel::select((
            project_members::table
                .filter(project_members::project_id.nullable().eq(project))
                .filter(project_members::user_id.eq(user))
                .select(project_members::role)
                .single_value(),
            exists(
                workspace_admins::table
                    .filter(workspace_admins::workspace_id.nullable().eq(workspace))
                    .filter(workspace_admins::user_id.eq(user)),
            ),
            exists(
                workspace_members::table
                    .filter(workspace_members::workspace_id.nullable().eq(workspace))
                    .filter(workspace_members::user_id.eq(user)),
            ),
        ))
        .get_result(conn))?;
    let project = role
        .map(|role| {
            role.parse()
                .map_err(StoreError::stored("project_members.role"))
        })
        .transpose()?;
    let workspace = match (admin, member) {
        (true, _) => Some(WorkspaceRole::Admin),
        (false, true) => Some(WorkspaceRole::Member),
        (false, false) => None,
    };
    Ok(ContextRoles { project, workspace })
}

/// What `user` is to every workspace they administer and every project they belong
/// to, from one snapshot: who a user's event feed is for. Read fresh by every reader of
/// the feed, and again while a stream stays open.
pub(crate) fn user_standing(conn: &mut DbConnection, user: &UserId) -> StoreResult<UserStanding> {
    read_transaction(conn, |conn| {
        let administered: Vec<String> = workspace_admins::table
            .filter(workspace_admins::user_id.eq(user.as_str()))
            .select(workspace_admins::workspace_id)
            .load(conn)?;
        let memberships: Vec<(String, String)> = project_members::table
            .filter(project_members::user_id.eq(user.as_str()))
            .select((project_members::project_id, project_members::role))
            .load(conn)?;
        let mut standing = UserStanding {
            user: Some(user.clone()),
            ..UserStanding::default()
        };
        for workspace in administered {
            standing.admin_of.insert(
                WorkspaceId::parse(&workspace)
                    .map_err(StoreError::stored("workspace_admins.workspace_id"))?,
            );
        }
        for (project, role) in memberships {
            standing.projects.insert(
                ProjectId::parse(&project)
                    .map_err(StoreError::stored("project_members.project_id"))?,
                role.parse()
                    .map_err(StoreError::stored("project_members.role"))?,
            );
        }
        Ok(standing)
    })
}
