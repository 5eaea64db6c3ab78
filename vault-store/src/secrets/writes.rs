//! Secret writes: create, update (metadata and value, with the versions kept) and
//! delete, each in one transaction that stamps the rows it changes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use vault_core::{IntegrityKeys, Owner, Scope, SecretId, SecretMeta, SecretName, Version};

use crate::convert::{micros, version_column};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Conflict, Entity, StoreError, StoreResult};
use crate::schema::{secret_targets, secret_versions, secrets};

use super::checks::{check_changes, check_creation};
use super::rows::{
    SecretChanges, SecretRow, TargetRow, VersionRow, load_one, stamp_row_by_id, targets_of,
};
use super::types::{NewSecret, Sealed, SecretUpdate};

pub(super) fn insert_targets(
    conn: &mut DbConnection,
    id: &SecretId,
    owner: &Owner,
    name: &SecretName,
    scope: &Scope,
) -> StoreResult<()> {
    let rows: Vec<TargetRow> = targets_of(scope)
        .into_iter()
        .map(|target_id| TargetRow {
            secret_id: id.as_str().to_owned(),
            owner_kind: owner.kind().as_str().to_owned(),
            owner_id: owner.id().to_owned(),
            name: name.as_str().to_owned(),
            target_id,
        })
        .collect();
    // One statement per row: diesel's multi-backend connection has no batch insert.
    for row in &rows {
        diesel::insert_into(secret_targets::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub(super) fn insert_version(
    conn: &mut DbConnection,
    id: &SecretId,
    version: Version,
    value: &Sealed,
    masked: &str,
    restored_from: Option<Version>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(secret_versions::table)
        .values(VersionRow {
            secret_id: id.as_str().to_owned(),
            version: version_column(version)?,
            envelope: value.envelope.clone(),
            masked: masked.to_owned(),
            kek_id: value.kek_id.clone(),
            restored_from: restored_from.map(version_column).transpose()?,
            created_at: micros(now),
        })
        .execute(conn)?;
    Ok(())
}

/// Runs a write once more when a unique index refused it: on PostgreSQL that only
/// happens when a concurrent writer committed first, and the second pass then sees its
/// row and reports the precise conflict (or the same refusal, if nothing changed).
pub(super) fn retry_once_on_race<T>(mut attempt: impl FnMut() -> StoreResult<T>) -> StoreResult<T> {
    match attempt() {
        Err(StoreError::Conflict(Conflict::AlreadyExists(_))) => attempt(),
        other => other,
    }
}

/// Creates the secret unless its owner already holds `max_entries` of them.
pub(crate) fn create(
    conn: &mut DbConnection,
    new: &NewSecret,
    max_entries: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
    retry_once_on_race(|| write_transaction(conn, |conn| create_once(conn, new, max_entries, keys)))
}

pub(super) fn create_once(
    conn: &mut DbConnection,
    new: &NewSecret,
    max_entries: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
    check_creation(conn, &new.placement, &new.name, max_entries, keys)?;
    let owner = new.placement.owner();
    let scope = new.placement.scope();
    let taken: i64 = secrets::table
        .find(new.id.as_str())
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Err(StoreError::Conflict(Conflict::AlreadyExists(
            Entity::Secret,
        )));
    }
    let at = micros(new.now);
    diesel::insert_into(secrets::table)
        .values(SecretRow {
            id: new.id.as_str().to_owned(),
            owner_kind: owner.kind().as_str().to_owned(),
            owner_id: owner.id().to_owned(),
            project_id: match owner {
                Owner::Project(p) => Some(p.as_str().to_owned()),
                _ => None,
            },
            name: new.name.as_str().to_owned(),
            scope_kind: scope.kind().as_str().to_owned(),
            category: new.category.as_str().to_owned(),
            description: new.description.as_ref().map(|d| d.as_str().to_owned()),
            expires_at: new.expires_at.map(|e| micros(e.at())),
            current_version: version_column(Version::FIRST)?,
            created_at: at,
            updated_at: at,
            row_mac: None,
        })
        .execute(conn)?;
    insert_targets(conn, &new.id, owner, &new.name, scope)?;
    insert_version(
        conn,
        &new.id,
        Version::FIRST,
        &new.value,
        &new.masked,
        None,
        new.now,
    )?;
    stamp_row_by_id(conn, new.id.as_str(), keys)?;
    load_one(conn, &new.id, keys)
}

pub(crate) fn update(
    conn: &mut DbConnection,
    id: &SecretId,
    update: &SecretUpdate,
    now: DateTime<Utc>,
    versions_kept: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Updated> {
    if update.value.is_some() && update.expected_version.is_none() {
        return Err(StoreError::invalid(
            "expected_version",
            "is required with a new value, which is sealed for the version after it",
        ));
    }
    retry_once_on_race(|| {
        write_transaction(conn, |conn| {
            update_once(conn, id, update, now, versions_kept, keys)
        })
    })
}

pub(super) fn update_once(
    conn: &mut DbConnection,
    id: &SecretId,
    update: &SecretUpdate,
    now: DateTime<Utc>,
    versions_kept: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Updated> {
    // Touching the row first takes its lock on PostgreSQL, so concurrent updates of one
    // secret run one after the other and each sees the other's result.
    let touched = diesel::update(secrets::table.find(id.as_str()))
        .set(secrets::updated_at.eq(micros(now)))
        .execute(conn)?;
    if touched == 0 {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    // A row edited behind the vault's back is not changed further (not even rolled
    // back): it is refused until an operator deletes it.
    let current = load_one(conn, id, keys)?;
    check_changes(
        conn,
        &current,
        update.expected_version,
        update.scope.as_ref(),
        keys,
    )?;
    let owner = current.placement.owner().clone();
    let mut changes = SecretChanges {
        category: update.category.map(|c| c.as_str().to_owned()),
        description: update
            .description
            .as_ref()
            .map(|d| d.as_ref().map(|d| d.as_str().to_owned())),
        expires_at: update.expires_at.map(|e| e.map(|e| micros(e.at()))),
        current_version: None,
        updated_at: micros(now),
    };
    if let Some(scope) = &update.scope {
        diesel::delete(secret_targets::table.filter(secret_targets::secret_id.eq(id.as_str())))
            .execute(conn)?;
        // The kind changes before the targets arrive, so the wide-scope index sees it.
        diesel::update(secrets::table.find(id.as_str()))
            .set(secrets::scope_kind.eq(scope.kind().as_str()))
            .execute(conn)?;
        insert_targets(conn, id, &owner, &current.name, scope)?;
    }
    if let Some(value) = &update.value {
        if let Some(source) = value.restored_from {
            let present: i64 = secret_versions::table
                .find((id.as_str(), version_column(source)?))
                .count()
                .get_result(conn)?;
            if present == 0 {
                return Err(StoreError::NotFound(Entity::SecretVersion));
            }
        }
        let next = current
            .version
            .next()
            .map_err(|e| StoreError::invalid("version", e))?;
        insert_version(
            conn,
            id,
            next,
            &value.sealed,
            &value.masked,
            value.restored_from,
            now,
        )?;
        changes.current_version = Some(version_column(next)?);
        let oldest_kept = i64::from(next.get()) - i64::from(versions_kept.max(1)) + 1;
        diesel::delete(
            secret_versions::table
                .filter(secret_versions::secret_id.eq(id.as_str()))
                .filter(secret_versions::version.lt(i32::try_from(oldest_kept).unwrap_or(0))),
        )
        .execute(conn)?;
    }
    diesel::update(secrets::table.find(id.as_str()))
        .set(&changes)
        .execute(conn)?;
    stamp_row_by_id(conn, id.as_str(), keys)?;
    let after = load_one(conn, id, keys)?;
    Ok(Updated {
        before: current,
        after,
    })
}

/// A secret as an update found it (under the row's lock) and as it left it: what its
/// change event is made from.
pub(crate) struct Updated {
    pub(crate) before: SecretMeta,
    pub(crate) after: SecretMeta,
}

/// Deletes the secret and returns it as it stood, its MAC unchecked: an operator
/// deletes a row that failed the check, and its event still names it.
pub(crate) fn delete(conn: &mut DbConnection, id: &SecretId) -> StoreResult<SecretMeta> {
    let meta = load_one(conn, id, None)?;
    // One statement: the versions and targets go with it through ON DELETE CASCADE.
    let removed = diesel::delete(secrets::table.find(id.as_str())).execute(conn)?;
    if removed == 0 {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    Ok(meta)
}
