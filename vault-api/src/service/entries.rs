//! What user secrets, workspace keys and project entries share once the owner's
//! service has decided who may act: parsing scopes and dates, sealing, the masked views, and the
//! create / list / update / delete / versions / rollback operations with their audit
//! records. No response built here carries a value.

use chrono::{DateTime, Utc};
use serde_json::json;
use vault_client::Plaintext;
use vault_client::wire::{Rollback, SecretPage, SecretView, VersionList, VersionView};
use vault_core::AuditAction;
use vault_core::{
    Category, Description, ExpiresAt, MilestoneId, Owner, Placement, ProfileId, Scope, ScopeKind,
    SecretId, SecretMeta, SecretName, SecretValue, Version,
};
use vault_kms::SealBinding;
use vault_store::{
    Conflict, ListCursor, ListOwner, MAX_PAGE_SIZE, NewSecret, NewValue, Page, Sealed, SecretQuery,
    SecretUpdate, StoreError, TokenKind,
};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::value::IncomingValue;
use vault_client::ProblemCode;

/// How often an update without `expected_version` retries when a rotation on another
/// replica moved the secret between its read and its write (this replica's own
/// rotations of one secret take turns and never race).
const ROTATION_ATTEMPTS: usize = 10;

/// Which scopes an owner's secrets take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// User secrets and workspace keys: `all` or `agents` with `profile_ids`.
    Profiles,
    /// Project entries: `project` or `milestone` with `milestone_ids`.
    Milestones,
}

impl Family {
    pub(crate) fn of(owner: &Owner) -> Family {
        match owner {
            Owner::User(_) | Owner::Workspace(_) => Family::Profiles,
            Owner::Project(_) => Family::Milestones,
        }
    }

    fn wide(self) -> ScopeKind {
        match self {
            Family::Profiles => ScopeKind::All,
            Family::Milestones => ScopeKind::Project,
        }
    }

    fn narrow(self) -> ScopeKind {
        match self {
            Family::Profiles => ScopeKind::Agents,
            Family::Milestones => ScopeKind::Milestone,
        }
    }

    fn targets_field(self) -> &'static str {
        match self {
            Family::Profiles => "profile_ids",
            Family::Milestones => "milestone_ids",
        }
    }

    fn narrow_scope(self, ids: &[String]) -> ApiResult<Scope> {
        let field = self.targets_field();
        match self {
            Family::Profiles => {
                let profiles = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        ProfileId::parse(id).map_err(ApiError::core(format!("{field}[{i}]")))
                    })
                    .collect::<ApiResult<Vec<_>>>()?;
                Scope::agents(profiles).map_err(ApiError::core(field))
            }
            Family::Milestones => {
                let milestones = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        MilestoneId::parse(id).map_err(ApiError::core(format!("{field}[{i}]")))
                    })
                    .collect::<ApiResult<Vec<_>>>()?;
                Scope::milestones(milestones).map_err(ApiError::core(field))
            }
        }
    }

    /// `scope` and its targets as given; `current` is the scope they change, if any.
    pub(crate) fn parse_scope(
        self,
        scope: Option<&str>,
        targets: Option<&[String]>,
        current: Option<&Scope>,
    ) -> ApiResult<Option<Scope>> {
        let field = self.targets_field();
        let (wide, narrow) = (self.wide(), self.narrow());
        let kind = scope
            .map(|s| s.parse::<ScopeKind>().map_err(ApiError::core("scope")))
            .transpose()?;
        match (kind, targets) {
            (None, None) => Ok(None),
            (Some(k), None) if k == wide => Ok(Some(self.wide_scope())),
            (Some(k), Some(_)) if k == wide => Err(ApiError::invalid(
                field,
                format!("applies only to scope {}", narrow.as_str()),
            )),
            (Some(k), Some(ids)) if k == narrow => self.narrow_scope(ids).map(Some),
            (Some(k), None) if k == narrow => Err(ApiError::invalid(
                field,
                format!("is required with scope {}", narrow.as_str()),
            )),
            (Some(_), _) => Err(ApiError::invalid(
                "scope",
                format!("must be {} or {}", wide.as_str(), narrow.as_str()),
            )),
            (None, Some(ids)) => match current {
                Some(current) if current.kind() == narrow => self.narrow_scope(ids).map(Some),
                // The body is well formed; the stored scope is what it does not fit.
                Some(current) => Err(ApiError::Conflict {
                    code: ProblemCode::ScopeMismatch,
                    detail: format!(
                        "{field} applies only to scope {}, and this entry is at scope {}; \
                         set scope too",
                        narrow.as_str(),
                        current.kind().as_str()
                    ),
                }),
                None => Err(ApiError::invalid(
                    field,
                    format!("applies only to scope {}; set scope too", narrow.as_str()),
                )),
            },
        }
    }

    fn wide_scope(self) -> Scope {
        match self {
            Family::Profiles => Scope::All,
            Family::Milestones => Scope::Project,
        }
    }
}

