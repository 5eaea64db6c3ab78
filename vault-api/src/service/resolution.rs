//! Disclosure: the one pipeline every path that hands out plaintext goes through
//! (`POST /v1/resolve` and a session's runtime lookups). The context's grant is checked
//! first, on every call; candidates come from the shared cache (trusted only while the
//! owners' generations are unchanged); the vault-core resolver picks winners on metadata
//! alone; only winners are opened, each in its own slot of the resolution, so a value
//! can never be paired with another entry; the audit record is durable before anything
//! is returned.

use std::collections::BTreeMap;
use vault_core::{
    AuditAction, Candidate, EnvMap, EnvName, Resolution, ResolutionContext, ResolutionInput,
    ResolvedValue, SecretId, SecretName, SecretValue, SkipReason, resolve_shared,
};

use vault_client::Plaintext;
use vault_client::wire::{Explained, ResolveRequest, ResolveResponse, SkippedSource};
use vault_kms::SealBinding;

use crate::auth::Principal;
use crate::candidates::Seal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::value::IncomingValue;

/// A resolution as disclosed: the opened env and the names left out as expired.
pub struct Disclosed {
    pub resolution: Resolution<SecretValue>,
    /// Names every entry of which has expired, in name order.
    pub expired: Vec<String>,
}

/// What a runtime lookup of one name found.
pub enum Lookup {
    Found {
        value: SecretValue,
        secret_id: SecretId,
    },
    /// The entry that would answer has expired: never opened.
    Expired,
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
    ResolutionContext::parse(vault_core::ContextFields {
        user_id,
        profile_id,
        workspace_id,
        project_id,
        milestone_id,
    })
    .map_err(|(field, error)| ApiError::core(field)(error))
}

fn binding(candidate: &Candidate<Seal>) -> SealBinding<'_> {
    SealBinding {
        secret_id: &candidate.meta.id,
        version: candidate.meta.version,
        owner: candidate.meta.placement.owner(),
        name: &candidate.meta.name,
    }
}

/// Opens every stored winner, all or nothing, each in place against the row it was
/// sealed for.
async fn open_winners(
    state: &AppState,
    resolution: Resolution<&Candidate<Seal>>,
) -> ApiResult<Resolution<SecretValue>> {
    let envelopes = resolution
        .entries
        .values()
        .filter_map(|resolved| match resolved.value {
            ResolvedValue::Stored(candidate) => Some(candidate.payload.as_ref()),
            ResolvedValue::Supplied(_) => None,
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::from(error.clone()))?;
    let opener = state.keyring.opener(envelopes).await?;
    resolution.try_map_stored(|_, candidate| {
        let envelope = candidate.payload.clone()?;
        Ok(opener.open(&binding(candidate), envelope)?)
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

/// The env of `context` with the orchestrator's own layers, opened and recorded.
pub async fn resolve(
    state: &AppState,
    principal: &Principal,
    context: ResolutionContext,
    profile_env: EnvMap,
    baseline_env: EnvMap,
) -> ApiResult<Disclosed> {
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
    Ok(Disclosed {
        resolution,
        expired,
    })
}

/// One name of a session's context, as a full resolution of that context would set it
/// from the stored layers, opened alone and recorded. `Ok(None)` when nothing visible
/// has the name.
pub async fn lookup(
    state: &AppState,
    principal: &Principal,
    context: ResolutionContext,
    name: SecretName,
) -> ApiResult<Option<Lookup>> {
    // The grant the session was minted under is checked again now: memberships change.
    check_context(state, principal, &context).await?;
    let name = EnvName::from(name);
    let candidates = state.candidates.candidates(&state.store, &context).await?;
    let mut resolution = resolve_shared(
        ResolutionInput {
            context,
            candidates: &candidates,
            profile_env: EnvMap::default(),
            baseline_env: EnvMap::default(),
        },
        &state.policy,
        state.clock.now(),
    );
    let expired = resolution
        .skipped
        .iter()
        .any(|s| s.name == name && s.reason == SkipReason::Expired);
    let found = match resolution
        .entries
        .remove(&name)
        .map(|resolved| resolved.value)
    {
        Some(ResolvedValue::Stored(candidate)) => {
            let envelope = candidate.payload.clone()?;
            let opener = state.keyring.opener([&envelope]).await?;
            let value = opener.open(&binding(candidate), envelope)?;
            Some(Lookup::Found {
                value,
                secret_id: candidate.meta.id.clone(),
            })
        }
        Some(ResolvedValue::Supplied(_)) => {
            return Err(ApiError::Internal {
                detail: "a lookup found a value no secret supplied".into(),
            });
        }
        None if expired => Some(Lookup::Expired),
        None => None,
    };
    let (secret_id, outcome) = match &found {
        Some(Lookup::Found { secret_id, .. }) => (Some(secret_id.as_str()), "ok"),
        Some(Lookup::Expired) => (None, "expired"),
        None => return Ok(None),
    };
    let entry = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::RuntimeLookup,
        serde_json::json!({
            "name": name.as_str(),
            "secret_id": secret_id,
            "expired": outcome == "expired",
        }),
        outcome,
    )?;
    state.audit.write(entry).await?;
    Ok(found)
}

/// The orchestrator's own layers, each value held to the value rule.
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

/// Answers `POST /v1/resolve`: the env map, and with `explain` where each name came
/// from and what was skipped.
pub(crate) async fn answer(
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
    } = resolve(state, principal, context, profile_env, baseline_env).await?;
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
