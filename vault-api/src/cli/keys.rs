//! `vault-api keys …`: KEK status, rotation and rewrapping, with a progress display.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;

use vault_api::keys;

use crate::cli::args::{DatabaseArgs, KeyArgs};
use crate::cli::{cli_audit, open_keys};

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
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

/// Progress on a terminal as a bar with counts and ETA; elsewhere as plain lines.
pub(crate) fn progress_display() -> impl Fn(keys::Progress) + Sync {
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

pub(crate) async fn keys(command: KeysCommand) -> Result<ExitCode> {
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
