//! `vault-api audit …`: verify the chain against its checkpoints, export it for a SIEM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use vault_api::server::DevData;
use vault_api::verify;

use crate::cli::args::{DatabaseArgs, KeyArgs};
use crate::cli::{open_keys, open_store};

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
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
        /// Only records after this position (a shipper resumes after the last `seq` it
        /// holds).
        #[arg(long, default_value_t = 0)]
        since: u64,
        /// Keep running and print each record as it is appended (until SIGTERM or
        /// SIGINT, which end it after the line in progress).
        #[arg(long)]
        follow: bool,
        /// With --follow: how often the trail is read for new records.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration, requires = "follow")]
        poll_interval: std::time::Duration,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// One exported record.
#[derive(serde::Serialize)]
pub(crate) struct ExportedRecord<'a> {
    pub(crate) seq: u64,
    pub(crate) id: &'a str,
    pub(crate) at: String,
    pub(crate) principal: &'a str,
    pub(crate) action: &'a str,
    pub(crate) target: Option<serde_json::Value>,
    pub(crate) outcome: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) previous_hash: String,
    pub(crate) hash: String,
    pub(crate) chain: &'static str,
}

pub(crate) async fn audit(command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify {
            database,
            keys: key_args,
            checkpoint_file,
        } => {
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
        AuditCommand::Export {
            since,
            follow,
            poll_interval,
            database,
        } => {
            use std::io::Write;
            let store = open_store(&database).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut after = since;
            let mut stop = std::pin::pin!(vault_api::server::shutdown_signal());
            loop {
                let page = store.audit_since(after, 1_000).await?;
                let Some(last) = page.last().map(|r| r.seq) else {
                    if !follow {
                        break;
                    }
                    // Caught up: what is written reaches the shipper before the wait.
                    out.flush()?;
                    tokio::select! {
                        () = tokio::time::sleep(poll_interval) => continue,
                        () = &mut stop => break,
                    }
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
