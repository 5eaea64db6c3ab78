//! The key hierarchy at work: KEK retirement, root key changes, caching and the
//! number of root calls on cold and warm paths.

use std::sync::Arc;
use std::time::Duration;

use super::fixtures::*;
use crate::{
    KekRepository, KekState, Keyring, KeyringConfig, KmsError, LocalRootProvider,
    MemoryKekRepository, RootKeyId, RootKeyProvider, VaultInstanceId,
};

#[tokio::test]
async fn a_kek_is_retired_after_its_wrap_budget_and_keeps_opening() {
    let config = KeyringConfig {
        max_wraps_per_kek: 3,
        ..KeyringConfig::default()
    };
    let vault = vault_configured(config);
    let rows: Vec<Row> = (0..7).map(Row::new).collect();
    let mut sealed = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        sealed.push(vault.seal(row, &format!("v{n}")).await);
    }
    let records = vault.keks.records().expect("readable");
    let summary: Vec<_> = records.iter().map(|r| (r.state, r.wrap_count)).collect();
    assert_eq!(
        summary,
        [
            (KekState::Retired, 3),
            (KekState::Retired, 3),
            (KekState::Active, 1)
        ]
    );
    for (n, (row, envelope)) in rows.iter().zip(&sealed).enumerate() {
        let opened = vault
            .keyring
            .open(&row.binding(), envelope)
            .await
            .expect("opens");
        assert_eq!(opened.expose(), format!("v{n}"));
    }
    let cold = restart(&vault, LocalRootProvider::new(root_key(1), vec![]));
    for (n, (row, envelope)) in rows.iter().zip(&sealed).enumerate() {
        assert_eq!(cold.open(row, envelope).await, format!("v{n}"));
    }
}

#[tokio::test]
async fn open_all_looks_each_kek_up_once_and_fails_whole() {
    let vault = vault_configured(KeyringConfig {
        max_wraps_per_kek: 3,
        ..KeyringConfig::default()
    });
    let rows: Vec<Row> = (0..7).map(Row::new).collect();
    let mut sealed = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        sealed.push(vault.seal(row, &format!("v{n}")).await);
    }
    let cold = restart(&vault, LocalRootProvider::new(root_key(1), vec![]));
    let batch = || {
        rows.iter()
            .map(Row::binding)
            .zip(sealed.iter().cloned())
            .collect::<Vec<_>>()
    };

    let opened = cold.keyring.open_all(batch()).await.expect("opens");
    let values: Vec<&str> = opened.iter().map(|v| v.expose()).collect();
    assert_eq!(values, ["v0", "v1", "v2", "v3", "v4", "v5", "v6"]);
    let metrics = cold.keyring.metrics();
    assert_eq!(
        metrics.kek_cache_hits + metrics.kek_cache_misses,
        3,
        "three KEKs"
    );
    assert_eq!(metrics.root_unwraps, 3);
    assert_eq!(metrics.opens, 7);

    // An envelope presented for another row fails the whole batch.
    let mut swapped = batch();
    swapped[5].1 = sealed[6].clone();
    let failed = cold.keyring.open_all(swapped).await;
    assert!(
        matches!(failed, Err(KmsError::EnvelopeRejected { .. })),
        "{failed:?}"
    );
    assert_eq!(cold.keyring.metrics().opens, 7, "nothing counted as opened");
}

#[tokio::test]
async fn the_wrap_budget_has_a_hard_ceiling() {
    let vault = vault_configured(KeyringConfig {
        max_wraps_per_kek: u64::MAX,
        ..KeyringConfig::default()
    });
    assert!(
        format!("{:?}", vault.keyring)
            .contains(&format!("max_wraps: {}", crate::MAX_WRAPS_CEILING))
    );
}