pub(crate) fn parse_expiry(field: &str, text: &str, now: DateTime<Utc>) -> ApiResult<ExpiresAt> {
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 date-time"))?
        .with_timezone(&Utc);
    ExpiresAt::in_future(at, now).map_err(ApiError::core(field))
}

fn parse_description(text: &str) -> ApiResult<Description> {
    Description::parse(text).map_err(ApiError::core("description"))
}

pub(crate) fn parse_category(text: &str) -> ApiResult<Category> {
    text.parse().map_err(ApiError::core("category"))
}

pub(crate) fn parse_secret_id(id: &str) -> ApiResult<SecretId> {
    SecretId::parse(id).map_err(ApiError::core("id"))
}

pub(crate) fn view(meta: &SecretMeta, masked: String, now: DateTime<Utc>) -> SecretView {
    let owner = meta.placement.owner();
    let (profile_ids, milestone_ids) = match (Family::of(owner), meta.placement.scope()) {
        (Family::Profiles, Scope::Agents(targets)) => {
            (Some(targets.iter().cloned().collect()), None)
        }
        (Family::Milestones, Scope::Milestones(targets)) => {
            (None, Some(targets.iter().cloned().collect()))
        }
        (Family::Profiles, _) => (Some(Vec::new()), None),
        (Family::Milestones, _) => (None, Some(Vec::new())),
    };
    let (user_id, workspace_id, project_id) = match owner {
        Owner::User(user) => (Some(user.clone()), None, None),
        Owner::Workspace(workspace) => (None, Some(workspace.clone()), None),
        Owner::Project(project) => (None, None, Some(project.clone())),
    };
    SecretView {
        id: meta.id.clone(),
        user_id,
        workspace_id,
        project_id,
        name: meta.name.clone(),
        scope: meta.placement.scope().kind(),
        profile_ids,
        milestone_ids,
        category: meta.category,
        masked,
        version: meta.version.get(),
        description: meta.description.as_ref().map(|d| d.as_str().to_owned()),
        expires_at: meta.expires_at.map(ExpiresAt::at),
        expired: meta.is_expired(now),
        created_at: meta.created_at,
        updated_at: meta.updated_at,
    }
}

/// A new secret as the request gave it, scope already parsed.
pub(crate) struct NewEntry {
    pub name: String,
    pub value: Plaintext,
    pub scope: Scope,
    pub category: Category,
    pub description: Option<String>,
    pub expires_at: Option<String>,
}

/// A change as the request gave it; `None` leaves a field alone.
pub(crate) struct Changes {
    pub value: Option<Plaintext>,
    pub scope: Option<String>,
    pub targets: Option<Vec<String>>,
    /// Project entries only; the other owners carry no category of their own.
    pub category: Option<String>,
    pub description: Option<Option<String>>,
    pub expires_at: Option<Option<String>>,
    pub expected_version: Option<u32>,
}

/// Filters of a list page, as the request gave them.
pub(crate) struct ListFilter {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub name_prefix: Option<String>,
    pub category: Option<String>,
    pub expired: Option<bool>,
}

