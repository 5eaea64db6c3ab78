//! API tokens, stored only as hashes of the token: looked up by hash, optionally
//! expiring, revocable. Hashing and comparing are the API's job; the store never sees
//! a token.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, on_backend};
use crate::error::{Conflict, Entity, StoreError, StoreResult};
use crate::schema::api_tokens;

/// The kinds live in vault-core with their prefixes; the store keeps `as_str`.
pub use vault_core::TokenKind;

pub const TOKEN_HASH_BYTES: usize = 32;

/// The ids a token is bound to; which ones a kind needs is the API's rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenBinding {
    pub user_id: Option<String>,
    pub profile_id: Option<String>,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    pub milestone_id: Option<String>,
    /// The token that minted this one (a session's orchestrator token): this token
    /// lives only as long as that one does.
    pub issued_by: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    pub hash: [u8; TOKEN_HASH_BYTES],
    pub kind: TokenKind,
    pub binding: TokenBinding,
    pub label: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Leaves the hash out: it is the key tokens are looked up by, so it stays out of logs.
impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("binding", &self.binding)
            .field("label", &self.label)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub id: String,
    pub kind: TokenKind,
    pub binding: TokenBinding,
    pub label: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl StoredToken {
    /// Usable: neither revoked nor expired at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// A token as authentication finds it, with the token that minted it (when it names
/// one) read in the same trip, so a session is judged together with its issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundToken {
    pub token: StoredToken,
    /// `None` when the token names no issuer, or names one that is not stored.
    pub issuer: Option<StoredToken>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: String,
    kind: String,
    user_id: Option<String>,
    profile_id: Option<String>,
    workspace_id: Option<String>,
    project_id: Option<String>,
    milestone_id: Option<String>,
    label: Option<String>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    created_at: i64,
    issued_by: Option<String>,
}

impl TokenRow {
    fn into_token(self) -> StoreResult<StoredToken> {
        Ok(StoredToken {
            id: self.id,
            kind: self.kind.parse().map_err(|_| {
                StoreError::corrupt("api_tokens.kind", format!("unknown kind {:?}", self.kind))
            })?,
            binding: TokenBinding {
                user_id: self.user_id,
                profile_id: self.profile_id,
                workspace_id: self.workspace_id,
                project_id: self.project_id,
                milestone_id: self.milestone_id,
                issued_by: self.issued_by,
            },
            label: self.label,
            expires_at: self
                .expires_at
                .map(|at| from_micros("api_tokens.expires_at", at))
                .transpose()?,
            revoked_at: self
                .revoked_at
                .map(|at| from_micros("api_tokens.revoked_at", at))
                .transpose()?,
            created_at: from_micros("api_tokens.created_at", self.created_at)?,
        })
    }
}

pub(crate) fn insert(conn: &mut DbConnection, new: &NewToken) -> StoreResult<StoredToken> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(&new.id),
            api_tokens::token_hash.eq(new.hash.as_slice()),
            api_tokens::kind.eq(new.kind.as_str()),
            api_tokens::user_id.eq(&new.binding.user_id),
            api_tokens::profile_id.eq(&new.binding.profile_id),
            api_tokens::workspace_id.eq(&new.binding.workspace_id),
            api_tokens::project_id.eq(&new.binding.project_id),
            api_tokens::milestone_id.eq(&new.binding.milestone_id),
            api_tokens::issued_by.eq(&new.binding.issued_by),
            api_tokens::label.eq(&new.label),
            api_tokens::expires_at.eq(new.expires_at.map(micros)),
            api_tokens::created_at.eq(micros(new.now)),
        ))
        .execute(conn)
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(Conflict::AlreadyExists(Entity::Token)),
            other => other,
        })?;
    Ok(StoredToken {
        id: new.id.clone(),
        kind: new.kind,
        binding: new.binding.clone(),
        label: new.label.clone(),
        expires_at: new.expires_at,
        revoked_at: None,
        created_at: new.now,
    })
}

