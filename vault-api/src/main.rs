//! The `vault-api` binary: `serve` (and `serve --dev`), `keygen`, `token …` and
//! `audit …`, `keys …` and `migrate`. Errors end as one line on stderr and a non-zero exit.

mod cli;
mod serve;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    // Database work is all the blocking pool runs; a thread per connection is enough,
    // and an idle crowd of them only adds wake-ups to every query (measured in
    // `cargo xtask bench`). A bad database URL is reported by `serve` itself.
    if let Command::Serve(args) = &cli.command
        && let Ok(connections) = args.db_connections()
    {
        runtime.max_blocking_threads(connections as usize);
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vault-api: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("vault-api: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(*args).await,
        Command::Keygen => {
            let key = vault_kms::RootKey::generate_encoded()?;
            println!("{}", key.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(command) => cli::token::token(command).await,
        Command::Keys(command) => cli::keys::keys(command).await,
        Command::Audit(command) => cli::audit::audit(command).await,
        Command::Migrate(args) => cli::migrate::migrate(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn serve_connections(args: &[&str]) -> Result<u32, String> {
        let cli = Cli::try_parse_from([&["vault-api", "serve"], args].concat())
            .map_err(|error| error.to_string())?;
        let Command::Serve(serve) = cli.command else {
            return Err("not serve".into());
        };
        serve.db_connections().map_err(|error| error.to_string())
    }

    #[test]
    fn database_connections_default_by_backend_and_can_be_set() {
        assert_eq!(
            serve_connections(&["--database-url", "sqlite:///tmp/vault.db"]),
            Ok(4)
        );
        assert_eq!(
            serve_connections(&["--database-url", "postgres://vault@db/vault"]),
            Ok(16)
        );
        assert_eq!(
            serve_connections(&[
                "--database-url",
                "sqlite:///tmp/vault.db",
                "--db-connections",
                "7"
            ]),
            Ok(7)
        );
        let refused = serve_connections(&["--database-url", "x.db", "--db-connections", "0"]);
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("--db-connections")),
            "{refused:?}"
        );
    }
}
