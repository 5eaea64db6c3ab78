//! API tokens (by hash) and the audit trail's positions.

use vault_store::{AuditRecord, Conflict, Entity, NewToken, StoreError, TokenBinding, TokenKind};

use crate::on_both_backends;
use crate::support::*;

on_both_backends!(
    tokens_are_found_by_hash_and_revoked_for_good,
    the_audit_chain_refuses_a_second_record_at_one_position,
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

async fn tokens_are_found_by_hash_and_revoked_for_good(db: TestDb) {
    let store = db.open();
    let shown = format!("{:?}", token("tok_1", 1));
    assert!(
        shown.contains("tok_1") && !shown.contains("[1, 1"),
        "{shown}"
    );
    let stored = store
        .insert_token(token("tok_1", 1))
        .await
        .expect("inserts");
    assert!(stored.is_live(at(99)));
    assert!(!stored.is_live(at(100)));
    assert_eq!(store.token_by_hash([1; 32]).await, Ok(Some(stored.clone())));
    assert_eq!(store.token_by_hash([2; 32]).await, Ok(None));
    assert_eq!(
        store.insert_token(token("tok_2", 1)).await,
        Err(StoreError::Conflict(Conflict::AlreadyExists(Entity::Token)))
    );
    let revoked = store
        .revoke_token("tok_1".into(), at(5))
        .await
        .expect("revokes");
    assert_eq!(revoked.revoked_at, Some(at(5)));
    assert!(!revoked.is_live(at(6)));
    let again = store
        .revoke_token("tok_1".into(), at(9))
        .await
        .expect("idempotent");
    assert_eq!(again.revoked_at, Some(at(5)));
    let found = store
        .token_by_hash([1; 32])
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(found.revoked_at, Some(at(5)));
    assert_eq!(
        store.revoke_token("tok_9".into(), at(9)).await,
        Err(StoreError::NotFound(Entity::Token))
    );
    store
        .insert_token(token("tok_3", 3))
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

fn record(seq: u64, previous: u8) -> AuditRecord {
    AuditRecord {
        seq,
        id: format!("aud_{seq}_{previous}"),
        at: at(seq as i64),
        principal: "operator:tok_1".into(),
        action: "secret.rotate".into(),
        target: Some("sec_x".into()),
        outcome: "ok".into(),
        request_id: format!("req-{seq}"),
        previous_hash: vec![previous; 32],
        hash: vec![seq as u8; 32],
    }
}

async fn the_audit_chain_refuses_a_second_record_at_one_position(db: TestDb) {
    let store = db.open();
    assert_eq!(store.audit_head().await, Ok(None));
    store
        .append_audit(vec![record(1, 0), record(2, 1)])
        .await
        .expect("appends");
    // A writer that missed record 2 tries to put its own there: refused whole.
    let refused = store.append_audit(vec![record(2, 9), record(3, 2)]).await;
    assert_eq!(
        refused,
        Err(StoreError::Conflict(Conflict::AuditChainMoved))
    );
    assert_eq!(store.audit_head().await, Ok(Some(record(2, 1))));
    store
        .append_audit(vec![record(3, 2)])
        .await
        .expect("appends");
    let since: Vec<u64> = store
        .audit_since(1, 10)
        .await
        .expect("reads")
        .into_iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(since, [2, 3]);
    assert_eq!(
        store.audit_since(0, 1).await.expect("reads"),
        [record(1, 0)]
    );
}
