//! Cargo-installed tools the tasks run, pinned, installed once under `target/tools`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::{cargo, run_step};

/// A crates.io binary at an exact version.
pub struct CargoTool {
    pub krate: &'static str,
    pub version: &'static str,
    /// What `<binary> <subcommand> --version` prints, to tell the pinned one is there.
    pub subcommand: &'static str,
}

pub const CARGO_MUTANTS: CargoTool = CargoTool {
    krate: "cargo-mutants",
    version: "27.1.0",
    subcommand: "mutants",
};

pub const CARGO_FUZZ: CargoTool = CargoTool {
    krate: "cargo-fuzz",
    version: "0.13.2",
    subcommand: "fuzz",
};

/// The directory whose `bin/` holds the tools; put first on PATH for `cargo <tool>`.
pub fn tools_root(root: &Path) -> PathBuf {
    root.join("target").join("tools")
}

/// `PATH` with the tools' `bin/` first, so `cargo mutants` finds the pinned binary.
pub fn path_with_tools(root: &Path) -> Result<std::ffi::OsString> {
    let mut dirs = vec![tools_root(root).join("bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    Ok(std::env::join_paths(dirs)?)
}

impl CargoTool {
    /// Installs the pinned version unless it is already under `target/tools`.
    pub fn ensure(&self, root: &Path) -> Result<()> {
        let binary = tools_root(root).join("bin").join(self.krate);
        let installed = Command::new(&binary)
            .args([self.subcommand, "--version"])
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|out| {
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains(self.version)
            });
        if installed {
            return Ok(());
        }
        eprintln!(
            "\n==> installing {} {} under target/tools (once)",
            self.krate, self.version
        );
        run_step(
            root,
            cargo()
                // Unoptimized: half the build time on a fresh CI machine, and these
                // tools spend their time waiting on the cargo runs they start.
                .args(["install", "--locked", "--quiet", "--force", "--debug"])
                .args([self.krate, "--version", self.version, "--root"])
                .arg(tools_root(root)),
        )?;
        if !binary.exists() {
            bail!(
                "installed {}, but {} is missing",
                self.krate,
                binary.display()
            );
        }
        Ok(())
    }
}
