//! The report: the side-by-side table, the criterion benches' figures and the rewrap
//! throughput, written as markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use serde_json::Value;

use crate::{cargo, run_step};

use super::OPENBAO;
use super::baseline::BeforeAfter;
use super::tools::target_dir;
use super::wrk::{Round, Summary};
use super::{Backend, Options};

pub(super) struct Rewrap {
    pub(super) moved: u64,
    pub(super) seconds: f64,
}

/// One level of concurrency: every round of each server, in the order they ran.
pub(super) struct Level {
    pub(super) connections: u32,
    pub(super) ours: Vec<Round>,
    pub(super) peer: Vec<Round>,
    /// The peer with a file audit device.
    pub(super) audited: Vec<Round>,
}

/// A new process on the seeded database: how long to ready, what its first resolution
/// cost, and the second's latency for comparison.
pub(super) struct ColdStart {
    pub(super) ready_ms: f64,
    pub(super) root_calls_at_ready: u64,
    /// KEKs unwrapped by then (KEK cache misses).
    pub(super) keks_at_ready: u64,
    pub(super) first_ms: f64,
    pub(super) root_calls_first: u64,
    pub(super) keks_first: u64,
    pub(super) second_ms: f64,
}

/// PostgreSQL: one replica alone against two behind the same wrk.
pub(super) struct Replicas {
    pub(super) one: Summary,
    pub(super) two: Summary,
}

pub(super) struct Report<'a> {
    pub(super) options: &'a Options,
    /// Ours while another client floods it with unauthenticated requests.
    pub(super) flooded: Summary,
    /// The flood's own rate (median over rounds), answered 401 or 429.
    pub(super) flood_rate: f64,
    /// Ours on SQLite with synchronous=NORMAL instead of FULL.
    pub(super) sync_normal: Option<Summary>,
    /// Resolution with rotations in the background, without and with a subscriber and
    /// a webhook endpoint.
    pub(super) events: Option<super::events::EventLoad>,
    /// The medians at the headline level (`--connections`).
    pub(super) ours: Summary,
    pub(super) peer: Summary,
    pub(super) peer_audited: Summary,
    /// Every level measured, and which one is the headline.
    pub(super) levels: Vec<Level>,
    pub(super) headline: usize,
    pub(super) cold: ColdStart,
    pub(super) replicas: Option<Replicas>,
    pub(super) warm_root_calls: u64,
    pub(super) ours_rss_kib: Option<u64>,
    pub(super) peer_rss_kib: Option<u64>,
    pub(super) seed_rate: f64,
    pub(super) rewrap: Option<Rewrap>,
    /// The base table without the candidate cache.
    pub(super) uncached: Option<Summary>,
    /// At `scale_rows`: with and without the candidate cache.
    pub(super) scale: Option<(Summary, Summary)>,
    /// Seconds the scale step's extra rows took to insert.
    pub(super) scale_seed_s: Option<f64>,
    /// This build against `--baseline`, in the same run.
    pub(super) before_after: Option<BeforeAfter>,
    /// Criterion mean per benchmark id, in nanoseconds.
    pub(super) criterion: BTreeMap<String, f64>,
}

