//! The session token a container was given, and the env it opens.

use std::path::Path;

use vault_client::wire::RuntimeEnv;
use vault_client::{Client, Config, TlsSettings};
use zeroize::Zeroizing;

use crate::exit::Failure;

pub const TOKEN_VARIABLE: &str = "VAULT_SESSION_TOKEN";

/// The token from `file` (removed once read) or from `VAULT_SESSION_TOKEN`.
pub fn token(file: Option<&Path>) -> Result<Zeroizing<String>, Failure> {
    let token = match file {
        Some(path) => {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|error| {
                Failure::config(format!("--session-token-file {}: {error}", path.display()))
            })?);
            if let Err(error) = std::fs::remove_file(path) {
                eprintln!(
                    "vaultctl: warning: {} stays readable by the command: {error}",
                    path.display()
                );
            }
            Zeroizing::new(text.trim().to_owned())
        }
        None => Zeroizing::new(std::env::var(TOKEN_VARIABLE).unwrap_or_default()),
    };
    if token.is_empty() {
        return Err(Failure::config(format!(
            "no session token: set {TOKEN_VARIABLE} or pass --session-token-file"
        )));
    }
    Ok(token)
}

/// A client of `VAULT_ADDR` (with the TLS variables) holding the session token.
pub fn client(token: Zeroizing<String>) -> Result<Client, Failure> {
    let address = std::env::var("VAULT_ADDR")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| vault_client::DEFAULT_ADDR.to_owned());
    let config = Config {
        tls: TlsSettings::from_env(),
        ..Config::new(address, token)
    };
    Ok(Client::new(config)?)
}

/// The session's whole env, in one request.
pub async fn fetch(token: Zeroizing<String>) -> Result<RuntimeEnv, Failure> {
    Ok(client(token)?.runtime_env().await?)
}
