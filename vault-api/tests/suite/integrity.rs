//! Someone with write access to the database and not the root key, on SQLite and
//! PostgreSQL against a real server: rows edited to change who is handed which value
//! (a version rolled back, a scope widened, targets removed, an expiry cleared, a MAC
//! removed) are refused whole with `integrity_violation` and an audit record, never
//! served; the vault's own writes keep rows valid. The audit trail, anchored by
//! checkpoints, shows a missing tail, a deleted, edited or reordered record, a chain
//! recomputed after a deletion, a forged checkpoint and a removed keyed-chain marker,
//! each at the first bad position.

use vault_testkit::on_both_backends;

use std::sync::Arc;

use crate::support::{TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use vault_api::checkpoint::{self, Checkpointer};
use vault_api::clock::Clock;
use vault_api::verify::{self, Finding};

on_both_backends!(
    rows_edited_behind_the_vaults_back_are_refused_and_never_served,
    the_vaults_own_writes_keep_every_row_valid,
    audit_tampering_is_found_at_the_first_bad_record,
    a_vault_from_before_the_integrity_master_is_stamped_and_keyed_at_its_first_start,
);

const OLD: &str = "ghp_rotatedAwayValue_1f3a";
const NEW: &str = "ghp_currentValue_77c2";

/// A user secret for `profiles` (every profile when empty) rotated once: version 1
/// holds `OLD`, version 2 `NEW`.
async fn rotated(server: &TestServer, user: &str, name: &str, profiles: &[&str]) -> String {
    let token = server.token("user", Some(user)).await;
    let mut body = json!({"name": name, "value": OLD});
    if !profiles.is_empty() {
        body["scope"] = json!("agents");
        body["profile_ids"] = json!(profiles);
    }
    let created = server
        .expect(201, Method::POST, "/v1/secrets", &token, Some(body))
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    server
        .expect(
            200,
            Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &token,
            Some(json!({"value": NEW})),
        )
        .await;
    id
}

async fn resolve(server: &TestServer, user: &str, profile: &str) -> (u16, Value) {
    server
        .call(
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(json!({"user_id": user, "profile_id": profile})),
        )
        .await
}

/// The attack is refused whole: a 500 `integrity_violation` that discloses nothing,
/// recorded in the audit trail.
async fn assert_refused(server: &TestServer, what: &str, (status, body): (u16, Value)) {
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("integrity_violation")),
        "{what}: {body}"
    );
    let text = body.to_string();
    assert!(!text.contains(OLD) && !text.contains(NEW), "{what}: {text}");
    crate::shapes::pin("problem_integrity_violation", status, &body);
    let recorded = server
        .store
        .audit_latest(None, 5)
        .await
        .expect("reads")
        .into_iter()
        .any(|r| r.entry.outcome == "integrity_violation");
    assert!(recorded, "{what}: the refusal was not recorded");
}

