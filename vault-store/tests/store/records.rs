//! API tokens (by hash) and the audit trail's chain.

use vault_core::{AuditEntry, ChainVerifier, ChainedAudit, Scope, SecretId};
use vault_store::{Conflict, Entity, FoundToken, NewToken, StoreError, TokenBinding, TokenKind};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    tokens_are_found_by_hash_and_revoked_for_good,
    a_session_is_found_with_the_token_that_minted_it,
    changes_commit_with_their_records_and_refusals_leave_none,
    concurrent_writers_extend_one_unbroken_chain,
    batches_from_two_replicas_extend_one_unbroken_chain,
    the_first_instance_id_stored_is_the_one_every_replica_gets,
    lists_read_masked_values_without_envelopes,
);

fn token(id: &str, hash_byte: u8) -> NewToken {
    NewToken {
        id: id.into(),
        hash: [hash_byte; 32],
        kind: TokenKind::User,
        binding: TokenBinding {
            user_id: Some("u1".into()),
            ..TokenBinding::default()
        },
        label: Some("laptop".into()),
        expires_at: Some(at(100)),
        now: at(0),
    }
}

/// Authentication judges a session together with its orchestrator token, so the
/// store hands both over in one call: a revoked issuer shows as revoked, a missing one
/// as absent.
async fn a_session_is_found_with_the_token_that_minted_it(db: TestDb) {
    let store = db.open();
    let orchestrator = NewToken {
        kind: TokenKind::Orchestrator,
        binding: TokenBinding::default(),
        ..token("tok_orch", 7)
    };
    store
        .insert_token(orchestrator, audit())
        .await
        .expect("inserts");
    let session = |id: &str, hash: u8, issuer: &str| NewToken {
        kind: TokenKind::Session,
        binding: TokenBinding {
            user_id: Some("u1".into()),
            profile_id: Some("p1".into()),
            issued_by: Some(issuer.into()),
            ..TokenBinding::default()
        },
        ..token(id, hash)
    };
    store
        .insert_token(session("tok_s1", 8, "tok_orch"), audit())
        .await
        .expect("inserts");
    store
        .insert_token(session("tok_s2", 9, "tok_gone"), audit())
        .await
        .expect("inserts");
    let found = store
        .token_by_hash([8; 32])
        .await
        .expect("reads")
        .expect("found");
    assert_eq!(found.token.binding.issued_by.as_deref(), Some("tok_orch"));
    let issuer = found.issuer.expect("the issuer comes along");
    assert_eq!(
        (issuer.id.as_str(), issuer.kind),
        ("tok_orch", TokenKind::Orchestrator)
    );
    assert!(issuer.is_live(at(1)));
    store
        .revoke_token("tok_orch".into(), at(2), audit())
        .await
        .expect("revokes");
    let found = store
        .token_by_hash([8; 32])
        .await
        .expect("reads")
        .expect("found");
    assert!(
        found.token.is_live(at(3)),
        "the session row itself is untouched"
    );
    assert!(!found.issuer.expect("still stored").is_live(at(3)));
    let orphan = store
        .token_by_hash([9; 32])
        .await
        .expect("reads")
        .expect("found");
    assert_eq!(orphan.issuer, None);
}

async fn tokens_are_found_by_hash_and_revoked_for_good(db: TestDb) {
    let store = db.open();
    let shown = format!("{:?}", token("tok_1", 1));
    assert!(
        shown.contains("tok_1") && !shown.contains("[1, 1"),
        "{shown}"
    );
    let stored = store
        .insert_token(token("tok_1", 1), audit())
        .await
        .expect("inserts");
    assert!(stored.is_live(at(99)));
    assert!(!stored.is_live(at(100)));
    assert_eq!(
        store.token_by_hash([1; 32]).await,
        Ok(Some(FoundToken {
            token: stored.clone(),
            issuer: None
        }))
    );
    assert_eq!(store.token_by_hash([2; 32]).await, Ok(None));
    assert_eq!(
        store.insert_token(token("tok_2", 1), audit()).await,
        Err(StoreError::Conflict(Conflict::AlreadyExists(Entity::Token)))
    );
    let revoked = store
        .revoke_token("tok_1".into(), at(5), audit())
        .await
        .expect("revokes");
    assert_eq!(revoked.revoked_at, Some(at(5)));
    assert!(!revoked.is_live(at(6)));
    let again = store
        .revoke_token("tok_1".into(), at(9), audit())
        .await
        .expect("idempotent");
    assert_eq!(again.revoked_at, Some(at(5)));
    let found = store
        .token_by_hash([1; 32])
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(found.token.revoked_at, Some(at(5)));
    assert_eq!(
        store.revoke_token("tok_9".into(), at(9), audit()).await,
        Err(StoreError::NotFound(Entity::Token))
    );
    store
        .insert_token(token("tok_3", 3), audit())
        .await
        .expect("inserts");
    let ids: Vec<String> = store
        .tokens()
        .await
        .expect("lists")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["tok_1", "tok_3"]);
}

fn entry(n: usize) -> AuditEntry {
    AuditEntry {
        id: format!("aud_{n}"),
        action: format!("test.{n}"),
        ..audit()
    }
}

async fn verified_chain(store: &vault_store::Store) -> Vec<ChainedAudit> {
    let records = store.audit_since(0, 1000).await.expect("reads");
    let mut verifier = ChainVerifier::default();
    for record in &records {
        verifier.check(record).expect("the chain is intact");
    }
    records
}

