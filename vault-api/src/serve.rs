//! `vault-api serve`: its arguments, TLS, logging and the wiring of the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use tokio::net::TcpListener;
use vault_api::candidates::CandidateCache;
use vault_api::clock::{Clock, SystemClock};
use vault_api::server::{self, DevData};
use vault_api::{AppState, StateOptions};
use vault_store::{BackendKind, DatabaseUrl, StoreConfig};
use zeroize::Zeroizing;

use crate::cli::args::{DatabaseArgs, KeyArgs, RootProviderKind};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SqliteSync {
    Full,
    Normal,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClientAuthArg {
    /// Handshakes without a client certificate signed by the client CA are refused.
    Required,
    /// A certificate is verified when presented; orchestrator tokens need one.
    Optional,
}

#[derive(Args)]
pub(crate) struct TlsArgs {
    /// The server's certificate chain (PEM), leaf first. Reloaded on SIGHUP.
    #[arg(long, env = "VAULT_TLS_CERT_FILE", requires = "tls_key_file")]
    pub(crate) tls_cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM). Reloaded on SIGHUP.
    #[arg(long, env = "VAULT_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub(crate) tls_key_file: Option<PathBuf>,
    /// CA certificates (PEM) that sign client certificates: turns on mTLS.
    #[arg(long, env = "VAULT_TLS_CLIENT_CA_FILE", requires = "tls_cert_file")]
    pub(crate) tls_client_ca_file: Option<PathBuf>,
    /// With a client CA: whether every client needs a certificate, or only orchestrators.
    #[arg(
        long,
        env = "VAULT_TLS_CLIENT_AUTH",
        value_enum,
        default_value = "required"
    )]
    pub(crate) tls_client_auth: ClientAuthArg,
    /// Serve plain HTTP on a non-loopback address: the operator's statement that a
    /// proxy in front terminates TLS. Logged as a warning at every start.
    #[arg(long, env = "VAULT_TLS_DISABLE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) tls_disable: bool,
}

