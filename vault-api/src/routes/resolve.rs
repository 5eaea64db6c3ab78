//! `POST /v1/resolve`: the env map for one agent context, for the orchestrator only.
//! Candidates come from the store in one read; the vault-core resolver picks winners
//! on metadata alone; only winners are opened. The whole map or an error, never part
//! of one, and the audit record (context and names, never values) is durable before
//! the response leaves.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;
use utoipa::ToSchema;
use vault_core::{
    Candidate, EnvMap, EnvName, MilestoneId, Owner, ProfileId, ProjectId, ResolutionContext,
    ResolutionInput, ResolvedValue, SecretId, SecretName, SecretValue, SkipReason, Source, UserId,
    Version, WorkspaceId, resolve as merge,
};
use vault_kms::{Envelope, SealBinding};
use vault_store::Sealed;

use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::metrics::OutcomeLabels;
use crate::state::AppState;
use crate::value::IncomingValue;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    user_id: String,
    profile_id: String,
    workspace_id: Option<String>,
    project_id: Option<String>,
    milestone_id: Option<String>,
    /// The profile's `setup_commands` env: the highest layer.
    #[schema(value_type = Option<HashMap<String, String>>)]
    profile_env: Option<BTreeMap<String, IncomingValue>>,
    /// The platform's baseline env: the lowest layer, and the only one reserved names
    /// may come from.
    #[schema(value_type = Option<HashMap<String, String>>)]
    baseline_env: Option<BTreeMap<String, IncomingValue>>,
    /// Add `sources`: per name, the winner and what it shadowed.
    #[serde(default)]
    explain: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ResolveResponse {
    #[schema(value_type = HashMap<String, String>)]
    #[serde(serialize_with = "expose_env")]
    env: EnvMap,
    /// Names left out because every entry holding them has expired.
    expired: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    sources: Option<BTreeMap<String, Explained>>,
}

#[derive(Serialize)]
struct Explained {
    #[serde(flatten)]
    winner: Source,
    shadowed: Vec<Source>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<SkippedSource>,
}

#[derive(Serialize)]
struct SkippedSource {
    #[serde(flatten)]
    source: Source,
    reason: SkipReason,
}

/// The one place a resolution's plaintext is written out: the response body.
fn expose_env<S: Serializer>(env: &EnvMap, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(
        env.iter()
            .map(|(name, value)| (name.as_str(), value.expose())),
    )
}

fn supplied(field: &str, env: Option<BTreeMap<String, IncomingValue>>) -> ApiResult<EnvMap> {
    env.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let env_name =
                EnvName::parse(&name).map_err(ApiError::core(format!("{field}.{name}")))?;
            Ok((env_name, value.into_secret(&format!("{field}.{name}"))?))
        })
        .collect()
}

/// What an envelope is opened with besides the KEK: the row it was sealed for.
pub(crate) struct StoredPayload {
    sealed: Sealed,
    version: Version,
    owner: Owner,
    name: SecretName,
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

/// Candidates carrying what their envelopes were sealed for.
pub(crate) fn with_payloads(candidates: Vec<Candidate<Sealed>>) -> Vec<Candidate<StoredPayload>> {
    candidates
        .into_iter()
        .map(|Candidate { meta, payload }| {
            let payload = StoredPayload {
                sealed: payload,
                version: meta.version,
                owner: meta.placement.owner().clone(),
                name: meta.name.clone(),
            };
            Candidate { meta, payload }
        })
        .collect()
}

pub(crate) async fn open_winners(
    state: &AppState,
    winners: Vec<(SecretId, StoredPayload)>,
) -> ApiResult<HashMap<SecretId, SecretValue>> {
    let mut opened = HashMap::with_capacity(winners.len());
    for (id, payload) in winners {
        let envelope = Envelope::from_bytes(&payload.sealed.envelope)?;
        let binding = SealBinding {
            secret_id: &id,
            version: payload.version,
            owner: &payload.owner,
            name: &payload.name,
        };
        let value = state.keyring.open(&binding, &envelope).await?;
        opened.insert(id, value);
    }
    Ok(opened)
}

#[utoipa::path(post, path = "/v1/resolve", tag = "resolution", request_body = ResolveRequest,
    responses((status = 200, body = ResolveResponse), (status = 503, description = "database, key provider or audit trail unavailable")))]
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
    let now = state.clock.now();

    let candidates = with_payloads(state.candidates.candidates(&state.store, &context).await?);
    let target_context = json!({
        "user_id": context.user().as_str(),
        "profile_id": context.profile().as_str(),
        "workspace_id": context.workspace().map(|w| w.as_str()),
        "project_id": context.project().map(|p| p.as_str()),
        "milestone_id": context.milestone().map(|m| m.as_str()),
    });
    let resolution = merge(
        ResolutionInput {
            context,
            candidates,
            profile_env,
            baseline_env,
        },
        &state.policy,
        now,
    );

    // Take the winners' payloads out, open them, and put the values back.
    let mut winners = Vec::new();
    let resolution = resolution.try_map_stored(|source, payload: StoredPayload| {
        let id = source
            .secret
            .as_ref()
            .map(|s| s.id.clone())
            .ok_or_else(|| ApiError::Internal {
                detail: "a stored winner without a secret id".into(),
            })?;
        winners.push((id.clone(), payload));
        Ok::<SecretId, ApiError>(id)
    })?;
    let mut opened = open_winners(state, winners).await?;
    let resolution = resolution.try_map_stored(|_, id: SecretId| {
        opened.remove(&id).ok_or_else(|| ApiError::Internal {
            detail: "an opened winner went missing".into(),
        })
    })?;

    let expired: Vec<String> = {
        let mut names: Vec<String> = resolution
            .expired_names()
            .filter(|name| !resolution.entries.contains_key(*name))
            .map(|name| name.as_str().to_owned())
            .collect();
        names.dedup();
        names
    };
    let sources = body.explain.then(|| {
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
        resolution
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
            .collect()
    });
    let names: Vec<&str> = resolution.entries.keys().map(EnvName::as_str).collect();
    let stored_layers: Vec<&str> = resolution
        .entries
        .values()
        .filter(|r| matches!(r.value, ResolvedValue::Stored(_)))
        .filter_map(|r| r.source.secret.as_ref().map(|s| s.id.as_str()))
        .collect();
    let mut record_target = target_context;
    record_target["names"] = json!(names);
    record_target["secret_ids"] = json!(stored_layers);
    record_target["expired"] = json!(expired);
    let entry = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        "resolve",
        record_target,
        "ok",
    )?;
    state.audit.write(entry).await?;
    Ok(ResolveResponse {
        env: resolution.into_env(),
        expired,
        sources,
    })
}
