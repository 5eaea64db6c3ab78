//! `/v1/secrets`: a user's own secrets (seed 000). User tokens reach only their user's
//! secrets; operator and orchestrator tokens act for any user, naming it. Another
//! user's secret answers 404, exactly like a missing one. No response carries a value.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use vault_client::wire::{CreateSecret, ListParams, UpdateSecret};
use vault_core::{Category, Owner, OwnerKind, Scope, SecretMeta, UserId};
use vault_store::ListOwner;

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::{ApiError, ApiResult};
use crate::routes::entries::{self, Changes, Family, ListFilter, NewEntry};
use crate::state::AppState;
use vault_client::wire::{Rollback, SecretPage, SecretView, VersionList};

use vault_store::TokenKind::{Operator, Orchestrator, User};

impl From<UpdateSecret> for Changes {
    fn from(body: UpdateSecret) -> Self {
        Changes {
            value: body.value,
            scope: body.scope,
            targets: body.profile_ids,
            category: None,
            description: body.description,
            expires_at: body.expires_at,
            expected_version: body.expected_version,
        }
    }
}

/// The user a request acts for: a user token's own, or the `user_id` an operator or
/// orchestrator names.
fn acting_user(principal: &Principal, named: Option<&str>) -> ApiResult<UserId> {
    principal.require(&[User, Operator, Orchestrator])?;
    match (principal.user(), named) {
        (Some(own), None) => Ok(own.clone()),
        (Some(own), Some(named)) if named == own.as_str() => Ok(own.clone()),
        (Some(_), Some(_)) => Err(ApiError::Forbidden(
            "a user token acts only for its own user; leave user_id out".into(),
        )),
        (None, Some(named)) => UserId::parse(named).map_err(ApiError::core("user_id")),
        (None, None) => Err(ApiError::invalid(
            "user_id",
            "is required with an operator or orchestrator token",
        )),
    }
}

/// The secret `id` when this principal may see it; 404 otherwise, as if missing.
async fn visible(state: &AppState, principal: &Principal, id: &str) -> ApiResult<SecretMeta> {
    principal.require(&[User, Operator, Orchestrator])?;
    let meta = state.store.secret(entries::parse_secret_id(id)?).await?;
    let visible = match meta.placement.owner() {
        Owner::User(owner) => principal.user().is_none_or(|own| own == owner),
        _ => false,
    };
    if visible {
        Ok(meta)
    } else {
        Err(ApiError::NotFound("secret"))
    }
}

#[utoipa::path(operation_id = "createSecret", post, path = "/v1/secrets", tag = "secrets", request_body = CreateSecret,
    responses((status = 201, body = SecretView), (status = 409, description = "name/scope overlap"),
        (status = 422, description = "an invalid field (`invalid_value`), a protected name (`protected_name`, field `name`), or the owner at `VAULT_MAX_ENTRIES_PER_OWNER` (`entry_limit_reached`, with `limit`)")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateSecret>,
) -> ApiResult<Response> {
    let user = acting_user(&principal, body.user_id.as_deref())?;
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
    entries::create(&state, &principal, Owner::User(user), new).await
}

#[utoipa::path(operation_id = "listSecrets", get, path = "/v1/secrets", tag = "secrets", params(ListParams),
    responses((status = 200, body = SecretPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<SecretPage>> {
    // An operator without `user_id` browses every user's secrets.
    let owner: ListOwner = if principal.kind() == Operator && params.user_id.is_none() {
        ListOwner::EveryOf(OwnerKind::User)
    } else {
        Owner::User(acting_user(&principal, params.user_id.as_deref())?).into()
    };
    let filter = ListFilter {
        limit: params.limit,
        cursor: params.cursor,
        name_prefix: params.name_prefix,
        category: None,
        expired: params.expired,
    };
    Ok(Json(entries::list_views(&state, owner, filter).await?))
}

#[utoipa::path(operation_id = "getSecret", get, path = "/v1/secrets/{id}", tag = "secrets",
    responses((status = 200, body = SecretView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<SecretView>> {
    let meta = visible(&state, &principal, &id).await?;
    entries::get(&state, &meta).await
}

#[utoipa::path(operation_id = "updateSecret", patch, path = "/v1/secrets/{id}", tag = "secrets", request_body = UpdateSecret,
    responses((status = 200, body = SecretView), (status = 409, description = "stale version or overlap")))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateSecret>,
) -> ApiResult<Json<SecretView>> {
    let meta = visible(&state, &principal, &id).await?;
    entries::update(&state, &principal, meta, body.into()).await
}

#[utoipa::path(operation_id = "deleteSecret", delete, path = "/v1/secrets/{id}", tag = "secrets",
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let loaded = visible(&state, &principal, &id).await;
    let meta = entries::for_deletion(&state, &principal, &id, loaded).await?;
    entries::delete(&state, &principal, meta).await
}

#[utoipa::path(operation_id = "listSecretVersions", get, path = "/v1/secrets/{id}/versions", tag = "secrets",
    responses((status = 200, body = VersionList), (status = 404)))]
pub async fn versions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<VersionList>> {
    let meta = visible(&state, &principal, &id).await?;
    entries::versions(&state, &meta).await
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
    let meta = visible(&state, &principal, &id).await?;
    entries::rollback(&state, &principal, meta, body).await
}
