//! Secret rows as stored, and their assembly into `SecretMeta`: every row read is
//! checked against its integrity MAC, and every row written is stamped with one.

use std::collections::BTreeMap;

use diesel::prelude::*;
use vault_core::{
    Description, ExpiresAt, IntegrityKeys, MilestoneId, Owner, Placement, ProfileId, ProjectId,
    Scope, ScopeKind, SecretId, SecretMeta, SecretName, UserId, WorkspaceId, row_mac,
    row_mac_matches,
};

use crate::convert::{from_micros, version_number};
use crate::db::DbConnection;
use crate::error::{Entity, StoreError, StoreResult};
use crate::schema::{secret_targets, secret_versions, secrets};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = secrets)]
pub(super) struct SecretRow {
    pub(super) id: String,
    pub(super) owner_kind: String,
    pub(super) owner_id: String,
    pub(super) project_id: Option<String>,
    pub(super) name: String,
    pub(super) scope_kind: String,
    pub(super) category: String,
    pub(super) description: Option<String>,
    pub(super) expires_at: Option<i64>,
    pub(super) current_version: i32,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) row_mac: Option<Vec<u8>>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = secret_targets)]
pub(super) struct TargetRow {
    pub(super) secret_id: String,
    pub(super) owner_kind: String,
    pub(super) owner_id: String,
    pub(super) name: String,
    pub(super) target_id: String,
}

#[derive(Insertable)]
#[diesel(table_name = secret_versions)]
pub(super) struct VersionRow {
    pub(super) secret_id: String,
    pub(super) version: i32,
    pub(super) envelope: Vec<u8>,
    pub(super) masked: String,
    pub(super) kek_id: String,
    pub(super) restored_from: Option<i32>,
    pub(super) created_at: i64,
}

#[derive(AsChangeset)]
#[diesel(table_name = secrets)]
pub(super) struct SecretChanges {
    pub(super) category: Option<String>,
    pub(super) description: Option<Option<String>>,
    pub(super) expires_at: Option<Option<i64>>,
    pub(super) current_version: Option<i32>,
    pub(super) updated_at: i64,
}

pub(super) fn targets_of(scope: &Scope) -> Vec<String> {
    match scope {
        Scope::All | Scope::Project => Vec::new(),
        Scope::Agents(profiles) => profiles.iter().map(|p| p.as_str().to_owned()).collect(),
        Scope::Milestones(ms) => ms.iter().map(|m| m.as_str().to_owned()).collect(),
    }
}

pub(crate) fn owner_from_row(kind: &str, id: &str) -> StoreResult<Owner> {
    let stored = StoreError::stored("secrets.owner_id");
    Ok(match kind {
        "user" => Owner::User(UserId::parse(id).map_err(stored)?),
        "workspace" => Owner::Workspace(WorkspaceId::parse(id).map_err(stored)?),
        "project" => Owner::Project(ProjectId::parse(id).map_err(stored)?),
        other => {
            return Err(StoreError::corrupt(
                "secrets.owner_kind",
                format!("unknown owner kind {other:?}"),
            ));
        }
    })
}

pub(super) fn parse_targets<T>(
    targets: &[String],
    parse: fn(&str) -> Result<T, vault_core::CoreError>,
) -> StoreResult<Vec<T>> {
    targets
        .iter()
        .map(|t| parse(t))
        .collect::<Result<_, _>>()
        .map_err(StoreError::stored("secret_targets.target_id"))
}

pub(super) fn meta_from_row(row: SecretRow, targets: &[String]) -> StoreResult<SecretMeta> {
    let owner = owner_from_row(&row.owner_kind, &row.owner_id)?;
    let kind: ScopeKind = row
        .scope_kind
        .parse()
        .map_err(StoreError::stored("secrets.scope_kind"))?;
    let scope = match kind {
        ScopeKind::All => Scope::All,
        ScopeKind::Project => Scope::Project,
        ScopeKind::Agents => Scope::agents(parse_targets(targets, ProfileId::parse)?)
            .map_err(StoreError::stored("secret_targets"))?,
        ScopeKind::Milestone => Scope::milestones(parse_targets(targets, MilestoneId::parse)?)
            .map_err(StoreError::stored("secret_targets"))?,
    };
    Ok(SecretMeta {
        id: SecretId::parse(&row.id).map_err(StoreError::stored("secrets.id"))?,
        name: SecretName::parse(&row.name).map_err(StoreError::stored("secrets.name"))?,
        placement: Placement::new(owner, scope)
            .map_err(StoreError::stored("secrets.scope_kind"))?,
        category: row
            .category
            .parse()
            .map_err(StoreError::stored("secrets.category"))?,
        description: row
            .description
            .as_deref()
            .map(Description::parse)
            .transpose()
            .map_err(StoreError::stored("secrets.description"))?,
        expires_at: row
            .expires_at
            .map(|at| from_micros("secrets.expires_at", at).map(ExpiresAt::stored))
            .transpose()?,
        version: version_number("secrets.current_version", row.current_version)?,
        created_at: from_micros("secrets.created_at", row.created_at)?,
        updated_at: from_micros("secrets.updated_at", row.updated_at)?,
    })
}

