//! The load: wrk's Lua scripts for both servers, its output parsed, and the medians
//! over alternating rounds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::tools::output;

pub(super) fn lua_string(text: &str) -> String {
    format!("{text:?}")
}

pub(super) fn post_script(token: &str, context: &Value) -> String {
    format!(
        "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = {}\n",
        lua_string(&context.to_string()),
        lua_string(&format!("Bearer {token}"))
    )
}

pub(super) fn get_script(token: &str) -> String {
    format!(
        "wrk.method = \"GET\"\nwrk.headers[\"X-Vault-Token\"] = {}\n",
        lua_string(token)
    )
}

/// `script` with its connections spread over `ports` on loopback, one wrk thread per
/// port in turn: one wrk loading several replicas of one server.
pub(super) fn spread_script(script: &str, ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        "{script}local ports = {{{}}}\nlocal started = 0\n\
         function setup(thread)\n  \
           thread.addr = wrk.lookup(\"127.0.0.1\", ports[started % #ports + 1])[1]\n  \
           started = started + 1\nend\n",
        ports.join(", ")
    )
}

#[derive(Clone)]
pub(super) struct Load {
    pub(super) wrk: PathBuf,
    pub(super) threads: u32,
    pub(super) connections: u32,
}

impl Load {
    /// The same load with `connections` connections (and no more threads than that).
    pub(super) fn with_connections(&self, connections: u32) -> Load {
        Load {
            wrk: self.wrk.clone(),
            threads: self.threads.min(connections).max(1),
            connections,
        }
    }
}

/// One wrk round's figures.
#[derive(Clone, Copy, Debug)]
pub(super) struct Round {
    pub(super) requests_per_second: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
}

impl Load {
    pub(super) fn round(&self, url: &str, script: &Path, seconds: u64) -> Result<Round> {
        let text = output(
            Command::new(&self.wrk)
                .arg(format!("-t{}", self.threads))
                .arg(format!("-c{}", self.connections))
                .arg(format!("-d{seconds}s"))
                .arg("--latency")
                .arg("-s")
                .arg(script)
                .arg(url),
        )?;
        let round = parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))?;
        eprintln!(
            "{url}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            round.requests_per_second, round.p50_ms, round.p99_ms
        );
        Ok(round)
    }
}

impl Load {
    /// A measured round on `url` while a second wrk floods `flood_url` with an unknown
    /// token for as long; the round's figures and the flood's requests/s.
    pub(super) fn flooded(
        &self,
        url: &str,
        script: &Path,
        flood_url: &str,
        seconds: u64,
    ) -> Result<(Round, f64)> {
        use std::os::unix::process::CommandExt;
        let flood = Command::new(&self.wrk)
            .args(["-t1", "-c32"])
            .arg(format!("-d{}s", seconds + 1))
            .args([
                "-H",
                "Authorization: Bearer vault_user_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ])
            .arg(flood_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the flooding wrk")?;
        // Let the flood reach full speed first.
        std::thread::sleep(Duration::from_millis(500));
        let measured = self.round(url, script, seconds);
        let output = flood
            .wait_with_output()
            .context("waiting for the flooding wrk")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let rate = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
            .and_then(|r| r.trim().parse::<f64>().ok())
            .with_context(|| format!("unexpected flood wrk output:\n{text}"))?;
        eprintln!("flood: {rate:.0} unauthenticated req/s");
        Ok((measured?, rate))
    }
}

/// Requests/s and the 50th and 99th latency percentiles from `wrk --latency`; any
/// non-2xx answer or socket error fails the round, since fast wrong answers count for
/// nothing.
pub(super) fn parse_wrk(text: &str) -> Result<Round> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            rps = Some(rest.trim().parse::<f64>()?);
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50 = Some(parse_latency(rest.trim())?);
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = Some(parse_latency(rest.trim())?);
        } else if line.starts_with("Non-2xx or 3xx responses:")
            || line.starts_with("Socket errors:")
        {
            bail!("the round had failures: {line}");
        }
    }
    Ok(Round {
        requests_per_second: rps.context("no Requests/sec")?,
        p50_ms: p50.context("no 50% latency")?,
        p99_ms: p99.context("no 99% latency")?,
    })
}

/// wrk's latencies: `612.00us`, `1.23ms`, `2.00s`, in milliseconds.
pub(super) fn parse_latency(text: &str) -> Result<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        bail!("unknown latency unit in {text:?}")
    };
    Ok(number.parse::<f64>()? * scale)
}

/// Medians over rounds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Summary {
    pub(super) requests_per_second: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
}

impl Summary {
    pub(super) fn of(rounds: &[Round]) -> Summary {
        let median = |pick: fn(&Round) -> f64| {
            let mut values: Vec<f64> = rounds.iter().map(pick).collect();
            values.sort_by(f64::total_cmp);
            let mid = values.len() / 2;
            if values.len().is_multiple_of(2) && mid > 0 {
                (values[mid - 1] + values[mid]) / 2.0
            } else {
                values.get(mid).copied().unwrap_or(f64::NAN)
            }
        };
        Summary {
            requests_per_second: median(|r| r.requests_per_second),
            p50_ms: median(|r| r.p50_ms),
            p99_ms: median(|r| r.p99_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read_in_milliseconds() {
        let text = "Running 2s test @ http://127.0.0.1:1/v1/resolve
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  300.00us   9.00ms   90.00%
  Latency Distribution
     50%  612.00us
     75%    1.20ms
     90%    1.50ms
     99%    3.45ms
  12345 requests in 2.00s, 12.34MB read
Requests/sec:   6172.50
Transfer/sec:      6.17MB
";
        let round = parse_wrk(text).expect("parses");
        assert_eq!(round.requests_per_second, 6172.5);
        assert!((round.p50_ms - 0.612).abs() < 1e-9);
        assert_eq!(round.p99_ms, 3.45);
    }

    #[test]
    fn failed_requests_fail_the_round() {
        let text = "     50%  1.00ms\n     99%  2.00ms\n  Non-2xx or 3xx responses: 3\nRequests/sec: 10.0\n";
        assert!(parse_wrk(text).is_err());
        let text = "     50%  1.00ms\n     99%  2.00ms\n  Socket errors: connect 0, read 1, write 0, timeout 0\nRequests/sec: 10.0\n";
        assert!(parse_wrk(text).is_err());
    }

    #[test]
    fn a_spread_script_sends_each_thread_to_the_next_port() {
        let script = spread_script("wrk.method = \"POST\"\n", &[8201, 8202]);
        assert!(script.starts_with("wrk.method = \"POST\"\n"));
        assert!(script.contains("local ports = {\"8201\", \"8202\"}"));
        assert!(script.contains("ports[started % #ports + 1]"));
    }

    #[test]
    fn fewer_connections_never_mean_idle_threads() {
        let load = Load {
            wrk: PathBuf::from("wrk"),
            threads: 2,
            connections: 16,
        };
        assert_eq!(load.with_connections(1).threads, 1);
        assert_eq!(load.with_connections(64).threads, 2);
        assert_eq!(load.with_connections(64).connections, 64);
    }

    #[test]
    fn medians_over_rounds() {
        let round = |rps, p50, p99| Round {
            requests_per_second: rps,
            p50_ms: p50,
            p99_ms: p99,
        };
        let summary = Summary::of(&[
            round(3.0, 1.0, 9.0),
            round(1.0, 3.0, 7.0),
            round(2.0, 2.0, 8.0),
        ]);
        assert_eq!(
            (summary.requests_per_second, summary.p50_ms, summary.p99_ms),
            (2.0, 2.0, 8.0)
        );
    }
}
