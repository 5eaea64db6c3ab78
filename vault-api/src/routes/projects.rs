//! `/v1/projects/…`: projects, their milestones and RACI members, and the project
//! vault (seed 002). Users act by their role, through the authorizer: Accountable does
//! everything, Responsible writes entries, Consulted reads masked metadata, Informed
//! lists names and categories. To a non-member the project does not exist (404); a
//! member whose role falls short gets 403. Operators may do everything (masked);
//! the orchestrator creates projects and keeps their milestones and members in step
//! with the platform, but neither reads nor writes entries.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use vault_core::AuditAction;
use vault_core::{
    MilestoneId, Owner, ProjectId, ProjectPermission, ProjectRole, SecretMeta, UserId,
};
use vault_store::{Member, Milestone, Project, TokenKind};

use crate::auth::{Caller, Principal};
use crate::body::{JsonBody, QueryParams};
use crate::error::{ApiError, ApiResult};
use crate::routes::entries::{self, Changes, Family, ListFilter, NewEntry};
use crate::state::AppState;
use vault_client::wire::{
    CreateEntry, CreateMilestone, CreateProject, EntryList, EntryListParams, EntryName,
    EntryNamePage, MemberView, MilestoneRemovalView, MilestoneView, ProjectListParams, ProjectPage,
    ProjectRemovalView, ProjectSummary, ProjectView, PutMember, Rollback, SecretView, UpdateEntry,
    VersionList,
};

fn parse_project(id: &str) -> ApiResult<ProjectId> {
    ProjectId::parse(id).map_err(ApiError::core("project_id"))
}

fn parse_milestone(field: &str, id: &str) -> ApiResult<MilestoneId> {
    MilestoneId::parse(id).map_err(ApiError::core(field))
}

fn parse_user(field: &str, id: &str) -> ApiResult<UserId> {
    UserId::parse(id).map_err(ApiError::core(field))
}

/// Whether the orchestrator, which mirrors the platform's projects, may do this.
fn orchestrator_may(permission: ProjectPermission) -> bool {
    matches!(
        permission,
        ProjectPermission::View
            | ProjectPermission::ManageMembers
            | ProjectPermission::ManageMilestones
    )
}

/// Lets the request through when this principal holds `permission` on the project:
/// 404 for users who are not members (the project's existence does not leak), 403
/// for members whose role falls short and for token kinds that never may.
async fn authorize(
    state: &AppState,
    principal: &Principal,
    project: &ProjectId,
    permission: ProjectPermission,
) -> ApiResult<()> {
    let refused = || {
        ApiError::Forbidden(format!(
            "this needs {} on the project",
            permission.relation()
        ))
    };
    match &principal.caller {
        Caller::Operator => {
            state.store.project(project.clone()).await?;
            Ok(())
        }
        Caller::Orchestrator if orchestrator_may(permission) => {
            state.store.project(project.clone()).await?;
            Ok(())
        }
        Caller::User(user) => {
            let authorizer = &state.authorizer;
            if authorizer.check_project(user, permission, project).await? {
                return Ok(());
            }
            if authorizer
                .check_project(user, ProjectPermission::Member, project)
                .await?
            {
                Err(refused())
            } else {
                Err(ApiError::NotFound("project"))
            }
        }
        Caller::Orchestrator => Err(refused()),
        Caller::Session(_) => Err(ApiError::Forbidden(
            "a session token may only look up secrets by name".into(),
        )),
    }
}

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

fn milestone_view(milestone: Milestone) -> MilestoneView {
    MilestoneView {
        id: milestone.id.as_str().to_owned(),
        name: milestone.name,
        created_at: milestone.created_at,
    }
}

fn member_view(member: Member) -> MemberView {
    MemberView {
        user_id: member.user_id.as_str().to_owned(),
        role: member.role,
        created_at: member.created_at,
        updated_at: member.updated_at,
    }
}

fn project_view(project: Project, milestones: Vec<Milestone>, members: Vec<Member>) -> ProjectView {
    ProjectView {
        id: project.id.as_str().to_owned(),
        name: project.name,
        milestones: milestones.into_iter().map(milestone_view).collect(),
        members: members.into_iter().map(member_view).collect(),
        created_at: project.created_at,
        updated_at: project.updated_at,
    }
}