/// Refuses a row whose disclosure state its MAC does not vouch for, when the store holds
/// the keys. A missing MAC is refused too: the vault fills every row when it first holds
/// its integrity master, so a NULL was written by someone else.
pub(super) fn verify_row(
    meta: &SecretMeta,
    stored: Option<&[u8]>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<()> {
    let Some(keys) = keys else {
        return Ok(());
    };
    match stored {
        Some(mac) if row_mac_matches(keys, meta, mac) => Ok(()),
        _ => Err(StoreError::Tampered {
            secret_id: meta.id.as_str().to_owned(),
        }),
    }
}

/// Metadata of `row`, checked against its MAC.
pub(super) fn checked_meta(
    row: SecretRow,
    targets: &[String],
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
    let mac = row.row_mac.clone();
    let meta = meta_from_row(row, targets)?;
    verify_row(&meta, mac.as_deref(), keys)?;
    Ok(meta)
}

/// Writes secret `id`'s MAC over its state as it now stands, inside the writing
/// transaction: the last step of every write that changes what the MAC covers.
pub(crate) fn stamp_row_by_id(
    conn: &mut DbConnection,
    id: &str,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<()> {
    let Some(keys) = keys else {
        return Ok(());
    };
    let id = SecretId::parse(id).map_err(StoreError::stored("secrets.id"))?;
    let meta = load_one(conn, &id, None)?;
    diesel::update(secrets::table.find(id.as_str()))
        .set(secrets::row_mac.eq(Some(row_mac(keys, &meta).to_vec())))
        .execute(conn)?;
    Ok(())
}

/// Every secret's MAC, written when the vault first holds its integrity master; returns
/// how many rows it stamped.
pub(crate) fn stamp_every_row(conn: &mut DbConnection, keys: &IntegrityKeys) -> StoreResult<u64> {
    let ids: Vec<String> = secrets::table.select(secrets::id).load(conn)?;
    for id in &ids {
        stamp_row_by_id(conn, id, Some(keys))?;
    }
    Ok(ids.len() as u64)
}

/// Turns rows into metadata, fetching the targets of every narrow one in one query, and
/// checks each against its MAC.
pub(super) fn assemble(
    conn: &mut DbConnection,
    rows: Vec<SecretRow>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<SecretMeta>> {
    let narrow: Vec<&str> = rows
        .iter()
        .filter(|row| row.scope_kind == "agents" || row.scope_kind == "milestone")
        .map(|row| row.id.as_str())
        .collect();
    let mut targets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !narrow.is_empty() {
        let found: Vec<(String, String)> = secret_targets::table
            .filter(secret_targets::secret_id.eq_any(&narrow))
            .select((secret_targets::secret_id, secret_targets::target_id))
            .load(conn)?;
        for (secret_id, target_id) in found {
            targets.entry(secret_id).or_default().push(target_id);
        }
    }
    rows.into_iter()
        .map(|row| {
            let own = targets.remove(&row.id).unwrap_or_default();
            checked_meta(row, &own, keys)
        })
        .collect()
}

/// Secret `id`, checked against its MAC when `keys` are given.
pub(super) fn load_one(
    conn: &mut DbConnection,
    id: &SecretId,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
    let row: Option<SecretRow> = secrets::table
        .find(id.as_str())
        .select(SecretRow::as_select())
        .first(conn)
        .optional()?;
    let row = row.ok_or(StoreError::NotFound(Entity::Secret))?;
    assemble(conn, vec![row], keys)?
        .pop()
        .ok_or(StoreError::NotFound(Entity::Secret))
}
