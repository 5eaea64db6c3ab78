//! Agent sessions: the orchestrator mints a short-lived token bound to one context
//! (user, profile, workspace, project, milestone) at session start, and agent tools
//! use it to resolve one secret by name at execution time, by the same precedence as
//! `POST /v1/resolve`. A session token can do nothing else. It is minted only for a
//! context its user may have, and every lookup checks that again, so removing the
//! member (or deleting the project, or revoking the orchestrator token that minted it)
//! ends the session's access at its next request; every lookup is audited before its
//! answer leaves.

use serde_json::json;
use vault_client::wire::{CreateSession, RuntimeEnv, RuntimeSecret, SessionView};
use vault_core::{AuditAction, EnvMap, ResolutionContext, SecretName};
use vault_store::{NewToken, TokenBinding, TokenKind};

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::service::resolution::{self, Disclosed, Lookup, check_context, parse_context};
use crate::state::AppState;
use crate::tokens;

pub const DEFAULT_SESSION_TTL_SECONDS: u64 = 3600;
pub const MAX_SESSION_TTL_SECONDS: u64 = 24 * 3600;

/// Mints a session for one context its user may have, for the orchestrator.
pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    body: CreateSession,
) -> ApiResult<SessionView> {
    principal.require(&[TokenKind::Orchestrator])?;
    let context = parse_context(
        &body.user_id,
        &body.profile_id,
        body.workspace_id.as_deref(),
        body.project_id.as_deref(),
        body.milestone_id.as_deref(),
    )?;
    let ttl = body.ttl_seconds.unwrap_or(DEFAULT_SESSION_TTL_SECONDS);
    if ttl == 0 || ttl > MAX_SESSION_TTL_SECONDS {
        return Err(ApiError::invalid(
            "ttl_seconds",
            format!("must be between 1 and {MAX_SESSION_TTL_SECONDS}"),
        ));
    }
    check_context(state, principal, &context).await?;
    let now = state.clock.now();
    // Expired sessions can never authenticate again; a day's grace keeps them
    // visible to whoever investigates a session that just ended.
    match state
        .store
        .purge_expired_sessions(now - chrono::Duration::days(1))
        .await
    {
        Ok(0) => {}
        Ok(purged) => tracing::debug!(purged, "expired sessions purged"),
        Err(error) => tracing::warn!(%error, "could not purge expired sessions"),
    }
    let expires_at = now + chrono::Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX));
    let binding = TokenBinding {
        user_id: Some(context.user().as_str().to_owned()),
        profile_id: Some(context.profile().as_str().to_owned()),
        workspace_id: context.workspace().map(|w| w.as_str().to_owned()),
        project_id: context.project().map(|p| p.as_str().to_owned()),
        milestone_id: context.milestone().map(|m| m.as_str().to_owned()),
        issued_by: Some(principal.token_id.clone()),
    };
    let issued = tokens::issue(TokenKind::Session)?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SessionCreate,
        json!({
            "session_id": issued.id,
            "user_id": binding.user_id,
            "profile_id": binding.profile_id,
            "workspace_id": binding.workspace_id,
            "project_id": binding.project_id,
            "milestone_id": binding.milestone_id,
            "issued_by": binding.issued_by,
            "expires_at": expires_at,
        }),
        "ok",
    )?;
    let stored = state
        .store
        .insert_token(
            NewToken {
                id: issued.id.clone(),
                hash: issued.hash,
                kind: TokenKind::Session,
                binding: binding.clone(),
                label: None,
                expires_at: Some(expires_at),
                now,
            },
            audit,
        )
        .await?;
    let view = SessionView {
        id: stored.id,
        token: vault_client::Plaintext::from(issued.secret),
        expires_at,
        user_id: context.user().as_str().to_owned(),
        profile_id: context.profile().as_str().to_owned(),
        workspace_id: binding.workspace_id,
        project_id: binding.project_id,
        milestone_id: binding.milestone_id,
    };
    Ok(view)
}

/// Ends a session (the orchestrator at task end, or an operator).
pub(crate) async fn end(state: &AppState, principal: &Principal, id: String) -> ApiResult<()> {
    principal.require(&[TokenKind::Orchestrator, TokenKind::Operator])?;
    let is_session = state
        .store
        .token(id.clone())
        .await?
        .is_some_and(|token| token.kind == TokenKind::Session);
    if !is_session {
        return Err(ApiError::NotFound("session"));
    }
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SessionEnd,
        json!({"session_id": id}),
        "ok",
    )?;
    state
        .store
        .revoke_token(id, state.clock.now(), audit)
        .await?;
    Ok(())
}

/// The whole env of the session's context, for the runner in the container: the
/// resolution `POST /v1/resolve` gives the orchestrator, with its rules, refusals and
/// audit record, from the stored layers only (the orchestrator's own layers are
/// already in the container's environment).
pub(crate) async fn env(state: &AppState, principal: &Principal) -> ApiResult<RuntimeEnv> {
    let context = session_context(principal)?;
    let Disclosed {
        resolution,
        expired,
    } = resolution::resolve(
        state,
        principal,
        context,
        EnvMap::default(),
        EnvMap::default(),
    )
    .await?;
    Ok(RuntimeEnv {
        env: resolution.into_env(),
        expired,
    })
}

/// The context a session token is bound to; only a session token has one.
fn session_context(principal: &Principal) -> ApiResult<ResolutionContext> {
    principal.require(&[TokenKind::Session])?;
    match &principal.caller {
        Caller::Session(context) => Ok(context.clone()),
        _ => Err(ApiError::Internal {
            detail: "a session route reached without a session".into(),
        }),
    }
}

/// One secret by name, for the session's context, by the resolution precedence.
pub(crate) async fn lookup(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> ApiResult<RuntimeSecret> {
    let context = session_context(principal)?;
    let secret_name = SecretName::parse(name).map_err(ApiError::core("name"))?;
    let answer = match resolution::lookup(state, principal, context, secret_name).await? {
        Some(Lookup::Found { value, .. }) => Some(value),
        Some(Lookup::Expired) => None,
        None => return Err(ApiError::NotFound("secret")),
    };
    let body = RuntimeSecret {
        name: name.to_owned(),
        expired: answer.is_none(),
        value: answer,
    };
    Ok(body)
}
