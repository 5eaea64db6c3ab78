//! The `local` root provider: KEKs wrapped with AES-256-GCM under one or more
//! 32-byte keys from `ENCRYPTION_KEY` (one current, any number of previous ones).

use std::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::binding::KekBinding;
use crate::error::KmsError;
use crate::ids::RootKeyId;
use crate::material::{KEY_LEN, KekMaterial, NONCE_LEN, TAG_LEN, cipher, random_bytes};
use crate::root::RootKeyProvider;
use crate::wrapped_kek::RootWrapped;

const PROVIDER: &str = "local";
const FINGERPRINT_LABEL: &[u8] = b"vault-kms/v1/root-key-fingerprint";
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// One `ENCRYPTION_KEY`. Identified by a fingerprint, `local:<16 hex digits>`: the
/// first 8 bytes of SHA-256 over a fixed label and the key. The key is 256 random
/// bits, so the fingerprint says nothing about it beyond telling keys apart.
pub struct RootKey {
    id: RootKeyId,
    cipher: Aes256Gcm,
}

impl RootKey {
    /// Accepts 64 hex digits or base64 (standard or URL-safe, padded or not) of exactly
    /// 32 bytes. Surrounding whitespace is ignored, as key files often end in a newline.
    /// Errors describe the expected shape and never repeat the input.
    pub fn parse(text: &str) -> Result<Self, KmsError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        let bytes = decode(text)?;
        let key: &[u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            invalid(format!(
                "it decodes to {} bytes; a root key is exactly 32",
                bytes.len()
            ))
        })?;
        Ok(Self::from_bytes(key))
    }

    pub fn from_bytes(key: &[u8; KEY_LEN]) -> Self {
        RootKey {
            id: fingerprint(key),
            cipher: cipher(key),
        }
    }

    /// A new random key, base64-encoded, for `keygen`.
    pub fn generate_encoded() -> Result<Zeroizing<String>, KmsError> {
        let key = Zeroizing::new(random_bytes::<KEY_LEN>()?);
        Ok(Zeroizing::new(STANDARD.encode(*key)))
    }

    pub fn id(&self) -> &RootKeyId {
        &self.id
    }
}

fn invalid(reason: impl Into<String>) -> KmsError {
    KmsError::InvalidRootKey {
        reason: format!(
            "{}; expected 32 bytes as 64 hex digits or as base64",
            reason.into()
        ),
    }
}

/// Even-length all-hex input is hex: a 32-byte key in base64 is 43 characters, or 44
/// with `=`, so it never looks like that, and a mistyped hex key gets a length error.
///
/// Every attempt decodes into one zeroized buffer, so a failed try (URL-safe input
/// read as standard base64 stops part-way) leaves no partial key in freed memory.
fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    // Decoded bytes never outnumber input characters.
    let mut buffer = Zeroizing::new(vec![0u8; text.len()]);
    let written = if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let len = text.len() / 2;
        hex::decode_to_slice(text, &mut buffer[..len])
            .map_err(|_| invalid("it is not valid hex"))?;
        len
    } else {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode_slice(text, &mut buffer[..]).ok())
            .ok_or_else(|| invalid("it is neither hex nor base64"))?
    };
    // Zeroizing a Vec clears its whole capacity, so the cut-off tail is wiped too.
    buffer.truncate(written);
    Ok(buffer)
}

fn fingerprint(key: &[u8; KEY_LEN]) -> RootKeyId {
    let digest = Sha256::new()
        .chain_update(FINGERPRINT_LABEL)
        .chain_update(key)
        .finalize();
    RootKeyId::from_trusted(format!("{PROVIDER}:{}", hex::encode(&digest[..8])))
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootKey({}, [redacted])", self.id)
    }
}

pub struct LocalRootProvider {
    current: RootKey,
    previous: Vec<RootKey>,
}

impl LocalRootProvider {
    /// `previous` keys only unwrap; a previous key equal to the current one is dropped.
    pub fn new(current: RootKey, previous: Vec<RootKey>) -> Self {
        let mut kept: Vec<RootKey> = Vec::with_capacity(previous.len());
        for key in previous {
            if key.id != current.id && !kept.iter().any(|k| k.id == key.id) {
                kept.push(key);
            }
        }
        LocalRootProvider {
            current,
            previous: kept,
        }
    }

    /// Parses the current key and any previous ones from their text form.
    pub fn from_config(current: &str, previous: &[&str]) -> Result<Self, KmsError> {
        let current = RootKey::parse(current)?;
        let previous = previous
            .iter()
            .map(|text| RootKey::parse(text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(current, previous))
    }

    fn key(&self, id: &RootKeyId) -> Option<&RootKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == *id)
    }

    /// Ids of every configured key, current first.
    pub fn key_ids(&self) -> impl Iterator<Item = &RootKeyId> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| &key.id)
    }
}

impl fmt::Debug for LocalRootProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRootProvider")
            .field("current", &self.current)
            .field("previous", &self.previous)
            .finish()
    }
}

#[async_trait]
impl RootKeyProvider for LocalRootProvider {
    fn kind(&self) -> &'static str {
        PROVIDER
    }

    fn current_key_id(&self) -> &RootKeyId {
        &self.current.id
    }

    fn configured_key_ids(&self) -> Vec<RootKeyId> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| key.id.clone())
            .collect()
    }

    fn holds(&self, key_id: &RootKeyId) -> bool {
        self.key(key_id).is_some()
    }

    async fn wrap(
        &self,
        kek: &KekMaterial,
        binding: &KekBinding<'_>,
    ) -> Result<RootWrapped, KmsError> {
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&nonce);
        let mut sealed = Zeroizing::new(*kek.expose());
        let tag = self
            .current
            .cipher
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                &binding.aad(),
                sealed.as_mut_slice().into(),
            )
            .map_err(|_| KmsError::KekUnwrapFailed {
                key_id: self.current.id.clone(),
            })?;
        out.extend_from_slice(sealed.as_slice());
        out.extend_from_slice(&tag);
        Ok(RootWrapped {
            key_id: self.current.id.clone(),
            ciphertext: out,
        })
    }

    async fn unwrap(
        &self,
        wrapped: &RootWrapped,
        binding: &KekBinding<'_>,
    ) -> Result<KekMaterial, KmsError> {
        let key = self
            .key(&wrapped.key_id)
            .ok_or_else(|| KmsError::RootKeyNotHeld {
                key_id: wrapped.key_id.clone(),
            })?;
        let failed = || KmsError::KekUnwrapFailed {
            key_id: wrapped.key_id.clone(),
        };
        if wrapped.ciphertext.len() != WRAPPED_LEN {
            return Err(failed());
        }
        let (nonce, rest) = wrapped.ciphertext.split_at(NONCE_LEN);
        let (sealed, tag) = rest.split_at(KEY_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| failed())?;
        let tag = Tag::try_from(tag).map_err(|_| failed())?;
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        material.copy_from_slice(sealed);
        key.cipher
            .decrypt_inout_detached(&nonce, &binding.aad(), material.as_mut_slice().into(), &tag)
            .map_err(|_| failed())?;
        Ok(KekMaterial::from_bytes(*material))
    }
}
