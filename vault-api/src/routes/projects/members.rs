//! `/v1/projects/{pid}/members/{user_id}`: a member's RACI role.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vault_client::wire::{MemberView, PutMember};

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::service::projects;
use crate::state::AppState;

#[utoipa::path(operation_id = "putProjectMember", put, path = "/v1/projects/{pid}/members/{user_id}", tag = "projects", request_body = PutMember,
    responses((status = 200, body = MemberView), (status = 404), (status = 409, description = "would leave no Accountable")))]
pub async fn put_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<PutMember>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(
        projects::put_member(&state, &principal, &pid, &user_id, body).await?,
    ))
}

#[utoipa::path(operation_id = "removeProjectMember", delete, path = "/v1/projects/{pid}/members/{user_id}", tag = "projects",
    responses((status = 204), (status = 404), (status = 409, description = "would leave no Accountable")))]
pub async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    projects::remove_member(&state, &principal, &pid, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
