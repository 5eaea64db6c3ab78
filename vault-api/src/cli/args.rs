//! The command line: its subcommands and the arguments they share (where the database
//! is, which root key opens it).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use vault_api::server::{DevData, NO_KEY_HELP, RootConfig, RootKeys};
use vault_kms::KeyringConfig;
use zeroize::Zeroizing;

use crate::cli::audit::AuditCommand;
use crate::cli::keys::KeysCommand;
use crate::cli::migrate::MigrateArgs;
use crate::cli::token::TokenCommand;
use crate::serve::ServeArgs;

#[derive(Parser)]
#[command(
    name = "vault-api",
    version,
    about = "KMS-backed secrets for agent containers"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Apply, list or revert the embedded database migrations (`serve` applies
    /// pending ones itself at start).
    Migrate(MigrateArgs),
}

#[derive(Args, Clone)]
pub(crate) struct DatabaseArgs {
    /// postgres://…, sqlite://path or a file path.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Use the development vault under --data-dir (as `serve --dev` does).
    #[arg(long)]
    pub(crate) dev: bool,
    #[arg(long, default_value = "vault-dev")]
    pub(crate) data_dir: PathBuf,
}

impl DatabaseArgs {
    pub(crate) fn url(&self) -> Result<String> {
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
pub(crate) enum RootProviderKind {
    /// ENCRYPTION_KEY wraps the KEKs.
    Local,
    /// An AWS KMS key (VAULT_KMS_KEY_ID) wraps the KEKs.
    AwsKms,
}

/// Where the root key is, for `serve` and `keys`.
#[derive(Args, Clone)]
pub(crate) struct KeyArgs {
    #[arg(long, env = "VAULT_ROOT_PROVIDER", value_enum, default_value = "local")]
    pub(crate) root_provider: RootProviderKind,
    /// With aws-kms: the KMS key id, ARN or alias. Region, credentials and endpoint
    /// come from the standard AWS configuration (AWS_REGION, AWS_ENDPOINT_URL, …).
    #[arg(long, env = "VAULT_KMS_KEY_ID")]
    pub(crate) kms_key_id: Option<String>,
    /// The root key: 32 bytes, base64 or hex (`vault-api keygen`). With aws-kms, an
    /// earlier local key that still opens KEKs not yet rewrapped.
    #[arg(
        long = "encryption-key",
        env = "ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub(crate) encryption_key: Option<String>,
    /// Earlier root keys, comma-separated, still needed to open older keys.
    #[arg(
        long,
        env = "ENCRYPTION_KEY_PREVIOUS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub(crate) encryption_key_previous: Vec<String>,
    /// How long an unwrapped KEK stays in memory.
    #[arg(long, env = "VAULT_KEK_CACHE_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) kek_cache_ttl: Duration,
}

impl KeyArgs {
    /// The root configuration; `dev_key` is the development vault's key file.
    pub(crate) fn root_config(&self, dev_key: Option<Zeroizing<String>>) -> Result<RootConfig> {
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

    pub(crate) fn keyring_config(&self) -> KeyringConfig {
        KeyringConfig {
            kek_cache_ttl: self.kek_cache_ttl,
            ..KeyringConfig::default()
        }
    }
}
