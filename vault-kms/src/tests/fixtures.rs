//! Shared builders: root keys, keyrings over an in-memory KEK store, and secret rows.

use std::sync::Arc;

use vault_core::{Owner, SecretId, SecretName, SecretValue, UserId, Version};

use crate::{
    Envelope, Keyring, KeyringConfig, LocalRootProvider, MemoryKekRepository, RootKey, SealBinding,
    VaultInstanceId,
};

pub const MARKER: &str = "MARKER-d41d8cd98f-plaintext";

pub fn root_key(byte: u8) -> RootKey {
    RootKey::from_bytes(&[byte; 32])
}

pub fn instance() -> VaultInstanceId {
    VaultInstanceId::parse("vault-test").expect("valid")
}

pub struct Vault {
    pub keks: Arc<MemoryKekRepository>,
    pub keyring: Keyring,
}

pub fn vault_with(
    root: LocalRootProvider,
    keks: Arc<MemoryKekRepository>,
    config: KeyringConfig,
) -> Vault {
    let keyring = Keyring::new(instance(), Arc::new(root), keks.clone(), config);
    Vault { keks, keyring }
}

/// A vault with its own empty KEK store under root key 1.
pub fn vault_configured(config: KeyringConfig) -> Vault {
    vault_with(
        LocalRootProvider::new(root_key(1), vec![]),
        Arc::new(MemoryKekRepository::new()),
        config,
    )
}

pub fn vault() -> Vault {
    vault_configured(KeyringConfig::default())
}

impl Vault {
    pub async fn seal(&self, row: &Row, text: &str) -> Envelope {
        self.keyring
            .seal(&row.binding(), &value(text))
            .await
            .expect("seals")
    }

    /// The opened value as plain text, for comparisons in tests only.
    pub async fn open(&self, row: &Row, envelope: &Envelope) -> String {
        self.keyring
            .open(&row.binding(), envelope)
            .await
            .expect("opens")
            .expose()
            .to_owned()
    }
}

/// The same storage seen by a freshly started process (nothing cached).
pub fn restart(vault: &Vault, root: LocalRootProvider) -> Vault {
    vault_with(root, vault.keks.clone(), KeyringConfig::default())
}

pub fn value(text: &str) -> SecretValue {
    SecretValue::new(text.to_owned()).expect("fits")
}

/// The fields of one secret version that its envelope is bound to.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: SecretId,
    pub version: Version,
    pub owner: Owner,
    pub name: SecretName,
}

impl Row {
    pub fn new(n: usize) -> Self {
        Row {
            id: SecretId::parse(&format!("sec_{n:0>21}")).expect("valid"),
            version: Version::FIRST,
            owner: Owner::User(UserId::parse("user-1").expect("valid")),
            name: SecretName::parse("API_KEY").expect("valid"),
        }
    }

    pub fn binding(&self) -> SealBinding<'_> {
        SealBinding {
            secret_id: &self.id,
            version: self.version,
            owner: &self.owner,
            name: &self.name,
        }
    }
}
