//! Webhook endpoints and deliveries: fan-out writes each delivery once however many
//! replicas run it, replicas claiming at once never take the same attempt, a lease
//! that runs out passes the attempt on (and the late finisher is ignored), failures
//! back off and turn a failing endpoint off with an event saying so.

use std::collections::BTreeSet;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};

use vault_core::{EventKind, Owner, Scope};
use vault_store::{DeliveryOutcome, DeliveryState, EventFilter, NewWebhook, Store, WebhookChanges};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    fan_out_writes_each_delivery_once_for_the_endpoints_that_want_it,
    replicas_claiming_at_once_never_take_the_same_attempt,
    a_lapsed_lease_passes_the_attempt_on_and_the_late_outcome_is_ignored,
    failures_back_off_then_turn_the_endpoint_off_with_an_event,
    a_first_endpoint_in_a_vault_with_history_does_not_wait_for_it,
    looking_for_work_with_nothing_due_takes_no_write_lock,
);

fn endpoint(id: &str, owner: &str, types: Vec<EventKind>) -> NewWebhook {
    NewWebhook {
        id: id.into(),
        owner: Owner::User(user(owner)),
        url: format!("https://hooks.example.com/{id}"),
        event_types: types,
        description: None,
        now: at(0),
    }
}

async fn secret_for(store: &Store, owner: &str, name: &str) {
    store
        .create_secret(user_secret(owner, name, Scope::All), audit())
        .await
        .expect("creates");
}

async fn fan_out_writes_each_delivery_once_for_the_endpoints_that_want_it(db: TestDb) {
    let first = db.open();
    let second = db.open();
    secret_for(&first, "u1", "BEFORE").await;
    first
        .create_webhook(endpoint("whk_all", "u1", Vec::new()), audit())
        .await
        .expect("registers");
    first
        .create_webhook(
            endpoint("whk_deleted_only", "u1", vec![EventKind::SecretDeleted]),
            audit(),
        )
        .await
        .expect("registers");
    first
        .create_webhook(endpoint("whk_other_user", "u2", Vec::new()), audit())
        .await
        .expect("registers");
    for n in 0..5 {
        secret_for(&first, "u1", &format!("AFTER_{n}")).await;
    }
    // Both replicas fan out at once, twice: every delivery exactly once.
    for _ in 0..2 {
        let (a, b) = tokio::join!(
            first.fan_out_webhooks(at(1)),
            second.fan_out_webhooks(at(1))
        );
        a.expect("fans out");
        b.expect("fans out");
    }
    let all = first
        .webhook_deliveries("whk_all".into(), 100)
        .await
        .expect("lists");
    assert_eq!(
        all.len(),
        5,
        "the event from before registration is not delivered"
    );
    assert!(all.iter().all(|d| d.event_kind == "secret.created"));
    assert!(
        all.iter()
            .all(|d| d.state == DeliveryState::Pending && d.attempts == 0)
    );
    let seqs: BTreeSet<u64> = all.iter().map(|d| d.event_seq).collect();
    assert_eq!(seqs.len(), 5);
    assert!(
        first
            .webhook_deliveries("whk_deleted_only".into(), 100)
            .await
            .expect("lists")
            .is_empty()
    );
    assert!(
        first
            .webhook_deliveries("whk_other_user".into(), 100)
            .await
            .expect("lists")
            .is_empty()
    );
}

/// Fan-out reads the log in batches; events from before every endpoint's registration
/// are skipped rather than read batch by batch, so the first delivery is not late.
async fn a_first_endpoint_in_a_vault_with_history_does_not_wait_for_it(db: TestDb) {
    let store = db.open();
    // More history than one fan-out batch (500 events).
    for n in 0..260 {
        secret_for(&store, "u9", &format!("OLD_{n}")).await;
        store
            .delete_secret(
                store
                    .list_secrets(list_query("u9", 1))
                    .await
                    .expect("lists")
                    .items
                    .remove(0)
                    .id,
                audit(),
            )
            .await
            .expect("deletes");
    }
    // Nothing to deliver to yet: fan-out does nothing, and takes no lock.
    assert_eq!(store.fan_out_webhooks(at(1)).await.expect("fans out"), 0);
    store
        .create_webhook(endpoint("whk_first", "u1", Vec::new()), audit())
        .await
        .expect("registers");
    secret_for(&store, "u1", "NEW").await;
    assert_eq!(store.fan_out_webhooks(at(2)).await.expect("fans out"), 1);
}

async fn replicas_claiming_at_once_never_take_the_same_attempt(db: TestDb) {
    let first = db.open();
    let second = db.open();
    first
        .create_webhook(endpoint("whk_a", "u1", Vec::new()), audit())
        .await
        .expect("registers");
    for n in 0..24 {
        secret_for(&first, "u1", &format!("KEY_{n}")).await;
    }
    first.fan_out_webhooks(at(1)).await.expect("fans out");
    let mut claimed = Vec::new();
    loop {
        let (a, b) = tokio::join!(
            first.claim_webhook_deliveries(at(2), at(100), 3),
            second.claim_webhook_deliveries(at(2), at(100), 3),
        );
        let (a, b) = (a.expect("claims"), b.expect("claims"));
        if a.is_empty() && b.is_empty() {
            break;
        }
        claimed.extend(a.into_iter().chain(b).map(|c| {
            assert_eq!(c.delivery.attempts, 1);
            assert!(c.event.is_some(), "the event comes with its delivery");
            assert_eq!(c.endpoint.id, "whk_a");
            c.delivery.id
        }));
    }
    let unique: BTreeSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), 24, "every delivery claimed");
    assert_eq!(unique.len(), 24, "none claimed twice");
}

