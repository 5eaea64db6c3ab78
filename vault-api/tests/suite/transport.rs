//! The connection layer, played from the network: real TLS handshakes on loopback
//! against certificates made here (the right CA, a wrong one, plain HTTP, TLS 1.1,
//! client certificates required and optional, a reload under an open connection),
//! clients that never finish their headers or their handshake, idle keep-alive
//! connections, the connection cap, responses that must not be cached, and readiness
//! that no client can turn into a root-key call.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::{ServerOptions, TestDb, TestServer};
use reqwest::{Client, Method};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vault_api::AppState;
use vault_api::server::{self, NameRules, ServeOptions};
use vault_api::tls::{Ca, ClientAuth, ServerTls, TlsFiles, Usage};

/// A CA, and a loopback server certificate it signed, written to `dir`.
struct Pki {
    ca: Ca,
    files: TlsFiles,
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("writes");
}

fn pki(dir: &Path, name: &str) -> Pki {
    let ca = Ca::generate(&format!("{name} CA")).expect("a CA");
    let (cert, key) = ca
        .issue("vault", &["localhost", "127.0.0.1"], Usage::Server)
        .expect("a server certificate");
    let files = TlsFiles {
        cert: dir.join(format!("{name}-server.pem")),
        key: dir.join(format!("{name}-server-key.pem")),
        client_ca: None,
        client_auth: ClientAuth::Required,
    };
    write(&files.cert, &cert);
    write(&files.key, &key);
    Pki { ca, files }
}

fn trusting(ca: &Ca) -> reqwest::ClientBuilder {
    Client::builder().tls_certs_only([
        reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("a CA certificate")
    ])
}

fn with_identity(builder: reqwest::ClientBuilder, ca: &Ca, name: &str) -> Client {
    let (cert, key) = ca
        .issue(name, &[name], Usage::Client)
        .expect("a client certificate");
    let identity =
        reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).expect("an identity");
    builder.identity(identity).build().expect("client")
}

async fn tls_server(files: TlsFiles, client: Client) -> (TestServer, ServerTls) {
    let tls = ServerTls::load(files).expect("TLS loads");
    let options = ServerOptions {
        serve: Some(ServeOptions {
            tls: Some(tls.clone()),
            ..ServeOptions::default()
        }),
        client: Some(client),
        ..ServerOptions::default()
    };
    let server =
        TestServer::start_configured(TestDb::sqlite(), crate::support::test_key(), options).await;
    (server, tls)
}

