//! The roles that decide whether a resolution context's user may have its workspace and
//! project layers injected. Read on every disclosure of plaintext and never cached, so
//! a removed member, a deleted project or a revoked workspace membership ends access at
//! the very next request, on every replica.

use diesel::dsl::exists;
use diesel::prelude::*;
use vault_core::{ContextRoles, ResolutionContext, WorkspaceRole};

use crate::db::{DbConnection, on_backend};
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
