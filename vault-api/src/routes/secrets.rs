//! `/v1/secrets`: a user's own secrets (seed 000). User tokens reach only their user's
//! secrets; operator and orchestrator tokens act for any user, naming it. Another
//! user's secret answers 404, exactly like a missing one. No response carries a value.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use vault_core::{
    Category, Description, ExpiresAt, Owner, Placement, ProfileId, Scope, ScopeKind, SecretId,
    SecretMeta, SecretName, SecretValue, UserId, Version,
};
use vault_kms::SealBinding;
use vault_store::{
    Conflict, ListCursor, MAX_PAGE_SIZE, NewSecret, NewValue, Sealed, SecretQuery, SecretUpdate,
    StoreError,
};

use crate::auth::Principal;
use crate::body::{JsonBody, QueryParams};
use crate::error::{ApiError, ApiResult};
use crate::routes::nullable;
use crate::state::AppState;
use crate::value::IncomingValue;

use vault_store::TokenKind::{Operator, Orchestrator, User};

/// How often a PATCH without `expected_version` retries when a concurrent rotation
/// moved the secret between its read and its write.
const ROTATION_ATTEMPTS: usize = 3;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecret {
    /// `^[A-Z_][A-Z0-9_]*$`, at most 256 characters.
    name: String,
    /// UTF-8, at most 64 KiB. Never returned.
    #[schema(value_type = String, format = Password)]
    value: IncomingValue,
    /// `all` (default) or `agents`.
    scope: Option<String>,
    profile_ids: Option<Vec<String>>,
    description: Option<String>,
    /// RFC 3339, in the future.
    expires_at: Option<String>,
    /// For operator and orchestrator tokens: the user who owns the secret.
    user_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSecret {
    #[schema(value_type = Option<String>, format = Password)]
    value: Option<IncomingValue>,
    scope: Option<String>,
    profile_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Option<String>>,
    /// Refuse the change (409) unless the secret is at this version.
    expected_version: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version whose value becomes current again (as a new version).
    version: u32,
    expected_version: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1 to 200; 50 when absent.
    limit: Option<u32>,
    cursor: Option<String>,
    name_prefix: Option<String>,
    expired: Option<bool>,
    /// For operator and orchestrator tokens: whose secrets.
    user_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    id: String,
    user_id: String,
    name: String,
    /// `all` or `agents`.
    #[schema(value_type = String)]
    scope: ScopeKind,
    profile_ids: Vec<String>,
    masked: String,
    version: u32,
    description: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    expired: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecretPage {
    data: Vec<SecretView>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    version: u32,
    masked: String,
    current: bool,
    restored_from: Option<u32>,
    kek_id: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    data: Vec<VersionView>,
}

pub(crate) fn view(meta: &SecretMeta, masked: String, now: DateTime<Utc>) -> SecretView {
    let profile_ids = match meta.placement.scope() {
        Scope::Agents(targets) => targets.iter().map(|p| p.as_str().to_owned()).collect(),
        _ => Vec::new(),
    };
    SecretView {
        id: meta.id.as_str().to_owned(),
        user_id: meta.placement.owner().id().to_owned(),
        name: meta.name.as_str().to_owned(),
        scope: meta.placement.scope().kind(),
        profile_ids,
        masked,
        version: meta.version.get(),
        description: meta.description.as_ref().map(|d| d.as_str().to_owned()),
        expires_at: meta.expires_at.map(ExpiresAt::at),
        expired: meta.is_expired(now),
        created_at: meta.created_at,
        updated_at: meta.updated_at,
    }
}

/// The user a request acts for: a user token's own, or the `user_id` an operator or
/// orchestrator names.
fn acting_user(principal: &Principal, named: Option<&str>) -> ApiResult<UserId> {
    principal.require(&[User, Operator, Orchestrator])?;
    match (&principal.user, named) {
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

fn parse_id(id: &str) -> ApiResult<SecretId> {
    SecretId::parse(id).map_err(ApiError::core("id"))
}

fn parse_expiry(field: &str, text: &str, now: DateTime<Utc>) -> ApiResult<ExpiresAt> {
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 date-time"))?
        .with_timezone(&Utc);
    ExpiresAt::in_future(at, now).map_err(ApiError::core(field))
}

fn parse_description(text: &str) -> ApiResult<Description> {
    Description::parse(text).map_err(ApiError::core("description"))
}

fn agents_scope(profile_ids: &[String]) -> ApiResult<Scope> {
    let profiles = profile_ids
        .iter()
        .enumerate()
        .map(|(i, id)| ProfileId::parse(id).map_err(ApiError::core(format!("profile_ids[{i}]"))))
        .collect::<ApiResult<Vec<_>>>()?;
    Scope::agents(profiles).map_err(ApiError::core("profile_ids"))
}

/// `scope` and `profile_ids` as given; `current` is the scope they change, if any.
fn parse_scope(
    scope: Option<&str>,
    profile_ids: Option<&[String]>,
    current: Option<&Scope>,
) -> ApiResult<Option<Scope>> {
    let kind = scope
        .map(|s| s.parse::<ScopeKind>().map_err(ApiError::core("scope")))
        .transpose()?;
    match (kind, profile_ids) {
        (None, None) => Ok(None),
        (Some(ScopeKind::All), None) => Ok(Some(Scope::All)),
        (Some(ScopeKind::All), Some(_)) => Err(ApiError::invalid(
            "profile_ids",
            "applies only to scope agents",
        )),
        (Some(ScopeKind::Agents), Some(ids)) => agents_scope(ids).map(Some),
        (Some(ScopeKind::Agents), None) => Err(ApiError::invalid(
            "profile_ids",
            "is required with scope agents",
        )),
        (Some(_), _) => Err(ApiError::invalid(
            "scope",
            "user secrets take scope all or agents",
        )),
        (None, Some(ids)) => match current {
            Some(Scope::Agents(_)) => agents_scope(ids).map(Some),
            _ => Err(ApiError::invalid(
                "profile_ids",
                "applies only to scope agents; set scope too",
            )),
        },
    }
}

/// The secret `id` when this principal may see it; 404 otherwise, as if missing.
async fn visible(state: &AppState, principal: &Principal, id: &str) -> ApiResult<SecretMeta> {
    principal.require(&[User, Operator, Orchestrator])?;
    let id = parse_id(id)?;
    let meta = state.store.secret(id).await?;
    let visible = match meta.placement.owner() {
        Owner::User(owner) => principal.user.as_ref().is_none_or(|own| own == owner),
        _ => false,
    };
    if visible {
        Ok(meta)
    } else {
        Err(ApiError::NotFound("secret"))
    }
}

async fn seal(
    state: &AppState,
    id: &SecretId,
    version: Version,
    owner: &Owner,
    name: &SecretName,
    value: &SecretValue,
) -> ApiResult<Sealed> {
    let binding = SealBinding {
        secret_id: id,
        version,
        owner,
        name,
    };
    let envelope = state.keyring.seal(&binding, value).await?;
    Ok(Sealed {
        kek_id: envelope.kek_id().to_string(),
        envelope: envelope.to_bytes(),
    })
}

async fn masked_of(state: &AppState, id: &SecretId) -> ApiResult<String> {
    Ok(state
        .store
        .current_masked(vec![id.clone()])
        .await?
        .remove(id)
        .unwrap_or_else(|| "****".into()))
}

fn target(meta: &SecretMeta) -> serde_json::Value {
    json!({
        "secret_id": meta.id.as_str(),
        "owner": meta.placement.owner().kind().as_str(),
        "owner_id": meta.placement.owner().id(),
        "name": meta.name.as_str(),
    })
}

#[utoipa::path(post, path = "/v1/secrets", tag = "secrets", request_body = CreateSecret,
    responses((status = 201, body = SecretView), (status = 409, description = "name/scope overlap")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateSecret>,
) -> ApiResult<Response> {
    let user = acting_user(&principal, body.user_id.as_deref())?;
    let now = state.clock.now();
    let name = SecretName::parse(&body.name).map_err(ApiError::core("name"))?;
    let scope = parse_scope(body.scope.as_deref(), body.profile_ids.as_deref(), None)?
        .unwrap_or(Scope::All);
    let description = body
        .description
        .as_deref()
        .map(parse_description)
        .transpose()?;
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|t| parse_expiry("expires_at", t, now))
        .transpose()?;
    let value = body.value.into_secret("value")?;
    let owner = Owner::User(user);
    let placement = Placement::new(owner.clone(), scope).map_err(ApiError::core("scope"))?;
    let id = SecretId::generate();
    let sealed = seal(&state, &id, Version::FIRST, &owner, &name, &value).await?;
    let masked = value.masked().as_str().to_owned();
    drop(value);
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        "secret.create",
        json!({"secret_id": id.as_str(), "owner": "user", "owner_id": owner.id(), "name": name.as_str()}),
        "ok",
    )?;
    let meta = state
        .store
        .create_secret(
            NewSecret {
                id,
                name,
                placement,
                category: Category::default(),
                description,
                expires_at,
                value: sealed,
                masked: masked.clone(),
                now,
            },
            audit,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(&meta, masked, now))).into_response())
}

