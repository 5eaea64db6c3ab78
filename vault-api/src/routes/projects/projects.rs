//! `/v1/projects` and `/v1/projects/{pid}`: create, list, read and delete projects.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_client::wire::{
    CreateProject, ProjectListParams, ProjectPage, ProjectRemovalView, ProjectView,
};

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::ApiResult;
use crate::service::projects;
use crate::state::AppState;

#[utoipa::path(operation_id = "createProject", post, path = "/v1/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = ProjectView), (status = 409, description = "the id is taken")))]
pub async fn create_project(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateProject>,
) -> ApiResult<Response> {
    let created = projects::create_project(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(operation_id = "listProjects", get, path = "/v1/projects", tag = "projects", params(ProjectListParams),
    responses((status = 200, body = ProjectPage)))]
pub async fn list_projects(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<ProjectListParams>,
) -> ApiResult<Json<ProjectPage>> {
    Ok(Json(
        projects::list_projects(&state, &principal, params).await?,
    ))
}

#[utoipa::path(operation_id = "getProject", get, path = "/v1/projects/{pid}", tag = "projects",
    responses((status = 200, body = ProjectView), (status = 404)))]
pub async fn get_project(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<ProjectView>> {
    Ok(Json(projects::get_project(&state, &principal, &pid).await?))
}

#[utoipa::path(operation_id = "deleteProject", delete, path = "/v1/projects/{pid}", tag = "projects",
    responses((status = 200, body = ProjectRemovalView), (status = 404)))]
pub async fn delete_project(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<ProjectRemovalView>> {
    Ok(Json(
        projects::delete_project(&state, &principal, &pid).await?,
    ))
}