#[tokio::test]
async fn a_previous_root_key_still_opens_and_new_writes_move_to_the_current_one() {
    let before = vault();
    let row = Row::new(1);
    let old = before.seal(&row, "sealed under key 1").await;

    let after = restart(
        &before,
        LocalRootProvider::new(root_key(2), vec![root_key(1)]),
    );
    assert_eq!(after.open(&row, &old).await, "sealed under key 1");

    let new = after.seal(&row, "sealed under key 2").await;
    let newer = after.seal(&row, "also under key 2").await;
    assert_ne!(
        new.kek_id(),
        old.kek_id(),
        "a root key change retires the old KEK for new wraps"
    );
    assert_eq!(new.kek_id(), newer.kek_id());
    let records = after.keks.records().expect("readable");
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.root_key_id().clone(), r.wrap_count))
        .collect();
    assert_eq!(
        summary,
        [(root_key(1).id().clone(), 1), (root_key(2).id().clone(), 2)],
        "the key-1 KEK wrapped nothing after the change"
    );
    assert_eq!(
        after
            .keks
            .active(root_key(2).id())
            .await
            .expect("reads")
            .map(|r| *r.id()),
        Some(*new.kek_id())
    );
    assert_eq!(after.open(&row, &old).await, "sealed under key 1");

    // Once the old key is dropped from the configuration, only the new KEK opens.
    let only_new = restart(&before, LocalRootProvider::new(root_key(2), vec![]));
    assert!(only_new.keyring.open(&row.binding(), &new).await.is_ok());
}

#[tokio::test]
async fn a_wrong_root_key_fails_naming_the_expected_fingerprint() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    let wrong = restart(
        &vault,
        LocalRootProvider::new(root_key(9), vec![root_key(8)]),
    );
    let err = wrong
        .keyring
        .open(&row.binding(), &sealed)
        .await
        .expect_err("wrong key");
    let expected = root_key(1).id().clone();
    assert_eq!(
        err,
        KmsError::RootKeyNotHeld {
            key_id: expected.clone()
        }
    );
    assert!(err.to_string().contains(expected.as_str()), "{err}");
    assert!(expected.as_str().starts_with("local:"));
}

