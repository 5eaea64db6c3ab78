//! The audit trail through the binary: `serve --dev` anchors the chain's head in its
//! checkpoint file and the log stream (once more at shutdown), `audit export` streams
//! every record as a JSON line with its hash, `audit verify` proves the trail against
//! the checkpoints, and after the newest records are deleted from the database both
//! `audit verify` and `serve` refuse it, naming the first missing record.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");

use vault_testkit::free_port;

fn cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    vault_testkit::dev_cli(BIN, data, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_anchor_the_trail_that_export_streams_and_verify_proves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = vault_testkit::serve_dev(BIN, port, &data)
        .env("VAULT_AUDIT_CHECKPOINT_INTERVAL", "200ms")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut operator = String::new();
    for line in stdout.lines() {
        let line = line.expect("line");
        if line.contains("operator token:") {
            operator = line.split_whitespace().last().unwrap_or("").to_owned();
            break;
        }
    }
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for n in 0..5 {
        let created = client
            .post(format!("{base}/v1/secrets"))
            .bearer_auth(&operator)
            .json(&json!({"name": format!("K{n}"), "value": "v", "user_id": "alice"}))
            .send()
            .await
            .expect("answers");
        assert_eq!(created.status().as_u16(), 201);
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joins")
        .expect("exits");
    assert!(output.status.success());
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("audit checkpoint"), "{logs}");

    // The checkpoint file is private and its newest line is the head.
    let checkpoints = data.join("audit-checkpoints.jsonl");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&checkpoints)
            .expect("the checkpoint file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let anchored: Vec<Value> = std::fs::read_to_string(&checkpoints)
        .expect("reads")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let newest = anchored.last().expect("a checkpoint")["seq"]
        .as_u64()
        .expect("seq");

    let exported = cli(&data, &["audit", "export"]);
    assert!(exported.status.success());
    let records: Vec<Value> = String::from_utf8(exported.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        records.len() as u64,
        newest,
        "the final checkpoint is the head"
    );
    assert_eq!(
        records.last().expect("a record")["hash"],
        anchored.last().expect("one")["hash"]
    );
    assert!(
        records.iter().all(|r| r["chain"] == "hmac-sha256"),
        "{records:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "secret.create" && r["target"]["owner_id"] == "alice")
    );
    let since = cli(
        &data,
        &["audit", "export", "--since", &(newest - 2).to_string()],
    );
    assert_eq!(String::from_utf8_lossy(&since.stdout).lines().count(), 2);

    let verified = cli(&data, &["audit", "verify"]);
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        said.contains(&format!("intact: {newest} records")),
        "{said}"
    );

    // The newest two records deleted by someone with the database file.
    SqliteConnection::establish(&data.join("vault.db").display().to_string())
        .expect("opens")
        .batch_execute(&format!(
            "DELETE FROM audit_records WHERE seq > {}",
            newest - 2
        ))
        .expect("deletes");
    let verified = cli(&data, &["audit", "verify"]);
    assert!(!verified.status.success());
    let said = String::from_utf8_lossy(&verified.stderr);
    assert!(
        said.contains(&format!("broken at record {}: missing tail", newest - 1)),
        "{said}"
    );
    let refused = vault_testkit::serve_dev(BIN, vault_testkit::free_port(), &data)
        .stdout(Stdio::null())
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&format!("audit record {newest}")) && said.contains("audit verify"),
        "{said}"
    );
}

/// `audit export --follow` tails the trail for a SIEM shipper: what is there after
/// `--since`, then each record as it is appended, flushed at once; SIGTERM ends it
/// cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_follows_the_trail_as_it_grows_and_resumes_after_a_position() {
    let server = vault_testkit::DevServer::start(BIN);
    let data = server.dir().join("vault-dev");
    let client = reqwest::Client::new();
    let create = |n: usize| {
        let request = client
            .post(format!("{}/v1/secrets", server.base))
            .bearer_auth(&server.operator)
            .json(&json!({"name": format!("FOLLOW_{n}"), "value": "v", "user_id": "alice"}));
        async move {
            assert_eq!(
                request.send().await.expect("answers").status().as_u16(),
                201
            );
        }
    };
    create(0).await;
    let everything = cli(&data, &["audit", "export"]);
    assert!(everything.status.success());
    let records: Vec<Value> = String::from_utf8_lossy(&everything.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let newest = records.last().expect("records")["seq"]
        .as_u64()
        .expect("seq");

    // Resumed after the newest: nothing old, then each new record.
    let mut follower = Command::new(BIN)
        .args(["audit", "export", "--follow", "--poll-interval", "100ms"])
        .args(["--since", &newest.to_string(), "--dev", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(follower.stdout.take().expect("stdout")).lines();
    for n in 1..=2 {
        create(n).await;
        let line = tokio::task::block_in_place(|| lines.next())
            .expect("a line arrives")
            .expect("reads");
        let record: Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(record["seq"].as_u64(), Some(newest + n as u64), "{record}");
        assert_eq!(record["action"], "secret.create");
        assert!(
            record["target"]
                .to_string()
                .contains(&format!("FOLLOW_{n}"))
        );
    }
    let stopped = Command::new("kill")
        .args(["-TERM", &follower.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let status = tokio::task::block_in_place(|| follower.wait()).expect("exits");
    assert!(status.success(), "{status}");
}
