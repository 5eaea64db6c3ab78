//! Key material in memory: plaintext KEKs and DEKs, zeroized on drop and never
//! printable. Each kind is its own type so one cannot be passed where the other goes.

use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::KmsError;
use crate::ids::KekId;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KmsError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| KmsError::RandomUnavailable)?;
    Ok(bytes)
}

/// The root key's cipher (RustCrypto): used once per KEK, off the hot path.
pub(crate) fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// The authentication failed, or the cipher could not run: callers say which stage.
#[derive(Debug)]
pub(crate) struct Refused;

/// An AES-256-GCM key set up for use, for the envelope's two layers (the DEK under its
/// KEK, the value under its DEK): AWS-LC's, which `benches/aead.rs` measured at 404 ns
/// for a per-version open's two decryptions and one key set-up against RustCrypto's
/// 761 ns (27 µs saved on a 75-name resolution). The expanded key lives in memory AWS-LC allocated; freeing it
/// (`EVP_AEAD_CTX_free` → `OPENSSL_free`) cleanses every byte first, so it is zeroized on
/// drop as RustCrypto's `zeroize` feature did.
pub(crate) struct AeadKey(LessSafeKey);

impl AeadKey {
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Result<Self, KmsError> {
        // The length is right by type; AWS-LC refuses only when it cannot allocate.
        UnboundKey::new(&AES_256_GCM, key)
            .map(|key| AeadKey(LessSafeKey::new(key)))
            .map_err(|_| KmsError::CipherUnavailable)
    }

    /// Encrypts `in_out` in place; returns the tag.
    pub(crate) fn seal_detached(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Refused> {
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
            .map_err(|_| Refused)?;
        tag.as_ref().try_into().map_err(|_| Refused)
    }

    /// Decrypts `in_out` in place if `tag` authenticates it with `aad`.
    pub(crate) fn open_detached(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Refused> {
        self.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                tag,
                in_out,
            )
            .map(|_| ())
            .map_err(|_| Refused)
    }
}

/// The plaintext of a KEK: what a root key provider wraps and unwraps.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KekMaterial([u8; KEY_LEN]);

impl KekMaterial {
    pub fn generate() -> Result<Self, KmsError> {
        random_bytes().map(KekMaterial)
    }

    /// For root providers that receive the plaintext from elsewhere (a KMS response);
    /// the caller's buffer should itself be zeroized.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        KekMaterial(bytes)
    }

    /// For a root provider to encrypt, and nothing else.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl PartialEq for KekMaterial {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KekMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KekMaterial([redacted])")
    }
}

/// An unwrapped KEK ready to wrap and unwrap DEKs. Holds the expanded AES key
/// schedule (cleansed when freed, see `AeadKey`), not the raw bytes.
pub struct Kek {
    id: KekId,
    cipher: AeadKey,
}

impl Kek {
    pub(crate) fn new(id: KekId, material: &KekMaterial) -> Result<Self, KmsError> {
        Ok(Kek {
            id,
            cipher: AeadKey::new(&material.0)?,
        })
    }

    pub fn id(&self) -> &KekId {
        &self.id
    }

    pub(crate) fn cipher(&self) -> &AeadKey {
        &self.cipher
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek({}, [redacted])", self.id)
    }
}

/// A plaintext data key: one per secret version, alive only while sealing or opening.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Dek([u8; KEY_LEN]);

impl Dek {
    pub(crate) fn generate() -> Result<Self, KmsError> {
        random_bytes().map(Dek)
    }

    pub(crate) fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Dek(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub(crate) fn cipher(&self) -> Result<AeadKey, KmsError> {
        AeadKey::new(&self.0)
    }
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dek([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_impl_all!(KekMaterial: ZeroizeOnDrop);
    static_assertions::assert_impl_all!(Dek: ZeroizeOnDrop);
    static_assertions::assert_impl_all!(Aes256Gcm: ZeroizeOnDrop);
    static_assertions::assert_not_impl_any!(KekMaterial: Clone, Copy);
    static_assertions::assert_not_impl_any!(Dek: Clone, Copy);
    static_assertions::assert_not_impl_any!(Kek: Clone, Copy);

    #[test]
    fn key_material_is_random_and_redacted() {
        let a = KekMaterial::generate().expect("random");
        let b = KekMaterial::generate().expect("random");
        assert!(a != b);
        let printed = format!("{a:?} {:?}", Dek::generate().expect("random"));
        assert!(!printed.contains(&hex::encode(a.expose())));
        assert_eq!(printed, "KekMaterial([redacted]) Dek([redacted])");
    }

    #[test]
    fn zeroize_clears_key_bytes() {
        let mut material = KekMaterial::from_bytes([0xA5; KEY_LEN]);
        material.zeroize();
        assert_eq!(material.expose(), &[0u8; KEY_LEN]);
        let mut dek = Dek::from_bytes([0x5A; KEY_LEN]);
        dek.zeroize();
        assert_eq!(dek.expose(), &[0u8; KEY_LEN]);
    }
}