impl TlsArgs {
    pub(crate) fn files(&self) -> Option<vault_api::tls::TlsFiles> {
        let (cert, key) = (self.tls_cert_file.clone()?, self.tls_key_file.clone()?);
        Some(vault_api::tls::TlsFiles {
            cert,
            key,
            client_ca: self.tls_client_ca_file.clone(),
            client_auth: match self.tls_client_auth {
                ClientAuthArg::Required => vault_api::tls::ClientAuth::Required,
                ClientAuthArg::Optional => vault_api::tls::ClientAuth::Optional,
            },
        })
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on. Anything but loopback needs TLS (or VAULT_TLS_DISABLE).
    #[arg(long, env = "VAULT_LISTEN", default_value = "127.0.0.1:8200")]
    pub(crate) listen: SocketAddr,
    /// With --dev: serve HTTPS with a throwaway CA and certificate made in the data dir
    /// (clients trust it through VAULT_CACERT=<data dir>/tls/ca.pem).
    #[arg(long, requires = "dev")]
    pub(crate) dev_tls: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// How long a client has to send a request's head (and finish a TLS handshake).
    #[arg(long, env = "VAULT_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) header_read_timeout: Duration,
    /// How long a kept-alive connection with no request in flight stays open (never
    /// longer than the header-read timeout: the wait for the next request's head is
    /// bound by it too).
    #[arg(long, env = "VAULT_IDLE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "VAULT_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) max_connections: u32,
    /// Failed authentications one source address (an IPv6 /64) may make at once and
    /// per minute after; beyond them it is answered 429 until its budget refills.
    /// Requests with a valid token are never counted or refused.
    #[arg(long, env = "VAULT_AUTH_FAILURES_PER_MINUTE", default_value_t = vault_api::flood::DEFAULT_AUTH_FAILURES_PER_MINUTE)]
    pub(crate) auth_failures_per_minute: std::num::NonZeroU32,
    /// Values one principal (a user, or one token of another kind) may compare with
    /// stored ones at once and per minute after (`POST …/compare`, which `vaultctl
    /// import` uses); each comparison tests a guess, so beyond them it is answered 429.
    #[arg(long, env = "VAULT_COMPARISONS_PER_MINUTE", default_value_t = vault_api::flood::DEFAULT_COMPARISONS_PER_MINUTE)]
    pub(crate) comparisons_per_minute: std::num::NonZeroU32,
    /// How often refused anonymous requests are summarised into the audit trail (one
    /// record per source with a count per route).
    #[arg(long, env = "VAULT_AUDIT_SUMMARY_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub(crate) audit_summary_interval: Duration,
    /// The append-only file the audit chain's head is anchored in (default with --dev:
    /// in the data dir). Without one the head goes to the log stream only.
    #[arg(long, env = "VAULT_AUDIT_CHECKPOINT_FILE")]
    pub(crate) audit_checkpoint_file: Option<PathBuf>,
    /// How often the head is anchored (and once more at shutdown).
    #[arg(long, env = "VAULT_AUDIT_CHECKPOINT_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) audit_checkpoint_interval: Duration,
    /// SQLite's sync level: full (every commit on disk before it answers) or normal
    /// (a power loss may lose the newest commits). Ignored on PostgreSQL.
    #[arg(
        long,
        env = "VAULT_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "full"
    )]
    pub(crate) sqlite_synchronous: SqliteSync,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    /// Names only the platform baseline env may set, comma-separated.
    #[arg(long, env = "VAULT_RESERVED_NAMES", value_delimiter = ',')]
    pub(crate) reserved_names: Vec<String>,
    /// Names and PREFIX_* patterns to protect beside the built-in list (only the
    /// orchestrator's profile_env and baseline_env may set them), comma-separated.
    #[arg(long, env = "VAULT_PROTECTED_NAMES", value_delimiter = ',')]
    pub(crate) protected_names: Vec<String>,
    /// Built-in protected entries (PATH, HTTPS_PROXY, LD_*, or a name under a
    /// built-in prefix) that stored layers may set again. Each lets a user, workspace
    /// admin or project Responsible steer every agent their entries reach; every
    /// start logs the releases.
    #[arg(long, env = "VAULT_RELEASE_PROTECTED_NAMES", value_delimiter = ',')]
    pub(crate) release_protected_names: Vec<String>,
    /// The largest resolved environment, in bytes (NAME=value and a NUL each); a
    /// resolution over it is refused whole. Between 65794 and 2097152.
    #[arg(long, env = "VAULT_MAX_ENV_BYTES", default_value_t = vault_core::DEFAULT_MAX_ENV_BYTES)]
    pub(crate) max_env_bytes: usize,
    /// How many secrets one user, workspace or project may hold.
    #[arg(long, env = "VAULT_MAX_ENTRIES_PER_OWNER", default_value_t = vault_store::DEFAULT_MAX_ENTRIES_PER_OWNER)]
    pub(crate) max_entries_per_owner: std::num::NonZeroU32,
    /// How many versions of each secret are kept for rollback, newest first (1 to
    /// 1000); older ones are deleted, data key and all, at the secret's next rotation.
    #[arg(long, env = "VAULT_VERSIONS_KEPT", default_value_t = vault_store::DEFAULT_VERSIONS_KEPT,
        value_parser = versions_kept)]
    pub(crate) versions_kept: std::num::NonZeroU32,
    #[arg(long, env = "VAULT_LOG_FORMAT", value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// How often the root key is checked; an unusable key stops the vault at once.
    #[arg(long, env = "VAULT_KEY_CHECK_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) key_check_interval: Duration,
    /// How long in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "VAULT_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    pub(crate) shutdown_grace: Duration,
    /// Memory for sealed resolution candidates, checked against the database's change
    /// counters on every resolution; 0 reads every candidate from the database.
    #[arg(long, env = "VAULT_CANDIDATE_CACHE_MIB", default_value_t = 64)]
    pub(crate) candidate_cache_mib: u64,
    /// Database connections, each with a thread to run its queries. Default: 4 on
    /// SQLite (one writer at a time, readers bound by the cores), 16 on PostgreSQL
    /// (queries wait on the network).
    #[arg(long, env = "VAULT_DB_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) db_connections: Option<u32>,
    #[command(flatten)]
    pub(crate) events: EventArgs,
}

