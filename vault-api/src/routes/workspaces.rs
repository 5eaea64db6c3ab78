//! `/v1/workspaces/{wid}/…`: a workspace's BYOK keys, shaped like user secrets (scope
//! `all` or `agents`), and its members (the users whose agents get those keys; admins
//! count as members), both managed by operators and by the users registered as that
//! workspace's admins; operators register and remove the admins. To any other user a
//! workspace answers 404, as if it had no keys at all.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use vault_core::AuditAction;
use vault_core::{
    Category, Owner, OwnerKind, Scope, SecretMeta, UserId, WorkspaceId, WorkspacePermission,
};
use vault_store::{ListOwner, WorkspaceUser};

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::{ApiError, ApiResult};
use crate::routes::entries::{self, Family, ListFilter, NewEntry};
use crate::state::AppState;
use vault_client::wire::{
    CreateKey, KeyListParams, Rollback, SecretPage, SecretView, UpdateSecret, VersionList,
    WorkspaceUserList, WorkspaceUserView,
};

use vault_store::TokenKind::{Operator, User};

fn user_view(registered: WorkspaceUser) -> WorkspaceUserView {
    WorkspaceUserView {
        workspace_id: registered.workspace_id.as_str().to_owned(),
        user_id: registered.user_id.as_str().to_owned(),
        created_at: registered.created_at,
    }
}

/// The user a registration change names, and the change's audit record.
fn registration_change(
    state: &AppState,
    principal: &Principal,
    workspace: &WorkspaceId,
    user_id: &str,
    action: AuditAction,
) -> ApiResult<(UserId, vault_core::AuditEntry)> {
    let user = UserId::parse(user_id).map_err(ApiError::core("user_id"))?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        action,
        json!({"workspace_id": workspace.as_str(), "user_id": user.as_str()}),
        "ok",
    )?;
    Ok((user, audit))
}

fn parse_workspace(id: &str) -> ApiResult<WorkspaceId> {
    WorkspaceId::parse(id).map_err(ApiError::core("workspace_id"))
}

/// The workspace in which this principal holds `permission`: any, for an operator;
/// for a user, one they administer (404 otherwise, so a workspace's existence does not
/// leak).
async fn administered_workspace(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    permission: WorkspacePermission,
) -> ApiResult<WorkspaceId> {
    principal.require(&[Operator, User])?;
    let workspace = parse_workspace(wid)?;
    if let Some(user) = principal.user() {
        let allowed = state
            .authorizer
            .check_workspace(user, permission, &workspace)
            .await?;
        if !allowed {
            return Err(ApiError::NotFound("workspace"));
        }
    }
    Ok(workspace)
}

/// The workspace whose keys this principal may manage.
async fn managed_workspace(
    state: &AppState,
    principal: &Principal,
    wid: &str,
) -> ApiResult<WorkspaceId> {
    administered_workspace(state, principal, wid, WorkspacePermission::ManageKeys).await
}

async fn managed_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
) -> ApiResult<SecretMeta> {
    let workspace = managed_workspace(state, principal, wid).await?;
    entries::load_owned(state, id, &Owner::Workspace(workspace)).await
}

#[utoipa::path(operation_id = "putWorkspaceAdmin", put, path = "/v1/workspaces/{wid}/admins/{user_id}", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserView), (status = 403)))]
pub async fn put_admin(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<Json<WorkspaceUserView>> {
    principal.require(&[Operator])?;
    let workspace = parse_workspace(&wid)?;
    let (user, audit) = registration_change(
        &state,
        &principal,
        &workspace,
        &user_id,
        AuditAction::WorkspaceAdminPut,
    )?;
    let admin = state
        .store
        .put_workspace_admin(workspace, user, state.clock.now(), audit)
        .await?;
    Ok(Json(user_view(admin)))
}

#[utoipa::path(operation_id = "removeWorkspaceAdmin", delete, path = "/v1/workspaces/{wid}/admins/{user_id}", tag = "workspaces",
    responses((status = 204), (status = 404)))]