/// The secret `id` when it belongs to `owner`; 404 otherwise, as if missing.
pub(crate) async fn load_owned(state: &AppState, id: &str, owner: &Owner) -> ApiResult<SecretMeta> {
    let meta = state.store.secret(parse_secret_id(id)?).await?;
    if meta.placement.owner() == owner {
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

pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    owner: Owner,
    new: NewEntry,
) -> ApiResult<SecretView> {
    let now = state.clock.now();
    let name = SecretName::parse(&new.name).map_err(ApiError::core("name"))?;
    // Stored layers reach other people's agents: none may hold a name that changes
    // how a process runs or where its traffic goes.
    state
        .policy
        .protected()
        .check_storable(name.as_str())
        .map_err(ApiError::core("name"))?;
    let description = new
        .description
        .as_deref()
        .map(parse_description)
        .transpose()?;
    let expires_at = new
        .expires_at
        .as_deref()
        .map(|t| parse_expiry("expires_at", t, now))
        .transpose()?;
    let value = new.value.into_stored("value")?;
    let placement = Placement::new(owner.clone(), new.scope).map_err(ApiError::core("scope"))?;
    // Everything the store would refuse is refused before sealing: a refused write
    // spends no KEK wrap and calls no root provider.
    state
        .store
        .check_new_secret(placement.clone(), name.clone())
        .await?;
    let id = SecretId::generate();
    let sealed = seal(state, &id, Version::FIRST, &owner, &name, &value).await?;
    let masked = value.masked().as_str().to_owned();
    drop(value);
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SecretCreate,
        json!({
            "secret_id": id.as_str(),
            "owner": owner.kind().as_str(),
            "owner_id": owner.id(),
            "name": name.as_str(),
        }),
        "ok",
    )?;
    let meta = state
        .store
        .create_secret(
            NewSecret {
                id,
                name,
                placement,
                category: new.category,
                description,
                expires_at,
                value: sealed,
                masked: masked.clone(),
                now,
            },
            audit,
        )
        .await?;
    Ok(view(&meta, masked, now))
}

/// One page of `owner`'s secrets, with each one's masked current value.
pub(crate) async fn list(
    state: &AppState,
    owner: impl Into<ListOwner>,
    filter: ListFilter,
) -> ApiResult<(
    Page<SecretMeta>,
    std::collections::BTreeMap<SecretId, String>,
)> {
    let limit = filter.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let after = filter
        .cursor
        .as_deref()
        .map(ListCursor::decode)
        .transpose()?;
    let category = filter.category.as_deref().map(parse_category).transpose()?;
    let page = state
        .store
        .list_secrets(SecretQuery {
            owner: owner.into(),
            name_prefix: filter.name_prefix,
            category,
            expired: filter.expired,
            now: state.clock.now(),
            limit,
            after,
        })
        .await?;
    let ids = page.items.iter().map(|m| m.id.clone()).collect();
    let masked = state.store.current_masked(ids).await?;
    Ok((page, masked))
}

/// A page of full views.
pub(crate) async fn list_views(
    state: &AppState,
    owner: impl Into<ListOwner>,
    filter: ListFilter,
) -> ApiResult<SecretPage> {
    let (page, mut masked) = list(state, owner, filter).await?;
    let now = state.clock.now();
    let data = page
        .items
        .iter()
        .map(|meta| {
            let shown = masked.remove(&meta.id).unwrap_or_else(|| "****".into());
            view(meta, shown, now)
        })
        .collect();
    Ok(SecretPage {
        data,
        next_cursor: page.next.map(|c| c.encode()),
    })
}

pub(crate) async fn get(state: &AppState, meta: &SecretMeta) -> ApiResult<SecretView> {
    let masked = masked_of(state, &meta.id).await?;
    Ok(view(meta, masked, state.clock.now()))
}

