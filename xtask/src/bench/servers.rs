//! The servers under load: vault-api seeded through its bench seeder, and OpenBao in
//! dev mode with the same values, each on a free loopback port with its log kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::{free_port, stop_process_group};

use super::PEER_PATH;
use super::report::Rewrap;
use super::tools::{output, random_token, write_file};

/// The candidate cache turned off.
pub(super) const UNCACHED: &[(&str, &str)] = &[("VAULT_CANDIDATE_CACHE_MIB", "0")];
/// SQLite syncing at checkpoints rather than at every commit.
pub(super) const SYNC_NORMAL: &[(&str, &str)] = &[("VAULT_SQLITE_SYNCHRONOUS", "normal")];

pub(super) struct Binaries {
    pub(super) server: PathBuf,
    pub(super) seeder: PathBuf,
}

pub(super) struct ServerEnv {
    pub(super) database_url: String,
    pub(super) key: String,
}

impl ServerEnv {
    pub(super) fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("DATABASE_URL", &self.database_url)
            .env("ENCRYPTION_KEY", &self.key)
            .env_remove("VAULT_ROOT_PROVIDER")
            .env_remove("ENCRYPTION_KEY_PREVIOUS");
        command
    }

    pub(super) fn seed(&self, binaries: &Binaries, args: &[&str]) -> Result<String> {
        output(self.command(&binaries.seeder).args(args))
    }

    /// `keys rewrap --deks` over everything seeded: DEKs moved per second.
    pub(super) fn rewrap_throughput(&self, binaries: &Binaries) -> Result<Rewrap> {
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
pub(super) struct Seeded {
    pub(super) orchestrator_token: String,
    pub(super) context: Value,
    pub(super) user_names: Vec<String>,
    pub(super) expected_names: Vec<String>,
}

impl Seeded {
    pub(super) fn from_json(value: &Value) -> Result<Seeded> {
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
    pub(super) name: &'static str,
    pub(super) child: Child,
    pub(crate) base: String,
    pub(super) port: u16,
    pub(super) token: String,
    pub(super) log: PathBuf,
    pub(super) agent: ureq::Agent,
}

impl Server {
    /// vault-api with `settings` (environment variables) beside the defaults.
    pub(super) fn start_vault(
        binaries: &Binaries,
        env: &ServerEnv,
        work: &Path,
        settings: &[(&str, &str)],
    ) -> Result<Server> {
        let port = free_port()?;
        let log = work.join(format!("vault-api-{port}.log"));
        let mut command = env.command(&binaries.server);
        command.envs(settings.iter().copied());
        command
            .arg("serve")
            .env("VAULT_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn");
        Server::spawn("vault-api", command, port, log, String::new(), "/readyz")
    }

    pub(super) fn start_openbao(bao: &Path, work: &Path, audited: bool) -> Result<Server> {
        let port = free_port()?;
        let token = random_token()?;
        let log = work.join(format!("openbao-{port}.log"));
        let mut command = Command::new(bao);
        command.args(["server", "-dev"]);
        if audited {
            let trail = work.join("openbao-audit.log");
            let config = write_file(
                work,
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
            .env("HOME", work)
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
            port,
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
    pub(super) fn check_resolution(&self, seeded: &Seeded) -> Result<BTreeMap<String, String>> {
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
    pub(super) fn load_peer_secret(
        &self,
        seeded: &Seeded,
        resolved: &BTreeMap<String, String>,
    ) -> Result<()> {
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

    pub(super) fn check_peer_secret(&self, seeded: &Seeded) -> Result<()> {
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

    /// Root-key provider calls so far (wraps and unwraps), from `/metrics`.
    pub(super) fn root_calls(&self) -> Result<u64> {
        Ok(self.counter("vault_root_unwraps_total")? + self.counter("vault_root_wraps_total")?)
    }

    /// One counter of vault-api's `/metrics`.
    pub(super) fn counter(&self, metric: &str) -> Result<u64> {
        let text = self
            .agent
            .get(format!("{}/metrics", self.base))
            .call()?
            .body_mut()
            .read_to_string()?;
        let value = text
            .lines()
            .find_map(|line| line.strip_prefix(metric)?.strip_prefix(' '))
            .with_context(|| format!("/metrics lacks {metric}"))?;
        Ok(value.trim().parse::<f64>()? as u64)
    }

    pub(super) fn peak_rss_kib(&self) -> Option<u64> {
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
