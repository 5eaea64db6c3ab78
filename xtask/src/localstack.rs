//! LocalStack's KMS for the test run, without Docker: `localstack-core` from PyPI in a
//! `python3.13` venv cached under `target/`, started on a free loopback port with its
//! state in a temp dir, and stopped (its whole process group) when the guard drops,
//! whether the tests passed or not.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::{free_port, run_step, stop_process_group};

const PACKAGES: [&str; 2] = ["localstack-core[runtime]==2026.3.0", "service_identity"];
/// Without these pins LocalStack 2026.3 fails to start.
const CONSTRAINTS: &str = "cbor2<6\npyopenssl>=25,<26\ncryptography>=45.0.7,<47\n";
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub struct LocalStack {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl LocalStack {
    pub fn start(root: &Path) -> Result<LocalStack> {
        let python = ensure_venv(root)?;
        let port = free_port()?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("vault-localstack-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log = std::fs::File::create(dir.join("localstack.log"))?;
        let address = format!("127.0.0.1:{port}");
        eprintln!("\n==> starting LocalStack (KMS) on {address}");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(&python)
                .args(["-m", "localstack.runtime.main"])
                .env("OVERRIDE_IN_DOCKER", "0")
                .env("SERVICES", "kms")
                .env("GATEWAY_LISTEN", &address)
                .env("LOCALSTACK_HOST", &address)
                .env("FILESYSTEM_ROOT", dir.join("state"))
                .env("DNS_ADDRESS", "0")
                .env("EAGER_SERVICE_LOADING", "1")
                .env("SKIP_SSL_CERT_DOWNLOAD", "1")
                .env("DISABLE_EVENTS", "1")
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                // Its own process group, so stopping it stops whatever it started.
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {}", python.display()))?
        };
        let mut server = LocalStack { child, dir, port };
        server.wait_healthy()?;
        eprintln!("LocalStack is up at {}", server.url());
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Blocks until LocalStack exits (for `cargo xtask localstack`).
    pub fn wait(mut self) -> Result<()> {
        self.child.wait()?;
        Ok(())
    }

    fn wait_healthy(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "LocalStack exited ({status}) before it was ready:\n{}",
                    self.log_tail()
                );
            }
            if kms_running(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        bail!(
            "LocalStack's KMS was not running after {START_TIMEOUT:?}:\n{}",
            self.log_tail()
        )
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("localstack.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        stop_process_group(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET /_localstack/health` over a bare TCP connection (xtask carries no HTTP client):
/// ready once it reports KMS running.
fn kms_running(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "GET /_localstack/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
        && (answer.contains("\"kms\": \"running\"") || answer.contains("\"kms\":\"running\""))
}

/// The venv's python, installing LocalStack first when the venv lacks it.
fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let tools = root.join("target").join("tools");
    let venv = tools.join("localstack-venv");
    let python = venv.join("bin").join("python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", "import localstack.runtime.main"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Ok(python);
    }
    let base = find_python313().context(
        "LocalStack needs python3.13, and none was found (neither `python3.13` on PATH nor \
         under ~/.pyenv/versions/3.13*); install Python 3.13, e.g. `pyenv install 3.13`",
    )?;
    std::fs::create_dir_all(&tools)?;
    let _ = std::fs::remove_dir_all(&venv);
    run_step(root, Command::new(&base).args(["-m", "venv"]).arg(&venv))?;
    let constraints = tools.join("localstack-constraints.txt");
    std::fs::write(&constraints, CONSTRAINTS)?;
    run_step(
        root,
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-c"])
            .arg(&constraints)
            .args(PACKAGES),
    )?;
    Ok(python)
}

fn find_python313() -> Option<PathBuf> {
    let works = |candidate: &Path| {
        Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|out| {
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("3.13")
            })
    };
    if works(Path::new("python3.13")) {
        return Some(PathBuf::from("python3.13"));
    }
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pyenv")))?;
    let mut versions: Vec<PathBuf> = std::fs::read_dir(pyenv_root.join("versions"))
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("3.13"))
        .map(|entry| entry.path().join("bin").join("python3.13"))
        .filter(|path| works(path))
        .collect();
    versions.sort();
    versions.pop()
}
