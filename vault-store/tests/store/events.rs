//! The change event log: one event per change in the change's own transaction, none
//! for a refused one; positions without gaps in commit order, so a reader resumes
//! exactly; expiry reminders once each however many replicas sweep; bounded retention.

use std::collections::BTreeMap;
use std::time::Duration;

use vault_core::{
    EventKind, ExpiresAt, MilestoneId, Owner, ProjectId, ProjectRole, Scope, SecretId, StoredEvent,
    Version, WorkspaceId,
};
use vault_store::{
    Conflict, EventFilter, NewToken, NewValue, SecretUpdate, Store, StoreError, TokenBinding,
    TokenKind,
};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    every_change_appends_exactly_one_event_and_a_refused_one_none,
    a_change_whose_audit_record_fails_leaves_no_event,
    a_reader_resumes_exactly_after_its_position,
    concurrent_writers_leave_no_gap_for_a_reader_to_miss,
    expiry_reminders_go_out_once_across_replicas,
    retention_prunes_old_events_and_keeps_counting,
    events_edited_or_forged_in_the_database_are_never_handed_out,
);

async fn all_events(store: &Store) -> Vec<StoredEvent> {
    store
        .events(0, EventFilter::default(), 1000)
        .await
        .expect("reads")
        .events
}

async fn kinds(store: &Store) -> Vec<EventKind> {
    all_events(store)
        .await
        .iter()
        .map(|e| e.event.kind)
        .collect()
}

fn value(label: &str, restored_from: Option<Version>) -> NewValue {
    NewValue {
        sealed: sealed(label),
        masked: "****".into(),
        restored_from,
    }
}

fn version(n: u32) -> Version {
    Version::new(n).expect("valid")
}

