//! `POST /v1/resolve`: the env map for one agent context, for the orchestrator only,
//! and only for a context its user may have (every layer it names is one the user's
//! role lets reach their agents; otherwise 403, whole). Candidates come from the store
//! in one read; the vault-core resolver picks winners on metadata alone (protected
//! names never from a stored layer); only winners are opened. The whole map or an
//! error, never part of one (an env over `VAULT_MAX_ENV_BYTES` is refused whole), and
//! the audit record (context and names, never values) is durable before the response
//! leaves.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use vault_client::Plaintext;
use vault_client::wire::{Explained, ResolveRequest, ResolveResponse, SkippedSource};
use vault_core::{EnvMap, EnvName};

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::metrics::OutcomeLabels;
use crate::service::resolution::{self, Disclosed, parse_context};
use crate::state::AppState;
use crate::value::IncomingValue;

fn supplied(field: &str, env: Option<BTreeMap<String, Plaintext>>) -> ApiResult<EnvMap> {
    env.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let env_name =
                EnvName::parse(&name).map_err(ApiError::core(format!("{field}.{name}")))?;
            Ok((env_name, value.into_supplied(&format!("{field}.{name}"))?))
        })
        .collect()
}

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
    principal.require(&[vault_store::TokenKind::Orchestrator])?;
    let outcome = resolve_for(&state, &principal, body).await;
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

async fn resolve_for(
    state: &AppState,
    principal: &Principal,
    body: ResolveRequest,
) -> ApiResult<ResolveResponse> {
    let context = parse_context(
        &body.user_id,
        &body.profile_id,
        body.workspace_id.as_deref(),
        body.project_id.as_deref(),
        body.milestone_id.as_deref(),
    )?;
    let profile_env = supplied("profile_env", body.profile_env)?;
    let baseline_env = supplied("baseline_env", body.baseline_env)?;
    let Disclosed {
        resolution,
        expired,
    } = resolution::resolve(state, principal, context, profile_env, baseline_env).await?;
    let (sources, unresolved) = if body.explain {
        let mut skipped: BTreeMap<String, Vec<SkippedSource>> = BTreeMap::new();
        for skip in &resolution.skipped {
            skipped
                .entry(skip.name.as_str().to_owned())
                .or_default()
                .push(SkippedSource {
                    source: skip.source.clone(),
                    reason: skip.reason,
                });
        }
        let sources = resolution
            .entries
            .iter()
            .map(|(name, resolved)| {
                (
                    name.as_str().to_owned(),
                    Explained {
                        winner: resolved.source.clone(),
                        shadowed: resolved.shadowed.clone(),
                        skipped: skipped.remove(name.as_str()).unwrap_or_default(),
                    },
                )
            })
            .collect();
        // What is left was skipped under names nothing else set.
        (Some(sources), Some(skipped))
    } else {
        (None, None)
    };
    Ok(ResolveResponse {
        env: resolution.into_env(),
        expired,
        sources,
        unresolved,
    })
}
