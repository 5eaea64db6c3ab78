//! Projects, their milestones and their RACI members. Deleting a project cascades to
//! its milestones, members and entries (with every version) in the database itself.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use vault_core::{MilestoneId, OwnerKind, ProjectId, ProjectRole, ScopeKind, UserId};

use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, read_transaction, write_transaction};
use crate::error::{Conflict, Entity, StoreError, StoreResult};
use crate::schema::{milestones, project_members, projects, secret_targets, secrets};

pub const MAX_PROJECT_NAME_CHARS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Milestone {
    pub project_id: ProjectId,
    pub id: MilestoneId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub role: ProjectRole,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A project in a list, with the listing member's role when the list is theirs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedProject {
    pub project: Project,
    pub role: Option<ProjectRole>,
}

/// What deleting a project took with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectRemoval {
    pub entries: u64,
    pub milestones: u64,
    pub members: u64,
}

/// What deleting a milestone took with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MilestoneRemoval {
    /// Entries that still reach other milestones, now without this one.
    pub entries_narrowed: u64,
    /// Entries whose only milestone this was, deleted with every version.
    pub entries_deleted: u64,
}

fn display_name(field: &'static str, name: &str) -> StoreResult<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_PROJECT_NAME_CHARS {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {MAX_PROJECT_NAME_CHARS} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Locks the project for the rest of the transaction, so its rules (an Accountable
/// always remains, the removal counts) hold against a state nobody else changes. SQLite
/// holds the database write lock already; on PostgreSQL, `FOR UPDATE` also holds back
/// concurrent inserts that reference the project until this transaction ends.
fn lock_project(conn: &mut DbConnection, id: &ProjectId, now: DateTime<Utc>) -> StoreResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        let locked: Option<String> = projects::table
            .find(id.as_str())
            .select(projects::id)
            .for_update()
            .first(pg)
            .optional()?;
        if locked.is_none() {
            return Err(StoreError::NotFound(Entity::Project));
        }
    }
    let touched = diesel::update(projects::table.find(id.as_str()))
        .set(projects::updated_at.eq(micros(now)))
        .execute(conn)?;
    if touched == 0 {
        return Err(StoreError::NotFound(Entity::Project));
    }
    Ok(())
}

/// Creates a project with its first Accountable member: a project never exists
/// without one.
pub(crate) fn create_project(
    conn: &mut DbConnection,
    id: &ProjectId,
    name: &str,
    accountable: &UserId,
    now: DateTime<Utc>,
) -> StoreResult<Project> {
    let name = display_name("name", name)?;
    write_transaction(conn, |conn| {
        let at = micros(now);
        let taken: i64 = projects::table.find(id.as_str()).count().get_result(conn)?;
        if taken > 0 {
            return Err(StoreError::Conflict(Conflict::AlreadyExists(
                Entity::Project,
            )));
        }
        diesel::insert_into(projects::table)
            .values((
                projects::id.eq(id.as_str()),
                projects::name.eq(&name),
                projects::created_at.eq(at),
                projects::updated_at.eq(at),
            ))
            .execute(conn)?;
        diesel::insert_into(project_members::table)
            .values((
                project_members::project_id.eq(id.as_str()),
                project_members::user_id.eq(accountable.as_str()),
                project_members::role.eq(ProjectRole::Accountable.as_str()),
                project_members::created_at.eq(at),
                project_members::updated_at.eq(at),
            ))
            .execute(conn)?;
        Ok(Project {
            id: id.clone(),
            name: name.clone(),
            created_at: now,
            updated_at: now,
        })
    })
}

pub(crate) fn get_project(conn: &mut DbConnection, id: &ProjectId) -> StoreResult<Project> {
    let row: Option<(String, i64, i64)> = projects::table
        .find(id.as_str())
        .select((projects::name, projects::created_at, projects::updated_at))
        .first(conn)
        .optional()?;
    let (name, created_at, updated_at) = row.ok_or(StoreError::NotFound(Entity::Project))?;
    Ok(Project {
        id: id.clone(),
        name,
        created_at: from_micros("projects.created_at", created_at)?,
        updated_at: from_micros("projects.updated_at", updated_at)?,
    })
}