#[utoipa::path(operation_id = "createProject", post, path = "/v1/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = ProjectView), (status = 409, description = "the id is taken")))]
pub async fn create_project(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateProject>,
) -> ApiResult<Response> {
    principal.require(&[TokenKind::Operator, TokenKind::Orchestrator])?;
    let id = match &body.id {
        Some(id) => ProjectId::parse(id).map_err(ApiError::core("id"))?,
        None => ProjectId::generate(),
    };
    let accountable = parse_user("accountable_user_id", &body.accountable_user_id)?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::ProjectCreate,
        json!({"project_id": id.as_str(), "accountable_user_id": accountable.as_str()}),
        "ok",
    )?;
    let project = state
        .store
        .create_project(id.clone(), body.name, accountable, state.clock.now(), audit)
        .await?;
    let members = state.store.members(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(project_view(project, Vec::new(), members)),
    )
        .into_response())
}

#[utoipa::path(operation_id = "listProjects", get, path = "/v1/projects", tag = "projects", params(ProjectListParams),
    responses((status = 200, body = ProjectPage)))]
pub async fn list_projects(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<ProjectListParams>,
) -> ApiResult<Json<ProjectPage>> {
    principal.require(&[
        TokenKind::Operator,
        TokenKind::Orchestrator,
        TokenKind::User,
    ])?;
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > vault_store::MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {}", vault_store::MAX_PAGE_SIZE),
        ));
    }
    let after = params
        .cursor
        .as_deref()
        .map(|cursor| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|id| ProjectId::parse(&id).ok())
                .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this vault issued"))
        })
        .transpose()?;
    // A user sees the projects they belong to; the others see every project.
    let member = principal.user().cloned();
    let (page, more) = state.store.list_projects(member, after, limit).await?;
    let next_cursor = more.then(|| page.last()).flatten().map(|listed| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(listed.project.id.as_str())
    });
    let data = page
        .into_iter()
        .map(|listed| ProjectSummary {
            id: listed.project.id.as_str().to_owned(),
            name: listed.project.name,
            role: listed.role,
            created_at: listed.project.created_at,
            updated_at: listed.project.updated_at,
        })
        .collect();
    Ok(Json(ProjectPage { data, next_cursor }))
}

#[utoipa::path(operation_id = "getProject", get, path = "/v1/projects/{pid}", tag = "projects",
    responses((status = 200, body = ProjectView), (status = 404)))]
pub async fn get_project(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<ProjectView>> {
    let project = parse_project(&pid)?;
    authorize(&state, &principal, &project, ProjectPermission::View).await?;
    let found = state.store.project(project.clone()).await?;
    let milestones = state.store.milestones(project.clone()).await?;
    let members = state.store.members(project).await?;
    Ok(Json(project_view(found, milestones, members)))
}

#[utoipa::path(operation_id = "deleteProject", delete, path = "/v1/projects/{pid}", tag = "projects",
    responses((status = 200, body = ProjectRemovalView), (status = 404)))]
pub async fn delete_project(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<ProjectRemovalView>> {
    let project = parse_project(&pid)?;
    authorize(&state, &principal, &project, ProjectPermission::Delete).await?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::ProjectDelete,
        json!({"project_id": project.as_str()}),
        "ok",
    )?;
    let removal = state
        .store
        .delete_project(project.clone(), state.clock.now(), audit)
        .await?;
    Ok(Json(ProjectRemovalView {
        project_id: project.as_str().to_owned(),
        entries_removed: removal.entries,
        milestones_removed: removal.milestones,
        members_removed: removal.members,
    }))
}

#[utoipa::path(operation_id = "createMilestone", post, path = "/v1/projects/{pid}/milestones", tag = "projects", request_body = CreateMilestone,
    responses((status = 201, body = MilestoneView), (status = 404), (status = 409, description = "the id is taken")))]
