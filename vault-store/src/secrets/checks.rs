//! The checks a secret write passes before anything is sealed or written: the owner's
//! entry limit, the placement's targets, and overlap with the name's other scopes.

use diesel::prelude::*;
use vault_core::{
    IntegrityKeys, Owner, Placement, Scope, SecretId, SecretMeta, SecretName, Version,
    check_overlap,
};

use crate::db::{DbConnection, read_transaction};
use crate::error::{Conflict, Entity, StoreError, StoreResult};
use crate::schema::{milestones, projects, secrets};

use super::rows::{SecretRow, assemble, load_one};

/// The advisory lock class that serializes creations per owner on PostgreSQL ("vent");
/// the second key is a hash of the owner.
const OWNER_LOCK_CLASS: i32 = 0x7665_6e74;

/// The scopes the same name already has within `owner`, other than secret `except`'s.
pub(super) fn sibling_scopes(
    conn: &mut DbConnection,
    owner: &Owner,
    name: &SecretName,
    except: Option<&SecretId>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<Scope>> {
    let rows: Vec<SecretRow> = secrets::table
        .filter(secrets::owner_kind.eq(owner.kind().as_str()))
        .filter(secrets::owner_id.eq(owner.id()))
        .filter(secrets::name.eq(name.as_str()))
        .filter(secrets::id.ne(except.map_or("", |id| id.as_str())))
        .select(SecretRow::as_select())
        .load(conn)?;
    Ok(assemble(conn, rows, keys)?
        .into_iter()
        .map(|meta| meta.placement.into_parts().1)
        .collect())
}

/// A project must exist, and every milestone a project entry names must be one of its.
pub(super) fn check_placement_targets(
    conn: &mut DbConnection,
    placement: &Placement,
) -> StoreResult<()> {
    let Owner::Project(project) = placement.owner() else {
        return Ok(());
    };
    let exists: i64 = projects::table
        .filter(projects::id.eq(project.as_str()))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        return Err(StoreError::NotFound(Entity::Project));
    }
    if let Scope::Milestones(wanted) = placement.scope() {
        let ids: Vec<&str> = wanted.iter().map(|m| m.as_str()).collect();
        let known: Vec<String> = milestones::table
            .filter(milestones::project_id.eq(project.as_str()))
            .filter(milestones::id.eq_any(&ids))
            .select(milestones::id)
            .load(conn)?;
        if let Some(missing) = ids.iter().find(|id| !known.iter().any(|k| k == *id)) {
            return Err(StoreError::invalid(
                "milestone_ids",
                format!("{missing} is not a milestone of this project"),
            ));
        }
    }
    Ok(())
}

/// Refuses a creation that would take `owner` past `max_entries`. SQLite's write lock
/// already serializes writers; on PostgreSQL two creations for one owner could each
/// count the other's row as absent, so they take a transaction-scoped lock on the
/// owner first (owners whose hashes collide merely wait for each other).
pub(super) fn check_entry_limit(
    conn: &mut DbConnection,
    owner: &Owner,
    max_entries: u32,
) -> StoreResult<()> {
    if let DbConnection::Postgres(_) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind::<diesel::sql_types::Integer, _>(OWNER_LOCK_CLASS)
            .bind::<diesel::sql_types::Text, _>(format!("{}:{}", owner.kind().as_str(), owner.id()))
            .execute(conn)?;
    }
    let held: i64 = secrets::table
        .filter(secrets::owner_kind.eq(owner.kind().as_str()))
        .filter(secrets::owner_id.eq(owner.id()))
        .count()
        .get_result(conn)?;
    if held >= i64::from(max_entries) {
        return Err(StoreError::EntryLimit { limit: max_entries });
    }
    Ok(())
}

/// The checks of a creation, in the order `create_once` makes them.
pub(super) fn check_creation(
    conn: &mut DbConnection,
    placement: &Placement,
    name: &SecretName,
    max_entries: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<()> {
    check_placement_targets(conn, placement)?;
    check_entry_limit(conn, placement.owner(), max_entries)?;
    let existing = sibling_scopes(conn, placement.owner(), name, None, keys)?;
    check_overlap(&existing, placement.scope())
        .map_err(|o| StoreError::Conflict(Conflict::Overlap(o)))
}

/// A creation's checks alone, in a read-only snapshot (no lock: `create` repeats them
/// under one).
pub(crate) fn check_new(
    conn: &mut DbConnection,
    placement: &Placement,
    name: &SecretName,
    max_entries: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<()> {
    read_transaction(conn, |conn| {
        check_creation(conn, placement, name, max_entries, keys)
    })
}

/// An update's checks alone, read-only; `update_once` repeats them under the row lock.
pub(crate) fn check_update(
    conn: &mut DbConnection,
    id: &SecretId,
    expected_version: Option<Version>,
    scope: Option<&Scope>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<()> {
    read_transaction(conn, |conn| {
        let current = load_one(conn, id, keys)?;
        check_changes(conn, &current, expected_version, scope, keys)
    })
}

pub(super) fn check_changes(
    conn: &mut DbConnection,
    current: &SecretMeta,
    expected_version: Option<Version>,
    scope: Option<&Scope>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<()> {
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Err(StoreError::Conflict(Conflict::StaleVersion {
            expected: expected.get(),
            current: current.version.get(),
        }));
    }
    if let Some(scope) = scope {
        let owner = current.placement.owner();
        let placement = Placement::new(owner.clone(), scope.clone())
            .map_err(|e| StoreError::invalid("scope", e))?;
        check_placement_targets(conn, &placement)?;
        let siblings = sibling_scopes(conn, owner, &current.name, Some(&current.id), keys)?;
        check_overlap(&siblings, scope).map_err(|o| StoreError::Conflict(Conflict::Overlap(o)))?;
    }
    Ok(())
}
