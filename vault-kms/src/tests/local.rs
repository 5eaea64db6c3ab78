//! The local root provider: parsing `ENCRYPTION_KEY`, fingerprints, and wrapped KEK
//! records that have been altered or moved.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::fixtures::*;
use crate::{
    KekBinding, KekId, KekMaterial, KmsError, LocalRootProvider, RootKey, RootKeyProvider,
    VaultInstanceId, WrappedKek,
};

const KEY: [u8; 32] = [
    0xfb, 0x01, 0x7e, 0x3c, 0x99, 0x10, 0xaa, 0x42, 0x00, 0xff, 0x3e, 0x5d, 0x61, 0x72, 0x83, 0x94,
    0xa5, 0xb6, 0xc7, 0xd8, 0xe9, 0xfa, 0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72, 0x83, 0xfe,
];

#[test]
fn a_root_key_may_be_hex_or_any_base64() {
    let expected = RootKey::from_bytes(&KEY).id().clone();
    let lower = hex::encode(KEY);
    let upper = lower.to_uppercase();
    let padded = STANDARD.encode(KEY);
    let url = URL_SAFE_NO_PAD.encode(KEY);
    assert!(
        url.contains('-') || url.contains('_'),
        "exercise the URL-safe alphabet"
    );
    let with_newline = format!("{padded}\n");
    for text in [&lower, &upper, &padded, &url, &with_newline] {
        let key = RootKey::parse(text).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(key.id(), &expected);
    }
}

#[test]
fn bad_root_keys_are_clear_errors_that_never_echo_the_key() {
    let short = STANDARD.encode(&KEY[..31]);
    let long = hex::encode([KEY.as_slice(), &[1]].concat());
    let not_encoded = "MARKERkey!!not-base64-or-hex";
    for (text, reason) in [
        ("", "it is empty"),
        ("   \n", "it is empty"),
        (
            short.as_str(),
            "it decodes to 31 bytes; a root key is exactly 32",
        ),
        (
            long.as_str(),
            "it decodes to 33 bytes; a root key is exactly 32",
        ),
        (not_encoded, "it is neither hex nor base64"),
    ] {
        let err = RootKey::parse(text).expect_err("invalid");
        assert_eq!(
            err,
            KmsError::InvalidRootKey {
                reason: format!("{reason}; expected 32 bytes as 64 hex digits or as base64")
            }
        );
        let printed = format!("{err} {err:?}");
        if !text.trim().is_empty() {
            assert!(!printed.contains(text.trim()), "echoed the key: {printed}");
        }
        assert!(!printed.contains("MARKER"));
    }
}

#[test]
fn fingerprints_identify_keys_without_revealing_them() {
    let a = RootKey::from_bytes(&KEY);
    let b = RootKey::from_bytes(&[7; 32]);
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id(), RootKey::from_bytes(&KEY).id(), "stable");
    let id = a.id().as_str();
    assert_eq!(id.len(), "local:".len() + 16);
    assert!(!id.contains(&hex::encode(&KEY[..4])));
    assert!(!format!("{a:?}").contains(&hex::encode(&KEY[..4])));
}

#[test]
fn generated_keys_parse_and_differ() {
    let one = RootKey::generate_encoded().expect("random");
    let two = RootKey::generate_encoded().expect("random");
    assert_ne!(*one, *two);
    assert_eq!(one.len(), 44);
    assert!(RootKey::parse(&one).is_ok());
}

#[test]
fn from_config_reads_current_and_previous_keys() {
    let current = STANDARD.encode([1; 32]);
    let previous = hex::encode([2; 32]);
    let provider = LocalRootProvider::from_config(&current, &[&previous]).expect("valid");
    assert_eq!(provider.current_key_id(), root_key(1).id());
    assert!(provider.holds(root_key(2).id()));
    assert!(LocalRootProvider::from_config(&current, &["nope"]).is_err());
}

fn binding_parts() -> (KekId, VaultInstanceId) {
    (KekId::from_bytes([3; 16]), instance())
}

#[tokio::test]
async fn a_flipped_bit_anywhere_in_a_wrapped_kek_is_detected() {
    let provider = LocalRootProvider::new(root_key(1), vec![]);
    let (kek_id, instance) = binding_parts();
    let binding = KekBinding {
        kek_id: &kek_id,
        instance: &instance,
    };
    let material = KekMaterial::generate().expect("random");
    let wrapped = WrappedKek::new(
        kek_id,
        provider.wrap(&material, &binding).await.expect("wraps"),
    )
    .expect("non-empty");
    let bytes = wrapped.to_bytes();

    let reopened = WrappedKek::from_bytes(&bytes).expect("parses");
    let unwrapped = provider
        .unwrap(reopened.root_wrapped(), &binding)
        .await
        .expect("unwraps");
    assert!(unwrapped == material);

    for position in 0..bytes.len() {
        for bit in 0..8 {
            let mut tampered = bytes.clone();
            tampered[position] ^= 1 << bit;
            let outcome = match WrappedKek::from_bytes(&tampered) {
                Err(err) => Err(err),
                Ok(record) => {
                    // The keyring binds the record's own KEK id, so a changed id changes the AAD.
                    let binding = KekBinding {
                        kek_id: record.id(),
                        instance: &instance,
                    };
                    provider
                        .unwrap(record.root_wrapped(), &binding)
                        .await
                        .map(|_| ())
                }
            };
            assert!(outcome.is_err(), "byte {position} bit {bit} went unnoticed");
        }
    }
}

#[tokio::test]
async fn not_my_key_is_distinct_from_failed() {
    let provider = LocalRootProvider::new(root_key(1), vec![]);
    let stranger = LocalRootProvider::new(root_key(2), vec![]);
    let (kek_id, instance) = binding_parts();
    let binding = KekBinding {
        kek_id: &kek_id,
        instance: &instance,
    };
    let wrapped = provider
        .wrap(&KekMaterial::generate().expect("random"), &binding)
        .await
        .expect("wraps");

    let not_mine = stranger.unwrap(&wrapped, &binding).await.map(|_| ());
    assert_eq!(
        not_mine,
        Err(KmsError::RootKeyNotHeld {
            key_id: root_key(1).id().clone()
        })
    );

    let other_kek = KekId::from_bytes([4; 16]);
    let wrong_binding = KekBinding {
        kek_id: &other_kek,
        instance: &instance,
    };
    let failed = provider.unwrap(&wrapped, &wrong_binding).await.map(|_| ());
    assert_eq!(
        failed,
        Err(KmsError::KekUnwrapFailed {
            key_id: root_key(1).id().clone()
        })
    );
}
