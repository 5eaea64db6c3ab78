//! The `vault-api` binary: `serve` (and `serve --dev`), `keygen`, `token …` and
//! `audit verify`. Errors end as one line on stderr and a non-zero exit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use vault_api::audit::{Actor, AuditContext};
use vault_api::candidates::CandidateCache;
use vault_api::clock::{Clock, SystemClock};
use vault_api::routes::tokens::{TokenRequest, revoke_token};
use vault_api::server::{self, DevData, NO_KEY_HELP, RootConfig, RootKeys};
use vault_api::{AppState, StateOptions, keys, verify};
use vault_kms::{Keyring, KeyringConfig};
use vault_store::{BackendKind, DatabaseUrl, Store, StoreConfig};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "vault-api",
    version,
    about = "KMS-backed secrets for agent containers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Print a new random ENCRYPTION_KEY (base64, 32 bytes).
    Keygen,
    /// Issue, list and revoke API tokens (works while the server runs).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Key management: status, a new KEK, rewrapping (works while the server runs).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Every KEK with its root key, state, wrap count and the DEKs it protects; the
    /// configured root keys and which one is current.
    Status {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Start a new KEK under the current root key; new writes use it at once.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Re-wrap every KEK not under the current root key; with --deks, also move every
    /// data key under a fresh KEK. Resumable, idempotent, safe to interrupt.
    Rewrap {
        /// Also re-wrap every DEK under a fresh KEK (value ciphertexts stay as they are).
        #[arg(long)]
        deks: bool,
        /// Pause between pages of 256 DEKs, to spare a busy database (e.g. 50ms).
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        pause: Duration,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

#[derive(Args, Clone)]
struct DatabaseArgs {
    /// postgres://…, sqlite://path or a file path.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Use the development vault under --data-dir (as `serve --dev` does).
    #[arg(long)]
    dev: bool,
    #[arg(long, default_value = "vault-dev")]
    data_dir: PathBuf,
}

impl DatabaseArgs {
    fn url(&self) -> Result<String> {
        match (&self.database_url, self.dev) {
            (_, true) => Ok(DevData {
                dir: self.data_dir.clone(),
            }
            .database_url()),
            (Some(url), false) => Ok(url.clone()),
            (None, false) => {
                bail!("no database: set DATABASE_URL (or --database-url), or pass --dev")
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RootProviderKind {
    /// ENCRYPTION_KEY wraps the KEKs.
    Local,
    /// An AWS KMS key (VAULT_KMS_KEY_ID) wraps the KEKs.
    AwsKms,
}

/// Where the root key is, for `serve` and `keys`.
#[derive(Args, Clone)]
struct KeyArgs {
    #[arg(long, env = "VAULT_ROOT_PROVIDER", value_enum, default_value = "local")]
    root_provider: RootProviderKind,
    /// With aws-kms: the KMS key id, ARN or alias. Region, credentials and endpoint
    /// come from the standard AWS configuration (AWS_REGION, AWS_ENDPOINT_URL, …).
    #[arg(long, env = "VAULT_KMS_KEY_ID")]
    kms_key_id: Option<String>,
    /// The root key: 32 bytes, base64 or hex (`vault-api keygen`). With aws-kms, an
    /// earlier local key that still opens KEKs not yet rewrapped.
    #[arg(
        long = "encryption-key",
        env = "ENCRYPTION_KEY",
        hide_env_values = true
    )]
    encryption_key: Option<String>,
    /// Earlier root keys, comma-separated, still needed to open older keys.
    #[arg(
        long,
        env = "ENCRYPTION_KEY_PREVIOUS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    encryption_key_previous: Vec<String>,
    /// How long an unwrapped KEK stays in memory.
    #[arg(long, env = "VAULT_KEK_CACHE_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    kek_cache_ttl: Duration,
}

impl KeyArgs {
    /// The root configuration; `dev_key` is the development vault's key file.
    fn root_config(&self, dev_key: Option<Zeroizing<String>>) -> Result<RootConfig> {
        let given = self
            .encryption_key
            .clone()
            .filter(|k| !k.trim().is_empty())
            .map(Zeroizing::new)
            .or(dev_key);
        let previous = self
            .encryption_key_previous
            .iter()
            .filter(|k| !k.trim().is_empty())
            .map(|k| Zeroizing::new(k.clone()));
        match self.root_provider {
            RootProviderKind::Local => Ok(RootConfig::Local(RootKeys {
                current: given.context(NO_KEY_HELP)?,
                previous: previous.collect(),
            })),
            RootProviderKind::AwsKms => {
                let key_id = self
                    .kms_key_id
                    .clone()
                    .filter(|k| !k.trim().is_empty())
                    .context("VAULT_ROOT_PROVIDER=aws-kms needs VAULT_KMS_KEY_ID (a key id, ARN or alias)")?;
                Ok(RootConfig::AwsKms {
                    key_id,
                    local_previous: given.into_iter().chain(previous).collect(),
                })
            }
        }
    }

    fn keyring_config(&self) -> KeyringConfig {
        KeyringConfig {
            kek_cache_ttl: self.kek_cache_ttl,
            ..KeyringConfig::default()
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum SqliteSync {
    Full,
    Normal,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClientAuthArg {
    /// Handshakes without a client certificate signed by the client CA are refused.
    Required,
    /// A certificate is verified when presented; orchestrator tokens need one.
    Optional,
}

#[derive(Args)]
struct TlsArgs {
    /// The server's certificate chain (PEM), leaf first. Reloaded on SIGHUP.
    #[arg(long, env = "VAULT_TLS_CERT_FILE", requires = "tls_key_file")]
    tls_cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM). Reloaded on SIGHUP.
    #[arg(long, env = "VAULT_TLS_KEY_FILE", requires = "tls_cert_file")]
    tls_key_file: Option<PathBuf>,
    /// CA certificates (PEM) that sign client certificates: turns on mTLS.
    #[arg(long, env = "VAULT_TLS_CLIENT_CA_FILE", requires = "tls_cert_file")]
    tls_client_ca_file: Option<PathBuf>,
    /// With a client CA: whether every client needs a certificate, or only orchestrators.
    #[arg(
        long,
        env = "VAULT_TLS_CLIENT_AUTH",
        value_enum,
        default_value = "required"
    )]
    tls_client_auth: ClientAuthArg,
    /// Serve plain HTTP on a non-loopback address: the operator's statement that a
    /// proxy in front terminates TLS. Logged as a warning at every start.
    #[arg(long, env = "VAULT_TLS_DISABLE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    tls_disable: bool,
}

impl TlsArgs {
    fn files(&self) -> Option<vault_api::tls::TlsFiles> {
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
enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on. Anything but loopback needs TLS (or VAULT_TLS_DISABLE).
    #[arg(long, env = "VAULT_LISTEN", default_value = "127.0.0.1:8200")]
    listen: SocketAddr,
    /// With --dev: serve HTTPS with a throwaway CA and certificate made in the data dir
    /// (clients trust it through VAULT_CACERT=<data dir>/tls/ca.pem).
    #[arg(long, requires = "dev")]
    dev_tls: bool,
    #[command(flatten)]
    tls: TlsArgs,
    /// How long a client has to send a request's head (and finish a TLS handshake).
    #[arg(long, env = "VAULT_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    header_read_timeout: Duration,
    /// How long a kept-alive connection with no request in flight stays open (never
    /// longer than the header-read timeout: the wait for the next request's head is
    /// bound by it too).
    #[arg(long, env = "VAULT_IDLE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "VAULT_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Failed authentications one source address (an IPv6 /64) may make at once and
    /// per minute after; beyond them it is answered 429 until its budget refills.
    /// Requests with a valid token are never counted or refused.
    #[arg(long, env = "VAULT_AUTH_FAILURES_PER_MINUTE", default_value_t = vault_api::flood::DEFAULT_AUTH_FAILURES_PER_MINUTE)]
    auth_failures_per_minute: std::num::NonZeroU32,
    /// How often refused anonymous requests are summarised into the audit trail (one
    /// record per source with a count per route).
    #[arg(long, env = "VAULT_AUDIT_SUMMARY_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    audit_summary_interval: Duration,
    /// The append-only file the audit chain's head is anchored in (default with --dev:
    /// in the data dir). Without one the head goes to the log stream only.
    #[arg(long, env = "VAULT_AUDIT_CHECKPOINT_FILE")]
    audit_checkpoint_file: Option<PathBuf>,
    /// How often the head is anchored (and once more at shutdown).
    #[arg(long, env = "VAULT_AUDIT_CHECKPOINT_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    audit_checkpoint_interval: Duration,
    /// SQLite's sync level: full (every commit on disk before it answers) or normal
    /// (a power loss may lose the newest commits). Ignored on PostgreSQL.
    #[arg(
        long,
        env = "VAULT_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "full"
    )]
    sqlite_synchronous: SqliteSync,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Names only the platform baseline env may set, comma-separated.
    #[arg(long, env = "VAULT_RESERVED_NAMES", value_delimiter = ',')]
    reserved_names: Vec<String>,
    /// Names and PREFIX_* patterns to protect beside the built-in list (only the
    /// orchestrator's profile_env and baseline_env may set them), comma-separated.
    #[arg(long, env = "VAULT_PROTECTED_NAMES", value_delimiter = ',')]
    protected_names: Vec<String>,
    /// Built-in protected entries (PATH, HTTPS_PROXY, LD_*, or a name under a
    /// built-in prefix) that stored layers may set again. Each lets a user, workspace
    /// admin or project Responsible steer every agent their entries reach; every
    /// start logs the releases.
    #[arg(long, env = "VAULT_RELEASE_PROTECTED_NAMES", value_delimiter = ',')]
    release_protected_names: Vec<String>,
    /// The largest resolved environment, in bytes (NAME=value and a NUL each); a
    /// resolution over it is refused whole. Between 65794 and 2097152.
    #[arg(long, env = "VAULT_MAX_ENV_BYTES", default_value_t = vault_core::DEFAULT_MAX_ENV_BYTES)]
    max_env_bytes: usize,
    /// How many secrets one user, workspace or project may hold.
    #[arg(long, env = "VAULT_MAX_ENTRIES_PER_OWNER", default_value_t = vault_store::DEFAULT_MAX_ENTRIES_PER_OWNER)]
    max_entries_per_owner: std::num::NonZeroU32,
    /// How many versions of each secret are kept for rollback, newest first (1 to
    /// 1000); older ones are deleted, data key and all, at the secret's next rotation.
    #[arg(long, env = "VAULT_VERSIONS_KEPT", default_value_t = vault_store::DEFAULT_VERSIONS_KEPT,
        value_parser = versions_kept)]
    versions_kept: std::num::NonZeroU32,
    #[arg(long, env = "VAULT_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// How often the root key is checked; an unusable key stops the vault at once.
    #[arg(long, env = "VAULT_KEY_CHECK_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    key_check_interval: Duration,
    /// How long in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "VAULT_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
    /// Memory for sealed resolution candidates, checked against the database's change
    /// counters on every resolution; 0 reads every candidate from the database.
    #[arg(long, env = "VAULT_CANDIDATE_CACHE_MIB", default_value_t = 64)]
    candidate_cache_mib: u64,
    /// Database connections, each with a thread to run its queries. Default: 4 on
    /// SQLite (one writer at a time, readers bound by the cores), 16 on PostgreSQL
    /// (queries wait on the network).
    #[arg(long, env = "VAULT_DB_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    db_connections: Option<u32>,
}

impl ServeArgs {
    fn db_connections(&self) -> Result<u32> {
        if let Some(connections) = self.db_connections {
            return Ok(connections);
        }
        Ok(match DatabaseUrl::parse(&self.database.url()?)?.backend() {
            BackendKind::Sqlite => 4,
            BackendKind::Postgres => 16,
        })
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token; prints it once, on stdout.
    Create {
        #[arg(long, value_parser = ["operator", "orchestrator", "user"])]
        kind: String,
        #[arg(long)]
        user_id: Option<String>,
        /// Lifetime such as 30d or 12h; no expiry when absent.
        #[arg(long)]
        ttl: Option<String>,
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
        /// The root key: the issue is recorded in the keyed audit chain.
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// List tokens (never their values).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by id.
    Revoke {
        id: String,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the chain (keyed records with the key from the root key) and compare it
    /// with every checkpoint; exits non-zero naming the first bad record: a missing tail,
    /// a deleted, edited or reordered record, or a recomputed chain.
    Verify {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        keys: KeyArgs,
        /// The checkpoint file `serve` appends to (default with --dev: in the data dir).
        #[arg(long, env = "VAULT_AUDIT_CHECKPOINT_FILE")]
        checkpoint_file: Option<PathBuf>,
    },
    /// Stream records as JSON lines with their hashes, oldest first, for a SIEM.
    Export {
        /// Only records after this position.
        #[arg(long, default_value_t = 0)]
        since: u64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// One exported record.
#[derive(serde::Serialize)]
struct ExportedRecord<'a> {
    seq: u64,
    id: &'a str,
    at: String,
    principal: &'a str,
    action: &'a str,
    target: Option<serde_json::Value>,
    outcome: &'a str,
    request_id: &'a str,
    previous_hash: String,
    hash: String,
    chain: &'static str,
}

fn init_logging(format: LogFormat) {
    vault_api::logging::init(match format {
        LogFormat::Text => vault_api::logging::LogFormat::Text,
        LogFormat::Json => vault_api::logging::LogFormat::Json,
    });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    // Database work is all the blocking pool runs; a thread per connection is enough,
    // and an idle crowd of them only adds wake-ups to every query (measured in
    // `cargo xtask bench`). A bad database URL is reported by `serve` itself.
    if let Command::Serve(args) = &cli.command
        && let Ok(connections) = args.db_connections()
    {
        runtime.max_blocking_threads(connections as usize);
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vault-api: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("vault-api: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Keygen => {
            let key = vault_kms::RootKey::generate_encoded()?;
            println!("{}", key.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(command) => token(command).await,
        Command::Keys(command) => keys(command).await,
        Command::Audit(AuditCommand::Verify {
            database,
            keys: key_args,
            checkpoint_file,
        }) => {
            let (store, _keyring) = open_keys(&database, &key_args).await?;
            let path = checkpoint_file.or_else(|| {
                database.dev.then(|| {
                    DevData {
                        dir: database.data_dir.clone(),
                    }
                    .checkpoint_file()
                })
            });
            let keys = store
                .integrity_keys()
                .context("the vault's integrity master could not be opened")?;
            let checkpoints = match &path {
                Some(path) => vault_api::checkpoint::read(path, &keys)?,
                None => {
                    eprintln!(
                        "no checkpoint file (VAULT_AUDIT_CHECKPOINT_FILE): a deleted tail cannot \
                         be detected, only what the chain itself proves"
                    );
                    vault_api::checkpoint::CheckpointFile::default()
                }
            };
            match verify::verify_trail(&store, &checkpoints).await? {
                Ok(intact) => {
                    let anchored = match intact.newest_checkpoint {
                        Some(seq) => format!(
                            "; {} checkpoints hold, the newest at record {seq}",
                            intact.checkpoints
                        ),
                        None => String::new(),
                    };
                    println!("audit chain intact: {} records{anchored}", intact.records);
                    Ok(ExitCode::SUCCESS)
                }
                Err(finding) => {
                    eprintln!("audit chain broken at record {}: {finding}", finding.seq);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Audit(AuditCommand::Export { since, database }) => {
            use std::io::Write;
            let store = open_store(&database).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut after = since;
            loop {
                let page = store.audit_since(after, 1_000).await?;
                let Some(last) = page.last().map(|r| r.seq) else {
                    break;
                };
                for record in &page {
                    let entry = &record.entry;
                    let line = ExportedRecord {
                        seq: record.seq,
                        id: &entry.id,
                        at: entry.at.to_rfc3339(),
                        principal: &entry.principal,
                        action: &entry.action,
                        target: entry
                            .target
                            .as_deref()
                            .and_then(|t| serde_json::from_str(t).ok()),
                        outcome: &entry.outcome,
                        request_id: &entry.request_id,
                        previous_hash: hex::encode(record.previous_hash),
                        hash: hex::encode(record.hash),
                        chain: match record.format {
                            vault_core::ChainFormat::Sha256 => "sha256",
                            vault_core::ChainFormat::Keyed => "hmac-sha256",
                        },
                    };
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
                after = last;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open_store(database: &DatabaseArgs) -> Result<Store> {
    Ok(server::open_store(&database.url()?, StoreConfig::default()).await?)
}

fn cli_audit() -> AuditContext {
    AuditContext {
        clock: Arc::new(SystemClock),
    }
}

async fn token(command: TokenCommand) -> Result<ExitCode> {
    let request_id = vault_api::tokens::random_id("cli_")?;
    match command {
        TokenCommand::Create {
            kind,
            user_id,
            ttl,
            label,
            database,
            keys: key_args,
        } => {
            let request = TokenRequest::parse(&kind, user_id.as_deref(), ttl.as_deref(), label)?;
            let (store, _keyring) = open_keys(&database, &key_args).await?;
            let (stored, secret) = request
                .issue(&store, &cli_audit(), &request_id, &Actor::cli())
                .await?;
            eprintln!(
                "issued {} token {}{} — shown once, keep it safe",
                stored.kind.as_str(),
                stored.id,
                stored
                    .expires_at
                    .map(|at| format!(", expires {}", at.to_rfc3339()))
                    .unwrap_or_default()
            );
            println!("{}", secret.as_str());
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { database } => {
            let store = open_store(&database).await?;
            let now = SystemClock.now();
            println!(
                "{:<26} {:<13} {:<20} {:<10} {:<25} LABEL",
                "ID", "KIND", "USER", "STATE", "EXPIRES"
            );
            for token in store.tokens().await? {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else if token.is_live(now) {
                    "live"
                } else {
                    "expired"
                };
                println!(
                    "{:<26} {:<13} {:<20} {:<10} {:<25} {}",
                    token.id,
                    token.kind.as_str(),
                    token.binding.user_id.as_deref().unwrap_or("-"),
                    state,
                    token
                        .expires_at
                        .map(|at| at.to_rfc3339())
                        .unwrap_or_else(|| "never".into()),
                    token.label.as_deref().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke {
            id,
            database,
            keys: key_args,
        } => {
            let (store, _keyring) = open_keys(&database, &key_args).await?;
            let revoked =
                revoke_token(&store, &cli_audit(), id, &request_id, &Actor::cli()).await?;
            eprintln!("revoked token {}", revoked.id);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The store and keyring the `keys` commands work on, checked as `serve` checks them.
async fn open_keys(database: &DatabaseArgs, keys: &KeyArgs) -> Result<(Store, Arc<Keyring>)> {
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

/// Progress on a terminal as a bar with counts and ETA; elsewhere as plain lines.
fn progress_display() -> impl Fn(keys::Progress) + Sync {
    use std::io::IsTerminal;
    use std::sync::Mutex;
    let terminal = std::io::stderr().is_terminal();
    let bars: Mutex<Option<(&'static str, indicatif::ProgressBar)>> = Mutex::new(None);
    let last_line = Mutex::new(std::time::Instant::now());
    move |p: keys::Progress| {
        if terminal {
            let Ok(mut bars) = bars.lock() else { return };
            let fresh = bars.as_ref().is_none_or(|(stage, _)| *stage != p.stage);
            if fresh {
                if let Some((_, old)) = bars.take() {
                    old.finish();
                }
                let bar = indicatif::ProgressBar::new(p.total);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{prefix:>5} [{bar:40}] {pos}/{len} ({percent}%) eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(p.stage);
                *bars = Some((p.stage, bar));
            }
            if let Some((_, bar)) = bars.as_ref() {
                bar.set_position(p.done);
                if p.done >= p.total {
                    bar.finish();
                }
            }
        } else {
            let Ok(mut last) = last_line.lock() else {
                return;
            };
            let due = last.elapsed() >= Duration::from_secs(2);
            if p.done == 0 || p.done >= p.total || due {
                eprintln!("rewrap {}: {}/{}", p.stage, p.done, p.total);
                *last = std::time::Instant::now();
            }
        }
    }
}

async fn keys(command: KeysCommand) -> Result<ExitCode> {
    let request_id = vault_api::tokens::random_id("cli_")?;
    match command {
        KeysCommand::Status {
            database,
            keys: key_args,
        } => {
            let (store, keyring) = open_keys(&database, &key_args).await?;
            let status = keys::status(&store, &keyring).await?;
            println!("vault instance:   {}", status.instance);
            println!("current root key: {}", status.current_root_key);
            for root in &status.configured_root_keys[1..] {
                println!("also configured:  {root}");
            }
            println!();
            println!(
                "{:<34} {:<8} {:>10} {:>8} {:<9} ROOT KEY",
                "KEK", "STATE", "WRAPS", "DEKS", "OPENABLE"
            );
            for kek in status.keks {
                let state = match kek.state {
                    vault_store::KekStatus::Active => "active",
                    vault_store::KekStatus::Retired => "retired",
                };
                println!(
                    "{:<34} {:<8} {:>10} {:>8} {:<9} {}",
                    kek.id,
                    state,
                    kek.wrap_count,
                    kek.deks,
                    if kek.openable { "yes" } else { "NO" },
                    kek.root_key_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Rotate {
            database,
            keys: key_args,
        } => {
            let (store, keyring) = open_keys(&database, &key_args).await?;
            let id = keys::rotate(&store, &keyring, &cli_audit(), &request_id).await?;
            println!("new KEK {id} under root key {}", keyring.current_root_key());
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Rewrap {
            deks,
            pause,
            database,
            keys: key_args,
        } => {
            let (store, keyring) = open_keys(&database, &key_args).await?;
            let display = progress_display();
            let report = keys::rewrap(
                &store,
                &keyring,
                keys::RewrapOptions { deks, pause },
                &cli_audit(),
                &request_id,
                &display,
            )
            .await?;
            println!(
                "rewrapped {} KEK(s) under {}{}",
                report.keks_moved,
                keyring.current_root_key(),
                if deks {
                    format!(
                        "; moved {} DEK(s) under a fresh KEK ({} gone or moved meanwhile)",
                        report.deks_moved, report.deks_skipped
                    )
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The TLS configuration `serve` was given, or none where plain HTTP is allowed: on
/// loopback, or where the operator said with VAULT_TLS_DISABLE that a proxy terminates
/// TLS. Anywhere else plain HTTP would carry tokens and resolved envs in clear text.
fn serve_tls(args: &ServeArgs) -> Result<Option<vault_api::tls::ServerTls>> {
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

async fn serve(args: ServeArgs) -> Result<ExitCode> {
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
        },
    );
    server::watch_root_key(&state, args.key_check_interval);
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
fn versions_kept(text: &str) -> Result<std::num::NonZeroU32, String> {
    const MAX_VERSIONS_KEPT: u32 = 1000;
    text.parse::<std::num::NonZeroU32>()
        .ok()
        .filter(|kept| kept.get() <= MAX_VERSIONS_KEPT)
        .ok_or_else(|| format!("must be a whole number from 1 to {MAX_VERSIONS_KEPT}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn serve_connections(args: &[&str]) -> Result<u32, String> {
        let cli = Cli::try_parse_from([&["vault-api", "serve"], args].concat())
            .map_err(|error| error.to_string())?;
        let Command::Serve(serve) = cli.command else {
            return Err("not serve".into());
        };
        serve.db_connections().map_err(|error| error.to_string())
    }

    #[test]
    fn database_connections_default_by_backend_and_can_be_set() {
        assert_eq!(
            serve_connections(&["--database-url", "sqlite:///tmp/vault.db"]),
            Ok(4)
        );
        assert_eq!(
            serve_connections(&["--database-url", "postgres://vault@db/vault"]),
            Ok(16)
        );
        assert_eq!(
            serve_connections(&[
                "--database-url",
                "sqlite:///tmp/vault.db",
                "--db-connections",
                "7"
            ]),
            Ok(7)
        );
        let refused = serve_connections(&["--database-url", "x.db", "--db-connections", "0"]);
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("--db-connections")),
            "{refused:?}"
        );
    }
}
