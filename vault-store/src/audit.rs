//! The audit trail's rows. Records are chained here, inside the transaction that
//! writes them, so a change and its record commit together and two writers can never
//! take the same position: SQLite's write lock serializes them, and on PostgreSQL a
//! transaction-scoped advisory lock does, taken last so it is held only for the
//! moment between the record's insert and the commit.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use vault_core::{
    AUDIT_HASH_BYTES, AuditEntry, AuditHash, ChainFormat, ChainedAudit, GENESIS_HASH, IntegrityKeys,
};

use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, locked_write_transaction, on_backend};
use crate::error::{Conflict, StoreError, StoreResult};
use crate::schema::audit_records;

/// The advisory lock key that serializes appends on PostgreSQL ("vaultaud").
const AUDIT_LOCK_KEY: i64 = 0x7661_756c_7461_7564;

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
    i16,
);

fn hash_column(seq: i64, column: &str, bytes: Vec<u8>) -> StoreResult<AuditHash> {
    AuditHash::try_from(bytes.as_slice()).map_err(|_| {
        StoreError::corrupt(
            "audit_records",
            format!("record {seq}: {column} is not {AUDIT_HASH_BYTES} bytes"),
        )
    })
}

fn from_columns(
    (seq, id, at, principal, action, target, outcome, request_id, previous_hash, hash, format): AuditColumns,
) -> StoreResult<ChainedAudit> {
    Ok(ChainedAudit {
        seq: u64::try_from(seq)
            .map_err(|_| StoreError::corrupt("audit_records.seq", "negative"))?,
        entry: AuditEntry {
            id,
            at: from_micros("audit_records.at", at)?,
            principal,
            action,
            target,
            outcome,
            request_id,
        },
        previous_hash: hash_column(seq, "previous_hash", previous_hash)?,
        hash: hash_column(seq, "hash", hash)?,
        format: ChainFormat::from_code(format).ok_or_else(|| {
            StoreError::corrupt(
                "audit_records",
                format!("record {seq}: unknown chain_format {format}"),
            )
        })?,
    })
}

/// The columns in `AuditColumns` order.
fn columns() -> (
    audit_records::seq,
    audit_records::id,
    audit_records::at,
    audit_records::principal,
    audit_records::action,
    audit_records::target,
    audit_records::outcome,
    audit_records::request_id,
    audit_records::previous_hash,
    audit_records::hash,
    audit_records::chain_format,
) {
    (
        audit_records::seq,
        audit_records::id,
        audit_records::at,
        audit_records::principal,
        audit_records::action,
        audit_records::target,
        audit_records::outcome,
        audit_records::request_id,
        audit_records::previous_hash,
        audit_records::hash,
        audit_records::chain_format,
    )
}

/// Appends `entry` after the current head, inside the caller's write transaction:
/// keyed when the store holds the integrity keys.
pub(crate) fn record(
    conn: &mut DbConnection,
    entry: &AuditEntry,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<ChainedAudit> {
    Ok(record_all(conn, std::slice::from_ref(entry), keys)?.remove(0))
}

/// Takes the lock that serializes appends to the audit trail and the event log until
/// the transaction ends (SQLite's write transaction holds its own). Re-entrant.
pub(crate) fn serialize_appends(conn: &mut DbConnection) -> StoreResult<()> {
    if let DbConnection::Postgres(_) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(AUDIT_LOCK_KEY)
            .execute(conn)?;
    }
    Ok(())
}

