//! `/v1/projects/{pid}/vault`: the project's entries. No response carries a value.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_client::wire::{
    CompareValue, CreateEntry, EntryList, EntryListParams, Rollback, SecretView, UpdateEntry,
    ValueComparison, VersionList,
};

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::ApiResult;
use crate::service::project_vault;
use crate::state::AppState;

#[utoipa::path(operation_id = "createProjectEntry", post, path = "/v1/projects/{pid}/vault", tag = "project vault", request_body = CreateEntry,
    responses((status = 201, body = SecretView), (status = 404), (status = 409, description = "name/scope overlap"),
        (status = 422, description = "an invalid field (`invalid_value`), a protected name (`protected_name`, field `name`), or the owner at `VAULT_MAX_ENTRIES_PER_OWNER` (`entry_limit_reached`, with `limit`)")))]
pub async fn create_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<CreateEntry>,
) -> ApiResult<Response> {
    let created = project_vault::create_entry(&state, &principal, &pid, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(operation_id = "listProjectEntries", get, path = "/v1/projects/{pid}/vault", tag = "project vault", params(EntryListParams),
    responses((status = 200, body = EntryList), (status = 404)))]
pub async fn list_entries(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
    QueryParams(params): QueryParams<EntryListParams>,
) -> ApiResult<Json<EntryList>> {
    Ok(Json(
        project_vault::list_entries(&state, &principal, &pid, params).await?,
    ))
}

#[utoipa::path(operation_id = "getProjectEntry", get, path = "/v1/projects/{pid}/vault/{id}", tag = "project vault",
    responses((status = 200, body = SecretView), (status = 404)))]
pub async fn get_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(
        project_vault::get_entry(&state, &principal, &pid, &id).await?,
    ))
}

#[utoipa::path(operation_id = "updateProjectEntry", patch, path = "/v1/projects/{pid}/vault/{id}", tag = "project vault", request_body = UpdateEntry,
    responses((status = 200, body = SecretView), (status = 404), (status = 409, description = "stale version or overlap")))]
pub async fn update_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateEntry>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(
        project_vault::update_entry(&state, &principal, &pid, &id, body).await?,
    ))
}

#[utoipa::path(operation_id = "deleteProjectEntry", delete, path = "/v1/projects/{pid}/vault/{id}", tag = "project vault",
    responses((status = 204), (status = 404)))]
pub async fn delete_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    project_vault::delete_entry(&state, &principal, &pid, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "listProjectEntryVersions", get, path = "/v1/projects/{pid}/vault/{id}/versions", tag = "project vault",
    responses((status = 200, body = VersionList), (status = 404)))]
pub async fn entry_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult<Json<VersionList>> {
    Ok(Json(
        project_vault::entry_versions(&state, &principal, &pid, &id).await?,
    ))
}

#[utoipa::path(operation_id = "rollbackProjectEntry", post, path = "/v1/projects/{pid}/vault/{id}/rollback", tag = "project vault", request_body = Rollback,
    responses((status = 200, body = SecretView), (status = 404, description = "no such entry"),
        (status = 409, description = "a stale `expected_version` (`stale_version`), or a version no longer kept (`version_not_kept`)")))]
pub async fn rollback_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Rollback>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(
        project_vault::rollback_entry(&state, &principal, &pid, &id, body).await?,
    ))
}

/// Whether a value is the entry's current one, changing nothing (`vaultctl import`'s
/// plan). Needs `can_write_entries`; audited with the answer; budgeted per principal.
#[utoipa::path(operation_id = "compareProjectEntry", post, path = "/v1/projects/{pid}/vault/{id}/compare", tag = "project vault", request_body = CompareValue,
    responses(crate::routes::compare::ComparisonResponses))]
pub async fn compare_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<CompareValue>,
) -> ApiResult<Json<ValueComparison>> {
    Ok(Json(
        project_vault::compare_entry(&state, &principal, &pid, &id, body).await?,
    ))
}
