//! A throwaway PostgreSQL server for the test run: installed from apt when missing,
//! initialised into a temp dir (as the `postgres` user when we are root, since `initdb`
//! refuses root), started on a free loopback port with durability off, and stopped and
//! removed when the guard drops, whether the tests passed or not.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::{free_port, run_step};

pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_root: bool,
}

impl Postgres {
    /// Durability off: the tests' data is thrown away and fsync only slows them.
    pub fn start() -> Result<Postgres> {
        Self::start_with("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    }

    /// Durability on, as production runs it: what the benchmark measures against.
    pub fn start_durable() -> Result<Postgres> {
        Self::start_with("")
    }

    fn start_with(durability: &str) -> Result<Postgres> {
        let as_root = is_root();
        let bin = match find_bin_dir() {
            Some(bin) => bin,
            None => {
                apt_install("postgresql")?;
                find_bin_dir().context(
                    "installed postgresql, but found no initdb under /usr/lib/postgresql",
                )?
            }
        };
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("vault-pg-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let server = Postgres {
            bin,
            dir,
            port: free_port()?,
            as_root,
        };
        if as_root {
            run_step(
                Path::new("/"),
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&server.dir),
            )?;
        }
        server.run_as_owner(&[
            "initdb",
            "-D",
            &server.data_dir(),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ])?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 {durability} -c max_connections=500",
            server.port,
            server.dir.display()
        );
        let log = server.dir.join("server.log");
        let started = server.run_as_owner(&[
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            &server.data_dir(),
            "-l",
            &log.display().to_string(),
            "-o",
            &options,
        ]);
        if let Err(error) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("PostgreSQL did not start: {error}\n{log}");
        }
        eprintln!("PostgreSQL is up at {}", server.admin_url());
        Ok(server)
    }

    /// A superuser URL for the `postgres` database; tests create their own databases.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates a database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let port = self.port.to_string();
        let socket_dir = self.dir.display().to_string();
        self.run_as_owner(&[
            "createdb",
            "-h",
            &socket_dir,
            "-p",
            &port,
            "-U",
            "postgres",
            name,
        ])?;
        Ok(format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
    }

    fn data_dir(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run_as_owner(&self, args: &[&str]) -> Result<()> {
        let program = self.bin.join(args[0]).display().to_string();
        let mut command = if self.as_root {
            let line = std::iter::once(program.as_str())
                .chain(args[1..].iter().copied())
                .map(shell_quote)
                .collect::<Vec<_>>()
                .join(" ");
            let mut su = Command::new("su");
            su.args(["postgres", "-s", "/bin/sh", "-c", &line]);
            su
        } else {
            let mut direct = Command::new(&program);
            direct.args(&args[1..]);
            direct
        };
        run_step(&self.dir, &mut command)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        if let Err(error) =
            self.run_as_owner(&["pg_ctl", "stop", "-D", &data, "-m", "immediate", "-w"])
        {
            eprintln!("warning: could not stop the test PostgreSQL: {error}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The newest `/usr/lib/postgresql/<version>/bin` with an `initdb` (Debian's layout).
fn find_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Installs a Debian package (through `sudo -n` when we are not root).
pub fn apt_install(package: &str) -> Result<()> {
    eprintln!("{package} is not installed; installing it from apt");
    let as_root = is_root();
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = if as_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run_step(Path::new("/"), &mut command)
    };
    apt(&["update", "-qq"])?;
    apt(&["install", "-y", "-qq", "--no-install-recommends", package])
        .with_context(|| format!("could not install {package} with apt-get"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
