//! `vaultctl`: the vault's command line. The agent side: `run` starts a command inside
//! a container with its session's env, `redact` filters text through the same
//! redactor; `env` writes a context's env as a file its reader parses back. The user
//! side: `list`, `get`, `set`, `rm`, `versions` and `rollback` of user secrets,
//! workspace keys and project entries, by name.

mod auth;
mod env;
mod envfile;
mod exit;
mod import;
mod manage;
mod pump;
mod run;
mod session;
mod tty;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::exit::Failure;

const EXIT_CODES: &str = "\
Exit codes:
  0-125    run: the command's own exit code
  128+N    run: the command was ended by signal N
  126      run: the command could not be started (not executable)
  127      run: the command was not found
  2        the arguments are wrong, or ask for something refused (values to a terminal)
  65       the vault refused (the line names the problem code and field), or the
           env cannot be written in the format asked (the line names the variable)
  69       the vault could not be reached or cannot serve now; retry
  78       the configuration is wrong (a variable or file named in the line)";

#[derive(Parser)]
#[command(name = "vaultctl", version, about = "The vault's command line", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a command with the env of this container's session, its output redacted.
    ///
    /// The session token comes from VAULT_SESSION_TOKEN or --session-token-file; the
    /// orchestrator passes the container that token and never the values. The env is
    /// fetched in one request, merged over the inherited environment (or a minimal one
    /// with --clean) and the command started with it; the token is never passed on.
    /// Signals (TERM, INT, HUP, QUIT, USR1, USR2) are forwarded to the command, and
    /// its exit code is returned.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Copies standard input to standard output with the session's values redacted.
    #[command(after_help = EXIT_CODES)]
    Redact(SessionArgs),
    /// Writes an agent context's env in a format its reader parses back to the same
    /// values.
    ///
    /// With --user and --profile (and --workspace, --project, --milestone as the
    /// context has them) it resolves that context with the orchestrator's token
    /// (VAULT_TOKEN, VAULT_TOKEN_FILE or --token-file); without them, the context of
    /// the session token (VAULT_SESSION_TOKEN or --session-token-file). With --output
    /// the file is created readable by its owner only (0600) and replaced whole;
    /// without it the env goes to standard output, never to a terminal. Prefer
    /// `vaultctl run`: a file of values outlives the process that needed them.
    #[command(after_help = EXIT_CODES)]
    Env(EnvArgs),
    /// Lists user secrets (yours, or --user's for operator and orchestrator tokens),
    /// a workspace's keys (--workspace) or a project's entries (--project), masked.
    #[command(after_help = EXIT_CODES)]
    List(ListArgs),
    /// Shows one entry's metadata and masked value; no command prints a value.
    #[command(after_help = EXIT_CODES)]
    Get(GetArgs),
    /// Creates an entry, or changes the one of that name: a new value (a rotation, a
    /// new version), its scope, profiles or milestones, category, expiry, description.
    ///
    /// The value is read from --from-file (byte for byte), from standard input when it
    /// is piped or with --stdin (one trailing newline dropped), or from a hidden prompt
    /// on a terminal. There is no flag for the value itself: a command line is visible
    /// to every process on the machine (`ps`) and kept in shell history.
    #[command(after_help = EXIT_CODES)]
    Set(SetArgs),
    /// Deletes an entry with every version.
    #[command(after_help = EXIT_CODES)]
    Rm(EntryArgs),
    /// Lists an entry's versions, masked.
    #[command(after_help = EXIT_CODES)]
    Versions(GetArgs),
    /// Makes an earlier version's value current again, as a new version.
    #[command(after_help = EXIT_CODES)]
    Rollback(RollbackArgs),
    /// Plans, and with --apply writes, the names of a .env file: each one created, or
    /// rotated where the name exists, one audited request per name.
    ///
    /// The file is read by dotenvy: `NAME=value`, single- and double-quoted values,
    /// multi-line quoted values, `export NAME=…` and comments. Names that are invalid,
    /// protected, held twice in the file or by several scopes in the vault are refused
    /// with the reason; a line that cannot be parsed refuses the whole file. The plan
    /// and the report name names only, never a value. Exit 65 when any name is refused.
    #[command(after_help = EXIT_CODES)]
    Import(ImportArgs),
    /// Writes names and masked metadata as JSON (there is no plaintext export for
    /// people; agents get values through `run`).
    #[command(after_help = EXIT_CODES)]
    Export(ExportArgs),
}