async fn a_lapsed_lease_passes_the_attempt_on_and_the_late_outcome_is_ignored(db: TestDb) {
    let store = db.open();
    store
        .create_webhook(endpoint("whk_a", "u1", Vec::new()), audit())
        .await
        .expect("registers");
    secret_for(&store, "u1", "KEY").await;
    store.fan_out_webhooks(at(1)).await.expect("fans out");
    let first = store
        .claim_webhook_deliveries(at(2), at(10), 10)
        .await
        .expect("claims");
    assert_eq!(first.len(), 1);
    // Leased: nobody else may take it before the lease ends.
    assert!(
        store
            .claim_webhook_deliveries(at(9), at(20), 10)
            .await
            .expect("claims")
            .is_empty()
    );
    // The first claimer died; once the lease is over the attempt passes on.
    let second = store
        .claim_webhook_deliveries(at(11), at(30), 10)
        .await
        .expect("claims");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].delivery.attempts, 2);
    let id = second[0].delivery.id.clone();
    // The first claimer comes back late: its outcome is not the current attempt's.
    let ignored = store
        .finish_webhook_delivery(
            id.clone(),
            1,
            DeliveryOutcome::Delivered { status: 200 },
            5,
            at(12),
        )
        .await
        .expect("records");
    assert!(!ignored);
    let still = store
        .webhook_deliveries("whk_a".into(), 10)
        .await
        .expect("lists");
    assert_eq!(still[0].state, DeliveryState::Pending);
    store
        .finish_webhook_delivery(id, 2, DeliveryOutcome::Delivered { status: 204 }, 5, at(13))
        .await
        .expect("records");
    let done = store
        .webhook_deliveries("whk_a".into(), 10)
        .await
        .expect("lists");
    assert_eq!(
        (done[0].state, done[0].last_status),
        (DeliveryState::Delivered, Some(204))
    );
    assert!(
        store
            .claim_webhook_deliveries(at(100), at(200), 10)
            .await
            .expect("claims")
            .is_empty(),
        "a delivered delivery is not claimed again"
    );
}

async fn failures_back_off_then_turn_the_endpoint_off_with_an_event(db: TestDb) {
    let store = db.open();
    store
        .create_webhook(endpoint("whk_a", "u1", Vec::new()), audit())
        .await
        .expect("registers");
    secret_for(&store, "u1", "KEY_ONE").await;
    secret_for(&store, "u1", "KEY_TWO").await;
    store.fan_out_webhooks(at(1)).await.expect("fans out");
    let failed = |retry_at| DeliveryOutcome::Failed {
        status: Some(500),
        error: "the receiver answered 500".into(),
        retry_at,
    };
    let claimed = store
        .claim_webhook_deliveries(at(2), at(10), 1)
        .await
        .expect("claims");
    let first = claimed[0].delivery.id.clone();
    assert!(
        !store
            .finish_webhook_delivery(first.clone(), 1, failed(Some(at(50))), 2, at(3))
            .await
            .expect("records")
    );
    let retried = store
        .webhook_deliveries("whk_a".into(), 10)
        .await
        .expect("lists");
    let row = retried
        .iter()
        .find(|d| d.id == first)
        .expect("the delivery");
    assert_eq!(
        (row.state, row.last_status, row.next_attempt_at),
        (DeliveryState::Pending, Some(500), at(50))
    );
    assert_eq!(row.last_error.as_deref(), Some("the receiver answered 500"));
    // Not due before its retry time.
    let other = store
        .claim_webhook_deliveries(at(4), at(10), 10)
        .await
        .expect("claims");
    assert_eq!(other.len(), 1);
    assert_ne!(other[0].delivery.id, first);
    // The second failure in a row turns the endpoint off, with an event.
    let disabled = store
        .finish_webhook_delivery(other[0].delivery.id.clone(), 1, failed(None), 2, at(5))
        .await
        .expect("records");
    assert!(disabled);
    let endpoint = store.webhook("whk_a".into()).await.expect("reads");
    assert!(!endpoint.enabled);
    assert!(
        endpoint
            .disabled_reason
            .expect("a reason")
            .contains("2 deliveries in a row failed")
    );
    let events = store
        .events(0, EventFilter::default(), 100)
        .await
        .expect("reads")
        .events;
    let last = events.last().expect("an event");
    assert_eq!(last.event.kind, EventKind::WebhookDisabled);
    assert_eq!(last.event.detail.webhook_id.as_deref(), Some("whk_a"));
    assert_eq!(last.event.owner, Some(Owner::User(user("u1"))));
    // A disabled endpoint's deliveries wait; turned back on, they go again.
    assert!(
        store
            .claim_webhook_deliveries(at(60), at(70), 10)
            .await
            .expect("claims")
            .is_empty()
    );
    let enabled = store
        .update_webhook(
            "whk_a".into(),
            WebhookChanges {
                enabled: Some(true),
                ..WebhookChanges::default()
            },
            at(61),
            audit(),
        )
        .await
        .expect("updates");
    assert!(
        enabled.enabled && enabled.consecutive_failures == 0 && enabled.disabled_reason.is_none()
    );
    let again = store
        .claim_webhook_deliveries(at(62), at(70), 10)
        .await
        .expect("claims");
    assert_eq!(
        again.len(),
        1,
        "the pending one; the given-up one waits for a redelivery"
    );
    assert_eq!(again[0].delivery.id, first);
    // A given-up delivery goes again when redelivered.
    let given_up = other[0].delivery.id.clone();
    let redelivered = store
        .redeliver("whk_a".into(), given_up.clone(), at(63), audit())
        .await
        .expect("requeues");
    assert_eq!(redelivered.state, DeliveryState::Pending);
    let claimed = store
        .claim_webhook_deliveries(at(64), at(70), 10)
        .await
        .expect("claims");
    assert_eq!(
        claimed
            .iter()
            .map(|c| c.delivery.id.clone())
            .collect::<Vec<_>>(),
        [given_up]
    );
    assert!(
        store
            .redeliver("whk_a".into(), "dlv_missing".into(), at(65), audit())
            .await
            .is_err()
    );
    // Deleting the endpoint takes its log with it.
    store
        .delete_webhook("whk_a".into(), audit())
        .await
        .expect("deletes");
    assert!(
        store
            .webhook_deliveries("whk_a".into(), 10)
            .await
            .expect("lists")
            .is_empty()
    );
}

