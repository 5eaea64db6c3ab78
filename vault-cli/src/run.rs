//! `vaultctl run` and `vaultctl redact`.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use vault_client::wire::RuntimeEnv;
use vault_redact::{Options, Redactor};

use crate::exit::{Failure, NOT_EXECUTABLE, NOT_FOUND};
use crate::pump::pump;
use crate::session::{self, TOKEN_VARIABLE};
use crate::{RunArgs, SessionArgs};

/// What `--clean` keeps of the inherited environment.
const KEPT_WHEN_CLEAN: [&str; 6] = ["PATH", "HOME", "USER", "LANG", "TERM", "TZ"];

/// How long output of the command's descendants is still copied after it exits.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// What `run --watch` does when the env changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnChange {
    Restart,
    Signal(Signal),
}

impl OnChange {
    pub fn parse(text: &str) -> Result<OnChange, String> {
        if text == "restart" {
            return Ok(OnChange::Restart);
        }
        let name = text
            .strip_prefix("signal:")
            .ok_or_else(|| "must be `restart` or `signal:NAME` (signal:HUP)".to_owned())?;
        let name = name.to_ascii_uppercase();
        let full = if name.starts_with("SIG") {
            name
        } else {
            format!("SIG{name}")
        };
        full.parse::<Signal>()
            .map(OnChange::Signal)
            .map_err(|_| format!("{text:?} names no signal"))
    }
}

/// The command as it runs: the child and the pumps copying its output.
struct Running {
    child: tokio::process::Child,
    pumps: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn pid(&self) -> Option<Pid> {
        self.child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
    }

    /// Waits for the output of the command (and of descendants, for a while) to be
    /// copied.
    async fn drain(self) {
        for pump in self.pumps {
            // A descendant that outlives the command may hold its pipes open for good.
            match tokio::time::timeout(DRAIN_AFTER_EXIT, pump).await {
                Ok(Ok(Ok(()))) | Err(_) => {}
                Ok(Ok(Err(error))) => eprintln!("vaultctl: copying the command's output: {error}"),
                Ok(Err(error)) => eprintln!("vaultctl: copying the command's output: {error}"),
            }
        }
    }
}

/// Starts the command with `fetched`'s env (and a redactor for its values).
fn start(args: &RunArgs, fetched: &RuntimeEnv) -> Result<Running, Failure> {
    let Some((program, arguments)) = args.command.split_first() else {
        return Err(Failure::config("no command to run"));
    };
    let mut command = tokio::process::Command::new(program);
    command.args(arguments).stdin(Stdio::inherit());
    if args.clean {
        command.env_clear();
        for name in KEPT_WHEN_CLEAN {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
    }
    // The token opens every value of the session: the command never gets it.
    command.env_remove(TOKEN_VARIABLE);
    for (name, value) in &fetched.env {
        command.env(name.as_str(), value.expose());
    }
    // The last of `--redact` and `--no-redact` wins; redaction when neither is given.
    let redacting = args.redact || !args.no_redact;
    let redactor = if !redacting {
        None
    } else {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        Some(Arc::new(redactor(fetched, args.session.redact_min_length)?))
    };
    let mut child = command.spawn().map_err(|error| {
        let code = match error.kind() {
            std::io::ErrorKind::NotFound => NOT_FOUND,
            std::io::ErrorKind::PermissionDenied => NOT_EXECUTABLE,
            _ => crate::exit::INTERNAL,
        };
        Failure {
            code,
            line: format!("cannot start {}: {error}", program.to_string_lossy()),
        }
    })?;
    drop(command);
    let mut pumps = Vec::new();
    if let Some(redactor) = &redactor {
        if let Some(stdout) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(
                redactor.clone(),
                stdout,
                tokio::io::stdout(),
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(
                redactor.clone(),
                stderr,
                tokio::io::stderr(),
            )));
        }
    }
    Ok(Running { child, pumps })
}

pub async fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let token = session::token(args.session.session_token_file.as_deref())?;
    let client = session::client(token)?;
    // The watch starts before the env is read: a change between the two is seen (at
    // worst one comparison that finds nothing new), never missed.
    let mut changes = if args.watch {
        Some(crate::watch::start(&client).await?)
    } else {
        None
    };
    let mut fetched = client.runtime_env().await?;
    warn_expired(&fetched);
    let mut running = start(&args, &fetched)?;
    if changes.is_none() {
        // Nothing will compare against them: the values go now (zeroized).
        fetched.env.clear();
    }
    let mut signals = Signals::new()?;
    loop {
        let change = async {
            match changes.as_mut() {
                Some(changes) => changes.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = running.child.wait() => {
                let status = status.map_err(|error| Failure::internal(format!("waiting for the command: {error}")))?;
                running.drain().await;
                return Ok(exit_code(status));
            }
            received = signals.recv() => {
                if let Some(pid) = running.pid() {
                    // The child may have exited in between: then there is no one to tell.
                    let _ = kill(pid, received);
                }
            }
            change = change => {
                let Some(change) = change else {
                    changes = None;
                    continue;
                };
                if let crate::watch::Change::Stopped(reason) = change {
                    eprintln!("vaultctl: no longer watching for changes: {reason}");
                    changes = None;
                    continue;
                }
                // More changes may follow (a batch of rotations): act once on all.
                let deadline = tokio::time::Instant::now() + args.debounce;
                if let Some(changes) = changes.as_mut() {
                    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, changes.recv()).await {}
                }
                let latest = match client.runtime_env().await {
                    Ok(latest) => latest,
                    Err(error) => {
                        eprintln!("vaultctl: the env changed but could not be read ({error}); the command keeps the env it has");
                        continue;
                    }
                };
                let changed = changed_names(&fetched, &latest);
                if changed.is_empty() {
                    continue;
                }
                fetched = latest;
                match args.on_change {
                    OnChange::Signal(signal) => {
                        eprintln!("vaultctl: changed: {}; sending {signal}", changed.join(", "));
                        if let Some(pid) = running.pid() {
                            let _ = kill(pid, signal);
                        }
                    }
                    OnChange::Restart => {
                        eprintln!("vaultctl: changed: {}; restarting the command", changed.join(", "));
                        warn_expired(&fetched);
                        match stop(running, args.grace, &mut signals).await? {
                            Stopped::ForRestart => running = start(&args, &fetched)?,
                            // A supervisor asked this process to stop meanwhile: the
                            // command ended for that, not for the change.
                            Stopped::Asked(status) => return Ok(exit_code(status)),
                        }
                    }
                }
            }
        }
    }
}

