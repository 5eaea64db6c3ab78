//! `/v1/secrets`: a user's own secrets (seed 000). User tokens reach only their user's
//! secrets; operator and orchestrator tokens act for any user, naming it. Another
//! user's secret answers 404, exactly like a missing one. No response carries a value.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_client::wire::{
    CompareValue, CreateSecret, ListParams, Rollback, SecretPage, SecretView, UpdateSecret,
    ValueComparison, VersionList,
};

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::ApiResult;
use crate::service::secrets;
use crate::state::AppState;

#[utoipa::path(operation_id = "createSecret", post, path = "/v1/secrets", tag = "secrets", request_body = CreateSecret,
    responses((status = 201, body = SecretView), (status = 409, description = "name/scope overlap"),
        (status = 422, description = "an invalid field (`invalid_value`), a protected name (`protected_name`, field `name`), or the owner at `VAULT_MAX_ENTRIES_PER_OWNER` (`entry_limit_reached`, with `limit`)")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateSecret>,
) -> ApiResult<Response> {
    let created = secrets::create(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(operation_id = "listSecrets", get, path = "/v1/secrets", tag = "secrets", params(ListParams),
    responses((status = 200, body = SecretPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<SecretPage>> {
    Ok(Json(secrets::list(&state, &principal, params).await?))
}

#[utoipa::path(operation_id = "getSecret", get, path = "/v1/secrets/{id}", tag = "secrets",
    responses((status = 200, body = SecretView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(secrets::get(&state, &principal, &id).await?))
}

#[utoipa::path(operation_id = "updateSecret", patch, path = "/v1/secrets/{id}", tag = "secrets", request_body = UpdateSecret,
    responses((status = 200, body = SecretView), (status = 409, description = "stale version or overlap")))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateSecret>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(secrets::update(&state, &principal, &id, body).await?))
}

#[utoipa::path(operation_id = "deleteSecret", delete, path = "/v1/secrets/{id}", tag = "secrets",
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    secrets::delete(&state, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "listSecretVersions", get, path = "/v1/secrets/{id}/versions", tag = "secrets",
    responses((status = 200, body = VersionList), (status = 404)))]
pub async fn versions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<VersionList>> {
    Ok(Json(secrets::versions(&state, &principal, &id).await?))
}

#[utoipa::path(operation_id = "rollbackSecret", post, path = "/v1/secrets/{id}/rollback", tag = "secrets", request_body = Rollback,
    responses((status = 200, body = SecretView), (status = 404, description = "no such entry"),
        (status = 409, description = "a stale `expected_version` (`stale_version`), or a version no longer kept (`version_not_kept`)")))]
pub async fn rollback(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Rollback>,
) -> ApiResult<Json<SecretView>> {
    Ok(Json(
        secrets::rollback(&state, &principal, &id, body).await?,
    ))
}

/// Whether a value is the secret's current one, changing nothing (`vaultctl import`'s
/// plan). Audited with the answer; budgeted per principal (`VAULT_COMPARISONS_PER_MINUTE`).
#[utoipa::path(operation_id = "compareSecret", post, path = "/v1/secrets/{id}/compare", tag = "secrets", request_body = CompareValue,
    responses(crate::routes::compare::ComparisonResponses))]
pub async fn compare(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CompareValue>,
) -> ApiResult<Json<ValueComparison>> {
    Ok(Json(secrets::compare(&state, &principal, &id, body).await?))
}
