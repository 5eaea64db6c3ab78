//! `POST /v1/resolve`: the env map for one agent context, for the orchestrator only,
//! and only for a context its user may have (every layer it names is one the user's
//! role lets reach their agents; otherwise 403, whole). Candidates come from the store
//! in one read; the vault-core resolver picks winners on metadata alone (protected
//! names never from a stored layer); only winners are opened. The whole map or an
//! error, never part of one (an env over `VAULT_MAX_ENV_BYTES` is refused whole), and
//! the audit record (context and names, never values) is durable before the response
//! leaves.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use vault_client::wire::{ResolveRequest, ResolveResponse};
use vault_core::TokenKind;

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::metrics::OutcomeLabels;
use crate::service::resolution;
use crate::state::AppState;

#[utoipa::path(operation_id = "resolveEnv", post, path = "/v1/resolve", tag = "resolution", request_body = ResolveRequest,
    responses((status = 200, body = ResolveResponse),
        (status = 403, description = "not an orchestrator token (`forbidden`), or a context whose user may not have its workspace or project (`workspace_injection_denied`, `project_injection_denied`)"),
        (status = 422, description = "an invalid field (`invalid_value`), or an env over `VAULT_MAX_ENV_BYTES` (`env_too_large`, with `limit`, `bytes` and the `largest` variables by name)"),
        (status = 503, description = "database, key provider or audit trail unavailable")))]
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<ResolveRequest>,
) -> ApiResult<Response> {
    principal.require(&[TokenKind::Orchestrator])?;
    let outcome = resolution::answer(&state, &principal, body).await;
    let label = if outcome.is_ok() { "ok" } else { "error" };
    state
        .metrics
        .resolutions
        .get_or_create(&OutcomeLabels { outcome: label })
        .inc();
    let mut response = Json(outcome?).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
