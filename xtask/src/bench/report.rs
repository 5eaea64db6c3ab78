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
    pub(super) ours: Summary,
    pub(super) peer: Summary,
    pub(super) ours_rounds: Vec<Round>,
    pub(super) peer_rounds: Vec<Round>,
    /// The peer with a file audit device, measured after the alternating rounds.
    pub(super) peer_audited: Summary,
    pub(super) warm_root_calls: u64,
    pub(super) ours_rss_kib: Option<u64>,
    pub(super) peer_rss_kib: Option<u64>,
    pub(super) seed_rate: f64,
    pub(super) rewrap: Option<Rewrap>,
    /// The base table without the candidate cache.
    pub(super) uncached: Option<Summary>,
    /// At `scale_rows`: with and without the candidate cache.
    pub(super) scale: Option<(Summary, Summary)>,
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
        let _ = writeln!(
            text,
            "# Resolution at task start: vault-api vs OpenBao\n\n\
             {} round(s) of {} s each, alternating, after a 2 s warm-up each; wrk, {} threads, \
             {} connections; {} cores ({}); vault-api on {backend} with {} background secrets{}.\n",
            o.rounds,
            o.duration,
            o.threads,
            o.connections,
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
            "| | vault-api `POST /v1/resolve` | {OPENBAO} KV v2 read | ours/peer |"
        );
        let _ = writeln!(text, "|---|---:|---:|---:|");
        let _ = writeln!(
            text,
            "| req/s (median) | {:.0} | {:.0} | **{:.2}** |",
            self.ours.requests_per_second,
            self.peer.requests_per_second,
            self.ours.requests_per_second / self.peer.requests_per_second
        );
        let _ = writeln!(
            text,
            "| p50 | {:.2} ms | {:.2} ms | {:.2} |",
            self.ours.p50_ms,
            self.peer.p50_ms,
            self.ours.p50_ms / self.peer.p50_ms
        );
        let _ = writeln!(
            text,
            "| p99 | {:.2} ms | {:.2} ms | {:.2} |",
            self.ours.p99_ms,
            self.peer.p99_ms,
            self.ours.p99_ms / self.peer.p99_ms
        );
        let _ = writeln!(
            text,
            "| req/s, OpenBao with a file audit device | | {:.0} (p50 {:.2} ms, p99 {:.2} ms) | **{:.2}** |",
            self.peer_audited.requests_per_second,
            self.peer_audited.p50_ms,
            self.peer_audited.p99_ms,
            self.ours.requests_per_second / self.peer_audited.requests_per_second
        );
        let _ = writeln!(
            text,
            "| peak RSS | {} | {} | |",
            mib(self.ours_rss_kib),
            mib(self.peer_rss_kib)
        );
        let _ = writeln!(
            text,
            "| root-key calls while warm | {} | | |",
            self.warm_root_calls
        );
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
        let _ = writeln!(text, "\nEvery round, req/s and p50/p99 in ms:\n");
        let _ = writeln!(text, "| round | vault-api | OpenBao |");
        let _ = writeln!(text, "|---:|---:|---:|");
        for (i, (ours, peer)) in self.ours_rounds.iter().zip(&self.peer_rounds).enumerate() {
            let _ = writeln!(
                text,
                "| {} | {:.0} ({:.2} / {:.2}) | {:.0} ({:.2} / {:.2}) |",
                i + 1,
                ours.requests_per_second,
                ours.p50_ms,
                ours.p99_ms,
                peer.requests_per_second,
                peer.p50_ms,
                peer.p99_ms
            );
        }
        let _ = writeln!(
            text,
            "\nOne resolution returns {} names: a 50-secret profile (mixed `all`/`agents`, values \
             20–200 bytes), 5 workspace keys and 20 project entries, each opened from its own \
             envelope, with an audit record committed before the answer. OpenBao's read returns \
             the same 50 user values from one KV v2 secret (dev server: in-memory storage; no \
             audit device in the alternating rounds, then a file audit device).",
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
            let cell = |s: &Summary| {
                format!(
                    "{:.0} ({:.2} / {:.2} ms)",
                    s.requests_per_second, s.p50_ms, s.p99_ms
                )
            };
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
                    "| {} (the extra rows inserted by SQL with placeholder envelopes) | {} | {} |",
                    o.scale_rows,
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
        if !o.quick && o.scale_rows == 0 {
            flags.push_str(" --scale-rows 0");
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
