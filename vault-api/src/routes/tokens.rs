//! `/v1/tokens`: operators list and revoke every kind of token over HTTP, and issue
//! user tokens. Operator and orchestrator tokens are issued only by `vault-api token
//! create` on the host, which holds the database and the key configuration: an
//! operator token leaked or misused over the network cannot mint the one kind that
//! reads plaintext, nor another operator. A new token's value is shown once, in the
//! 201 response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_client::wire::{CreateToken, IssuedTokenView, TokenList};

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::service::tokens;
use crate::state::AppState;

#[utoipa::path(operation_id = "createToken", post, path = "/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = IssuedTokenView),
        (status = 403, description = "not an operator token, or a kind issued on the host only (`token_kind_host_only`)")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateToken>,
) -> ApiResult<Response> {
    let issued = tokens::create(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

#[utoipa::path(operation_id = "listTokens", get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TokenList>> {
    Ok(Json(tokens::list(&state, &principal).await?))
}

#[utoipa::path(operation_id = "revokeToken", delete, path = "/v1/tokens/{id}", tag = "tokens",
    responses((status = 204), (status = 404),
        (status = 409, description = "the last live operator token (`last_operator_token`); revoke it on the host")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    tokens::revoke(&state, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