impl Report<'_> {
    pub(super) fn render(&self) -> String {
        let o = self.options;
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let backend = match o.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        let mib = |kib: Option<u64>| {
            kib.map_or("?".to_owned(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
        };
        let mut text = String::new();
        let ratio =
            |ours: &Summary, peer: &Summary| ours.requests_per_second / peer.requests_per_second;
        let cell = |s: &Summary| {
            format!(
                "{:.0} ({:.2} / {:.2} ms)",
                s.requests_per_second, s.p50_ms, s.p99_ms
            )
        };
        let _ = writeln!(
            text,
            "# Resolution at task start: vault-api vs OpenBao\n\n\
             **At {} connections, vault-api on {backend} serves {:.2}× the requests of \
             OpenBao's plain KV v2 read and {:.2}× OpenBao's with a file audit device; \
             p99 {:.2} ms (OpenBao {:.2} ms plain, {:.2} ms audited).**\n",
            o.connections,
            ratio(&self.ours, &self.peer),
            ratio(&self.ours, &self.peer_audited),
            self.ours.p99_ms,
            self.peer.p99_ms,
            self.peer_audited.p99_ms,
        );
        let _ = writeln!(
            text,
            "{} round(s) of {} s each per level, the three servers in turn, after a 2 s \
             warm-up each; wrk, up to {} threads; {} cores ({}); vault-api on {backend} with \
             {} background secrets{}.\n",
            o.rounds,
            o.duration,
            o.threads,
            cores,
            std::env::consts::ARCH,
            o.rows,
            if o.quick {
                ", debug build (--quick: a harness check, not a measurement)"
            } else {
                ", release build"
            },
        );
        let _ = writeln!(
            text,
            "| connections | vault-api `POST /v1/resolve` | {OPENBAO} KV v2 read | \
             OpenBao, file audit device | ours/plain | ours/audited |"
        );
        let _ = writeln!(text, "|---:|---:|---:|---:|---:|---:|");
        for level in &self.levels {
            let (ours, peer, audited) = (
                Summary::of(&level.ours),
                Summary::of(&level.peer),
                Summary::of(&level.audited),
            );
            let _ = writeln!(
                text,
                "| {}{} | {} | {} | {} | **{:.2}** | **{:.2}** |",
                level.connections,
                if level.connections == 1 {
                    " (one client: sequential latency)"
                } else {
                    ""
                },
                cell(&ours),
                cell(&peer),
                cell(&audited),
                ratio(&ours, &peer),
                ratio(&ours, &audited)
            );
        }
        let _ = writeln!(
            text,
            "\nEach cell: req/s (median over rounds) and p50 / p99 latency.\n"
        );
        let c = &self.cold;
        let _ = writeln!(
            text,
            "- cold start: ready {:.0} ms after the process started, with {} root-key call(s) \
             and {} KEK(s) unwrapped by then (start-up checks the root key and loads the \
             active KEK); the first resolution took {:.2} ms, {} more root-key call(s) and \
             {} more KEK(s); the second {:.2} ms",
            c.ready_ms,
            c.root_calls_at_ready,
            c.keks_at_ready,
            c.first_ms,
            c.root_calls_first,
            c.keks_first,
            c.second_ms
        );
        let _ = writeln!(
            text,
            "- root-key calls while warm (every level's rounds): {}",
            self.warm_root_calls
        );
        let _ = writeln!(
            text,
            "- peak RSS: vault-api {}, OpenBao (plain) {}",
            mib(self.ours_rss_kib),
            mib(self.peer_rss_kib)
        );
        if let Some(replicas) = &self.replicas {
            let _ = writeln!(
                text,
                "\nScale-out: two vault-api replicas on the one PostgreSQL server behind one \
                 wrk ({} connections, half to each), in rounds alternating with one replica \
                 under the same load; every resolution's audit record is appended to the one \
                 chain:\n",
                o.connections
            );
            let _ = writeln!(text, "| replicas | req/s | p50 | p99 |");
            let _ = writeln!(text, "|---:|---:|---:|---:|");
            for (label, s) in [("1", &replicas.one), ("2", &replicas.two)] {
                let _ = writeln!(
                    text,
                    "| {label} | {:.0} | {:.2} ms | {:.2} ms |",
                    s.requests_per_second, s.p50_ms, s.p99_ms
                );
            }
        }
        let _ = writeln!(
            text,
            "\nUnder a flood: a second wrk (1 thread, 32 connections) sends unauthenticated \
             requests with a 4,000-character path at full speed ({:.0} req/s, answered 401 then \
             429) from the same address while the resolution load runs:\n",
            self.flood_rate
        );
        let _ = writeln!(text, "| vault-api `POST /v1/resolve` | req/s | p50 | p99 |");
        let _ = writeln!(text, "|---|---:|---:|---:|");
        for (label, s) in [("alone", &self.ours), ("under the flood", &self.flooded)] {
            let _ = writeln!(
                text,
                "| {label} | {:.0} | {:.2} ms | {:.2} ms |",
                s.requests_per_second, s.p50_ms, s.p99_ms
            );
        }
        if let Some(events) = &self.events {
            let _ = writeln!(
                text,
                "\nResolution while change events flow: a rotation of one of the context's \
                 users' secrets every 50 ms in the background ({} in all; each commits its \
                 audit record and its event in one transaction), first with nobody listening, \
                 then with a Server-Sent Events subscriber on the feed and a webhook endpoint \
                 on loopback receiving every event ({} streamed; {} delivered in {} requests, \
                 {}). The rotation column is the change's own median latency, the event \
                 append included:\n",
                events.rotations,
                events.streamed,
                events.delivered,
                events.delivery_requests,
                if events.delivered >= events.streamed {
                    format!(
                        "every one within {:.1} s of the last rotation",
                        events.delivery_wait_s
                    )
                } else {
                    format!(
                        "{} still missing {:.0} s after the last rotation",
                        events.streamed - events.delivered,
                        events.delivery_wait_s
                    )
                }
            );
            let _ = writeln!(text, "| events | req/s | p50 | p99 | rotation p50 |");
            let _ = writeln!(text, "|---|---:|---:|---:|---:|");
            for (label, s, rotation) in [
                ("nobody listening", &events.quiet, events.rotation_quiet_ms),
                (
                    "SSE subscriber + webhook",
                    &events.subscribed,
                    events.rotation_subscribed_ms,
                ),
            ] {
                let _ = writeln!(
                    text,
                    "| {label} | {:.0} | {:.2} ms | {:.2} ms | {rotation:.2} ms |",
                    s.requests_per_second, s.p50_ms, s.p99_ms
                );
            }
        }
        if let Some(normal) = &self.sync_normal {
            let _ = writeln!(
                text,
                "\nThe cost of `synchronous=FULL` (the default; every commit, the resolution's \
                 audit record included, is on disk before the answer) against `NORMAL` \
                 (`VAULT_SQLITE_SYNCHRONOUS=normal`; a power loss can lose the newest commits):\n"
            );
            let _ = writeln!(text, "| SQLite sync | req/s | p50 | p99 |");
            let _ = writeln!(text, "|---|---:|---:|---:|");
            for (label, s) in [("FULL (default)", &self.ours), ("NORMAL", normal)] {
                let _ = writeln!(
                    text,
                    "| {label} | {:.0} | {:.2} ms | {:.2} ms |",
                    s.requests_per_second, s.p50_ms, s.p99_ms
                );
            }
        }
        let headline = &self.levels[self.headline];
        let _ = writeln!(
            text,
            "\nEvery round at {} connections, req/s and p50/p99 in ms:\n",
            headline.connections
        );
        let _ = writeln!(text, "| round | vault-api | OpenBao | OpenBao, audited |");
        let _ = writeln!(text, "|---:|---:|---:|---:|");
        let figures = |r: &Round| {
            format!(
                "{:.0} ({:.2} / {:.2})",
                r.requests_per_second, r.p50_ms, r.p99_ms
            )
        };
        for (i, ((ours, peer), audited)) in headline
            .ours
            .iter()
            .zip(&headline.peer)
            .zip(&headline.audited)
            .enumerate()
        {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} |",
                i + 1,
                figures(ours),
                figures(peer),
                figures(audited)
            );
        }
        let _ = writeln!(
            text,
            "\nOne resolution returns {} names: a 50-secret profile (mixed `all`/`agents`, values \
             20–200 bytes), 5 workspace keys and 20 project entries, each opened from its own \
             envelope, with an audit record committed before the answer. OpenBao's read returns \
             the same 50 user values from one KV v2 secret (dev server: in-memory storage; no \
             audit device, and a second one with a file audit device).",
            75
        );
        let mut extra = Vec::new();
        extra.push(format!(
            "seeding through the router: {:.0} secrets/s",
            self.seed_rate
        ));
        if let Some(uncached) = &self.uncached {
            let _ = writeln!(
                text,
                "\nvault-api alone, by background rows and candidate cache (req/s, p50, p99):\n"
            );
            let _ = writeln!(
                text,
                "| background rows | cache on | cache off (`VAULT_CANDIDATE_CACHE_MIB=0`) |"
            );
            let _ = writeln!(text, "|---:|---:|---:|");
            let _ = writeln!(
                text,
                "| {} | {} | {} |",
                o.rows,
                cell(&self.ours),
                cell(uncached)
            );
            if let Some((on, off)) = &self.scale {
                let _ = writeln!(
                    text,
                    "| {} (the extra {} rows inserted by SQL with placeholder envelopes in {:.1} s) | {} | {} |",
                    o.scale_rows,
                    o.scale_rows.saturating_sub(o.rows),
                    self.scale_seed_s.unwrap_or(f64::NAN),
                    cell(on),
                    cell(off)
                );
            }
        }
        if let Some(before_after) = &self.before_after {
            before_after.render(&mut text);
        }
        if let Some(rewrap) = &self.rewrap {
            extra.push(format!(
                "`keys rewrap --deks`: {} versions in {:.1} s, {:.0} versions/s",
                rewrap.moved,
                rewrap.seconds,
                rewrap.moved as f64 / rewrap.seconds
            ));
        }
        for (id, nanos) in &self.criterion {
            extra.push(format!("criterion `{id}`: {}", human_nanos(*nanos)));
        }
        if !extra.is_empty() {
            let _ = writeln!(text, "\nAlso measured:\n");
            for line in extra {
                let _ = writeln!(text, "- {line}");
            }
        }
        let mut flags = String::new();
        if o.backend == Backend::Postgres {
            flags.push_str(" --backend postgres");
        }
        if o.quick {
            flags.push_str(" --quick");
        }
        if !o.quick && o.rows != super::DEFAULT_ROWS {
            let _ = write!(flags, " --rows {}", o.rows);
        }
        if !o.quick && o.connections != super::DEFAULT_CONNECTIONS {
            let _ = write!(flags, " --connections {}", o.connections);
        }
        if !o.quick && o.scale_rows != super::DEFAULT_SCALE_ROWS {
            let _ = write!(flags, " --scale-rows {}", o.scale_rows);
        }
        if !o.quick && o.no_criterion {
            flags.push_str(" --no-criterion");
        }
        if !o.quick && o.rounds != super::DEFAULT_ROUNDS {
            let _ = write!(flags, " --rounds {}", o.rounds);
        }
        if !o.quick && o.duration != super::DEFAULT_DURATION {
            let _ = write!(flags, " --duration {}", o.duration);
        }
        if let Some(baseline) = &o.baseline {
            let _ = write!(flags, " --baseline {}", baseline.display());
        }
        let _ = writeln!(text, "\nReproduce with `cargo xtask bench{flags}`.");
        text
    }
}

