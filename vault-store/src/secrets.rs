//! Secrets of every owner kind: create, read, list, update (metadata and value), delete,
//! version history, and the candidates of one resolution context.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use vault_core::{
    Candidate, Category, Description, ExpiresAt, IntegrityKeys, MilestoneId, Owner, OwnerKind,
    Placement, ProfileId, ProjectId, ResolutionContext, Scope, ScopeKind, SecretId, SecretMeta,
    SecretName, UserId, Version, WorkspaceId, check_overlap, row_mac, row_mac_matches,
};

use crate::convert::{from_micros, micros, version_column, version_number};
use crate::db::{DbConnection, on_backend, read_transaction, write_transaction};
use crate::error::{Conflict, Entity, StoreError, StoreResult};
use crate::schema::{
    milestones, owner_generations, projects, secret_targets, secret_versions, secrets,
};

/// One sealed value as vault-kms produced it: opaque bytes to the store, with the id of
/// the KEK that wraps its data key.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub envelope: Vec<u8>,
    pub kek_id: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("envelope_bytes", &self.envelope.len())
            .field("kek_id", &self.kek_id)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct NewSecret {
    pub id: SecretId,
    pub name: SecretName,
    pub placement: Placement,
    pub category: Category,
    pub description: Option<Description>,
    pub expires_at: Option<ExpiresAt>,
    /// Version 1's value, sealed for (id, version 1, owner, name).
    pub value: Sealed,
    /// Version 1's value masked (vault-core's `mask`), what lists show.
    pub masked: String,
    pub now: DateTime<Utc>,
}

/// A new current version: a rotation, or a rollback when `restored_from` is set.
#[derive(Clone, Debug)]
pub struct NewValue {
    /// Sealed for version `expected_version + 1`.
    pub sealed: Sealed,
    pub masked: String,
    pub restored_from: Option<Version>,
}

/// A change to one secret; fields left `None` stay as they are.
#[derive(Clone, Debug, Default)]
pub struct SecretUpdate {
    /// Refuse the update unless the secret is at this version. Required with `value`,
    /// whose envelope is sealed for the version after it.
    pub expected_version: Option<Version>,
    pub value: Option<NewValue>,
    pub scope: Option<Scope>,
    pub category: Option<Category>,
    pub description: Option<Option<Description>>,
    pub expires_at: Option<Option<ExpiresAt>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: Version,
    pub kek_id: String,
    pub masked: String,
    pub restored_from: Option<Version>,
    pub created_at: DateTime<Utc>,
}

/// Where a list page starts: after this (name, id). Opaque to API clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListCursor {
    name: SecretName,
    id: SecretId,
}

impl ListCursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\n{}", self.name.as_str(), self.id.as_str()))
    }

    pub fn decode(token: &str) -> StoreResult<Self> {
        let refused = || StoreError::invalid("cursor", "is not a cursor this vault issued");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| refused())?;
        let text = String::from_utf8(bytes).map_err(|_| refused())?;
        let (name, id) = text.split_once('\n').ok_or_else(refused)?;
        Ok(ListCursor {
            name: SecretName::parse(name).map_err(|_| refused())?,
            id: SecretId::parse(id).map_err(|_| refused())?,
        })
    }
}

pub const MAX_PAGE_SIZE: u32 = 200;

/// Whose secrets a list page holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListOwner {
    One(Owner),
    /// Every owner of this kind (operators browsing everything).
    EveryOf(OwnerKind),
}

impl From<Owner> for ListOwner {
    fn from(owner: Owner) -> Self {
        ListOwner::One(owner)
    }
}

#[derive(Clone, Debug)]
pub struct SecretQuery {
    pub owner: ListOwner,
    pub name_prefix: Option<String>,
    pub category: Option<Category>,
    /// `Some(true)`: only expired; `Some(false)`: only live.
    pub expired: Option<bool>,
    pub now: DateTime<Utc>,
    /// 1 to `MAX_PAGE_SIZE`.
    pub limit: u32,
    pub after: Option<ListCursor>,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<ListCursor>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = secrets)]
