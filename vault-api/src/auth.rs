//! Who is calling: the bearer token, found by its hash. Unknown, malformed, expired
//! and revoked tokens, and sessions whose minting token is revoked or expired, are all
//! the same 401; the refusal is audited by the request middleware like every other.

use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use vault_core::AuditAction;
use vault_core::{MilestoneId, ProfileId, ProjectId, ResolutionContext, UserId, WorkspaceId};
use vault_store::{FoundToken, StoredToken, TokenKind};

use crate::audit::Actor;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tokens;

/// Set by the request middleware; the request id, and where the principal (and, for
/// routes that disclose plaintext, the context asked for) is left for the middleware
/// to name in the audit record of a refused request.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    pub request_id: String,
    pub actor: Arc<Mutex<Option<Actor>>>,
    target: Arc<Mutex<Option<serde_json::Value>>>,
    action: Arc<Mutex<Option<AuditAction>>>,
}

impl RequestCtx {
    pub fn new(request_id: String) -> Self {
        RequestCtx {
            request_id,
            actor: Arc::new(Mutex::new(None)),
            target: Arc::new(Mutex::new(None)),
            action: Arc::new(Mutex::new(None)),
        }
    }

    pub fn actor(&self) -> Actor {
        self.actor
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
            .unwrap_or_else(Actor::anonymous)
    }

    fn set_actor(&self, actor: Actor) {
        if let Ok(mut slot) = self.actor.lock() {
            *slot = Some(actor);
        }
    }

    /// What the request asked for (ids and names, never a value), for the record the
    /// middleware writes if it is refused.
    pub fn note_target(&self, target: serde_json::Value) {
        if let Ok(mut slot) = self.target.lock() {
            *slot = Some(target);
        }
    }

    pub fn target(&self) -> Option<serde_json::Value> {
        self.target.lock().ok().and_then(|t| t.clone())
    }

    /// The action the handler found the request to be, once the route alone does not
    /// say it (a PATCH with a value is a rotation), for the record of a refusal.
    pub fn note_action(&self, action: AuditAction) {
        if let Ok(mut slot) = self.action.lock() {
            *slot = Some(action);
        }
    }

    pub fn action(&self) -> Option<AuditAction> {
        self.action.lock().ok().and_then(|a| *a)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<RequestCtx>()
            .cloned()
            .ok_or_else(|| ApiError::Internal {
                detail: "request context missing: the route is outside the middleware".into(),
            })
    }
}

/// Who a token speaks for. Each kind carries exactly what it is bound to, so a user
/// token without its user or a session without its context cannot be built.
#[derive(Clone, Debug)]
pub enum Caller {
    /// Everything, masked; over HTTP mints user tokens only.
    Operator,
    /// Resolves and starts sessions for contexts their users may have.
    Orchestrator,
    /// One user's own secrets (and the projects and workspaces they belong to).
    User(UserId),
    /// Names looked up in one context, while its minting token and the user's
    /// memberships last.
    Session(ResolutionContext),
}

impl Caller {
    pub fn kind(&self) -> TokenKind {
        match self {
            Caller::Operator => TokenKind::Operator,
            Caller::Orchestrator => TokenKind::Orchestrator,
            Caller::User(_) => TokenKind::User,
            Caller::Session(_) => TokenKind::Session,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub token_id: String,
    pub caller: Caller,
    pub ctx: RequestCtx,
}

impl Principal {
    pub fn kind(&self) -> TokenKind {
        self.caller.kind()
    }

    /// The user of a user token; `None` for every other kind.
    pub fn user(&self) -> Option<&UserId> {
        match &self.caller {
            Caller::User(user) => Some(user),
            _ => None,
        }
    }

    pub fn actor(&self) -> Actor {
        Actor(format!("{}:{}", self.kind().as_str(), self.token_id))
    }

    pub fn request_id(&self) -> &str {
        &self.ctx.request_id
    }

    /// Refuses every kind but `allowed`.
    pub fn require(&self, allowed: &[TokenKind]) -> ApiResult<()> {
        let kind = self.kind();
        if allowed.contains(&kind) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "this route needs a token of kind {}; this token is a {} token",
            names.join(" or "),
            kind.as_str()
        )))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    vault_core::bearer_credential(value)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match authenticate(parts, state).await {
            // Only a failure spends the source's budget: a valid token is never
            // refused for what others sent from the same address.
            Err(ApiError::Unauthenticated) => {
                let source = parts
                    .extensions
                    .get::<crate::server::Connection>()
                    .map(|c| crate::flood::Source::of(c.peer.ip()));
                match source.map(|source| state.failures.spend(&source)) {
                    Some(Err(retry_after)) => Err(ApiError::TooManyFailures { retry_after }),
                    _ => Err(ApiError::Unauthenticated),
                }
            }
            other => other,
        }
    }
}

