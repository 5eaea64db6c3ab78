//! The `vault-api` binary itself: `serve --dev` under `RUST_LOG=trace` through a full
//! walkthrough (no value or token in any log line), SIGTERM ends it with exit 0, the
//! token commands, and start-up refusals.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");
const MARKER: &str = "MARKER_value_4c1d9e7b";

use vault_testkit::free_port;

fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    vault_testkit::dev_cli(BIN, dir, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_server_walkthrough_logs_no_value_or_token_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = vault_testkit::serve_dev(BIN, port, &data)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut banner = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line.starts_with('=') && !banner.is_empty();
        banner.push(line);
        if done {
            break;
        }
    }
    let banner = banner.join("\n");
    assert!(banner.contains("DEVELOPMENT MODE"), "{banner}");
    let token_after = |label: &str| {
        banner
            .lines()
            .find(|l| l.contains(label))
            .and_then(|l| l.split_whitespace().last())
            .expect("token line")
            .to_owned()
    };
    let operator = token_after("operator token:");
    let orchestrator = token_after("orchestrator token:");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("encryption.key"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let created = cli(
        &data,
        &["token", "create", "--kind", "user", "--user-id", "alice"],
    );
    assert!(created.status.success());
    let alice = String::from_utf8(created.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert!(alice.starts_with("vault_user_"));

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let created: Value = call(
        reqwest::Method::POST,
        "/v1/secrets",
        &alice,
        json!({"name": "TOKEN", "value": MARKER}),
    )
    .await
    .expect("answers")
    .json()
    .await
    .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    let resolved: Value = call(
        reqwest::Method::POST,
        "/v1/resolve",
        &orchestrator,
        json!({"user_id": "alice", "profile_id": "p"}),
    )
    .await
    .expect("answers")
    .json()
    .await
    .expect("json");
    assert_eq!(resolved["env"]["TOKEN"], MARKER);
    // A session and a lookup by name: the runtime path under trace too.
    let session: Value = call(
        reqwest::Method::POST,
        "/v1/sessions",
        &orchestrator,
        json!({"user_id": "alice", "profile_id": "p"}),
    )
    .await
    .expect("answers")
    .json()
    .await
    .expect("json");
    let session_token = session["token"].as_str().expect("a session").to_owned();
    let looked_up: Value = client
        .get(format!("{base}/v1/runtime/secrets/TOKEN"))
        .bearer_auth(&session_token)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(looked_up["value"], MARKER);
    // A user token minted over HTTP, shown once in its response.
    let minted: Value = call(
        reqwest::Method::POST,
        "/v1/tokens",
        &operator,
        json!({"kind": "user", "user_id": "bob"}),
    )
    .await
    .expect("answers")
    .json()
    .await
    .expect("json");
    let bob = minted["secret"].as_str().expect("a token").to_owned();
    call(
        reqwest::Method::PATCH,
        &format!("/v1/secrets/{id}"),
        &operator,
        json!({"value": format!("{MARKER}_2")}),
    )
    .await
    .expect("answers");
    call(
        reqwest::Method::POST,
        "/v1/secrets",
        &alice,
        json!({"name": "bad name", "value": MARKER}),
    )
    .await
    .expect("answers");
    call(
        reqwest::Method::GET,
        "/v1/secrets",
        &format!("{alice}x"),
        Value::Null,
    )
    .await
    .expect("answers");

    let listed = cli(&data, &["token", "list"]);
    let listing = String::from_utf8(listed.stdout).expect("utf8");
    assert!(
        listing.contains("user") && !listing.contains(&alice),
        "{listing}"
    );

    // SIGTERM: drain and exit 0.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joins")
        .expect("exits");
    assert!(output.status.success(), "exit status {:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.contains("request finished"),
        "trace logs were captured"
    );
    // No value, token or key of the run: every KEK, the integrity master and every
    // DEK, unwrapped here from the database, in any spelling.
    let root_key = std::fs::read_to_string(data.join("encryption.key")).expect("the key file");
    let root = vault_kms::LocalRootProvider::from_config(root_key.trim(), &[]).expect("a key");
    let db = data.join("vault.db").display().to_string();
    let keys = crate::support::leaks::key_material(&db, &root).await;
    let rotated = format!("{MARKER}_2");
    crate::support::leaks::assert_none_in(
        &logs,
        &keys,
        &[
            MARKER,
            &rotated,
            &operator,
            &orchestrator,
            &alice,
            &bob,
            &session_token,
            root_key.trim(),
        ],
    );

    let verified = cli(&data, &["audit", "verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[test]
fn serve_refuses_to_start_without_a_key_or_with_the_wrong_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("vault.db").display());
    let no_key = Command::new(BIN)
        .args(["serve", "--database-url", &url])
        .env_remove("ENCRYPTION_KEY")
        .output()
        .expect("runs");
    assert!(!no_key.status.success());
    let message = String::from_utf8_lossy(&no_key.stderr);
    assert!(message.contains("vault-api keygen"), "{message}");

    let keygen = Command::new(BIN).arg("keygen").output().expect("runs");
    let other_key = String::from_utf8(keygen.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert_eq!(other_key.len(), 44, "base64 of 32 bytes");
    let first_key = String::from_utf8(
        Command::new(BIN)
            .arg("keygen")
            .output()
            .expect("runs")
            .stdout,
    )
    .expect("utf8")
    .trim()
    .to_owned();
    // A server under the first key seals one secret, so its KEK exists.
    let port = free_port();
    let mut first = Command::new(BIN)
        .args([
            "serve",
            "--database-url",
            &url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("ENCRYPTION_KEY", &first_key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let operator = String::from_utf8(
        Command::new(BIN)
            .args([
                "token",
                "create",
                "--kind",
                "operator",
                "--database-url",
                &url,
            ])
            // The issue is recorded in the keyed audit chain: the CLI needs the key.
            .env("ENCRYPTION_KEY", &first_key)
            .output()
            .expect("runs")
            .stdout,
    )
    .expect("utf8")
    .trim()
    .to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            let sent = client
                .post(format!("http://127.0.0.1:{port}/v1/secrets"))
                .bearer_auth(&operator)
                .json(&json!({"name": "A", "value": "v", "user_id": "u"}))
                .send()
                .await;
            if let Ok(response) = sent {
                assert_eq!(response.status().as_u16(), 201);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the first server never answered");
    });
    let _ = first.kill();
    let _ = first.wait();
    let wrong = Command::new(BIN)
        .args(["serve", "--database-url", &url])
        .env("ENCRYPTION_KEY", &other_key)
        .output()
        .expect("runs");
    assert!(!wrong.status.success());
    let message = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        message.contains("does not match this database"),
        "{message}"
    );
    assert!(!message.contains(&other_key) && !message.contains(&first_key));
}

/// A release of a protected name is a deliberate weakening: the server says so on every
/// start. Name settings that cannot be honoured stop it before it listens, naming the
/// setting.
#[test]
fn serve_logs_released_protected_names_and_refuses_unusable_name_and_limit_settings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut child = vault_testkit::serve_dev(BIN, port, dir.path().join("data"))
        .env(
            "VAULT_RELEASE_PROTECTED_NAMES",
            "HTTPS_PROXY,GIT_CONFIG_COUNT",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut released = Vec::new();
    while released.len() < 2 {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs its releases before it listens");
        if line.contains("protected name released") {
            assert!(line.contains("WARN"), "{line}");
            released.push(line);
        }
    }
    assert!(released[0].contains("HTTPS_PROXY"), "{released:?}");
    assert!(released[1].contains("GIT_CONFIG_COUNT"), "{released:?}");
    let _ = child.kill();
    let _ = child.wait();

    for (variable, value, named) in [
        (
            "VAULT_RELEASE_PROTECTED_NAMES",
            "STRIPE_KEY",
            "VAULT_RELEASE_PROTECTED_NAMES",
        ),
        ("VAULT_PROTECTED_NAMES", "lower*", "VAULT_PROTECTED_NAMES"),
        ("VAULT_MAX_ENV_BYTES", "10", "VAULT_MAX_ENV_BYTES"),
        ("VAULT_MAX_ENV_BYTES", "4194304", "VAULT_MAX_ENV_BYTES"),
        (
            "VAULT_MAX_ENTRIES_PER_OWNER",
            "0",
            "--max-entries-per-owner",
        ),
        ("VAULT_VERSIONS_KEPT", "0", "--versions-kept"),
        ("VAULT_VERSIONS_KEPT", "1001", "--versions-kept"),
    ] {
        let refused = Command::new(BIN)
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("refused"))
            .env(variable, value)
            .output()
            .expect("runs");
        assert!(!refused.status.success(), "{variable}={value} started");
        let message = String::from_utf8_lossy(&refused.stderr);
        assert!(message.contains(named), "{variable}={value}: {message}");
    }
}

/// Starts `serve --dev` on `data` and returns it with the tokens its banner shows.
fn start_dev(data: &std::path::Path) -> (std::process::Child, u16, String, String) {
    start_dev_with(data, &[])
}

fn start_dev_with(
    data: &std::path::Path,
    settings: &[(&str, &str)],
) -> (std::process::Child, u16, String, String) {
    let port = free_port();
    let mut child = vault_testkit::serve_dev(BIN, port, data)
        .envs(settings.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut tokens = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if line.contains("token:") {
            tokens.push(line.split_whitespace().last().expect("token").to_owned());
        }
        if tokens.len() == 2 {
            break;
        }
    }
    (child, port, tokens[0].clone(), tokens[1].clone())
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `serve --dev` keeps its token pair across restarts (in the data dir, 0600) instead
/// of minting another never-expiring pair each start; a pair that no longer works is
/// replaced, and what is left of it revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_tokens_are_kept_across_restarts_and_replaced_when_broken() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let live_operators = async |port: u16, operator: &str| -> Vec<Value> {
        let answer: Value = client
            .get(format!("http://127.0.0.1:{port}/v1/tokens"))
            .bearer_auth(operator)
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("json");
        answer["data"]
            .as_array()
            .expect("tokens")
            .iter()
            .filter(|t| t["revoked_at"].is_null())
            .cloned()
            .collect()
    };
    let (first, port, operator, orchestrator) = start_dev(&data);
    assert_eq!(live_operators(port, &operator).await.len(), 2);
    stop(first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("dev-tokens"))
            .expect("the tokens file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (second, port, again_operator, again_orchestrator) = start_dev(&data);
    assert_eq!(
        (&again_operator, &again_orchestrator),
        (&operator, &orchestrator)
    );
    assert_eq!(
        live_operators(port, &operator).await.len(),
        2,
        "no new pair"
    );
    stop(second);
    // The orchestrator token revoked on the host: the next start replaces the pair.
    let listed = cli(&data, &["token", "list"]);
    let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
    let orchestrator_id = listing
        .lines()
        .find(|l| l.contains("orchestrator"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("tok_")))
        .expect("the orchestrator token's id")
        .to_owned();
    let revoked = cli(&data, &["token", "revoke", &orchestrator_id]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let (third, port, new_operator, new_orchestrator) = start_dev(&data);
    assert_ne!(new_operator, operator);
    assert_ne!(new_orchestrator, orchestrator);
    let live = live_operators(port, &new_operator).await;
    assert_eq!(
        live.len(),
        2,
        "the old operator token was revoked with its pair: {live:?}"
    );
    let old = client
        .get(format!("http://127.0.0.1:{port}/v1/tokens"))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("answers");
    assert_eq!(old.status().as_u16(), 401);
    stop(third);
}

/// `VAULT_VERSIONS_KEPT` decides how much history a rotation leaves: with 2, the third
/// version pushes the first out, and a rollback to it is a 409 naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_kept_is_a_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (server, port, operator, _) = start_dev_with(&data, &[("VAULT_VERSIONS_KEPT", "2")]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let call = async |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answers");
        let status = response.status().as_u16();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let (status, issued) = call(
        reqwest::Method::POST,
        "/v1/tokens",
        &operator,
        Some(json!({"kind": "user", "user_id": "alice"})),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let alice = issued["secret"].as_str().expect("token").to_owned();
    let (status, created) = call(
        reqwest::Method::POST,
        "/v1/secrets",
        &alice,
        Some(json!({"name": "KEPT", "value": "one"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    for value in ["two", "three"] {
        let (status, rotated) = call(
            reqwest::Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &alice,
            Some(json!({ "value": value })),
        )
        .await;
        assert_eq!(status, 200, "{rotated}");
    }
    let (status, versions) = call(
        reqwest::Method::GET,
        &format!("/v1/secrets/{id}/versions"),
        &alice,
        None,
    )
    .await;
    assert_eq!(status, 200, "{versions}");
    let kept: Vec<u64> = versions["data"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(kept, [3, 2], "{versions}");
    let (status, refused) = call(
        reqwest::Method::POST,
        &format!("/v1/secrets/{id}/rollback"),
        &alice,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "version_not_kept", "{refused}");
    stop(server);
}