/// The change event feed and its reminders.
#[derive(Args)]
pub(crate) struct EventArgs {
    /// How long before a secret version expires a `secret.expiring` event goes out,
    /// comma-separated (each once per version); `secret.expired` follows at expiry.
    #[arg(long, env = "VAULT_EXPIRY_REMINDERS", default_value = "7d,1d", value_delimiter = ',',
        value_parser = reminder_lead)]
    pub(crate) expiry_reminders: Vec<Duration>,
    /// How long change events are kept; a reader further behind is told (410) instead
    /// of silently missing some.
    #[arg(long, env = "VAULT_EVENT_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub(crate) event_retention: Duration,
    /// How often each replica looks for due reminders and expired events.
    #[arg(long, env = "VAULT_EVENT_SWEEP_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub(crate) event_sweep_interval: Duration,
    /// How often an idle event stream looks for other replicas' events (its own
    /// replica's arrive at once).
    #[arg(long, env = "VAULT_EVENT_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub(crate) event_poll_interval: Duration,
    /// How often an idle event stream sends a heartbeat comment (keeps proxies from
    /// closing it).
    #[arg(long, env = "VAULT_EVENT_HEARTBEAT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub(crate) event_heartbeat: Duration,
    /// Event streams one replica serves at once; more are answered 503.
    #[arg(long, env = "VAULT_EVENT_STREAMS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) event_streams: u32,
    /// Let webhook targets resolve to loopback, private, link-local (cloud metadata)
    /// and other non-public addresses. Off by default: a webhook URL is otherwise a
    /// way to make the vault call into its own network.
    #[arg(long, env = "VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) webhook_allow_private_targets: bool,
    /// Let webhook targets be plain `http://` (deliveries then cross the network
    /// unencrypted, signature and all).
    #[arg(long, env = "VAULT_WEBHOOK_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) webhook_allow_http: bool,
    /// How long one delivery attempt may take.
    #[arg(long, env = "VAULT_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) webhook_timeout: Duration,
    /// Attempts per delivery before it is given up (a redelivery sends it again).
    #[arg(long, env = "VAULT_WEBHOOK_MAX_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) webhook_max_attempts: u32,
    /// The wait after a first failed attempt; it doubles with each one, up to
    /// VAULT_WEBHOOK_RETRY_MAX, less up to a quarter of jitter.
    #[arg(long, env = "VAULT_WEBHOOK_RETRY_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) webhook_retry_base: Duration,
    #[arg(long, env = "VAULT_WEBHOOK_RETRY_MAX", default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) webhook_retry_max: Duration,
    /// Failed attempts in a row after which an endpoint is turned off (with a
    /// `webhook.disabled` event).
    #[arg(long, env = "VAULT_WEBHOOK_DISABLE_AFTER", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) webhook_disable_after: u32,
    /// How long the previous signing secret also signs after a rotation.
    #[arg(long, env = "VAULT_WEBHOOK_ROTATION_OVERLAP", default_value = "24h", value_parser = humantime::parse_duration)]
    pub(crate) webhook_rotation_overlap: Duration,
}

/// A reminder lead: a positive duration of at most a year.
fn reminder_lead(text: &str) -> Result<Duration, String> {
    let lead = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if lead.is_zero() || lead > Duration::from_secs(366 * 86_400) {
        return Err("must be more than 0 and at most 366d".into());
    }
    Ok(lead)
}

impl ServeArgs {
    pub(crate) fn db_connections(&self) -> Result<u32> {
        if let Some(connections) = self.db_connections {
            return Ok(connections);
        }
        Ok(match DatabaseUrl::parse(&self.database.url()?)?.backend() {
            BackendKind::Sqlite => 4,
            BackendKind::Postgres => 16,
        })
    }
}

pub(crate) fn init_logging(format: LogFormat) {
    vault_api::logging::init(match format {
        LogFormat::Text => vault_api::logging::LogFormat::Text,
        LogFormat::Json => vault_api::logging::LogFormat::Json,
    });
}