async fn authenticate(parts: &mut Parts, state: &AppState) -> ApiResult<Principal> {
    let ctx = RequestCtx::from_request_parts(parts, state).await?;
    let token = bearer(parts).ok_or(ApiError::Unauthenticated)?;
    let claimed = tokens::claimed_kind(token).ok_or(ApiError::Unauthenticated)?;
    let FoundToken {
        token: stored,
        issuer,
    } = state
        .store
        .token_by_hash(tokens::hash(token))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let now = state.clock.now();
    if stored.kind != claimed || !stored.is_live(now) {
        return Err(ApiError::Unauthenticated);
    }
    let caller = match stored.kind {
        TokenKind::Operator => Caller::Operator,
        TokenKind::Orchestrator => {
            // Where the vault pins orchestrators by certificate, a leaked token
            // alone is not enough.
            let connection = parts.extensions.get::<crate::server::Connection>();
            if connection.is_some_and(|c| c.orchestrator_needs_certificate && !c.client_certificate)
            {
                return Err(ApiError::ClientCertificateRequired);
            }
            Caller::Orchestrator
        }
        TokenKind::User => Caller::User(bound_user(&stored)?),
        TokenKind::Session => {
            // A session lives only while the orchestrator token that minted it
            // does: revoking or outliving that token ends every session it began,
            // at once and on every replica (the issuer is read with the token).
            let issuer_live = issuer.is_some_and(|issuer| {
                stored.binding.issued_by.as_deref() == Some(issuer.id.as_str())
                    && issuer.kind == TokenKind::Orchestrator
                    && issuer.is_live(now)
            });
            if !issuer_live {
                return Err(ApiError::Unauthenticated);
            }
            Caller::Session(session_context(&stored, bound_user(&stored)?)?)
        }
    };
    let principal = Principal {
        token_id: stored.id,
        caller,
        ctx,
    };
    principal.ctx.set_actor(principal.actor());
    Ok(principal)
}

/// The user a user or session token was issued for.
fn bound_user(stored: &StoredToken) -> ApiResult<UserId> {
    let id = stored
        .binding
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::Internal {
            detail: format!("token {} is not bound to a user", stored.id),
        })?;
    UserId::parse(id).map_err(|e| ApiError::Internal {
        detail: format!("token {} has an unusable user id: {e}", stored.id),
    })
}

/// The context a session token was minted for, as stored with it.
fn session_context(stored: &StoredToken, user: UserId) -> ApiResult<ResolutionContext> {
    let unusable = |what: &str, e: vault_core::CoreError| ApiError::Internal {
        detail: format!("session {} has an unusable {what}: {e}", stored.id),
    };
    let binding = &stored.binding;
    let profile = binding
        .profile_id
        .as_deref()
        .ok_or_else(|| ApiError::Internal {
            detail: format!("session {} is not bound to a profile", stored.id),
        })
        .and_then(|p| ProfileId::parse(p).map_err(|e| unusable("profile id", e)))?;
    let workspace = binding
        .workspace_id
        .as_deref()
        .map(|w| WorkspaceId::parse(w).map_err(|e| unusable("workspace id", e)))
        .transpose()?;
    let project = binding
        .project_id
        .as_deref()
        .map(|p| ProjectId::parse(p).map_err(|e| unusable("project id", e)))
        .transpose()?;
    let milestone = binding
        .milestone_id
        .as_deref()
        .map(|m| MilestoneId::parse(m).map_err(|e| unusable("milestone id", e)))
        .transpose()?;
    ResolutionContext::new(user, profile, workspace, project, milestone)
        .map_err(|e| unusable("context", e))
}
