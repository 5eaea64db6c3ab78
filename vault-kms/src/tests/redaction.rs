//! No `Debug` or `Display` of any vault-kms type or error shows a plaintext value or
//! key material, whatever the path that produced it.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::fixtures::*;
use crate::{
    Dek, Envelope, KekBinding, KekMaterial, KeyringConfig, KmsError, LocalRootProvider,
    MemoryKekRepository, RootKey, RootKeyProvider, WrappedKek,
};

const ROOT_KEY: [u8; 32] = [0x6b; 32];

fn assert_clean(what: &str, printed: &str) {
    let root_hex = hex::encode(ROOT_KEY);
    let root_b64 = STANDARD.encode(ROOT_KEY);
    for forbidden in [MARKER, &root_hex[..16], &root_b64[..16], "MARKER"] {
        assert!(
            !printed.contains(forbidden),
            "{what} printed {forbidden:?}: {printed}"
        );
    }
}

#[tokio::test]
async fn debug_of_every_type_hides_values_and_keys() {
    let root = LocalRootProvider::new(RootKey::from_bytes(&ROOT_KEY), vec![]);
    let keks = Arc::new(MemoryKekRepository::new());
    let vault = vault_with(root, keks.clone(), KeyringConfig::default());
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    let kek = vault.keyring.kek(sealed.kek_id()).await.expect("cached");
    let dek =
        crate::envelope::unwrap_dek(&kek, &row.binding(), sealed.wrapped_dek()).expect("unwraps");
    let record = keks.records().expect("reads").remove(0);
    let material = KekMaterial::from_bytes(ROOT_KEY);
    let binding = KekBinding {
        kek_id: record.id(),
        instance: vault.keyring.instance(),
    };
    let provider = LocalRootProvider::new(RootKey::from_bytes(&ROOT_KEY), vec![]);
    let wrapped_by_root = provider.wrap(&material, &binding).await.expect("wraps");
    let opened = vault
        .keyring
        .open(&row.binding(), &sealed)
        .await
        .expect("opens");

    let printed: Vec<(&str, String)> = vec![
        ("SecretValue", format!("{opened:?} {opened}")),
        (
            "Envelope",
            format!("{sealed:?} {:?}", Envelope::from_bytes(&sealed.to_bytes())),
        ),
        ("WrappedDek", format!("{:?}", sealed.wrapped_dek())),
        ("Kek", format!("{kek:?}")),
        ("Dek", format!("{dek:?} {:?}", Dek::generate())),
        ("KekMaterial", format!("{material:?}")),
        ("RootKey", format!("{:?}", RootKey::from_bytes(&ROOT_KEY))),
        ("LocalRootProvider", format!("{provider:?}")),
        ("RootWrapped", format!("{wrapped_by_root:?}")),
        (
            "WrappedKek",
            format!(
                "{:?} {:?}",
                record.wrapped,
                WrappedKek::from_bytes(&record.wrapped.to_bytes())
            ),
        ),
        ("KekRecord", format!("{record:?}")),
        ("MemoryKekRepository", format!("{keks:?}")),
        ("Keyring", format!("{:?}", vault.keyring)),
        (
            "Opener",
            format!(
                "{:?}",
                vault
                    .keyring
                    .opener([&sealed])
                    .await
                    .expect("the KEK is cached")
            ),
        ),
        ("SealBinding", format!("{:?}", row.binding())),
        ("KekBinding", format!("{binding:?}")),
    ];
    for (what, text) in &printed {
        assert_clean(what, text);
    }
}

/// What an operator reading a log gets instead: each type by name, with what
/// identifies it (ids, key fingerprints, sizes) and nothing else.
#[tokio::test]
async fn debug_names_each_type_and_what_identifies_it() {
    let root = RootKey::from_bytes(&ROOT_KEY);
    let root_id = root.id().clone();
    let provider = LocalRootProvider::new(RootKey::from_bytes(&ROOT_KEY), vec![]);
    let vault = vault_with(
        LocalRootProvider::new(RootKey::from_bytes(&ROOT_KEY), vec![]),
        Arc::new(MemoryKekRepository::new()),
        KeyringConfig::default(),
    );
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    let kek_id = *sealed.kek_id();
    let kek = vault.keyring.kek(&kek_id).await.expect("cached");
    let binding = KekBinding {
        kek_id: &kek_id,
        instance: vault.keyring.instance(),
    };
    let wrapped = provider
        .wrap(&KekMaterial::from_bytes(ROOT_KEY), &binding)
        .await
        .expect("wraps");
    let value_len = MARKER.len() + 16;
    let expected = [
        (
            format!("{sealed:?}"),
            format!(
                "Envelope {{ format: 1, kek_id: {kek_id:?}, dek: WrappedDek(48 bytes), \
                 value: Ciphertext({value_len} bytes) }}"
            ),
        ),
        (
            format!("{:?}", sealed.wrapped_dek()),
            "WrappedDek(48 bytes)".to_owned(),
        ),
        (format!("{kek:?}"), format!("Kek({kek_id}, [redacted])")),
        (
            format!("{root:?}"),
            format!("RootKey({root_id}, [redacted])"),
        ),
        (
            format!("{provider:?}"),
            format!(
                "LocalRootProvider {{ current: RootKey({root_id}, [redacted]), previous: [] }}"
            ),
        ),
        (
            format!("{wrapped:?}"),
            format!("RootWrapped({root_id}, 60 bytes)"),
        ),
        (format!("{root_id:?}"), format!("RootKeyId({root_id})")),
        (
            format!("{:?}", instance()),
            "VaultInstanceId(vault-test)".to_owned(),
        ),
        (instance().to_string(), "vault-test".to_owned()),
    ];
    for (printed, wanted) in expected {
        assert_eq!(printed, wanted);
    }
    assert!(root_id.as_str().starts_with("local:"), "{root_id}");
}

#[tokio::test]
async fn errors_from_every_failure_path_hide_values_and_keys() {
    let vault = vault();
    let row = Row::new(1);
    let sealed = vault.seal(&row, MARKER).await;
    let mut other = row.clone();
    other.version = vault_core::Version::new(9).expect("non-zero");

    let mut tampered = sealed.to_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let mut unknown_version = sealed.to_bytes();
    unknown_version[0] = 9;

    let errors: Vec<KmsError> = vec![
        vault
            .keyring
            .open(&other.binding(), &sealed)
            .await
            .expect_err("wrong binding"),
        vault
            .keyring
            .open(
                &row.binding(),
                &Envelope::from_bytes(&tampered).expect("parses"),
            )
            .await
            .expect_err("tampered"),
        Envelope::from_bytes(&unknown_version).expect_err("unknown version"),
        Envelope::from_bytes(&sealed.to_bytes()[..50]).expect_err("truncated"),
        restart(
            &vault,
            LocalRootProvider::new(RootKey::from_bytes(&ROOT_KEY), vec![]),
        )
        .keyring
        .open(&row.binding(), &sealed)
        .await
        .expect_err("wrong root key"),
        RootKey::parse(&format!("{MARKER}{}", hex::encode(ROOT_KEY))).expect_err("bad key"),
        RootKey::parse(&STANDARD.encode([ROOT_KEY.as_slice(), b"MARKER"].concat()))
            .expect_err("long key"),
        KmsError::Value(vault_core::CoreError::ValueNotUtf8),
    ];
    for err in &errors {
        assert_clean("error", &format!("{err} {err:?}"));
    }
}
