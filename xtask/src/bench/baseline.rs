//! Before and after in one run: this tree's vault-api against a baseline binary built
//! from another revision, on the same seeded database, under the same load, in
//! alternating rounds (the order flipped every round), with and without the candidate
//! cache. Two runs of the whole bench on these shared cores drift apart by more than
//! most changes move the figures; rounds interleaved in one run do not.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::events;
use super::servers::{Binaries, Seeded, Server, ServerEnv, UNCACHED};
use super::wrk::{Load, Round, Summary};

/// Both builds' figures for one setting.
pub(super) struct Pair {
    pub(super) after: Summary,
    pub(super) before: Summary,
    pub(super) rounds: Vec<(Round, Round)>,
}

pub(super) struct BeforeAfter {
    pub(super) baseline: PathBuf,
    pub(super) cached: Pair,
    pub(super) uncached: Pair,
    pub(super) rotations: RotationPair,
}

/// One client's back-to-back rotations on each build, alternating: what a change costs,
/// which is where a revision that writes more per change (an event beside the audit
/// record, say) shows.
pub(super) struct RotationPair {
    /// Latencies in ms, every round's pooled.
    pub(super) after: Vec<f64>,
    pub(super) before: Vec<f64>,
}

/// Rotations per build per round: enough for a stable median and p90 at ~10 ms each.
const ROTATIONS_PER_ROUND: u32 = 150;

/// What one measurement needs from the run.
pub(super) struct Bench<'a> {
    pub(super) binaries: &'a Binaries,
    pub(super) env: &'a ServerEnv,
    pub(super) work: &'a Path,
    pub(super) seeded: &'a Seeded,
    pub(super) load: &'a Load,
    pub(super) script: &'a Path,
    pub(super) rounds: u32,
    pub(super) duration: u64,
}

impl Bench<'_> {
    pub(super) fn against(&self, baseline: &Path) -> Result<BeforeAfter> {
        let before = Binaries {
            server: baseline.to_path_buf(),
            seeder: self.binaries.seeder.clone(),
        };
        eprintln!(
            "\n==> before and after: this build against {}",
            baseline.display()
        );
        let cached = self.alternate(&before, &[])?;
        eprintln!("\n==> before and after, without the candidate cache");
        let uncached = self.alternate(&before, UNCACHED)?;
        eprintln!("\n==> before and after: rotations from one client");
        let rotations = self.rotations(&before)?;
        Ok(BeforeAfter {
            baseline: baseline.to_path_buf(),
            cached,
            uncached,
            rotations,
        })
    }

    /// Both builds on the same database, each rotating a secret of its own back to back,
    /// in alternating rounds with the order flipped, nothing else running.
    fn rotations(&self, before: &Binaries) -> Result<RotationPair> {
        let after_server = Server::start_vault(self.binaries, self.env, self.work, &[])?;
        let before_server = Server::start_vault(before, self.env, self.work, &[])
            .context("starting the baseline vault-api")?;
        let token = &self.seeded.orchestrator_token;
        let after_secret = events::rotated_secret(&after_server, self.seeded, "BENCH_AFTER")?;
        let before_secret = events::rotated_secret(&before_server, self.seeded, "BENCH_BEFORE")?;
        let after_rotations = |count| events::rotations(&after_server, token, &after_secret, count);
        let before_rotations =
            |count| events::rotations(&before_server, token, &before_secret, count);
        after_rotations(20)?;
        before_rotations(20)?;
        let (mut after, mut before) = (Vec::new(), Vec::new());
        for round in 1..=self.rounds {
            if round % 2 == 1 {
                after.extend(after_rotations(ROTATIONS_PER_ROUND)?);
                before.extend(before_rotations(ROTATIONS_PER_ROUND)?);
            } else {
                before.extend(before_rotations(ROTATIONS_PER_ROUND)?);
                after.extend(after_rotations(ROTATIONS_PER_ROUND)?);
            }
        }
        for server in [&after_server, &before_server] {
            server.check_resolution(self.seeded)?;
        }
        Ok(RotationPair { after, before })
    }

    /// Both builds started on the same database with `settings`, each answer checked,
    /// then loaded in turn: only one is under load at any moment.
    fn alternate(&self, before: &Binaries, settings: &[(&str, &str)]) -> Result<Pair> {
        let after_server = Server::start_vault(self.binaries, self.env, self.work, settings)?;
        let before_server = Server::start_vault(before, self.env, self.work, settings)
            .context("starting the baseline vault-api")?;
        for server in [&after_server, &before_server] {
            server.check_resolution(self.seeded)?;
        }
        let after_url = format!("{}/v1/resolve", after_server.base);
        let before_url = format!("{}/v1/resolve", before_server.base);
        self.load.round(&after_url, self.script, 2)?;
        self.load.round(&before_url, self.script, 2)?;
        let mut rounds = Vec::new();
        for round in 1..=self.rounds {
            eprintln!("\n==> before and after, round {round} of {}", self.rounds);
            // Whichever goes second runs on a machine the first just warmed: flip it.
            let (after, before) = if round % 2 == 1 {
                let after = self.load.round(&after_url, self.script, self.duration)?;
                (
                    after,
                    self.load.round(&before_url, self.script, self.duration)?,
                )
            } else {
                let before = self.load.round(&before_url, self.script, self.duration)?;
                (
                    self.load.round(&after_url, self.script, self.duration)?,
                    before,
                )
            };
            rounds.push((after, before));
        }
        // Still the right answers from both after the load.
        for server in [&after_server, &before_server] {
            server.check_resolution(self.seeded)?;
        }
        let afters: Vec<Round> = rounds.iter().map(|(after, _)| *after).collect();
        let befores: Vec<Round> = rounds.iter().map(|(_, before)| *before).collect();
        Ok(Pair {
            after: Summary::of(&afters),
            before: Summary::of(&befores),
            rounds,
        })
    }
}