#[derive(Args)]
struct ImportArgs {
    /// The .env file.
    file: PathBuf,
    #[command(flatten)]
    owner: OwnerArgs,
    /// Write the plan; without it nothing changes.
    #[arg(long)]
    apply: bool,
    /// The scope of every imported name (as `set --scope`).
    #[arg(long)]
    scope: Option<String>,
    /// A profile every imported name reaches (repeatable; implies `agents`).
    #[arg(long = "profile", value_name = "PROFILE_ID")]
    profiles: Vec<String>,
    /// A milestone every imported entry reaches (repeatable; project entries).
    #[arg(long = "milestone", value_name = "MILESTONE_ID")]
    milestones: Vec<String>,
    /// The category of every imported project entry (new ones default to secret).
    #[arg(long)]
    category: Option<String>,
    /// The plan (or report) as JSON.
    #[arg(long)]
    json: bool,
    /// The token from this file instead of VAULT_TOKEN.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
}

#[derive(Args)]
struct ExportArgs {
    #[command(flatten)]
    owner: OwnerArgs,
    /// The token from this file instead of VAULT_TOKEN.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
}

/// Whose entries: a user's secrets by default.
#[derive(Args)]
struct OwnerArgs {
    /// A workspace's BYOK keys (its admins, operators).
    #[arg(long, value_name = "WORKSPACE_ID", conflicts_with_all = ["project", "user"])]
    workspace: Option<String>,
    /// A project's vault entries (by the token's project role, operators).
    #[arg(long, value_name = "PROJECT_ID", conflicts_with = "user")]
    project: Option<String>,
    /// Whose user secrets, for operator and orchestrator tokens (a user token works on
    /// its own).
    #[arg(long, value_name = "USER_ID")]
    user: Option<String>,
}

#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    owner: OwnerArgs,
    /// Only names starting with this.
    #[arg(long)]
    prefix: Option<String>,
    /// Only expired entries.
    #[arg(long)]
    expired: bool,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The token from this file instead of VAULT_TOKEN.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
}

/// One entry, by name.
#[derive(Args)]
struct EntryArgs {
    /// `^[A-Z_][A-Z0-9_]*$`.
    name: String,
    #[command(flatten)]
    owner: OwnerArgs,
    /// Which entry, when the name has several with different scopes.
    #[arg(long, value_name = "SECRET_ID")]
    id: Option<String>,
    /// The token from this file instead of VAULT_TOKEN.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
}

