//! KEK persistence: the `KekRepository` contract of vault-kms, held across processes by
//! the database (the same cases as vault-kms's in-memory reference).

use vault_core::{Scope, Version};
use vault_store::{KekStatus, Store};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    the_first_install_becomes_active_and_later_ones_defer_to_it,
    a_matching_replacement_retires_the_old_kek,
    each_root_key_has_its_own_active_kek,
    wraps_are_claimed_up_to_the_budget_and_never_on_a_retired_kek,
    racing_installs_leave_exactly_one_active_kek,
    rewraps_move_keks_and_envelopes_by_compare_and_swap,
);

async fn install(store: &Store, id: &str, root: &str, replacing: Option<&str>) -> String {
    store
        .install_active_kek(
            id.into(),
            root.into(),
            format!("wrapped:{id}").into_bytes(),
            replacing.map(Into::into),
            at(0),
        )
        .await
        .expect("installs")
        .id
}

async fn the_first_install_becomes_active_and_later_ones_defer_to_it(db: TestDb) {
    let store = db.open();
    assert_eq!(store.active_kek("root-a".into()).await, Ok(None));
    assert_eq!(install(&store, "kek_1", "root-a", None).await, "kek_1");
    assert_eq!(install(&store, "kek_2", "root-a", None).await, "kek_1");
    assert_eq!(
        install(&store, "kek_3", "root-a", Some("kek_0")).await,
        "kek_1"
    );
    let active = store
        .active_kek("root-a".into())
        .await
        .expect("reads")
        .expect("one");
    assert_eq!(
        (active.id.as_str(), active.state, active.wrap_count),
        ("kek_1", KekStatus::Active, 0)
    );
    assert_eq!(active.wrapped, b"wrapped:kek_1");
    assert_eq!(store.kek("kek_2".into()).await, Ok(None));
    assert_eq!(store.keks().await.expect("lists").len(), 1);
}

async fn a_matching_replacement_retires_the_old_kek(db: TestDb) {
    let store = db.open();
    install(&store, "kek_1", "root-a", None).await;
    assert_eq!(
        install(&store, "kek_2", "root-a", Some("kek_1")).await,
        "kek_2"
    );
    let old = store
        .kek("kek_1".into())
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(old.state, KekStatus::Retired);
    let states: Vec<(String, KekStatus)> = store
        .keks()
        .await
        .expect("lists")
        .into_iter()
        .map(|k| (k.id, k.state))
        .collect();
    assert_eq!(
        states,
        [
            ("kek_1".to_owned(), KekStatus::Retired),
            ("kek_2".to_owned(), KekStatus::Active)
        ]
    );
}

async fn each_root_key_has_its_own_active_kek(db: TestDb) {
    let store = db.open();
    install(&store, "kek_a", "root-a", None).await;
    assert_eq!(install(&store, "kek_b", "root-b", None).await, "kek_b");
    // Replacing root-a's KEK leaves root-b's alone.
    install(&store, "kek_a2", "root-a", Some("kek_a")).await;
    let b = store
        .active_kek("root-b".into())
        .await
        .expect("reads")
        .expect("one");
    assert_eq!(b.id, "kek_b");
    // A replacement naming another root's KEK does not retire it.
    assert_eq!(
        install(&store, "kek_x", "root-a", Some("kek_b")).await,
        "kek_a2"
    );
    assert_eq!(
        store
            .kek("kek_b".into())
            .await
            .expect("reads")
            .expect("kept")
            .state,
        KekStatus::Active
    );
}

async fn wraps_are_claimed_up_to_the_budget_and_never_on_a_retired_kek(db: TestDb) {
    let store = db.open();
    install(&store, "kek_1", "root-a", None).await;
    for _ in 0..3 {
        assert_eq!(store.claim_kek_wrap("kek_1".into(), 3).await, Ok(true));
    }
    assert_eq!(store.claim_kek_wrap("kek_1".into(), 3).await, Ok(false));
    assert_eq!(store.claim_kek_wrap("kek_1".into(), 4).await, Ok(true));
    let used = store
        .kek("kek_1".into())
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(used.wrap_count, 4);
    install(&store, "kek_2", "root-a", Some("kek_1")).await;
    assert_eq!(store.claim_kek_wrap("kek_1".into(), 100).await, Ok(false));
    assert_eq!(
        store.claim_kek_wrap("kek_missing".into(), 100).await,
        Ok(false)
    );
    assert_eq!(store.claim_kek_wrap("kek_2".into(), 100).await, Ok(true));
}

