//! The host-side commands beside `serve`: tokens, keys, audit tools and migrations,
//! each working on the database directly (they run where the database and the key
//! configuration are).

pub mod args;
pub mod audit;
pub mod keys;
pub mod migrate;
pub mod token;
use std::sync::Arc;

use anyhow::Result;
use vault_api::audit::AuditContext;
use vault_api::clock::SystemClock;
use vault_api::server::{self, DevData};
use vault_kms::Keyring;
use vault_store::{Store, StoreConfig};

use crate::cli::args::{DatabaseArgs, KeyArgs, RootProviderKind};

pub(crate) async fn open_store(database: &DatabaseArgs) -> Result<Store> {
    Ok(server::open_store(&database.url()?, StoreConfig::default()).await?)
}

pub(crate) fn cli_audit() -> AuditContext {
    AuditContext {
        clock: Arc::new(SystemClock),
    }
}

/// The store and keyring the host commands work on, checked as `serve` checks them.
pub(crate) async fn open_keys(
    database: &DatabaseArgs,
    keys: &KeyArgs,
) -> Result<(Store, Arc<Keyring>)> {
    let dev_key = match (database.dev, keys.root_provider) {
        (true, RootProviderKind::Local) => Some(
            DevData {
                dir: database.data_dir.clone(),
            }
            .key()?,
        ),
        _ => None,
    };
    let root = keys.root_config(dev_key)?;
    let store = open_store(database).await?;
    let keyring =
        server::open_keyring(&store, &root, Arc::new(SystemClock), keys.keyring_config()).await?;
    Ok((store, keyring))
}