struct SecretRow {
    id: String,
    owner_kind: String,
    owner_id: String,
    project_id: Option<String>,
    name: String,
    scope_kind: String,
    category: String,
    description: Option<String>,
    expires_at: Option<i64>,
    current_version: i32,
    created_at: i64,
    updated_at: i64,
    row_mac: Option<Vec<u8>>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = secret_targets)]
struct TargetRow {
    secret_id: String,
    owner_kind: String,
    owner_id: String,
    name: String,
    target_id: String,
}

#[derive(Insertable)]
#[diesel(table_name = secret_versions)]
struct VersionRow {
    secret_id: String,
    version: i32,
    envelope: Vec<u8>,
    masked: String,
    kek_id: String,
    restored_from: Option<i32>,
    created_at: i64,
}

#[derive(AsChangeset)]
#[diesel(table_name = secrets)]
struct SecretChanges {
    category: Option<String>,
    description: Option<Option<String>>,
    expires_at: Option<Option<i64>>,
    current_version: Option<i32>,
    updated_at: i64,
}

fn targets_of(scope: &Scope) -> Vec<String> {
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

fn parse_targets<T>(
    targets: &[String],
    parse: fn(&str) -> Result<T, vault_core::CoreError>,
) -> StoreResult<Vec<T>> {
    targets
        .iter()
        .map(|t| parse(t))
        .collect::<Result<_, _>>()
        .map_err(StoreError::stored("secret_targets.target_id"))
}

fn meta_from_row(row: SecretRow, targets: &[String]) -> StoreResult<SecretMeta> {
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
fn verify_row(
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
fn checked_meta(
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
fn assemble(
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
fn load_one(
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

/// The scopes the same name already has within `owner`, other than secret `except`'s.
fn sibling_scopes(
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
fn check_placement_targets(conn: &mut DbConnection, placement: &Placement) -> StoreResult<()> {
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

fn insert_targets(
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

fn insert_version(
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
fn retry_once_on_race<T>(mut attempt: impl FnMut() -> StoreResult<T>) -> StoreResult<T> {
    match attempt() {
        Err(StoreError::Conflict(Conflict::AlreadyExists(_))) => attempt(),
        other => other,
    }
}

/// The advisory lock class that serializes creations per owner on PostgreSQL ("vent");
/// the second key is a hash of the owner.
const OWNER_LOCK_CLASS: i32 = 0x7665_6e74;

/// Creates the secret unless its owner already holds `max_entries` of them.
pub(crate) fn create(
    conn: &mut DbConnection,
    new: &NewSecret,
    max_entries: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
    retry_once_on_race(|| write_transaction(conn, |conn| create_once(conn, new, max_entries, keys)))
}

/// Refuses a creation that would take `owner` past `max_entries`. SQLite's write lock
/// already serializes writers; on PostgreSQL two creations for one owner could each
/// count the other's row as absent, so they take a transaction-scoped lock on the
/// owner first (owners whose hashes collide merely wait for each other).
fn check_entry_limit(conn: &mut DbConnection, owner: &Owner, max_entries: u32) -> StoreResult<()> {
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
fn check_creation(
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

fn check_changes(
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

fn create_once(
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

pub(crate) fn get(
    conn: &mut DbConnection,
    id: &SecretId,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
    read_transaction(conn, |conn| load_one(conn, id, keys))
}

pub(crate) fn list(
    conn: &mut DbConnection,
    query: &SecretQuery,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Page<SecretMeta>> {
    if query.limit == 0 || query.limit > MAX_PAGE_SIZE {
        return Err(StoreError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    if let Some(prefix) = &query.name_prefix {
        // Names are `[A-Z_][A-Z0-9_]*`; anything else cannot prefix one, and refusing it
        // keeps the range bounds below sound.
        let valid = prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid || prefix.len() > vault_core::MAX_NAME_LEN {
            return Err(StoreError::invalid(
                "name_prefix",
                "may only hold A-Z, 0-9 and _",
            ));
        }
    }
    read_transaction(conn, |conn| {
        let mut sql = secrets::table
            .select(SecretRow::as_select())
            .order((secrets::name.asc(), secrets::id.asc()))
            .limit(i64::from(query.limit) + 1)
            .into_boxed();
        sql = match &query.owner {
            ListOwner::One(owner) => sql
                .filter(secrets::owner_kind.eq(owner.kind().as_str()))
                .filter(secrets::owner_id.eq(owner.id().to_owned())),
            ListOwner::EveryOf(kind) => sql.filter(secrets::owner_kind.eq(kind.as_str())),
        };
        if let Some(prefix) = &query.name_prefix {
            // '~' sorts after every character a name may hold, so [prefix, prefix~) is
            // exactly the names that start with prefix, and an index range.
            sql = sql
                .filter(secrets::name.ge(prefix.clone()))
                .filter(secrets::name.lt(format!("{prefix}~")));
        }
        if let Some(category) = query.category {
            sql = sql.filter(secrets::category.eq(category.as_str()));
        }
        let now = micros(query.now);
        match query.expired {
            Some(true) => sql = sql.filter(secrets::expires_at.le(now)),
            Some(false) => {
                sql = sql.filter(
                    secrets::expires_at
                        .is_null()
                        .or(secrets::expires_at.gt(now)),
                )
            }
            None => {}
        }
        if let Some(after) = &query.after {
            let name = after.name.as_str().to_owned();
            sql = sql.filter(
                secrets::name.gt(name.clone()).or(secrets::name
                    .eq(name)
                    .and(secrets::id.gt(after.id.as_str().to_owned()))),
            );
        }
        let mut rows: Vec<SecretRow> = sql.load(conn)?;
        let more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let items = assemble(conn, rows, keys)?;
        let next = match items.last() {
            Some(last) if more => Some(ListCursor {
                name: last.name.clone(),
                id: last.id.clone(),
            }),
            _ => None,
        };
        Ok(Page { items, next })
    })
}

pub(crate) fn update(
    conn: &mut DbConnection,
    id: &SecretId,
    update: &SecretUpdate,
    now: DateTime<Utc>,
    versions_kept: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
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

fn update_once(
    conn: &mut DbConnection,
    id: &SecretId,
    update: &SecretUpdate,
    now: DateTime<Utc>,
    versions_kept: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<SecretMeta> {
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
    load_one(conn, id, keys)
}

pub(crate) fn delete(conn: &mut DbConnection, id: &SecretId) -> StoreResult<()> {
    // One statement: the versions and targets go with it through ON DELETE CASCADE.
    let removed = diesel::delete(secrets::table.find(id.as_str())).execute(conn)?;
    if removed == 0 {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    Ok(())
}

pub(crate) fn versions(conn: &mut DbConnection, id: &SecretId) -> StoreResult<Vec<VersionInfo>> {
    read_transaction(conn, |conn| {
        let exists: i64 = secrets::table.find(id.as_str()).count().get_result(conn)?;
        if exists == 0 {
            return Err(StoreError::NotFound(Entity::Secret));
        }
        let rows: Vec<(i32, String, String, Option<i32>, i64)> = secret_versions::table
            .filter(secret_versions::secret_id.eq(id.as_str()))
            .order(secret_versions::version.desc())
            .select((
                secret_versions::version,
                secret_versions::kek_id,
                secret_versions::masked,
                secret_versions::restored_from,
                secret_versions::created_at,
            ))
            .load(conn)?;
        rows.into_iter()
            .map(|(version, kek_id, masked, restored_from, created_at)| {
                Ok(VersionInfo {
                    version: version_number("secret_versions.version", version)?,
                    kek_id,
                    masked,
                    restored_from: restored_from
                        .map(|v| version_number("secret_versions.restored_from", v))
                        .transpose()?,
                    created_at: from_micros("secret_versions.created_at", created_at)?,
                })
            })
            .collect()
    })
}

pub(crate) fn sealed_version(
    conn: &mut DbConnection,
    id: &SecretId,
    version: Version,
) -> StoreResult<Sealed> {
    let found: Option<(Vec<u8>, String)> = secret_versions::table
        .find((id.as_str(), version_column(version)?))
        .select((secret_versions::envelope, secret_versions::kek_id))
        .first(conn)
        .optional()?;
    let (envelope, kek_id) = found.ok_or(StoreError::NotFound(Entity::SecretVersion))?;
    Ok(Sealed { envelope, kek_id })
}

/// The masked current value of each of `ids` that exists (one query, for a list page).
pub(crate) fn current_masked(
    conn: &mut DbConnection,
    ids: &[SecretId],
) -> StoreResult<BTreeMap<SecretId, String>> {
    let ids: Vec<&str> = ids.iter().map(SecretId::as_str).collect();
    let rows: Vec<(String, String)> = secrets::table
        .inner_join(
            secret_versions::table.on(secret_versions::secret_id
                .eq(secrets::id)
                .and(secret_versions::version.eq(secrets::current_version))),
        )
        .filter(secrets::id.eq_any(ids))
        .select((secrets::id, secret_versions::masked))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, masked)| {
            let id = SecretId::parse(&id).map_err(|e| StoreError::corrupt("secrets.id", e))?;
            Ok((id, masked))
        })
        .collect()
}

/// The change counters of the owners a context reaches (its user, workspace and
/// project), as the owner-generation triggers keep them. While they are unchanged, so
/// is every candidate of the context: a cache of candidates checks them, nothing more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generations(Vec<(String, String, i64)>);

/// One statement, so it needs no transaction of its own.
pub(crate) fn generations(
    conn: &mut DbConnection,
    context: &ResolutionContext,
) -> StoreResult<Generations> {
    let user = context.user().as_str();
    let workspace = context.workspace().map(|w| w.as_str());
    let project = context.project().map(|p| p.as_str());
    let mut found: Vec<(String, String, i64)> = on_backend!(conn, |conn| owner_generations::table
        .filter(
            owner_generations::owner_kind
                .eq(OwnerKind::User.as_str())
                .and(owner_generations::owner_id.eq(user))
                .or(owner_generations::owner_kind
                    .eq(OwnerKind::Workspace.as_str())
                    .and(owner_generations::owner_id.nullable().eq(workspace)))
                .or(owner_generations::owner_kind
                    .eq(OwnerKind::Project.as_str())
                    .and(owner_generations::owner_id.nullable().eq(project))),
        )
        .select((
            owner_generations::owner_kind,
            owner_generations::owner_id,
            owner_generations::generation,
        ))
        .load(conn))?;
    found.sort();
    Ok(Generations(found))
}

/// The candidates with the generations they were read at. The generations are read
/// first: on PostgreSQL both reads share one snapshot anyway, and on any database a
/// change landing between them can only make the candidates newer than their stamp,
/// which costs a refetch, never a stale answer.
pub(crate) fn stamped_candidates(
    conn: &mut DbConnection,
    context: &ResolutionContext,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<(Generations, Vec<Candidate<Sealed>>)> {
    read_transaction(conn, |conn| {
        let stamp = generations(conn, context)?;
        Ok((stamp, candidates(conn, context, None, keys)?))
    })
}

/// Every secret that reaches `context`, with its current sealed value, in two queries:
/// the secrets joined with their current versions, then the targets of the narrow ones.
/// Expired secrets are included: the resolver reports them as skipped, unopened.
pub(crate) fn candidates(
    conn: &mut DbConnection,
    context: &ResolutionContext,
    name: Option<&SecretName>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<Candidate<Sealed>>> {
    let user = context.user().as_str();
    let profile = context.profile().as_str();
    let workspace = context.workspace().map(|w| w.as_str());
    let project = context.project().map(|p| p.as_str());
    let milestone = context.milestone().map(|m| m.as_str());
    let name = name.map(SecretName::as_str);
    // An absent workspace, project or milestone binds NULL, which equals nothing: the
    // statement has one shape for every context, so the database plans it once.
    let user_owned = secrets::owner_kind
        .eq(OwnerKind::User.as_str())
        .and(secrets::owner_id.eq(user));
    let workspace_owned = secrets::owner_kind
        .eq(OwnerKind::Workspace.as_str())
        .and(secrets::owner_id.nullable().eq(workspace));
    let project_owned = secrets::owner_kind
        .eq(OwnerKind::Project.as_str())
        .and(secrets::owner_id.nullable().eq(project));
    let reached_targets = secret_targets::table
        .filter(
            secret_targets::owner_kind
                .eq(OwnerKind::User.as_str())
                .and(secret_targets::owner_id.eq(user))
                .and(secret_targets::target_id.eq(profile))
                .or(secret_targets::owner_kind
                    .eq(OwnerKind::Workspace.as_str())
                    .and(secret_targets::owner_id.nullable().eq(workspace))
                    .and(secret_targets::target_id.eq(profile)))
                .or(secret_targets::owner_kind
                    .eq(OwnerKind::Project.as_str())
                    .and(secret_targets::owner_id.nullable().eq(project))
                    .and(secret_targets::target_id.nullable().eq(milestone))),
        )
        .select(secret_targets::secret_id);
    read_transaction(conn, |conn| {
        let rows: Vec<(SecretRow, Vec<u8>, String)> = secrets::table
            .inner_join(
                secret_versions::table.on(secret_versions::secret_id
                    .eq(secrets::id)
                    .and(secret_versions::version.eq(secrets::current_version))),
            )
            .filter(user_owned.or(workspace_owned).or(project_owned))
            .filter(
                secrets::name
                    .nullable()
                    .eq(name)
                    .or(name.is_none().into_sql::<diesel::sql_types::Bool>()),
            )
            // Spelled as two comparisons rather than `eq_any` over a list: a list makes
            // the statement uncacheable, and parsing it again cost more than running it.
            .filter(
                secrets::scope_kind
                    .eq(ScopeKind::All.as_str())
                    .or(secrets::scope_kind.eq(ScopeKind::Project.as_str()))
                    .or(secrets::id.eq_any(reached_targets)),
            )
            .select((
                SecretRow::as_select(),
                secret_versions::envelope,
                secret_versions::kek_id,
            ))
            .load(conn)?;
        // Every target of the context's owners' narrow secrets, in one statement of
        // fixed shape (unlike `assemble`'s id list), so it is prepared once per
        // connection. It may bring targets of secrets the context does not reach; they
        // match no row and are dropped.
        let mut targets: HashMap<String, Vec<String>> = HashMap::new();
        let narrow = rows
            .iter()
            .any(|(row, _, _)| row.scope_kind == "agents" || row.scope_kind == "milestone");
        if narrow {
            let found: Vec<(String, String)> = secret_targets::table
                .filter(
                    secret_targets::owner_kind
                        .eq(OwnerKind::User.as_str())
                        .and(secret_targets::owner_id.eq(user))
                        .or(secret_targets::owner_kind
                            .eq(OwnerKind::Workspace.as_str())
                            .and(secret_targets::owner_id.nullable().eq(workspace)))
                        .or(secret_targets::owner_kind
                            .eq(OwnerKind::Project.as_str())
                            .and(secret_targets::owner_id.nullable().eq(project))),
                )
                .filter(
                    secret_targets::name
                        .nullable()
                        .eq(name)
                        .or(name.is_none().into_sql::<diesel::sql_types::Bool>()),
                )
                .select((secret_targets::secret_id, secret_targets::target_id))
                .load(conn)?;
            for (secret_id, target_id) in found {
                targets.entry(secret_id).or_default().push(target_id);
            }
        }
        rows.into_iter()
            .map(|(row, envelope, kek_id)| {
                let own = targets.remove(&row.id).unwrap_or_default();
                Ok(Candidate {
                    meta: checked_meta(row, &own, keys)?,
                    payload: Sealed { envelope, kek_id },
                })
            })
            .collect()
    })
}