async fn rows_edited_behind_the_vaults_back_are_refused_and_never_served(db: TestDb) {
    let server = TestServer::start(db).await;

    // The version rolled back to the value rotated away.
    let id = rotated(&server, "u1", "API_KEY", &[]).await;
    assert_eq!(resolve(&server, "u1", "p").await.1["env"]["API_KEY"], NEW);
    server.db.execute(&format!(
        "UPDATE secrets SET current_version = 1 WHERE id = '{id}'"
    ));
    assert_refused(
        &server,
        "version rolled back",
        resolve(&server, "u1", "p").await,
    )
    .await;
    // Every path that reads the row refuses it, the metadata views included.
    let owner = server.token("user", Some("u1")).await;
    let (status, body) = server
        .call(Method::GET, &format!("/v1/secrets/{id}"), &owner, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("integrity_violation"))
    );
    let (status, _) = server.call(Method::GET, "/v1/secrets", &owner, None).await;
    assert_eq!(status, 500);
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/sessions",
            &server.orchestrator,
            Some(json!({"user_id": "u1", "profile_id": "p"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let session = body["token"].as_str().expect("a session token").to_owned();
    let (status, body) = server
        .call(Method::GET, "/v1/runtime/secrets/API_KEY", &session, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("integrity_violation")),
        "{body}"
    );
    // Nor can the vault's own write paths be used to launder it.
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/v1/secrets/{id}/rollback"),
            &owner,
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 500);
    // Deleting it is how an operator clears it.
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/secrets/{id}"),
            &server.operator,
            None,
        )
        .await;
    assert_eq!(resolve(&server, "u1", "p").await.0, 200);

    // The scope widened from one profile to all, its target deleted.
    let id = rotated(&server, "u2", "API_KEY", &["p1"]).await;
    assert!(
        resolve(&server, "u2", "p2").await.1["env"]
            .get("API_KEY")
            .is_none()
    );
    server.db.execute(&format!(
        "DELETE FROM secret_targets WHERE secret_id = '{id}';
         UPDATE secrets SET scope_kind = 'all' WHERE id = '{id}'"
    ));
    assert_refused(&server, "scope widened", resolve(&server, "u2", "p2").await).await;

    // One of two targets removed: a narrower reach is still not the vault's.
    let id = rotated(&server, "u3", "API_KEY", &["p1", "p2"]).await;
    server.db.execute(&format!(
        "DELETE FROM secret_targets WHERE secret_id = '{id}' AND target_id = 'p2'"
    ));
    assert_refused(
        &server,
        "a target removed",
        resolve(&server, "u3", "p1").await,
    )
    .await;
    // A target added, which the schema alone would allow.
    let id = rotated(&server, "u4", "API_KEY", &["p1"]).await;
    server.db.execute(&format!(
        "INSERT INTO secret_targets (secret_id, owner_kind, owner_id, name, target_id)
         VALUES ('{id}', 'user', 'u4', 'API_KEY', 'p9')"
    ));
    assert_refused(
        &server,
        "a target added",
        resolve(&server, "u4", "p9").await,
    )
    .await;

    // An expiry cleared to revive an expired value.
    let token = server.token("user", Some("u5")).await;
    let expires = (server.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &token,
            Some(json!({"name": "SHORT", "value": OLD, "expires_at": expires})),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    server.clock.advance(chrono::Duration::hours(2));
    let (status, body) = resolve(&server, "u5", "p").await;
    assert_eq!(
        (status, body["expired"][0].as_str()),
        (200, Some("SHORT")),
        "{body}"
    );
    server.db.execute(&format!(
        "UPDATE secrets SET expires_at = NULL WHERE id = '{id}'"
    ));
    assert_refused(&server, "expiry cleared", resolve(&server, "u5", "p").await).await;

    // A row whose MAC is removed, to pass as one from before the integrity master.
    let id = rotated(&server, "u6", "API_KEY", &[]).await;
    server.db.execute(&format!(
        "UPDATE secrets SET row_mac = NULL WHERE id = '{id}'"
    ));
    assert_refused(&server, "MAC removed", resolve(&server, "u6", "p").await).await;
    // Another row's MAC copied over, to vouch for this one.
    let id = rotated(&server, "u7", "API_KEY", &[]).await;
    let other = rotated(&server, "u8", "API_KEY", &[]).await;
    server.db.execute(&format!(
        "UPDATE secrets SET row_mac = (SELECT row_mac FROM secrets WHERE id = '{other}')
         WHERE id = '{id}'"
    ));
    assert_refused(&server, "MAC copied", resolve(&server, "u7", "p").await).await;

    // A fresh replica, with nothing cached, refuses the same rows.
    let replica = server.replica().await;
    let answer = server
        .client
        .post(format!("{}/v1/resolve", replica.base))
        .bearer_auth(&server.orchestrator)
        .json(&json!({"user_id": "u7", "profile_id": "p"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status().as_u16(), 500);

    // Fields that decide nothing about disclosure may change: the row still serves.
    let id = rotated(&server, "u9", "API_KEY", &[]).await;
    server.db.execute(&format!(
        "UPDATE secrets SET category = 'password', description = 'edited' WHERE id = '{id}'"
    ));
    let (status, body) = resolve(&server, "u9", "p").await;
    assert_eq!(
        (status, body["env"]["API_KEY"].as_str()),
        (200, Some(NEW)),
        "{body}"
    );
}

async fn the_vaults_own_writes_keep_every_row_valid(db: TestDb) {
    let server = TestServer::start(db).await;
    let id = rotated(&server, "alice", "API_KEY", &["p1"]).await;
    let alice = server.token("user", Some("alice")).await;
    let path = format!("/v1/secrets/{id}");
    // Rollback, a scope change, an expiry set and cleared: each rewrites the MAC.
    server
        .expect(
            200,
            Method::POST,
            &format!("{path}/rollback"),
            &alice,
            Some(json!({"version": 1})),
        )
        .await;
    let (status, body) = resolve(&server, "alice", "p1").await;
    assert_eq!(
        (status, body["env"]["API_KEY"].as_str()),
        (200, Some(OLD)),
        "{body}"
    );
    server
        .expect(
            200,
            Method::PATCH,
            &path,
            &alice,
            Some(json!({"scope": "agents", "profile_ids": ["p1", "p2"]})),
        )
        .await;
    let expires = (server.clock.now() + chrono::Duration::days(1)).to_rfc3339();
    server
        .expect(
            200,
            Method::PATCH,
            &path,
            &alice,
            Some(json!({"expires_at": expires})),
        )
        .await;
    server
        .expect(
            200,
            Method::PATCH,
            &path,
            &alice,
            Some(json!({"expires_at": null})),
        )
        .await;
    let (status, body) = resolve(&server, "alice", "p2").await;
    assert_eq!(
        (status, body["env"]["API_KEY"].as_str()),
        (200, Some(OLD)),
        "{body}"
    );

    // A project entry narrowed by a milestone's removal is stamped again.
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            &server.orchestrator,
            Some(json!({"id": "apollo", "name": "Apollo", "accountable_user_id": "ada"})),
        )
        .await;
    for milestone in ["m1", "m2"] {
        server
            .expect(
                201,
                Method::POST,
                "/v1/projects/apollo/milestones",
                &server.operator,
                Some(json!({"id": milestone, "name": milestone})),
            )
            .await;
    }
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects/apollo/vault",
            &server.operator,
            Some(json!({"name": "DEPLOY", "value": NEW, "category": "other",
                        "scope": "milestone", "milestone_ids": ["m1", "m2"]})),
        )
        .await;
    server
        .expect(
            200,
            Method::DELETE,
            "/v1/projects/apollo/milestones/m2",
            &server.operator,
            None,
        )
        .await;
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(
                json!({"user_id": "ada", "profile_id": "p", "project_id": "apollo",
                        "milestone_id": "m1"}),
            ),
        )
        .await;
    assert_eq!(
        (status, body["env"]["DEPLOY"].as_str()),
        (200, Some(NEW)),
        "{body}"
    );
    // Every row the vault wrote carries a MAC.
    assert_eq!(
        server
            .db
            .scalar("SELECT COUNT(*) FROM secrets WHERE row_mac IS NULL"),
        0
    );
}

