//! `cargo xtask mutants`: cargo-mutants over the floor crates, vault-core and vault-kms,
//! each mutant against its own crate's tests (vault-kms's with LocalStack, so `aws.rs`
//! is tested too). Every mutant must be caught; the few that cannot be are listed in
//! `.cargo/mutants.toml`, each with its reason. `--in-diff` mutates only what changed
//! since the merge base, which `cargo xtask test` runs; the full run is for releases.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::localstack::LocalStack;
use crate::tools::{CARGO_MUTANTS, path_with_tools};
use crate::{cargo, run_step};

/// The crates whose own tests must catch every change to their rules.
const FLOOR_CRATES: [&str; 2] = ["vault-core", "vault-kms"];

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Options {
    /// Only mutants in code changed since the merge base (see --base).
    #[arg(long)]
    pub in_diff: bool,
    /// What --in-diff compares with. Default: the merge base of HEAD and origin/main
    /// (or main); on main itself, the commit before HEAD, so the last change landed is
    /// what is checked.
    #[arg(long, requires = "in_diff")]
    pub base: Option<String>,
    /// Mutants built and tested at once (each build uses every core it can get).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
}

impl Options {
    /// What `cargo xtask test` runs.
    pub fn ci() -> Options {
        Options {
            in_diff: true,
            base: None,
            jobs: 2,
        }
    }
}

pub fn run(root: &Path, options: &Options) -> Result<()> {
    let out_dir = root.join("target").join("mutants");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let diff = if options.in_diff {
        let base = diff_base(root, options.base.as_deref())?;
        let diff = git(root, &["diff", &base, "--"], &FLOOR_CRATES)?;
        if !diff
            .lines()
            .any(|line| line.starts_with("+++ b/") && line.ends_with(".rs"))
        {
            eprintln!(
                "\n==> cargo mutants --in-diff: no Rust source of {} changed since {base}; \
                 nothing to mutate",
                FLOOR_CRATES.join(" or ")
            );
            return Ok(());
        }
        let file = out_dir.join("in-diff.patch");
        std::fs::write(&file, diff).with_context(|| format!("writing {}", file.display()))?;
        eprintln!("\n==> mutating what changed in the floor crates since {base}");
        Some(file)
    } else {
        None
    };
    CARGO_MUTANTS.ensure(root)?;
    // Lists left by an earlier run must not be read as this one's.
    for stale in ["mutants.out", "mutants.out.old"] {
        let dir = out_dir.join(stale);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    // The aws-kms provider's tests need LocalStack; without it they would pass
    // vacuously and let every mutant of aws.rs through.
    let localstack = LocalStack::start(root)?;
    let mut command = cargo();
    command
        .arg("mutants")
        .args(FLOOR_CRATES.iter().flat_map(|krate| ["--package", krate]))
        .args(["--jobs", &options.jobs.to_string()])
        .arg("--output")
        .arg(&out_dir)
        .env("PATH", path_with_tools(root)?)
        // Each mutant is a one-line change rebuilt in the copy: incremental builds are
        // what make that fast, whatever the outer run chose (`.ci/run` turns them off).
        .env_remove("CARGO_INCREMENTAL")
        .env("VAULT_TEST_KMS_ENDPOINT", localstack.url())
        .env("VAULT_TEST_REQUIRE_LOCALSTACK", "1");
    if let Some(file) = &diff {
        command.arg("--in-diff").arg(file);
    }
    // cargo-mutants exits non-zero when a mutant is missed or times out; the lists
    // below say which, so its status alone decides nothing here.
    let status = run_step(root, &mut command);
    drop(localstack);
    let results = out_dir.join("mutants.out");
    let missed = read_list(&results.join("missed.txt"))?;
    let timeouts = read_list(&results.join("timeout.txt"))?;
    if missed.is_empty() && timeouts.is_empty() {
        // A failed baseline (the tests fail unmutated) leaves both lists empty.
        status.context("cargo mutants failed before testing any mutant")?;
        eprintln!(
            "\n==> every mutant of {} was caught",
            FLOOR_CRATES.join(" and ")
        );
        return Ok(());
    }
    for line in missed.iter().chain(&timeouts) {
        eprintln!("    {line}");
    }
    bail!(
        "{} mutant(s) missed and {} timed out (above; diffs in {}). Kill each with a test \
         that states the rule it breaks, or, if no test can tell it from the original, \
         list it in .cargo/mutants.toml with the reason",
        missed.len(),
        timeouts.len(),
        results.join("diff").display()
    )
}

/// The revision `--in-diff` compares with.
fn diff_base(root: &Path, base: Option<&str>) -> Result<String> {
    if let Some(base) = base {
        return Ok(base.to_owned());
    }
    let head = git(root, &["rev-parse", "HEAD"], &[])?;
    let upstream = ["origin/main", "main"]
        .into_iter()
        .find(|branch| git(root, &["rev-parse", "--verify", "--quiet", branch], &[]).is_ok())
        .context("no main branch to take the merge base with; pass --base")?;
    let merge_base = git(root, &["merge-base", "HEAD", upstream], &[])?;
    if merge_base.trim() != head.trim() {
        return Ok(merge_base.trim().to_owned());
    }
    // On main itself: the last change that landed.
    git(root, &["rev-parse", "--verify", "--quiet", "HEAD^"], &[])
        .map(|parent| parent.trim().to_owned())
        .or_else(|_| Ok(head.trim().to_owned()))
}

fn git(root: &Path, args: &[&str], paths: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .args(args)
        .args(paths)
        .current_dir(root)
        .output()
        .context("running git")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn read_list(file: &PathBuf) -> Result<Vec<String>> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error).with_context(|| format!("reading {}", file.display())),
    }
}