fn record_all(
    conn: &mut DbConnection,
    entries: &[AuditEntry],
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<ChainedAudit>> {
    serialize_appends(conn)?;
    chain_after_head(conn, entries, keys)
}

/// Chains `entries` after the head and inserts them in one statement; the caller holds
/// the append lock.
fn chain_after_head(
    conn: &mut DbConnection,
    entries: &[AuditEntry],
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<ChainedAudit>> {
    let head = head(conn)?;
    // Once the chain is keyed, a writer without the key could only append records
    // that verification refuses: it may not write at all.
    if keys.is_none()
        && head
            .as_ref()
            .is_some_and(|h| h.format == ChainFormat::Keyed)
    {
        return Err(StoreError::IntegrityKeyRequired);
    }
    let (mut seq, mut previous) = match head {
        Some(head) => (head.seq, head.hash),
        None => (0, GENESIS_HASH),
    };
    let mut chained = Vec::with_capacity(entries.len());
    for entry in entries {
        seq += 1;
        let record = match keys {
            Some(keys) => ChainedAudit::link_keyed(seq, entry.clone(), previous, &keys.chain),
            None => ChainedAudit::link(seq, entry.clone(), previous),
        };
        previous = record.hash;
        chained.push(record);
    }
    insert(conn, &chained)?;
    Ok(chained)
}

/// One multi-row statement for the whole batch: on PostgreSQL every statement is a
/// round trip made while holding the append lock, so a batch of n records costs one
/// trip, not n.
fn insert(conn: &mut DbConnection, records: &[ChainedAudit]) -> StoreResult<()> {
    let rows = records
        .iter()
        .map(|record| {
            let seq = i64::try_from(record.seq)
                .map_err(|_| StoreError::invalid("seq", "is too large"))?;
            let entry = &record.entry;
            Ok((
                audit_records::seq.eq(seq),
                audit_records::id.eq(&entry.id),
                audit_records::at.eq(micros(entry.at)),
                audit_records::principal.eq(&entry.principal),
                audit_records::action.eq(&entry.action),
                audit_records::target.eq(&entry.target),
                audit_records::outcome.eq(&entry.outcome),
                audit_records::request_id.eq(&entry.request_id),
                audit_records::previous_hash.eq(record.previous_hash.as_slice()),
                audit_records::hash.eq(record.hash.as_slice()),
                audit_records::chain_format.eq(record.format.code()),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    on_backend!(conn, |conn| diesel::insert_into(audit_records::table)
        .values(&rows)
        .execute(conn))
    .map_err(|e| match StoreError::from(e) {
        // Only reachable if something bypassed the lock (a foreign writer).
        StoreError::Conflict(_) => StoreError::Conflict(Conflict::AuditChainMoved),
        other => other,
    })?;
    Ok(())
}

/// Appends records that accompany no change (resolutions, refusals) in one commit. On
/// PostgreSQL the append lock is taken in the same round trip as `BEGIN`, so the lock
/// is held for three statements (head, insert, commit), whatever the batch's size.
pub(crate) fn append(
    conn: &mut DbConnection,
    entries: &[AuditEntry],
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<ChainedAudit>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let begin_locked = format!("BEGIN; SELECT pg_advisory_xact_lock({AUDIT_LOCK_KEY})");
    locked_write_transaction(conn, &begin_locked, |conn, locked| {
        if !locked {
            serialize_appends(conn)?;
        }
        chain_after_head(conn, entries, keys)
    })
}

/// Whether any record is keyed.
pub(crate) fn any_keyed(conn: &mut DbConnection) -> StoreResult<bool> {
    let keyed: i64 = audit_records::table
        .filter(audit_records::chain_format.eq(ChainFormat::Keyed.code()))
        .count()
        .get_result(conn)?;
    Ok(keyed > 0)
}

/// The record at `seq`, if the trail has one.
pub(crate) fn at(conn: &mut DbConnection, seq: u64) -> StoreResult<Option<ChainedAudit>> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let rows: Vec<AuditColumns> = audit_records::table
        .filter(audit_records::seq.eq(seq))
        .select(columns())
        .load(conn)?;
    rows.into_iter().next().map(from_columns).transpose()
}

/// The chain's newest record, whose hash the next record must cover.
pub(crate) fn head(conn: &mut DbConnection) -> StoreResult<Option<ChainedAudit>> {
    let rows: Vec<AuditColumns> = match conn {
        // One statement: on PostgreSQL each is a round trip made under the append lock.
        DbConnection::Postgres(conn) => audit_records::table
            .order(audit_records::seq.desc())
            .limit(1)
            .select(columns())
            .load(conn)?,
        // MAX(seq), then that row, rather than ORDER BY … LIMIT 1: SQLite re-prepares a
        // statement whose LIMIT is a bound parameter on every run, and every audit batch
        // runs this.
        DbConnection::Sqlite(conn) => {
            let newest: Option<i64> = audit_records::table
                .select(diesel::dsl::max(audit_records::seq))
                .get_result(conn)?;
            let Some(newest) = newest else {
                return Ok(None);
            };
            audit_records::table
                .filter(audit_records::seq.eq(newest))
                .select(columns())
                .load(conn)?
        }
    };
    rows.into_iter().next().map(from_columns).transpose()
}

/// Records after position `after`, oldest first.
pub(crate) fn since(
    conn: &mut DbConnection,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<ChainedAudit>> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    audit_records::table
        .filter(audit_records::seq.gt(after))
        .order(audit_records::seq.asc())
        .limit(i64::from(limit))
        .select(columns())
        .load::<AuditColumns>(conn)?
        .into_iter()
        .map(from_columns)
        .collect()
}

/// The newest records first, for operators reading the trail.
pub(crate) fn latest(
    conn: &mut DbConnection,
    before: Option<u64>,
    limit: u32,
) -> StoreResult<Vec<ChainedAudit>> {
    let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    audit_records::table
        .filter(audit_records::seq.lt(before))
        .order(audit_records::seq.desc())
        .limit(i64::from(limit))
        .select(columns())
        .load::<AuditColumns>(conn)?
        .into_iter()
        .map(from_columns)
        .collect()
}
