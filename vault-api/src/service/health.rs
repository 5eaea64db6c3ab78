//! Readiness: whether this replica can serve, from the database's last write outcome
//! and ping and the background root-key checker's last answer.

use vault_client::wire::{DatabaseState, Readiness, RootKeyState, WriteFailure};

use crate::state::AppState;

pub(crate) async fn readiness(state: &AppState) -> Readiness {
    // A database that answers reads may still refuse every write (a full disk), and
    // then every resolution fails closed on its audit record: the last write's outcome
    // (requests' own, or the background probe's) counts as much as the ping.
    let database_cause = state.store.write_failure().map(|cause| match cause {
        vault_store::WriteFailure::DiskFull => WriteFailure::DiskFull,
        vault_store::WriteFailure::ReadOnly => WriteFailure::ReadOnly,
        vault_store::WriteFailure::IoError => WriteFailure::IoError,
        vault_store::WriteFailure::WriteFailed => WriteFailure::WriteFailed,
    });
    let database = match state.store.ping().await {
        Ok(()) if database_cause.is_some() => DatabaseState::NotWritable,
        Ok(()) => DatabaseState::Ok,
        Err(error) => {
            tracing::warn!(%error, "readiness: database check failed");
            DatabaseState::Unavailable
        }
    };
    // The background checker's last answer: a probe, however often it comes, never
    // reaches the root provider (a KMS call per probe could be throttled fleet-wide).
    let root_key = state.key_health.get();
    let ready = database == DatabaseState::Ok && root_key == RootKeyState::Ok;
    Readiness {
        ready,
        database,
        database_cause,
        root_key,
    }
}
