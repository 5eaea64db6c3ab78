//! A workspace's BYOK keys, shaped like user secrets (scope `all` or `agents`), and its
//! members (the users whose agents get those keys; admins count as members), both
//! managed by operators and by the users registered as that workspace's admins;
//! operators register and remove the admins. To any other user a workspace is
//! reported missing, as if it had no keys at all.

use serde_json::json;
use vault_client::wire::{
    CompareValue, CreateKey, KeyListParams, Rollback, SecretPage, SecretView, UpdateSecret,
    ValueComparison, VersionList, WorkspaceUserList, WorkspaceUserView,
};
use vault_core::AuditAction;
use vault_core::{
    Category, Owner, OwnerKind, Scope, SecretMeta, UserId, WorkspaceId, WorkspacePermission,
};
use vault_store::TokenKind::{Operator, User};
use vault_store::{ListOwner, WorkspaceUser};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::entries::{self, Family, ListFilter, NewEntry};
use crate::state::AppState;

fn user_view(registered: WorkspaceUser) -> WorkspaceUserView {
    WorkspaceUserView {
        workspace_id: registered.workspace_id.as_str().to_owned(),
        user_id: registered.user_id.as_str().to_owned(),
        created_at: registered.created_at,
    }
}

/// The user a registration change names, and the change's audit record.
fn registration_change(
    state: &AppState,
    principal: &Principal,
    workspace: &WorkspaceId,
    user_id: &str,
    action: AuditAction,
) -> ApiResult<(UserId, vault_core::AuditEntry)> {
    let user = UserId::parse(user_id).map_err(ApiError::core("user_id"))?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        action,
        json!({"workspace_id": workspace.as_str(), "user_id": user.as_str()}),
        "ok",
    )?;
    Ok((user, audit))
}

fn parse_workspace(id: &str) -> ApiResult<WorkspaceId> {
    WorkspaceId::parse(id).map_err(ApiError::core("workspace_id"))
}

/// The workspace in which this principal holds `permission`: any, for an operator;
/// for a user, one they administer (404 otherwise, so a workspace's existence does not
/// leak).
async fn administered_workspace(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    permission: WorkspacePermission,
) -> ApiResult<WorkspaceId> {
    principal.require(&[Operator, User])?;
    let workspace = parse_workspace(wid)?;
    if let Some(user) = principal.user() {
        let allowed = state
            .authorizer
            .check_workspace(user, permission, &workspace)
            .await?;
        if !allowed {
            return Err(ApiError::NotFound("workspace"));
        }
    }
    Ok(workspace)
}

/// The workspace whose members this principal may manage.
async fn membership_workspace(
    state: &AppState,
    principal: &Principal,
    wid: &str,
) -> ApiResult<WorkspaceId> {
    administered_workspace(state, principal, wid, WorkspacePermission::ManageMembers).await
}

/// The workspace whose keys this principal may manage.
async fn managed_workspace(
    state: &AppState,
    principal: &Principal,
    wid: &str,
) -> ApiResult<WorkspaceId> {
    administered_workspace(state, principal, wid, WorkspacePermission::ManageKeys).await
}

async fn managed_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
) -> ApiResult<SecretMeta> {
    let workspace = managed_workspace(state, principal, wid).await?;
    entries::load_owned(state, id, &Owner::Workspace(workspace)).await
}

fn key_filter(params: KeyListParams) -> ListFilter {
    ListFilter {
        limit: params.limit,
        cursor: params.cursor,
        name_prefix: params.name_prefix,
        category: None,
        expired: params.expired,
    }
}

pub(crate) async fn put_admin(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    user_id: &str,
) -> ApiResult<WorkspaceUserView> {
    principal.require(&[Operator])?;
    let workspace = parse_workspace(wid)?;
    let (user, audit) = registration_change(
        state,
        principal,
        &workspace,
        user_id,
        AuditAction::WorkspaceAdminPut,
    )?;
    let admin = state
        .store
        .put_workspace_admin(workspace, user, state.clock.now(), audit)
        .await?;
    Ok(user_view(admin))
}

pub(crate) async fn remove_admin(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    user_id: &str,
) -> ApiResult<()> {
    principal.require(&[Operator])?;
    let workspace = parse_workspace(wid)?;
    let (user, audit) = registration_change(
        state,
        principal,
        &workspace,
        user_id,
        AuditAction::WorkspaceAdminRemove,
    )?;
    state
        .store
        .remove_workspace_admin(workspace, user, audit)
        .await?;
    Ok(())
}

