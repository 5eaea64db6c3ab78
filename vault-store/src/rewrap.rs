//! What `keys rewrap --deks` walks: every secret version whose data key is not yet
//! under the target KEK, in a stable order so an interrupted run resumes where it
//! stopped, and a compare-and-swap that replaces one envelope only if nobody moved it.

use diesel::prelude::*;
use vault_core::{SecretId, SecretName, Version};

use crate::convert::version_number;
use crate::db::DbConnection;
use crate::error::{StoreError, StoreResult};
use crate::schema::{secret_versions, secrets};
use crate::secrets::owner_from_row;

/// One stored version to move: the row its envelope is bound to, and the envelope.
#[derive(Clone)]
pub struct RewrapItem {
    pub secret_id: SecretId,
    pub version: Version,
    pub owner: vault_core::Owner,
    pub name: SecretName,
    pub kek_id: String,
    pub envelope: Vec<u8>,
}

impl std::fmt::Debug for RewrapItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RewrapItem")
            .field("secret_id", &self.secret_id)
            .field("version", &self.version)
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

#[derive(Queryable)]
struct VersionRow {
    secret_id: String,
    version: i32,
    owner_kind: String,
    owner_id: String,
    name: String,
    kek_id: String,
    envelope: Vec<u8>,
}

/// Up to `limit` versions not under `kek`, after `(secret id, version)`.
pub(crate) fn versions_outside(
    conn: &mut DbConnection,
    kek: &str,
    after: Option<&(SecretId, Version)>,
    limit: u32,
) -> StoreResult<Vec<RewrapItem>> {
    let (after_id, after_version) = after.map_or((String::new(), 0), |(id, version)| {
        (
            id.as_str().to_owned(),
            i32::try_from(version.get()).unwrap_or(i32::MAX),
        )
    });
    let rows: Vec<VersionRow> = secret_versions::table
        .inner_join(secrets::table)
        .filter(secret_versions::kek_id.ne(kek))
        .filter(
            secret_versions::secret_id
                .gt(&after_id)
                .or(secret_versions::secret_id
                    .eq(&after_id)
                    .and(secret_versions::version.gt(after_version))),
        )
        .order((
            secret_versions::secret_id.asc(),
            secret_versions::version.asc(),
        ))
        .limit(i64::from(limit))
        .select((
            secret_versions::secret_id,
            secret_versions::version,
            secrets::owner_kind,
            secrets::owner_id,
            secrets::name,
            secret_versions::kek_id,
            secret_versions::envelope,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok(RewrapItem {
                secret_id: SecretId::parse(&row.secret_id)
                    .map_err(StoreError::stored("secret_versions.secret_id"))?,
                version: version_number("secret_versions.version", row.version)?,
                owner: owner_from_row(&row.owner_kind, &row.owner_id)?,
                name: SecretName::parse(&row.name).map_err(StoreError::stored("secrets.name"))?,
                kek_id: row.kek_id,
                envelope: row.envelope,
            })
        })
        .collect()
}

pub(crate) fn count_outside(conn: &mut DbConnection, kek: &str) -> StoreResult<u64> {
    let n: i64 = secret_versions::table
        .filter(secret_versions::kek_id.ne(kek))
        .count()
        .get_result(conn)?;
    Ok(n.unsigned_abs())
}

/// Puts `envelope` (under `new_kek`) in place of the version's, if it is still under
/// `old_kek`. `false`: the version is gone (pruned, deleted) or was moved already.
pub(crate) fn replace_envelope(
    conn: &mut DbConnection,
    secret: &SecretId,
    version: Version,
    old_kek: &str,
    new_kek: &str,
    envelope: &[u8],
) -> StoreResult<bool> {
    let version = i32::try_from(version.get()).unwrap_or(i32::MAX);
    let replaced = diesel::update(
        secret_versions::table
            .filter(secret_versions::secret_id.eq(secret.as_str()))
            .filter(secret_versions::version.eq(version))
            .filter(secret_versions::kek_id.eq(old_kek)),
    )
    .set((
        secret_versions::envelope.eq(envelope),
        secret_versions::kek_id.eq(new_kek),
    ))
    .execute(conn)?;
    Ok(replaced == 1)
}
