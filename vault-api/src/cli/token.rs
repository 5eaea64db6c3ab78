//! `vault-api token …`: issue, list and revoke tokens on the host.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use vault_api::audit::Actor;
use vault_api::clock::{Clock, SystemClock};
use vault_api::service::tokens::{TokenRequest, revoke_token};

use crate::cli::args::{DatabaseArgs, KeyArgs};
use crate::cli::{cli_audit, open_keys, open_store};

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
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

pub(crate) async fn token(command: TokenCommand) -> Result<ExitCode> {
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
