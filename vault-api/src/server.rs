//! Opening a vault (database, keys, the fingerprint check) and serving it with a
//! graceful shutdown.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use vault_core::{EnvName, PrecedencePolicy, ProtectedNames};
use vault_kms::{
    AwsKmsProvider, AwsKmsSettings, Keyring, KeyringConfig, LayeredRootProvider, LocalRootProvider,
    RootKeyProvider, VaultInstanceId,
};
use vault_store::{Store, StoreConfig};
use zeroize::Zeroizing;

use crate::app;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::kek_store::StoreKekRepository;
use crate::state::AppState;

/// The root keys: the current one, and earlier ones still needed to open old KEKs.
pub struct RootKeys {
    pub current: Zeroizing<String>,
    pub previous: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for RootKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootKeys")
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// Where the root key lives.
#[derive(Debug)]
pub enum RootConfig {
    /// `ENCRYPTION_KEY` (and `ENCRYPTION_KEY_PREVIOUS`).
    Local(RootKeys),
    /// An AWS KMS key (id, ARN or alias) wraps new KEKs; local keys, if any, still
    /// open the KEKs they wrapped until `keys rewrap` moves them.
    AwsKms {
        key_id: String,
        local_previous: Vec<Zeroizing<String>>,
    },
}

pub const NO_KEY_HELP: &str = "no root key: set ENCRYPTION_KEY to 32 bytes in base64 or hex \
     (`vault-api keygen` prints a new one), or run `vault-api serve --dev`";

fn config_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::Config {
        detail: detail.to_string(),
    }
}

/// Opens the database (running pending migrations) off the async runtime.
pub async fn open_store(database_url: &str, config: StoreConfig) -> ApiResult<Store> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || Store::open(&url, &config))
        .await
        .map_err(config_error)?
        .map_err(|e| config_error(format!("could not open the database: {e}")))
}

/// The configured root provider. For `aws-kms` this reaches KMS once, to resolve the
/// key to its ARN and check that it is enabled.
pub async fn root_provider(config: &RootConfig) -> ApiResult<Arc<dyn RootKeyProvider>> {
    match config {
        RootConfig::Local(keys) => {
            let previous: Vec<&str> = keys.previous.iter().map(|k| k.as_str()).collect();
            let root = LocalRootProvider::from_config(&keys.current, &previous)
                .map_err(|e| config_error(format!("ENCRYPTION_KEY: {e}")))?;
            Ok(Arc::new(root))
        }
        RootConfig::AwsKms {
            key_id,
            local_previous,
        } => {
            let kms = AwsKmsProvider::connect(key_id, AwsKmsSettings::default())
                .await
                .map_err(|e| config_error(format!("VAULT_KMS_KEY_ID: {e}")))?;
            let mut previous: Vec<Arc<dyn RootKeyProvider>> = Vec::new();
            if let Some((first, rest)) = local_previous.split_first() {
                let rest: Vec<&str> = rest.iter().map(|k| k.as_str()).collect();
                let local = LocalRootProvider::from_config(first, &rest)
                    .map_err(|e| config_error(format!("ENCRYPTION_KEY: {e}")))?;
                previous.push(Arc::new(local));
            }
            Ok(Arc::new(LayeredRootProvider::new(Arc::new(kms), previous)))
        }
    }
}

/// The keyring over `store`, after checking the configured keys can open what the
/// database holds: starting with the wrong key fails here, not at the first read.
pub async fn open_keyring(
    store: &Store,
    root: &RootConfig,
    clock: Arc<dyn Clock>,
    config: KeyringConfig,
) -> ApiResult<Arc<Keyring>> {
    let provider = root_provider(root).await?;
    open_keyring_with(store, provider, clock, config).await
}