pub async fn create_milestone(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<CreateMilestone>,
) -> ApiResult<Response> {
    let project = parse_project(&pid)?;
    authorize(
        &state,
        &principal,
        &project,
        ProjectPermission::ManageMilestones,
    )
    .await?;
    let id = match &body.id {
        Some(id) => parse_milestone("id", id)?,
        None => MilestoneId::generate(),
    };
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::MilestoneCreate,
        json!({"project_id": project.as_str(), "milestone_id": id.as_str()}),
        "ok",
    )?;
    let milestone = state
        .store
        .create_milestone(project, id, body.name, state.clock.now(), audit)
        .await?;
    Ok((StatusCode::CREATED, Json(milestone_view(milestone))).into_response())
}

#[utoipa::path(operation_id = "deleteMilestone", delete, path = "/v1/projects/{pid}/milestones/{mid}", tag = "projects",
    responses((status = 200, body = MilestoneRemovalView), (status = 404)))]
pub async fn delete_milestone(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, mid)): Path<(String, String)>,
) -> ApiResult<Json<MilestoneRemovalView>> {
    let project = parse_project(&pid)?;
    authorize(
        &state,
        &principal,
        &project,
        ProjectPermission::ManageMilestones,
    )
    .await?;
    let milestone = parse_milestone("milestone_id", &mid)?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::MilestoneDelete,
        json!({"project_id": project.as_str(), "milestone_id": milestone.as_str()}),
        "ok",
    )?;
    let removal = state
        .store
        .delete_milestone(project, milestone.clone(), state.clock.now(), audit)
        .await?;
    Ok(Json(MilestoneRemovalView {
        milestone_id: milestone.as_str().to_owned(),
        entries_narrowed: removal.entries_narrowed,
        entries_deleted: removal.entries_deleted,
    }))
}

#[utoipa::path(operation_id = "putProjectMember", put, path = "/v1/projects/{pid}/members/{user_id}", tag = "projects", request_body = PutMember,
    responses((status = 200, body = MemberView), (status = 404), (status = 409, description = "would leave no Accountable")))]
pub async fn put_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<PutMember>,
) -> ApiResult<Json<MemberView>> {
    let project = parse_project(&pid)?;
    authorize(
        &state,
        &principal,
        &project,
        ProjectPermission::ManageMembers,
    )
    .await?;
    let user = parse_user("user_id", &user_id)?;
    let role: ProjectRole = body.role.parse().map_err(ApiError::core("role"))?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::MemberPut,
        json!({"project_id": project.as_str(), "user_id": user.as_str(), "role": role.as_str()}),
        "ok",
    )?;
    let member = state
        .store
        .put_member(project, user, role, state.clock.now(), audit)
        .await?;
    Ok(Json(member_view(member)))
}

#[utoipa::path(operation_id = "removeProjectMember", delete, path = "/v1/projects/{pid}/members/{user_id}", tag = "projects",
    responses((status = 204), (status = 404), (status = 409, description = "would leave no Accountable")))]
pub async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let project = parse_project(&pid)?;
    authorize(
        &state,
        &principal,
        &project,
        ProjectPermission::ManageMembers,
    )
    .await?;
    let user = parse_user("user_id", &user_id)?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::MemberRemove,
        json!({"project_id": project.as_str(), "user_id": user.as_str()}),
        "ok",
    )?;
    state
        .store
        .remove_member(project, user, state.clock.now(), audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
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

#[utoipa::path(operation_id = "createProjectEntry", post, path = "/v1/projects/{pid}/vault", tag = "project vault", request_body = CreateEntry,
    responses((status = 201, body = SecretView), (status = 404), (status = 409, description = "name/scope overlap"),
        (status = 422, description = "an invalid field (`invalid_value`), a protected name (`protected_name`, field `name`), or the owner at `VAULT_MAX_ENTRIES_PER_OWNER` (`entry_limit_reached`, with `limit`)")))]
pub async fn create_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
    JsonBody(body): JsonBody<CreateEntry>,
) -> ApiResult<Response> {
    let project = parse_project(&pid)?;
    authorize(
        &state,
        &principal,
        &project,
        ProjectPermission::WriteEntries,
    )
    .await?;
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
    entries::create(&state, &principal, Owner::Project(project), new).await
}

