//! Between database columns and vault-core types. Every stored value is parsed back
//! through vault-core, so a row the domain rules refuse surfaces as `Corrupt`.

use chrono::{DateTime, Utc};

use crate::error::{StoreError, StoreResult};

/// Times are stored as microseconds since the Unix epoch, UTC.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(column: &'static str, value: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| StoreError::corrupt(column, "timestamp out of range"))
}

pub(crate) fn version_number(column: &'static str, value: i32) -> StoreResult<vault_core::Version> {
    u32::try_from(value)
        .map_err(|_| StoreError::corrupt(column, "negative version"))
        .and_then(|n| vault_core::Version::new(n).map_err(StoreError::stored(column)))
}

pub(crate) fn version_column(version: vault_core::Version) -> StoreResult<i32> {
    i32::try_from(version.get()).map_err(|_| StoreError::invalid("version", "is too large"))
}
