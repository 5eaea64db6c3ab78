//! `SecretValue`: a plaintext secret in memory. Bounded, UTF-8, zeroized on drop, and
//! unprintable: `Debug` and `Display` show a fixed redaction and there is no `Serialize`.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::CoreError;
use crate::mask::{Masked, mask};

/// 64 KiB: the largest value the vault stores.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// What `Debug` and `Display` print in place of any value.
pub const REDACTED: &str = "[redacted]";

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretValue(String);

impl SecretValue {
    /// Takes ownership so the only copy is the one this type zeroizes; a rejected
    /// value is zeroized (by dropping it as a `SecretValue`) before the error returns.
    pub fn new(value: String) -> Result<Self, CoreError> {
        let value = SecretValue(value);
        let len = value.0.len();
        if len > MAX_VALUE_BYTES {
            return Err(CoreError::ValueTooLarge {
                len,
                max: MAX_VALUE_BYTES,
            });
        }
        Ok(value)
    }

    /// For bytes that come out of decryption; invalid UTF-8 is zeroized and rejected.
    pub fn from_utf8(bytes: Vec<u8>) -> Result<Self, CoreError> {
        match String::from_utf8(bytes) {
            Ok(text) => Self::new(text),
            Err(err) => {
                err.into_bytes().zeroize();
                Err(CoreError::ValueNotUtf8)
            }
        }
    }

    /// The plaintext. Call it only where the value leaves the process on purpose:
    /// encryption, or the env map handed to the orchestrator.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> Masked {
        mask(&self.0)
    }
}

/// Constant-time in the contents, so comparing a guess against a stored value does
/// not reveal how many leading bytes matched.
impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretValue {}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({REDACTED})")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKER: &str = "MARKER-7f3a9c-value";

    #[test]
    fn values_up_to_64_kib_are_accepted() {
        assert!(SecretValue::new(String::new()).is_ok());
        assert!(SecretValue::new("x".repeat(MAX_VALUE_BYTES)).is_ok());
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            SecretValue::new(pem.to_owned()).expect("fits").expose(),
            pem
        );
    }

    #[test]
    fn larger_values_are_rejected_by_byte_length() {
        assert_eq!(
            SecretValue::new("x".repeat(MAX_VALUE_BYTES + 1)),
            Err(CoreError::ValueTooLarge {
                len: MAX_VALUE_BYTES + 1,
                max: MAX_VALUE_BYTES
            })
        );
        // 21,846 three-byte characters: under the limit in characters, over it in bytes.
        let wide = "€".repeat(MAX_VALUE_BYTES / 3 + 1);
        assert!(matches!(
            SecretValue::new(wide),
            Err(CoreError::ValueTooLarge { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert_eq!(
            SecretValue::from_utf8(vec![0x66, 0xff, 0x6f]),
            Err(CoreError::ValueNotUtf8)
        );
        let ok = SecretValue::from_utf8("héllo".as_bytes().to_vec()).expect("valid utf-8");
        assert_eq!(ok.expose(), "héllo");
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let value = SecretValue::new(MARKER.to_owned()).expect("fits");
        for printed in [
            format!("{value:?}"),
            format!("{value:#?}"),
            format!("{value}"),
            format!("{:?}", Some(&value)),
            format!("{:?}", SecretValue::new(MARKER.to_owned())),
        ] {
            assert!(!printed.contains("MARKER"), "leaked in {printed:?}");
            assert!(printed.contains(REDACTED));
        }
    }

    #[test]
    fn errors_never_show_the_value() {
        let big = format!("{MARKER}{}", "x".repeat(MAX_VALUE_BYTES));
        let err = SecretValue::new(big).expect_err("too large");
        assert!(!format!("{err} {err:?}").contains("MARKER"));
        let mut bad_utf8 = MARKER.as_bytes().to_vec();
        bad_utf8.push(0xff);
        let err = SecretValue::from_utf8(bad_utf8).expect_err("invalid");
        assert!(!format!("{err} {err:?}").contains("MARKER"));
    }

    #[test]
    fn equality_compares_contents() {
        let a = SecretValue::new("abc".into()).expect("fits");
        assert_eq!(a, a.clone());
        assert_ne!(a, SecretValue::new("abd".into()).expect("fits"));
        assert_ne!(a, SecretValue::new("ab".into()).expect("fits"));
    }

    #[test]
    fn zeroize_clears_the_contents() {
        let mut value = SecretValue::new(MARKER.to_owned()).expect("fits");
        value.zeroize();
        assert_eq!(value.expose(), "");
    }

    // Drop runs `zeroize` (derived), and the value can never be serialized or copied.
    static_assertions::assert_impl_all!(SecretValue: ZeroizeOnDrop);
    static_assertions::assert_not_impl_any!(SecretValue: serde::Serialize, Copy);
}
