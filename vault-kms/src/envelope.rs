//! The envelope: what the store keeps for one secret version. Byte layout, version 1:
//!
//! | offset | length | field                                        |
//! |-------:|-------:|----------------------------------------------|
//! |      0 |      1 | format version (1)                           |
//! |      1 |     16 | KEK id                                       |
//! |     17 |     12 | nonce of the DEK wrap                        |
//! |     29 |     48 | wrapped DEK: AES-256-GCM(KEK) of 32 bytes + tag |
//! |     77 |     12 | nonce of the value                           |
//! |     89 |  n+16  | value: AES-256-GCM(DEK) of n bytes + tag     |
//!
//! Both encryptions take the row's `SealBinding` as associated data (the DEK wrap
//! also the KEK id), so an envelope copied to another row does not open.

use std::fmt;

use vault_core::SecretValue;
use zeroize::Zeroizing;

use crate::binding::SealBinding;
use crate::error::KmsError;
use crate::ids::KekId;
use crate::material::{Dek, KEY_LEN, Kek, NONCE_LEN, TAG_LEN, random_bytes};

const RECORD: &str = "envelope";
pub const ENVELOPE_FORMAT_V1: u8 = 1;
const WRAPPED_DEK_LEN: usize = KEY_LEN + TAG_LEN;
const HEADER_LEN: usize = 1 + KekId::LEN + NONCE_LEN + WRAPPED_DEK_LEN + NONCE_LEN;

/// A DEK encrypted under a KEK.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDek {
    nonce: [u8; NONCE_LEN],
    sealed: [u8; WRAPPED_DEK_LEN],
}

/// A value encrypted under its DEK (tag included).
#[derive(Clone, PartialEq, Eq)]
pub struct Ciphertext {
    nonce: [u8; NONCE_LEN],
    sealed: Vec<u8>,
}

/// One sealed secret version.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    kek_id: KekId,
    dek: WrappedDek,
    value: Ciphertext,
}

impl Envelope {
    pub fn kek_id(&self) -> &KekId {
        &self.kek_id
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.value.sealed.len());
        out.push(ENVELOPE_FORMAT_V1);
        out.extend_from_slice(self.kek_id.as_bytes());
        out.extend_from_slice(&self.dek.nonce);
        out.extend_from_slice(&self.dek.sealed);
        out.extend_from_slice(&self.value.nonce);
        out.extend_from_slice(&self.value.sealed);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KmsError> {
        let (&version, rest) = bytes.split_first().ok_or(KmsError::MalformedRecord {
            record: RECORD,
            reason: "empty",
        })?;
        if version != ENVELOPE_FORMAT_V1 {
            return Err(KmsError::UnknownRecordVersion {
                record: RECORD,
                version,
            });
        }
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(KmsError::MalformedRecord {
                record: RECORD,
                reason: "shorter than its fixed fields",
            });
        }
        let (kek_id, rest) = take::<{ KekId::LEN }>(rest);
        let (dek_nonce, rest) = take::<NONCE_LEN>(rest);
        let (dek_sealed, rest) = take::<WRAPPED_DEK_LEN>(rest);
        let (value_nonce, value_sealed) = take::<NONCE_LEN>(rest);
        Ok(Envelope {
            kek_id: KekId::from_bytes(kek_id),
            dek: WrappedDek {
                nonce: dek_nonce,
                sealed: dek_sealed,
            },
            value: Ciphertext {
                nonce: value_nonce,
                sealed: value_sealed.to_vec(),
            },
        })
    }
}

/// Splits a fixed-size head off a slice whose length was checked beforehand.
fn take<const N: usize>(bytes: &[u8]) -> ([u8; N], &[u8]) {
    let (head, rest) = bytes.split_at(N);
    let mut out = [0u8; N];
    out.copy_from_slice(head);
    (out, rest)
}

/// Seals `value` under a fresh DEK, and the DEK under `kek`.
pub(crate) fn seal(
    kek: &Kek,
    binding: &SealBinding<'_>,
    value: &SecretValue,
) -> Result<Envelope, KmsError> {
    let dek = Dek::generate()?;
    let wrapped = wrap_dek(kek, binding, &dek)?;
    let value_nonce: [u8; NONCE_LEN] = random_bytes()?;

    // Room for the tag up front, so appending it never reallocates and leaves a
    // plaintext copy behind in freed memory; zeroized if encryption fails.
    let plaintext = value.expose().as_bytes();
    let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    buffer.extend_from_slice(plaintext);
    let rejected = |_| KmsError::EnvelopeRejected { stage: "value" };
    let tag = dek
        .cipher()?
        .seal_detached(value_nonce, &binding.value_aad(), &mut buffer)
        .map_err(rejected)?;
    buffer.extend_from_slice(&tag);

    Ok(Envelope {
        kek_id: *kek.id(),
        dek: wrapped,
        value: Ciphertext {
            nonce: value_nonce,
            sealed: std::mem::take(&mut *buffer),
        },
    })
}

