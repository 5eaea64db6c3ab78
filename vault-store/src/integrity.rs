//! The integrity master's wrap and the start of the keyed audit chain, kept in
//! `vault_settings`. The store never sees the master itself: the caller unwraps it
//! with the root key and hands over the derived keys.
//!
//! The master is installed once, in one transaction that also stamps every secret row
//! with its MAC and writes the first keyed audit record. Rows and records from before
//! are trusted as they stood at that moment; from then on a row without a valid MAC,
//! or a plain record after the first keyed one, is refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;
use vault_core::{AuditEntry, IntegrityKeys};

use crate::db::{DbConnection, write_transaction};
use crate::error::{StoreError, StoreResult};
use crate::schema::vault_settings;
use crate::{audit, secrets, settings};

const MASTER: &str = "integrity_master";
const KEYED_FROM: &str = "audit_keyed_from";
const KEYED_FROM_LABEL: &[u8] = b"vault-audit-keyed-from/v1";

/// What `Store::install_integrity` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrityInstall {
    /// This call stored the wrap, stamped `rows` secret rows and started the keyed chain
    /// at record `keyed_from`.
    Installed { rows: u64, keyed_from: u64 },
    /// Another process installed one first: this is its wrap, to open instead.
    Present(Vec<u8>),
}

/// Where the keyed chain begins, as the store's marker says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyedFrom {
    /// No integrity master yet: the chain is plain.
    NotKeyed,
    /// Records from this position on must be keyed.
    From(u64),
    /// The marker is missing or does not carry a valid MAC while a master exists.
    Tampered,
}

pub(crate) fn stored_master(conn: &mut DbConnection) -> StoreResult<Option<Vec<u8>>> {
    settings::get(conn, MASTER)?
        .map(|text| {
            STANDARD
                .decode(text.trim())
                .map_err(|_| StoreError::corrupt("vault_settings.integrity_master", "not base64"))
        })
        .transpose()
}

fn keyed_from_value(keys: &IntegrityKeys, seq: u64) -> String {
    let mac = keys.checkpoints.mac(KEYED_FROM_LABEL, |fields| {
        fields.field(&seq.to_be_bytes());
    });
    format!("{seq}.{}", STANDARD.encode(mac))
}

pub(crate) fn keyed_from(conn: &mut DbConnection, keys: &IntegrityKeys) -> StoreResult<KeyedFrom> {
    if stored_master(conn)?.is_none() {
        return Ok(KeyedFrom::NotKeyed);
    }
    let Some(value) = settings::get(conn, KEYED_FROM)? else {
        return Ok(KeyedFrom::Tampered);
    };
    let parsed = value.split_once('.').and_then(|(seq, mac)| {
        let seq = seq.parse::<u64>().ok()?;
        let mac = STANDARD.decode(mac).ok()?;
        let valid = keys.checkpoints.verify(
            KEYED_FROM_LABEL,
            |fields| {
                fields.field(&seq.to_be_bytes());
            },
            &mac,
        );
        valid.then_some(seq)
    });
    Ok(parsed.map_or(KeyedFrom::Tampered, KeyedFrom::From))
}

pub(crate) fn install(
    conn: &mut DbConnection,
    wrapped: &[u8],
    keys: &IntegrityKeys,
    entry: &AuditEntry,
) -> StoreResult<IntegrityInstall> {
    let attempt = |conn: &mut DbConnection| {
        write_transaction(conn, |conn| {
            if let Some(existing) = stored_master(conn)? {
                return Ok(IntegrityInstall::Present(existing));
            }
            // Keyed records with no master to key them: the master's row was deleted
            // to have the vault mint a new one and stamp rows edited meanwhile.
            if audit::any_keyed(conn)? {
                return Err(StoreError::corrupt(
                    "vault_settings.integrity_master",
                    "the audit trail holds keyed records but the integrity master is gone; \
                     the database was tampered with (restore it, or the setting, from a backup)",
                ));
            }
            diesel::insert_into(vault_settings::table)
                .values((
                    vault_settings::name.eq(MASTER),
                    vault_settings::value.eq(STANDARD.encode(wrapped)),
                ))
                .execute(conn)?;
            let rows = secrets::stamp_every_row(conn, keys)?;
            let first = audit::record(conn, entry, Some(keys))?;
            diesel::insert_into(vault_settings::table)
                .values((
                    vault_settings::name.eq(KEYED_FROM),
                    vault_settings::value.eq(keyed_from_value(keys, first.seq)),
                ))
                .execute(conn)?;
            Ok(IntegrityInstall::Installed {
                rows,
                keyed_from: first.seq,
            })
        })
    };
    match attempt(conn) {
        // A replica racing on PostgreSQL stored its wrap first.
        Err(StoreError::Conflict(_)) => stored_master(conn)?
            .map(IntegrityInstall::Present)
            .ok_or_else(|| StoreError::corrupt("vault_settings", "the integrity master vanished")),
        other => other,
    }
}

/// Replaces the stored wrap with `wrapped` (the same master under another root key).
pub(crate) fn replace_master(conn: &mut DbConnection, wrapped: &[u8]) -> StoreResult<()> {
    write_transaction(conn, |conn| {
        let replaced = diesel::update(vault_settings::table.find(MASTER))
            .set(vault_settings::value.eq(STANDARD.encode(wrapped)))
            .execute(conn)?;
        if replaced == 0 {
            return Err(StoreError::corrupt(
                "vault_settings.integrity_master",
                "there is no integrity master to rewrap",
            ));
        }
        Ok(())
    })
}
