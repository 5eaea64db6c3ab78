//! Racing writers: rotations never lose a version, overlapping creates leave one.

use std::collections::BTreeSet;

use vault_core::{Scope, Version};
use vault_store::{Conflict, NewValue, SecretUpdate, StoreError};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    an_owner_holds_at_most_its_entry_limit_even_under_racing_creates,
    concurrent_rotations_each_get_their_own_version,
    racing_wide_creates_leave_exactly_one,
    racing_narrow_creates_sharing_a_profile_leave_exactly_one,
);

const WRITERS: usize = 8;
const ROTATIONS_EACH: usize = 6;

/// Eight writers race to create twelve secrets each for one owner whose limit is
/// twenty: exactly twenty land, the rest are refused with the limit and leave no row
/// and no audit record, and other owners are untouched by the first owner's limit.
async fn an_owner_holds_at_most_its_entry_limit_even_under_racing_creates(db: TestDb) {
    const LIMIT: u32 = 20;
    let store = db.open_with(&vault_store::StoreConfig {
        max_entries_per_owner: std::num::NonZeroU32::new(LIMIT).expect("non-zero"),
        ..vault_store::StoreConfig::default()
    });
    assert_eq!(store.max_entries_per_owner(), LIMIT);
    let shown = format!("{store:?}");
    assert!(shown.contains("max_entries_per_owner: 20"), "{shown}");
    assert!(!shown.contains(&db.url), "{shown}");
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..12 {
                let name = format!("W{writer}_{n}");
                outcomes.push(
                    store
                        .create_secret(user_secret("u1", &name, Scope::All), audit())
                        .await
                        .map(|_| ()),
                );
            }
            outcomes
        }));
    }
    let mut created = 0;
    let mut refused = 0;
    for task in tasks {
        for outcome in task.await.expect("writer finished") {
            match outcome {
                Ok(()) => created += 1,
                Err(StoreError::EntryLimit { limit }) => {
                    assert_eq!(limit, LIMIT);
                    refused += 1;
                }
                Err(other) => panic!("unexpected refusal: {other}"),
            }
        }
    }
    assert_eq!((created, refused), (20, 8 * 12 - 20));
    let held = store
        .list_secrets(list_query("u1", 200))
        .await
        .expect("lists");
    assert_eq!(held.items.len(), 20);
    let head = store.audit_head().await.expect("head").expect("records");
    assert_eq!(
        head.seq, 20,
        "one record per creation that landed, none for refusals"
    );
    store
        .create_secret(user_secret("u2", "OTHER_OWNER", Scope::All), audit())
        .await
        .expect("another owner has room");
    // Deleting one makes room for one.
    let first = held.items[0].id.clone();
    store.delete_secret(first, audit()).await.expect("deletes");
    store
        .create_secret(user_secret("u1", "AFTER_DELETE", Scope::All), audit())
        .await
        .expect("room again");
    assert!(matches!(
        store
            .create_secret(user_secret("u1", "ONE_TOO_MANY", Scope::All), audit())
            .await,
        Err(StoreError::EntryLimit { .. })
    ));
}

async fn concurrent_rotations_each_get_their_own_version(db: TestDb) {
    let store = db.open_keeping(1000);
    let id = store
        .create_secret(user_secret("u1", "TOKEN", Scope::All), audit())
        .await
        .expect("creates")
        .id;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            let mut stale = 0;
            while written.len() < ROTATIONS_EACH {
                // Read, seal for the next version, write if nobody moved first: the
                // loop an API handler runs.
                let current = store.secret(id.clone()).await.expect("reads").version;
                let label = format!("w{writer}-{}", written.len());
                let update = SecretUpdate {
                    expected_version: Some(current),
                    value: Some(NewValue {
                        sealed: sealed(&label),
                        masked: "****".into(),
                        restored_from: None,
                    }),
                    ..SecretUpdate::default()
                };
                match store
                    .update_secret(id.clone(), update, at(1), audit())
                    .await
                {
                    Ok(meta) => written.push((meta.version.get(), label)),
                    Err(StoreError::Conflict(Conflict::StaleVersion { .. })) => stale += 1,
                    Err(other) => panic!("rotation failed: {other}"),
                }
            }
            (written, stale)
        }));
    }
    let mut written = Vec::new();
    for task in tasks {
        written.extend(task.await.expect("writer finished").0);
    }
    let total = 1 + WRITERS * ROTATIONS_EACH;
    let versions = store.secret_versions(id.clone()).await.expect("versions");
    let numbers: Vec<u32> = versions.iter().map(|v| v.version.get()).collect();
    let expected: Vec<u32> = (1..=total as u32).rev().collect();
    assert_eq!(numbers, expected, "every version exactly once");
    let current = store.secret(id.clone()).await.expect("reads").version;
    assert_eq!(current.get(), total as u32);
    // Each version holds the value of the one writer told it won that number.
    for (number, label) in written {
        let stored = store
            .sealed_version(id.clone(), Version::new(number).expect("valid"))
            .await
            .expect("kept");
        assert_eq!(stored, sealed(&label));
    }
}

async fn race_creates(db: TestDb, scopes: Vec<vault_core::Scope>) {
    let store = db.open();
    let mut tasks = Vec::new();
    for scope in scopes {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_secret(user_secret("u1", "TOKEN", scope), audit())
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task finished") {
            Ok(_) => won += 1,
            Err(StoreError::Conflict(Conflict::Overlap(_))) => {}
            Err(other) => panic!("a racing create failed otherwise: {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one racing create succeeds");
    let page = store
        .list_secrets(list_query("u1", 100))
        .await
        .expect("lists");
    assert_eq!(page.items.len(), 1);
    let ids: BTreeSet<_> = page.items.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), 1);
}

async fn racing_wide_creates_leave_exactly_one(db: TestDb) {
    race_creates(db, (0..12).map(|_| Scope::All).collect()).await;
}

async fn racing_narrow_creates_sharing_a_profile_leave_exactly_one(db: TestDb) {
    let scopes = (0..12)
        .map(|i| agents(&["shared", &format!("own-{i}")]))
        .collect();
    race_creates(db, scopes).await;
}
