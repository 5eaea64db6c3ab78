//! TLS for `serve`: the certificate chain and key from PEM files, TLS 1.2 and 1.3
//! only, optional client certificates checked against a CA, everything re-read on
//! SIGHUP without touching open connections; and the throwaway CA `serve --dev-tls`
//! makes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::{ApiError, ApiResult};

/// Whether a client must present a certificate signed by the client CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// Every handshake without one is refused.
    Required,
    /// A certificate is checked when presented; without one, orchestrator tokens are
    /// refused (an orchestrator is pinned by its certificate as well as its token),
    /// and every other token works as over server-only TLS.
    Optional,
}

/// Where the server's TLS material is, as `VAULT_TLS_*` names it.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

fn config_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::Config {
        detail: detail.to_string(),
    }
}

fn certificates(path: &Path, what: &str) -> ApiResult<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| config_error(format!("{what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "{what} {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

impl TlsFiles {
    /// Reads and checks every file: a key that does not match the certificate, an empty
    /// chain or an unreadable CA is refused here, not at the first handshake.
    pub fn load(&self) -> ApiResult<ServerConfig> {
        // One provider for the process, whatever else in the dependency tree enables.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let chain = certificates(&self.cert, "VAULT_TLS_CERT_FILE")?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| config_error(format!("VAULT_TLS_KEY_FILE {}: {e}", self.key.display())))?;
        let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
        let builder = ServerConfig::builder_with_protocol_versions(&versions);
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in certificates(path, "VAULT_TLS_CLIENT_CA_FILE")? {
                    roots.add(cert).map_err(|e| {
                        config_error(format!("VAULT_TLS_CLIENT_CA_FILE {}: {e}", path.display()))
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
                let verifier = match self.client_auth {
                    ClientAuth::Required => verifier,
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                };
                builder.with_client_cert_verifier(verifier.build().map_err(|e| {
                    config_error(format!("VAULT_TLS_CLIENT_CA_FILE {}: {e}", path.display()))
                })?)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            config_error(format!(
                "VAULT_TLS_CERT_FILE / VAULT_TLS_KEY_FILE: {e} (does the key belong to the certificate?)"
            ))
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The live TLS configuration: each new connection takes the newest, and `reload`
/// swaps it for the files' current contents; connections already open keep theirs.
#[derive(Clone)]
pub struct ServerTls {
    files: TlsFiles,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl ServerTls {
    pub fn load(files: TlsFiles) -> ApiResult<Self> {
        let config = Arc::new(files.load()?);
        Ok(ServerTls {
            files,
            current: Arc::new(RwLock::new(config)),
        })
    }

    /// Re-reads the files; on any error the configuration in use stays.
    pub fn reload(&self) -> ApiResult<()> {
        let fresh = Arc::new(self.files.load()?);
        let mut slot = self
            .current
            .write()
            .map_err(|_| config_error("the TLS configuration lock is poisoned"))?;
        *slot = fresh;
        Ok(())
    }

    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.current
            .read()
            .ok()
            .map(|config| TlsAcceptor::from(config.clone()))
    }

    /// Whether a handshake without a client certificate can complete, so that the
    /// orchestrator's token must be backed by one.
    pub fn pins_orchestrators(&self) -> bool {
        self.files.client_ca.is_some() && self.files.client_auth == ClientAuth::Optional
    }
}

/// Reloads `tls` on every SIGHUP, logging the outcome.
pub fn reload_on_hangup(tls: ServerTls) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("SIGHUP cannot be watched; the TLS certificate will not reload");
            return;
        };
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate and key reloaded"),
                Err(error) => {
                    tracing::error!(%error, "TLS reload failed; the previous certificate stays")
                }
            }
        }
    });
    #[cfg(not(unix))]
    drop(tls);
}

/// The development CA and server certificate in `dir`, made on first use: the CA's
/// certificate (for clients' `VAULT_CACERT`), and a certificate for `localhost`,
/// 127.0.0.1 and ::1 signed by it. The CA's key is not kept: nothing else can be signed.
pub struct DevTls {
    pub ca_cert: PathBuf,
    pub files: TlsFiles,
}

impl DevTls {
    pub fn ensure(dir: &Path) -> ApiResult<DevTls> {
        let tls_dir = dir.join("tls");
        let dev = DevTls {
            ca_cert: tls_dir.join("ca.pem"),
            files: TlsFiles {
                cert: tls_dir.join("server.pem"),
                key: tls_dir.join("server-key.pem"),
                client_ca: None,
                client_auth: ClientAuth::Required,
            },
        };
        if dev.ca_cert.exists() && dev.files.cert.exists() && dev.files.key.exists() {
            return Ok(dev);
        }
        crate::server::create_private_dir(&tls_dir)?;
        let generated = generate_dev_certificates()
            .map_err(|e| config_error(format!("cannot make the development certificates: {e}")))?;
        for (path, contents) in [
            (&dev.ca_cert, &generated.ca_pem),
            (&dev.files.cert, &generated.server_pem),
            (&dev.files.key, &generated.server_key_pem),
        ] {
            crate::server::replace_private(path, contents.as_bytes())?;
        }
        Ok(dev)
    }
}

/// PEM texts of a fresh CA and a server certificate it signed.
pub struct GeneratedCertificates {
    pub ca_pem: String,
    pub server_pem: String,
    pub server_key_pem: String,
}

/// A CA and a loopback server certificate (`localhost`, 127.0.0.1, ::1).
pub fn generate_dev_certificates() -> Result<GeneratedCertificates, rcgen::Error> {
    let ca = Ca::generate("vault-api development CA")?;
    let (server_pem, server_key_pem) = ca.issue(
        "vault-api (development)",
        &["localhost", "127.0.0.1", "::1"],
        Usage::Server,
    )?;
    Ok(GeneratedCertificates {
        ca_pem: ca.pem,
        server_pem,
        server_key_pem,
    })
}

/// What a leaf certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
}

/// A certificate authority in memory: its certificate's PEM and what signs with it.
pub struct Ca {
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    pub fn generate(name: &str) -> Result<Ca, rcgen::Error> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// A leaf certificate for `names`, signed here; its PEM and its key's PEM.
    pub fn issue(
        &self,
        common_name: &str,
        names: &[&str],
        usage: Usage,
    ) -> Result<(String, String), rcgen::Error> {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![match usage {
            Usage::Server => rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            Usage::Client => rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        }];
        let key = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}
