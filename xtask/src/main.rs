//! `cargo xtask`: the project's developer tasks, in Rust rather than shell scripts.

mod bench;
mod contract;
mod fga;
mod fuzz;
mod localstack;
mod migrate;
mod mutants;
mod postgres;
mod test;
mod tidy;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Developer tasks for the vault workspace"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The full check CI runs: formatting, clippy, tidy, then every test.
    Test,
    /// The OpenFGA CLI's offline test of authz/model.fga against its assertions.
    Authz,
    /// The OpenAPI document against a running `serve --dev`: openapi-spec-validator,
    /// a generated Python client running seed 000's flow, and schemathesis with every
    /// check once per principal.
    Contract(contract::Options),
    /// Starts LocalStack's KMS on a free loopback port and keeps it running until
    /// interrupted, printing the endpoint for `AWS_ENDPOINT_URL`.
    Localstack,
    /// Repository invariants: file headers and the crate layering of ARCHITECTURE.md.
    Tidy,
    /// Resolution throughput and latency beside OpenBao, plus the hot path's criterion
    /// benches; writes bench/results/latest.md.
    Bench(bench::Options),
    /// cargo-mutants over vault-core and vault-kms: every mutant caught by the crate's
    /// own tests, or listed with its reason in .cargo/mutants.toml. `--in-diff` runs
    /// only what changed since the merge base (as `cargo xtask test` does).
    Mutants(mutants::Options),
    /// Every fuzz target of fuzz/ for `--seconds` each (cargo fuzz, libFuzzer).
    Fuzz(fuzz::Options),
    /// Applies pending database migrations (or lists or reverts them).
    Migrate {
        /// `sqlite://path`, `postgres://…`; defaults to DATABASE_URL, then the
        /// development database `sqlite://vault-dev/vault.db`.
        #[arg(long)]
        database_url: Option<String>,
        /// List every migration as applied or pending; change nothing.
        #[arg(long, conflicts_with = "revert")]
        status: bool,
        /// Revert the most recently applied migration.
        #[arg(long)]
        revert: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root()?;
    match cli.task {
        Task::Test => test::run(&root),
        Task::Tidy => tidy::run(&root),
        Task::Authz => fga::model_test(&root),
        Task::Contract(options) => contract::run(&root, &options),
        Task::Bench(options) => bench::run(&root, options),
        Task::Mutants(options) => mutants::run(&root, &options),
        Task::Fuzz(options) => fuzz::run(&root, &options),
        Task::Localstack => {
            let server = localstack::LocalStack::start(&root)?;
            println!("AWS_ENDPOINT_URL={}", server.url());
            println!(
                "(any AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, e.g. test/test; AWS_REGION=us-east-1)"
            );
            server.wait()
        }
        Task::Migrate {
            database_url,
            status,
            revert,
        } => migrate::run(
            &root,
            migrate::Options {
                database_url,
                status,
                revert,
            },
        ),
    }
}

/// The workspace root: xtask lives one level below it.
fn project_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// Stops a child started as its own process group (so whatever it started goes too):
/// SIGTERM, up to 10 s to exit, then SIGKILL. True when the TERM was enough.
fn stop_process_group(child: &mut std::process::Child) -> bool {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
    false
}

/// A loopback port nobody listens on (yet).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A venv at `venv` with `packages` installed from PyPI, by `$PYTHON` or `python3`.
fn python_venv(root: &Path, venv: &Path, packages: &[&str]) -> Result<()> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if run_step(root, Command::new(&python).args(["-m", "venv"]).arg(venv)).is_err() {
        bail!("could not make a venv with {python}; set PYTHON to a Python 3 with venv");
    }
    run_step(
        root,
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages),
    )
}

/// The cargo that runs us, so nested commands use the same toolchain.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command to completion in `dir`, echoing it first, failing on a non-zero exit.
fn run_step(dir: &Path, command: &mut Command) -> Result<()> {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
    let shown = format!("{program} {}", args.join(" "));
    eprintln!("\n==> {shown}");
    let status = command
        .current_dir(dir)
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}