pub(crate) async fn list_admins(
    state: &AppState,
    principal: &Principal,
    wid: &str,
) -> ApiResult<WorkspaceUserList> {
    principal.require(&[Operator])?;
    let workspace = parse_workspace(wid)?;
    let data = state
        .store
        .workspace_admins(workspace)
        .await?
        .into_iter()
        .map(user_view)
        .collect();
    Ok(WorkspaceUserList { data })
}

pub(crate) async fn put_member(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    user_id: &str,
) -> ApiResult<WorkspaceUserView> {
    let workspace = membership_workspace(state, principal, wid).await?;
    let (user, audit) = registration_change(
        state,
        principal,
        &workspace,
        user_id,
        AuditAction::WorkspaceMemberPut,
    )?;
    let member = state
        .store
        .put_workspace_member(workspace, user, state.clock.now(), audit)
        .await?;
    Ok(user_view(member))
}

pub(crate) async fn remove_member(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    user_id: &str,
) -> ApiResult<()> {
    let workspace = membership_workspace(state, principal, wid).await?;
    let (user, audit) = registration_change(
        state,
        principal,
        &workspace,
        user_id,
        AuditAction::WorkspaceMemberRemove,
    )?;
    state
        .store
        .remove_workspace_member(workspace, user, audit)
        .await?;
    Ok(())
}

pub(crate) async fn get_member(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    user_id: &str,
) -> ApiResult<WorkspaceUserView> {
    let workspace = membership_workspace(state, principal, wid).await?;
    let user = UserId::parse(user_id).map_err(ApiError::core("user_id"))?;
    let member = state
        .store
        .workspace_member(workspace, user)
        .await?
        .ok_or(ApiError::NotFound("workspace member"))?;
    Ok(user_view(member))
}

pub(crate) async fn list_members(
    state: &AppState,
    principal: &Principal,
    wid: &str,
) -> ApiResult<WorkspaceUserList> {
    let workspace = membership_workspace(state, principal, wid).await?;
    let data = state
        .store
        .workspace_members(workspace)
        .await?
        .into_iter()
        .map(user_view)
        .collect();
    Ok(WorkspaceUserList { data })
}

pub(crate) async fn create_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    body: CreateKey,
) -> ApiResult<SecretView> {
    let workspace = managed_workspace(state, principal, wid).await?;
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
    entries::create(state, principal, Owner::Workspace(workspace), new).await
}

pub(crate) async fn list_keys(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    params: KeyListParams,
) -> ApiResult<SecretPage> {
    let workspace = managed_workspace(state, principal, wid).await?;
    entries::list_views(state, Owner::Workspace(workspace), key_filter(params)).await
}

pub(crate) async fn get_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
) -> ApiResult<SecretView> {
    let meta = managed_key(state, principal, wid, id).await?;
    entries::get(state, &meta).await
}

pub(crate) async fn update_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
    body: UpdateSecret,
) -> ApiResult<SecretView> {
    let meta = managed_key(state, principal, wid, id).await?;
    entries::update(state, principal, meta, body.into()).await
}

/// Whoever may rotate the key may compare a value with it (operators excepted).
pub(crate) async fn compare_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
    body: CompareValue,
) -> ApiResult<ValueComparison> {
    let meta = managed_key(state, principal, wid, id).await?;
    entries::compare(state, principal, meta, body).await
}

pub(crate) async fn delete_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
) -> ApiResult<()> {
    let loaded = managed_key(state, principal, wid, id).await;
    let meta = entries::for_deletion(state, principal, id, loaded).await?;
    entries::delete(state, principal, meta).await
}

pub(crate) async fn key_versions(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
) -> ApiResult<VersionList> {
    let meta = managed_key(state, principal, wid, id).await?;
    entries::versions(state, &meta).await
}

pub(crate) async fn rollback_key(
    state: &AppState,
    principal: &Principal,
    wid: &str,
    id: &str,
    body: Rollback,
) -> ApiResult<SecretView> {
    let meta = managed_key(state, principal, wid, id).await?;
    entries::rollback(state, principal, meta, body).await
}

/// Every workspace's keys, for operators.
pub(crate) async fn list_all_keys(
    state: &AppState,
    principal: &Principal,
    params: KeyListParams,
) -> ApiResult<SecretPage> {
    principal.require(&[Operator])?;
    let every = ListOwner::EveryOf(OwnerKind::Workspace);
    entries::list_views(state, every, key_filter(params)).await
}
