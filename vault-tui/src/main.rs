//! The `vault-tui` binary: connects to `VAULT_ADDR` with an operator token
//! (`VAULT_TOKEN` or `--token-file`), over TLS as `VAULT_CACERT`, `VAULT_CLIENT_CERT`
//! and `VAULT_CLIENT_KEY` say, checks both before touching the terminal, then
//! runs the console. The terminal is restored on quit, on error and on panic.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use crossterm::execute;
use vault_tui::api::{ApiClient, HttpClient, TlsSettings};
use vault_tui::app::{Action, App};
use vault_tui::run::run_loop;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(name = "vault-tui", version, about = "The vault's operator console")]
struct Cli {
    /// The vault-api address.
    #[arg(long, env = "VAULT_ADDR", default_value = "http://127.0.0.1:8200")]
    addr: String,
    /// A file holding an operator token (instead of VAULT_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vault-tui: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vault-tui: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn token(cli: &Cli) -> Result<Zeroizing<String>> {
    let token = match &cli.token_file {
        Some(path) => Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => Zeroizing::new(
            std::env::var("VAULT_TOKEN")
                .context("no token: set VAULT_TOKEN to an operator token, or pass --token-file")?,
        ),
    };
    Ok(Zeroizing::new(token.trim().to_owned()))
}

async fn run(cli: Cli) -> Result<()> {
    let tls = TlsSettings::from_env();
    let client =
        HttpClient::with_tls(&cli.addr, token(&cli)?, &tls).map_err(|f| anyhow::anyhow!("{f}"))?;
    client
        .check()
        .await
        .map_err(|failure| anyhow::anyhow!("{failure}"))?;
    let client: Arc<dyn ApiClient> = Arc::new(client);

    // ratatui::init restores the terminal on panic, too.
    let mut terminal = ratatui::init();
    let _ = execute!(std::io::stdout(), EnableBracketedPaste, EnableMouseCapture);
    let (sender, actions) = tokio::sync::mpsc::unbounded_channel();
    spawn_terminal_events(sender.clone());
    let ticker = sender.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        loop {
            interval.tick().await;
            if ticker.send(Action::Tick(chrono::Utc::now())).is_err() {
                return;
            }
        }
    });
    let mut app = App::new(chrono::Utc::now());
    let outcome = run_loop(&mut terminal, &mut app, client, sender, actions).await;
    let _ = execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture
    );
    ratatui::restore();
    outcome.context("the terminal failed")
}

/// Reads the terminal on its own thread: keys, pastes, wheel scrolls and resizes.
fn spawn_terminal_events(sender: tokio::sync::mpsc::UnboundedSender<Action>) {
    std::thread::spawn(move || {
        loop {
            let Ok(event) = crossterm::event::read() else {
                return;
            };
            let action = match event {
                Event::Key(key) if key.kind == KeyEventKind::Press => Some(Action::Key(key)),
                Event::Paste(text) => Some(Action::Paste(Zeroizing::new(text))),
                Event::Mouse(mouse) => match mouse.kind {
                    MouseEventKind::ScrollDown => Some(Action::Key(KeyEvent::new(
                        KeyCode::Down,
                        KeyModifiers::NONE,
                    ))),
                    MouseEventKind::ScrollUp => {
                        Some(Action::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)))
                    }
                    _ => None,
                },
                Event::Resize(..) => Some(Action::Tick(chrono::Utc::now())),
                _ => None,
            };
            if let Some(action) = action
                && sender.send(action).is_err()
            {
                return;
            }
        }
    });
}
