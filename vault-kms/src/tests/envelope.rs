//! Envelopes: round trips, binding of every field, tamper detection on every bit,
//! and freshness of every DEK and nonce.

use std::collections::HashSet;

use proptest::prelude::*;
use vault_core::{
    MAX_VALUE_BYTES, Owner, ProjectId, SecretId, SecretName, UserId, Version, WorkspaceId,
};

use super::fixtures::*;
use crate::envelope::unwrap_dek;
use crate::{Envelope, KmsError};

#[tokio::test]
async fn values_of_every_shape_round_trip() {
    let vault = vault();
    let row = Row::new(1);
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    let largest = "x".repeat(MAX_VALUE_BYTES);
    for text in [
        "",
        "a",
        "sk-live-0123456789",
        "日本語 😀 é",
        pem,
        largest.as_str(),
    ] {
        let sealed = vault.seal(&row, text).await;
        let bytes = sealed.to_bytes();
        assert_eq!(bytes.len(), 105 + text.len(), "fixed overhead of 105 bytes");
        let parsed = Envelope::from_bytes(&bytes).expect("parses");
        let opened = vault
            .keyring
            .open(&row.binding(), &parsed)
            .await
            .expect("opens");
        assert_eq!(opened.expose(), text);
    }
}

#[tokio::test]
async fn ciphertext_does_not_contain_the_plaintext() {
    let vault = vault();
    let sealed = vault
        .keyring
        .seal(&Row::new(1).binding(), &value(MARKER))
        .await
        .expect("seals");
    let bytes = sealed.to_bytes();
    assert!(!bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
}

#[tokio::test]
async fn every_bound_field_must_match() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;

    let mut other_id = row.clone();
    other_id.id = SecretId::parse("sec_000000000000000000002").expect("valid");
    let mut other_version = row.clone();
    other_version.version = Version::new(2).expect("non-zero");
    let mut other_owner_kind = row.clone();
    other_owner_kind.owner = Owner::Workspace(WorkspaceId::parse("user-1").expect("valid"));
    let mut other_owner_id = row.clone();
    other_owner_id.owner = Owner::User(UserId::parse("user-2").expect("valid"));
    let mut project_owner = row.clone();
    project_owner.owner = Owner::Project(ProjectId::parse("user-1").expect("valid"));
    let mut other_name = row.clone();
    other_name.name = SecretName::parse("API_KEY_2").expect("valid");

    for (field, wrong) in [
        ("secret id", other_id),
        ("version", other_version),
        ("owner kind", other_owner_kind),
        ("owner kind (project)", project_owner),
        ("owner id", other_owner_id),
        ("name", other_name),
    ] {
        let result = vault.keyring.open(&wrong.binding(), &sealed).await;
        assert!(
            matches!(result, Err(KmsError::EnvelopeRejected { .. })),
            "{field}: {result:?}"
        );
    }
    assert_eq!(vault.open(&row, &sealed).await, MARKER);
}

#[tokio::test]
async fn an_envelope_pointed_at_another_kek_does_not_open() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    let second = vault.keyring.rotate_kek().await.expect("rotates");
    assert_ne!(second.id(), sealed.kek_id());

    let mut bytes = sealed.to_bytes();
    bytes[1..17].copy_from_slice(second.id().as_bytes());
    let moved = Envelope::from_bytes(&bytes).expect("still well-formed");
    let result = vault.keyring.open(&row.binding(), &moved).await;
    assert_eq!(
        result.map(|v| v.expose().to_owned()),
        Err(KmsError::EnvelopeRejected { stage: "data key" })
    );
}

#[tokio::test]
async fn a_flipped_bit_anywhere_in_an_envelope_is_detected() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, "short value").await;
    let bytes = sealed.to_bytes();
    for position in 0..bytes.len() {
        for bit in 0..8 {
            let mut tampered = bytes.clone();
            tampered[position] ^= 1 << bit;
            let outcome = match Envelope::from_bytes(&tampered) {
                Err(err) => Err(err),
                Ok(envelope) => vault.keyring.open(&row.binding(), &envelope).await,
            };
            assert!(outcome.is_err(), "byte {position} bit {bit} went unnoticed");
        }
    }
}

#[test]
fn unknown_envelope_versions_and_truncations_are_clear_errors() {
    let mut bytes = vec![0u8; 200];
    for version in [0u8, 2, 255] {
        bytes[0] = version;
        assert_eq!(
            Envelope::from_bytes(&bytes),
            Err(KmsError::UnknownRecordVersion {
                record: "envelope",
                version
            })
        );
    }
    bytes[0] = 1;
    assert!(
        Envelope::from_bytes(&bytes[..105]).is_ok(),
        "an empty value is 105 bytes"
    );
    for len in [0, 1, 17, 89, 104] {
        assert!(
            matches!(
                Envelope::from_bytes(&bytes[..len]),
                Err(KmsError::MalformedRecord { .. })
            ),
            "length {len}"
        );
    }
}

#[tokio::test]
async fn no_two_seals_share_a_dek_or_a_nonce() {
    const SEALS: usize = 5_000;
    let vault = vault();
    let row = Row::new(1);
    let mut deks = HashSet::new();
    let mut nonces = HashSet::new();
    let plaintext = value("the same value every time");
    for _ in 0..SEALS {
        let sealed = vault
            .keyring
            .seal(&row.binding(), &plaintext)
            .await
            .expect("seals");
        let kek = vault.keyring.kek(sealed.kek_id()).await.expect("cached");
        let dek = unwrap_dek(&kek, &row.binding(), sealed.wrapped_dek()).expect("unwraps");
        assert!(deks.insert(*dek.expose()), "a DEK repeated");
        assert!(
            nonces.insert(sealed.dek_nonce()),
            "a DEK-wrap nonce repeated"
        );
        assert!(
            nonces.insert(sealed.value_nonce()),
            "a value nonce repeated"
        );
    }
    assert_eq!(deks.len(), SEALS);
}

fn binding_strategy() -> impl Strategy<Value = Row> {
    (
        "[A-Za-z0-9_-]{21}",
        1u32..u32::MAX,
        0usize..3,
        "[A-Za-z0-9_.-]{1,40}",
        "[A-Z_][A-Z0-9_]{0,60}",
    )
        .prop_map(|(id, version, kind, owner_id, name)| Row {
            id: SecretId::parse(&format!("sec_{id}")).expect("valid"),
            version: Version::new(version).expect("non-zero"),
            owner: match kind {
                0 => Owner::User(UserId::parse(&owner_id).expect("valid")),
                1 => Owner::Workspace(WorkspaceId::parse(&owner_id).expect("valid")),
                _ => Owner::Project(ProjectId::parse(&owner_id).expect("valid")),
            },
            name: SecretName::parse(&name).expect("valid"),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_value_round_trips_and_only_under_its_own_binding(
        text in any::<String>(),
        row in binding_strategy(),
        other in binding_strategy(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let vault = vault();
        let opened = runtime.block_on(async {
            let sealed = vault.keyring.seal(&row.binding(), &value(&text)).await?;
            let again = Envelope::from_bytes(&sealed.to_bytes())?;
            let mine = vault.keyring.open(&row.binding(), &again).await?;
            let theirs = vault.keyring.open(&other.binding(), &again).await;
            Ok::<_, KmsError>((mine, theirs))
        });
        let (mine, theirs) = opened.expect("seal and open");
        prop_assert_eq!(mine.expose(), text.as_str());
        let same_binding = row.binding().value_aad() == other.binding().value_aad();
        prop_assert_eq!(theirs.is_ok(), same_binding);
    }
}
