//! `cargo xtask test`: everything CI checks, in the order that fails fastest.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::localstack::LocalStack;
use crate::postgres::Postgres;
use crate::{bench, cargo, contract, fga, fuzz, mutants, run_step, tidy};

pub fn run(root: &Path) -> Result<()> {
    ensure_components(root)?;
    run_step(root, cargo().args(["fmt", "--all", "--", "--check"]))?;
    run_step(
        root,
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    eprintln!("\n==> cargo xtask tidy");
    tidy::run(root)?;
    // The authorization model against its assertions, in OpenFGA's own engine; the
    // embedded authorizer meets the same assertions in vault-api's `authz_model` test.
    fga::model_test(root)?;
    // The store suite runs on SQLite and on this server, the KMS suite on LocalStack;
    // the guards stop both however the tests end.
    let postgres = Postgres::start()?;
    let localstack = LocalStack::start(root)?;
    // `vaultctl env`'s dotenv files are read back by python-dotenv itself, and webhook
    // deliveries are verified by the Standard Webhooks reference library.
    let python = python_tools(root)?;
    // `--all-targets` also runs every criterion benchmark once, so none of them rots.
    run_step(
        root,
        cargo()
            .args(["test", "--workspace", "--all-targets", "--locked"])
            .env("VAULT_TEST_POSTGRES_URL", postgres.admin_url())
            .env("VAULT_TEST_REQUIRE_POSTGRES", "1")
            .env("VAULT_TEST_KMS_ENDPOINT", localstack.url())
            .env("VAULT_TEST_REQUIRE_LOCALSTACK", "1")
            .env("VAULT_TEST_PYTHON_DOTENV", &python)
            .env("VAULT_TEST_REQUIRE_PYTHON_DOTENV", "1")
            .env("VAULT_TEST_PYTHON_WEBHOOKS", &python)
            .env("VAULT_TEST_REQUIRE_PYTHON_WEBHOOKS", "1"),
    )?;
    drop(localstack);
    drop(postgres);
    // The floor crates' rules, mutated where this change touched them: each mutant
    // must fail the crate's own tests (`cargo xtask mutants` without --in-diff for all).
    eprintln!("\n==> cargo xtask mutants --in-diff");
    mutants::run(root, &mutants::Options::ci())?;
    // Every fuzz target builds, replays its seeds and runs a few seconds.
    eprintln!("\n==> cargo xtask fuzz --seconds 5");
    fuzz::run(root, &fuzz::Options::smoke())?;
    // The document as its consumers read it: a validator, a generated client and
    // schemathesis, against the dev vault `cargo test` just built.
    eprintln!("\n==> cargo xtask contract");
    contract::run(root, &contract::Options::ci())?;
    // Both servers under a 2-second load, answers checked: the benchmark harness works.
    eprintln!("\n==> cargo xtask bench --quick");
    bench::run(root, bench::Options::quick())?;
    run_step(
        root,
        cargo().args(["test", "--workspace", "--doc", "--locked"]),
    )?;
    eprintln!("\nall checks passed");
    Ok(())
}

/// The Python packages the tests read the vault's output with.
const PYTHON_TOOLS: [&str; 2] = ["python-dotenv==1.2.1", "standardwebhooks==1.3.0"];

/// A Python that imports python-dotenv and standardwebhooks, from a venv under
/// `target/` made once.
fn python_tools(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target").join("tools").join("python-tools-venv");
    let python = venv.join("bin").join("python");
    let imports = |python: &Path| {
        Command::new(python)
            .args(["-c", "import dotenv, standardwebhooks"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !imports(&python) {
        crate::python_venv(root, &venv, &PYTHON_TOOLS)?;
        if !imports(&python) {
            bail!(
                "{} installed, but {} cannot import them",
                PYTHON_TOOLS.join(" and "),
                python.display()
            );
        }
    }
    Ok(python)
}

/// rustfmt and clippy ship as rustup components; a bare toolchain may lack them.
fn ensure_components(root: &Path) -> Result<()> {
    let missing: Vec<&str> = ["fmt", "clippy"]
        .into_iter()
        .filter(|tool| {
            !cargo()
                .args([tool, "--version"])
                .current_dir(root)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let components: Vec<&str> = missing
        .iter()
        .map(|tool| if *tool == "fmt" { "rustfmt" } else { "clippy" })
        .collect();
    let mut rustup = std::process::Command::new("rustup");
    rustup.arg("component").arg("add").args(&components);
    if run_step(root, &mut rustup).is_err() {
        bail!(
            "cargo {} is missing and `rustup component add {}` failed; install those components",
            missing.join(" and cargo "),
            components.join(" ")
        );
    }
    Ok(())
}
