//! The client for a user, workspace admin, project member or the orchestrator: the
//! token from `VAULT_TOKEN` or a token file, the address and TLS as the console's.

use std::path::Path;

use vault_client::{Client, Config, TlsSettings};
use zeroize::Zeroizing;

use crate::exit::Failure;

pub const TOKEN_FILE_VARIABLE: &str = "VAULT_TOKEN_FILE";

/// A client with the token of `file`, else of `VAULT_TOKEN_FILE`, else `VAULT_TOKEN`.
/// A token file is left in place: unlike a session's, it is the user's own.
pub fn client(file: Option<&Path>) -> Result<Client, Failure> {
    let from_variable = std::env::var_os(TOKEN_FILE_VARIABLE).filter(|v| !v.is_empty());
    let file = file
        .map(Path::to_path_buf)
        .or(from_variable.map(Into::into));
    let token = match file {
        Some(path) => {
            let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|error| {
                Failure::config(format!("token file {}: {error}", path.display()))
            })?);
            Zeroizing::new(text.trim().to_owned())
        }
        None => Zeroizing::new(std::env::var("VAULT_TOKEN").unwrap_or_default()),
    };
    if token.is_empty() {
        return Err(Failure::config(format!(
            "no token: set VAULT_TOKEN, {TOKEN_FILE_VARIABLE} or pass --token-file"
        )));
    }
    let address = std::env::var("VAULT_ADDR")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| vault_client::DEFAULT_ADDR.to_owned());
    Ok(Client::new(Config {
        tls: TlsSettings::from_env(),
        ..Config::new(address, token)
    })?)
}