pub(crate) fn delete_project(
    conn: &mut DbConnection,
    id: &ProjectId,
    now: DateTime<Utc>,
) -> StoreResult<ProjectRemoval> {
    write_transaction(conn, |conn| {
        // Counted under the project lock, so the counts are what the cascade removes.
        lock_project(conn, id, now)?;
        let removed_row = diesel::delete(projects::table.find(id.as_str()));
        let entries: i64 = secrets::table
            .filter(secrets::project_id.eq(id.as_str()))
            .count()
            .get_result(conn)?;
        let milestones: i64 = milestones::table
            .filter(milestones::project_id.eq(id.as_str()))
            .count()
            .get_result(conn)?;
        let members: i64 = project_members::table
            .filter(project_members::project_id.eq(id.as_str()))
            .count()
            .get_result(conn)?;
        if removed_row.execute(conn)? == 0 {
            return Err(StoreError::NotFound(Entity::Project));
        }
        Ok(ProjectRemoval {
            entries: entries.unsigned_abs(),
            milestones: milestones.unsigned_abs(),
            members: members.unsigned_abs(),
        })
    })
}

pub(crate) fn create_milestone(
    conn: &mut DbConnection,
    project: &ProjectId,
    id: &MilestoneId,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<Milestone> {
    let name = display_name("name", name)?;
    write_transaction(conn, |conn| {
        lock_project(conn, project, now)?;
        let taken: i64 = milestones::table
            .find((project.as_str(), id.as_str()))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(StoreError::Conflict(Conflict::AlreadyExists(
                Entity::Milestone,
            )));
        }
        diesel::insert_into(milestones::table)
            .values((
                milestones::project_id.eq(project.as_str()),
                milestones::id.eq(id.as_str()),
                milestones::name.eq(&name),
                milestones::created_at.eq(micros(now)),
            ))
            .execute(conn)?;
        Ok(Milestone {
            project_id: project.clone(),
            id: id.clone(),
            name: name.clone(),
            created_at: now,
        })
    })
}

pub(crate) fn list_milestones(
    conn: &mut DbConnection,
    project: &ProjectId,
) -> StoreResult<Vec<Milestone>> {
    read_transaction(conn, |conn| {
        get_project(conn, project)?;
        let rows: Vec<(String, String, i64)> = milestones::table
            .filter(milestones::project_id.eq(project.as_str()))
            .order(milestones::id.asc())
            .select((milestones::id, milestones::name, milestones::created_at))
            .load(conn)?;
        rows.into_iter()
            .map(|(id, name, created_at)| {
                Ok(Milestone {
                    project_id: project.clone(),
                    id: MilestoneId::parse(&id).map_err(StoreError::stored("milestones.id"))?,
                    name,
                    created_at: from_micros("milestones.created_at", created_at)?,
                })
            })
            .collect()
    })
}