pub async fn remove_admin(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    principal.require(&[Operator])?;
    let workspace = parse_workspace(&wid)?;
    let (user, audit) = registration_change(
        &state,
        &principal,
        &workspace,
        &user_id,
        AuditAction::WorkspaceAdminRemove,
    )?;
    state
        .store
        .remove_workspace_admin(workspace, user, audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "listWorkspaceAdmins", get, path = "/v1/workspaces/{wid}/admins", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserList)))]
pub async fn list_admins(
    State(state): State<AppState>,
    principal: Principal,
    Path(wid): Path<String>,
) -> ApiResult<Json<WorkspaceUserList>> {
    principal.require(&[Operator])?;
    let workspace = parse_workspace(&wid)?;
    let data = state
        .store
        .workspace_admins(workspace)
        .await?
        .into_iter()
        .map(user_view)
        .collect();
    Ok(Json(WorkspaceUserList { data }))
}

#[utoipa::path(operation_id = "putWorkspaceMember", put, path = "/v1/workspaces/{wid}/members/{user_id}", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserView), (status = 403), (status = 404)))]
pub async fn put_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<Json<WorkspaceUserView>> {
    let workspace =
        administered_workspace(&state, &principal, &wid, WorkspacePermission::ManageMembers)
            .await?;
    let (user, audit) = registration_change(
        &state,
        &principal,
        &workspace,
        &user_id,
        AuditAction::WorkspaceMemberPut,
    )?;
    let member = state
        .store
        .put_workspace_member(workspace, user, state.clock.now(), audit)
        .await?;
    Ok(Json(user_view(member)))
}

#[utoipa::path(operation_id = "removeWorkspaceMember", delete, path = "/v1/workspaces/{wid}/members/{user_id}", tag = "workspaces",
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let workspace =
        administered_workspace(&state, &principal, &wid, WorkspacePermission::ManageMembers)
            .await?;
    let (user, audit) = registration_change(
        &state,
        &principal,
        &workspace,
        &user_id,
        AuditAction::WorkspaceMemberRemove,
    )?;
    state
        .store
        .remove_workspace_member(workspace, user, audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "getWorkspaceMember", get, path = "/v1/workspaces/{wid}/members/{user_id}", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserView), (status = 403), (status = 404)))]
pub async fn get_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<Json<WorkspaceUserView>> {
    let workspace =
        administered_workspace(&state, &principal, &wid, WorkspacePermission::ManageMembers)
            .await?;
    let user = UserId::parse(&user_id).map_err(ApiError::core("user_id"))?;
    let member = state
        .store
        .workspace_member(workspace, user)
        .await?
        .ok_or(ApiError::NotFound("workspace member"))?;
    Ok(Json(user_view(member)))
}

#[utoipa::path(operation_id = "listWorkspaceMembers", get, path = "/v1/workspaces/{wid}/members", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserList), (status = 403), (status = 404)))]
pub async fn list_members(
    State(state): State<AppState>,
    principal: Principal,
    Path(wid): Path<String>,
) -> ApiResult<Json<WorkspaceUserList>> {
    let workspace =
        administered_workspace(&state, &principal, &wid, WorkspacePermission::ManageMembers)
            .await?;
    let data = state
        .store
        .workspace_members(workspace)
        .await?
        .into_iter()
        .map(user_view)
        .collect();
    Ok(Json(WorkspaceUserList { data }))
}

#[utoipa::path(operation_id = "createWorkspaceKey", post, path = "/v1/workspaces/{wid}/keys", tag = "workspaces", request_body = CreateKey,
    responses((status = 201, body = SecretView), (status = 404), (status = 409, description = "name/scope overlap"),
        (status = 422, description = "an invalid field (`invalid_value`), a protected name (`protected_name`, field `name`), or the owner at `VAULT_MAX_ENTRIES_PER_OWNER` (`entry_limit_reached`, with `limit`)")))]
pub async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(wid): Path<String>,
    JsonBody(body): JsonBody<CreateKey>,
) -> ApiResult<Response> {
    let workspace = managed_workspace(&state, &principal, &wid).await?;
    let scope = Family::Profiles
        .parse_scope(body.scope.as_deref(), body.profile_ids.as_deref(), None)?
        .unwrap_or(Scope::All);
    let new = NewEntry {
        name: body.name,
        value: body.value,
        scope,
        category: Category::default(),
        description: body.description,
        expires_at: body.expires_at,
    };
    entries::create(&state, &principal, Owner::Workspace(workspace), new).await
}

