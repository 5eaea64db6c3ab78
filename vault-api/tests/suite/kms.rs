//! `vault-api serve` with `VAULT_ROOT_PROVIDER=aws-kms` against LocalStack's KMS, as
//! real processes: a disabled key (problem codes, readiness, no partial map, recovery),
//! no KMS call on warm resolutions, moving a local vault under KMS by rewrap, and two
//! replicas on one PostgreSQL seeing each other's rotations at once. `cargo xtask test`
//! starts LocalStack and sets `VAULT_TEST_KMS_ENDPOINT`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use vault_testkit::localstack;

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");

/// The vault-api binary with the standard AWS configuration pointed at LocalStack.
fn vault(endpoint: &str, database_url: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("DATABASE_URL", database_url)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Readiness reports the background check, which runs this often.
        .env("VAULT_KEY_CHECK_INTERVAL", "300ms")
        .env_remove("ENCRYPTION_KEY")
        .env_remove("ENCRYPTION_KEY_PREVIOUS")
        .stdin(Stdio::null());
    command
}

/// `/readyz` once it answers `status`, which the background key check decides within
/// its interval; the last answer if it never does within ten seconds.
async fn readiness_becomes(base: &str, status: u16) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = call(base, Method::GET, "/readyz", "", None).await;
        if answer.0 == status || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(endpoint: &str, database_url: &str, kms_key: &str) -> Server {
    let port = vault_testkit::free_port();
    let child = vault(endpoint, database_url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("VAULT_ROOT_PROVIDER", "aws-kms")
        .env("VAULT_KMS_KEY_ID", kms_key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if reqwest::get(format!("{}/healthz", server.base))
            .await
            .is_ok()
        {
            return server;
        }
        assert!(Instant::now() < deadline, "vault-api did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issues a token with the CLI, which records it in the chain keyed under `kms_key`.
fn token(
    endpoint: &str,
    database_url: &str,
    kms_key: &str,
    kind: &str,
    user: Option<&str>,
) -> String {
    let mut command = vault(endpoint, database_url);
    command
        .args(["token", "create", "--kind", kind])
        .env("VAULT_ROOT_PROVIDER", "aws-kms")
        .env("VAULT_KMS_KEY_ID", kms_key);
    if let Some(user) = user {
        command.args(["--user-id", user]);
    }
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

async fn call(
    base: &str,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find(|line| line.starts_with(name) && !line.starts_with('#'))
        .and_then(|line| line.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_kms_key_stops_the_vault_whole_and_it_recovers_once_enabled() {
    let Some(endpoint) = localstack::endpoint() else {
        return;
    };
    let client = localstack::client(&endpoint);
    let key = localstack::new_key(&client).await.1;
    let db = TestDb::sqlite();
    let server = serve(&endpoint, &db.url, &key).await;
    let orchestrator = token(&endpoint, &db.url, &key, "orchestrator", None);
    let alice = token(&endpoint, &db.url, &key, "user", Some("alice"));
    for (name, value) in [("FIRST", "first-value"), ("SECOND", "second-value")] {
        let (status, body) = call(
            &server.base,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": name, "value": value})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let context = json!({"user_id": "alice", "profile_id": "p1"});
    let resolve = || {
        call(
            &server.base,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(context.clone()),
        )
    };
    let (status, body) = resolve().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["env"]["FIRST"], "first-value");

    // Warm: resolutions make no root-key call at all.
    let unwraps = metric(&server.base, "vault_root_unwraps_total").await;
    let wraps = metric(&server.base, "vault_root_wraps_total").await;
    for _ in 0..20 {
        assert_eq!(resolve().await.0, 200);
    }
    assert_eq!(
        metric(&server.base, "vault_root_unwraps_total").await,
        unwraps
    );
    assert_eq!(metric(&server.base, "vault_root_wraps_total").await, wraps);

    client
        .disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("disables");
    let (status, ready) = readiness_becomes(&server.base, 503).await;
    assert_eq!(
        (status, ready["ready"].as_bool()),
        (503, Some(false)),
        "{ready}"
    );
    assert_eq!(ready["root_key"], "disabled", "{ready}");
    let (status, body) = resolve().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "root_key_disabled", "{body}");
    assert!(body.get("env").is_none(), "never a partial map: {body}");
    crate::shapes::pin("problem_root_key_disabled", status, &body);
    assert!(!body.to_string().contains("first-value"));
    let (status, body) = call(
        &server.base,
        Method::POST,
        "/v1/secrets",
        &alice,
        Some(json!({"name": "THIRD", "value": "third-value"})),
    )
    .await;
    // A new KEK cannot be started, nor the active one opened: nothing is written.
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("root_key_disabled")),
        "{body}"
    );

    client
        .enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("enables");
    let (status, ready) = readiness_becomes(&server.base, 200).await;
    assert_eq!(
        (status, ready["ready"].as_bool()),
        (200, Some(true)),
        "{ready}"
    );
    let (status, body) = resolve().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["env"],
        json!({"FIRST": "first-value", "SECOND": "second-value"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_vault_moves_under_kms_by_rewrap() {
    let Some(endpoint) = localstack::endpoint() else {
        return;
    };
    let key = localstack::new_key(&localstack::client(&endpoint)).await.1;
    let local_key = crate::support::test_key();
    let seeded = TestServer::start_with(TestDb::sqlite(), local_key.clone(), &[]).await;
    let (status, _) = seeded
        .call(
            Method::POST,
            "/v1/secrets",
            &seeded.operator,
            Some(json!({"name": "CARRIED_OVER", "value": "sealed-locally", "user_id": "bob"})),
        )
        .await;
    assert_eq!(status, 201);
    let url = seeded.db.url.clone();

    // KMS as the current root, the old local key only to open what it wrapped.
    let rewrap = vault(&endpoint, &url)
        .args(["keys", "rewrap"])
        .env("VAULT_ROOT_PROVIDER", "aws-kms")
        .env("VAULT_KMS_KEY_ID", &key)
        .env("ENCRYPTION_KEY", local_key.as_str())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&rewrap.stdout);
    assert!(
        rewrap.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&rewrap.stderr)
    );
    assert!(
        // The KEK and the integrity master wrapped beside it.
        stdout.contains("rewrapped 2 KEK(s) under arn:aws:kms:"),
        "{stdout}"
    );

    // From now on KMS alone opens the vault.
    let server = serve(&endpoint, &url, &key).await;
    let orchestrator = token(&endpoint, &url, &key, "orchestrator", None);
    let (status, body) = call(
        &server.base,
        Method::POST,
        "/v1/resolve",
        &orchestrator,
        Some(json!({"user_id": "bob", "profile_id": "p1"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["env"]["CARRIED_OVER"], "sealed-locally");
    let status = vault(&endpoint, &url)
        .args(["keys", "status"])
        .env("VAULT_ROOT_PROVIDER", "aws-kms")
        .env("VAULT_KMS_KEY_ID", &key)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(!text.contains(" NO "), "{text}");
    assert!(
        !text.contains("local:"),
        "no KEK is left under the local key:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgresql_see_each_others_rotations_at_once() {
    let Some(endpoint) = localstack::endpoint() else {
        return;
    };
    let Some(db) = TestDb::postgres() else { return };
    let key = localstack::new_key(&localstack::client(&endpoint)).await.1;
    let first = serve(&endpoint, &db.url, &key).await;
    let second = serve(&endpoint, &db.url, &key).await;
    let orchestrator = token(&endpoint, &db.url, &key, "orchestrator", None);
    let carol = token(&endpoint, &db.url, &key, "user", Some("carol"));
    let (status, created) = call(
        &first.base,
        Method::POST,
        "/v1/secrets",
        &carol,
        Some(json!({"name": "SHARED", "value": "version-1"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let context = json!({"user_id": "carol", "profile_id": "p1"});
    for round in 2..=4 {
        let value = format!("version-{round}");
        // Warm the second replica on the old value first.
        let (_, before) = call(
            &second.base,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(context.clone()),
        )
        .await;
        assert_eq!(before["env"]["SHARED"], format!("version-{}", round - 1));
        let (status, _) = call(
            &first.base,
            Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &carol,
            Some(json!({"value": value})),
        )
        .await;
        assert_eq!(status, 200);
        let (status, after) = call(
            &second.base,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(context.clone()),
        )
        .await;
        assert_eq!(status, 200, "{after}");
        assert_eq!(
            after["env"]["SHARED"], value,
            "the very next resolution on the other replica"
        );
    }
}

/// `RUST_LOG=trace` through the whole KMS flow (the KEK wrapped by `Encrypt` and
/// unwrapped by `Decrypt` at start, the integrity master, seals, opens, a rotation, a
/// session lookup): the libraries that print request bodies are capped, so no KEK, DEK,
/// value or token of the run reaches the log in any spelling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logging_through_kms_prints_no_key_value_or_token() {
    let Some(endpoint) = localstack::endpoint() else {
        return;
    };
    let client = localstack::client(&endpoint);
    let key = localstack::new_key(&client).await.1;
    let db = TestDb::sqlite();
    let log_path = db.dir.path().join("serve.log");
    // Under trace, and asked to by these variables, the SDK prints request bodies (an
    // `Encrypt` request holds a KEK in base64) and response bodies (so does a
    // `Decrypt` answer): the worst an operator could configure.
    let start = |log: std::fs::File| {
        let port = vault_testkit::free_port();
        let child = vault(&endpoint, &db.url)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("VAULT_ROOT_PROVIDER", "aws-kms")
            .env("VAULT_KMS_KEY_ID", &key)
            .env("RUST_LOG", "trace")
            .env("LOG_SIGNABLE_BODY", "true")
            .env("LOG_SENSITIVE_BODIES", "true")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starts");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    };
    let up = async |server: &Server| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{}/healthz", server.base))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "vault-api did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let stop = |server: &mut Server| {
        let _ = Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status();
        let _ = server.child.wait();
    };
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut server = start(log.try_clone().expect("a handle"));
    up(&server).await;
    let orchestrator = token(&endpoint, &db.url, &key, "orchestrator", None);
    let alice = token(&endpoint, &db.url, &key, "user", Some("alice"));
    let (first, second) = ("kms-trace-value-one-8d1f", "kms-trace-value-two-3a7c");
    let (status, created) = call(
        &server.base,
        Method::POST,
        "/v1/secrets",
        &alice,
        Some(json!({"name": "API_KEY", "value": first})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let context = json!({"user_id": "alice", "profile_id": "p"});
    let (_, resolved) = call(
        &server.base,
        Method::POST,
        "/v1/resolve",
        &orchestrator,
        Some(context.clone()),
    )
    .await;
    assert_eq!(resolved["env"]["API_KEY"], first);
    let (status, _) = call(
        &server.base,
        Method::PATCH,
        &format!("/v1/secrets/{id}"),
        &alice,
        Some(json!({"value": second})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, session) = call(
        &server.base,
        Method::POST,
        "/v1/sessions",
        &orchestrator,
        Some(context),
    )
    .await;
    let session = session["token"].as_str().expect("a session").to_owned();
    let (_, looked_up) = call(
        &server.base,
        Method::GET,
        "/v1/runtime/secrets/API_KEY",
        &session,
        None,
    )
    .await;
    assert_eq!(looked_up["value"], second);
    stop(&mut server);
    // A cold start: the KEKs and the integrity master come back through `Decrypt`.
    let mut server = start(log);
    up(&server).await;
    let (_, resolved) = call(
        &server.base,
        Method::POST,
        "/v1/resolve",
        &orchestrator,
        Some(json!({"user_id": "alice", "profile_id": "p"})),
    )
    .await;
    assert_eq!(resolved["env"]["API_KEY"], second);
    stop(&mut server);

    let logs = std::fs::read_to_string(&log_path).expect("the log");
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "trace logging was on"
    );
    let root = vault_kms::AwsKmsProvider::with_client(client, &key)
        .await
        .expect("the KMS key");
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let keys = crate::support::leaks::key_material(&path, &root).await;
    crate::support::leaks::assert_none_in(
        &logs,
        &keys,
        &[first, second, &orchestrator, &alice, &session],
    );
}
