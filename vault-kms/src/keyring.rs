//! The keyring: seals and opens secret versions through the whole hierarchy
//! (root provider → KEK → per-version DEK → value). Unwrapped KEKs are cached for a
//! bounded time, and concurrent misses on one KEK share a single root call, so a
//! warm open never reaches the root provider and a cold start reaches it once per
//! KEK in use.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use vault_core::SecretValue;

use crate::binding::{KekBinding, SealBinding};
use crate::envelope::{self, Envelope};
use crate::error::KmsError;
use crate::ids::{KekId, RootKeyId, VaultInstanceId};
use crate::material::{Kek, KekMaterial};
use crate::repository::{KekRecord, KekRepository, KekState};
use crate::root::RootKeyProvider;
use crate::wrapped_kek::WrappedKek;

/// A KEK never wraps more DEKs than this, whatever the configuration: with random
/// 96-bit nonces the chance of a repeat stays below 2^-37 (NIST SP 800-38D allows up
/// to 2^32 invocations per key).
pub const MAX_WRAPS_CEILING: u64 = 1 << 30;

/// The id the integrity master is wrapped for (the root wrap's binding). Reserved: no
/// KEK has it, and the keyring never opens a DEK with it.
pub const INTEGRITY_MASTER_ID: KekId = KekId::from_bytes([0xff; 16]);

/// How many times one seal retries when other writers keep rotating the active KEK.
const MAX_ACTIVE_KEK_ATTEMPTS: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyringConfig {
    /// DEK wraps after which a KEK is retired (capped at [`MAX_WRAPS_CEILING`]).
    pub max_wraps_per_kek: u64,
    /// How long an unwrapped KEK stays in memory after it was unwrapped.
    pub kek_cache_ttl: Duration,
    /// How many unwrapped KEKs stay in memory at most.
    pub kek_cache_capacity: u64,
}

impl Default for KeyringConfig {
    fn default() -> Self {
        KeyringConfig {
            max_wraps_per_kek: 1 << 24,
            kek_cache_ttl: Duration::from_secs(60 * 60),
            kek_cache_capacity: 1024,
        }
    }
}

/// Counters since start-up, for `/metrics` and for tests that count root calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyringMetrics {
    pub root_wraps: u64,
    pub root_unwraps: u64,
    pub kek_cache_hits: u64,
    pub kek_cache_misses: u64,
    pub seals: u64,
    pub opens: u64,
}

#[derive(Default)]
struct Counters {
    root_wraps: AtomicU64,
    root_unwraps: AtomicU64,
    kek_cache_hits: AtomicU64,
    kek_cache_misses: AtomicU64,
    seals: AtomicU64,
    opens: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub struct Keyring {
    instance: VaultInstanceId,
    root: Arc<dyn RootKeyProvider>,
    keks: Arc<dyn KekRepository>,
    max_wraps: u64,
    cache: Cache<KekId, Arc<Kek>>,
    counters: Counters,
}

impl Keyring {
    pub fn new(
        instance: VaultInstanceId,
        root: Arc<dyn RootKeyProvider>,
        keks: Arc<dyn KekRepository>,
        config: KeyringConfig,
    ) -> Self {
        let cache = Cache::builder()
            // A capacity of 0 would send every open to the root provider.
            .max_capacity(config.kek_cache_capacity.max(1))
            .time_to_live(config.kek_cache_ttl)
            .build();
        Keyring {
            instance,
            root,
            keks,
            max_wraps: config.max_wraps_per_kek.clamp(1, MAX_WRAPS_CEILING),
            cache,
            counters: Counters::default(),
        }
    }

    pub fn instance(&self) -> &VaultInstanceId {
        &self.instance
    }

    /// Seals one secret version under a fresh DEK wrapped by the active KEK.
    pub async fn seal(
        &self,
        binding: &SealBinding<'_>,
        value: &SecretValue,
    ) -> Result<Envelope, KmsError> {
        let kek = self.kek_for_new_wrap().await?;
        let sealed = envelope::seal(&kek, binding, value)?;
        bump(&self.counters.seals);
        Ok(sealed)
    }