/// As [`open_keyring`], over a provider built elsewhere.
pub async fn open_keyring_with(
    store: &Store,
    root: Arc<dyn RootKeyProvider>,
    clock: Arc<dyn Clock>,
    config: KeyringConfig,
) -> ApiResult<Arc<Keyring>> {
    let proposed = VaultInstanceId::generate().map_err(config_error)?;
    let instance = store
        .instance_id(proposed.as_str().to_owned())
        .await
        .map_err(config_error)?;
    let instance = VaultInstanceId::parse(&instance)
        .map_err(|e| config_error(format!("the stored vault instance id is unusable: {e}")))?;
    let keyring = Arc::new(Keyring::new(
        instance,
        root,
        Arc::new(StoreKekRepository::new(store.clone(), clock)),
        config,
    ));
    let stored = store.keks().await.map_err(config_error)?;
    let foreign: Vec<String> = stored
        .iter()
        .filter_map(|kek| {
            let root = vault_kms::RootKeyId::parse(&kek.root_key_id).ok();
            match root {
                Some(root) if keyring.holds_root_key(&root) => None,
                _ => Some(kek.root_key_id.clone()),
            }
        })
        .collect();
    if !foreign.is_empty() {
        let mut foreign = foreign;
        foreign.sort();
        foreign.dedup();
        return Err(config_error(format!(
            "the root key does not match this database: its keys are wrapped under root key {} \
             and the configured key is {}; configure the key this database was created with \
             (as ENCRYPTION_KEY, or in ENCRYPTION_KEY_PREVIOUS while moving to another key)",
            foreign.join(", "),
            keyring.current_root_key()
        )));
    }
    keyring.check_ready().await.map_err(|e| {
        config_error(format!(
            "the configured root key cannot open this database's active key: {e}"
        ))
    })?;
    Ok(keyring)
}

/// Checks the root key every `interval`, so a key disabled in KMS stops the vault
/// within that time even when no readiness probe asks: a failed check drops every
/// unwrapped KEK from memory (`Keyring::check_ready`).
pub fn watch_root_key(keyring: Arc<Keyring>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut healthy = true;
        loop {
            ticker.tick().await;
            match keyring.check_ready().await {
                Ok(()) if !healthy => {
                    tracing::info!("root key usable again");
                    healthy = true;
                }
                Ok(()) => {}
                Err(error) => {
                    if healthy {
                        tracing::error!(%error, "root key unusable; unwrapped keys dropped");
                    }
                    healthy = false;
                }
            }
        }
    });
}

/// The names resolution treats specially, as configured.
#[derive(Clone, Debug, Default)]
pub struct NameRules {
    /// `VAULT_RESERVED_NAMES`: only the platform baseline may set these.
    pub reserved: Vec<String>,
    /// `VAULT_PROTECTED_NAMES`: names and `PREFIX_*` patterns protected beside the
    /// built-in list.
    pub protected: Vec<String>,
    /// `VAULT_RELEASE_PROTECTED_NAMES`: built-in protected entries the operator lets
    /// stored layers set again.
    pub released: Vec<String>,
}

pub fn policy(rules: &NameRules) -> ApiResult<PrecedencePolicy> {
    let names = rules
        .reserved
        .iter()
        .map(|n| EnvName::parse(n).map_err(|e| config_error(format!("VAULT_RESERVED_NAMES: {e}"))))
        .collect::<ApiResult<Vec<_>>>()?;
    let protected = ProtectedNames::configure(&rules.protected, &rules.released).map_err(|e| {
        config_error(format!(
            "VAULT_PROTECTED_NAMES / VAULT_RELEASE_PROTECTED_NAMES: {e}"
        ))
    })?;
    // A release is a deliberate weakening: say so every time the vault starts with one.
    for released in protected.released() {
        tracing::warn!(
            name = %released,
            "protected name released by VAULT_RELEASE_PROTECTED_NAMES: stored user \
             secrets, workspace keys and project entries may set it in every agent they reach"
        );
    }
    Ok(PrecedencePolicy::default()
        .with_reserved(names)
        .with_protected(protected))
}

/// Serves until `shutdown` completes, then stops accepting and gives in-flight requests
/// up to `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app::router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; draining in-flight requests");
        let _ = stopping_tx.send(());
    });
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served,
        () = deadline => {
            tracing::warn!(grace_seconds = grace.as_secs(), "drain deadline passed; closing remaining requests");
            Ok(())
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}

/// The development data folder: created private, holding the SQLite file and a key
/// file readable by its owner only.
pub struct DevData {
    pub dir: PathBuf,
}

impl DevData {
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("vault.db").display())
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("encryption.key")
    }

    /// The dev key, generated on first use.
    pub fn key(&self) -> ApiResult<Zeroizing<String>> {
        create_private_dir(&self.dir)?;
        let path = self.key_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok(Zeroizing::new(text.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(config_error(format!("cannot read {}: {e}", path.display()))),
        }
        let key = vault_kms::RootKey::generate_encoded().map_err(config_error)?;
        write_private(&path, key.as_bytes())?;
        Ok(key)
    }
}

fn create_private_dir(dir: &Path) -> ApiResult<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| config_error(format!("cannot create {}: {e}", dir.display())))
}

fn write_private(path: &Path, contents: &[u8]) -> ApiResult<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| config_error(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(contents)
        .and_then(|()| file.write_all(b"\n"))
        .map_err(|e| config_error(format!("cannot write {}: {e}", path.display())))
}