fn wrap_dek(kek: &Kek, binding: &SealBinding<'_>, dek: &Dek) -> Result<WrappedDek, KmsError> {
    let nonce: [u8; NONCE_LEN] = random_bytes()?;
    // Holds the plaintext DEK until it is encrypted in place: zeroized if that fails.
    let mut wrapped = Zeroizing::new([0u8; WRAPPED_DEK_LEN]);
    let (key_part, tag_part) = wrapped.split_at_mut(KEY_LEN);
    key_part.copy_from_slice(dek.expose());
    let tag = kek
        .cipher()
        .seal_detached(nonce, &binding.dek_aad(kek.id()), key_part)
        .map_err(|_| KmsError::EnvelopeRejected { stage: "data key" })?;
    tag_part.copy_from_slice(&tag);
    Ok(WrappedDek {
        nonce,
        sealed: *wrapped,
    })
}

/// The same value ciphertext with its DEK moved from `from` to `to`: the value is
/// never decrypted, only the data key is unwrapped and wrapped again.
pub(crate) fn rewrap(
    from: &Kek,
    to: &Kek,
    binding: &SealBinding<'_>,
    envelope: &Envelope,
) -> Result<Envelope, KmsError> {
    if from.id() != envelope.kek_id() {
        return Err(KmsError::EnvelopeRejected { stage: "data key" });
    }
    let dek = unwrap_dek(from, binding, &envelope.dek)?;
    Ok(Envelope {
        kek_id: *to.id(),
        dek: wrap_dek(to, binding, &dek)?,
        value: envelope.value.clone(),
    })
}

pub(crate) fn unwrap_dek(
    kek: &Kek,
    binding: &SealBinding<'_>,
    dek: &WrappedDek,
) -> Result<Dek, KmsError> {
    let (sealed_key, tag) = dek.sealed.split_at(KEY_LEN);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(sealed_key);
    kek.cipher()
        .open_detached(
            dek.nonce,
            &binding.dek_aad(kek.id()),
            key.as_mut_slice(),
            tag,
        )
        .map_err(|_| KmsError::EnvelopeRejected { stage: "data key" })?;
    Ok(Dek::from_bytes(*key))
}

/// Opens an envelope with the KEK named in it.
pub(crate) fn open(
    kek: &Kek,
    binding: &SealBinding<'_>,
    envelope: Envelope,
) -> Result<SecretValue, KmsError> {
    if kek.id() != envelope.kek_id() {
        return Err(KmsError::EnvelopeRejected { stage: "data key" });
    }
    let dek = unwrap_dek(kek, binding, &envelope.dek)?;
    // Decrypted in place: the buffer holds the plaintext until it becomes the value.
    // `from_bytes` guaranteed the tag's 16 bytes.
    let mut buffer = Zeroizing::new(envelope.value.sealed);
    let rejected = KmsError::EnvelopeRejected { stage: "value" };
    let value_len = buffer.len().checked_sub(TAG_LEN).ok_or(rejected.clone())?;
    let (ciphertext, tag) = buffer.split_at_mut(value_len);
    dek.cipher()?
        .open_detached(envelope.value.nonce, &binding.value_aad(), ciphertext, tag)
        .map_err(|_| rejected)?;
    buffer.truncate(value_len);
    SecretValue::from_utf8(std::mem::take(&mut *buffer)).map_err(KmsError::Value)
}

impl fmt::Debug for WrappedDek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WrappedDek(48 bytes)")
    }
}

impl fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ciphertext({} bytes)", self.sealed.len())
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("format", &ENVELOPE_FORMAT_V1)
            .field("kek_id", &self.kek_id)
            .field("dek", &self.dek)
            .field("value", &self.value)
            .finish()
    }
}

#[cfg(test)]
impl Envelope {
    pub(crate) fn dek_nonce(&self) -> [u8; NONCE_LEN] {
        self.dek.nonce
    }

    pub(crate) fn value_nonce(&self) -> [u8; NONCE_LEN] {
        self.value.nonce
    }

    pub(crate) fn wrapped_dek(&self) -> &WrappedDek {
        &self.dek
    }
}
