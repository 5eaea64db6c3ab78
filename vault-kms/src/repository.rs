//! Where wrapped KEKs live. vault-kms defines the contract; vault-store implements it
//! over the database and vault-api plugs the two together, so vault-kms never
//! depends on the store. The in-memory implementation here serves tests and
//! single-process tools that keep nothing.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::KmsError;
use crate::ids::{KekId, RootKeyId};
use crate::wrapped_kek::WrappedKek;

/// Each root key has at most one active KEK: the one new DEKs are wrapped under by
/// every vault process whose current root key it is. Keeping one per root key (not
/// one overall) means processes mid-way through a root key change never retire each
/// other's KEK: each wraps under its own current root's KEK until all agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KekState {
    /// Wraps new DEKs for processes whose current root key wraps it.
    Active,
    /// Opens what it wrapped, wraps nothing new.
    Retired,
}

impl KekState {
    pub fn as_str(self) -> &'static str {
        match self {
            KekState::Active => "active",
            KekState::Retired => "retired",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KekRecord {
    pub wrapped: WrappedKek,
    pub state: KekState,
    /// DEKs wrapped so far (claimed, counted before use, so never an undercount).
    pub wrap_count: u64,
}

impl KekRecord {
    pub fn id(&self) -> &KekId {
        self.wrapped.id()
    }

    pub fn root_key_id(&self) -> &RootKeyId {
        self.wrapped.root_key_id()
    }
}

/// Every method is atomic with respect to the others, across all processes sharing
/// the storage (several vault-api replicas on one database).
#[async_trait]
pub trait KekRepository: Send + Sync + 'static {
    async fn get(&self, id: &KekId) -> Result<Option<KekRecord>, KmsError>;

    /// The active KEK under root key `root`, if any.
    async fn active(&self, root: &RootKeyId) -> Result<Option<KekRecord>, KmsError>;

    /// Compare-and-swap of the active KEK under `record`'s root key: when that is still
    /// `replacing`, or none is active under it, stores `record` as active (retiring
    /// `replacing`) and returns it. Otherwise another process got there first: stores
    /// nothing and returns the KEK that is active under that root key now.
    async fn install_active(
        &self,
        record: WrappedKek,
        replacing: Option<&KekId>,
    ) -> Result<KekRecord, KmsError>;

    /// Counts one DEK wrap against `id` when it is still active and under
    /// `max_wraps`. `false` means the caller must pick (or start) another KEK.
    async fn claim_wrap(&self, id: &KekId, max_wraps: u64) -> Result<bool, KmsError>;
}

#[derive(Debug, Default)]
pub struct MemoryKekRepository {
    records: Mutex<Vec<KekRecord>>,
}

impl MemoryKekRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot of every record, oldest first.
    pub fn records(&self) -> Result<Vec<KekRecord>, KmsError> {
        self.lock().map(|records| records.clone())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Vec<KekRecord>>, KmsError> {
        self.records.lock().map_err(|_| KmsError::KekStorage {
            detail: "in-memory KEK store was poisoned by a panic".into(),
        })
    }
}

#[async_trait]
impl KekRepository for MemoryKekRepository {
    async fn get(&self, id: &KekId) -> Result<Option<KekRecord>, KmsError> {
        Ok(self.lock()?.iter().find(|r| r.id() == id).cloned())
    }

    async fn active(&self, root: &RootKeyId) -> Result<Option<KekRecord>, KmsError> {
        Ok(self
            .lock()?
            .iter()
            .find(|r| r.state == KekState::Active && r.root_key_id() == root)
            .cloned())
    }

    async fn install_active(
        &self,
        record: WrappedKek,
        replacing: Option<&KekId>,
    ) -> Result<KekRecord, KmsError> {
        let mut records = self.lock()?;
        let active = records
            .iter_mut()
            .find(|r| r.state == KekState::Active && r.root_key_id() == record.root_key_id());
        match (active, replacing) {
            (Some(current), Some(expected)) if current.id() == expected => {
                current.state = KekState::Retired;
            }
            (Some(current), _) => return Ok(current.clone()),
            (None, _) => {}
        }
        let installed = KekRecord {
            wrapped: record,
            state: KekState::Active,
            wrap_count: 0,
        };
        records.push(installed.clone());
        Ok(installed)
    }

    async fn claim_wrap(&self, id: &KekId, max_wraps: u64) -> Result<bool, KmsError> {
        let mut records = self.lock()?;
        match records
            .iter_mut()
            .find(|r| r.id() == id && r.state == KekState::Active)
        {
            Some(record) if record.wrap_count < max_wraps => {
                record.wrap_count += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
