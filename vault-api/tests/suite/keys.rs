//! `vault-api keys …` against a live vault: a DEK rewrap killed with SIGKILL mid-way
//! and run again leaves every version of every secret openable, with the server
//! serving (and writing) throughout; a root key change moves every KEK, after which the
//! old key is no longer needed.

use vault_testkit::on_both_backends;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{TestDb, TestServer};
use reqwest::Method;
use serde_json::json;
use vault_api::clock::SystemClock;
use vault_api::server::{self, RootConfig, RootKeys};
use vault_core::{SecretId, Version};
use vault_kms::{Envelope, KeyringConfig, SealBinding};
use vault_store::Store;
use zeroize::Zeroizing;

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");

on_both_backends!(
    a_dek_rewrap_killed_mid_way_resumes_and_every_version_still_opens,
    a_root_key_change_moves_every_kek_under_the_new_key,
);

fn keys_command(db: &TestDb, current: &str, previous: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("keys")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("ENCRYPTION_KEY", current)
        .env_remove("ENCRYPTION_KEY_PREVIOUS")
        .env_remove("VAULT_ROOT_PROVIDER")
        .stdin(Stdio::null());
    if let Some(previous) = previous {
        command.env("ENCRYPTION_KEY_PREVIOUS", previous);
    }
    command
}