pub(super) fn human_nanos(nanos: f64) -> String {
    if nanos >= 1e6 {
        format!("{:.2} ms", nanos / 1e6)
    } else if nanos >= 1e3 {
        format!("{:.2} µs", nanos / 1e3)
    } else {
        format!("{nanos:.0} ns")
    }
}

/// The criterion benches of the hot path, run briefly; their means by id.
pub(super) fn criterion(root: &Path) -> Result<BTreeMap<String, f64>> {
    let started = SystemTime::now();
    run_step(
        root,
        cargo().args([
            "bench",
            "--locked",
            "-p",
            "vault-core",
            "--bench",
            "resolve",
            "-p",
            "vault-kms",
            "--bench",
            "envelope",
            "--bench",
            "aead",
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
        ]),
    )?;
    let mut means = BTreeMap::new();
    let base = target_dir(root)?.join("criterion");
    for estimates in find_files(&base, "estimates.json")? {
        // Only what this run measured: target/criterion keeps every earlier bench too.
        let fresh = std::fs::metadata(&estimates)
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified >= started);
        if !fresh {
            continue;
        }
        // …/criterion/<group>/<bench>[/<input>]/new/estimates.json
        let Ok(relative) = estimates.strip_prefix(&base) else {
            continue;
        };
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.len() < 3 || parts[parts.len() - 2] != "new" {
            continue;
        }
        let id = parts[..parts.len() - 2].join("/");
        let data: Value = serde_json::from_str(&std::fs::read_to_string(&estimates)?)?;
        if let Some(mean) = data["mean"]["point_estimate"].as_f64() {
            means.insert(id, mean);
        }
    }
    Ok(means)
}

pub(super) fn find_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(found);
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(find_files(&path, name)?);
        } else if path.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
    Ok(found)
}