#[tokio::test]
async fn a_kek_record_replayed_into_another_vault_does_not_open() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    let other_instance = crate::Keyring::new(
        crate::VaultInstanceId::parse("another-vault").expect("valid"),
        Arc::new(LocalRootProvider::new(root_key(1), vec![])),
        vault.keks.clone(),
        KeyringConfig::default(),
    );
    let err = other_instance
        .open(&row.binding(), &sealed)
        .await
        .expect_err("other vault");
    assert!(matches!(err, KmsError::KekUnwrapFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn a_missing_kek_is_named() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    let empty = vault_configured(KeyringConfig::default());
    assert_eq!(
        empty
            .keyring
            .open(&row.binding(), &sealed)
            .await
            .map(|_| ()),
        Err(KmsError::KekNotFound {
            id: *sealed.kek_id()
        })
    );
}

#[tokio::test]
async fn warm_opens_never_call_the_root_and_a_cold_start_calls_it_once_per_kek() {
    let vault = vault();
    let rows: Vec<Row> = (0..20).map(Row::new).collect();
    let mut sealed = Vec::new();
    for row in &rows {
        sealed.push(vault.seal(row, MARKER).await);
    }
    vault.keyring.rotate_kek().await.expect("rotates");
    for row in &rows {
        sealed.push(vault.seal(row, MARKER).await);
    }
    let rows: Vec<Row> = rows.iter().chain(&rows).cloned().collect();

    let before = vault.keyring.metrics();
    for (row, envelope) in rows.iter().zip(&sealed) {
        vault
            .keyring
            .open(&row.binding(), envelope)
            .await
            .expect("opens");
    }
    let warm = vault.keyring.metrics();
    assert_eq!(
        warm.root_unwraps, before.root_unwraps,
        "warm opens reached the root"
    );
    assert_eq!(warm.root_wraps, before.root_wraps);
    assert_eq!(warm.opens - before.opens, 40);

    // A fresh process opens everything at once: one root call per KEK, not per secret.
    let cold = Arc::new(restart(&vault, LocalRootProvider::new(root_key(1), vec![])));
    let tasks: Vec<_> = rows
        .iter()
        .cloned()
        .zip(sealed.iter().cloned())
        .map(|(row, envelope)| {
            let cold = cold.clone();
            tokio::spawn(async move {
                cold.keyring
                    .open(&row.binding(), &envelope)
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("joins").expect("opens");
    }
    let metrics = cold.keyring.metrics();
    assert_eq!(metrics.root_unwraps, 2, "two KEKs in use");
    assert_eq!(metrics.root_wraps, 0);
    assert_eq!(metrics.kek_cache_hits + metrics.kek_cache_misses, 40);
}

#[tokio::test]
async fn unwrapped_keks_leave_memory_after_their_ttl() {
    let vault = vault_configured(KeyringConfig {
        kek_cache_ttl: Duration::from_millis(50),
        ..KeyringConfig::default()
    });
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    vault
        .keyring
        .open(&row.binding(), &sealed)
        .await
        .expect("opens");
    let before = vault.keyring.metrics().root_unwraps;
    tokio::time::sleep(Duration::from_millis(200)).await;
    vault
        .keyring
        .open(&row.binding(), &sealed)
        .await
        .expect("opens");
    assert_eq!(
        vault.keyring.metrics().root_unwraps,
        before + 1,
        "the KEK was unwrapped again"
    );

    vault.keyring.forget_keks();
    vault
        .keyring
        .open(&row.binding(), &sealed)
        .await
        .expect("opens");
    assert_eq!(vault.keyring.metrics().root_unwraps, before + 2);
}

#[tokio::test]
async fn racing_writers_settle_on_one_active_kek() {
    let keks = Arc::new(MemoryKekRepository::new());
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            Arc::new(vault_with(
                LocalRootProvider::new(root_key(1), vec![]),
                keks.clone(),
                KeyringConfig::default(),
            ))
        })
        .collect();
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let replica = replicas[n % replicas.len()].clone();
            tokio::spawn(async move {
                let row = Row::new(n);
                let sealed = replica
                    .keyring
                    .seal(&row.binding(), &value(&format!("v{n}")))
                    .await?;
                Ok::<_, KmsError>((row, sealed))
            })
        })
        .collect();
    let mut sealed = Vec::new();
    for task in tasks {
        sealed.push(task.await.expect("joins").expect("seals"));
    }
    let records = keks.records().expect("readable");
    assert_eq!(
        records
            .iter()
            .filter(|r| r.state == KekState::Active)
            .count(),
        1
    );
    assert_eq!(records.iter().map(|r| r.wrap_count).sum::<u64>(), 32);
    for (n, (row, envelope)) in sealed.iter().enumerate() {
        let reader = &replicas[(n + 1) % replicas.len()];
        assert_eq!(reader.open(row, envelope).await, format!("v{n}"));
    }
}

#[tokio::test]
async fn replicas_mid_way_through_a_root_key_change_do_not_fight() {
    // The safe rollout: the new key is first added everywhere, then made current one
    // replica at a time. Meanwhile replicas disagree on the current key.
    let keks = Arc::new(MemoryKekRepository::new());
    let switched = vault_with(
        LocalRootProvider::new(root_key(2), vec![root_key(1)]),
        keks.clone(),
        KeyringConfig::default(),
    );
    let lagging = vault_with(
        LocalRootProvider::new(root_key(1), vec![root_key(2)]),
        keks.clone(),
        KeyringConfig::default(),
    );
    let mut sealed = Vec::new();
    for n in 0..20 {
        let writer = if n % 2 == 0 { &switched } else { &lagging };
        let row = Row::new(n);
        let envelope = writer.seal(&row, &format!("v{n}")).await;
        sealed.push((row, envelope));
    }
    let records = keks.records().expect("reads");
    assert_eq!(records.len(), 2, "one KEK per root key, no churn");
    assert!(
        records
            .iter()
            .all(|r| r.state == KekState::Active && r.wrap_count == 10)
    );
    for (n, (row, envelope)) in sealed.iter().enumerate() {
        assert_eq!(switched.open(row, envelope).await, format!("v{n}"));
        assert_eq!(lagging.open(row, envelope).await, format!("v{n}"));
    }
}

