//! Tokens: the checked request shared by `POST /v1/tokens` and `vault-api token
//! create`, issuing (the hash stored with its audit record in one commit), listing and
//! revoking. Operator and orchestrator tokens are issued only on the host, which holds
//! the database and the key configuration: an operator token leaked or misused over
//! the network cannot mint the one kind that reads plaintext, nor another operator.

use serde_json::json;
use vault_client::wire::{CreateToken, IssuedTokenView, TokenList, TokenView};
use vault_core::AuditAction;
use vault_core::UserId;
use vault_store::{NewToken, Store, StoredToken, TokenBinding, TokenKind};

use crate::audit::{Actor, AuditContext};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tokens;

/// A token lifetime over HTTP, exactly as the OpenAPI document states it: a whole
/// number without leading zeros and one unit. One grammar, so a schema-valid lifetime
/// is never refused and a refused one never matches the schema. The digit count is
/// bounded per unit so the longest lifetime stays near a century or two (999999h,
/// 99999d, 9999w): an expiry past the year 9999 has no RFC 3339 form, and a week
/// count of six digits once produced `+19461-08-15T…`, which no client can parse.
pub const TTL_PATTERN: &str = "^(?:[1-9][0-9]{0,5}[smh]|[1-9][0-9]{0,4}d|[1-9][0-9]{0,3}w)$";

fn parse_ttl(text: &str) -> Option<std::time::Duration> {
    // The unit is the last character, not the last byte: `split_at` on a byte index
    // inside a multi-byte character would panic on input such as `1é`.
    let unit = text.chars().next_back()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    let (seconds_per_unit, max_digits): (u64, usize) = match unit {
        's' => (1, 6),
        'm' => (60, 6),
        'h' => (3_600, 6),
        'd' => (86_400, 5),
        'w' => (604_800, 4),
        _ => return None,
    };
    let well_formed = (1..=max_digits).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    let count: u64 = digits.parse().ok().filter(|_| well_formed)?;
    Some(std::time::Duration::from_secs(count * seconds_per_unit))
}

/// The longest token label.
pub const MAX_TOKEN_LABEL_CHARS: usize = 200;

fn token_view(token: StoredToken) -> TokenView {
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

/// Issues a user token over HTTP, for an operator; its value is in the answer once.
pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    body: CreateToken,
) -> ApiResult<IssuedTokenView> {
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
    Ok(IssuedTokenView {
        token: token_view(stored),
        secret: vault_client::Plaintext::from(secret),
    })
}

pub(crate) async fn list(state: &AppState, principal: &Principal) -> ApiResult<TokenList> {
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
    Ok(TokenList { data })
}

pub(crate) async fn revoke(state: &AppState, principal: &Principal, id: String) -> ApiResult<()> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{TTL_PATTERN, parse_ttl};
    use std::time::Duration;

    #[test]
    fn the_ttl_grammar_and_the_published_pattern_agree() {
        let pattern = regex::Regex::new(TTL_PATTERN).expect("the pattern compiles");
        let samples = [
            "1s", "999999s", "999999m", "999999h", "99999d", "9999w", "30d", "12h", "0s", "01d",
            "1000000s", "100000d", "10000w", "999999w", "1", "d", "", "1y", "1é", "é", "1 d",
            "-1d", "+1d", "1D",
        ];
        for sample in samples {
            assert_eq!(
                parse_ttl(sample).is_some(),
                pattern.is_match(sample),
                "{sample:?}: the parser and the OpenAPI pattern disagree"
            );
        }
    }

    #[test]
    fn the_longest_ttl_keeps_an_expiry_that_rfc3339_can_write() {
        assert_eq!(
            parse_ttl("9999w"),
            Some(Duration::from_secs(9_999 * 604_800))
        );
        assert_eq!(
            parse_ttl("99999d"),
            Some(Duration::from_secs(99_999 * 86_400))
        );
        assert_eq!(parse_ttl("90m"), Some(Duration::from_secs(5_400)));
        let longest = ["999999s", "999999m", "999999h", "99999d", "9999w"]
            .into_iter()
            .filter_map(parse_ttl)
            .max()
            .expect("every sample parses");
        let today = chrono::DateTime::parse_from_rfc3339("2026-12-03T00:00:00Z").expect("a date");
        let expiry = today + chrono::Duration::from_std(longest).expect("fits");
        let written = expiry.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert!(written.starts_with("2300-"), "{written}");
        assert_eq!(parse_ttl("10000w"), None);
        assert_eq!(parse_ttl("1é"), None);
    }
}