async fn every_change_appends_exactly_one_event_and_a_refused_one_none(db: TestDb) {
    let store = db.open();
    let mut expected = Vec::new();
    // Walks each write path; after each, the log holds exactly one more event, of the
    // expected kind, naming the change and its actor.
    macro_rules! expect_event {
        ($kind:expr) => {{
            expected.push($kind);
            let seen = all_events(&store).await;
            assert_eq!(
                seen.iter().map(|e| e.event.kind).collect::<Vec<_>>(),
                expected
            );
            let last = seen.last().cloned().expect("an event");
            assert_eq!(
                last.seq,
                expected.len() as u64,
                "positions count from 1, no gaps"
            );
            assert_eq!(last.actor, "operator:tok_test");
            assert!(last.id.starts_with("evt_"));
            last
        }};
    }

    let created = store
        .create_secret(user_secret("u1", "API_KEY", agents(&["p1"])), audit())
        .await
        .expect("creates");
    let event = expect_event!(EventKind::SecretCreated);
    assert_eq!(event.event.owner, Some(Owner::User(user("u1"))));
    assert_eq!(
        event.event.name.as_ref().map(|n| n.as_str()),
        Some("API_KEY")
    );
    assert_eq!(event.event.secret_id.as_ref(), Some(&created.id));
    assert_eq!(event.event.version, Some(Version::FIRST));

    let update = |update: SecretUpdate| {
        let store = store.clone();
        let id = created.id.clone();
        async move { store.update_secret(id, update, at(10), audit()).await }
    };
    update(SecretUpdate {
        expected_version: Some(Version::FIRST),
        value: Some(value("v2", None)),
        ..SecretUpdate::default()
    })
    .await
    .expect("rotates");
    let event = expect_event!(EventKind::SecretRotated);
    assert_eq!(event.event.version, Some(version(2)));
    assert_eq!(event.event.detail.changed, ["value"]);

    update(SecretUpdate {
        scope: Some(agents(&["p2"])),
        ..SecretUpdate::default()
    })
    .await
    .expect("rescopes");
    let event = expect_event!(EventKind::SecretRescoped);
    let reach = event.event.detail.reach.expect("reach");
    assert_eq!(
        reach.targets.len(),
        2,
        "the profile it left and the one it reached"
    );

    update(SecretUpdate {
        expires_at: Some(Some(ExpiresAt::stored(at(10_000)))),
        ..SecretUpdate::default()
    })
    .await
    .expect("updates");
    expect_event!(EventKind::SecretUpdated);

    update(SecretUpdate {
        expected_version: Some(version(2)),
        value: Some(value("v1 again", Some(Version::FIRST))),
        ..SecretUpdate::default()
    })
    .await
    .expect("rolls back");
    let event = expect_event!(EventKind::SecretRolledBack);
    assert_eq!(event.event.detail.restored_from, Some(1));
    assert_eq!(event.event.version, Some(version(3)));

    // Refused changes append nothing: a stale rotation, an overlapping create, an
    // update of a secret that is not there.
    let stale = update(SecretUpdate {
        expected_version: Some(Version::FIRST),
        value: Some(value("late", None)),
        ..SecretUpdate::default()
    })
    .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict(Conflict::StaleVersion { .. }))
        ),
        "{stale:?}"
    );
    let overlapping = store
        .create_secret(user_secret("u1", "API_KEY", agents(&["p2"])), audit())
        .await;
    assert!(overlapping.is_err());
    let missing = store
        .update_secret(
            SecretId::generate(),
            SecretUpdate {
                scope: Some(Scope::All),
                ..SecretUpdate::default()
            },
            at(10),
            audit(),
        )
        .await;
    assert!(missing.is_err());
    assert_eq!(kinds(&store).await, expected, "refusals leave no event");

    store
        .delete_secret(created.id.clone(), audit())
        .await
        .expect("deletes");
    let event = expect_event!(EventKind::SecretDeleted);
    assert_eq!(
        event.event.name.as_ref().map(|n| n.as_str()),
        Some("API_KEY")
    );
    assert!(
        store
            .delete_secret(created.id.clone(), audit())
            .await
            .is_err()
    );

    let project = ProjectId::parse("prj_events").expect("valid");
    store
        .create_project(
            project.clone(),
            "Events".into(),
            user("u1"),
            at(20),
            audit(),
        )
        .await
        .expect("creates");
    expect_event!(EventKind::ProjectCreated);
    let milestone = MilestoneId::parse("ms_one").expect("valid");
    store
        .create_milestone(
            project.clone(),
            milestone.clone(),
            "One".into(),
            at(21),
            audit(),
        )
        .await
        .expect("creates");
    let event = expect_event!(EventKind::MilestoneCreated);
    assert_eq!(event.event.detail.milestone_id.as_ref(), Some(&milestone));
    store
        .put_member(
            project.clone(),
            user("u2"),
            ProjectRole::Consulted,
            at(22),
            audit(),
        )
        .await
        .expect("adds");
    let event = expect_event!(EventKind::ProjectMemberPut);
    assert_eq!(event.event.detail.user_id, Some(user("u2")));
    assert_eq!(event.event.detail.role, Some(ProjectRole::Consulted));
    store
        .remove_member(project.clone(), user("u2"), at(23), audit())
        .await
        .expect("removes");
    expect_event!(EventKind::ProjectMemberRemoved);
    store
        .delete_milestone(project.clone(), milestone, at(24), audit())
        .await
        .expect("deletes");
    expect_event!(EventKind::MilestoneDeleted);
    store
        .delete_project(project.clone(), at(25), audit())
        .await
        .expect("deletes");
    let event = expect_event!(EventKind::ProjectDeleted);
    assert_eq!(event.event.owner, Some(Owner::Project(project)));

    let workspace = WorkspaceId::parse("ws_events").expect("valid");
    store
        .put_workspace_admin(workspace.clone(), user("u3"), at(30), audit())
        .await
        .expect("adds");
    expect_event!(EventKind::WorkspaceAdminPut);
    store
        .put_workspace_member(workspace.clone(), user("u4"), at(31), audit())
        .await
        .expect("adds");
    expect_event!(EventKind::WorkspaceMemberPut);
    store
        .remove_workspace_member(workspace.clone(), user("u4"), audit())
        .await
        .expect("removes");
    expect_event!(EventKind::WorkspaceMemberRemoved);
    store
        .remove_workspace_admin(workspace.clone(), user("u3"), audit())
        .await
        .expect("removes");
    let event = expect_event!(EventKind::WorkspaceAdminRemoved);
    assert_eq!(event.event.owner, Some(Owner::Workspace(workspace)));

    // Minting a token is no event; revoking one is, once.
    store
        .insert_token(
            NewToken {
                id: "tok_u1".into(),
                hash: [3; 32],
                kind: TokenKind::User,
                binding: TokenBinding {
                    user_id: Some("u1".into()),
                    ..TokenBinding::default()
                },
                label: None,
                expires_at: None,
                now: at(40),
            },
            audit(),
        )
        .await
        .expect("inserts");
    assert_eq!(kinds(&store).await, expected);
    store
        .revoke_token("tok_u1".into(), at(41), audit())
        .await
        .expect("revokes");
    let event = expect_event!(EventKind::TokenRevoked);
    assert_eq!(event.event.owner, Some(Owner::User(user("u1"))));
    assert_eq!(event.event.detail.token_id.as_deref(), Some("tok_u1"));
    store
        .revoke_token("tok_u1".into(), at(42), audit())
        .await
        .expect("revoking again is no error");
    assert_eq!(kinds(&store).await, expected, "and no second event");

    // Nothing an event holds is a value: the sealed labels never appear.
    for event in all_events(&store).await {
        let text = format!("{event:?}");
        assert!(!text.contains("envelope:"), "{text}");
    }
}

