//! Identifiers of the key hierarchy: KEKs, root keys, and the vault instance whose
//! KEKs they are.

use std::fmt;

use crate::error::KmsError;
use crate::material::random_bytes;

const KEK_PREFIX: &str = "kek_";

/// A KEK's id: 128 random bits, written `kek_` + 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KekId([u8; 16]);

impl KekId {
    pub const LEN: usize = 16;

    pub fn generate() -> Result<Self, KmsError> {
        random_bytes().map(KekId)
    }

    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        KekId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn parse(text: &str) -> Result<Self, KmsError> {
        let invalid = KmsError::InvalidId {
            what: "KEK id",
            reason: "must be kek_ followed by 32 hex digits",
        };
        let hex_part = text.strip_prefix(KEK_PREFIX).ok_or(invalid.clone())?;
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| invalid)?;
        Ok(KekId(bytes))
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEK_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KekId({self})")
    }
}

/// Printable ASCII without spaces, 1 to `max` bytes: ids that are safe to store,
/// log and put into AAD or a KMS encryption context.
fn check_token(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Names one root key: `local:<fingerprint>` for `ENCRYPTION_KEY`s, the key ARN for
/// AWS KMS. Stored beside every wrapped KEK so the right key can be found (or named
/// in an error) later.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RootKeyId(String);

impl RootKeyId {
    /// Long enough for any KMS key ARN.
    pub const MAX_LEN: usize = 2048;

    pub fn parse(text: &str) -> Result<Self, KmsError> {
        if check_token(text, Self::MAX_LEN) {
            Ok(RootKeyId(text.to_owned()))
        } else {
            Err(KmsError::InvalidId {
                what: "root key id",
                reason: "must be 1-2048 printable ASCII characters without spaces",
            })
        }
    }

    /// For ids this crate builds itself in a known-valid shape.
    pub(crate) fn from_trusted(text: String) -> Self {
        debug_assert!(check_token(&text, Self::MAX_LEN));
        RootKeyId(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RootKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RootKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootKeyId({})", self.0)
    }
}

/// One vault deployment (every replica of it shares the id). Bound into every KEK
/// wrap so one vault's KEK records cannot be replayed into another's database.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VaultInstanceId(String);

impl VaultInstanceId {
    pub const MAX_LEN: usize = 64;

    pub fn generate() -> Result<Self, KmsError> {
        let bytes: [u8; 16] = random_bytes()?;
        Ok(VaultInstanceId(format!("vault_{}", hex::encode(bytes))))
    }

    pub fn parse(text: &str) -> Result<Self, KmsError> {
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if valid {
            Ok(VaultInstanceId(text.to_owned()))
        } else {
            Err(KmsError::InvalidId {
                what: "vault instance id",
                reason: "must be 1-64 characters of A-Z, a-z, 0-9, _, - or .",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VaultInstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for VaultInstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultInstanceId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_ids_round_trip_through_text() {
        let id = KekId::generate().expect("random");
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(KekId::parse(&text), Ok(id));
        assert_ne!(KekId::generate().expect("random"), id);
        for bad in [
            "",
            "kek_",
            "kek_zz",
            "KEK_00000000000000000000000000000000",
            "00000000000000000000000000000000",
        ] {
            assert!(KekId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn root_key_ids_are_printable_tokens() {
        assert!(RootKeyId::parse("local:0123456789abcdef").is_ok());
        assert!(
            RootKeyId::parse(
                "arn:aws:kms:eu-west-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            )
            .is_ok()
        );
        for bad in ["", "a b", "tab\there", "é"] {
            assert!(RootKeyId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RootKeyId::parse(&"a".repeat(RootKeyId::MAX_LEN + 1)).is_err());
    }

    #[test]
    fn instance_ids_are_generated_valid() {
        let id = VaultInstanceId::generate().expect("random");
        assert_eq!(VaultInstanceId::parse(id.as_str()), Ok(id));
        assert!(VaultInstanceId::parse("prod eu").is_err());
        assert!(VaultInstanceId::parse("prod-eu-1").is_ok());
    }
}