#[tokio::test]
async fn the_root_provider_reports_what_it_holds() {
    let provider = LocalRootProvider::new(root_key(2), vec![root_key(1), root_key(2), root_key(1)]);
    assert_eq!(provider.kind(), "local");
    assert_eq!(provider.current_key_id(), root_key(2).id());
    assert!(provider.holds(root_key(1).id()));
    assert!(!provider.holds(root_key(3).id()));
    assert!(!provider.holds(&RootKeyId::parse("arn:aws:kms:us-east-1:0:key/x").expect("valid")));
    let ids: Vec<_> = provider.key_ids().cloned().collect();
    assert_eq!(
        ids,
        [root_key(2).id().clone(), root_key(1).id().clone()],
        "duplicates dropped"
    );
}

#[tokio::test]
async fn a_rewrapped_kek_opens_under_the_new_root_key_alone() {
    let before = vault();
    let row = Row::new(1);
    let old = before.seal(&row, "sealed under key 1").await;
    let record = before.keks.records().expect("readable").remove(0);

    let moving = restart(
        &before,
        LocalRootProvider::new(root_key(2), vec![root_key(1)]),
    );
    let rewrapped = moving
        .keyring
        .rewrap_kek(&record.wrapped)
        .await
        .expect("rewraps");
    assert_eq!(rewrapped.id(), record.id());
    assert_eq!(rewrapped.root_key_id(), root_key(2).id());

    // With the record replaced, key 1 is no longer needed to open the old value.
    let keks = Arc::new(MemoryKekRepository::new());
    keks.install_active(rewrapped, None)
        .await
        .expect("installs");
    let after = crate::Keyring::new(
        instance(),
        Arc::new(LocalRootProvider::new(root_key(2), vec![])),
        keks,
        KeyringConfig::default(),
    );
    let opened = after.open(&row.binding(), &old).await.expect("opens");
    assert_eq!(opened.expose(), "sealed under key 1");
}

