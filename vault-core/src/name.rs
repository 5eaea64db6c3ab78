//! Names: `SecretName` for what the vault stores, `EnvName` for every key of the
//! resolved environment (orchestrator-supplied layers may use lowercase names).

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::newtype::string_newtype;

pub const MAX_NAME_LEN: usize = 256;

/// Checks the shared shape of both name kinds and says which rule broke, with the
/// position of the first bad character (never the character itself).
fn check_name(input: &str, lowercase_allowed: bool) -> Result<(), String> {
    let charset = if lowercase_allowed {
        "A-Z, a-z, 0-9 and _"
    } else {
        "A-Z, 0-9 and _"
    };
    if input.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if input.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters"));
    }
    let allowed = |b: u8| {
        b.is_ascii_uppercase() || b == b'_' || (lowercase_allowed && b.is_ascii_lowercase())
    };
    for (position, byte) in input.bytes().enumerate() {
        if position == 0 && byte.is_ascii_digit() {
            return Err("must not start with a digit".to_owned());
        }
        if !(allowed(byte) || byte.is_ascii_digit()) {
            return Err(format!(
                "may contain only {charset} (invalid character at position {})",
                position + 1
            ));
        }
    }
    Ok(())
}

/// A stored secret's name: `^[A-Z_][A-Z0-9_]*$`, 1 to 256 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        check_name(input, false).map_err(|rule| CoreError::InvalidName { rule })?;
        Ok(SecretName(input.to_owned()))
    }
}

/// A key of the resolved environment: `^[A-Za-z_][A-Za-z0-9_]*$`, 1 to 256 characters.
/// Every `SecretName` is an `EnvName`; the orchestrator's own layers may also use
/// lowercase names such as `http_proxy`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

impl EnvName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        check_name(input, true).map_err(|rule| CoreError::InvalidEnvName { rule })?;
        Ok(EnvName(input.to_owned()))
    }
}

impl From<SecretName> for EnvName {
    fn from(name: SecretName) -> Self {
        EnvName(name.0)
    }
}

impl From<&SecretName> for EnvName {
    fn from(name: &SecretName) -> Self {
        EnvName(name.0.clone())
    }
}

impl Borrow<str> for EnvName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

string_newtype!(SecretName);
string_newtype!(EnvName);

#[cfg(test)]
mod tests {
    use super::*;

    /// An env map keyed by `EnvName` is looked up by plain `&str` (the resolver and
    /// the runtime lookup do), which only finds entries when `Borrow` agrees with `Ord`.
    #[test]
    fn env_maps_are_looked_up_by_str() {
        let mut env = std::collections::BTreeMap::new();
        env.insert(EnvName::parse("API_KEY").expect("valid"), 1);
        env.insert(EnvName::parse("DB_URL").expect("valid"), 2);
        assert_eq!(env.get("API_KEY"), Some(&1));
        assert_eq!(env.get("DB_URL"), Some(&2));
        assert_eq!(env.get(""), None);
        assert_eq!(env.get("xyzzy"), None);
        let set: std::collections::HashSet<EnvName> =
            [EnvName::parse("HOME_DIR").expect("valid")].into();
        assert!(set.contains("HOME_DIR"));
    }

    #[test]
    fn secret_names_follow_the_documented_pattern() {
        let longest = "A".repeat(MAX_NAME_LEN);
        for good in [
            "A",
            "_",
            "STRIPE_WEBHOOK_SECRET",
            "_X1",
            "A1_2",
            longest.as_str(),
        ] {
            assert!(
                SecretName::parse(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
        let too_long = "A".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "1ABC",
            "stripe",
            "A-B",
            "A B",
            "AÉ",
            "A\n",
            "A=B",
            too_long.as_str(),
        ] {
            assert!(
                matches!(SecretName::parse(bad), Err(CoreError::InvalidName { .. })),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn name_errors_say_where_without_echoing() {
        let err = SecretName::parse("ABCmarkerVALUE").expect_err("lowercase is invalid");
        assert_eq!(
            err,
            CoreError::InvalidName {
                rule: "may contain only A-Z, 0-9 and _ (invalid character at position 4)".into()
            }
        );
        assert!(!err.to_string().contains("marker"));
        assert_eq!(
            SecretName::parse("9A"),
            Err(CoreError::InvalidName {
                rule: "must not start with a digit".into()
            })
        );
    }

    #[test]
    fn env_names_also_allow_lowercase() {
        assert!(EnvName::parse("http_proxy").is_ok());
        assert!(EnvName::parse("Path").is_ok());
        assert!(EnvName::parse("9x").is_err());
        assert!(EnvName::parse("a-b").is_err());
        let from_secret: EnvName = SecretName::parse("TOKEN").expect("valid").into();
        assert_eq!(from_secret.as_str(), "TOKEN");
    }

    #[test]
    fn names_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<SecretName>("\"GITHUB_TOKEN\"").is_ok());
        assert!(serde_json::from_str::<SecretName>("\"github_token\"").is_err());
    }
}