#[utoipa::path(operation_id = "listProjectEntries", get, path = "/v1/projects/{pid}/vault", tag = "project vault", params(EntryListParams),
    responses((status = 200, body = EntryList), (status = 404)))]
pub async fn list_entries(
    State(state): State<AppState>,
    principal: Principal,
    Path(pid): Path<String>,
    QueryParams(params): QueryParams<EntryListParams>,
) -> ApiResult<Json<EntryList>> {
    let project = parse_project(&pid)?;
    authorize(&state, &principal, &project, ProjectPermission::ListEntries).await?;
    let full = reads_entries(&state, &principal, &project).await?;
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
        return Ok(Json(EntryList::Full(
            entries::list_views(&state, owner, filter).await?,
        )));
    }
    let (page, _) = entries::list(&state, owner, filter).await?;
    Ok(Json(EntryList::Names(EntryNamePage {
        data: page
            .items
            .into_iter()
            .map(|meta| EntryName {
                name: meta.name.as_str().to_owned(),
                category: meta.category,
            })
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    })))
}

#[utoipa::path(operation_id = "getProjectEntry", get, path = "/v1/projects/{pid}/vault/{id}", tag = "project vault",
    responses((status = 200, body = SecretView), (status = 404)))]
pub async fn get_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult<Json<SecretView>> {
    let meta = entry(
        &state,
        &principal,
        &pid,
        &id,
        ProjectPermission::ReadEntries,
    )
    .await?;
    entries::get(&state, &meta).await
}

#[utoipa::path(operation_id = "updateProjectEntry", patch, path = "/v1/projects/{pid}/vault/{id}", tag = "project vault", request_body = UpdateEntry,
    responses((status = 200, body = SecretView), (status = 404), (status = 409, description = "stale version or overlap")))]
pub async fn update_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateEntry>,
) -> ApiResult<Json<SecretView>> {
    let meta = entry(
        &state,
        &principal,
        &pid,
        &id,
        ProjectPermission::WriteEntries,
    )
    .await?;
    let changes = Changes {
        value: body.value,
        scope: body.scope,
        targets: body.milestone_ids,
        category: body.category,
        description: body.description,
        expires_at: body.expires_at,
        expected_version: body.expected_version,
    };
    entries::update(&state, &principal, meta, changes).await
}

#[utoipa::path(operation_id = "deleteProjectEntry", delete, path = "/v1/projects/{pid}/vault/{id}", tag = "project vault",
    responses((status = 204), (status = 404)))]
pub async fn delete_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let loaded = entry(
        &state,
        &principal,
        &pid,
        &id,
        ProjectPermission::WriteEntries,
    )
    .await;
    let meta = entries::for_deletion(&state, &principal, &id, loaded).await?;
    entries::delete(&state, &principal, meta).await
}

#[utoipa::path(operation_id = "listProjectEntryVersions", get, path = "/v1/projects/{pid}/vault/{id}/versions", tag = "project vault",
    responses((status = 200, body = VersionList), (status = 404)))]
pub async fn entry_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
) -> ApiResult<Json<VersionList>> {
    let meta = entry(
        &state,
        &principal,
        &pid,
        &id,
        ProjectPermission::ReadEntries,
    )
    .await?;
    entries::versions(&state, &meta).await
}

#[utoipa::path(operation_id = "rollbackProjectEntry", post, path = "/v1/projects/{pid}/vault/{id}/rollback", tag = "project vault", request_body = Rollback,
    responses((status = 200, body = SecretView), (status = 404, description = "no such entry"),
        (status = 409, description = "a stale `expected_version` (`stale_version`), or a version no longer kept (`version_not_kept`)")))]
pub async fn rollback_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path((pid, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Rollback>,
) -> ApiResult<Json<SecretView>> {
    let meta = entry(
        &state,
        &principal,
        &pid,
        &id,
        ProjectPermission::WriteEntries,
    )
    .await?;
    entries::rollback(&state, &principal, meta, body).await
}