/// The token with this hash, revoked or expired ones included, and its issuer if it
/// names one: the caller decides, and answers every unusable token the same way.
pub(crate) fn find_by_hash(
    conn: &mut DbConnection,
    hash: &[u8; TOKEN_HASH_BYTES],
) -> StoreResult<Option<FoundToken>> {
    // `token_hash` is unique, so no LIMIT: SQLite re-prepares a statement whose LIMIT
    // is a bound parameter on every run, and this one runs on every request.
    let rows: Vec<TokenRow> = on_backend!(conn, |conn| api_tokens::table
        .filter(api_tokens::token_hash.eq(hash.as_slice()))
        .select(TokenRow::as_select())
        .load(conn))?;
    let Some(token) = rows
        .into_iter()
        .next()
        .map(TokenRow::into_token)
        .transpose()?
    else {
        return Ok(None);
    };
    // Only session tokens name an issuer, so other tokens cost no second statement.
    let issuer = match &token.binding.issued_by {
        None => None,
        Some(issuer) => {
            let rows: Vec<TokenRow> = on_backend!(conn, |conn| api_tokens::table
                .filter(api_tokens::id.eq(issuer))
                .select(TokenRow::as_select())
                .load(conn))?;
            rows.into_iter()
                .next()
                .map(TokenRow::into_token)
                .transpose()?
        }
    };
    Ok(Some(FoundToken { token, issuer }))
}

pub(crate) fn get(conn: &mut DbConnection, id: &str) -> StoreResult<Option<StoredToken>> {
    api_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?
        .map(TokenRow::into_token)
        .transpose()
}

/// Revokes token `id`; returns it, and whether this call revoked it (revoking twice
/// keeps the first revocation time, and is no change).
pub(crate) fn revoke(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<(StoredToken, bool)> {
    let revoked = diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(micros(now)))
    .execute(conn)?;
    let token = api_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound(Entity::Token))?
        .into_token()?;
    Ok((token, revoked > 0))
}

/// Transaction-scoped PostgreSQL lock class serializing operator-token revocations.
const OPERATOR_REVOCATION_LOCK: i64 = 0x7661_756c_746f_7072;

/// As `revoke`, refusing to revoke the last live operator token: the check and the
/// revocation are one transaction, and on PostgreSQL revocations of operator tokens
/// take turns, so two operators revoking each other cannot both succeed.
pub(crate) fn revoke_keeping_an_operator(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<(StoredToken, bool)> {
    let token = api_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound(Entity::Token))?
        .into_token()?;
    if token.kind == TokenKind::Operator && token.is_live(now) {
        if let DbConnection::Postgres(_) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(OPERATOR_REVOCATION_LOCK)
                .execute(conn)?;
        }
        let others_live = list(conn)?
            .into_iter()
            .filter(|t| t.kind == TokenKind::Operator && t.id != token.id && t.is_live(now))
            .count();
        if others_live == 0 {
            return Err(StoreError::Conflict(Conflict::LastOperatorToken));
        }
    }
    revoke(conn, id, now)
}

pub(crate) fn list(conn: &mut DbConnection) -> StoreResult<Vec<StoredToken>> {
    api_tokens::table
        .order((api_tokens::created_at.asc(), api_tokens::id.asc()))
        .select(TokenRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TokenRow::into_token)
        .collect()
}

/// Deletes session tokens that expired before `before`: they can never authenticate
/// again, and sessions are minted by the thousand.
pub(crate) fn purge_expired_sessions(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
) -> StoreResult<u64> {
    let purged = diesel::delete(
        api_tokens::table
            .filter(api_tokens::kind.eq(TokenKind::Session.as_str()))
            .filter(api_tokens::expires_at.lt(micros(before))),
    )
    .execute(conn)?;
    Ok(purged as u64)
}
