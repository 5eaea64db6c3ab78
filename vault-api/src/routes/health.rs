//! Liveness, readiness, metrics and the OpenAPI document: no token needed, nothing
//! secret in any of them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    ready: bool,
    /// `ok`, `unavailable` (it does not answer) or `not_writable` (it answers but
    /// refused the last write; `database_cause` says why).
    database: &'static str,
    /// With `not_writable`: `disk_full`, `read_only`, `io_error` or `write_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    database_cause: Option<&'static str>,
    root_key: &'static str,
}

#[utoipa::path(operation_id = "healthz", get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(operation_id = "readyz", get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    // A database that answers reads may still refuse every write (a full disk), and
    // then every resolution fails closed on its audit record: the last write's outcome
    // (requests' own, or the background probe's) counts as much as the ping.
    let database_cause = state.store.write_failure();
    let database = match state.store.ping().await {
        Ok(()) if database_cause.is_some() => "not_writable",
        Ok(()) => "ok",
        Err(error) => {
            tracing::warn!(%error, "readiness: database check failed");
            "unavailable"
        }
    };
    // The background checker's last answer: a probe, however often it comes, never
    // reaches the root provider (a KMS call per probe could be throttled fleet-wide).
    let root_key = state.key_health.get();
    let ready = database == "ok" && root_key == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database,
            database_cause,
            root_key,
        }),
    )
        .into_response()
}

#[utoipa::path(operation_id = "metrics", get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.metrics.encode().map_err(|_| ApiError::Internal {
        detail: "metrics could not be encoded".into(),
    })?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
