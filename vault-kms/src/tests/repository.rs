//! The in-memory KEK store keeps the repository contract: one active KEK,
//! compare-and-swap installs, bounded wrap claims.

use crate::{
    KekId, KekRepository, KekState, MemoryKekRepository, RootKeyId, RootWrapped, WrappedKek,
};

const ROOT: &str = "local:0000000000000000";

fn record_under(byte: u8, root: &str) -> WrappedKek {
    WrappedKek::new(
        KekId::from_bytes([byte; 16]),
        RootWrapped {
            key_id: RootKeyId::parse(root).expect("valid"),
            ciphertext: vec![byte; 60],
        },
    )
    .expect("non-empty")
}

fn record(byte: u8) -> WrappedKek {
    record_under(byte, ROOT)
}

/// The state of every stored KEK, oldest first.
fn states(store: &MemoryKekRepository) -> Vec<KekState> {
    store
        .records()
        .expect("reads")
        .iter()
        .map(|r| r.state)
        .collect()
}

fn root() -> RootKeyId {
    RootKeyId::parse(ROOT).expect("valid")
}

#[tokio::test]
async fn install_active_is_a_compare_and_swap() {
    let store = MemoryKekRepository::new();
    assert_eq!(store.active(&root()).await.expect("reads"), None);

    let first = store
        .install_active(record(1), None)
        .await
        .expect("installs");
    assert_eq!(first.id(), record(1).id());

    // A writer that still believes there is no active KEK loses and learns the winner.
    let lost = store
        .install_active(record(2), None)
        .await
        .expect("answers");
    assert_eq!(lost.id(), record(1).id());
    assert_eq!(store.get(record(2).id()).await.expect("reads"), None);

    let second = store
        .install_active(record(3), Some(record(1).id()))
        .await
        .expect("installs");
    assert_eq!(second.id(), record(3).id());
    assert_eq!(states(&store), [KekState::Retired, KekState::Active]);

    // Replacing a KEK that is no longer active changes nothing.
    let stale = store
        .install_active(record(4), Some(record(1).id()))
        .await
        .expect("answers");
    assert_eq!(stale.id(), record(3).id());
}

#[tokio::test]
async fn wraps_are_claimed_only_on_the_active_kek_within_budget() {
    let store = MemoryKekRepository::new();
    store
        .install_active(record(1), None)
        .await
        .expect("installs");
    let id = *record(1).id();
    assert!(store.claim_wrap(&id, 2).await.expect("claims"));
    assert!(store.claim_wrap(&id, 2).await.expect("claims"));
    assert!(
        !store.claim_wrap(&id, 2).await.expect("answers"),
        "budget spent"
    );
    assert_eq!(
        store.get(&id).await.expect("reads").map(|r| r.wrap_count),
        Some(2)
    );

    store
        .install_active(record(2), Some(&id))
        .await
        .expect("installs");
    assert!(
        !store.claim_wrap(&id, 100).await.expect("answers"),
        "retired"
    );
    assert!(
        !store
            .claim_wrap(&KekId::from_bytes([9; 16]), 100)
            .await
            .expect("answers"),
        "unknown"
    );
}

#[tokio::test]
async fn each_root_key_has_its_own_active_kek() {
    let store = MemoryKekRepository::new();
    let other = "arn:aws:kms:eu-west-1:000000000000:key/other";
    store
        .install_active(record(1), None)
        .await
        .expect("installs");
    let theirs = store
        .install_active(record_under(2, other), None)
        .await
        .expect("installs");
    assert_eq!(
        theirs.id(),
        record(2).id(),
        "another root key does not compete"
    );
    let other_root = RootKeyId::parse(other).expect("valid");
    let active_id = |r: Option<crate::KekRecord>| r.map(|r| *r.id());
    assert_eq!(
        active_id(store.active(&root()).await.expect("reads")),
        Some(*record(1).id())
    );
    assert_eq!(
        active_id(store.active(&other_root).await.expect("reads")),
        Some(*record(2).id())
    );
    assert_eq!(states(&store), [KekState::Active, KekState::Active]);
}