/// The event is appended after the audit record in one transaction: when the record
/// cannot be written (a store without the integrity keys, once the chain is keyed), the
/// change and its event are both rolled back.
async fn a_change_whose_audit_record_fails_leaves_no_event(db: TestDb) {
    let keyed = db.open();
    let keys = std::sync::Arc::new(vault_core::IntegrityKeys::derive(&[7; 32]));
    keyed
        .install_integrity(vec![1, 2, 3], keys, audit())
        .await
        .expect("installs");
    let without_keys = db.open();
    let refused = without_keys
        .create_secret(user_secret("u1", "API_KEY", Scope::All), audit())
        .await;
    assert!(
        matches!(refused, Err(StoreError::IntegrityKeyRequired)),
        "{refused:?}"
    );
    assert!(all_events(&keyed).await.is_empty());
    assert!(
        keyed
            .list_secrets(list_query("u1", 10))
            .await
            .expect("lists")
            .items
            .is_empty()
    );
}

async fn a_reader_resumes_exactly_after_its_position(db: TestDb) {
    let store = db.open();
    for n in 0..7 {
        let owner = if n % 2 == 0 { "u1" } else { "u2" };
        store
            .create_secret(user_secret(owner, &format!("KEY_{n}"), Scope::All), audit())
            .await
            .expect("creates");
    }
    // Pages of three, each resumed after the last: every position once, in order.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .events(after, EventFilter::default(), 3)
            .await
            .expect("reads");
        assert_eq!(page.newest, 7);
        assert_eq!(page.oldest, Some(1));
        if page.events.is_empty() {
            assert_eq!(page.next_after, 7);
            break;
        }
        seen.extend(page.events.iter().map(|e| e.seq));
        after = page.next_after;
    }
    assert_eq!(seen, (1..=7).collect::<Vec<_>>());

    // A filter narrows the page, and a page that matched nothing still moves the
    // reader to the newest position, so it never rescans.
    let u2 = EventFilter {
        owner_kind: Some(vault_core::OwnerKind::User),
        owner_id: Some("u2".into()),
        ..EventFilter::default()
    };
    let page = store.events(0, u2.clone(), 100).await.expect("reads");
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [2, 4, 6]
    );
    assert_eq!(page.next_after, 7);
    let page = store.events(6, u2.clone(), 100).await.expect("reads");
    assert!(page.events.is_empty());
    assert_eq!(page.next_after, 7);
    let page = store.events(0, u2, 2).await.expect("reads");
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [2, 4]
    );
    assert_eq!(
        page.next_after, 4,
        "a full page resumes after its last event"
    );

    // The newest end: the last matching events, oldest first, and the reader goes on
    // from the newest position.
    let u1 = EventFilter {
        owner_kind: Some(vault_core::OwnerKind::User),
        owner_id: Some("u1".into()),
        ..EventFilter::default()
    };
    let tail = store
        .events_from(0, u1.clone(), 2, vault_store::PageEnd::Newest)
        .await
        .expect("reads");
    assert_eq!(
        tail.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [5, 7]
    );
    assert_eq!(tail.next_after, 7);
    let tail = store
        .events_from(5, u1, 10, vault_store::PageEnd::Newest)
        .await
        .expect("reads");
    assert_eq!(tail.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [7]);

    let by_name = EventFilter {
        name: Some(name("KEY_3")),
        ..EventFilter::default()
    };
    let page = store.events(0, by_name, 100).await.expect("reads");
    assert_eq!(page.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
    let by_kind = EventFilter {
        kinds: vec![EventKind::SecretDeleted, EventKind::SecretRotated],
        ..EventFilter::default()
    };
    assert!(
        store
            .events(0, by_kind, 100)
            .await
            .expect("reads")
            .events
            .is_empty()
    );
}