async fn health(client: &Client, base: &str) -> Result<u16, String> {
    client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_trusts_only_the_right_ca_and_refuses_plain_http_and_old_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let right = pki(dir.path(), "right");
    let wrong = pki(dir.path(), "wrong");
    let client = trusting(&right.ca).build().expect("client");
    let (server, _) = tls_server(right.files, client.clone()).await;
    assert!(server.base.starts_with("https://"));
    assert_eq!(health(&client, &server.base).await, Ok(200));
    // The whole API over it, a resolution included.
    let alice = server.token("user", Some("alice")).await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "API_KEY", "value": "over-tls"})),
        )
        .await;
    let resolved = server
        .resolve(json!({"user_id": "alice", "profile_id": "p"}))
        .await;
    assert_eq!(resolved["env"]["API_KEY"], "over-tls");

    let wrong_ca = trusting(&wrong.ca).build().expect("client");
    let refused = health(&wrong_ca, &server.base).await;
    assert!(
        refused.is_err(),
        "a client trusting another CA connected: {refused:?}"
    );
    let system_roots = Client::new();
    assert!(health(&system_roots, &server.base).await.is_err());
    let plain = server.base.replace("https://", "http://");
    let cleartext = health(&Client::new(), &plain).await;
    assert!(cleartext.is_err(), "plain HTTP was answered: {cleartext:?}");

    // TLS 1.2 and 1.3 are offered; TLS 1.1 is not (probed with OpenSSL's own client).
    let address = server.base.trim_start_matches("https://").to_owned();
    let ca_file = dir.path().join("right-ca.pem");
    write(&ca_file, &right.ca.pem);
    for (version, accepted) in [("-tls1_3", true), ("-tls1_2", true), ("-tls1_1", false)] {
        let address = address.clone();
        let ca_file = ca_file.clone();
        let probe = tokio::task::spawn_blocking(move || {
            // Security level 0 lets OpenSSL offer TLS 1.1 at all: the refusal must be
            // the server's.
            std::process::Command::new("openssl")
                .args(["s_client", "-connect", &address, version])
                .args(["-cipher", "DEFAULT@SECLEVEL=0", "-CAfile"])
                .arg(&ca_file)
                .args(["-verify_return_error", "-brief"])
                .stdin(std::process::Stdio::null())
                .output()
        })
        .await
        .expect("joins");
        let Ok(probe) = probe else {
            eprintln!("skipped the protocol probe: openssl is not installed");
            break;
        };
        let text = String::from_utf8_lossy(&probe.stderr).into_owned();
        let handshook = text.contains("Protocol version");
        assert_eq!(handshook, accepted, "{version}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificates_refuse_handshakes_without_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server_pki = pki(dir.path(), "server");
    let clients = Ca::generate("client CA").expect("a CA");
    let strangers = Ca::generate("another client CA").expect("a CA");
    let client_ca = dir.path().join("clients.pem");
    write(&client_ca, &clients.pem);
    server_pki.files.client_ca = Some(client_ca);
    server_pki.files.client_auth = ClientAuth::Required;
    let pinned = with_identity(trusting(&server_pki.ca), &clients, "orchestrator");
    let (server, _) = tls_server(server_pki.files.clone(), pinned.clone()).await;

    assert_eq!(health(&pinned, &server.base).await, Ok(200));
    let (status, _) = server
        .call(Method::GET, "/v1/tokens", &server.operator, None)
        .await;
    assert_eq!(status, 200);
    let anonymous = trusting(&server_pki.ca).build().expect("client");
    assert!(health(&anonymous, &server.base).await.is_err());
    let stranger = with_identity(trusting(&server_pki.ca), &strangers, "orchestrator");
    assert!(health(&stranger, &server.base).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_pin_orchestrator_tokens_to_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server_pki = pki(dir.path(), "server");
    let clients = Ca::generate("client CA").expect("a CA");
    let client_ca = dir.path().join("clients.pem");
    write(&client_ca, &clients.pem);
    server_pki.files.client_ca = Some(client_ca);
    server_pki.files.client_auth = ClientAuth::Optional;
    let plain = trusting(&server_pki.ca).build().expect("client");
    let (server, _) = tls_server(server_pki.files.clone(), plain.clone()).await;
    let alice = server.token("user", Some("alice")).await;
    let context = json!({"user_id": "alice", "profile_id": "p"});

    // Without a certificate: users work, a leaked orchestrator token does not.
    server
        .expect(200, Method::GET, "/v1/secrets", &alice, None)
        .await;
    let refused = server
        .expect(
            403,
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(context.clone()),
        )
        .await;
    assert_eq!(refused["code"], "client_certificate_required", "{refused}");
    crate::shapes::pin("problem_client_certificate_required", 403, &refused);

    let pinned = with_identity(trusting(&server_pki.ca), &clients, "orchestrator");
    let answer = pinned
        .post(format!("{}/v1/resolve", server.base))
        .bearer_auth(&server.orchestrator)
        .json(&context)
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status().as_u16(), 200);
}

/// One HTTP/1.1 request on an open stream; the status and the connection header.
async fn exchange<S>(stream: &mut S, path: &str) -> std::io::Result<u16>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await?;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return Ok(status);
            }
        }
    }
}

async fn tls_connect(
    base: &str,
    ca: &Ca,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("adds");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(base.trim_start_matches("https://")).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("a name");
    connector.connect(name, tcp).await
}

