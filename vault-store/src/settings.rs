//! Settings every replica must agree on, written once by whichever starts first.

use diesel::prelude::*;

use crate::db::{DbConnection, write_transaction};
use crate::error::{StoreError, StoreResult};
use crate::schema::vault_settings;

/// The stored value of `name`, storing `proposed` first when there is none.
pub(crate) fn get_or_insert(
    conn: &mut DbConnection,
    name: &str,
    proposed: &str,
) -> StoreResult<String> {
    let read = |conn: &mut DbConnection| -> StoreResult<Option<String>> {
        Ok(vault_settings::table
            .find(name)
            .select(vault_settings::value)
            .first(conn)
            .optional()?)
    };
    let attempt = |conn: &mut DbConnection| {
        write_transaction(conn, |conn| {
            if let Some(stored) = read(conn)? {
                return Ok(stored);
            }
            diesel::insert_into(vault_settings::table)
                .values((
                    vault_settings::name.eq(name),
                    vault_settings::value.eq(proposed),
                ))
                .execute(conn)?;
            Ok(proposed.to_owned())
        })
    };
    match attempt(conn) {
        // A replica racing on PostgreSQL lost the insert: the winner's value stands.
        Err(StoreError::Conflict(_)) => read(conn)?.ok_or_else(|| {
            StoreError::corrupt(
                "vault_settings",
                format!("{name} vanished after a conflict"),
            )
        }),
        other => other,
    }
}

pub(crate) fn get(conn: &mut DbConnection, name: &str) -> StoreResult<Option<String>> {
    Ok(vault_settings::table
        .find(name)
        .select(vault_settings::value)
        .first(conn)
        .optional()?)
}

/// Stores `value` under `name`, or removes the setting when `value` is `None`.
pub(crate) fn put(conn: &mut DbConnection, name: &str, value: Option<&str>) -> StoreResult<()> {
    write_transaction(conn, |conn| {
        diesel::delete(vault_settings::table.find(name)).execute(conn)?;
        if let Some(value) = value {
            diesel::insert_into(vault_settings::table)
                .values((
                    vault_settings::name.eq(name),
                    vault_settings::value.eq(value),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The setting the write probe rewrites.
const WRITE_PROBE: &str = "write_probe";

/// Rewrites the probe setting with the current time: one small row the database must
/// make durable. A replica that lost the first insert to another has still written.
pub(crate) fn touch_probe(conn: &mut DbConnection) -> StoreResult<()> {
    let now = chrono::Utc::now().timestamp_micros().to_string();
    let updated = diesel::update(vault_settings::table.find(WRITE_PROBE))
        .set(vault_settings::value.eq(&now))
        .execute(conn)?;
    if updated == 0 {
        match diesel::insert_into(vault_settings::table)
            .values((
                vault_settings::name.eq(WRITE_PROBE),
                vault_settings::value.eq(&now),
            ))
            .execute(conn)
            .map_err(StoreError::from)
        {
            Err(StoreError::Conflict(_)) | Ok(_) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}