/// Removes a milestone from the project and from every entry's targets; an entry left
/// with no milestone is deleted, since it would otherwise reach nobody.
pub(crate) fn delete_milestone(
    conn: &mut DbConnection,
    project: &ProjectId,
    id: &MilestoneId,
    now: DateTime<Utc>,
    keys: Option<&vault_core::IntegrityKeys>,
) -> StoreResult<MilestoneRemoval> {
    write_transaction(conn, |conn| {
        lock_project(conn, project, now)?;
        let removed = diesel::delete(milestones::table.find((project.as_str(), id.as_str())))
            .execute(conn)?;
        if removed == 0 {
            return Err(StoreError::NotFound(Entity::Milestone));
        }
        let reached: Vec<String> = secret_targets::table
            .filter(secret_targets::owner_kind.eq(OwnerKind::Project.as_str()))
            .filter(secret_targets::owner_id.eq(project.as_str()))
            .filter(secret_targets::target_id.eq(id.as_str()))
            .select(secret_targets::secret_id)
            .load(conn)?;
        diesel::delete(
            secret_targets::table
                .filter(secret_targets::owner_kind.eq(OwnerKind::Project.as_str()))
                .filter(secret_targets::owner_id.eq(project.as_str()))
                .filter(secret_targets::target_id.eq(id.as_str())),
        )
        .execute(conn)?;
        let still_targeted: Vec<String> = secret_targets::table
            .filter(secret_targets::secret_id.eq_any(&reached))
            .select(secret_targets::secret_id)
            .distinct()
            .load(conn)?;
        let orphaned: Vec<&String> = reached
            .iter()
            .filter(|s| !still_targeted.contains(s))
            .collect();
        let deleted = diesel::delete(
            secrets::table
                .filter(secrets::id.eq_any(&orphaned))
                .filter(secrets::scope_kind.eq(ScopeKind::Milestone.as_str())),
        )
        .execute(conn)?;
        // The narrowed entries' disclosure state changed with their targets.
        for secret in &still_targeted {
            crate::secrets::stamp_row_by_id(conn, secret, keys)?;
        }
        Ok(MilestoneRemoval {
            entries_narrowed: still_targeted.len() as u64,
            entries_deleted: deleted as u64,
        })
    })
}

fn accountable_count(conn: &mut DbConnection, project: &ProjectId) -> StoreResult<i64> {
    Ok(project_members::table
        .filter(project_members::project_id.eq(project.as_str()))
        .filter(project_members::role.eq(ProjectRole::Accountable.as_str()))
        .count()
        .get_result(conn)?)
}

fn role_of(
    conn: &mut DbConnection,
    project: &ProjectId,
    user: &UserId,
) -> StoreResult<Option<ProjectRole>> {
    let role: Option<String> = project_members::table
        .find((project.as_str(), user.as_str()))
        .select(project_members::role)
        .first(conn)
        .optional()?;
    role.map(|r| {
        r.parse()
            .map_err(StoreError::stored("project_members.role"))
    })
    .transpose()
}