async fn racing_installs_leave_exactly_one_active_kek(db: TestDb) {
    let store = db.open();
    // The first KEK of a root key (nothing to lock yet), then a replacement.
    race_installs(&store, "root-a", None).await;
    let current = store
        .active_kek("root-a".into())
        .await
        .expect("reads")
        .expect("one");
    race_installs(&store, "root-a", Some(current.id)).await;
}

async fn race_installs(store: &Store, root: &'static str, replacing: Option<String>) {
    let mut tasks = Vec::new();
    for i in 1..=20 {
        let store = store.clone();
        let replacing = replacing.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("kek_{}_{i}", replacing.is_some());
            install(&store, &id, root, replacing.as_deref()).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.push(task.await.expect("task finished"));
    }
    winners.dedup();
    assert_eq!(
        winners.len(),
        1,
        "every racer ends up on the same KEK: {winners:?}"
    );
    let actives: Vec<_> = store
        .keks()
        .await
        .expect("lists")
        .into_iter()
        .filter(|k| k.state == KekStatus::Active)
        .collect();
    assert_eq!(actives.len(), 1);
    assert_eq!(actives[0].id, winners[0]);
}

async fn rewraps_move_keks_and_envelopes_by_compare_and_swap(db: TestDb) {
    let store = db.open();
    install(&store, "kek_old", "root-a", None).await;
    // A batch claim stays within the budget as a whole.
    assert_eq!(
        store.claim_kek_wraps("kek_old".into(), 3, 4).await,
        Ok(true)
    );
    assert_eq!(
        store.claim_kek_wraps("kek_old".into(), 2, 4).await,
        Ok(false)
    );
    assert_eq!(
        store.claim_kek_wraps("kek_old".into(), 1, 4).await,
        Ok(true)
    );

    // A KEK moves to another root key once, and is retired for new wraps there.
    let moved = store
        .rewrap_kek(
            "kek_old".into(),
            "root-a".into(),
            "root-b".into(),
            b"rewrapped".to_vec(),
        )
        .await;
    assert_eq!(moved, Ok(true));
    let again = store
        .rewrap_kek(
            "kek_old".into(),
            "root-a".into(),
            "root-b".into(),
            b"twice".to_vec(),
        )
        .await;
    assert_eq!(again, Ok(false), "already moved");
    let kek = store
        .kek("kek_old".into())
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(
        (kek.root_key_id.as_str(), kek.state, kek.wrapped.as_slice()),
        ("root-b", KekStatus::Retired, b"rewrapped".as_slice())
    );

    // Versions outside a KEK, in pages, each swapped once.
    let mut ids = Vec::new();
    for n in 0..5 {
        let created = store
            .create_secret(user_secret("u1", &format!("S{n}"), Scope::All), audit())
            .await
            .expect("creates");
        ids.push(created.id);
    }
    assert_eq!(
        store.count_versions_outside_kek("kek_new".into()).await,
        Ok(5)
    );
    let mut after = None;
    let mut seen = 0;
    loop {
        let page = store
            .versions_outside_kek("kek_new".into(), after.clone(), 2)
            .await
            .expect("lists");
        let Some(last) = page.last() else { break };
        after = Some((last.secret_id.clone(), last.version));
        for item in &page {
            assert_eq!(item.kek_id, "kek_test");
            assert_eq!(item.version, Version::FIRST);
            assert!(ids.contains(&item.secret_id));
            seen += 1;
        }
    }
    assert_eq!(seen, 5);
    let first = ids[0].clone();
    let swap = |old: &str| {
        store.replace_envelope(
            first.clone(),
            Version::FIRST,
            old.into(),
            "kek_new".into(),
            b"moved".to_vec(),
        )
    };
    assert_eq!(swap("kek_test").await, Ok(true));
    assert_eq!(swap("kek_test").await, Ok(false), "moved already");
    assert_eq!(
        store.count_versions_outside_kek("kek_new".into()).await,
        Ok(4)
    );
    let sealed = store
        .sealed_version(first, Version::FIRST)
        .await
        .expect("reads");
    assert_eq!(
        (sealed.envelope.as_slice(), sealed.kek_id.as_str()),
        (b"moved".as_slice(), "kek_new")
    );

    // Settings come and go.
    assert_eq!(store.setting("dek_rewrap_target").await, Ok(None));
    store
        .put_setting("dek_rewrap_target", Some("kek_new".into()))
        .await
        .expect("sets");
    assert_eq!(
        store.setting("dek_rewrap_target").await,
        Ok(Some("kek_new".into()))
    );
    store
        .put_setting("dek_rewrap_target", None)
        .await
        .expect("clears");
    assert_eq!(store.setting("dek_rewrap_target").await, Ok(None));
}
