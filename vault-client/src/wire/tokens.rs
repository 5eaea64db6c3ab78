//! API tokens as operators list them, and the one kind issued over HTTP.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vault_core::TokenKind;

use crate::Plaintext;

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `user`. Operator and orchestrator tokens are issued on the host only
    /// (`vault-api token create`); asking for one here is a 403.
    pub kind: String,
    /// Required for (and only for) user tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// How long the token lives, e.g. `30d`, `12h`; no expiry when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    #[schema(value_type = String)]
    pub kind: TokenKind,
    pub user_id: Option<String>,
    pub label: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedTokenView {
    #[serde(flatten)]
    pub token: TokenView,
    /// The bearer token. Shown once; only its hash is kept.
    #[schema(value_type = String)]
    pub secret: Plaintext,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub data: Vec<TokenView>,
}
