//! `/v1/sessions` and `/v1/runtime/…`: the orchestrator mints a session token bound to
//! one context; the runner in the container fetches that context's whole env with it,
//! and agent tools look up one secret by name. Answers that carry a secret, so both say `Cache-Control: no-store` themselves.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vault_client::wire::{CreateSession, RuntimeEnv, RuntimeSecret, SessionView};

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::service::sessions;
use crate::state::AppState;

/// An answer that carries a secret, marked so no cache keeps it.
fn not_stored(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(operation_id = "createSession", post, path = "/v1/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, body = SessionView),
        (status = 403, description = "not an orchestrator token, or a context whose user may not have its workspace or project (`workspace_injection_denied`, `project_injection_denied`)")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateSession>,
) -> ApiResult<Response> {
    let session = sessions::create(&state, &principal, body).await?;
    Ok(not_stored(
        (StatusCode::CREATED, Json(session)).into_response(),
    ))
}

#[utoipa::path(operation_id = "endSession", delete, path = "/v1/sessions/{id}", tag = "sessions",
    responses((status = 204), (status = 404)))]
pub async fn end(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    sessions::end(&state, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "getRuntimeEnv", get, path = "/v1/runtime/env", tag = "sessions",
    responses((status = 200, body = RuntimeEnv),
        (status = 401, description = "unknown, expired or revoked session, or one whose minting orchestrator token is revoked or expired"),
        (status = 403, description = "not a session token (`forbidden`), or the session's user may no longer have its workspace or project (`workspace_injection_denied`, `project_injection_denied`)"),
        (status = 422, description = "an env over `VAULT_MAX_ENV_BYTES` (`env_too_large`, with `limit`, `bytes` and the `largest` variables by name)"),
        (status = 503, description = "database, key provider or audit trail unavailable")))]
pub async fn env(State(state): State<AppState>, principal: Principal) -> ApiResult<Response> {
    let env = sessions::env(&state, &principal).await?;
    Ok(not_stored(Json(env).into_response()))
}

#[utoipa::path(operation_id = "lookupRuntimeSecret", get, path = "/v1/runtime/secrets/{name}", tag = "sessions",
    responses((status = 200, body = RuntimeSecret),
        (status = 401, description = "unknown, expired or revoked session, or one whose minting orchestrator token is revoked or expired"),
        (status = 403, description = "not a session token, or the session's user may no longer have its context"),
        (status = 404, description = "nothing visible has that name")))]
pub async fn lookup(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let found = sessions::lookup(&state, &principal, &name).await?;
    Ok(not_stored(Json(found).into_response()))
}