#[tokio::test]
async fn a_rewrapped_dek_keeps_the_value_ciphertext_and_opens_under_the_new_kek() {
    let vault = vault();
    let row = Row::new(1);
    let old = vault.seal(&row, "the value").await;
    let fresh = vault.keyring.rotate_kek().await.expect("a fresh KEK");
    assert_ne!(fresh.id(), old.kek_id());
    let moved = vault
        .keyring
        .rewrap_dek(&row.binding(), &old, fresh.id())
        .await
        .expect("rewraps");
    assert_eq!(moved.kek_id(), fresh.id());
    let (old_bytes, moved_bytes) = (old.to_bytes(), moved.to_bytes());
    let value_at = 1 + 16 + 12 + 48;
    assert_eq!(
        old_bytes[value_at..],
        moved_bytes[value_at..],
        "the value's nonce and ciphertext are untouched"
    );
    assert_ne!(old_bytes[..value_at], moved_bytes[..value_at]);
    assert_eq!(vault.open(&row, &moved).await, "the value");
    // Bound to its row like any envelope.
    let other = Row::new(2);
    assert!(
        vault
            .keyring
            .rewrap_dek(&other.binding(), &old, fresh.id())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_integrity_master_opens_only_for_its_instance_and_moves_with_a_rewrap() {
    let vault = vault();
    let (material, wrapped) = vault
        .keyring
        .new_integrity_master()
        .await
        .expect("makes one");
    assert_eq!(wrapped.id(), &crate::INTEGRITY_MASTER_ID);
    let stored = crate::WrappedKek::from_bytes(&wrapped.to_bytes()).expect("parses");
    let opened = vault
        .keyring
        .open_integrity_master(&stored)
        .await
        .expect("opens");
    assert_eq!(opened, material);
    // Another master each time.
    let (other, _) = vault
        .keyring
        .new_integrity_master()
        .await
        .expect("makes one");
    assert_ne!(other, material);

    // Another vault instance, same root key: the wrap is bound to the instance.
    let elsewhere = crate::Keyring::new(
        crate::VaultInstanceId::parse("vault-other").expect("valid"),
        Arc::new(LocalRootProvider::new(root_key(1), vec![])),
        Arc::new(MemoryKekRepository::new()),
        KeyringConfig::default(),
    );
    assert!(elsewhere.open_integrity_master(&stored).await.is_err());
    // A different root key does not open it either.
    let wrong = restart(&vault, LocalRootProvider::new(root_key(2), vec![]));
    assert!(wrong.keyring.open_integrity_master(&stored).await.is_err());

    // A root key change: rewrap moves it under the new key with the same material.
    let moved = restart(
        &vault,
        LocalRootProvider::new(root_key(2), vec![root_key(1)]),
    );
    let rewrapped = moved.keyring.rewrap_kek(&stored).await.expect("rewraps");
    assert_eq!(rewrapped.root_key_id(), moved.keyring.current_root_key());
    let only_new = restart(&vault, LocalRootProvider::new(root_key(2), vec![]));
    assert_eq!(
        only_new
            .keyring
            .open_integrity_master(&rewrapped)
            .await
            .expect("opens under the new key"),
        material
    );
}

#[tokio::test]
async fn a_kek_wrap_is_not_an_integrity_master_and_the_master_opens_no_envelope() {
    let vault = vault();
    let row = Row::new(1);
    let envelope = vault.seal(&row, "v").await;
    let records = vault.keks.records().expect("readable");
    let kek_wrap = &records[0].wrapped;
    assert!(matches!(
        vault.keyring.open_integrity_master(kek_wrap).await,
        Err(KmsError::MalformedRecord { .. })
    ));
    // An envelope rewritten to name the master's id finds no KEK.
    let mut bytes = envelope.to_bytes();
    let id = envelope.kek_id().as_bytes();
    let at = bytes
        .windows(id.len())
        .position(|w| w == id)
        .expect("the envelope names its KEK");
    bytes[at..at + id.len()].copy_from_slice(crate::INTEGRITY_MASTER_ID.as_bytes());
    let forged = crate::Envelope::from_bytes(&bytes).expect("parses");
    assert!(matches!(
        vault.keyring.open(&row.binding(), &forged).await,
        Err(KmsError::KekNotFound { .. })
    ));
}

#[tokio::test]
async fn an_opener_unwraps_each_kek_once_and_opens_only_its_batch() {
    let vault = vault_configured(KeyringConfig {
        max_wraps_per_kek: 2,
        ..KeyringConfig::default()
    });
    let rows: Vec<Row> = (0..5).map(Row::new).collect();
    let mut sealed = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        sealed.push(vault.seal(row, &format!("v{n}")).await);
    }
    let cold = restart(&vault, LocalRootProvider::new(root_key(1), vec![]));
    // The first four envelopes are under two KEKs; the fifth under a third.
    let opener = cold
        .keyring
        .opener(sealed[..4].iter())
        .await
        .expect("the KEKs unwrap");
    assert_eq!(opener.kek_count(), 2);
    assert_eq!(cold.keyring.metrics().root_unwraps, 2);
    // Its Debug names the KEKs it holds, by id only.
    let printed = format!("{opener:?}");
    assert!(printed.starts_with("Opener"), "{printed}");
    for envelope in &sealed[..4] {
        assert!(
            printed.contains(&envelope.kek_id().to_string()),
            "{printed}"
        );
    }
    for (n, (row, envelope)) in rows.iter().zip(&sealed).take(4).enumerate() {
        let value = opener
            .open(&row.binding(), envelope.clone())
            .expect("opens");
        assert_eq!(value.expose(), format!("v{n}"));
    }
    assert_eq!(cold.keyring.metrics().opens, 4);
    let outside = opener.open(&rows[4].binding(), sealed[4].clone());
    assert!(
        matches!(outside, Err(KmsError::KekNotFound { .. })),
        "{outside:?}"
    );
    let swapped = opener.open(&rows[0].binding(), sealed[1].clone());
    assert!(
        matches!(swapped, Err(KmsError::EnvelopeRejected { .. })),
        "{swapped:?}"
    );
    assert_eq!(cold.keyring.metrics().opens, 4, "refusals are not opens");
    assert!(!format!("{opener:?}").contains("material"));
}

/// A local provider whose key the "KMS" has stopped accepting: `check` refuses, and
/// `configured_key_ids` is the trait's default.
struct Refusing(LocalRootProvider);

#[async_trait::async_trait]
impl RootKeyProvider for Refusing {
    fn kind(&self) -> &'static str {
        "refusing"
    }

    fn current_key_id(&self) -> &RootKeyId {
        self.0.current_key_id()
    }

    fn holds(&self, key_id: &RootKeyId) -> bool {
        self.0.holds(key_id)
    }

    async fn wrap(
        &self,
        kek: &crate::KekMaterial,
        binding: &crate::KekBinding<'_>,
    ) -> Result<crate::RootWrapped, KmsError> {
        self.0.wrap(kek, binding).await
    }

    async fn unwrap(
        &self,
        wrapped: &crate::RootWrapped,
        binding: &crate::KekBinding<'_>,
    ) -> Result<crate::KekMaterial, KmsError> {
        self.0.unwrap(wrapped, binding).await
    }

    async fn check(&self) -> Result<(), KmsError> {
        Err(KmsError::RootKeyDisabled {
            key_id: self.current_key_id().clone(),
            state: "Disabled".into(),
        })
    }
}

