//! Opening a vault (database, keys, the fingerprint check) and serving it with a
//! graceful shutdown.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vault_client::wire::RootKeyState;

use tokio::net::TcpListener;
use vault_core::AuditAction;
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
    let clock_for_audit = clock.clone();
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
    open_integrity(store, &keyring, clock_for_audit).await?;
    Ok(keyring)
}

/// Unwraps the vault's integrity master (one root call) and hands its keys to the
/// store, so audit records are keyed and secret rows checked from here on. The first
/// start of a vault without one makes it, stamps every row and keys the chain from
/// its next record, in one transaction.
pub async fn open_integrity(
    store: &Store,
    keyring: &Keyring,
    clock: Arc<dyn Clock>,
) -> ApiResult<()> {
    let open = |wrapped: Vec<u8>| async move {
        let wrapped = vault_kms::WrappedKek::from_bytes(&wrapped)
            .map_err(|e| config_error(format!("the stored integrity master is unusable: {e}")))?;
        let master = keyring.open_integrity_master(&wrapped).await.map_err(|e| {
            config_error(format!(
                "the configured root key cannot open this vault's integrity master: {e}"
            ))
        })?;
        Ok::<_, ApiError>(Arc::new(vault_core::IntegrityKeys::derive(master.expose())))
    };
    if let Some(wrapped) = store.integrity_master().await.map_err(config_error)? {
        store.use_integrity_keys(open(wrapped).await?);
        return Ok(());
    }
    let (master, wrapped) = keyring
        .new_integrity_master()
        .await
        .map_err(|e| config_error(format!("cannot make the integrity master: {e}")))?;
    let keys = Arc::new(vault_core::IntegrityKeys::derive(master.expose()));
    drop(master);
    let entry = crate::audit::AuditContext { clock }.entry(
        &crate::tokens::random_id("start_")?,
        &crate::audit::Actor::system(),
        AuditAction::IntegrityInstall,
        serde_json::json!({ "instance": keyring.instance().as_str() }),
        "ok",
    )?;
    match store
        .install_integrity(wrapped.to_bytes(), keys, entry)
        .await
        .map_err(config_error)?
    {
        vault_store::IntegrityInstall::Installed { rows, keyed_from } => {
            tracing::info!(
                rows,
                keyed_from,
                "integrity master installed: every secret row carries its MAC and the \
                 audit chain is keyed from record {keyed_from}"
            );
        }
        vault_store::IntegrityInstall::Present(wrapped) => {
            store.use_integrity_keys(open(wrapped).await?);
        }
    }
    Ok(())
}

/// Checks the root key every `interval`, so a key disabled in KMS stops the vault
/// within that time: a failed check drops every unwrapped KEK from memory
/// (`Keyring::check_ready`). `/readyz` reports the last answer; it never asks the root
/// provider itself, so no client can make the vault call KMS. Each round also makes one
/// small durable write, so readiness turns false when the database stops taking writes.
pub fn watch_root_key(state: &AppState, interval: Duration) {
    let keyring = state.keyring.clone();
    let health = state.key_health.clone();
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate, and opening the keyring has just checked.
        ticker.tick().await;
        loop {
            ticker.tick().await;
            check_root_key(&keyring, &health).await;
            // Readiness also learns of a database that stopped taking writes while no
            // request wrote; the store remembers the outcome.
            let was = store.write_failure();
            match store.probe_write().await {
                Err(error) if was.is_none() => {
                    tracing::error!(%error, "the database refuses writes; not ready");
                }
                Ok(()) if was.is_some() => tracing::info!("the database takes writes again"),
                _ => {}
            }
        }
    });
}

