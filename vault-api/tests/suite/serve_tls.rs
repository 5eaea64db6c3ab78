//! `vault-api serve` as a process, on the transport: it refuses plain HTTP beyond
//! loopback unless told a proxy terminates TLS (and then says so), `--dev-tls` serves
//! HTTPS under a CA it prints, SIGHUP swaps the certificate new connections see, and a
//! PostgreSQL URL that would cross the network in clear text is named at start.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use vault_api::tls::{Ca, Usage};

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");

use vault_testkit::free_port;

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a stream prints, as they come.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("never printed {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

fn trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("PEM")])
        .build()
        .expect("client")
}

async fn healthz(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    for _ in 0..200 {
        match client.get(format!("{url}/healthz")).send().await {
            Ok(response) => return Ok(response.status().as_u16()),
            Err(error) if error.is_connect() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => return Err(format!("{error:?}")),
        }
    }
    Err("never listened".into())
}

#[test]
fn plain_http_beyond_loopback_is_refused_unless_a_proxy_is_declared() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("vault.db").display());
    let key = String::from_utf8(
        Command::new(BIN)
            .arg("keygen")
            .output()
            .expect("runs")
            .stdout,
    )
    .expect("utf8");
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let refused = Command::new(BIN)
        .args(["serve", "--database-url", &url, "--listen", &listen])
        .env("ENCRYPTION_KEY", key.trim())
        .env_remove("VAULT_TLS_DISABLE")
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("VAULT_TLS_CERT_FILE") && message.contains("VAULT_TLS_DISABLE"),
        "{message}"
    );
    // Nothing was created or bound before the refusal.
    assert!(std::net::TcpListener::bind(("0.0.0.0", port)).is_ok());

    let mut child = Command::new(BIN)
        .args(["serve", "--database-url", &url, "--listen", &listen])
        .env("ENCRYPTION_KEY", key.trim())
        .env("VAULT_TLS_DISABLE", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = lines(child.stderr.take().expect("stderr"));
    let _running = Running(child);
    let warning = wait_for(&stderr, "plain HTTP on a non-loopback address");
    assert!(warning.contains("WARN"), "{warning}");
    wait_for(&stderr, "vault-api listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_tls_serves_https_under_the_ca_it_prints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = vault_testkit::serve_dev(BIN, port, &data)
        .args(["--dev-tls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = lines(child.stdout.take().expect("stdout"));
    let _running = Running(child);
    let listening = wait_for(&stdout, "listening on");
    assert!(
        listening.contains(&format!("https://127.0.0.1:{port}")),
        "{listening}"
    );
    let ca_line = wait_for(&stdout, "VAULT_CACERT");
    let ca_path = ca_line
        .split_whitespace()
        .last()
        .expect("a path")
        .to_owned();
    assert_eq!(Path::new(&ca_path), data.join("tls").join("ca.pem"));
    let ca = std::fs::read_to_string(&ca_path).expect("the CA file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("tls").join("server-key.pem"))
            .expect("the key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let https = format!("https://localhost:{port}");
    assert_eq!(healthz(&trusting(&ca), &https).await, Ok(200));
    let other = Ca::generate("someone else").expect("a CA");
    assert!(healthz(&trusting(&other.pem), &https).await.is_err());
    let plain = format!("http://127.0.0.1:{port}");
    assert!(healthz(&reqwest::Client::new(), &plain).await.is_err());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_the_certificate_new_connections_see() {
    let dir = tempfile::tempdir().expect("temp dir");
    let issue = |name: &str| {
        let ca = Ca::generate(name).expect("a CA");
        let (cert, key) = ca
            .issue("vault", &["localhost"], Usage::Server)
            .expect("a certificate");
        (ca, cert, key)
    };
    let (first_ca, cert, key) = issue("first");
    let cert_file = dir.path().join("server.pem");
    let key_file = dir.path().join("server-key.pem");
    std::fs::write(&cert_file, cert).expect("writes");
    std::fs::write(&key_file, key).expect("writes");
    let port = free_port();
    let mut child = vault_testkit::serve_dev(BIN, port, dir.path().join("data"))
        .env("VAULT_TLS_CERT_FILE", &cert_file)
        .env("VAULT_TLS_KEY_FILE", &key_file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let pid = child.id().to_string();
    let stderr = lines(child.stderr.take().expect("stderr"));
    let _running = Running(child);
    wait_for(&stderr, "vault-api listening");
    let https = format!("https://localhost:{port}");
    assert_eq!(healthz(&trusting(&first_ca.pem), &https).await, Ok(200));

    let (second_ca, cert, key) = issue("second");
    std::fs::write(&cert_file, cert).expect("writes");
    std::fs::write(&key_file, key).expect("writes");
    let sent = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    wait_for(&stderr, "TLS certificate and key reloaded");
    assert_eq!(healthz(&trusting(&second_ca.pem), &https).await, Ok(200));
    assert!(healthz(&trusting(&first_ca.pem), &https).await.is_err());

    // A broken pair is refused, logged, and the working certificate stays.
    std::fs::write(&key_file, "garbage").expect("writes");
    let sent = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    wait_for(&stderr, "TLS reload failed");
    assert_eq!(healthz(&trusting(&second_ca.pem), &https).await, Ok(200));
}

#[test]
fn a_postgres_url_crossing_the_network_without_tls_is_named_at_start() {
    let refused = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            "postgres://vault:hunter2@db.invalid:1/vault?connect_timeout=1",
        )
        .env(
            "ENCRYPTION_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .output()
        .expect("runs");
    let logs = String::from_utf8_lossy(&refused.stderr);
    assert!(
        logs.contains("WARN") && logs.contains("db.invalid") && logs.contains("sslmode"),
        "{logs}"
    );
    assert!(!logs.contains("hunter2"), "{logs}");
}