#[tokio::test]
async fn the_wrap_budget_is_what_was_configured_within_its_bounds() {
    for (configured, effective) in [
        (3, 3),
        (0, 1),
        (1 << 24, 1 << 24),
        (u64::MAX, crate::MAX_WRAPS_CEILING),
    ] {
        let vault = vault_configured(KeyringConfig {
            max_wraps_per_kek: configured,
            ..KeyringConfig::default()
        });
        assert_eq!(vault.keyring.max_wraps_per_kek(), effective, "{configured}");
    }
}

#[tokio::test]
async fn readiness_fails_when_the_root_refuses_and_forgets_every_kek() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, "v").await;
    vault.keyring.check_ready().await.expect("ready");

    let keks = vault.keks.clone();
    let refusing = Keyring::new(
        instance(),
        Arc::new(Refusing(LocalRootProvider::new(root_key(1), vec![]))),
        keks.clone(),
        KeyringConfig::default(),
    );
    // Warm: the KEK is cached before the root key is withdrawn.
    refusing.open(&row.binding(), &sealed).await.expect("opens");
    let refused = refusing.check_ready().await;
    assert!(
        matches!(refused, Err(KmsError::RootKeyDisabled { .. })),
        "{refused:?}"
    );
    // Nothing opens from memory once readiness found the key refused: the next open
    // goes back to the root provider (one more unwrap).
    let before = refusing.metrics().root_unwraps;
    refusing
        .open(&row.binding(), &sealed)
        .await
        .expect("reopens");
    assert_eq!(refusing.metrics().root_unwraps, before + 1);

    // A root key with no active KEK yet has nothing to prove: ready.
    let fresh = vault_with(
        LocalRootProvider::new(root_key(9), vec![]),
        keks,
        KeyringConfig::default(),
    );
    fresh.keyring.check_ready().await.expect("ready");
    assert_eq!(fresh.keyring.metrics().root_unwraps, 0);
}

