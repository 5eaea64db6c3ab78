//! `GET /v1/audit`: the latest audit records for operators, newest first, filterable.

use axum::Json;
use axum::extract::State;
use vault_client::wire::{AuditPage, AuditParams};

use crate::auth::Principal;
use crate::body::QueryParams;
use crate::error::ApiResult;
use crate::service::audit;
use crate::state::AppState;

#[utoipa::path(operation_id = "listAuditRecords", get, path = "/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(audit::page(&state, &principal, params).await?))
}
