//! Liveness, readiness, metrics and the OpenAPI document: no token needed, nothing
//! secret in any of them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use vault_client::wire::{DatabaseState, Health, Readiness, RootKeyState, WriteFailure};

use crate::error::ApiError;
use crate::state::AppState;

#[utoipa::path(operation_id = "healthz", get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(operation_id = "readyz", get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    // A database that answers reads may still refuse every write (a full disk), and
    // then every resolution fails closed on its audit record: the last write's outcome
    // (requests' own, or the background probe's) counts as much as the ping.
    let database_cause = state.store.write_failure().map(|cause| match cause {
        vault_store::WriteFailure::DiskFull => WriteFailure::DiskFull,
        vault_store::WriteFailure::ReadOnly => WriteFailure::ReadOnly,
        vault_store::WriteFailure::IoError => WriteFailure::IoError,
        vault_store::WriteFailure::WriteFailed => WriteFailure::WriteFailed,
    });
    let database = match state.store.ping().await {
        Ok(()) if database_cause.is_some() => DatabaseState::NotWritable,
        Ok(()) => DatabaseState::Ok,
        Err(error) => {
            tracing::warn!(%error, "readiness: database check failed");
            DatabaseState::Unavailable
        }
    };
    // The background checker's last answer: a probe, however often it comes, never
    // reaches the root provider (a KMS call per probe could be throttled fleet-wide).
    let root_key = state.key_health.get();
    let ready = database == DatabaseState::Ok && root_key == RootKeyState::Ok;
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