/// Adds a member or changes their role; refuses to demote the last Accountable.
pub(crate) fn put_member(
    conn: &mut DbConnection,
    project: &ProjectId,
    user: &UserId,
    role: ProjectRole,
    now: DateTime<Utc>,
) -> StoreResult<Member> {
    write_transaction(conn, |conn| {
        lock_project(conn, project, now)?;
        let at = micros(now);
        match role_of(conn, project, user)? {
            Some(old) => {
                if old == ProjectRole::Accountable
                    && role != ProjectRole::Accountable
                    && accountable_count(conn, project)? <= 1
                {
                    return Err(StoreError::Conflict(Conflict::LastAccountable));
                }
                diesel::update(project_members::table.find((project.as_str(), user.as_str())))
                    .set((
                        project_members::role.eq(role.as_str()),
                        project_members::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(project_members::table)
                    .values((
                        project_members::project_id.eq(project.as_str()),
                        project_members::user_id.eq(user.as_str()),
                        project_members::role.eq(role.as_str()),
                        project_members::created_at.eq(at),
                        project_members::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
        }
        member(conn, project, user)
    })
}

pub(crate) fn remove_member(
    conn: &mut DbConnection,
    project: &ProjectId,
    user: &UserId,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    write_transaction(conn, |conn| {
        lock_project(conn, project, now)?;
        match role_of(conn, project, user)? {
            None => Err(StoreError::NotFound(Entity::Member)),
            Some(ProjectRole::Accountable) if accountable_count(conn, project)? <= 1 => {
                Err(StoreError::Conflict(Conflict::LastAccountable))
            }
            Some(_) => {
                diesel::delete(project_members::table.find((project.as_str(), user.as_str())))
                    .execute(conn)?;
                Ok(())
            }
        }
    })
}

fn member(conn: &mut DbConnection, project: &ProjectId, user: &UserId) -> StoreResult<Member> {
    let row: Option<(String, i64, i64)> = project_members::table
        .find((project.as_str(), user.as_str()))
        .select((
            project_members::role,
            project_members::created_at,
            project_members::updated_at,
        ))
        .first(conn)
        .optional()?;
    let (role, created_at, updated_at) = row.ok_or(StoreError::NotFound(Entity::Member))?;
    Ok(Member {
        user_id: user.clone(),
        role: role
            .parse()
            .map_err(StoreError::stored("project_members.role"))?,
        created_at: from_micros("project_members.created_at", created_at)?,
        updated_at: from_micros("project_members.updated_at", updated_at)?,
    })
}

pub(crate) fn member_role(
    conn: &mut DbConnection,
    project: &ProjectId,
    user: &UserId,
) -> StoreResult<Option<ProjectRole>> {
    role_of(conn, project, user)
}

pub(crate) fn list_members(
    conn: &mut DbConnection,
    project: &ProjectId,
) -> StoreResult<Vec<Member>> {
    read_transaction(conn, |conn| {
        get_project(conn, project)?;
        let rows: Vec<(String, String, i64, i64)> = project_members::table
            .filter(project_members::project_id.eq(project.as_str()))
            .order(project_members::user_id.asc())
            .select((
                project_members::user_id,
                project_members::role,
                project_members::created_at,
                project_members::updated_at,
            ))
            .load(conn)?;
        rows.into_iter()
            .map(|(user, role, created_at, updated_at)| {
                Ok(Member {
                    user_id: UserId::parse(&user)
                        .map_err(StoreError::stored("project_members.user_id"))?,
                    role: role
                        .parse()
                        .map_err(StoreError::stored("project_members.role"))?,
                    created_at: from_micros("project_members.created_at", created_at)?,
                    updated_at: from_micros("project_members.updated_at", updated_at)?,
                })
            })
            .collect()
    })
}

/// One page of projects ordered by id, after `after`: every project, or only those
/// `member` belongs to (with their role).
pub(crate) fn list_projects(
    conn: &mut DbConnection,
    member: Option<&UserId>,
    after: Option<&ProjectId>,
    limit: u32,
) -> StoreResult<(Vec<ListedProject>, bool)> {
    let after = after.map_or("", |a| a.as_str());
    let fetch = i64::from(limit) + 1;
    let rows: Vec<(String, String, i64, i64, Option<String>)> = match member {
        Some(user) => projects::table
            .inner_join(project_members::table)
            .filter(project_members::user_id.eq(user.as_str()))
            .filter(projects::id.gt(after))
            .order(projects::id.asc())
            .limit(fetch)
            .select((
                projects::id,
                projects::name,
                projects::created_at,
                projects::updated_at,
                project_members::role.nullable(),
            ))
            .load(conn)?,
        None => projects::table
            .filter(projects::id.gt(after))
            .order(projects::id.asc())
            .limit(fetch)
            .select((
                projects::id,
                projects::name,
                projects::created_at,
                projects::updated_at,
                None::<String>.into_sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(),
            ))
            .load(conn)?,
    };
    let more = rows.len() > limit as usize;
    let page = rows
        .into_iter()
        .take(limit as usize)
        .map(|(id, name, created_at, updated_at, role)| {
            let project = Project {
                id: ProjectId::parse(&id).map_err(StoreError::stored("projects.id"))?,
                name,
                created_at: from_micros("projects.created_at", created_at)?,
                updated_at: from_micros("projects.updated_at", updated_at)?,
            };
            let role = role
                .map(|r| {
                    r.parse()
                        .map_err(StoreError::stored("project_members.role"))
                })
                .transpose()?;
            Ok(ListedProject { project, role })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((page, more))
}
