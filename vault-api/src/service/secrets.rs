//! A user's own secrets (seed 000): who may act on them. User tokens reach only their
//! user's secrets; operator and orchestrator tokens act for any user, naming it.
//! Another user's secret is reported missing, exactly like a missing one.

use vault_client::wire::{
    CompareValue, CreateSecret, ListParams, Rollback, SecretPage, SecretView, UpdateSecret,
    ValueComparison, VersionList,
};
use vault_core::{Category, Owner, OwnerKind, Scope, SecretMeta, UserId};
use vault_store::ListOwner;
use vault_store::TokenKind::{Operator, Orchestrator, User};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::entries::{self, Changes, Family, ListFilter, NewEntry};
use crate::state::AppState;

impl From<UpdateSecret> for Changes {
    fn from(body: UpdateSecret) -> Self {
        Changes {
            value: body.value,
            scope: body.scope,
            targets: body.profile_ids,
            category: None,
            description: body.description,
            expires_at: body.expires_at,
            expected_version: body.expected_version,
        }
    }
}

/// The user a request acts for: a user token's own, or the `user_id` an operator or
/// orchestrator names.
fn acting_user(principal: &Principal, named: Option<&str>) -> ApiResult<UserId> {
    principal.require(&[User, Operator, Orchestrator])?;
    match (principal.user(), named) {
        (Some(own), None) => Ok(own.clone()),
        (Some(own), Some(named)) if named == own.as_str() => Ok(own.clone()),
        (Some(_), Some(_)) => Err(ApiError::Forbidden(
            "a user token acts only for its own user; leave user_id out".into(),
        )),
        (None, Some(named)) => UserId::parse(named).map_err(ApiError::core("user_id")),
        (None, None) => Err(ApiError::invalid(
            "user_id",
            "is required with an operator or orchestrator token",
        )),
    }
}

/// The secret `id` when this principal may see it; 404 otherwise, as if missing.
async fn visible(state: &AppState, principal: &Principal, id: &str) -> ApiResult<SecretMeta> {
    principal.require(&[User, Operator, Orchestrator])?;
    let meta = state.store.secret(entries::parse_secret_id(id)?).await?;
    let visible = match meta.placement.owner() {
        Owner::User(owner) => principal.user().is_none_or(|own| own == owner),
        _ => false,
    };
    if visible {
        Ok(meta)
    } else {
        Err(ApiError::NotFound("secret"))
    }
}

pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    body: CreateSecret,
) -> ApiResult<SecretView> {
    let user = acting_user(principal, body.user_id.as_deref())?;
    let scope = Family::Profiles
        .parse_scope(body.scope.as_deref(), body.profile_ids.as_deref(), None)?
        .unwrap_or(Scope::All);
    let new = NewEntry {
        name: body.name,
        value: body.value,
        scope,
        category: Category::default(),
        description: body.description,
        expires_at: body.expires_at,
    };
    entries::create(state, principal, Owner::User(user), new).await
}

pub(crate) async fn list(
    state: &AppState,
    principal: &Principal,
    params: ListParams,
) -> ApiResult<SecretPage> {
    // An operator without `user_id` browses every user's secrets.
    let owner: ListOwner = if principal.kind() == Operator && params.user_id.is_none() {
        ListOwner::EveryOf(OwnerKind::User)
    } else {
        Owner::User(acting_user(principal, params.user_id.as_deref())?).into()
    };
    let filter = ListFilter {
        limit: params.limit,
        cursor: params.cursor,
        name_prefix: params.name_prefix,
        category: None,
        expired: params.expired,
    };
    entries::list_views(state, owner, filter).await
}

pub(crate) async fn get(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<SecretView> {
    let meta = visible(state, principal, id).await?;
    entries::get(state, &meta).await
}

pub(crate) async fn update(
    state: &AppState,
    principal: &Principal,
    id: &str,
    body: UpdateSecret,
) -> ApiResult<SecretView> {
    let meta = visible(state, principal, id).await?;
    entries::update(state, principal, meta, body.into()).await
}

/// Whoever may rotate the secret may compare a value with it (operators excepted).
pub(crate) async fn compare(
    state: &AppState,
    principal: &Principal,
    id: &str,
    body: CompareValue,
) -> ApiResult<ValueComparison> {
    let meta = visible(state, principal, id).await?;
    entries::compare(state, principal, meta, body).await
}

pub(crate) async fn delete(state: &AppState, principal: &Principal, id: &str) -> ApiResult<()> {
    let loaded = visible(state, principal, id).await;
    let meta = entries::for_deletion(state, principal, id, loaded).await?;
    entries::delete(state, principal, meta).await
}

pub(crate) async fn versions(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<VersionList> {
    let meta = visible(state, principal, id).await?;
    entries::versions(state, &meta).await
}

pub(crate) async fn rollback(
    state: &AppState,
    principal: &Principal,
    id: &str,
    body: Rollback,
) -> ApiResult<SecretView> {
    let meta = visible(state, principal, id).await?;
    entries::rollback(state, principal, meta, body).await
}
