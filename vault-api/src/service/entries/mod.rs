//! What user secrets, workspace keys and project entries share once the owner's
//! service has decided who may act: parsing scopes and dates, sealing and the masked
//! views here; the reads (`reads`: list, get, versions) and the writes (`writes`:
//! create, update, delete, rollback, each with its audit record) beside. No response
//! built here carries a value.

mod compare;
mod reads;
mod writes;

use chrono::{DateTime, Utc};
use serde_json::json;
use vault_client::Plaintext;
use vault_client::wire::SecretView;
use vault_core::{
    Category, Description, ExpiresAt, MilestoneId, Owner, ProfileId, Scope, ScopeKind, SecretId,
    SecretMeta, SecretName, SecretValue, Version,
};
use vault_kms::SealBinding;
use vault_store::Sealed;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use vault_client::ProblemCode;

pub(crate) use compare::compare;
pub(crate) use reads::{get, list, list_views, versions};
pub(crate) use writes::{create, delete, for_deletion, rollback, update};

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