/// One check of the root key, recorded in `health` and logged when it changes.
pub async fn check_root_key(keyring: &Keyring, health: &crate::state::KeyHealth) {
    let state = match keyring.check_ready().await {
        Ok(()) => RootKeyState::Ok,
        Err(error) => {
            let state = match ApiError::from(error) {
                ApiError::RootKey { failure, .. } => failure.state(),
                _ => RootKeyState::Unavailable,
            };
            if health.get() == RootKeyState::Ok {
                tracing::error!(?state, "root key unusable; unwrapped keys dropped");
            }
            state
        }
    };
    let before = health.set(state);
    if state == RootKeyState::Ok && before != RootKeyState::Ok {
        tracing::info!("root key usable again");
    }
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

/// How connections are held to account, and whether they speak TLS.
#[derive(Clone)]
pub struct ServeOptions {
    /// How long in-flight requests get to finish once shutdown begins.
    pub grace: Duration,
    /// How long a client has to complete a request's head (and a TLS handshake),
    /// counted from when the server is ready to read it: hyper starts the timer as soon
    /// as a response is sent, so a kept-alive connection waiting for its next request is
    /// bound by it too (a test holds hyper to that).
    pub header_read_timeout: Duration,
    /// How long a connection with no request in flight is kept open.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    pub tls: Option<crate::tls::ServerTls>,
}

pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            grace: Duration::from_secs(20),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            tls: None,
        }
    }
}

/// What the connection a request came on says about its client, for the handlers.
#[derive(Clone, Copy, Debug)]
pub struct Connection {
    pub peer: std::net::SocketAddr,
    /// The client presented a certificate the client CA verified.
    pub client_certificate: bool,
    /// Orchestrator tokens are accepted only with such a certificate.
    pub orchestrator_needs_certificate: bool,
}

/// Serves plain HTTP until `shutdown` completes, then stops accepting and gives
/// in-flight requests up to `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let options = ServeOptions {
        grace,
        ..ServeOptions::default()
    };
    serve_with(listener, state, shutdown, options).await
}

/// Serves with `options` until `shutdown` completes, then drains as [`serve`] does.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    let router = app::router(state.clone());
    let max = options
        .max_connections
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first: past the cap, connections wait in the kernel's backlog rather
        // than being accepted and starved.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let options = options.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, router, &options, stop).await;
            drop(slot);
        });
    }
    tracing::info!("shutting down: no new connections; draining in-flight requests");
    // Event streams never finish on their own: they end now, and their clients resume
    // on another replica from their last event id.
    state.events.close_all();
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it ends: all slots back means all drained.
    let drained = slots.acquire_many(max as u32);
    match tokio::time::timeout(options.grace, drained).await {
        Ok(_) => {}
        Err(_) => tracing::warn!(
            grace_seconds = options.grace.as_secs(),
            "drain deadline passed; closing remaining requests"
        ),
    }
    // What was refused since the last summary is recorded before the process goes.
    state.write_refusal_summaries().await;
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    router: axum::Router,
    options: &ServeOptions,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(tls) = &options.tls else {
        let connection = Connection {
            peer,
            client_certificate: false,
            orchestrator_needs_certificate: false,
        };
        run_http(stream, connection, router, options, stop).await;
        return;
    };
    let Some(acceptor) = tls.acceptor() else {
        return;
    };
    // The handshake is bound like a request head: a client that opens a connection
    // and never finishes it holds a slot for no longer than that.
    let stream =
        match tokio::time::timeout(options.header_read_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
    let connection = Connection {
        peer,
        client_certificate: stream.get_ref().1.peer_certificates().is_some(),
        orchestrator_needs_certificate: tls.pins_orchestrators(),
    };
    run_http(stream, connection, router, options, stop).await;
}

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    last_done: std::sync::Mutex<std::time::Instant>,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(std::sync::atomic::Ordering::Acquire) > 0 {
            return None;
        }
        self.last_done.lock().ok().map(|at| at.elapsed())
    }
}

struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut at) = self.0.last_done.lock() {
            *at = std::time::Instant::now();
        }
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

