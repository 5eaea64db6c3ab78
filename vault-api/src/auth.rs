//! Who is calling: the bearer token, found by its hash. Unknown, malformed, expired
//! and revoked tokens are all the same 401; the refusal is audited by the request
//! middleware like every other.

use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use vault_core::{MilestoneId, ProfileId, ProjectId, ResolutionContext, UserId, WorkspaceId};
use vault_store::{StoredToken, TokenKind};

use crate::audit::Actor;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tokens;

/// Set by the request middleware; the request id, and where the principal is left for
/// the middleware to name in the audit record of a refused request.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    pub request_id: String,
    pub actor: Arc<Mutex<Option<Actor>>>,
}

impl RequestCtx {
    pub fn new(request_id: String) -> Self {
        RequestCtx {
            request_id,
            actor: Arc::new(Mutex::new(None)),
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

#[derive(Clone, Debug)]
pub struct Principal {
    pub token_id: String,
    pub kind: TokenKind,
    /// Set for user and session tokens: the only user whose secrets they reach.
    pub user: Option<UserId>,
    /// Set for session tokens: the one context they may look names up in.
    pub session: Option<ResolutionContext>,
    pub ctx: RequestCtx,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor(format!("{}:{}", self.kind.as_str(), self.token_id))
    }

    pub fn request_id(&self) -> &str {
        &self.ctx.request_id
    }

    /// Refuses every kind but `allowed`.
    pub fn require(&self, allowed: &[TokenKind]) -> ApiResult<()> {
        if allowed.contains(&self.kind) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "this route needs a token of kind {}; this token is a {} token",
            names.join(" or "),
            self.kind.as_str()
        )))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let ctx = RequestCtx::from_request_parts(parts, state).await?;
        let token = bearer(parts).ok_or(ApiError::Unauthenticated)?;
        let claimed = tokens::claimed_kind(token).ok_or(ApiError::Unauthenticated)?;
        let stored = state
            .store
            .token_by_hash(tokens::hash(token))
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if stored.kind != claimed || !stored.is_live(state.clock.now()) {
            return Err(ApiError::Unauthenticated);
        }
        let user = match (&stored.kind, &stored.binding.user_id) {
            (TokenKind::User | TokenKind::Session, Some(id)) => {
                Some(UserId::parse(id).map_err(|e| ApiError::Internal {
                    detail: format!("token {} has an unusable user id: {e}", stored.id),
                })?)
            }
            (TokenKind::User | TokenKind::Session, None) => {
                return Err(ApiError::Internal {
                    detail: format!("token {} is not bound to a user", stored.id),
                });
            }
            _ => None,
        };
        let session = match (&stored.kind, &user) {
            (TokenKind::Session, Some(user)) => Some(session_context(&stored, user.clone())?),
            _ => None,
        };
        let principal = Principal {
            token_id: stored.id,
            kind: stored.kind,
            user,
            session,
            ctx,
        };
        principal.ctx.set_actor(principal.actor());
        Ok(principal)
    }
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
