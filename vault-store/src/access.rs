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

/// At most two statements of fixed shape (no bound LIMIT, so SQLite keeps them
/// prepared), each a primary-key lookup; none for a context naming neither layer.
pub(crate) fn context_roles(
    conn: &mut DbConnection,
    context: &ResolutionContext,
) -> StoreResult<ContextRoles> {
    let user = context.user().as_str();
    let project = match context.project() {
        None => None,
        Some(project) => {
            let roles: Vec<String> = on_backend!(conn, |conn| project_members::table
                .filter(project_members::project_id.eq(project.as_str()))
                .filter(project_members::user_id.eq(user))
                .select(project_members::role)
                .load(conn))?;
            roles
                .into_iter()
                .next()
                .map(|role| {
                    role.parse()
                        .map_err(StoreError::stored("project_members.role"))
                })
                .transpose()?
        }
    };
    let workspace = match context.workspace() {
        None => None,
        Some(workspace) => {
            let (admin, member): (bool, bool) = on_backend!(conn, |conn| diesel::select((
                exists(
                    workspace_admins::table
                        .filter(workspace_admins::workspace_id.eq(workspace.as_str()))
                        .filter(workspace_admins::user_id.eq(user)),
                ),
                exists(
                    workspace_members::table
                        .filter(workspace_members::workspace_id.eq(workspace.as_str()))
                        .filter(workspace_members::user_id.eq(user)),
                ),
            ))
            .get_result(conn))?;
            match (admin, member) {
                (true, _) => Some(WorkspaceRole::Admin),
                (false, true) => Some(WorkspaceRole::Member),
                (false, false) => None,
            }
        }
    };
    Ok(ContextRoles { project, workspace })
}
