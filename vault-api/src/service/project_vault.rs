//! A project's vault (seed 002): entries scoped to the project or to listed
//! milestones, reached through the member's role on the project.

use vault_client::wire::{
    CompareValue, CreateEntry, EntryList, EntryListParams, EntryName, EntryNamePage, Rollback,
    SecretView, UpdateEntry, ValueComparison, VersionList,
};
use vault_core::{Owner, ProjectId, ProjectPermission, SecretMeta};
use vault_store::TokenKind;

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::service::entries::{self, Changes, Family, ListFilter, NewEntry};
use crate::service::projects::{authorize, parse_project};
use crate::state::AppState;

/// Whether this principal reads full entry metadata, rather than names only.
async fn reads_entries(
    state: &AppState,
    principal: &Principal,
    project: &ProjectId,
) -> ApiResult<bool> {
    match &principal.caller {
        Caller::User(user) => {
            state
                .authorizer
                .check_project(user, ProjectPermission::ReadEntries, project)
                .await
        }
        caller => Ok(caller.kind() == TokenKind::Operator),
    }
}

/// The entry `id` of the project, once the principal holds `permission` there.
async fn entry(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    id: &str,
    permission: ProjectPermission,
) -> ApiResult<SecretMeta> {
    let project = parse_project(pid)?;
    authorize(state, principal, &project, permission).await?;
    entries::load_owned(state, id, &Owner::Project(project)).await
}

pub(crate) async fn create_entry(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    body: CreateEntry,
) -> ApiResult<SecretView> {
    let project = parse_project(pid)?;
    authorize(state, principal, &project, ProjectPermission::WriteEntries).await?;
    let category = entries::parse_category(&body.category)?;
    let scope = Family::Milestones
        .parse_scope(Some(&body.scope), body.milestone_ids.as_deref(), None)?
        .ok_or_else(|| ApiError::invalid("scope", "is required"))?;
    let new = NewEntry {
        name: body.name,
        value: body.value,
        scope,
        category,
        description: body.description,
        expires_at: body.expires_at,
    };
    entries::create(state, principal, Owner::Project(project), new).await
}

pub(crate) async fn list_entries(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    params: EntryListParams,
) -> ApiResult<EntryList> {
    let project = parse_project(pid)?;
    authorize(state, principal, &project, ProjectPermission::ListEntries).await?;
    let full = reads_entries(state, principal, &project).await?;
    if !full && params.expired.is_some() {
        return Err(ApiError::Forbidden(
            "filtering by expiry needs can_read_entries on the project".into(),
        ));
    }
    let filter = ListFilter {
        limit: params.limit,
        cursor: params.cursor,
        name_prefix: params.name_prefix,
        category: params.category,
        expired: params.expired,
    };
    let owner = Owner::Project(project);
    if full {
        return Ok(EntryList::Full(
            entries::list_views(state, owner, filter).await?,
        ));
    }
    let (page, _) = entries::list(state, owner, filter).await?;
    Ok(EntryList::Names(EntryNamePage {
        data: page
            .items
            .into_iter()
            .map(|meta| EntryName {
                name: meta.name.as_str().to_owned(),
                category: meta.category,
            })
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

pub(crate) async fn get_entry(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    id: &str,
) -> ApiResult<SecretView> {
    let meta = entry(state, principal, pid, id, ProjectPermission::ReadEntries).await?;
    entries::get(state, &meta).await
}

pub(crate) async fn update_entry(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    id: &str,
    body: UpdateEntry,
) -> ApiResult<SecretView> {
    let meta = entry(state, principal, pid, id, ProjectPermission::WriteEntries).await?;
    let changes = Changes {
        value: body.value,
        scope: body.scope,
        targets: body.milestone_ids,
        category: body.category,
        description: body.description,
        expires_at: body.expires_at,
        expected_version: body.expected_version,
    };
    entries::update(state, principal, meta, changes).await
}

/// Whoever may write the project's entries may compare a value with one.
pub(crate) async fn compare_entry(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    id: &str,
    body: CompareValue,
) -> ApiResult<ValueComparison> {
    let meta = entry(state, principal, pid, id, ProjectPermission::WriteEntries).await?;
    entries::compare(state, principal, meta, body).await
}

pub(crate) async fn delete_entry(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    id: &str,
) -> ApiResult<()> {
    let loaded = entry(state, principal, pid, id, ProjectPermission::WriteEntries).await;
    let meta = entries::for_deletion(state, principal, id, loaded).await?;
    entries::delete(state, principal, meta).await
}

pub(crate) async fn entry_versions(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    id: &str,
) -> ApiResult<VersionList> {
    let meta = entry(state, principal, pid, id, ProjectPermission::ReadEntries).await?;
    entries::versions(state, &meta).await
}

pub(crate) async fn rollback_entry(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    id: &str,
    body: Rollback,
) -> ApiResult<SecretView> {
    let meta = entry(state, principal, pid, id, ProjectPermission::WriteEntries).await?;
    entries::rollback(state, principal, meta, body).await
}
