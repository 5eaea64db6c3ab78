//! Who may do what in projects and workspaces: the `Authorizer` trait answers
//! OpenFGA-style checks (user, relation, object) for the relations of
//! `authz/model.fga`. The embedded implementation reads RACI roles and workspace admins
//! from the store and applies vault-core's mapping; an OpenFGA-server-backed one can
//! replace it without touching a route. Token kinds that are not users (operator,
//! orchestrator, session) are decided by the routes, outside the model.

use async_trait::async_trait;
use vault_core::{ProjectId, ProjectPermission, UserId, WorkspaceId, WorkspacePermission};
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
}

/// Decides from the store's project members and workspace admins.
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
        let admin = self
            .store
            .is_workspace_admin(workspace.clone(), user.clone())
            .await?;
        Ok(admin && permission.granted_to_admin())
    }
}
