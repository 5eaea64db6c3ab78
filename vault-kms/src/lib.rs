//! vault-kms: envelope encryption for the vault. A root key provider (`local`:
//! `ENCRYPTION_KEY`; `aws-kms`: AWS KMS) wraps vault-held KEKs; each KEK wraps a fresh DEK
//! per secret version; each DEK seals one value with AES-256-GCM. Every layer binds
//! what it protects as associated data, and all key material is zeroized on drop.

#[cfg(feature = "aws")]
mod aws;
mod binding;
mod envelope;
mod error;
mod ids;
mod keyring;
mod local;
mod material;
mod repository;
mod root;
mod wrapped_kek;

#[cfg(test)]
mod tests;

#[cfg(feature = "aws")]
pub use aws::{AwsKmsCalls, AwsKmsProvider, AwsKmsSettings};
pub use binding::{KekBinding, SealBinding};
pub use envelope::{Ciphertext, ENVELOPE_FORMAT_V1, Envelope, WrappedDek};
pub use error::KmsError;
pub use ids::{KekId, RootKeyId, VaultInstanceId};
pub use keyring::{
    INTEGRITY_MASTER_ID, Keyring, KeyringConfig, KeyringMetrics, MAX_WRAPS_CEILING, Opener,
};
pub use local::{LocalRootProvider, RootKey};
pub use material::{Dek, Kek, KekMaterial};
pub use repository::{KekRecord, KekRepository, KekState, MemoryKekRepository};
pub use root::{LayeredRootProvider, RootKeyProvider};
pub use wrapped_kek::{RootWrapped, WRAPPED_KEK_FORMAT_V1, WrappedKek};