#[tokio::test]
async fn readiness_fails_when_the_active_kek_does_not_unwrap() {
    let vault = vault();
    vault.seal(&Row::new(1), "v").await;
    // The same root key id, another instance: the KEK's wrap is bound to the vault
    // instance, so this keyring cannot unwrap it and must not call itself ready.
    let elsewhere = Keyring::new(
        VaultInstanceId::parse("another-vault").expect("valid"),
        Arc::new(LocalRootProvider::new(root_key(1), vec![])),
        vault.keks.clone(),
        KeyringConfig::default(),
    );
    let refused = elsewhere.check_ready().await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn the_keyring_reports_its_root_keys() {
    let vault = vault_with(
        LocalRootProvider::new(root_key(2), vec![root_key(1)]),
        Arc::new(MemoryKekRepository::new()),
        KeyringConfig::default(),
    );
    assert_eq!(
        vault.keyring.configured_root_keys(),
        [root_key(2).id().clone(), root_key(1).id().clone()]
    );
    assert_eq!(vault.keyring.current_root_key(), root_key(2).id());
    assert!(vault.keyring.holds_root_key(root_key(1).id()));
    assert!(vault.keyring.holds_root_key(root_key(2).id()));
    assert!(!vault.keyring.holds_root_key(root_key(3).id()));
}

#[tokio::test]
async fn a_new_kek_is_cached_so_the_seal_that_made_it_costs_one_unwrap() {
    let vault = vault();
    vault.seal(&Row::new(1), "v").await;
    let metrics = vault.keyring.metrics();
    // The one unwrap proves the new wrap opens; the seal itself finds the KEK cached.
    assert_eq!((metrics.root_wraps, metrics.root_unwraps), (1, 1));
    assert_eq!(metrics.kek_cache_misses, 0);
    vault.seal(&Row::new(2), "w").await;
    assert_eq!(vault.keyring.metrics().root_unwraps, 1);
}

#[test]
fn kek_states_have_their_stored_names() {
    assert_eq!(KekState::Active.as_str(), "active");
    assert_eq!(KekState::Retired.as_str(), "retired");
}

#[tokio::test]
async fn providers_list_their_keys_and_a_layered_one_answers_for_all_its_layers() {
    let local = Arc::new(LocalRootProvider::new(root_key(2), vec![root_key(1)]));
    assert_eq!(
        local.configured_key_ids(),
        [root_key(2).id().clone(), root_key(1).id().clone()]
    );
    // The trait's default: the current key alone.
    let refusing = Arc::new(Refusing(LocalRootProvider::new(
        root_key(3),
        vec![root_key(1)],
    )));
    assert_eq!(refusing.configured_key_ids(), [root_key(3).id().clone()]);

    let layered = crate::LayeredRootProvider::new(refusing.clone(), vec![local.clone()]);
    assert_eq!(
        layered.kind(),
        "refusing",
        "named after its current provider"
    );
    assert_eq!(layered.current_key_id(), root_key(3).id());
    // Current first, then each older layer's keys not already listed.
    assert_eq!(
        layered.configured_key_ids(),
        [
            root_key(3).id().clone(),
            root_key(2).id().clone(),
            root_key(1).id().clone()
        ]
    );
    for held in [1, 2, 3] {
        assert!(layered.holds(root_key(held).id()), "key {held}");
    }
    assert!(!layered.holds(root_key(4).id()));
    // Readiness is the current provider's: an older layer that would answer does
    // not make a refused current key usable.
    assert!(matches!(
        layered.check().await,
        Err(KmsError::RootKeyDisabled { .. })
    ));
    let healthy = crate::LayeredRootProvider::new(local, vec![refusing]);
    assert_eq!(healthy.kind(), "local");
    healthy
        .check()
        .await
        .expect("the current provider is ready");
}
