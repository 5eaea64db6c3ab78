//! What every ciphertext is bound to (its AES-GCM associated data), encoded
//! canonically: a purpose label, then each field as a 4-byte big-endian length and
//! its bytes, so no two different bindings can encode alike.

use vault_core::{Owner, SecretId, SecretName, Version};

use crate::ids::{KekId, VaultInstanceId};

const VALUE_LABEL: &[u8] = b"vault-kms/v1/value";
const DEK_LABEL: &[u8] = b"vault-kms/v1/dek";
const KEK_LABEL: &[u8] = b"vault-kms/v1/kek";

/// The row a secret version's envelope belongs to. A ciphertext moved to another
/// secret, version, owner or name no longer opens.
#[derive(Clone, Copy, Debug)]
pub struct SealBinding<'a> {
    pub secret_id: &'a SecretId,
    pub version: Version,
    pub owner: &'a Owner,
    pub name: &'a SecretName,
}

/// What a KEK's wrap by the root key is bound to (for AWS KMS: the encryption context).
#[derive(Clone, Copy, Debug)]
pub struct KekBinding<'a> {
    pub kek_id: &'a KekId,
    pub instance: &'a VaultInstanceId,
}

struct Aad(Vec<u8>);

impl Aad {
    fn new(label: &[u8]) -> Self {
        let mut aad = Aad(Vec::with_capacity(160));
        aad.field(label);
        aad
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        // Lengths are bounded far below 4 GiB by the types that produce the fields.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }
}

impl SealBinding<'_> {
    fn fields(&self, label: &[u8]) -> Aad {
        let mut aad = Aad::new(label);
        aad.field(self.secret_id.as_str().as_bytes())
            .field(&self.version.get().to_be_bytes())
            .field(self.owner.kind().as_str().as_bytes())
            .field(self.owner.id().as_bytes())
            .field(self.name.as_str().as_bytes());
        aad
    }

    /// AAD of the value ciphertext. It leaves the KEK out on purpose: `keys rewrap
    /// --deks` moves a DEK to a new KEK without touching value ciphertexts, and the
    /// DEK's own wrap already binds the KEK.
    pub(crate) fn value_aad(&self) -> Vec<u8> {
        self.fields(VALUE_LABEL).0
    }

    /// AAD of the DEK wrapped under a KEK.
    pub(crate) fn dek_aad(&self, kek: &KekId) -> Vec<u8> {
        let mut aad = self.fields(DEK_LABEL);
        aad.field(kek.as_bytes());
        aad.0
    }
}

impl KekBinding<'_> {
    pub fn aad(&self) -> Vec<u8> {
        let mut aad = Aad::new(KEK_LABEL);
        aad.field(self.kek_id.as_bytes())
            .field(self.instance.as_str().as_bytes());
        aad.0
    }
}

#[cfg(test)]
mod tests {
    use vault_core::{ProjectId, UserId, WorkspaceId};

    use super::*;

    #[test]
    fn encoding_is_injective_across_field_boundaries() {
        // "AB" + "C" and "A" + "BC" would collide under plain concatenation.
        let id = SecretId::parse("sec_000000000000000000001").expect("valid");
        let version = Version::FIRST;
        let owner_a = Owner::User(UserId::parse("uA").expect("valid"));
        let owner_b = Owner::User(UserId::parse("u").expect("valid"));
        let name_a = SecretName::parse("B").expect("valid");
        let name_b = SecretName::parse("AB").expect("valid");
        let a = SealBinding {
            secret_id: &id,
            version,
            owner: &owner_a,
            name: &name_a,
        };
        let b = SealBinding {
            secret_id: &id,
            version,
            owner: &owner_b,
            name: &name_b,
        };
        assert_ne!(a.value_aad(), b.value_aad());
    }

    #[test]
    fn owner_kind_is_bound_not_just_the_id() {
        let id = SecretId::parse("sec_000000000000000000001").expect("valid");
        let name = SecretName::parse("KEY").expect("valid");
        let workspace = Owner::Workspace(WorkspaceId::parse("x").expect("valid"));
        let project = Owner::Project(ProjectId::parse("x").expect("valid"));
        let a = SealBinding {
            secret_id: &id,
            version: Version::FIRST,
            owner: &workspace,
            name: &name,
        };
        let b = SealBinding {
            secret_id: &id,
            version: Version::FIRST,
            owner: &project,
            name: &name,
        };
        assert_ne!(a.value_aad(), b.value_aad());
        let kek = KekId::from_bytes([1; 16]);
        assert_ne!(a.dek_aad(&kek), b.dek_aad(&kek));
        assert_ne!(a.value_aad(), a.dek_aad(&kek), "purposes are separated");
    }
}