async fn changes_commit_with_their_records_and_refusals_leave_none(db: TestDb) {
    let store = db.open();
    assert_eq!(store.audit_head().await, Ok(None));
    let secret = user_secret("u1", "TOKEN", Scope::All);
    store
        .create_secret(secret.clone(), entry(1))
        .await
        .expect("creates");
    // Refused changes roll their record back with them.
    let duplicate = store.create_secret(secret.clone(), entry(2)).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let missing = store.delete_secret(SecretId::generate(), entry(3)).await;
    assert_eq!(missing, Err(StoreError::NotFound(Entity::Secret)));
    let head = store
        .audit_head()
        .await
        .expect("reads")
        .expect("one record");
    assert_eq!((head.seq, head.entry.id.as_str()), (1, "aud_1"));

    let appended = store
        .append_audit(vec![entry(4), entry(5)])
        .await
        .expect("appends");
    assert_eq!(appended.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
    store
        .delete_secret(secret.id.clone(), entry(6))
        .await
        .expect("deletes");
    let ids: Vec<String> = verified_chain(&store)
        .await
        .into_iter()
        .map(|r| r.entry.id)
        .collect();
    assert_eq!(ids, ["aud_1", "aud_4", "aud_5", "aud_6"]);
    let latest: Vec<u64> = store
        .audit_latest(None, 2)
        .await
        .expect("reads")
        .into_iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(latest, [4, 3]);
    let before: Vec<u64> = store
        .audit_latest(Some(3), 10)
        .await
        .expect("reads")
        .into_iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(before, [2, 1]);
}

async fn concurrent_writers_extend_one_unbroken_chain(db: TestDb) {
    let store = db.open();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..5 {
                    if n % 2 == 0 {
                        store
                            .append_audit(vec![entry(w * 10 + n)])
                            .await
                            .expect("appends");
                    } else {
                        let name = format!("W{w}_{n}");
                        store
                            .create_secret(user_secret("u1", &name, Scope::All), entry(w * 10 + n))
                            .await
                            .expect("creates");
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer finished");
    }
    assert_eq!(verified_chain(&store).await.len(), 40);
}

/// The resolution writer's batches arrive as one multi-row insert each; two stores on
/// one database (two replicas, two pools) appending batches of every size at once, with
/// changes in between, still make one chain: dense positions, each record linked to the
/// one before, none lost or doubled. An empty batch appends nothing.
async fn batches_from_two_replicas_extend_one_unbroken_chain(db: TestDb) {
    let replicas = [db.open(), db.open()];
    assert_eq!(replicas[0].append_audit(Vec::new()).await, Ok(Vec::new()));
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let store = replicas[w % 2].clone();
            tokio::spawn(async move {
                let mut appended = 0;
                for n in 1..=6 {
                    let batch: Vec<AuditEntry> =
                        (0..n).map(|i| entry(w * 1000 + n * 10 + i)).collect();
                    let chained = store.append_audit(batch).await.expect("appends");
                    let seqs: Vec<u64> = chained.iter().map(|r| r.seq).collect();
                    let first = seqs[0];
                    assert_eq!(
                        seqs,
                        (first..first + n as u64).collect::<Vec<_>>(),
                        "a batch takes consecutive positions"
                    );
                    appended += n;
                    let name = format!("B{w}_{n}");
                    store
                        .create_secret(user_secret("u1", &name, Scope::All), entry(w * 1000 + n))
                        .await
                        .expect("creates");
                    appended += 1;
                }
                appended
            })
        })
        .collect();
    let mut expected = 0;
    for writer in writers {
        expected += writer.await.expect("writer finished");
    }
    let chain = verified_chain(&replicas[1]).await;
    assert_eq!(chain.len(), expected);
    let mut ids: Vec<&str> = chain.iter().map(|r| r.entry.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), expected, "no record doubled");
}

async fn the_first_instance_id_stored_is_the_one_every_replica_gets(db: TestDb) {
    let store = db.open();
    assert_eq!(
        store.instance_id("vi_first".into()).await,
        Ok("vi_first".into())
    );
    assert_eq!(
        store.instance_id("vi_second".into()).await,
        Ok("vi_first".into())
    );
}

async fn lists_read_masked_values_without_envelopes(db: TestDb) {
    let store = db.open();
    let mut new = user_secret("u1", "TOKEN", Scope::All);
    new.masked = "sk-****abc".into();
    let id = store.create_secret(new, audit()).await.expect("creates").id;
    let update = vault_store::SecretUpdate {
        expected_version: Some(vault_core::Version::FIRST),
        value: Some(vault_store::NewValue {
            sealed: sealed("v2"),
            masked: "sk-****xyz".into(),
            restored_from: None,
        }),
        ..Default::default()
    };
    store
        .update_secret(id.clone(), update, at(1), audit())
        .await
        .expect("rotates");
    let masked = store
        .current_masked(vec![id.clone(), SecretId::generate()])
        .await
        .expect("reads");
    assert_eq!(
        masked.into_iter().collect::<Vec<_>>(),
        [(id.clone(), "sk-****xyz".to_owned())]
    );
    let history: Vec<String> = store
        .secret_versions(id)
        .await
        .expect("reads")
        .into_iter()
        .map(|v| v.masked)
        .collect();
    assert_eq!(history, ["sk-****xyz", "sk-****abc"]);
}
