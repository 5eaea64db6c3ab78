//! Wrapped KEKs, stored for vault-kms's `KekRepository` contract (vault-api adapts one
//! to the other, so the store stays on vault-core alone): lookup, the active KEK of a
//! root key, installing a new one by compare-and-swap, and claiming wraps atomically.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Conflict, StoreError, StoreResult};
use crate::schema::{keks, secret_versions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KekStatus {
    Active,
    Retired,
}

impl KekStatus {
    fn as_str(self) -> &'static str {
        match self {
            KekStatus::Active => "active",
            KekStatus::Retired => "retired",
        }
    }

    fn parse(stored: &str) -> StoreResult<Self> {
        match stored {
            "active" => Ok(KekStatus::Active),
            "retired" => Ok(KekStatus::Retired),
            other => Err(StoreError::corrupt(
                "keks.state",
                format!("unknown state {other:?}"),
            )),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct StoredKek {
    pub id: String,
    pub root_key_id: String,
    /// The KEK wrapped by its root key: opaque bytes to the store.
    pub wrapped: Vec<u8>,
    pub state: KekStatus,
    pub wrap_count: u64,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredKek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKek")
            .field("id", &self.id)
            .field("root_key_id", &self.root_key_id)
            .field("state", &self.state)
            .field("wrap_count", &self.wrap_count)
            .finish_non_exhaustive()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = keks)]
struct KekRow {
    id: String,
    root_key_id: String,
    wrapped: Vec<u8>,
    state: String,
    wrap_count: i64,
    created_at: i64,
}

impl KekRow {
    fn into_kek(self) -> StoreResult<StoredKek> {
        Ok(StoredKek {
            id: self.id,
            root_key_id: self.root_key_id,
            wrapped: self.wrapped,
            state: KekStatus::parse(&self.state)?,
            wrap_count: u64::try_from(self.wrap_count)
                .map_err(|_| StoreError::corrupt("keks.wrap_count", "negative"))?,
            created_at: from_micros("keks.created_at", self.created_at)?,
        })
    }
}

pub(crate) fn get(conn: &mut DbConnection, id: &str) -> StoreResult<Option<StoredKek>> {
    keks::table
        .find(id)
        .select(KekRow::as_select())
        .first(conn)
        .optional()?
        .map(KekRow::into_kek)
        .transpose()
}

pub(crate) fn active(conn: &mut DbConnection, root_key_id: &str) -> StoreResult<Option<StoredKek>> {
    keks::table
        .filter(keks::root_key_id.eq(root_key_id))
        .filter(keks::state.eq(KekStatus::Active.as_str()))
        .select(KekRow::as_select())
        .first(conn)
        .optional()?
        .map(KekRow::into_kek)
        .transpose()
}

pub(crate) fn list(conn: &mut DbConnection) -> StoreResult<Vec<StoredKek>> {
    keks::table
        .order(keks::created_at.asc())
        .select(KekRow::as_select())
        .load(conn)?
        .into_iter()
        .map(KekRow::into_kek)
        .collect()
}

/// How many secret versions each KEK protects, by KEK id.
pub(crate) fn protected_versions(conn: &mut DbConnection) -> StoreResult<Vec<(String, u64)>> {
    let counts: Vec<(String, i64)> = secret_versions::table
        .group_by(secret_versions::kek_id)
        .select((secret_versions::kek_id, diesel::dsl::count_star()))
        .order(secret_versions::kek_id.asc())
        .load(conn)?;
    Ok(counts
        .into_iter()
        .map(|(id, n)| (id, n.unsigned_abs()))
        .collect())
}

/// Makes `new` the active KEK of its root key, provided the active one is `replacing`
/// (or there is none, when `replacing` is `None`). If another process got there first,
/// nothing is written and the winner is returned: callers then use that KEK.
pub(crate) fn install_active(
    conn: &mut DbConnection,
    id: &str,
    root_key_id: &str,
    wrapped: &[u8],
    replacing: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<StoredKek> {
    let attempt = |conn: &mut DbConnection| {
        write_transaction(conn, |conn| {
            if let Some(old) = replacing {
                // Retiring first takes the row lock; only the one writer that still
                // sees `old` active goes on to insert.
                diesel::update(
                    keks::table
                        .filter(keks::id.eq(old))
                        .filter(keks::root_key_id.eq(root_key_id))
                        .filter(keks::state.eq(KekStatus::Active.as_str())),
                )
                .set(keks::state.eq(KekStatus::Retired.as_str()))
                .execute(conn)?;
            }
            if let Some(current) = active(conn, root_key_id)? {
                return Ok(current);
            }
            diesel::insert_into(keks::table)
                .values((
                    keks::id.eq(id),
                    keks::root_key_id.eq(root_key_id),
                    keks::wrapped.eq(wrapped),
                    keks::state.eq(KekStatus::Active.as_str()),
                    keks::wrap_count.eq(0_i64),
                    keks::created_at.eq(micros(now)),
                ))
                .execute(conn)?;
            get(conn, id)?.ok_or_else(|| StoreError::corrupt("keks", "an inserted KEK vanished"))
        })
    };
    match attempt(conn) {
        // A concurrent installer won the one-active-per-root index: use its KEK.
        Err(StoreError::Conflict(Conflict::AlreadyExists(_))) => active(conn, root_key_id)?
            .ok_or_else(|| StoreError::Unavailable {
                detail: "KEK installation raced and no active KEK remained".into(),
            }),
        other => other,
    }
}

/// Counts `wraps` more DEK wraps against an active KEK, atomically, if it stays within
/// `max_wraps`. `false` means the KEK is retired or used up and must be replaced.
pub(crate) fn claim_wraps(
    conn: &mut DbConnection,
    id: &str,
    wraps: u64,
    max_wraps: u64,
) -> StoreResult<bool> {
    let max = i64::try_from(max_wraps).unwrap_or(i64::MAX);
    let wraps = i64::try_from(wraps).unwrap_or(i64::MAX);
    let claimed = diesel::update(
        keks::table
            .filter(keks::id.eq(id))
            .filter(keks::state.eq(KekStatus::Active.as_str()))
            .filter(keks::wrap_count.le(max.saturating_sub(wraps))),
    )
    .set(keks::wrap_count.eq(keks::wrap_count + wraps))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Replaces a KEK's record with one wrapped under another root key, provided it is
/// still under `from_root`. The KEK is retired for new wraps: each root key's active
/// KEK is one it started itself. `false` when another run moved it first.
pub(crate) fn rewrap(
    conn: &mut DbConnection,
    id: &str,
    from_root: &str,
    to_root: &str,
    wrapped: &[u8],
) -> StoreResult<bool> {
    let moved = diesel::update(
        keks::table
            .filter(keks::id.eq(id))
            .filter(keks::root_key_id.eq(from_root)),
    )
    .set((
        keks::root_key_id.eq(to_root),
        keks::wrapped.eq(wrapped),
        keks::state.eq(KekStatus::Retired.as_str()),
    ))
    .execute(conn)?;
    Ok(moved == 1)
}
