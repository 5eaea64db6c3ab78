//! `/v1/tokens`: operators list and revoke every kind of token over HTTP, and issue
//! user tokens. Operator and orchestrator tokens are issued only by `vault-api token
//! create` on the host, which holds the database and the key configuration: an
//! operator token leaked or misused over the network cannot mint the one kind that
//! reads plaintext, nor another operator. A new token's value is shown once, in the
//! 201 response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vault_client::wire::{CreateToken, IssuedTokenView, TokenList, TokenView};
use vault_core::AuditAction;
use vault_core::UserId;
use vault_store::{NewToken, Store, StoredToken, TokenBinding, TokenKind};

use crate::audit::{Actor, AuditContext};
use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tokens;

/// The longest token label.
/// A token lifetime over HTTP, exactly as the OpenAPI document states it: a whole
/// number without leading zeros and one unit. One grammar, so a schema-valid lifetime
/// is never refused and a refused one never matches the schema.
pub const TTL_PATTERN: &str = "^[1-9][0-9]{0,5}[smhdw]$";

fn parse_ttl(text: &str) -> Option<std::time::Duration> {
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    let well_formed = (1..=6).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    let count: u64 = digits.parse().ok().filter(|_| well_formed)?;
    Some(std::time::Duration::from_secs(count * seconds_per_unit))
}

pub const MAX_TOKEN_LABEL_CHARS: usize = 200;

fn token_view(token: StoredToken) -> TokenView {
    {
        TokenView {
            id: token.id,
            kind: token.kind,
            user_id: token.binding.user_id,
            label: token.label,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
            created_at: token.created_at,
        }
    }
}

/// What a token request asks for, checked: shared by the route and the CLI.
pub struct TokenRequest {
    pub kind: TokenKind,
    pub user_id: Option<UserId>,
    pub ttl: Option<std::time::Duration>,
    pub label: Option<String>,
}

impl TokenRequest {
    pub fn parse(
        kind: &str,
        user_id: Option<&str>,
        ttl: Option<&str>,
        label: Option<String>,
    ) -> ApiResult<Self> {
        let kind = match kind.parse::<TokenKind>().ok() {
            Some(TokenKind::Session) | None => {
                return Err(ApiError::invalid(
                    "kind",
                    "must be operator, orchestrator or user",
                ));
            }
            Some(kind) => kind,
        };
        let user_id = user_id
            .map(|u| UserId::parse(u).map_err(ApiError::core("user_id")))
            .transpose()?;
        match (kind, &user_id) {
            (TokenKind::User, None) => {
                return Err(ApiError::invalid("user_id", "is required for a user token"));
            }
            (TokenKind::Operator | TokenKind::Orchestrator, Some(_)) => {
                return Err(ApiError::invalid("user_id", "applies only to user tokens"));
            }
            _ => {}
        }
        let ttl = ttl
            .map(|t| {
                parse_ttl(t).ok_or_else(|| {
                    ApiError::invalid(
                        "ttl",
                        "must be a whole number and one unit of s, m, h, d or w, such as 30d or 12h",
                    )
                })
            })
            .transpose()?;
        if let Some(label) = &label
            && (label.chars().count() > MAX_TOKEN_LABEL_CHARS
                || label.chars().any(char::is_control))
        {
            return Err(ApiError::invalid(
                "label",
                format!(
                    "must be at most {MAX_TOKEN_LABEL_CHARS} characters without control characters"
                ),
            ));
        }
        Ok(TokenRequest {
            kind,
            user_id,
            ttl,
            label,
        })
    }

    /// Refuses the kinds only the host may issue: over HTTP, user tokens alone.
    pub fn check_issuable_over_http(&self) -> ApiResult<()> {
        match self.kind {
            TokenKind::User => Ok(()),
            kind => Err(ApiError::HostOnlyToken {
                kind: kind.as_str(),
            }),
        }
    }

    /// Issues the token and stores its hash, with the audit record, in one commit.
    pub async fn issue(
        self,
        store: &Store,
        audit: &AuditContext,
        request_id: &str,
        actor: &Actor,
    ) -> ApiResult<(StoredToken, zeroize::Zeroizing<String>)> {
        let now = audit.clock.now();
        let expires_at = self
            .ttl
            .map(|ttl| {
                chrono::Duration::from_std(ttl)
                    .ok()
                    .and_then(|ttl| now.checked_add_signed(ttl))
                    .ok_or_else(|| ApiError::invalid("ttl", "is too long"))
            })
            .transpose()?;
        let issued = tokens::issue(self.kind)?;
        let record = audit.entry(
            request_id,
            actor,
            AuditAction::TokenCreate,
            json!({
                "token_id": issued.id,
                "kind": self.kind.as_str(),
                "user_id": self.user_id.as_ref().map(|u| u.as_str()),
            }),
            "ok",
        )?;
        let stored = store
            .insert_token(
                NewToken {
                    id: issued.id.clone(),
                    hash: issued.hash,
                    kind: self.kind,
                    binding: TokenBinding {
                        user_id: self.user_id.map(String::from),
                        ..TokenBinding::default()
                    },
                    label: self.label,
                    expires_at,
                    now,
                },
                record,
            )
            .await?;
        Ok((stored, issued.secret))
    }
}

pub async fn revoke_token(
    store: &Store,
    audit: &AuditContext,
    id: String,
    request_id: &str,
    actor: &Actor,
) -> ApiResult<StoredToken> {
    let record = audit.entry(
        request_id,
        actor,
        AuditAction::TokenRevoke,
        json!({ "token_id": id }),
        "ok",
    )?;
    Ok(store.revoke_token(id, audit.clock.now(), record).await?)
}

#[utoipa::path(operation_id = "createToken", post, path = "/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = IssuedTokenView),
        (status = 403, description = "not an operator token, or a kind issued on the host only (`token_kind_host_only`)")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateToken>,
) -> ApiResult<Response> {
    principal.require(&[TokenKind::Operator])?;
    let request = TokenRequest::parse(
        &body.kind,
        body.user_id.as_deref(),
        body.ttl.as_deref(),
        body.label,
    )?;
    request.check_issuable_over_http()?;
    let (stored, secret) = request
        .issue(
            &state.store,
            state.audit_context(),
            principal.request_id(),
            &principal.actor(),
        )
        .await?;
    let body = IssuedTokenView {
        token: token_view(stored),
        secret: vault_client::Plaintext::from(secret),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(operation_id = "listTokens", get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TokenList>> {
    principal.require(&[TokenKind::Operator])?;
    let data = state
        .store
        .tokens()
        .await?
        .into_iter()
        // Sessions come and go by the thousand; they are ended through /v1/sessions.
        .filter(|token| token.kind != TokenKind::Session)
        .map(token_view)
        .collect();
    Ok(Json(TokenList { data }))
}

#[utoipa::path(operation_id = "revokeToken", delete, path = "/v1/tokens/{id}", tag = "tokens",
    responses((status = 204), (status = 404),
        (status = 409, description = "the last live operator token (`last_operator_token`); revoke it on the host")))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require(&[TokenKind::Operator])?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::TokenRevoke,
        json!({ "token_id": id }),
        "ok",
    )?;
    // Over HTTP the last operator token stays: without one, the vault could be
    // administered only from its host. `vault-api token revoke` there still may.
    state
        .store
        .revoke_token_keeping_an_operator(id, state.clock.now(), audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
