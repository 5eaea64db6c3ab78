//! Secret reads: one secret, a page of an owner's secrets, the version history, one
//! sealed version and the masked previews.

use std::collections::BTreeMap;

use diesel::prelude::*;
use vault_core::{IntegrityKeys, SecretId, SecretMeta, Version};

use crate::convert::{from_micros, micros, version_column, version_number};
use crate::db::{DbConnection, read_transaction};
use crate::error::{Entity, StoreError, StoreResult};
use crate::schema::{secret_versions, secrets};

use super::rows::{SecretRow, assemble, load_one};
use super::types::{ListCursor, ListOwner, MAX_PAGE_SIZE, Page, Sealed, SecretQuery, VersionInfo};

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