/// Anchors the chain's head now, in `path`.
async fn anchor(server: &TestServer, path: &std::path::Path) {
    let keys = server.store.integrity_keys().expect("keys");
    Checkpointer::new(Some(path.to_owned()), server.store.clone(), keys)
        .checkpoint()
        .await
        .expect("checkpoints");
}

async fn findings(server: &TestServer, path: &std::path::Path) -> Result<u64, Finding> {
    let keys = server.store.integrity_keys().expect("keys");
    let file = checkpoint::read(path, &keys).expect("reads");
    verify::verify_trail(&server.store, &file)
        .await
        .expect("verifies")
        .map(|intact| intact.records)
}

/// A vault with a trail of some records, anchored; a copy of its database to restore.
async fn trail(db: TestDb) -> (TestServer, tempfile::TempDir) {
    let server = TestServer::start(db).await;
    for user in ["a", "b", "c", "d"] {
        rotated(&server, user, "API_KEY", &[]).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    anchor(&server, &dir.path().join("checkpoints")).await;
    (server, dir)
}

fn head(server: &TestServer) -> i64 {
    server.db.scalar("SELECT MAX(seq) FROM audit_records")
}

async fn audit_tampering_is_found_at_the_first_bad_record(db: TestDb) {
    let (server, dir) = trail(db).await;
    let path = dir.path().join("checkpoints");
    let newest = head(&server);
    let intact = findings(&server, &path).await;
    assert_eq!(intact, Ok(newest as u64));
    // The chain since the integrity master is keyed, the first records included.
    assert_eq!(
        server
            .db
            .scalar("SELECT COUNT(*) FROM audit_records WHERE chain_format = 1"),
        0
    );

    let snapshot: Vec<vault_core::ChainedAudit> =
        server.store.audit_since(0, 10_000).await.expect("reads");
    let restore = |server: &TestServer| {
        let mut sql = String::from("DELETE FROM audit_records;");
        for r in &snapshot {
            let e = &r.entry;
            let target = e.target.as_ref().map_or("NULL".to_owned(), |t| {
                format!("'{}'", t.replace('\'', "''"))
            });
            sql.push_str(&format!(
                "INSERT INTO audit_records (seq, id, at, principal, action, target, outcome, \
                 request_id, previous_hash, hash, chain_format) VALUES ({}, '{}', {}, '{}', \
                 '{}', {target}, '{}', '{}', {}, {}, {});",
                r.seq,
                e.id,
                e.at.timestamp_micros(),
                e.principal,
                e.action,
                e.outcome,
                e.request_id,
                server.db.blob(&r.previous_hash),
                server.db.blob(&r.hash),
                r.format.code()
            ));
        }
        server.db.execute(&sql);
    };

    // The newest records deleted: the checkpoint says they existed.
    server.db.execute(&format!(
        "DELETE FROM audit_records WHERE seq > {}",
        newest - 2
    ));
    let found = findings(&server, &path).await.expect_err("a missing tail");
    assert_eq!(
        (found.kind, found.seq),
        ("missing tail", newest as u64 - 1),
        "{found}"
    );
    restore(&server);
    assert_eq!(findings(&server, &path).await, Ok(newest as u64));

    // A record in the middle deleted.
    server.db.execute("DELETE FROM audit_records WHERE seq = 3");
    let found = findings(&server, &path).await.expect_err("a deletion");
    assert_eq!((found.kind, found.seq), ("deleted", 4), "{found}");
    restore(&server);

    // A record edited in place.
    server
        .db
        .execute("UPDATE audit_records SET outcome = 'denied' WHERE seq = 3");
    let found = findings(&server, &path).await.expect_err("an edit");
    assert_eq!((found.kind, found.seq), ("edited", 3), "{found}");
    restore(&server);

    // Two records swapped.
    server.db.execute(
        "UPDATE audit_records SET seq = -1 WHERE seq = 3;
         UPDATE audit_records SET seq = 3 WHERE seq = 4;
         UPDATE audit_records SET seq = 4 WHERE seq = -1",
    );
    let found = findings(&server, &path).await.expect_err("a swap");
    assert_eq!(
        (found.kind, found.seq),
        ("deleted or reordered", 3),
        "{found}"
    );
    restore(&server);

    // A record deleted and the chain after it rebuilt with the function an attacker
    // has, plain SHA-256, once still marked keyed and once marked plain.
    for format in [2, 1] {
        server.db.execute("DELETE FROM audit_records WHERE seq = 3");
        let mut previous = snapshot[1].hash;
        for original in &snapshot[3..] {
            let seq = original.seq - 1;
            let hash = vault_core::chain_hash(seq, &original.entry, &previous);
            server.db.execute(&format!(
                "UPDATE audit_records SET seq = {seq}, previous_hash = {}, hash = {}, \
                 chain_format = {format} WHERE id = '{}'",
                server.db.blob(&previous),
                server.db.blob(&hash),
                original.entry.id
            ));
            previous = hash;
        }
        let found = findings(&server, &path).await.expect_err("a rebuilt chain");
        assert_eq!(
            (found.kind, found.seq),
            ("recomputed", 3),
            "{format}: {found}"
        );
        restore(&server);
    }
    assert_eq!(findings(&server, &path).await, Ok(newest as u64));

    // A forged checkpoint line: the file is refused as an anchor.
    let mut text = std::fs::read_to_string(&path).expect("reads");
    let renumbered = text.replace("\"seq\":", "\"seq\":1");
    text.push_str(renumbered.lines().next().unwrap_or(""));
    text.push('\n');
    let forged = dir.path().join("forged");
    std::fs::write(&forged, text).expect("writes");
    let found = findings(&server, &forged).await.expect_err("a forged line");
    assert_eq!(found.kind, "forged checkpoint", "{found}");

    // The marker of where the keyed chain begins, removed.
    server
        .db
        .execute("DELETE FROM vault_settings WHERE name = 'audit_keyed_from'");
    let found = findings(&server, &path).await.expect_err("no marker");
    assert_eq!(found.kind, "keyed-from marker", "{found}");

    // The store itself refuses to start over a keyed chain whose master is gone.
    server
        .db
        .execute("DELETE FROM vault_settings WHERE name = 'integrity_master'");
    let store = vault_api::server::open_store(&server.db.url, vault_store::StoreConfig::default())
        .await
        .expect("opens");
    let keys = vault_api::server::RootConfig::Local(vault_api::server::RootKeys {
        current: server.key(),
        previous: Vec::new(),
    });
    let refused = vault_api::server::open_keyring(
        &store,
        &keys,
        Arc::new(vault_api::clock::SystemClock),
        vault_kms::KeyringConfig::default(),
    )
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(refused.contains("tampered"), "{refused}");
}

/// A database an older vault left: rows without MACs and a plain SHA-256 chain, written
/// here through a store and keyring that never installed an integrity master.
async fn a_vault_from_before_the_integrity_master_is_stamped_and_keyed_at_its_first_start(
    db: TestDb,
) {
    use vault_core::{Category, Owner, Placement, Scope, SecretId, SecretName, UserId, Version};
    let key = crate::support::test_key();
    let clock: Arc<dyn vault_api::clock::Clock> = Arc::new(vault_api::clock::SystemClock);
    let old = vault_api::server::open_store(&db.url, vault_store::StoreConfig::default())
        .await
        .expect("opens");
    let instance = old
        .instance_id("vault-before".into())
        .await
        .expect("an instance");
    let keyring = vault_kms::Keyring::new(
        vault_kms::VaultInstanceId::parse(&instance).expect("valid"),
        Arc::new(vault_kms::LocalRootProvider::from_config(&key, &[]).expect("a key")),
        Arc::new(vault_api::kek_store::StoreKekRepository::new(
            old.clone(),
            clock.clone(),
        )),
        vault_kms::KeyringConfig::default(),
    );
    let audit = vault_api::audit::AuditContext {
        clock: clock.clone(),
    };
    let (id, owner, name) = (
        SecretId::generate(),
        Owner::User(UserId::parse("alice").expect("user")),
        SecretName::parse("API_KEY").expect("name"),
    );
    let value = vault_core::SecretValue::new(OLD.to_owned()).expect("a value");
    let envelope = keyring
        .seal(
            &vault_kms::SealBinding {
                secret_id: &id,
                version: Version::FIRST,
                owner: &owner,
                name: &name,
            },
            &value,
        )
        .await
        .expect("seals");
    let entry = audit
        .entry(
            "req_old",
            &vault_api::audit::Actor::cli(),
            vault_core::AuditAction::SecretCreate,
            json!({}),
            "ok",
        )
        .expect("an entry");
    old.create_secret(
        vault_store::NewSecret {
            id: id.clone(),
            name,
            placement: Placement::new(owner, Scope::All).expect("placement"),
            category: Category::Secret,
            description: None,
            expires_at: None,
            value: vault_store::Sealed {
                kek_id: envelope.kek_id().to_string(),
                envelope: envelope.to_bytes(),
            },
            masked: "****".into(),
            now: chrono::Utc::now(),
        },
        entry,
    )
    .await
    .expect("creates");
    let before = db.scalar("SELECT COUNT(*) FROM audit_records");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM secrets WHERE row_mac IS NULL"),
        1
    );
    drop(old);

    // Today's vault on the same database and key.
    let server = TestServer::start_with(db, key, &[]).await;
    assert_eq!(
        server
            .db
            .scalar("SELECT COUNT(*) FROM secrets WHERE row_mac IS NULL"),
        0,
        "every row was stamped at install"
    );
    let (status, body) = resolve(&server, "alice", "p").await;
    assert_eq!(
        (status, body["env"]["API_KEY"].as_str()),
        (200, Some(OLD)),
        "{body}"
    );
    // The plain records stay as they were and verify; the keyed chain follows them.
    assert_eq!(
        server.db.scalar(&format!(
            "SELECT COUNT(*) FROM audit_records WHERE chain_format = 1 AND seq <= {before}"
        )),
        before
    );
    assert_eq!(
        server.db.scalar(&format!(
            "SELECT COUNT(*) FROM audit_records WHERE chain_format = 1 AND seq > {before}"
        )),
        0
    );
    assert_eq!(
        server.store.audit_keyed_from().await.expect("reads"),
        Some(vault_store::KeyedFrom::From(before as u64 + 1))
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoints");
    anchor(&server, &path).await;
    let total = head(&server) as u64;
    assert_eq!(findings(&server, &path).await, Ok(total));
    // A plain record written into the keyed segment is refused.
    let last = server
        .store
        .audit_record(total)
        .await
        .expect("reads")
        .expect("the head");
    let previous = server
        .store
        .audit_record(total - 1)
        .await
        .expect("reads")
        .expect("one before");
    let plain = vault_core::chain_hash(total, &last.entry, &previous.hash);
    server.db.execute(&format!(
        "UPDATE audit_records SET hash = {}, chain_format = 1 WHERE seq = {total}",
        server.db.blob(&plain)
    ));
    let found = findings(&server, &path).await.expect_err("a downgrade");
    assert_eq!((found.kind, found.seq), ("recomputed", total), "{found}");
}