async fn run_http<S>(
    stream: S,
    connection: Connection,
    router: axum::Router,
    options: &ServeOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    let activity = Arc::new(Activity {
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        last_done: std::sync::Mutex::new(std::time::Instant::now()),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            let guard = InFlight::begin(&activity);
            request.extensions_mut().insert(connection);
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(connection.peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await;
                drop(guard);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        // Above the router's own limits (`app::MAX_HEADERS`, `MAX_HEADER_BYTES`), which
        // answer with a problem body; only a request past these gets hyper's bare 431.
        .max_headers(4 * crate::app::MAX_HEADERS)
        .max_buf_size(16 * crate::app::MAX_HEADER_BYTES)
        .keep_alive(true);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let idle = options.idle_timeout;
    let mut ticker =
        tokio::time::interval((idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = *stop.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(peer = %connection.peer, %error, "connection ended");
                }
                return;
            }
            _ = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = ticker.tick(), if !closing => {
                if activity.idle_for().is_some_and(|quiet| quiet >= idle) {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
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

/// The tokens `serve --dev` prints.
pub struct DevTokens {
    pub operator: Zeroizing<String>,
    pub orchestrator: Zeroizing<String>,
    /// Kept from an earlier start rather than issued now.
    pub reused: bool,
}

impl DevData {
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("vault.db").display())
    }

    /// Where `serve --dev` anchors the audit chain.
    pub fn checkpoint_file(&self) -> PathBuf {
        self.dir.join("audit-checkpoints.jsonl")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("encryption.key")
    }

    /// Where `serve --dev` keeps its operator and orchestrator tokens (0600).
    pub fn tokens_path(&self) -> PathBuf {
        self.dir.join("dev-tokens")
    }

    /// The dev operator and orchestrator tokens: the pair kept from an earlier start
    /// while both still authenticate, so scripts and shells keep working across
    /// restarts; otherwise a new pair, with whatever is left of the old one revoked
    /// (so no forgotten never-expiring token piles up), kept for the next start.
    pub async fn tokens(&self, state: &AppState) -> ApiResult<DevTokens> {
        let path = self.tokens_path();
        let kept = std::fs::read_to_string(&path).ok().map(Zeroizing::new);
        let parsed = kept.as_deref().and_then(|text| {
            let mut lines = text.lines();
            Some((lines.next()?.trim(), lines.next()?.trim()))
        });
        let now = state.clock.now();
        let mut stale = Vec::new();
        if let Some((operator, orchestrator)) = parsed {
            let mut live = true;
            for (secret, kind) in [
                (operator, vault_store::TokenKind::Operator),
                (orchestrator, vault_store::TokenKind::Orchestrator),
            ] {
                match state
                    .store
                    .token_by_hash(crate::tokens::hash(secret))
                    .await?
                {
                    Some(found) if found.token.kind == kind && found.token.is_live(now) => {
                        stale.push(found.token.id);
                    }
                    Some(found) => {
                        live = false;
                        stale.push(found.token.id);
                    }
                    None => live = false,
                }
            }
            if live {
                return Ok(DevTokens {
                    operator: Zeroizing::new(operator.to_owned()),
                    orchestrator: Zeroizing::new(orchestrator.to_owned()),
                    reused: true,
                });
            }
        }
        let request_id = crate::tokens::random_id("dev_")?;
        let audit = state.audit_context();
        let issue = |kind: &str| {
            crate::service::tokens::TokenRequest::parse(kind, None, None, Some("dev".into()))
        };
        let (_, operator) = issue("operator")?
            .issue(
                &state.store,
                audit,
                &request_id,
                &crate::audit::Actor::cli(),
            )
            .await?;
        let (_, orchestrator) = issue("orchestrator")?
            .issue(
                &state.store,
                audit,
                &request_id,
                &crate::audit::Actor::cli(),
            )
            .await?;
        for id in stale {
            crate::service::tokens::revoke_token(
                &state.store,
                audit,
                id,
                &request_id,
                &crate::audit::Actor::cli(),
            )
            .await?;
        }
        let contents = Zeroizing::new(format!(
            "{}\n{}\n",
            operator.as_str(),
            orchestrator.as_str()
        ));
        replace_private(&path, contents.as_bytes())?;
        Ok(DevTokens {
            operator,
            orchestrator,
            reused: false,
        })
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

pub(crate) fn create_private_dir(dir: &Path) -> ApiResult<()> {
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

/// Writes `contents` to `path` readable by its owner only, replacing any file there
/// whole (written beside it, then renamed), so no reader sees half a key.
pub(crate) fn replace_private(path: &Path, contents: &[u8]) -> ApiResult<()> {
    use std::io::Write;
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&partial).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| config_error(format!("cannot write {}: {e}", path.display())))
}
