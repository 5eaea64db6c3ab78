//! The one error type of vault-kms. No variant carries key material or plaintext;
//! root keys are named only by their fingerprint.

use thiserror::Error;
use vault_core::CoreError;

use crate::ids::{KekId, RootKeyId};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KmsError {
    #[error("invalid root key: {reason}")]
    InvalidRootKey { reason: String },

    #[error("invalid {what}: {reason}")]
    InvalidId {
        what: &'static str,
        reason: &'static str,
    },

    #[error("{record} record has format version {version}, which this build does not know")]
    UnknownRecordVersion { record: &'static str, version: u8 },

    #[error("malformed {record} record: {reason}")]
    MalformedRecord {
        record: &'static str,
        reason: &'static str,
    },

    /// "Not my key": this provider holds no root key with that id. Another provider, or
    /// the same one configured with that key as a previous key, may.
    #[error(
        "no configured root key has id {key_id}; configure that key (as current or previous) to open what it wrapped"
    )]
    RootKeyNotHeld { key_id: RootKeyId },

    /// The root key is held but the KEK record does not open under it: the record was
    /// altered, or it belongs to another vault instance or KEK id.
    #[error("KEK record does not open under root key {key_id}: altered, or bound to another vault")]
    KekUnwrapFailed { key_id: RootKeyId },

    /// The root key exists but may not be used now (disabled, pending deletion).
    #[error("root key {key_id} cannot be used: {state}")]
    RootKeyDisabled { key_id: RootKeyId, state: String },

    /// The provider refuses these credentials the use of the root key.
    #[error("access to root key {key_id} is denied: {detail}")]
    RootAccessDenied { key_id: RootKeyId, detail: String },

    #[error("root key provider {provider} is unavailable: {detail}")]
    RootProviderUnavailable {
        provider: &'static str,
        detail: String,
    },

    #[error("KEK {id} is not stored")]
    KekNotFound { id: KekId },

    #[error("KEK storage failed: {detail}")]
    KekStorage { detail: String },

    #[error("could not settle on an active KEK after repeated concurrent rotations")]
    KekContention,

    /// Wrong secret, version, owner, name or KEK for this envelope, or altered bytes.
    #[error(
        "envelope does not open ({stage}): sealed for another secret, version or owner, or altered"
    )]
    EnvelopeRejected { stage: &'static str },

    #[error("decrypted value is not acceptable: {0}")]
    Value(CoreError),

    #[error("the operating system's random number generator failed")]
    RandomUnavailable,

    /// AWS-LC could not set up an AES-256-GCM key (it refuses only when out of memory).
    #[error("the AES-256-GCM implementation could not set up a key")]
    CipherUnavailable,
}