    pub async fn open(
        &self,
        binding: &SealBinding<'_>,
        sealed: &Envelope,
    ) -> Result<SecretValue, KmsError> {
        let kek = self.kek(sealed.kek_id()).await?;
        let value = envelope::open(&kek, binding, sealed.clone())?;
        bump(&self.counters.opens);
        Ok(value)
    }

    /// Opens every envelope, all or nothing, looking each KEK up once: a resolution
    /// opens dozens of envelopes sealed under one or two KEKs.
    pub async fn open_all(
        &self,
        sealed: Vec<(SealBinding<'_>, Envelope)>,
    ) -> Result<Vec<SecretValue>, KmsError> {
        let opener = self
            .opener(sealed.iter().map(|(_, envelope)| envelope))
            .await?;
        let values = sealed
            .into_iter()
            .map(|(binding, envelope)| opener.open_uncounted(&binding, envelope))
            .collect::<Result<Vec<_>, _>>()?;
        // Counted once the whole batch opened: a refused batch disclosed nothing.
        self.counters
            .opens
            .fetch_add(values.len() as u64, Ordering::Relaxed);
        Ok(values)
    }

    /// The KEKs `envelopes` are sealed under, each looked up once (from the cache, or
    /// unwrapped by the root provider). Opening with the answer does no I/O, so a
    /// caller opens each envelope in the place it keeps it, and no value can be paired
    /// with another's envelope.
    pub async fn opener<'e>(
        &self,
        envelopes: impl IntoIterator<Item = &'e Envelope>,
    ) -> Result<Opener<'_>, KmsError> {
        let mut keks: Vec<Arc<Kek>> = Vec::new();
        for envelope in envelopes {
            if !keks.iter().any(|kek| kek.id() == envelope.kek_id()) {
                keks.push(self.kek(envelope.kek_id()).await?);
            }
        }
        Ok(Opener {
            keks,
            opens: &self.counters.opens,
        })
    }

    /// Starts a new KEK under the current root key; new seals use it at once.
    pub async fn rotate_kek(&self) -> Result<KekRecord, KmsError> {
        let active = self.keks.active(self.root.current_key_id()).await?;
        self.start_kek(active.as_ref().map(KekRecord::id)).await
    }

    /// The KEK record wrapped again under the current root key: same id, same
    /// material, proven to open before it is returned. Values and DEKs are untouched.
    pub async fn rewrap_kek(&self, wrapped: &WrappedKek) -> Result<WrappedKek, KmsError> {
        let material = self.unwrap_kek(wrapped).await?;
        let binding = KekBinding {
            kek_id: wrapped.id(),
            instance: &self.instance,
        };
        bump(&self.counters.root_wraps);
        let rewrapped = WrappedKek::new(*wrapped.id(), self.root.wrap(&material, &binding).await?)?;
        if self.unwrap_kek(&rewrapped).await? != material {
            return Err(KmsError::KekUnwrapFailed {
                key_id: rewrapped.root_key_id().clone(),
            });
        }
        Ok(rewrapped)
    }

    /// A fresh integrity master (256 random bits, from which the audit chain, row and
    /// checkpoint keys are derived) and its wrap under the current root key, bound to
    /// this vault instance. Only the wrap may be stored; `keys rewrap` moves it like a
    /// KEK record (`rewrap_kek`).
    pub async fn new_integrity_master(&self) -> Result<(KekMaterial, WrappedKek), KmsError> {
        let material = KekMaterial::generate()?;
        let binding = KekBinding {
            kek_id: &INTEGRITY_MASTER_ID,
            instance: &self.instance,
        };
        bump(&self.counters.root_wraps);
        let wrapped = WrappedKek::new(
            INTEGRITY_MASTER_ID,
            self.root.wrap(&material, &binding).await?,
        )?;
        Ok((material, wrapped))
    }

