//! Projects, their milestones and RACI members (seed 002). Users act by their role,
//! through the authorizer: Accountable does everything, Responsible writes entries,
//! Consulted reads masked metadata, Informed lists names and categories. To a
//! non-member the project does not exist (`NotFound`); a member whose role falls short
//! is `Forbidden`. Operators may do everything (masked); the orchestrator creates
//! projects and keeps their milestones and members in step with the platform, but
//! neither reads nor writes entries.

use base64::Engine;
use serde_json::json;
use vault_client::wire::{
    CreateMilestone, CreateProject, MemberView, MilestoneRemovalView, MilestoneView,
    ProjectListParams, ProjectPage, ProjectRemovalView, ProjectSummary, ProjectView, PutMember,
};
use vault_core::AuditAction;
use vault_core::{MilestoneId, ProjectId, ProjectPermission, ProjectRole, UserId};
use vault_store::{Member, Milestone, Project, TokenKind};

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn parse_project(id: &str) -> ApiResult<ProjectId> {
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
pub(crate) async fn authorize(
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

pub(crate) async fn create_project(
    state: &AppState,
    principal: &Principal,
    body: CreateProject,
) -> ApiResult<ProjectView> {
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
    Ok(project_view(project, Vec::new(), members))
}

pub(crate) async fn list_projects(
    state: &AppState,
    principal: &Principal,
    params: ProjectListParams,
) -> ApiResult<ProjectPage> {
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
    Ok(ProjectPage { data, next_cursor })
}

pub(crate) async fn get_project(
    state: &AppState,
    principal: &Principal,
    pid: &str,
) -> ApiResult<ProjectView> {
    let project = parse_project(pid)?;
    authorize(state, principal, &project, ProjectPermission::View).await?;
    let found = state.store.project(project.clone()).await?;
    let milestones = state.store.milestones(project.clone()).await?;
    let members = state.store.members(project).await?;
    Ok(project_view(found, milestones, members))
}

pub(crate) async fn delete_project(
    state: &AppState,
    principal: &Principal,
    pid: &str,
) -> ApiResult<ProjectRemovalView> {
    let project = parse_project(pid)?;
    authorize(state, principal, &project, ProjectPermission::Delete).await?;
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
    Ok(ProjectRemovalView {
        project_id: project.as_str().to_owned(),
        entries_removed: removal.entries,
        milestones_removed: removal.milestones,
        members_removed: removal.members,
    })
}

pub(crate) async fn create_milestone(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    body: CreateMilestone,
) -> ApiResult<MilestoneView> {
    let project = parse_project(pid)?;
    authorize(
        state,
        principal,
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
    Ok(milestone_view(milestone))
}

pub(crate) async fn delete_milestone(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    mid: &str,
) -> ApiResult<MilestoneRemovalView> {
    let project = parse_project(pid)?;
    authorize(
        state,
        principal,
        &project,
        ProjectPermission::ManageMilestones,
    )
    .await?;
    let milestone = parse_milestone("milestone_id", mid)?;
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
    Ok(MilestoneRemovalView {
        milestone_id: milestone.as_str().to_owned(),
        entries_narrowed: removal.entries_narrowed,
        entries_deleted: removal.entries_deleted,
    })
}

pub(crate) async fn put_member(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    user_id: &str,
    body: PutMember,
) -> ApiResult<MemberView> {
    let project = parse_project(pid)?;
    authorize(state, principal, &project, ProjectPermission::ManageMembers).await?;
    let user = parse_user("user_id", user_id)?;
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
    Ok(member_view(member))
}

pub(crate) async fn remove_member(
    state: &AppState,
    principal: &Principal,
    pid: &str,
    user_id: &str,
) -> ApiResult<()> {
    let project = parse_project(pid)?;
    authorize(state, principal, &project, ProjectPermission::ManageMembers).await?;
    let user = parse_user("user_id", user_id)?;
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
    Ok(())
}
