//! A real `vault-api serve --dev` on a free loopback port, in its own temp dir, with
//! the two tokens it printed; killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A free loopback port: bound, read, released.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

pub struct DevServer {
    child: Child,
    pub port: u16,
    pub base: String,
    pub operator: String,
    pub orchestrator: String,
    dir: tempfile::TempDir,
}

impl DevServer {
    /// Starts `binary serve --dev` and returns once its banner named both tokens.
    pub fn start(binary: &str) -> DevServer {
        Self::start_with_env(binary, &[])
    }

    /// As `start`, with `env` set for the server.
    pub fn start_with_env(binary: &str, env: &[(&str, &str)]) -> DevServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut child = Command::new(binary)
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        let stdout = child.stdout.take().expect("stdout");
        let (mut operator, mut orchestrator) = (String::new(), String::new());
        // The banner ends with its second rule; the server answers once it is printed.
        let mut rules = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if let Some(token) = line.trim().strip_prefix("operator token:") {
                operator = token.trim().to_owned();
            }
            if let Some(token) = line.trim().strip_prefix("orchestrator token:") {
                orchestrator = token.trim().to_owned();
            }
            if line.starts_with('=') {
                rules += 1;
                if rules == 2 {
                    break;
                }
            }
        }
        assert!(
            !operator.is_empty() && !orchestrator.is_empty(),
            "the dev server printed no tokens"
        );
        DevServer {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            operator,
            orchestrator,
            dir,
        }
    }

    /// The server's working directory (its `vault-dev/` data lives there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `binary serve --dev --listen 127.0.0.1:{port} --data-dir {data}`, for a test to add
/// its flags and environment to and spawn.
pub fn serve_dev(binary: &str, port: u16, data: impl AsRef<Path>) -> Command {
    let mut command = Command::new(binary);
    command
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.as_ref());
    command
}

/// Runs `binary ARGS --dev --data-dir {data}` (a host-side command against the dev
/// server's data) to its end.
pub fn dev_cli(binary: &str, data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(binary)
        .args(args)
        .args(["--dev", "--data-dir"])
        .arg(data)
        .output()
        .expect("runs")
}

/// The binary `bin` of the workspace package `package`, built if it is missing or out
/// of date, in the target directory that holds `beside` (the calling test's own
/// `CARGO_BIN_EXE_…`): a test of one crate that drives another crate's binary.
pub fn workspace_binary(beside: &str, package: &str, bin: &str) -> PathBuf {
    let profile_dir = Path::new(beside)
        .parent()
        .expect("a binary lives in a profile directory");
    let target_dir = profile_dir
        .parent()
        .expect("a profile directory lives in a target directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .env("CARGO_TARGET_DIR", target_dir);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(
        status.success(),
        "cargo build -p {package} --bin {bin} failed"
    );
    profile_dir.join(bin)
}