    /// The integrity master from its stored wrap: one root call.
    pub async fn open_integrity_master(
        &self,
        wrapped: &WrappedKek,
    ) -> Result<KekMaterial, KmsError> {
        if wrapped.id() != &INTEGRITY_MASTER_ID {
            return Err(KmsError::MalformedRecord {
                record: "integrity master",
                reason: "it is wrapped for a KEK id, not the integrity master's",
            });
        }
        self.unwrap_kek(wrapped).await
    }

    /// The envelope with its DEK wrapped under KEK `to` instead of its own; the value
    /// ciphertext stays as it is. The caller claims `to`'s wrap budget.
    pub async fn rewrap_dek(
        &self,
        binding: &SealBinding<'_>,
        sealed: &Envelope,
        to: &KekId,
    ) -> Result<Envelope, KmsError> {
        let from = self.kek(sealed.kek_id()).await?;
        let to = self.kek(to).await?;
        envelope::rewrap(&from, &to, binding, sealed)
    }

    /// The most DEKs one KEK may wrap.
    pub fn max_wraps_per_kek(&self) -> u64 {
        self.max_wraps
    }

    pub fn metrics(&self) -> KeyringMetrics {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        KeyringMetrics {
            root_wraps: read(&self.counters.root_wraps),
            root_unwraps: read(&self.counters.root_unwraps),
            kek_cache_hits: read(&self.counters.kek_cache_hits),
            kek_cache_misses: read(&self.counters.kek_cache_misses),
            seals: read(&self.counters.seals),
            opens: read(&self.counters.opens),
        }
    }

    /// Whether sealing and opening work now: the current root key's active KEK, if
    /// there is one, unwraps. Warm, this is a cache hit and makes no wrap or unwrap.
    ///
    /// The root provider is asked first; when it refuses (a disabled or unreachable
    /// KMS key), every unwrapped KEK is dropped from memory, so nothing opens until the
    /// key is usable again.
    pub async fn check_ready(&self) -> Result<(), KmsError> {
        if let Err(error) = self.root.check().await {
            self.forget_keks();
            return Err(error);
        }
        if let Some(active) = self.keks.active(self.root.current_key_id()).await? {
            self.kek(active.id()).await?;
        }
        Ok(())
    }

    /// The root key new KEKs are wrapped under.
    pub fn current_root_key(&self) -> &RootKeyId {
        self.root.current_key_id()
    }

    /// Every configured root key, the current one first.
    pub fn configured_root_keys(&self) -> Vec<RootKeyId> {
        self.root.configured_key_ids()
    }

    /// Whether KEKs wrapped under `key_id` can be unwrapped with the configured keys.
    pub fn holds_root_key(&self, key_id: &RootKeyId) -> bool {
        self.root.holds(key_id)
    }

    /// Drops every unwrapped KEK from memory (zeroized as the last reference goes).
    pub fn forget_keks(&self) {
        self.cache.invalidate_all();
    }

    /// The unwrapped KEK `id`, from memory or through one root call.
    pub(crate) async fn kek(&self, id: &KekId) -> Result<Arc<Kek>, KmsError> {
        // An envelope naming the integrity master's id was not sealed by this vault.
        if id == &INTEGRITY_MASTER_ID {
            return Err(KmsError::KekNotFound { id: *id });
        }
        if let Some(kek) = self.cache.get(id).await {
            bump(&self.counters.kek_cache_hits);
            return Ok(kek);
        }
        bump(&self.counters.kek_cache_misses);
        self.cache
            .try_get_with(*id, async {
                let record = self
                    .keks
                    .get(id)
                    .await?
                    .ok_or(KmsError::KekNotFound { id: *id })?;
                let material = self.unwrap_kek(&record.wrapped).await?;
                Ok(Arc::new(Kek::new(*id, &material)?))
            })
            .await
            .map_err(|err: Arc<KmsError>| KmsError::clone(&err))
    }

