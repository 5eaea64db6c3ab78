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

/// The characters no value entering the vault may hold, as inclusive ranges: NUL
/// (`execve` ends a variable there, so no process could receive the rest), the other C0
/// controls but tab, line feed and carriage return (multi-line PEM and CRLF text stay
/// valid), DEL, and the C1 controls (U+0080 to U+009F: an 8-bit CSI in a value would
/// drive the terminal of whoever prints the agent's output).
pub const VALUE_FORBIDDEN_CHARS: &[(char, char)] = &[
    ('\u{0}', '\u{8}'),
    ('\u{B}', '\u{C}'),
    ('\u{E}', '\u{1F}'),
    ('\u{7F}', '\u{9F}'),
];

fn is_forbidden(c: char) -> bool {
    VALUE_FORBIDDEN_CHARS
        .iter()
        .any(|(low, high)| (*low..=*high).contains(&c))
}

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

    /// A value a client sends to be stored: as `new`, and also non-empty and free of
    /// the characters in `VALUE_FORBIDDEN_CHARS`. Values stored before this rule keep
    /// opening through `from_utf8`.
    pub fn to_store(value: String) -> Result<Self, CoreError> {
        let value = Self::supplied(value)?;
        if value.0.is_empty() {
            return Err(CoreError::ValueEmpty);
        }
        Ok(value)
    }

    /// A value of the orchestrator's own layers of one resolution: as `to_store`, but
    /// may be empty (`NAME=` is a meaningful entry of a platform's environment).
    pub fn supplied(value: String) -> Result<Self, CoreError> {
        let value = Self::new(value)?;
        if let Some(position) = value.0.chars().position(is_forbidden) {
            return Err(CoreError::ValueControlCharacter {
                position: position + 1,
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
    fn values_to_store_are_non_empty_and_hold_no_control_character_but_tab_and_newlines() {
        assert_eq!(
            SecretValue::to_store(String::new()),
            Err(CoreError::ValueEmpty)
        );
        assert!(SecretValue::supplied(String::new()).is_ok());
        let multi_line = "line one\r\n\tline two\n";
        assert!(SecretValue::to_store(multi_line.to_owned()).is_ok());
        assert!(SecretValue::to_store("x".repeat(MAX_VALUE_BYTES)).is_ok());
        assert!(matches!(
            SecretValue::to_store("x".repeat(MAX_VALUE_BYTES + 1)),
            Err(CoreError::ValueTooLarge { .. })
        ));
        // Every edge of every forbidden range, and the allowed characters beside them.
        for (low, high) in VALUE_FORBIDDEN_CHARS {
            for c in [*low, *high] {
                for check in [SecretValue::to_store, SecretValue::supplied] {
                    assert_eq!(
                        check(format!("ab{c}")),
                        Err(CoreError::ValueControlCharacter { position: 3 }),
                        "U+{:04X}",
                        u32::from(c)
                    );
                }
            }
        }
        for allowed in ['\t', '\n', '\r', ' ', '~', '\u{A0}', 'é', '€'] {
            assert!(
                SecretValue::to_store(format!("a{allowed}b")).is_ok(),
                "U+{:04X}",
                u32::from(allowed)
            );
        }
        // The position counts characters, not bytes, and the message never shows the value.
        let refused = SecretValue::to_store("€€\u{0}MARKER".to_owned()).expect_err("NUL");
        assert_eq!(refused, CoreError::ValueControlCharacter { position: 3 });
        assert!(!refused.to_string().contains("MARKER"));
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
