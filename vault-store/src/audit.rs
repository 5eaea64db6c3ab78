//! The audit trail's rows. The API computes the hash chain; the store keeps records in
//! chain order and refuses a second record at the same position, so two writers racing
//! for the chain's head cannot fork it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Conflict, StoreError, StoreResult};
use crate::schema::audit_records;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: u64,
    pub id: String,
    pub at: DateTime<Utc>,
    pub principal: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub request_id: String,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

type AuditColumns = (
    i64,
    String,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn from_columns(
    (seq, id, at, principal, action, target, outcome, request_id, previous_hash, hash): AuditColumns,
) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        seq: u64::try_from(seq)
            .map_err(|_| StoreError::corrupt("audit_records.seq", "negative"))?,
        id,
        at: from_micros("audit_records.at", at)?,
        principal,
        action,
        target,
        outcome,
        request_id,
        previous_hash,
        hash,
    })
}

pub(crate) fn append(conn: &mut DbConnection, records: &[AuditRecord]) -> StoreResult<()> {
    let rows = records
        .iter()
        .map(|r| {
            let seq =
                i64::try_from(r.seq).map_err(|_| StoreError::invalid("seq", "is too large"))?;
            Ok((
                audit_records::seq.eq(seq),
                audit_records::id.eq(&r.id),
                audit_records::at.eq(micros(r.at)),
                audit_records::principal.eq(&r.principal),
                audit_records::action.eq(&r.action),
                audit_records::target.eq(&r.target),
                audit_records::outcome.eq(&r.outcome),
                audit_records::request_id.eq(&r.request_id),
                audit_records::previous_hash.eq(&r.previous_hash),
                audit_records::hash.eq(&r.hash),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    write_transaction(conn, |conn| {
        // One statement per row: diesel's multi-backend connection has no batch insert.
        for row in rows {
            diesel::insert_into(audit_records::table)
                .values(row)
                .execute(conn)
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(Conflict::AuditChainMoved),
                    other => other,
                })?;
        }
        Ok(())
    })
}

/// The chain's newest record, whose hash the next record must cover.
pub(crate) fn head(conn: &mut DbConnection) -> StoreResult<Option<AuditRecord>> {
    audit_records::table
        .order(audit_records::seq.desc())
        .first::<AuditColumns>(conn)
        .optional()?
        .map(from_columns)
        .transpose()
}

/// Records after position `after`, oldest first.
pub(crate) fn since(
    conn: &mut DbConnection,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<AuditRecord>> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    audit_records::table
        .filter(audit_records::seq.gt(after))
        .order(audit_records::seq.asc())
        .limit(i64::from(limit))
        .load::<AuditColumns>(conn)?
        .into_iter()
        .map(from_columns)
        .collect()
}
