//! What every handler shares: the store, the keyring, the precedence policy, the limit
//! on a resolved environment, the audit writer, metrics and the clock.

use std::ops::Deref;
use std::sync::Arc;

use vault_core::{AuditEntry, EnvLimit, PrecedencePolicy};
use vault_kms::Keyring;
use vault_store::Store;

use crate::audit::{Actor, AuditContext, AuditWriter};
use crate::authz::{Authorizer, StoreAuthorizer};
use crate::candidates::CandidateCache;
use crate::clock::Clock;
use crate::error::ApiResult;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    pub policy: PrecedencePolicy,
    /// How large a resolved environment may be (`VAULT_MAX_ENV_BYTES`).
    pub env_limit: EnvLimit,
    pub authorizer: Arc<dyn Authorizer>,
    pub audit: AuditWriter,
    pub candidates: CandidateCache,
    pub metrics: Metrics,
    pub clock: Arc<dyn Clock>,
    /// The background key checker's last answer, which `/readyz` reports.
    pub key_health: KeyHealth,
    audit_context: AuditContext,
}

/// Whether the root key was usable at the last background check: `ok`, or the
/// readiness label of the failure (`disabled`, `access_denied`, `invalid_ciphertext`,
/// `unavailable`). A vault starts `ok` because opening its keyring checked the key.
#[derive(Clone)]
pub struct KeyHealth(Arc<std::sync::RwLock<&'static str>>);

impl Default for KeyHealth {
    fn default() -> Self {
        KeyHealth(Arc::new(std::sync::RwLock::new("ok")))
    }
}

impl KeyHealth {
    pub fn get(&self) -> &'static str {
        self.0.read().map_or("unavailable", |label| *label)
    }

    /// Records a check's outcome; returns the label it replaced.
    pub fn set(&self, label: &'static str) -> &'static str {
        match self.0.write() {
            Ok(mut slot) => std::mem::replace(&mut *slot, label),
            Err(_) => "unavailable",
        }
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The settings of a serving process beyond its store, keys, policy and clock.
#[derive(Clone, Default)]
pub struct StateOptions {
    pub candidates: CandidateCache,
    pub env_limit: EnvLimit,
}

impl AppState {
    /// Starts the audit writer, so call it inside the runtime that will serve.
    pub fn new(
        store: Store,
        keyring: Arc<Keyring>,
        policy: PrecedencePolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_options(store, keyring, policy, clock, StateOptions::default())
    }

    pub fn with_options(
        store: Store,
        keyring: Arc<Keyring>,
        policy: PrecedencePolicy,
        clock: Arc<dyn Clock>,
        StateOptions {
            candidates,
            env_limit,
        }: StateOptions,
    ) -> Self {
        AppState(Arc::new(Shared {
            audit: AuditWriter::start(store.clone()),
            metrics: Metrics::new(keyring.clone(), &candidates),
            candidates,
            audit_context: AuditContext {
                clock: clock.clone(),
            },
            authorizer: Arc::new(StoreAuthorizer::new(store.clone())),
            store,
            keyring,
            policy,
            env_limit,
            clock,
            key_health: KeyHealth::default(),
        }))
    }
}

impl Shared {
    pub fn audit_context(&self) -> &AuditContext {
        &self.audit_context
    }

    pub fn audit_entry(
        &self,
        request_id: &str,
        actor: &Actor,
        action: &str,
        target: impl serde::Serialize,
        outcome: &str,
    ) -> ApiResult<AuditEntry> {
        self.audit_context
            .entry(request_id, actor, action, target, outcome)
    }
}
