//! Where the vault is and how to trust and prove oneself to it, by the variables the
//! Vault CLI made familiar: `VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_CACERT`,
//! `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::{ClientError, ClientResult};

/// The address when `VAULT_ADDR` is unset: the dev server's.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8200";

/// How the client trusts the vault and proves itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM CA certificates that alone are trusted for the server.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate and its key, for mTLS.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl TlsSettings {
    pub fn from_env() -> Self {
        TlsSettings {
            ca_cert: env_path("VAULT_CACERT"),
            client_cert: env_path("VAULT_CLIENT_CERT"),
            client_key: env_path("VAULT_CLIENT_KEY"),
        }
    }

    pub(crate) fn apply(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> ClientResult<reqwest::ClientBuilder> {
        let mut builder = builder;
        if let Some(path) = &self.ca_cert {
            let certs = reqwest::Certificate::from_pem_bundle(&read("VAULT_CACERT", path)?)
                .map_err(|e| config("VAULT_CACERT", format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(config(
                    "VAULT_CACERT",
                    format!("{}: no PEM certificate in it", path.display()),
                ));
            }
            builder = builder.tls_certs_only(certs);
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = Zeroizing::new(read("VAULT_CLIENT_CERT", cert)?);
                pem.push(b'\n');
                pem.extend(Zeroizing::new(read("VAULT_CLIENT_KEY", key)?).iter());
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| config("VAULT_CLIENT_CERT / VAULT_CLIENT_KEY", e.to_string()))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(config(
                    "VAULT_CLIENT_CERT / VAULT_CLIENT_KEY",
                    "they go together; set both or neither".into(),
                ));
            }
        }
        Ok(builder)
    }
}

/// Everything a client needs to reach the vault.
#[derive(Clone)]
pub struct Config {
    pub address: String,
    pub token: Zeroizing<String>,
    pub tls: TlsSettings,
    /// The longest a single call may take, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("address", &self.address)
            .field("token", &"[redacted]")
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Config {
    pub fn new(address: impl Into<String>, token: Zeroizing<String>) -> Self {
        Config {
            address: address.into(),
            token,
            tls: TlsSettings::default(),
            timeout: Duration::from_secs(15),
        }
    }

    /// From `VAULT_ADDR` (default `DEFAULT_ADDR`), `VAULT_TOKEN` (required) and the
    /// TLS variables.
    pub fn from_env() -> ClientResult<Self> {
        let address = std::env::var("VAULT_ADDR")
            .ok()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let token = std::env::var("VAULT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(Zeroizing::new)
            .ok_or_else(|| config("VAULT_TOKEN", "is not set".into()))?;
        Ok(Config {
            tls: TlsSettings::from_env(),
            ..Config::new(address, token)
        })
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn read(setting: &'static str, path: &Path) -> ClientResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| config(setting, format!("{}: {e}", path.display())))
}

fn config(setting: &'static str, detail: String) -> ClientError {
    ClientError::Config { setting, detail }
}
