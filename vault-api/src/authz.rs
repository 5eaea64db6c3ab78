//! Who may do what in projects and workspaces: the `Authorizer` trait answers
//! OpenFGA-style checks (user, relation, object) for the relations of
//! `authz/model.fga`. The embedded implementation reads RACI roles and workspace roles
//! from the store and applies vault-core's mapping; an OpenFGA-server-backed one can
//! replace it without touching a route. Token kinds that are not users (operator,
//! orchestrator, session) are decided by the routes, outside the model.

use async_trait::async_trait;
use vault_core::{
    InjectionRefused, ProjectId, ProjectPermission, ProjectRole, ResolutionContext, UserId,
    WorkspaceId, WorkspacePermission, check_injection,
};
use vault_store::Store;

use crate::error::ApiResult;

#[async_trait]
pub trait Authorizer: Send + Sync {
    async fn check_project(
        &self,
        user: &UserId,
        permission: ProjectPermission,
        project: &ProjectId,
    ) -> ApiResult<bool>;

    async fn check_workspace(
        &self,
        user: &UserId,
        permission: WorkspacePermission,
        workspace: &WorkspaceId,
    ) -> ApiResult<bool>;

    /// Whether the context's user may have every layer the context names injected
    /// (`can_inject` on its workspace and its project). Asked before any plaintext
    /// leaves: resolution, session creation and every runtime lookup. An
    /// implementation may answer it in one trip; it must agree with the two checks.
    async fn check_context(
        &self,
        context: &ResolutionContext,
    ) -> ApiResult<Result<(), InjectionRefused>> {
        check_context_by_relations(self, context).await
    }
}

/// `check_context` asked as the model's relations, one check per layer: what an
/// OpenFGA-backed authorizer does (a refused project also asks which role, if any, the
/// user holds, for the refusal's message).
pub async fn check_context_by_relations<A: Authorizer + ?Sized>(
    authorizer: &A,
    context: &ResolutionContext,
) -> ApiResult<Result<(), InjectionRefused>> {
    let user = context.user();
    if let Some(workspace) = context.workspace()
        && !authorizer
            .check_workspace(user, WorkspacePermission::Inject, workspace)
            .await?
    {
        return Ok(Err(InjectionRefused::Workspace {
            user: user.clone(),
            workspace: workspace.clone(),
        }));
    }
    if let Some(project) = context.project()
        && !authorizer
            .check_project(user, ProjectPermission::Inject, project)
            .await?
    {
        let mut role = None;
        for held in ProjectRole::ALL {
            if authorizer
                .check_project(user, ProjectPermission::Role(held), project)
                .await?
            {
                role = Some(held);
                break;
            }
        }
        return Ok(Err(InjectionRefused::Project {
            user: user.clone(),
            project: project.clone(),
            role,
        }));
    }
    Ok(Ok(()))
}

/// Decides from the store's project members and workspace admins and members.
pub struct StoreAuthorizer {
    store: Store,
}

impl StoreAuthorizer {
    pub fn new(store: Store) -> Self {
        StoreAuthorizer { store }
    }
}

#[async_trait]
impl Authorizer for StoreAuthorizer {
    async fn check_project(
        &self,
        user: &UserId,
        permission: ProjectPermission,
        project: &ProjectId,
    ) -> ApiResult<bool> {
        let role = self
            .store
            .member_role(project.clone(), user.clone())
            .await?;
        Ok(role.is_some_and(|role| role.grants(permission)))
    }

    async fn check_workspace(
        &self,
        user: &UserId,
        permission: WorkspacePermission,
        workspace: &WorkspaceId,
    ) -> ApiResult<bool> {
        let role = self
            .store
            .workspace_role(workspace.clone(), user.clone())
            .await?;
        Ok(role.is_some_and(|role| role.grants(permission)))
    }

    /// Both layers' roles in one trip to the database, read fresh on every call: this
    /// runs on every resolution and every runtime lookup.
    async fn check_context(
        &self,
        context: &ResolutionContext,
    ) -> ApiResult<Result<(), InjectionRefused>> {
        if context.workspace().is_none() && context.project().is_none() {
            return Ok(Ok(()));
        }
        let roles = self.store.context_roles(context.clone()).await?;
        Ok(check_injection(context, roles))
    }
}
