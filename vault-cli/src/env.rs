//! `vaultctl env`: an agent context's env written as a file its reader parses back to
//! the same values, for the orchestrator (its token and the context's flags) or inside
//! a container (a session token and its bound context).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use vault_client::wire::{Context, ResolveRequest};

use crate::envfile::render;
use crate::exit::Failure;
use crate::{EnvArgs, auth, session};

pub async fn env(args: EnvArgs) -> Result<ExitCode, Failure> {
    let (env, expired) = match args.context.user {
        Some(user_id) => {
            let Some(profile_id) = args.context.profile else {
                return Err(Failure::usage(
                    "--user needs --profile: the context is a user's profile",
                ));
            };
            let client = auth::client(args.token_file.as_deref())?;
            let context = Context {
                user_id,
                profile_id,
                workspace_id: args.context.workspace,
                project_id: args.context.project,
                milestone_id: args.context.milestone,
            };
            let resolved = client
                .resolve(&ResolveRequest::for_context(context))
                .await?;
            (resolved.env, resolved.expired)
        }
        None => {
            if args.token_file.is_some() {
                return Err(Failure::usage(
                    "--token-file is the orchestrator's, with --user and --profile; a session \
                     token comes from VAULT_SESSION_TOKEN or --session-token-file",
                ));
            }
            if args.context.profile.is_some()
                || args.context.workspace.is_some()
                || args.context.project.is_some()
                || args.context.milestone.is_some()
            {
                return Err(Failure::usage(
                    "context flags need --user; a session token brings its own context",
                ));
            }
            let token = session::token(args.session_token_file.as_deref())?;
            let fetched = session::fetch(token).await?;
            (fetched.env, fetched.expired)
        }
    };
    if !expired.is_empty() {
        eprintln!("vaultctl: left out, expired: {}", expired.join(", "));
    }
    let text = render(args.format, &env).map_err(|error| Failure::refused(error.to_string()))?;
    drop(env);
    match &args.output {
        Some(path) => write_private(path, text.as_bytes()),
        None => {
            let mut stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(Failure::usage(
                    "refusing to print values to a terminal; pass --output FILE or pipe it",
                ));
            }
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|error| Failure::internal(format!("standard output: {error}")))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `bytes` into `path`, readable by its owner only from the first byte: written to a
/// 0600 temporary file beside it and renamed over it, so no reader ever sees a partial
/// file or a moment of wider permissions, whatever `path` was before.
fn write_private(path: &Path, bytes: &[u8]) -> Result<ExitCode, Failure> {
    let failed =
        |error: std::io::Error| Failure::config(format!("--output {}: {error}", path.display()));
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // tempfile creates its files 0600.
    let mut file = tempfile::NamedTempFile::new_in(directory).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|error| failed(error.error))?;
    Ok(ExitCode::SUCCESS)
}
