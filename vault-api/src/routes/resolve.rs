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
use vault_core::AuditAction;
use vault_core::{
    Candidate, EnvMap, EnvName, MilestoneId, ProfileId, ProjectId, Resolution, ResolutionContext,
    ResolutionInput, ResolvedValue, SecretValue, UserId, WorkspaceId, resolve_shared,
};
use vault_kms::{Envelope, SealBinding};
use vault_store::Sealed;

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::metrics::OutcomeLabels;
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

/// The context as the audit record of a refusal names it: ids, never a value.
pub(crate) fn context_target(context: &ResolutionContext) -> serde_json::Value {
    serde_json::json!({
        "user_id": context.user().as_str(),
        "profile_id": context.profile().as_str(),
        "workspace_id": context.workspace().map(|w| w.as_str()),
        "project_id": context.project().map(|p| p.as_str()),
        "milestone_id": context.milestone().map(|m| m.as_str()),
    })
}

/// Refuses, whole, a context whose user may not have one of its layers; the refusal's
/// audit record names the context.
pub(crate) async fn check_context(
    state: &AppState,
    principal: &Principal,
    context: &ResolutionContext,
) -> ApiResult<()> {
    state
        .authorizer
        .check_context(context)
        .await?
        .map_err(|refused| refusing(principal, context, ApiError::InjectionRefused(refused)))
}

/// Notes the context for the audit record of a refusal; only refusals pay for it.
fn refusing(principal: &Principal, context: &ResolutionContext, error: ApiError) -> ApiError {
    principal.ctx.note_target(context_target(context));
    error
}

/// A resolution context from request fields, each error naming its field.
pub(crate) fn parse_context(
    user_id: &str,
    profile_id: &str,
    workspace_id: Option<&str>,
    project_id: Option<&str>,
    milestone_id: Option<&str>,
) -> ApiResult<ResolutionContext> {
    fn optional<T>(
        field: &'static str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, vault_core::CoreError>,
    ) -> ApiResult<Option<T>> {
        value
            .map(|v| parse(v).map_err(ApiError::core(field)))
            .transpose()
    }
    let user = UserId::parse(user_id).map_err(ApiError::core("user_id"))?;
    let profile = ProfileId::parse(profile_id).map_err(ApiError::core("profile_id"))?;
    let workspace = optional("workspace_id", workspace_id, WorkspaceId::parse)?;
    let project = optional("project_id", project_id, ProjectId::parse)?;
    let milestone = optional("milestone_id", milestone_id, MilestoneId::parse)?;
    ResolutionContext::new(user, profile, workspace, project, milestone)
        .map_err(ApiError::core("milestone_id"))
}

/// Opens every stored winner, all or nothing, each against the row it was sealed for.
pub(crate) async fn open_winners(
    state: &AppState,
    resolution: Resolution<&Candidate<Sealed>>,
) -> ApiResult<Resolution<SecretValue>> {
    let winners: Vec<&Candidate<Sealed>> = resolution
        .entries
        .values()
        .filter_map(|resolved| match resolved.value {
            ResolvedValue::Stored(candidate) => Some(candidate),
            ResolvedValue::Supplied(_) => None,
        })
        .collect();
    let sealed = winners
        .iter()
        .map(|Candidate { meta, payload }| {
            let binding = SealBinding {
                secret_id: &meta.id,
                version: meta.version,
                owner: meta.placement.owner(),
                name: &meta.name,
            };
            Ok((binding, Envelope::from_bytes(&payload.envelope)?))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let values = state.keyring.open_all(sealed).await?;
    let mut opened = winners.iter().map(|c| &c.meta.id).zip(values);
    resolution.try_map_stored(|_, candidate| match opened.next() {
        Some((id, value)) if *id == candidate.meta.id => Ok(value),
        _ => Err(ApiError::Internal {
            detail: "opened values out of step with their winners".into(),
        }),
    })
}

/// The audit record of a resolution: the context and what was disclosed, never a value.
/// Fields in name order, as the records written before it were.
#[derive(serde::Serialize)]
struct ResolveRecord<'a> {
    expired: &'a [String],
    milestone_id: Option<&'a str>,
    names: Vec<&'a str>,
    profile_id: &'a str,
    project_id: Option<&'a str>,
    secret_ids: Vec<&'a str>,
    user_id: &'a str,
    /// The version of each of `secret_ids`, in the same order.
    versions: Vec<u32>,
    workspace_id: Option<&'a str>,
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
    check_context(state, principal, &context).await?;
    let now = state.clock.now();

    let candidates = state.candidates.candidates(&state.store, &context).await?;
    let resolution = resolve_shared(
        ResolutionInput {
            context: context.clone(),
            candidates: &candidates,
            profile_env,
            baseline_env,
        },
        &state.policy,
        now,
    );
    // The version of each stored winner, for the record: a replayed old row shows as a
    // disclosure of a version the trail says was rotated away.
    let versions: Vec<u32> = resolution
        .entries
        .values()
        .filter_map(|resolved| match resolved.value {
            ResolvedValue::Stored(candidate) => Some(candidate.meta.version.get()),
            ResolvedValue::Supplied(_) => None,
        })
        .collect();
    let resolution = open_winners(state, resolution).await?;
    // Checked on the opened values, before anything is recorded as disclosed: the
    // refusal names variables and sizes, never a value.
    resolution
        .check_size(state.env_limit)
        .map_err(|too_large| refusing(principal, &context, ApiError::EnvTooLarge(too_large)))?;

    let expired: Vec<String> = {
        let mut names: Vec<String> = resolution
            .expired_names()
            .filter(|name| !resolution.entries.contains_key(*name))
            .map(|name| name.as_str().to_owned())
            .collect();
        names.dedup();
        names
    };
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
    let record = ResolveRecord {
        expired: &expired,
        milestone_id: context.milestone().map(|m| m.as_str()),
        names: resolution.entries.keys().map(EnvName::as_str).collect(),
        profile_id: context.profile().as_str(),
        project_id: context.project().map(|p| p.as_str()),
        secret_ids: resolution
            .entries
            .values()
            .filter(|r| matches!(r.value, ResolvedValue::Stored(_)))
            .filter_map(|r| r.source.secret.as_ref().map(|s| s.id.as_str()))
            .collect(),
        user_id: context.user().as_str(),
        versions,
        workspace_id: context.workspace().map(|w| w.as_str()),
    };
    let entry = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::Resolve,
        &record,
        "ok",
    )?;
    state.audit.write(entry).await?;
    Ok(ResolveResponse {
        env: resolution.into_env(),
        expired,
        sources,
        unresolved,
    })
}
