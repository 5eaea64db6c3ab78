//! `/v1/workspaces/{wid}/…`: a workspace's BYOK keys, shaped like user secrets (scope
//! `all` or `agents`), and its members (the users whose agents get those keys; admins
//! count as members), both managed by operators and by the users registered as that
//! workspace's admins; operators register and remove the admins. To any other user a
//! workspace answers 404, as if it had no keys at all.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_client::wire::{
    CompareValue, CreateKey, KeyListParams, Rollback, SecretPage, SecretView, UpdateSecret,
    ValueComparison, VersionList, WorkspaceUserList, WorkspaceUserView,
};

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::ApiResult;
use crate::service::workspaces;
use crate::state::AppState;

#[utoipa::path(operation_id = "putWorkspaceAdmin", put, path = "/v1/workspaces/{wid}/admins/{user_id}", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserView), (status = 403)))]
pub async fn put_admin(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<Json<WorkspaceUserView>> {
    Ok(Json(
        workspaces::put_admin(&state, &principal, &wid, &user_id).await?,
    ))
}

#[utoipa::path(operation_id = "removeWorkspaceAdmin", delete, path = "/v1/workspaces/{wid}/admins/{user_id}", tag = "workspaces",
    responses((status = 204), (status = 404)))]
pub async fn remove_admin(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    workspaces::remove_admin(&state, &principal, &wid, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "listWorkspaceAdmins", get, path = "/v1/workspaces/{wid}/admins", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserList)))]
pub async fn list_admins(
    State(state): State<AppState>,
    principal: Principal,
    Path(wid): Path<String>,
) -> ApiResult<Json<WorkspaceUserList>> {
    Ok(Json(
        workspaces::list_admins(&state, &principal, &wid).await?,
    ))
}

#[utoipa::path(operation_id = "putWorkspaceMember", put, path = "/v1/workspaces/{wid}/members/{user_id}", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserView), (status = 403), (status = 404)))]
pub async fn put_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<Json<WorkspaceUserView>> {
    Ok(Json(
        workspaces::put_member(&state, &principal, &wid, &user_id).await?,
    ))
}

#[utoipa::path(operation_id = "removeWorkspaceMember", delete, path = "/v1/workspaces/{wid}/members/{user_id}", tag = "workspaces",
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    workspaces::remove_member(&state, &principal, &wid, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "getWorkspaceMember", get, path = "/v1/workspaces/{wid}/members/{user_id}", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserView), (status = 403), (status = 404)))]
pub async fn get_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, user_id)): Path<(String, String)>,
) -> ApiResult<Json<WorkspaceUserView>> {
    Ok(Json(
        workspaces::get_member(&state, &principal, &wid, &user_id).await?,
    ))
}

#[utoipa::path(operation_id = "listWorkspaceMembers", get, path = "/v1/workspaces/{wid}/members", tag = "workspaces",
    responses((status = 200, body = WorkspaceUserList), (status = 403), (status = 404)))]
pub async fn list_members(
    State(state): State<AppState>,
    principal: Principal,
    Path(wid): Path<String>,
) -> ApiResult<Json<WorkspaceUserList>> {
    Ok(Json(
        workspaces::list_members(&state, &principal, &wid).await?,
    ))
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
    let created = workspaces::create_key(&state, &principal, &wid, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(operation_id = "listWorkspaceKeys", get, path = "/v1/workspaces/{wid}/keys", tag = "workspaces", params(KeyListParams),
    responses((status = 200, body = SecretPage), (status = 404)))]
pub async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    Path(wid): Path<String>,
    QueryParams(params): QueryParams<KeyListParams>,
) -> ApiResult<Json<SecretPage>> {
    Ok(Json(
        workspaces::list_keys(&state, &principal, &wid, params).await?,
    ))
}

#[utoipa::path(operation_id = "getWorkspaceKey", get, path = "/v1/workspaces/{wid}/keys/{id}", tag = "workspaces",
    responses((status = 200, body = SecretView), (status = 404)))]
pub async fn get_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(
        workspaces::get_key(&state, &principal, &wid, &id).await?,
    ))
}

#[utoipa::path(operation_id = "updateWorkspaceKey", patch, path = "/v1/workspaces/{wid}/keys/{id}", tag = "workspaces", request_body = UpdateSecret,
    responses((status = 200, body = SecretView), (status = 404), (status = 409, description = "stale version or overlap")))]
pub async fn update_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateSecret>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(
        workspaces::update_key(&state, &principal, &wid, &id, body).await?,
    ))
}

#[utoipa::path(operation_id = "deleteWorkspaceKey", delete, path = "/v1/workspaces/{wid}/keys/{id}", tag = "workspaces",
    responses((status = 204), (status = 404)))]
pub async fn delete_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    workspaces::delete_key(&state, &principal, &wid, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "listWorkspaceKeyVersions", get, path = "/v1/workspaces/{wid}/keys/{id}/versions", tag = "workspaces",
    responses((status = 200, body = VersionList), (status = 404)))]
pub async fn key_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
) -> ApiResult<Json<VersionList>> {
    Ok(Json(
        workspaces::key_versions(&state, &principal, &wid, &id).await?,
    ))
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
    Ok(Json(
        workspaces::rollback_key(&state, &principal, &wid, &id, body).await?,
    ))
}

/// Whether a value is the key's current one, changing nothing (`vaultctl import`'s
/// plan). Audited with the answer; budgeted per principal.
#[utoipa::path(operation_id = "compareWorkspaceKey", post, path = "/v1/workspaces/{wid}/keys/{id}/compare", tag = "workspaces", request_body = CompareValue,
    responses(crate::routes::compare::ComparisonResponses))]
pub async fn compare_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((wid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<CompareValue>,
) -> ApiResult<Json<ValueComparison>> {
    Ok(Json(
        workspaces::compare_key(&state, &principal, &wid, &id, body).await?,
    ))
}

#[utoipa::path(operation_id = "listAllWorkspaceKeys", get, path = "/v1/workspace-keys", tag = "workspaces", params(KeyListParams),
    responses((status = 200, body = SecretPage), (status = 403)))]
pub async fn list_all_keys(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<KeyListParams>,
) -> ApiResult<Json<SecretPage>> {
    Ok(Json(
        workspaces::list_all_keys(&state, &principal, params).await?,
    ))
}