/// The TLS configuration `serve` was given, or none where plain HTTP is allowed: on
/// loopback, or where the operator said with VAULT_TLS_DISABLE that a proxy terminates
/// TLS. Anywhere else plain HTTP would carry tokens and resolved envs in clear text.
pub(crate) fn serve_tls(args: &ServeArgs) -> Result<Option<vault_api::tls::ServerTls>> {
    let files = if args.dev_tls {
        Some(vault_api::tls::DevTls::ensure(&args.database.data_dir)?.files)
    } else {
        args.tls.files()
    };
    match files {
        Some(files) => Ok(Some(vault_api::tls::ServerTls::load(files)?)),
        None if args.listen.ip().is_loopback() => Ok(None),
        None if args.tls.tls_disable => {
            tracing::warn!(
                address = %args.listen,
                "serving plain HTTP on a non-loopback address (VAULT_TLS_DISABLE=true): \
                 tokens and resolved environments cross the network as sent; only do this \
                 behind a proxy that terminates TLS on the same host or a trusted link"
            );
            Ok(None)
        }
        None => bail!(
            "{} is not a loopback address: set VAULT_TLS_CERT_FILE and VAULT_TLS_KEY_FILE to \
             serve HTTPS, or VAULT_TLS_DISABLE=true if a proxy in front terminates TLS",
            args.listen
        ),
    }
}