use rustls_pki_types::pem::PemObject;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_swaps_the_certificate_new_connections_see_and_keeps_open_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = pki(dir.path(), "first");
    let client = trusting(&first.ca).build().expect("client");
    let (server, tls) = tls_server(first.files.clone(), client).await;
    let mut open = tls_connect(&server.base, &first.ca)
        .await
        .expect("handshakes");
    assert_eq!(exchange(&mut open, "/healthz").await.expect("answers"), 200);

    // The files now hold a certificate from another CA; a reload takes them.
    let second = pki(dir.path(), "second");
    std::fs::copy(&second.files.cert, &first.files.cert).expect("copies");
    std::fs::copy(&second.files.key, &first.files.key).expect("copies");
    tls.reload().expect("reloads");

    assert!(tls_connect(&server.base, &first.ca).await.is_err());
    let mut fresh = tls_connect(&server.base, &second.ca)
        .await
        .expect("handshakes");
    assert_eq!(
        exchange(&mut fresh, "/healthz").await.expect("answers"),
        200
    );
    // The connection opened before the reload goes on under its own session.
    assert_eq!(exchange(&mut open, "/healthz").await.expect("answers"), 200);

    // A broken file is refused and the certificate in use stays.
    write(&first.files.key, "not a key");
    assert!(tls.reload().is_err());
    let mut after = tls_connect(&server.base, &second.ca)
        .await
        .expect("handshakes");
    assert_eq!(
        exchange(&mut after, "/healthz").await.expect("answers"),
        200
    );
}

async fn plain_server(serve: ServeOptions) -> TestServer {
    let options = ServerOptions {
        serve: Some(serve),
        ..ServerOptions::default()
    };
    TestServer::start_configured(TestDb::sqlite(), crate::support::test_key(), options).await
}

/// How long until the server closes `stream`, reading whatever it sends; `None` when it
/// is still open after `within`.
async fn closed_within<S>(stream: &mut S, within: Duration) -> Option<Duration>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        let left = within.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_closed_within_the_timeout() {
    let server = plain_server(ServeOptions {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(30),
        ..ServeOptions::default()
    })
    .await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&address).await.expect("connects");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("writes");
    // One header byte at a time, never the blank line that ends the head.
    let drip = tokio::spawn(async move {
        for _ in 0..40 {
            if slow.write_all(b"X").await.is_err() {
                return slow;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });
    let mut slow = drip.await.expect("joins");
    let closed = closed_within(&mut slow, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "a slow-headers client is still connected");

    // A client that connects and sends nothing at all is closed too.
    let mut silent = TcpStream::connect(&address).await.expect("connects");
    let closed = closed_within(&mut silent, Duration::from_secs(4)).await;
    assert!(closed.is_some(), "a silent client is still connected");

    // Meanwhile a well-behaved client is served.
    let mut prompt = TcpStream::connect(&address).await.expect("connects");
    assert_eq!(
        exchange(&mut prompt, "/healthz").await.expect("answers"),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_starts_is_closed_within_the_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = pki(dir.path(), "server");
    let tls = ServerTls::load(pki.files).expect("loads");
    let server = plain_server(ServeOptions {
        header_read_timeout: Duration::from_secs(1),
        tls: Some(tls),
        ..ServeOptions::default()
    })
    .await;
    let mut silent = TcpStream::connect(server.base.trim_start_matches("https://"))
        .await
        .expect("connects");
    let closed = closed_within(&mut silent, Duration::from_secs(4)).await;
    assert!(
        closed.is_some(),
        "a client that never says hello is still connected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = plain_server(ServeOptions {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_millis(500),
        ..ServeOptions::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connects");
    assert_eq!(
        exchange(&mut stream, "/healthz").await.expect("answers"),
        200
    );
    // Kept alive for a moment: a second request on it is served.
    assert_eq!(
        exchange(&mut stream, "/healthz").await.expect("answers"),
        200
    );
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "an idle connection was kept open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_a_slot_frees() {
    let server = plain_server(ServeOptions {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..ServeOptions::default()
    })
    .await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut first = TcpStream::connect(&address).await.expect("connects");
    let mut second = TcpStream::connect(&address).await.expect("connects");
    assert_eq!(
        exchange(&mut first, "/healthz").await.expect("answers"),
        200
    );
    assert_eq!(
        exchange(&mut second, "/healthz").await.expect("answers"),
        200
    );
    // The kernel accepts the third connection; the server does not serve it yet.
    let mut third = TcpStream::connect(&address).await.expect("connects");
    let waiting =
        tokio::time::timeout(Duration::from_millis(700), exchange(&mut third, "/healthz")).await;
    assert!(waiting.is_err(), "a connection past the cap was served");
    drop(first);
    // Its request, already sent, is answered once a slot is free.
    let mut buffer = [0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buffer))
        .await
        .expect("answered once a slot freed")
        .expect("reads");
    assert!(
        String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buffer[..read])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carrying_tokens_or_values_are_never_cached() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let alice = server.token("user", Some("alice")).await;
    let created = server
        .send(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "API_KEY", "value": "cached-nowhere"})),
        )
        .await;
    let mut responses = vec![("secret create", created)];
    responses.push((
        "token create",
        server
            .send(
                Method::POST,
                "/v1/tokens",
                &server.operator,
                Some(json!({"kind": "user", "user_id": "bob"})),
            )
            .await,
    ));
    responses.push((
        "resolve",
        server
            .send(
                Method::POST,
                "/v1/resolve",
                &server.orchestrator,
                Some(json!({"user_id": "alice", "profile_id": "p"})),
            )
            .await,
    ));
    responses.push((
        "session",
        server
            .send(
                Method::POST,
                "/v1/sessions",
                &server.orchestrator,
                Some(json!({"user_id": "alice", "profile_id": "p"})),
            )
            .await,
    ));
    responses.push((
        "a refusal",
        server
            .send(Method::GET, "/v1/secrets", "nonsense", None)
            .await,
    ));
    for (what, response) in responses {
        assert!(response.status().as_u16() < 500, "{what}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{what}"
        );
    }
}