/// Writers commit concurrently while a reader pages: every position it is handed is the
/// next one, so resuming after the last never skips an event still committing.
async fn concurrent_writers_leave_no_gap_for_a_reader_to_miss(db: TestDb) {
    const WRITERS: usize = 6;
    const EACH: usize = 6;
    let store = db.open();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..EACH {
                store
                    .create_secret(
                        user_secret(&format!("w{w}"), &format!("KEY_{n}"), Scope::All),
                        audit(),
                    )
                    .await
                    .expect("creates");
            }
        }));
    }
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            while seen.len() < WRITERS * EACH {
                let page = store
                    .events(after, EventFilter::default(), 4)
                    .await
                    .expect("reads");
                seen.extend(page.events.iter().map(|e| e.seq));
                after = page.next_after;
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for writer in writers {
        writer.await.expect("writer");
    }
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the reader catches up")
        .expect("reader");
    assert_eq!(seen, (1..=(WRITERS * EACH) as u64).collect::<Vec<_>>());
}

async fn expiry_reminders_go_out_once_across_replicas(db: TestDb) {
    let day = 86_400;
    let leads = vec![
        Duration::from_secs(7 * day as u64),
        Duration::from_secs(day as u64),
    ];
    let first = db.open();
    let second = db.open();
    let mut soon = user_secret("u1", "SOON", Scope::All);
    soon.expires_at = Some(ExpiresAt::stored(at(10 * day)));
    let soon = first.create_secret(soon, audit()).await.expect("creates");
    // Created half a day before it expires: one reminder (the 1-day one), not two.
    let mut late = user_secret("u1", "LATE", Scope::All);
    late.expires_at = Some(ExpiresAt::stored(at(day / 2)));
    first.create_secret(late, audit()).await.expect("creates");
    first
        .create_secret(user_secret("u1", "FOREVER", Scope::All), audit())
        .await
        .expect("creates");

    // Both replicas sweep at every moment, concurrently.
    let moments = [
        0,
        1,
        3 * day,
        3 * day + 5,
        9 * day,
        9 * day + 1,
        10 * day,
        11 * day,
    ];
    for moment in moments {
        let (a, b) = tokio::join!(
            first.emit_due_reminders(at(moment), leads.clone()),
            second.emit_due_reminders(at(moment), leads.clone()),
        );
        a.expect("sweeps");
        b.expect("sweeps");
    }
    let mut reminders: BTreeMap<(String, &'static str, Option<u64>), usize> = BTreeMap::new();
    for event in all_events(&first).await {
        if matches!(
            event.event.kind,
            EventKind::SecretExpiring | EventKind::SecretExpired
        ) {
            assert_eq!(event.actor, vault_store::VAULT_ACTOR);
            let name = event.event.name.expect("named").as_str().to_owned();
            *reminders
                .entry((
                    name,
                    event.event.kind.as_str(),
                    event.event.detail.lead_seconds,
                ))
                .or_default() += 1;
        }
    }
    let week = Some(7 * day as u64);
    let one_day = Some(day as u64);
    assert_eq!(
        reminders,
        BTreeMap::from([
            (("LATE".into(), "secret.expiring", one_day), 1),
            (("LATE".into(), "secret.expired", None), 1),
            (("SOON".into(), "secret.expiring", week), 1),
            (("SOON".into(), "secret.expiring", one_day), 1),
            (("SOON".into(), "secret.expired", None), 1),
        ])
    );

    // A new version is a new credential: it is reminded of again.
    first
        .update_secret(
            soon.id.clone(),
            SecretUpdate {
                expected_version: Some(Version::FIRST),
                value: Some(value("renewed", None)),
                expires_at: Some(Some(ExpiresAt::stored(at(20 * day)))),
                ..SecretUpdate::default()
            },
            at(11 * day),
            audit(),
        )
        .await
        .expect("rotates");
    let appended = second
        .emit_due_reminders(at(19 * day + 1), leads.clone())
        .await
        .expect("sweeps");
    assert_eq!(appended, 1, "the 1-day reminder of version 2");
    assert_eq!(
        second
            .emit_due_reminders(at(19 * day + 2), leads)
            .await
            .expect("sweeps"),
        0
    );
    let last = all_events(&first).await.pop().expect("an event");
    assert_eq!(last.event.kind, EventKind::SecretExpiring);
    assert_eq!(last.event.version, Some(version(2)));
}

/// Someone with write access to the database edits an event and inserts another: a
/// store holding the integrity keys hands out neither (not to the feed, not to
/// fan-out, which would deliver it signed), counts them, and reads on past them.
async fn events_edited_or_forged_in_the_database_are_never_handed_out(db: TestDb) {
    let store = db.open();
    let keys = std::sync::Arc::new(vault_core::IntegrityKeys::derive(&[5; 32]));
    store
        .install_integrity(vec![1], keys, audit())
        .await
        .expect("installs");
    store
        .create_webhook(
            vault_store::NewWebhook {
                id: "whk_watch".into(),
                owner: Owner::User(user("u1")),
                url: "https://8.8.8.8/hook".into(),
                event_types: Vec::new(),
                description: None,
                now: at(0),
            },
            audit(),
        )
        .await
        .expect("registers");
    for n in 0..3 {
        store
            .create_secret(user_secret("u1", &format!("KEY_{n}"), Scope::All), audit())
            .await
            .expect("creates");
    }
    db.execute("UPDATE events SET name = 'EVIL' WHERE seq = 2");
    db.execute(
        "INSERT INTO events (seq, id, at, kind, owner_kind, owner_id, name, secret_id, version, actor, detail) \
         VALUES (4, 'evt_forged00000000000000', 0, 'secret.rotated', 'user', 'u1', 'KEY_0', NULL, 9, 'operator:tok_x', '{}')",
    );
    db.execute(
        "INSERT INTO events (seq, id, at, kind, actor, detail) \
         VALUES (5, 'evt_broken00000000000000', 0, 'secret.rotated', 'x', 'not json')",
    );
    let page = store
        .events(0, EventFilter::default(), 100)
        .await
        .expect("reads");
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(page.tampered, 3);
    assert_eq!(page.next_after, 5, "the reader moves past them");
    assert!(
        page.events
            .iter()
            .all(|e| e.event.name.as_ref().map(|n| n.as_str()) != Some("EVIL"))
    );
    store.fan_out_webhooks(at(1)).await.expect("fans out");
    let delivered: Vec<u64> = store
        .webhook_deliveries("whk_watch".into(), 100)
        .await
        .expect("lists")
        .iter()
        .map(|d| d.event_seq)
        .collect();
    assert_eq!(delivered, [3, 1], "nothing forged is queued for delivery");
    // The next real event still gets the next position and its MAC.
    store
        .create_secret(user_secret("u1", "KEY_NEXT", Scope::All), audit())
        .await
        .expect("creates");
    let page = store
        .events(5, EventFilter::default(), 100)
        .await
        .expect("reads");
    assert_eq!(page.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [6]);
}

async fn retention_prunes_old_events_and_keeps_counting(db: TestDb) {
    let store = db.open();
    for n in 0..3 {
        store
            .create_secret(user_secret("u1", &format!("KEY_{n}"), Scope::All), audit())
            .await
            .expect("creates");
    }
    // Every event is older than the cut: all go but the newest, whose position the next
    // append counts from.
    assert_eq!(store.prune_events(at(1_000)).await.expect("prunes"), 2);
    let page = store
        .events(0, EventFilter::default(), 10)
        .await
        .expect("reads");
    assert_eq!(page.oldest, Some(3));
    assert_eq!(page.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    store
        .create_secret(user_secret("u1", "KEY_NEXT", Scope::All), audit())
        .await
        .expect("creates");
    let page = store
        .events(3, EventFilter::default(), 10)
        .await
        .expect("reads");
    assert_eq!(page.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
    assert_eq!(
        store.prune_events(at(-1)).await.expect("prunes"),
        0,
        "nothing that old"
    );
}