#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", params(ListParams),
    responses((status = 200, body = SecretPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<SecretPage>> {
    let user = acting_user(&principal, params.user_id.as_deref())?;
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let after = params
        .cursor
        .as_deref()
        .map(ListCursor::decode)
        .transpose()?;
    let now = state.clock.now();
    let page = state
        .store
        .list_secrets(SecretQuery {
            owner: Owner::User(user),
            name_prefix: params.name_prefix,
            category: None,
            expired: params.expired,
            now,
            limit,
            after,
        })
        .await?;
    let ids = page.items.iter().map(|m| m.id.clone()).collect();
    let mut masked = state.store.current_masked(ids).await?;
    let data = page
        .items
        .iter()
        .map(|meta| {
            let shown = masked.remove(&meta.id).unwrap_or_else(|| "****".into());
            view(meta, shown, now)
        })
        .collect();
    Ok(Json(SecretPage {
        data,
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

#[utoipa::path(get, path = "/v1/secrets/{id}", tag = "secrets",
    responses((status = 200, body = SecretView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<SecretView>> {
    let meta = visible(&state, &principal, &id).await?;
    let masked = masked_of(&state, &meta.id).await?;
    Ok(Json(view(&meta, masked, state.clock.now())))
}

#[utoipa::path(patch, path = "/v1/secrets/{id}", tag = "secrets", request_body = UpdateSecret,
    responses((status = 200, body = SecretView), (status = 409, description = "stale version or overlap")))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateSecret>,
) -> ApiResult<Json<SecretView>> {
    let meta = visible(&state, &principal, &id).await?;
    let now = state.clock.now();
    let scope = parse_scope(
        body.scope.as_deref(),
        body.profile_ids.as_deref(),
        Some(meta.placement.scope()),
    )?;
    let description = body
        .description
        .map(|d| d.as_deref().map(parse_description).transpose())
        .transpose()?;
    let expires_at = body
        .expires_at
        .map(|e| {
            e.as_deref()
                .map(|t| parse_expiry("expires_at", t, now))
                .transpose()
        })
        .transpose()?;
    let expected = body
        .expected_version
        .map(|v| Version::new(v).map_err(ApiError::core("expected_version")))
        .transpose()?;
    let value = body.value.map(|v| v.into_secret("value")).transpose()?;
    let action = if value.is_some() {
        "secret.rotate"
    } else {
        "secret.update"
    };
    let mut current = meta;
    for attempt in 1..=ROTATION_ATTEMPTS {
        let new_value = match &value {
            Some(value) => {
                let base = expected.unwrap_or(current.version);
                let next = base.next().map_err(ApiError::core("expected_version"))?;
                let sealed = seal(
                    &state,
                    &current.id,
                    next,
                    current.placement.owner(),
                    &current.name,
                    value,
                )
                .await?;
                Some(NewValue {
                    sealed,
                    masked: value.masked().as_str().to_owned(),
                    restored_from: None,
                })
            }
            None => None,
        };
        let update = SecretUpdate {
            expected_version: expected.or(new_value.as_ref().map(|_| current.version)),
            value: new_value,
            scope: scope.clone(),
            description: description.clone(),
            expires_at,
        };
        let audit = state.audit_entry(
            principal.request_id(),
            &principal.actor(),
            action,
            target(&current),
            "ok",
        )?;
        match state
            .store
            .update_secret(current.id.clone(), update, now, audit)
            .await
        {
            Ok(updated) => {
                let masked = masked_of(&state, &updated.id).await?;
                return Ok(Json(view(&updated, masked, now)));
            }
            // The caller asked for no particular version: a rotation that raced with
            // another one is sealed again for the version after the winner's.
            Err(StoreError::Conflict(Conflict::StaleVersion { .. }))
                if expected.is_none() && attempt < ROTATION_ATTEMPTS =>
            {
                current = state.store.secret(current.id.clone()).await?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict {
        code: "stale_version",
        detail: "the secret kept changing; retry".into(),
    })
}

#[utoipa::path(delete, path = "/v1/secrets/{id}", tag = "secrets",
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let meta = visible(&state, &principal, &id).await?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        "secret.delete",
        target(&meta),
        "ok",
    )?;
    state.store.delete_secret(meta.id, audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/secrets/{id}/versions", tag = "secrets",
    responses((status = 200, body = VersionList), (status = 404)))]
pub async fn versions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<VersionList>> {
    let meta = visible(&state, &principal, &id).await?;
    let data = state
        .store
        .secret_versions(meta.id.clone())
        .await?
        .into_iter()
        .map(|v| VersionView {
            version: v.version.get(),
            masked: v.masked,
            current: v.version == meta.version,
            restored_from: v.restored_from.map(Version::get),
            kek_id: v.kek_id,
            created_at: v.created_at,
        })
        .collect();
    Ok(Json(VersionList { data }))
}

#[utoipa::path(post, path = "/v1/secrets/{id}/rollback", tag = "secrets", request_body = Rollback,
    responses((status = 200, body = SecretView), (status = 404, description = "no such secret or version")))]
pub async fn rollback(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Rollback>,
) -> ApiResult<Json<SecretView>> {
    let meta = visible(&state, &principal, &id).await?;
    let now = state.clock.now();
    let chosen = Version::new(body.version).map_err(ApiError::core("version"))?;
    let expected = body
        .expected_version
        .map(|v| Version::new(v).map_err(ApiError::core("expected_version")))
        .transpose()?
        .unwrap_or(meta.version);
    let old = state
        .store
        .sealed_version(meta.id.clone(), chosen)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => {
                ApiError::invalid("version", "is not a version this secret still keeps")
            }
            other => other.into(),
        })?;
    let owner = meta.placement.owner();
    let envelope = vault_kms::Envelope::from_bytes(&old.envelope)?;
    let value = state
        .keyring
        .open(
            &SealBinding {
                secret_id: &meta.id,
                version: chosen,
                owner,
                name: &meta.name,
            },
            &envelope,
        )
        .await?;
    let next = expected
        .next()
        .map_err(ApiError::core("expected_version"))?;
    let sealed = seal(&state, &meta.id, next, owner, &meta.name, &value).await?;
    let masked = value.masked().as_str().to_owned();
    drop(value);
    let mut record_target = target(&meta);
    record_target["restored_from"] = json!(chosen.get());
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        "secret.rollback",
        record_target,
        "ok",
    )?;
    let updated = state
        .store
        .update_secret(
            meta.id.clone(),
            SecretUpdate {
                expected_version: Some(expected),
                value: Some(NewValue {
                    sealed,
                    masked: masked.clone(),
                    restored_from: Some(chosen),
                }),
                ..SecretUpdate::default()
            },
            now,
            audit,
        )
        .await?;
    Ok(Json(view(&updated, masked, now)))
}