pub(crate) async fn update(
    state: &AppState,
    principal: &Principal,
    meta: SecretMeta,
    changes: Changes,
) -> ApiResult<SecretView> {
    let action = if changes.value.is_some() {
        AuditAction::SecretRotate
    } else {
        AuditAction::SecretUpdate
    };
    principal.ctx.note_action(action);
    let now = state.clock.now();
    let family = Family::of(meta.placement.owner());
    let scope = family.parse_scope(
        changes.scope.as_deref(),
        changes.targets.as_deref(),
        Some(meta.placement.scope()),
    )?;
    let category = changes
        .category
        .as_deref()
        .map(parse_category)
        .transpose()?;
    let description = changes
        .description
        .map(|d| d.as_deref().map(parse_description).transpose())
        .transpose()?;
    let expires_at = changes
        .expires_at
        .map(|e| {
            e.as_deref()
                .map(|t| parse_expiry("expires_at", t, now))
                .transpose()
        })
        .transpose()?;
    let expected = changes
        .expected_version
        .map(|v| Version::new(v).map_err(ApiError::core("expected_version")))
        .transpose()?;
    let value = changes.value.map(|v| v.into_stored("value")).transpose()?;
    if value.is_some() {
        // Checked before the first seal; the store checks again as it writes.
        state
            .store
            .check_secret_update(meta.id.clone(), expected, scope.clone())
            .await?;
    }
    // An unguarded rotation applies on top of whatever is current: this replica's
    // rotations of the secret take turns, and the row is read again under the turn.
    let unguarded_rotation = value.is_some() && expected.is_none();
    let _turn = if unguarded_rotation {
        Some(state.rotations.lock(meta.id.as_str()).await)
    } else {
        None
    };
    let mut current = if unguarded_rotation {
        state.store.secret(meta.id.clone()).await?
    } else {
        meta
    };
    for attempt in 1..=ROTATION_ATTEMPTS {
        let new_value = match &value {
            Some(value) => {
                let base = expected.unwrap_or(current.version);
                let next = base.next().map_err(ApiError::core("expected_version"))?;
                let sealed = seal(
                    state,
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
            category,
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
                let masked = masked_of(state, &updated.id).await?;
                return Ok(view(&updated, masked, now));
            }
            // The caller asked for no particular version: a rotation that raced with
            // another one is sealed again for the version after the winner's.
            Err(StoreError::Conflict(Conflict::StaleVersion { .. }))
                if expected.is_none() && attempt < ROTATION_ATTEMPTS =>
            {
                // Another replica's rotation landed in between: back off a little
                // (jittered, so racing replicas do not retry in step) and seal again.
                let jitter = u64::from(crate::tokens::random_bytes::<1>()?[0]);
                let pause = (5u64 << attempt.min(6)) + jitter / 8;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                current = state.store.secret(current.id.clone()).await?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict {
        code: ProblemCode::StaleVersion,
        detail: "the secret kept changing; retry".into(),
    })
}

/// `loaded`, or, when it failed the integrity check and the caller is an operator, the
/// row as it stands: deleting is how an operator clears a row edited outside the vault.
pub(crate) async fn for_deletion(
    state: &AppState,
    principal: &Principal,
    id: &str,
    loaded: ApiResult<SecretMeta>,
) -> ApiResult<SecretMeta> {
    match loaded {
        Err(ApiError::IntegrityViolation { .. }) if principal.kind() == TokenKind::Operator => {
            Ok(state.store.secret_unchecked(parse_secret_id(id)?).await?)
        }
        other => other,
    }
}

pub(crate) async fn delete(
    state: &AppState,
    principal: &Principal,
    meta: SecretMeta,
) -> ApiResult<()> {
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SecretDelete,
        target(&meta),
        "ok",
    )?;
    state.store.delete_secret(meta.id, audit).await?;
    Ok(())
}

pub(crate) async fn versions(state: &AppState, meta: &SecretMeta) -> ApiResult<VersionList> {
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
    Ok(VersionList { data })
}

pub(crate) async fn rollback(
    state: &AppState,
    principal: &Principal,
    meta: SecretMeta,
    body: Rollback,
) -> ApiResult<SecretView> {
    let now = state.clock.now();
    let chosen = Version::new(body.version).map_err(ApiError::core("version"))?;
    let expected = body
        .expected_version
        .map(|v| Version::new(v).map_err(ApiError::core("expected_version")))
        .transpose()?
        .unwrap_or(meta.version);
    state
        .store
        .check_secret_update(meta.id.clone(), Some(expected), None)
        .await?;
    let old = state
        .store
        .sealed_version(meta.id.clone(), chosen)
        .await
        .map_err(|e| match e {
            // The secret is there; the version is not (pruned, or never written). A
            // conflict with the secret's state, not a malformed request.
            StoreError::NotFound(_) => ApiError::Conflict {
                code: ProblemCode::VersionNotKept,
                detail: format!(
                    "version {} is not among the versions this secret keeps; its versions route lists them",
                    chosen.get()
                ),
            },
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
    let sealed = seal(state, &meta.id, next, owner, &meta.name, &value).await?;
    let masked = value.masked().as_str().to_owned();
    drop(value);
    let mut record_target = target(&meta);
    record_target["restored_from"] = json!(chosen.get());
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::SecretRollback,
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
    Ok(view(&updated, masked, now))
}
