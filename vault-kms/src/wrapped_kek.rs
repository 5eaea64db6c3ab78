//! A KEK as the store keeps it: wrapped by a root key. Byte layout, version 1:
//!
//! | offset | length | field                                               |
//! |-------:|-------:|-----------------------------------------------------|
//! |      0 |      1 | format version (1)                                  |
//! |      1 |     16 | KEK id                                              |
//! |     17 |      2 | length L of the root key id, big-endian (1..=2048)  |
//! |     19 |      L | root key id, ASCII (`local:<fingerprint>`, a KMS ARN) |
//! |   19+L |   rest | the root provider's ciphertext of the 32-byte KEK   |
//!
//! The provider's ciphertext is bound to (KEK id, vault instance id), so a record
//! moved to another KEK id or another vault does not open.

use std::fmt;

use crate::error::KmsError;
use crate::ids::{KekId, RootKeyId};

const RECORD: &str = "wrapped KEK";
pub const WRAPPED_KEK_FORMAT_V1: u8 = 1;

/// What a root key provider returns for one wrapped KEK.
#[derive(Clone, PartialEq, Eq)]
pub struct RootWrapped {
    pub key_id: RootKeyId,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for RootWrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RootWrapped({}, {} bytes)",
            self.key_id,
            self.ciphertext.len()
        )
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKek {
    id: KekId,
    root: RootWrapped,
}

impl WrappedKek {
    pub fn new(id: KekId, root: RootWrapped) -> Result<Self, KmsError> {
        if root.ciphertext.is_empty() {
            return Err(KmsError::MalformedRecord {
                record: RECORD,
                reason: "empty root ciphertext",
            });
        }
        Ok(WrappedKek { id, root })
    }

    pub fn id(&self) -> &KekId {
        &self.id
    }

    pub fn root_key_id(&self) -> &RootKeyId {
        &self.root.key_id
    }

    pub fn root_wrapped(&self) -> &RootWrapped {
        &self.root
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let key_id = self.root.key_id.as_str().as_bytes();
        let mut out = Vec::with_capacity(19 + key_id.len() + self.root.ciphertext.len());
        out.push(WRAPPED_KEK_FORMAT_V1);
        out.extend_from_slice(self.id.as_bytes());
        // RootKeyId is at most 2048 bytes, so its length always fits in two bytes.
        let len = u16::try_from(key_id.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(key_id);
        out.extend_from_slice(&self.root.ciphertext);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KmsError> {
        let malformed = |reason| KmsError::MalformedRecord {
            record: RECORD,
            reason,
        };
        let (&version, rest) = bytes.split_first().ok_or(malformed("empty"))?;
        if version != WRAPPED_KEK_FORMAT_V1 {
            return Err(KmsError::UnknownRecordVersion {
                record: RECORD,
                version,
            });
        }
        if rest.len() < KekId::LEN + 2 {
            return Err(malformed("shorter than its fixed fields"));
        }
        let (id, rest) = rest.split_at(KekId::LEN);
        let (len, rest) = rest.split_at(2);
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if rest.len() <= len {
            return Err(malformed("root key id overruns the record"));
        }
        let (key_id, ciphertext) = rest.split_at(len);
        let key_id = std::str::from_utf8(key_id)
            .ok()
            .and_then(|text| RootKeyId::parse(text).ok())
            .ok_or(malformed("root key id is not a printable token"))?;
        let mut kek_id = [0u8; KekId::LEN];
        kek_id.copy_from_slice(id);
        WrappedKek::new(
            KekId::from_bytes(kek_id),
            RootWrapped {
                key_id,
                ciphertext: ciphertext.to_vec(),
            },
        )
    }
}

impl fmt::Debug for WrappedKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKek")
            .field("id", &self.id)
            .field("root", &self.root)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WrappedKek {
        WrappedKek::new(
            KekId::from_bytes([7; 16]),
            RootWrapped {
                key_id: RootKeyId::parse("local:00112233aabbccdd").expect("valid"),
                ciphertext: vec![9; 60],
            },
        )
        .expect("non-empty")
    }

    #[test]
    fn round_trips_through_bytes() {
        let record = sample();
        let bytes = record.to_bytes();
        assert_eq!(bytes[0], WRAPPED_KEK_FORMAT_V1);
        assert_eq!(bytes.len(), 1 + 16 + 2 + 22 + 60);
        assert_eq!(WrappedKek::from_bytes(&bytes), Ok(record));
    }

    /// The smallest record there is: a one-character root key id and one byte of
    /// ciphertext (20 bytes after the version), which the length checks must admit.
    #[test]
    fn the_shortest_record_round_trips() {
        let record = WrappedKek::new(
            KekId::from_bytes([3; 16]),
            RootWrapped {
                key_id: RootKeyId::parse("k").expect("valid"),
                ciphertext: vec![1],
            },
        )
        .expect("non-empty");
        let bytes = record.to_bytes();
        assert_eq!(bytes.len(), 1 + 16 + 2 + 1 + 1);
        assert_eq!(WrappedKek::from_bytes(&bytes), Ok(record));
    }

    /// Each truncation says which part is missing: the fixed fields, or the root key
    /// id and ciphertext after them.
    #[test]
    fn a_truncated_record_names_what_is_missing() {
        let bytes = sample().to_bytes();
        let reason = |cut: usize| match WrappedKek::from_bytes(&bytes[..cut]) {
            Err(KmsError::MalformedRecord { reason, .. }) => reason,
            other => panic!("cut at {cut}: {other:?}"),
        };
        assert_eq!(reason(0), "empty");
        for cut in 1..19 {
            assert_eq!(reason(cut), "shorter than its fixed fields", "cut at {cut}");
        }
        // Exactly the fixed fields: the id they announce (22 bytes) is not there.
        for cut in 19..(19 + 22 + 1) {
            assert_eq!(
                reason(cut),
                "root key id overruns the record",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn debug_shows_the_ids_and_the_ciphertext_length() {
        let record = sample();
        assert_eq!(
            format!("{record:?}"),
            "WrappedKek { id: KekId(kek_07070707070707070707070707070707), \
             root: RootWrapped(local:00112233aabbccdd, 60 bytes) }"
        );
    }

    #[test]
    fn unknown_versions_and_truncations_are_clear_errors() {
        let mut bytes = sample().to_bytes();
        bytes[0] = 2;
        assert_eq!(
            WrappedKek::from_bytes(&bytes),
            Err(KmsError::UnknownRecordVersion {
                record: "wrapped KEK",
                version: 2
            })
        );
        let bytes = sample().to_bytes();
        for cut in 0..(1 + 16 + 2 + 22 + 1) {
            assert!(
                matches!(
                    WrappedKek::from_bytes(&bytes[..cut]),
                    Err(KmsError::MalformedRecord { .. })
                ),
                "cut at {cut}"
            );
        }
    }
}