#[utoipa::path(operation_id = "listWorkspaceKeys", get, path = "/v1/workspaces/{wid}/keys", tag = "workspaces", params(KeyListParams),
    responses((status = 200, body = SecretPage), (status = 404)))]
pub async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    Path(wid): Path<String>,
    QueryParams(params): QueryParams<KeyListParams>,
) -> ApiResult<Json<SecretPage>> {
    let workspace = managed_workspace(&state, &principal, &wid).await?;
    let filter = ListFilter {
        limit: params.limit,
        cursor: params.cursor,
        name_prefix: params.name_prefix,
        category: None,
        expired: params.expired,
    };
    Ok(Json(
        entries::list_views(&state, Owner::Workspace(workspace), filter).await?,
    ))
}

#[utoipa::path(operation_id = "getWorkspaceKey", get, path = "/v1/workspaces/{wid}/keys/{id}", tag = "workspaces",
    responses((status = 200, body = SecretView), (status = 404)))]
pub async fn get_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
) -> ApiResult<Json<SecretView>> {
    let meta = managed_key(&state, &principal, &wid, &id).await?;
    entries::get(&state, &meta).await
}

#[utoipa::path(operation_id = "updateWorkspaceKey", patch, path = "/v1/workspaces/{wid}/keys/{id}", tag = "workspaces", request_body = UpdateSecret,
    responses((status = 200, body = SecretView), (status = 404), (status = 409, description = "stale version or overlap")))]
pub async fn update_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateSecret>,
) -> ApiResult<Json<SecretView>> {
    let meta = managed_key(&state, &principal, &wid, &id).await?;
    entries::update(&state, &principal, meta, body.into()).await
}

#[utoipa::path(operation_id = "deleteWorkspaceKey", delete, path = "/v1/workspaces/{wid}/keys/{id}", tag = "workspaces",
    responses((status = 204), (status = 404)))]
pub async fn delete_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let loaded = managed_key(&state, &principal, &wid, &id).await;
    let meta = entries::for_deletion(&state, &principal, &id, loaded).await?;
    entries::delete(&state, &principal, meta).await
}

#[utoipa::path(operation_id = "listWorkspaceKeyVersions", get, path = "/v1/workspaces/{wid}/keys/{id}/versions", tag = "workspaces",
    responses((status = 200, body = VersionList), (status = 404)))]
pub async fn key_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
) -> ApiResult<Json<VersionList>> {
    let meta = managed_key(&state, &principal, &wid, &id).await?;
    entries::versions(&state, &meta).await
}

#[utoipa::path(operation_id = "rollbackWorkspaceKey", post, path = "/v1/workspaces/{wid}/keys/{id}/rollback", tag = "workspaces", request_body = Rollback,
    responses((status = 200, body = SecretView), (status = 404, description = "no such entry"),
        (status = 409, description = "a stale `expected_version` (`stale_version`), or a version no longer kept (`version_not_kept`)")))]
pub async fn rollback_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Rollback>,
) -> ApiResult<Json<SecretView>> {
    let meta = managed_key(&state, &principal, &wid, &id).await?;
    entries::rollback(&state, &principal, meta, body).await
}

#[utoipa::path(operation_id = "listAllWorkspaceKeys", get, path = "/v1/workspace-keys", tag = "workspaces", params(KeyListParams),
    responses((status = 200, body = SecretPage), (status = 403)))]
pub async fn list_all_keys(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<KeyListParams>,
) -> ApiResult<Json<SecretPage>> {
    principal.require(&[Operator])?;
    let filter = ListFilter {
        limit: params.limit,
        cursor: params.cursor,
        name_prefix: params.name_prefix,
        category: None,
        expired: params.expired,
    };
    Ok(Json(
        entries::list_views(&state, ListOwner::EveryOf(OwnerKind::Workspace), filter).await?,
    ))
}