/// A connection holding what a writer needs, until dropped.
enum HeldLock {
    Sqlite(#[allow(dead_code)] SqliteConnection),
    Postgres(#[allow(dead_code)] PgConnection),
}

/// Takes the write lock on SQLite; on PostgreSQL a lock on the deliveries that lets
/// readers through but makes any writer of them wait, and the append lock.
fn hold_write_lock(db: &TestDb) -> HeldLock {
    match db.sqlite_file() {
        Some(file) => {
            let mut conn = SqliteConnection::establish(&file.display().to_string()).expect("opens");
            conn.batch_execute("BEGIN IMMEDIATE")
                .expect("takes the write lock");
            HeldLock::Sqlite(conn)
        }
        None => {
            let mut conn = PgConnection::establish(&db.url).expect("connects");
            // The advisory lock is the store's append lock (key "vaultaud" in ASCII),
            // which fan-out takes to move its cursor.
            conn.batch_execute(
                "BEGIN; LOCK TABLE webhook_deliveries IN EXCLUSIVE MODE; \
                 SELECT pg_advisory_xact_lock(x'7661756c74617564'::bigint)",
            )
            .expect("locks the deliveries");
            HeldLock::Postgres(conn)
        }
    }
}

/// Every replica's worker looks for due deliveries after each committed change and
/// every poll. With nothing due the look must not open a write transaction: on SQLite
/// the next change would queue behind it, so every rotation would pay for a worker
/// with nothing to do. Probed with another connection holding the lock a writer needs:
/// the look still answers, and claims once something is due.
async fn looking_for_work_with_nothing_due_takes_no_write_lock(db: TestDb) {
    let store = db.open();
    store
        .create_webhook(endpoint("whk_idle", "u1", Vec::new()), audit())
        .await
        .expect("registers");
    // One delivery, fanned out and claimed: leased, so not due while the lock is held.
    secret_for(&store, "u1", "LEASED").await;
    store.fan_out_webhooks(at(4)).await.expect("fans out");
    let leased = store
        .claim_webhook_deliveries(at(4), at(65), 10)
        .await
        .expect("claims");
    assert_eq!(leased.len(), 1);
    let held = hold_write_lock(&db);
    let fanned = tokio::time::timeout(Duration::from_secs(30), store.fan_out_webhooks(at(5)))
        .await
        .expect("an idle fan-out waited for the lock")
        .expect("an idle fan-out answers beside a writer");
    assert_eq!(fanned, 0, "nothing new to fan out");
    let claimed = tokio::time::timeout(
        Duration::from_secs(30),
        store.claim_webhook_deliveries(at(5), at(65), 10),
    )
    .await
    .expect("the look waited for the lock")
    .expect("the look answers beside a writer");
    assert!(claimed.is_empty(), "nothing was due");
    drop(held);

    secret_for(&store, "u1", "DUE").await;
    store.fan_out_webhooks(at(5)).await.expect("fans out");
    let claimed = store
        .claim_webhook_deliveries(at(5), at(65), 10)
        .await
        .expect("claims");
    assert_eq!(claimed.len(), 1, "a due delivery is claimed");
    assert_ne!(
        claimed[0].delivery.id, leased[0].delivery.id,
        "not the leased one"
    );
    assert_eq!(claimed[0].delivery.attempts, 1);
}
