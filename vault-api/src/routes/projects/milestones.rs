//! `/v1/projects/{pid}/milestones`: the milestones entries may be scoped to.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_client::wire::{CreateMilestone, MilestoneRemovalView, MilestoneView};

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::service::projects;
use crate::state::AppState;

#[utoipa::path(operation_id = "createMilestone", post, path = "/v1/projects/{pid}/milestones", tag = "projects", request_body = CreateMilestone,
    responses((status = 201, body = MilestoneView), (status = 404), (status = 409, description = "the id is taken")))]
pub async fn create_milestone(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<CreateMilestone>,
) -> ApiResult<Response> {
    let created = projects::create_milestone(&state, &principal, &pid, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(operation_id = "deleteMilestone", delete, path = "/v1/projects/{pid}/milestones/{mid}", tag = "projects",
    responses((status = 200, body = MilestoneRemovalView), (status = 404)))]
pub async fn delete_milestone(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, mid)): Path<(String, String)>,
) -> ApiResult<Json<MilestoneRemovalView>> {
    Ok(Json(
        projects::delete_milestone(&state, &principal, &pid, &mid).await?,
    ))
}