#[derive(Args)]
struct GetArgs {
    #[command(flatten)]
    entry: EntryArgs,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RollbackArgs {
    #[command(flatten)]
    entry: EntryArgs,
    /// The version whose value becomes current again.
    version: u32,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ValueArgs {
    /// Read the value from this file, byte for byte (a PEM keeps its last newline).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["stdin", "keep_value"])]
    from_file: Option<PathBuf>,
    /// Read the value from standard input even on a terminal.
    #[arg(long, conflicts_with = "keep_value")]
    stdin: bool,
    /// Change only the metadata of an existing entry; its value stays.
    #[arg(long)]
    keep_value: bool,
}

#[derive(Args)]
struct SetArgs {
    #[command(flatten)]
    entry: EntryArgs,
    #[command(flatten)]
    value: ValueArgs,
    /// `all` or `agents` (user secrets, workspace keys); `project` or `milestone`
    /// (project entries). Implied by --profile or --milestone.
    #[arg(long)]
    scope: Option<String>,
    /// A profile an `agents` scope reaches (repeatable).
    #[arg(long = "profile", value_name = "PROFILE_ID")]
    profiles: Vec<String>,
    /// A milestone a `milestone` scope reaches (repeatable; project entries).
    #[arg(long = "milestone", value_name = "MILESTONE_ID")]
    milestones: Vec<String>,
    /// api_key, access_token, secret (new entries' default), certificate, password,
    /// webhook_secret or other (project entries).
    #[arg(long)]
    category: Option<String>,
    /// RFC 3339, in the future.
    #[arg(long, value_name = "TIME", conflicts_with = "no_expiry")]
    expires_at: Option<String>,
    /// Remove the expiry.
    #[arg(long)]
    no_expiry: bool,
    /// A description; an empty one removes it.
    #[arg(long)]
    description: Option<String>,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ContextArgs {
    #[arg(long, value_name = "USER_ID")]
    user: Option<String>,
    #[arg(long, value_name = "PROFILE_ID")]
    profile: Option<String>,
    #[arg(long, value_name = "WORKSPACE_ID")]
    workspace: Option<String>,
    #[arg(long, value_name = "PROJECT_ID")]
    project: Option<String>,
    #[arg(long, value_name = "MILESTONE_ID")]
    milestone: Option<String>,
}

#[derive(Args)]
struct EnvArgs {
    /// dotenv (`NAME='value'`, for python-dotenv and Compose), docker (`--env-file`,
    /// which cannot hold a line break), shell (`export NAME='value'`) or json.
    #[arg(long, value_enum)]
    format: envfile::Format,
    /// Write here (0600, replaced whole) instead of standard output.
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
    #[command(flatten)]
    context: ContextArgs,
    /// The orchestrator's token from this file instead of VAULT_TOKEN.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// The session token from this file (removed once read) instead of
    /// VAULT_SESSION_TOKEN.
    #[arg(long, value_name = "PATH", conflicts_with = "token_file")]
    session_token_file: Option<PathBuf>,
}

#[derive(Args)]
struct SessionArgs {
    /// Read the session token from this file instead of VAULT_SESSION_TOKEN. The file
    /// is removed once read, so the command cannot read it again (a read-only mount is
    /// left with a warning).
    #[arg(long, value_name = "PATH")]
    session_token_file: Option<PathBuf>,
    /// Values shorter than this many bytes are not redacted (they would blank out
    /// ordinary output); their names are listed on standard error.
    #[arg(long, value_name = "BYTES", default_value_t = vault_redact::Options::DEFAULT_MIN_VALUE_LEN)]
    redact_min_length: usize,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// Redact every injected value, and its base64, hex, percent and JSON forms, from
    /// the command's stdout and stderr as `[REDACTED:NAME]` (the default; for agents,
    /// whose output becomes a transcript, keep it).
    #[arg(long, overrides_with = "no_redact")]
    redact: bool,
    /// Pass the command's output through untouched.
    #[arg(long, overrides_with = "redact")]
    no_redact: bool,
    /// Start the command with only PATH, HOME, USER, LANG, TERM and TZ of the
    /// inherited environment under the session's env.
    #[arg(long)]
    clean: bool,
    /// Keep watching the session's env (the vault's event stream, with the session
    /// token) and, when it changes (a rotation, a rollback, a secret added, deleted or
    /// rescoped, an expiry), restart the command with the new env, or with
    /// --on-change signal:NAME send it that signal. Which names changed goes to
    /// stderr, never a value. The command exiting on its own ends `run` with its code.
    #[arg(long)]
    watch: bool,
    /// With --watch: `restart` (SIGTERM, --grace, then SIGKILL, and a new command with
    /// the new env) or `signal:NAME` (`signal:HUP`) for a command that rereads its
    /// secrets itself.
    #[arg(long, default_value = "restart", requires = "watch", value_parser = run::OnChange::parse)]
    on_change: run::OnChange,
    /// With --watch: how long the command has to exit after SIGTERM before SIGKILL.
    #[arg(long, default_value = "10s", requires = "watch", value_parser = humantime::parse_duration)]
    grace: std::time::Duration,
    /// With --watch: how long to wait after a change for more (a batch of rotations
    /// restarts the command once).
    #[arg(long, default_value = "1s", requires = "watch", value_parser = humantime::parse_duration)]
    debounce: std::time::Duration,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<std::ffi::OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return Failure::internal(format!("cannot start: {error}")).report(),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Redact(args) => run::redact_stdin(args).await,
            Command::Env(args) => env::env(args).await,
            Command::List(args) => manage::list(args).await,
            Command::Get(args) => manage::get(args).await,
            Command::Set(args) => manage::set(args).await,
            Command::Rm(args) => manage::rm(args).await,
            Command::Versions(args) => manage::versions(args).await,
            Command::Rollback(args) => manage::rollback(args).await,
            Command::Import(args) => import::import(args).await,
            Command::Export(args) => import::export(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
