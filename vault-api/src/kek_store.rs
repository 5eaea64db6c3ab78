//! vault-kms's `KekRepository` over vault-store: wrapped KEKs live in the database,
//! shared by every replica. The store keeps them as opaque bytes; this adapter is the
//! only place that knows both sides.

use std::sync::Arc;

use async_trait::async_trait;
use vault_kms::{KekId, KekRecord, KekRepository, KekState, KmsError, RootKeyId, WrappedKek};
use vault_store::{KekStatus, Store, StoreError, StoredKek};

use crate::clock::Clock;

pub struct StoreKekRepository {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl StoreKekRepository {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        StoreKekRepository { store, clock }
    }
}

fn storage(error: StoreError) -> KmsError {
    KmsError::KekStorage {
        detail: error.to_string(),
    }
}

fn record(stored: StoredKek) -> Result<KekRecord, KmsError> {
    let wrapped = WrappedKek::from_bytes(&stored.wrapped)?;
    if wrapped.id().to_string() != stored.id || wrapped.root_key_id().as_str() != stored.root_key_id
    {
        return Err(KmsError::KekStorage {
            detail: format!("KEK row {} does not match the record it holds", stored.id),
        });
    }
    Ok(KekRecord {
        wrapped,
        state: match stored.state {
            KekStatus::Active => KekState::Active,
            KekStatus::Retired => KekState::Retired,
        },
        wrap_count: stored.wrap_count,
    })
}

#[async_trait]
impl KekRepository for StoreKekRepository {
    async fn get(&self, id: &KekId) -> Result<Option<KekRecord>, KmsError> {
        self.store
            .kek(id.to_string())
            .await
            .map_err(storage)?
            .map(record)
            .transpose()
    }

    async fn active(&self, root: &RootKeyId) -> Result<Option<KekRecord>, KmsError> {
        self.store
            .active_kek(root.as_str().to_owned())
            .await
            .map_err(storage)?
            .map(record)
            .transpose()
    }

    async fn install_active(
        &self,
        wrapped: WrappedKek,
        replacing: Option<&KekId>,
    ) -> Result<KekRecord, KmsError> {
        let installed = self
            .store
            .install_active_kek(
                wrapped.id().to_string(),
                wrapped.root_key_id().as_str().to_owned(),
                wrapped.to_bytes(),
                replacing.map(ToString::to_string),
                self.clock.now(),
            )
            .await
            .map_err(storage)?;
        record(installed)
    }

    async fn claim_wrap(&self, id: &KekId, max_wraps: u64) -> Result<bool, KmsError> {
        self.store
            .claim_kek_wrap(id.to_string(), max_wraps)
            .await
            .map_err(storage)
    }
}