/// Creates `count` secrets with two versions each; returns every version's value.
async fn seed(server: &TestServer, count: usize) -> BTreeMap<(String, u32), String> {
    let mut values = BTreeMap::new();
    for n in 0..count {
        let (status, created) = server
            .call(
                Method::POST,
                "/v1/secrets",
                &server.operator,
                Some(json!({"name": format!("SECRET_{n}"), "value": format!("v1-{n}"), "user_id": format!("u{}", n % 7)})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let (status, _) = server
            .call(
                Method::PATCH,
                &format!("/v1/secrets/{id}"),
                &server.operator,
                Some(json!({"value": format!("v2-{n}")})),
            )
            .await;
        assert_eq!(status, 200);
        values.insert((id.clone(), 1), format!("v1-{n}"));
        values.insert((id, 2), format!("v2-{n}"));
    }
    values
}

/// Opens every listed version with a keyring holding only `key`.
async fn assert_all_open(store: &Store, key: &str, values: &BTreeMap<(String, u32), String>) {
    let root = RootConfig::Local(RootKeys {
        current: Zeroizing::new(key.to_owned()),
        previous: Vec::new(),
    });
    let keyring = server::open_keyring(
        store,
        &root,
        Arc::new(SystemClock),
        KeyringConfig::default(),
    )
    .await
    .expect("the key opens this database");
    for ((id, version), want) in values {
        let secret_id = SecretId::parse(id).expect("id");
        let meta = store.secret(secret_id.clone()).await.expect("secret");
        let version = Version::new(*version).expect("version");
        let sealed = store
            .sealed_version(secret_id.clone(), version)
            .await
            .expect("version kept");
        let envelope = Envelope::from_bytes(&sealed.envelope).expect("envelope");
        let binding = SealBinding {
            secret_id: &secret_id,
            version,
            owner: meta.placement.owner(),
            name: &meta.name,
        };
        let value = keyring.open(&binding, &envelope).await.expect("opens");
        assert_eq!(value.expose(), want, "{id} v{}", version.get());
    }
}

async fn a_dek_rewrap_killed_mid_way_resumes_and_every_version_still_opens(db: TestDb) {
    let key = crate::support::test_key();
    let server = TestServer::start_with(db, key.clone(), &[]).await;
    let mut values = seed(&server, 400).await;
    let total = values.len() as u64;
    let before = server.store.keks().await.expect("keks");
    let one = values.keys().next().expect("a version").clone();
    let value_part = |bytes: &[u8]| bytes[1 + 16 + 12 + 48..].to_vec();
    let sealed_before = server
        .store
        .sealed_version(
            SecretId::parse(&one.0).expect("id"),
            Version::new(one.1).expect("v"),
        )
        .await
        .expect("sealed");

    let mut run = keys_command(
        &server.db,
        &key,
        None,
        &["rewrap", "--deks", "--pause", "400ms"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("starts");
    // Kill it once it has moved some data keys but not all.
    let deadline = Instant::now() + Duration::from_secs(60);
    let target = loop {
        assert!(Instant::now() < deadline, "the rewrap never got going");
        assert!(
            run.try_wait().expect("waits").is_none(),
            "the rewrap ended before it was killed"
        );
        if let Some(target) = server
            .store
            .setting("dek_rewrap_target")
            .await
            .expect("reads")
        {
            let outside = server
                .store
                .count_versions_outside_kek(target.clone())
                .await
                .expect("counts");
            if outside < total {
                break target;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    run.kill().expect("SIGKILL");
    run.wait().expect("reaped");
    let left = server
        .store
        .count_versions_outside_kek(target.clone())
        .await
        .expect("counts");
    assert!(
        left > 0 && left < total,
        "killed mid-way: {left} of {total} left"
    );

    // The server keeps serving and writing between the two runs.
    let (id, _) = values.keys().next().expect("a secret").clone();
    let (status, _) = server
        .call(
            Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &server.operator,
            Some(json!({"value": "v3-written-mid-rewrap"})),
        )
        .await;
    assert_eq!(status, 200);
    values.insert((id.clone(), 3), "v3-written-mid-rewrap".into());

    let output = keys_command(&server.db, &key, None, &["rewrap", "--deks"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("DEK(s) under a fresh KEK"), "{stdout}");
    assert_eq!(
        server
            .store
            .setting("dek_rewrap_target")
            .await
            .expect("reads"),
        None,
        "a finished run forgets its target"
    );
    // The resumed run kept the target the killed one chose.
    assert_eq!(
        server
            .store
            .count_versions_outside_kek(target)
            .await
            .expect("counts"),
        0
    );
    let after = server.store.keks().await.expect("keks");
    assert_eq!(
        after.len(),
        before.len() + 1,
        "one fresh KEK for the whole rewrap"
    );
    let sealed_after = server
        .store
        .sealed_version(
            SecretId::parse(&one.0).expect("id"),
            Version::new(one.1).expect("v"),
        )
        .await
        .expect("sealed");
    assert_ne!(sealed_after.kek_id, sealed_before.kek_id);
    assert_eq!(
        value_part(&sealed_after.envelope),
        value_part(&sealed_before.envelope),
        "value ciphertexts are never touched"
    );
    assert_all_open(&server.store, &key, &values).await;
    // The running server, whose KEK cache predates the rewrap, still resolves.
    let rotated = server
        .store
        .secret(SecretId::parse(&id).expect("id"))
        .await
        .expect("secret");
    let resolved = server
        .resolve(json!({"user_id": rotated.placement.owner().id(), "profile_id": "p1"}))
        .await;
    assert_eq!(
        resolved["env"][rotated.name.as_str()],
        "v3-written-mid-rewrap"
    );
    let resolved = server
        .resolve(json!({"user_id": "u0", "profile_id": "p1"}))
        .await;
    assert_eq!(resolved["env"]["SECRET_7"], "v2-7");
    // Both runs are in the audit trail.
    let (_, audit) = server
        .call(
            Method::GET,
            "/v1/audit?action=keys.rewrap",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(
        audit["data"].as_array().expect("records").len(),
        1,
        "{audit}"
    );
}

async fn a_root_key_change_moves_every_kek_under_the_new_key(db: TestDb) {
    let old_key = crate::support::test_key();
    let new_key = crate::support::test_key();
    let server = TestServer::start_with(db, old_key.clone(), &[]).await;
    let values = seed(&server, 5).await;
    let output = keys_command(&server.db, &old_key, None, &["rotate"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &server.operator,
            Some(json!({"name": "UNDER_SECOND_KEK", "value": "x", "user_id": "u1"})),
        )
        .await;
    assert_eq!(status, 201);

    // The new key alone does not open this database yet.
    let refused = keys_command(&server.db, &new_key, None, &["status"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not match this database"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let output = keys_command(&server.db, &new_key, Some(&old_key), &["rewrap"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Both KEKs, and the integrity master wrapped beside them.
    assert!(stdout.contains("rewrapped 3 KEK(s)"), "{stdout}");
    let again = keys_command(&server.db, &new_key, Some(&old_key), &["rewrap"])
        .output()
        .expect("runs");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("rewrapped 0 KEK(s)"),
        "idempotent"
    );

    let status = keys_command(&server.db, &new_key, None, &["status"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(
        !text.contains(" NO "),
        "every KEK opens under the new key:\n{text}"
    );
    assert!(text.contains("current root key: local:"), "{text}");
    assert_all_open(&server.store, &new_key, &values).await;
}