    async fn unwrap_kek(&self, wrapped: &WrappedKek) -> Result<KekMaterial, KmsError> {
        bump(&self.counters.root_unwraps);
        let binding = KekBinding {
            kek_id: wrapped.id(),
            instance: &self.instance,
        };
        self.root.unwrap(wrapped.root_wrapped(), &binding).await
    }

    /// The active KEK of the current root key, with one wrap claimed on it. A KEK of
    /// any other root key is never chosen, so a root key change retires the old KEKs
    /// for new wraps; a KEK whose wrap budget is spent is replaced.
    async fn kek_for_new_wrap(&self) -> Result<Arc<Kek>, KmsError> {
        let root = self.root.current_key_id();
        for _ in 0..MAX_ACTIVE_KEK_ATTEMPTS {
            let active = self.keks.active(root).await?;
            let usable = active.as_ref().filter(|record| {
                record.state == KekState::Active
                    && record.root_key_id() == root
                    && record.wrap_count < self.max_wraps
            });
            match usable {
                Some(record) => {
                    if self.keks.claim_wrap(record.id(), self.max_wraps).await? {
                        return self.kek(record.id()).await;
                    }
                }
                None => {
                    self.start_kek(active.as_ref().map(KekRecord::id)).await?;
                }
            }
        }
        Err(KmsError::KekContention)
    }

    /// Generates a KEK, wraps it under the current root key, proves the wrap opens,
    /// and installs it as that root key's active KEK in place of `replacing`, unless
    /// another writer already replaced that one (then theirs is returned, ours dropped).
    async fn start_kek(&self, replacing: Option<&KekId>) -> Result<KekRecord, KmsError> {
        let id = KekId::generate()?;
        let material = KekMaterial::generate()?;
        let binding = KekBinding {
            kek_id: &id,
            instance: &self.instance,
        };
        bump(&self.counters.root_wraps);
        let wrapped = WrappedKek::new(id, self.root.wrap(&material, &binding).await?)?;
        // A KEK whose wrap does not open would silently strand every DEK under it.
        if self.unwrap_kek(&wrapped).await? != material {
            return Err(KmsError::KekUnwrapFailed {
                key_id: wrapped.root_key_id().clone(),
            });
        }
        let installed = self.keks.install_active(wrapped, replacing).await?;
        if *installed.id() == id {
            self.cache
                .insert(id, Arc::new(Kek::new(id, &material)?))
                .await;
        }
        Ok(installed)
    }
}

/// The unwrapped KEKs of one batch of envelopes (`Keyring::opener`).
pub struct Opener<'k> {
    keks: Vec<Arc<Kek>>,
    opens: &'k AtomicU64,
}

impl Opener<'_> {
    /// Opens `envelope` for `binding`; `KekNotFound` when its KEK is not one of the
    /// batch this opener was made for.
    pub fn open(
        &self,
        binding: &SealBinding<'_>,
        envelope: Envelope,
    ) -> Result<SecretValue, KmsError> {
        let value = self.open_uncounted(binding, envelope)?;
        bump(self.opens);
        Ok(value)
    }

    fn open_uncounted(
        &self,
        binding: &SealBinding<'_>,
        envelope: Envelope,
    ) -> Result<SecretValue, KmsError> {
        let kek = self
            .keks
            .iter()
            .find(|kek| kek.id() == envelope.kek_id())
            .ok_or(KmsError::KekNotFound {
                id: *envelope.kek_id(),
            })?;
        envelope::open(kek, binding, envelope)
    }

    /// How many distinct KEKs the batch is sealed under.
    pub fn kek_count(&self) -> usize {
        self.keks.len()
    }
}

impl fmt::Debug for Opener<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<_> = self.keks.iter().map(|kek| kek.id()).collect();
        f.debug_struct("Opener").field("keks", &ids).finish()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("instance", &self.instance)
            .field("root", &self.root.kind())
            .field("current_root_key", self.root.current_key_id())
            .field("max_wraps", &self.max_wraps)
            .field("metrics", &self.metrics())
            .finish()
    }
}
