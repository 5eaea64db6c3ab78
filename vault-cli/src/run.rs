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

pub async fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let token = session::token(args.session.session_token_file.as_deref())?;
    let fetched = session::fetch(token).await?;
    warn_expired(&fetched);
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
        Some(Arc::new(redactor(
            &fetched,
            args.session.redact_min_length,
        )?))
    };
    drop(fetched);
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
    let status = wait_forwarding_signals(&mut child).await?;
    for pump in pumps {
        // A descendant that outlives the command may hold its pipes open for good.
        match tokio::time::timeout(DRAIN_AFTER_EXIT, pump).await {
            Ok(Ok(Ok(()))) | Err(_) => {}
            Ok(Ok(Err(error))) => eprintln!("vaultctl: copying the command's output: {error}"),
            Ok(Err(error)) => eprintln!("vaultctl: copying the command's output: {error}"),
        }
    }
    Ok(exit_code(status))
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

/// Waits for the child, passing on each signal a supervisor sends this process.
async fn wait_forwarding_signals(child: &mut tokio::process::Child) -> Result<ExitStatus, Failure> {
    let listen = |kind: SignalKind| {
        signal(kind).map_err(|error| Failure::internal(format!("cannot watch signals: {error}")))
    };
    let mut term = listen(SignalKind::terminate())?;
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut hangup = listen(SignalKind::hangup())?;
    let mut quit = listen(SignalKind::quit())?;
    let mut user1 = listen(SignalKind::user_defined1())?;
    let mut user2 = listen(SignalKind::user_defined2())?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    loop {
        let received = tokio::select! {
            status = child.wait() => {
                return status.map_err(|error| Failure::internal(format!("waiting for the command: {error}")));
            }
            _ = term.recv() => Signal::SIGTERM,
            _ = interrupt.recv() => Signal::SIGINT,
            _ = hangup.recv() => Signal::SIGHUP,
            _ = quit.recv() => Signal::SIGQUIT,
            _ = user1.recv() => Signal::SIGUSR1,
            _ = user2.recv() => Signal::SIGUSR2,
        };
        if let Some(pid) = pid {
            // The child may have exited in between: then there is no one to tell.
            let _ = kill(pid, received);
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
