//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/` for a bounded time each.
//!
//! libFuzzer reads the committed seeds in `fuzz/seeds/<target>/` and keeps what it
//! finds in `target/fuzz/corpus/<target>/`, so the repository's corpus only grows by
//! review. The targets are built without a sanitizer: every crate fuzzed forbids
//! `unsafe`, the properties are asserted in Rust, and the build stays on the stable
//! toolchain (AddressSanitizer needs nightly's `-Zsanitizer`).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::tools::{CARGO_FUZZ, path_with_tools};
use crate::{cargo, run_step};

#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// How long each target runs.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Only these targets (default: all of them).
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Build without optimizations: half the build time, a fraction of the speed.
    #[arg(long)]
    pub dev: bool,
}

impl Options {
    /// The smoke run of `cargo xtask test`: each target starts, replays its seeds and
    /// runs briefly. It proves the targets work, not that the code is fuzzed enough.
    pub fn smoke() -> Options {
        Options {
            seconds: 5,
            targets: Vec::new(),
            // A smoke run proves the targets build and run; it need not run fast.
            dev: true,
        }
    }
}

/// How `cargo fuzz` builds: once for all targets, with the same flags for `run`, so
/// the runs do not rebuild.
fn fuzz_flags(options: &Options) -> Vec<&'static str> {
    let mut flags = vec!["--sanitizer", "none"];
    if options.dev {
        flags.push("--dev");
    }
    flags
}

pub fn run(root: &Path, options: &Options) -> Result<()> {
    CARGO_FUZZ.ensure(root)?;
    let path = path_with_tools(root)?;
    let all = list_targets(root, &path)?;
    let targets: Vec<String> = if options.targets.is_empty() {
        all.clone()
    } else {
        for target in &options.targets {
            if !all.contains(target) {
                bail!(
                    "no fuzz target {target}; the targets are {}",
                    all.join(", ")
                );
            }
        }
        options.targets.clone()
    };
    run_step(
        root,
        cargo()
            .args(["fuzz", "build"])
            .args(fuzz_flags(options))
            .env("PATH", &path),
    )?;
    let corpus_root = root.join("target").join("fuzz").join("corpus");
    for target in &targets {
        let corpus = corpus_root.join(target);
        let seeds = root.join("fuzz").join("seeds").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("creating {}", corpus.display()))?;
        if !seeds.is_dir() {
            bail!(
                "fuzz target {target} has no seed corpus at {}",
                seeds.display()
            );
        }
        let outcome = run_step(
            root,
            cargo()
                .args(["fuzz", "run"])
                .args(fuzz_flags(options))
                .arg(target)
                .arg(&corpus)
                .arg(&seeds)
                .arg("--")
                .arg(format!("-max_total_time={}", options.seconds))
                // A single input taking seconds is a finding (a hang), not slowness.
                .arg("-timeout=10")
                .arg("-rss_limit_mb=2048")
                .arg("-print_final_stats=1")
                .env("PATH", &path),
        );
        if outcome.is_err() {
            bail!(
                "fuzz target {target} found an input that breaks it; libFuzzer saved it \
                 under fuzz/artifacts/{target}/ (path above). Reproduce with `cargo fuzz \
                 run --sanitizer none {target} <that file>`, fix the code, and keep the \
                 input as a regression test and in fuzz/seeds/{target}/"
            );
        }
    }
    eprintln!(
        "\n==> {} fuzz target(s) ran {} s each without a finding",
        targets.len(),
        options.seconds
    );
    Ok(())
}

fn list_targets(root: &Path, path: &std::ffi::OsStr) -> Result<Vec<String>> {
    let output = cargo()
        .args(["fuzz", "list"])
        .env("PATH", path)
        .current_dir(root)
        .output()
        .context("running cargo fuzz list")?;
    if !output.status.success() {
        bail!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8(output.stdout)?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}