/// How a command stopped for a restart ended.
enum Stopped {
    ForRestart,
    /// A supervisor's signal came while it stopped; its status is `run`'s answer.
    Asked(ExitStatus),
}

/// SIGTERM, up to `grace` to exit, then SIGKILL. Signals a supervisor sends meanwhile
/// are passed on; a TERM, INT or QUIT among them means no restart follows.
async fn stop(
    running: Running,
    grace: Duration,
    signals: &mut Signals,
) -> Result<Stopped, Failure> {
    let mut running = running;
    let mut asked = false;
    if let Some(pid) = running.pid() {
        let _ = kill(pid, Signal::SIGTERM);
    }
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    let mut killed = false;
    let status = loop {
        tokio::select! {
            status = running.child.wait() => {
                break status.map_err(|error| Failure::internal(format!("waiting for the command: {error}")))?;
            }
            received = signals.recv() => {
                asked |= matches!(received, Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT);
                if let Some(pid) = running.pid() {
                    let _ = kill(pid, received);
                }
            }
            () = &mut deadline, if !killed => {
                eprintln!("vaultctl: the command did not exit within {}; killing it", humantime::format_duration(grace));
                killed = true;
                let _ = running.child.start_kill();
            }
        }
    };
    running.drain().await;
    Ok(if asked {
        Stopped::Asked(status)
    } else {
        Stopped::ForRestart
    })
}

/// The names whose value differs between `before` and `after`, with those added and
/// removed: what `--watch` reports (never a value).
fn changed_names(before: &RuntimeEnv, after: &RuntimeEnv) -> Vec<String> {
    let mut changed = Vec::new();
    for (name, value) in &after.env {
        match before.env.get(name) {
            Some(old) if old.expose() == value.expose() => {}
            Some(_) => changed.push(name.as_str().to_owned()),
            None => changed.push(format!("{} (added)", name.as_str())),
        }
    }
    for name in before.env.keys() {
        if !after.env.contains_key(name) {
            changed.push(format!("{} (removed)", name.as_str()));
        }
    }
    changed
}

pub async fn redact_stdin(args: SessionArgs) -> Result<ExitCode, Failure> {
    let token = session::token(args.session_token_file.as_deref())?;
    let fetched = session::fetch(token).await?;
    let redactor = Arc::new(redactor(&fetched, args.redact_min_length)?);
    drop(fetched);
    pump(redactor, tokio::io::stdin(), tokio::io::stdout())
        .await
        .map_err(|error| Failure::internal(format!("copying standard input: {error}")))?;
    Ok(ExitCode::SUCCESS)
}

fn redactor(fetched: &RuntimeEnv, min_value_len: usize) -> Result<Redactor, Failure> {
    let redactor = Redactor::new(
        fetched
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose().as_bytes())),
        Options { min_value_len },
    )
    .map_err(|error| Failure::internal(error.to_string()))?;
    if !redactor.too_short().is_empty() {
        eprintln!(
            "vaultctl: not redacted (shorter than {min_value_len} bytes): {}",
            redactor.too_short().join(", ")
        );
    }
    Ok(redactor)
}

fn warn_expired(fetched: &RuntimeEnv) {
    if !fetched.expired.is_empty() {
        eprintln!(
            "vaultctl: expired, so not set: {}",
            fetched.expired.join(", ")
        );
    }
}

/// The signals a supervisor sends this process, which go on to the command.
struct Signals {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    user1: tokio::signal::unix::Signal,
    user2: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, Failure> {
        let listen = |kind: SignalKind| {
            signal(kind)
                .map_err(|error| Failure::internal(format!("cannot watch signals: {error}")))
        };
        Ok(Signals {
            term: listen(SignalKind::terminate())?,
            interrupt: listen(SignalKind::interrupt())?,
            hangup: listen(SignalKind::hangup())?,
            quit: listen(SignalKind::quit())?,
            user1: listen(SignalKind::user_defined1())?,
            user2: listen(SignalKind::user_defined2())?,
        })
    }

    async fn recv(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::SIGTERM,
            _ = self.interrupt.recv() => Signal::SIGINT,
            _ = self.hangup.recv() => Signal::SIGHUP,
            _ = self.quit.recv() => Signal::SIGQUIT,
            _ = self.user1.recv() => Signal::SIGUSR1,
            _ = self.user2.recv() => Signal::SIGUSR2,
        }
    }
}

/// The command's exit code, or 128 + the signal that ended it, as a shell reports it.
fn exit_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(u8::MAX)),
        (None, Some(signal)) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(u8::MAX)),
        (None, None) => ExitCode::FAILURE,
    }
}
