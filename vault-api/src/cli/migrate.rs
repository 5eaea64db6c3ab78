//! `vault-api migrate`: applies, lists or reverts the embedded migrations. `cargo
//! xtask migrate` runs this, so xtask itself needs no database driver.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use vault_store::{DatabaseUrl, migrate};

use crate::cli::args::DatabaseArgs;

#[derive(Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// List every migration as applied or pending; change nothing.
    #[arg(long, conflicts_with = "revert")]
    status: bool,
    /// Revert the most recently applied migration.
    #[arg(long)]
    revert: bool,
}

pub(crate) fn migrate(args: MigrateArgs) -> Result<ExitCode> {
    let url = DatabaseUrl::parse(&args.database.url()?).context("--database-url")?;
    // SQLite creates the file but not its folder.
    if let DatabaseUrl::Sqlite(path) = &url
        && let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    eprintln!("database: {url:?}");
    if args.status {
        for migration in migrate::status(&url)? {
            let state = if migration.applied {
                "applied"
            } else {
                "pending"
            };
            println!("{state:8} {}", migration.name);
        }
    } else if args.revert {
        match migrate::revert_last(&url)? {
            Some(name) => println!("reverted {name}"),
            None => println!("no migration is applied; nothing to revert"),
        }
    } else {
        let applied = migrate::run_pending(&url)?;
        if applied.is_empty() {
            println!("up to date; no pending migration");
        }
        for name in applied {
            println!("applied  {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