/// The local root provider, counting readiness checks and failing them on demand.
struct CountingRoot {
    inner: vault_kms::LocalRootProvider,
    checks: AtomicU64,
    failing: AtomicBool,
}

#[async_trait::async_trait]
impl vault_kms::RootKeyProvider for CountingRoot {
    fn kind(&self) -> &'static str {
        "counting"
    }
    fn current_key_id(&self) -> &vault_kms::RootKeyId {
        self.inner.current_key_id()
    }
    fn holds(&self, key_id: &vault_kms::RootKeyId) -> bool {
        self.inner.holds(key_id)
    }
    async fn wrap(
        &self,
        kek: &vault_kms::KekMaterial,
        binding: &vault_kms::KekBinding<'_>,
    ) -> Result<vault_kms::RootWrapped, vault_kms::KmsError> {
        self.inner.wrap(kek, binding).await
    }
    async fn unwrap(
        &self,
        wrapped: &vault_kms::RootWrapped,
        binding: &vault_kms::KekBinding<'_>,
    ) -> Result<vault_kms::KekMaterial, vault_kms::KmsError> {
        self.inner.unwrap(wrapped, binding).await
    }
    async fn check(&self) -> Result<(), vault_kms::KmsError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(vault_kms::KmsError::RootKeyDisabled {
                key_id: self.inner.current_key_id().clone(),
                state: "Disabled".into(),
            });
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_the_background_check_and_never_calls_the_root_provider() {
    let db = TestDb::sqlite();
    let store = server::open_store(&db.url, vault_store::StoreConfig::default())
        .await
        .expect("opens");
    let key = crate::support::test_key();
    let root = Arc::new(CountingRoot {
        inner: vault_kms::LocalRootProvider::from_config(&key, &[]).expect("a key"),
        checks: AtomicU64::new(0),
        failing: AtomicBool::new(false),
    });
    let clock: Arc<dyn vault_api::clock::Clock> = Arc::new(vault_api::clock::SystemClock);
    let keyring = server::open_keyring_with(
        &store,
        root.clone(),
        clock.clone(),
        vault_kms::KeyringConfig::default(),
    )
    .await
    .expect("opens");
    let policy = server::policy(&NameRules::default()).expect("policy");
    let state = AppState::new(store, keyring, policy, clock);
    let (base, _stop) =
        crate::support::serve_on_loopback_with(state.clone(), ServeOptions::default()).await;
    let client = Client::new();
    let ready = |client: Client, base: String| async move {
        let response = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("answers");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("json");
        (status, body)
    };

    let before = root.checks.load(Ordering::SeqCst);
    for _ in 0..100 {
        assert_eq!(ready(client.clone(), base.clone()).await.0, 200);
    }
    assert_eq!(
        root.checks.load(Ordering::SeqCst),
        before,
        "a readiness probe reached the root provider"
    );

    // The background check sees the key disabled; readiness says so, and no probe
    // asks again.
    root.failing.store(true, Ordering::SeqCst);
    server::check_root_key(&state.keyring, &state.key_health).await;
    let (status, body) = ready(client.clone(), base.clone()).await;
    assert_eq!(
        (status, body["root_key"].as_str()),
        (503, Some("disabled")),
        "{body}"
    );
    root.failing.store(false, Ordering::SeqCst);
    server::check_root_key(&state.keyring, &state.key_health).await;
    let (status, body) = ready(client, base).await;
    assert_eq!(
        (status, body["ready"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_client_trusts_vault_cacert_and_presents_vault_client_cert() {
    use vault_tui::api::{ApiClient, HttpClient, TlsSettings};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server_pki = pki(dir.path(), "server");
    let clients = Ca::generate("client CA").expect("a CA");
    let client_ca = dir.path().join("clients.pem");
    write(&client_ca, &clients.pem);
    server_pki.files.client_ca = Some(client_ca);
    let ca_file = dir.path().join("ca.pem");
    write(&ca_file, &server_pki.ca.pem);
    let (cert, key) = clients
        .issue("operator", &["operator"], Usage::Client)
        .expect("a client certificate");
    let (cert_file, key_file) = (dir.path().join("op.pem"), dir.path().join("op-key.pem"));
    write(&cert_file, &cert);
    write(&key_file, &key);
    let pinned = with_identity(trusting(&server_pki.ca), &clients, "test");
    let (server, _) = tls_server(server_pki.files.clone(), pinned).await;
    let token = || zeroize::Zeroizing::new(server.operator.clone());

    let full = TlsSettings {
        ca_cert: Some(ca_file.clone()),
        client_cert: Some(cert_file.clone()),
        client_key: Some(key_file.clone()),
    };
    let console = HttpClient::with_tls(&server.base, token(), &full).expect("client");
    assert!(console.check().await.is_ok());

    let no_identity = TlsSettings {
        ca_cert: Some(ca_file.clone()),
        ..TlsSettings::default()
    };
    let console = HttpClient::with_tls(&server.base, token(), &no_identity).expect("client");
    assert!(
        console.check().await.is_err(),
        "mTLS let a client without a certificate in"
    );
    let console =
        HttpClient::with_tls(&server.base, token(), &TlsSettings::default()).expect("client");
    assert!(
        console.check().await.is_err(),
        "the system roots trusted a private CA"
    );
    let half = TlsSettings {
        client_cert: Some(cert_file),
        ..no_identity
    };
    let refused = HttpClient::with_tls(&server.base, token(), &half).err();
    assert!(
        refused.is_some_and(|f| f.to_string().contains("VAULT_CLIENT_KEY")),
        "a certificate without its key was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_waits_for_its_next_head_no_longer_than_the_header_timeout() {
    let server = plain_server(ServeOptions {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(30),
        ..ServeOptions::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connects");
    assert_eq!(
        exchange(&mut stream, "/healthz").await.expect("answers"),
        200
    );
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a kept-alive connection outlived the header timeout"
    );
}
