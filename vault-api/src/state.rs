//! What every handler shares: the store, the keyring, the precedence policy, the limit
//! on a resolved environment, the audit writer, metrics, the clock, the key checker's
//! last answer, and the flood defences.

use std::num::NonZeroU32;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;
use vault_client::wire::RootKeyState;

use vault_core::{AuditEntry, EnvLimit, PrecedencePolicy};
use vault_kms::Keyring;
use vault_store::Store;

use crate::audit::{Actor, AuditContext, AuditWriter};
use crate::authz::{Authorizer, StoreAuthorizer};
use crate::candidates::CandidateCache;
use crate::clock::Clock;
use crate::error::ApiResult;
use crate::flood::{ComparisonBudget, FailureLimiter, RefusalTally};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

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
    /// Failed authentications per source.
    pub failures: FailureLimiter,
    /// Value comparisons per principal.
    pub comparisons: ComparisonBudget,
    /// Refused anonymous requests since the last summary record.
    pub refusals: RefusalTally,
    /// Serializes this replica's unguarded rotations of one secret (see `entries::update`).
    pub rotations: RotationLocks,
    /// The change event feed's streams on this replica.
    pub events: crate::service::events::EventStreams,
    /// How this replica delivers webhooks.
    pub webhooks: crate::service::webhooks::WebhookOptions,
    audit_context: AuditContext,
}

/// One async lock per secret being rotated without `expected_version`: the rotations of
/// one replica queue instead of racing, so each seals the version after the last one and
/// lands; races across replicas are left to the store's version check and a retry.
#[derive(Default)]
pub struct RotationLocks(
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>>,
);

impl RotationLocks {
    pub async fn lock(&self, secret_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Locks nobody holds or waits for are dropped here, so the map stays as
            // small as the number of secrets being rotated right now.
            locks.retain(|_, lock| lock.strong_count() > 0);
            match locks.get(secret_id).and_then(std::sync::Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(secret_id.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

/// Whether the root key was usable at the last background check: `ok`, or the
/// readiness label of the failure (`disabled`, `access_denied`, `invalid_ciphertext`,
/// `unavailable`). A vault starts `ok` because opening its keyring checked the key.
#[derive(Clone)]
pub struct KeyHealth(Arc<std::sync::RwLock<RootKeyState>>);

impl Default for KeyHealth {
    fn default() -> Self {
        KeyHealth(Arc::new(std::sync::RwLock::new(RootKeyState::Ok)))
    }
}

impl KeyHealth {
    pub fn get(&self) -> RootKeyState {
        self.0
            .read()
            .map_or(RootKeyState::Unavailable, |state| *state)
    }

    /// Records a check's outcome; returns the state it replaced.
    pub fn set(&self, state: RootKeyState) -> RootKeyState {
        match self.0.write() {
            Ok(mut slot) => std::mem::replace(&mut *slot, state),
            Err(_) => RootKeyState::Unavailable,
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
#[derive(Clone)]
pub struct StateOptions {
    pub candidates: CandidateCache,
    pub env_limit: EnvLimit,
    /// Failed authentications a source may make at once, and per minute after.
    pub auth_failures_per_minute: NonZeroU32,
    /// How often refused anonymous requests are summarised into the audit trail.
    pub refusal_summary_interval: Duration,
    /// Values a principal may compare with stored ones at once, and per minute after.
    pub comparisons_per_minute: NonZeroU32,
    /// How the change event feed streams.
    pub events: crate::service::events::EventOptions,
    /// How webhooks are checked and delivered.
    pub webhooks: crate::service::webhooks::WebhookOptions,
}

impl Default for StateOptions {
    fn default() -> Self {
        StateOptions {
            candidates: CandidateCache::default(),
            env_limit: EnvLimit::default(),
            auth_failures_per_minute: crate::flood::DEFAULT_AUTH_FAILURES_PER_MINUTE,
            refusal_summary_interval: crate::flood::DEFAULT_SUMMARY_INTERVAL,
            comparisons_per_minute: crate::flood::DEFAULT_COMPARISONS_PER_MINUTE,
            events: crate::service::events::EventOptions::default(),
            webhooks: crate::service::webhooks::WebhookOptions::default(),
        }
    }
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
            auth_failures_per_minute,
            refusal_summary_interval,
            comparisons_per_minute,
            events,
            webhooks,
        }: StateOptions,
    ) -> Self {
        let state = AppState(Arc::new(Shared {
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
            failures: FailureLimiter::per_minute(auth_failures_per_minute),
            comparisons: ComparisonBudget::per_minute(comparisons_per_minute),
            refusals: RefusalTally::default(),
            rotations: RotationLocks::default(),
            events: crate::service::events::EventStreams::new(events),
            webhooks,
        }));
        state.summarise_refusals_every(refusal_summary_interval);
        state
    }

    /// Writes the refusal summaries every `interval`, for as long as the state lives.
    fn summarise_refusals_every(&self, interval: Duration) {
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                AppState(shared).write_refusal_summaries().await;
            }
        });
    }

    /// One audit record per source refused since the last call (with a count per
    /// route template), and a warning per source in the log; the limiter forgets
    /// sources that have recovered.
    pub async fn write_refusal_summaries(&self) {
        self.failures.forget_recovered();
        self.comparisons.forget_recovered();
        let summaries = self.refusals.take();
        if summaries.is_empty() {
            return;
        }
        let request_id =
            crate::tokens::random_id("sum_").unwrap_or_else(|_| "sum_unavailable".into());
        for summary in summaries {
            tracing::warn!(
                source = %summary.source,
                refused = summary.refused,
                from = %summary.from.to_rfc3339(),
                until = %summary.until.to_rfc3339(),
                "anonymous requests refused"
            );
            let written = match self.audit_entry(
                &request_id,
                &Actor::anonymous(),
                vault_core::AuditAction::RefusedSummary,
                &summary,
                "refused",
            ) {
                Ok(entry) => self.audit.write(entry).await,
                Err(error) => Err(error),
            };
            if let Err(error) = written {
                tracing::error!(%error, source = %summary.source, "a refusal summary could not be recorded");
            }
        }
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
        action: vault_core::AuditAction,
        target: impl serde::Serialize,
        outcome: &str,
    ) -> ApiResult<AuditEntry> {
        self.audit_context
            .entry(request_id, actor, action, target, outcome)
    }
}
