//! `/v1/webhooks`: endpoints that receive an owner's change events, signed per the
//! Standard Webhooks specification, with their delivery log. Managed by whoever may
//! manage that owner's secrets; to anyone else an endpoint answers 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_client::wire::{
    CreateWebhook, DeliveryList, DeliveryView, UpdateWebhook, WebhookList, WebhookListParams,
    WebhookView, WebhookWithSecret,
};

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::ApiResult;
use crate::service::webhooks;
use crate::state::AppState;

#[utoipa::path(operation_id = "createWebhook", post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret, description = "The endpoint, with its `whsec_` signing secret (shown only here)"),
        (status = 404, description = "a workspace or project this token may not manage")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateWebhook>,
) -> ApiResult<Response> {
    let created = webhooks::create(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(operation_id = "listWebhooks", get, path = "/v1/webhooks", tag = "webhooks", params(WebhookListParams),
    responses((status = 200, body = WebhookList), (status = 404)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<WebhookListParams>,
) -> ApiResult<Json<WebhookList>> {
    Ok(Json(webhooks::list(&state, &principal, params).await?))
}

#[utoipa::path(operation_id = "getWebhook", get, path = "/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 200, body = WebhookView)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(webhooks::get(&state, &principal, &id).await?))
}

#[utoipa::path(operation_id = "updateWebhook", patch, path = "/v1/webhooks/{id}", tag = "webhooks", request_body = UpdateWebhook,
    responses((status = 200, body = WebhookView)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateWebhook>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(webhooks::update(&state, &principal, &id, body).await?))
}

#[utoipa::path(operation_id = "deleteWebhook", delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 204)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&state, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "rotateWebhookSecret", post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    responses((status = 200, body = WebhookWithSecret, description = "The new secret (shown only here); the previous one also signs until `previous_secret_until`")))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookWithSecret>> {
    Ok(Json(
        webhooks::rotate_secret(&state, &principal, &id).await?,
    ))
}

#[utoipa::path(operation_id = "listWebhookDeliveries", get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    responses((status = 200, body = DeliveryList)))]
pub async fn deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryList>> {
    Ok(Json(webhooks::deliveries(&state, &principal, &id).await?))
}

#[utoipa::path(operation_id = "redeliverWebhook", post, path = "/v1/webhooks/{id}/deliveries/{did}/redeliver", tag = "webhooks",
    responses((status = 200, body = DeliveryView, description = "Queued again, now")))]
pub async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, did)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(
        webhooks::redeliver(&state, &principal, &id, &did).await?,
    ))
}
