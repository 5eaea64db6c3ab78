//! `cargo xtask migrate`: applies, lists or reverts the embedded migrations on the
//! database at `--database-url` (or `DATABASE_URL`, or the development SQLite file).

use std::path::Path;

use anyhow::{Context, Result};
use vault_store::{DatabaseUrl, migrate};

/// Where `vault-api serve --dev` keeps its database.
pub const DEV_DATABASE_URL: &str = "sqlite://vault-dev/vault.db";

pub struct Options {
    pub database_url: Option<String>,
    pub status: bool,
    pub revert: bool,
}

pub fn run(options: Options) -> Result<()> {
    let raw = options
        .database_url
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| DEV_DATABASE_URL.to_owned());
    let url = DatabaseUrl::parse(&raw).context("--database-url")?;
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
    if options.status {
        for migration in migrate::status(&url)? {
            let state = if migration.applied {
                "applied"
            } else {
                "pending"
            };
            println!("{state:8} {}", migration.name);
        }
    } else if options.revert {
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
    Ok(())
}
