//! `cargo xtask migrate`: applies, lists or reverts the embedded migrations on the
//! database at `--database-url` (or `DATABASE_URL`, or the development SQLite file),
//! by running `vault-api migrate`. The migrations and the database drivers live in
//! vault-store; xtask stays free of them, so `cargo xtask tidy` compiles no C.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub struct Options {
    pub database_url: Option<String>,
    pub status: bool,
    pub revert: bool,
}

pub fn run(root: &Path, options: Options) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    // The caller's directory stays the working one: a relative SQLite path means
    // what it meant to them.
    command
        .args(["run", "-q", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .args(["-p", "vault-api", "--", "migrate"]);
    let url = options
        .database_url
        .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()));
    match url {
        // Passed in the environment, as `serve` takes it: never on a command line
        // that `ps` shows to every user of the host.
        Some(url) => command.env("DATABASE_URL", url),
        // The development vault's database, `vault-dev/vault.db`.
        None => command.env_remove("DATABASE_URL").arg("--dev"),
    };
    if options.status {
        command.arg("--status");
    }
    if options.revert {
        command.arg("--revert");
    }
    let status = command.status().context("running vault-api migrate")?;
    if !status.success() {
        bail!("vault-api migrate failed ({status})");
    }
    Ok(())
}