impl BeforeAfter {
    pub(super) fn render(&self, text: &mut String) {
        let _ = writeln!(
            text,
            "\nBefore and after, in this run: this build against `{}` on the same database \
             and load, alternating round by round (req/s median, p50 / p99):\n",
            self.baseline.display()
        );
        let _ = writeln!(
            text,
            "| vault-api `POST /v1/resolve` | after | before | after/before |"
        );
        let _ = writeln!(text, "|---|---:|---:|---:|");
        for (label, pair) in [
            ("candidate cache on", &self.cached),
            ("cache off (`VAULT_CANDIDATE_CACHE_MIB=0`)", &self.uncached),
        ] {
            let _ = writeln!(
                text,
                "| {label} | {} | {} | **{:.2}** |",
                cell(&pair.after),
                cell(&pair.before),
                pair.after.requests_per_second / pair.before.requests_per_second
            );
        }
        let rotations = &self.rotations;
        let figure = |values: &[f64], fraction| events::percentile(values.to_vec(), fraction);
        let _ = writeln!(
            text,
            "\nA rotation (`PATCH /v1/secrets/{{id}}` with a new value), {} back to back from \
             one client on each build, alternating rounds:\n",
            rotations.after.len()
        );
        let _ = writeln!(
            text,
            "| rotation latency | after | before | after − before |"
        );
        let _ = writeln!(text, "|---|---:|---:|---:|");
        for (label, fraction) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            let (after, before) = (
                figure(&rotations.after, fraction),
                figure(&rotations.before, fraction),
            );
            let _ = writeln!(
                text,
                "| {label} | {after:.2} ms | {before:.2} ms | {:+.2} ms |",
                after - before
            );
        }
        let _ = writeln!(text, "\nEvery round (after, before):\n");
        let _ = writeln!(text, "| setting | round | after | before |");
        let _ = writeln!(text, "|---|---:|---:|---:|");
        for (label, pair) in [("cache on", &self.cached), ("cache off", &self.uncached)] {
            for (i, (after, before)) in pair.rounds.iter().enumerate() {
                let _ = writeln!(
                    text,
                    "| {label} | {} | {} | {} |",
                    i + 1,
                    cell(&Summary::of(std::slice::from_ref(after))),
                    cell(&Summary::of(std::slice::from_ref(before)))
                );
            }
        }
    }
}

fn cell(s: &Summary) -> String {
    format!(
        "{:.0} ({:.2} / {:.2} ms)",
        s.requests_per_second, s.p50_ms, s.p99_ms
    )
}