pub(crate) async fn serve(args: ServeArgs) -> Result<ExitCode> {
    init_logging(args.log_format);
    let (database_url, dev_key) = if args.database.dev {
        if !args.listen.ip().is_loopback() {
            bail!(
                "--dev binds only to a loopback address; {} is not one",
                args.listen
            );
        }
        let data = DevData {
            dir: args.database.data_dir.clone(),
        };
        let key = match args.keys.root_provider {
            RootProviderKind::Local => Some(data.key()?),
            RootProviderKind::AwsKms => None,
        };
        (data.database_url(), key)
    } else {
        (args.database.url()?, None)
    };
    let listen = args.listen;
    let dev_ca = if args.dev_tls {
        let dev = vault_api::tls::DevTls::ensure(&args.database.data_dir)?;
        Some(dev.ca_cert)
    } else {
        None
    };
    let root = args.keys.root_config(dev_key)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let policy = server::policy(&server::NameRules {
        reserved: args.reserved_names.clone(),
        protected: args.protected_names.clone(),
        released: args.release_protected_names.clone(),
    })?;
    let env_limit = vault_core::EnvLimit::new(args.max_env_bytes)
        .map_err(|e| anyhow::anyhow!("VAULT_MAX_ENV_BYTES: {e}"))?;
    let tls = serve_tls(&args)?;
    let config = StoreConfig {
        pool_size: args.db_connections()?,
        max_entries_per_owner: args.max_entries_per_owner,
        versions_kept: args.versions_kept,
        sqlite_synchronous: match args.sqlite_synchronous {
            SqliteSync::Full => vault_store::SqliteSynchronous::Full,
            SqliteSync::Normal => vault_store::SqliteSynchronous::Normal,
        },
        ..StoreConfig::default()
    };
    if let Some(warning) = DatabaseUrl::parse(&database_url)?.transport_warning() {
        tracing::warn!("{warning}");
    }
    let store = server::open_store(&database_url, config).await?;
    let keyring =
        server::open_keyring(&store, &root, clock.clone(), args.keys.keyring_config()).await?;
    drop(root);
    let state = AppState::with_options(
        store,
        keyring,
        policy,
        clock,
        StateOptions {
            candidates: CandidateCache::new(args.candidate_cache_mib.saturating_mul(1024 * 1024)),
            env_limit,
            auth_failures_per_minute: args.auth_failures_per_minute,
            refusal_summary_interval: args.audit_summary_interval,
            comparisons_per_minute: args.comparisons_per_minute,
            events: vault_api::service::events::EventOptions {
                poll_interval: args.events.event_poll_interval,
                heartbeat: args.events.event_heartbeat,
                max_streams: args.events.event_streams as usize,
                ..vault_api::service::events::EventOptions::default()
            },
            webhooks: vault_api::service::webhooks::WebhookOptions {
                allow_private_targets: args.events.webhook_allow_private_targets,
                allow_http: args.events.webhook_allow_http,
                timeout: args.events.webhook_timeout,
                max_attempts: args.events.webhook_max_attempts,
                retry_base: args.events.webhook_retry_base,
                retry_max: args.events.webhook_retry_max,
                disable_after: args.events.webhook_disable_after,
                rotation_overlap: args.events.webhook_rotation_overlap,
                ..vault_api::service::webhooks::WebhookOptions::default()
            },
        },
    );
    if args.events.webhook_allow_private_targets {
        tracing::warn!(
            "VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS is set: webhook targets may be loopback, \
             private and metadata addresses"
        );
    }
    server::watch_root_key(&state, args.key_check_interval);
    vault_api::service::webhooks::deliver_every(&state);
    vault_api::service::events::sweep_every(
        &state,
        vault_api::service::events::SweepOptions {
            interval: args.events.event_sweep_interval,
            reminder_leads: args.events.expiry_reminders.clone(),
            retention: args.events.event_retention,
        },
    );
    let checkpoints = match args.audit_checkpoint_file.clone() {
        Some(path) => Some(path),
        None if args.database.dev => Some(
            DevData {
                dir: args.database.data_dir.clone(),
            }
            .checkpoint_file(),
        ),
        None => {
            tracing::warn!(
                "VAULT_AUDIT_CHECKPOINT_FILE is not set: the audit chain's head is anchored \
                 in the log stream only, so `audit verify` cannot prove the newest records \
                 were not deleted"
            );
            None
        }
    };
    let keys = state
        .store
        .integrity_keys()
        .context("the vault's integrity master is not open")?;
    if let Some(path) = &checkpoints {
        vault_api::checkpoint::check_against_newest(&state.store, path, &keys).await?;
    }
    let checkpointer = Arc::new(vault_api::checkpoint::Checkpointer::new(
        checkpoints,
        state.store.clone(),
        keys,
    ));
    checkpointer.clone().every(args.audit_checkpoint_interval);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    if args.database.dev {
        let dev = DevData {
            dir: args.database.data_dir.clone(),
        };
        let tokens = dev.tokens(&state).await?;
        let (operator, orchestrator) = (&tokens.operator, &tokens.orchestrator);
        let kept = if tokens.reused {
            format!(
                "kept from the last start, in {}",
                dev.tokens_path().display()
            )
        } else {
            format!(
                "new; kept in {} for the next start",
                dev.tokens_path().display()
            )
        };
        let rule = "=".repeat(72);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let ca = dev_ca
            .as_ref()
            .map(|path| format!("\n  CA certificate (VAULT_CACERT): {}", path.display()))
            .unwrap_or_default();
        let banner = Zeroizing::new(format!(
            "{rule}\n  DEVELOPMENT MODE: not for production\n  data (SQLite + key file): {}\n  \
             listening on {scheme}://{bound} (loopback only){ca}\n  operator token:     {}\n  \
             orchestrator token: {}\n  tokens: {kept}\n{rule}\n",
            args.database.data_dir.display(),
            operator.as_str(),
            orchestrator.as_str(),
        ));
        // One write, and a reader that has gone away (`| head`, a test that read the
        // tokens) is no reason to stop serving: `println!` would panic on the closed pipe.
        {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(banner.as_bytes())
                .and_then(|()| stdout.flush());
        }
    }
    tracing::info!(address = %bound, tls = tls.is_some(), "vault-api listening");
    if let Some(tls) = &tls {
        vault_api::tls::reload_on_hangup(tls.clone());
    }
    let options = server::ServeOptions {
        grace: args.shutdown_grace,
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections as usize,
        tls,
    };
    server::serve_with(listener, state, server::shutdown_signal(), options).await?;
    // The last head, anchored after the last request's record.
    if let Err(error) = checkpointer.checkpoint().await {
        tracing::error!(%error, "the final audit checkpoint could not be written");
    }
    tracing::info!("vault-api stopped");
    Ok(ExitCode::SUCCESS)
}

/// `VAULT_VERSIONS_KEPT`: at least the current version, and a bound that keeps a
/// secret's history (each version with its own wrapped data key) from growing without
/// limit.
pub(crate) fn versions_kept(text: &str) -> Result<std::num::NonZeroU32, String> {
    const MAX_VERSIONS_KEPT: u32 = 1000;
    text.parse::<std::num::NonZeroU32>()
        .ok()
        .filter(|kept| kept.get() <= MAX_VERSIONS_KEPT)
        .ok_or_else(|| format!("must be a whole number from 1 to {MAX_VERSIONS_KEPT}"))
}
