//! The probes: liveness and readiness.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: String,
}

/// The database as readiness sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseState {
    Ok,
    /// It does not answer.
    Unavailable,
    /// It answers but refused the last write.
    NotWritable,
}

/// Why the database refused the last write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteFailure {
    DiskFull,
    ReadOnly,
    IoError,
    WriteFailed,
}

/// The root key as the background checker last found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RootKeyState {
    Ok,
    Disabled,
    AccessDenied,
    Unavailable,
    InvalidCiphertext,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, `unavailable` (it does not answer) or `not_writable` (it answers but
    /// refused the last write; `database_cause` says why).
    pub database: DatabaseState,
    /// With `not_writable`: `disk_full`, `read_only`, `io_error` or `write_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_cause: Option<WriteFailure>,
    pub root_key: RootKeyState,
}
