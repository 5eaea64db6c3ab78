//! Plaintext on the wire. A request's value and a resolution's env are the only
//! plaintext the API carries; on both ends they live in zeroizing buffers whose
//! `Debug` is redacted, and they are written out only by serialization, on purpose.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vault_core::{EnvName, SecretValue};
use zeroize::Zeroizing;

/// A value or token as it crosses the wire: zeroized on drop, redacted in `Debug`,
/// no `Display`. Serializing it writes the plaintext: that is its one purpose.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Plaintext(Zeroizing<String>);

impl Plaintext {
    pub fn new(text: impl Into<String>) -> Self {
        Plaintext(Zeroizing::new(text.into()))
    }

    /// The plaintext. Call it only where the value leaves on purpose: into a child
    /// process's environment, or onto a terminal the user asked to see it on.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The buffer itself, still zeroizing, for a caller that moves it on.
    pub fn into_zeroizing(self) -> Zeroizing<String> {
        self.0
    }
}

impl From<String> for Plaintext {
    fn from(text: String) -> Self {
        Plaintext(Zeroizing::new(text))
    }
}

impl From<Zeroizing<String>> for Plaintext {
    fn from(text: Zeroizing<String>) -> Self {
        Plaintext(text)
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Plaintext([redacted])")
    }
}

impl Serialize for Plaintext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Plaintext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Plaintext::from)
    }
}

/// `serde(with)` for a resolved env: vault-core's `SecretValue`s, written out as
/// strings (the server) and read back into `SecretValue`s (a client), so neither end
/// copies a value into a type that does not zeroize.
pub mod env {
    use super::*;

    pub fn serialize<S: Serializer>(
        env: &BTreeMap<EnvName, SecretValue>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(env.iter().map(|(name, value)| (name, value.expose())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<EnvName, SecretValue>, D::Error> {
        BTreeMap::<EnvName, Plaintext>::deserialize(deserializer)?
            .into_iter()
            .map(|(name, value)| Ok((name, secret_value::<D>(value)?)))
            .collect()
    }
}

/// `serde(with)` for an optional `SecretValue` (a runtime lookup's answer).
pub mod optional_value {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<SecretValue>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_some(value.expose()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SecretValue>, D::Error> {
        Option::<Plaintext>::deserialize(deserializer)?
            .map(secret_value::<D>)
            .transpose()
    }
}

fn secret_value<'de, D: Deserializer<'de>>(value: Plaintext) -> Result<SecretValue, D::Error> {
    let mut buffer = value.into_zeroizing();
    SecretValue::new(std::mem::take(&mut *buffer)).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_plaintext() {
        let value = Plaintext::new("s3cr3t-marker");
        assert_eq!(format!("{value:?}"), "Plaintext([redacted])");
        assert_eq!(value.expose(), "s3cr3t-marker");
    }

    #[test]
    fn round_trips_as_a_json_string() {
        let value = Plaintext::new("a\"b");
        let text = serde_json::to_string(&value).expect("serializes");
        assert_eq!(text, r#""a\"b""#);
        let back: Plaintext = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, value);
    }

    #[test]
    fn a_resolved_env_reads_back_into_secret_values() {
        #[derive(Serialize, Deserialize)]
        struct Env(#[serde(with = "env")] BTreeMap<EnvName, SecretValue>);
        let mut map = BTreeMap::new();
        map.insert(
            EnvName::parse("API_KEY").expect("name"),
            SecretValue::new("v-1".into()).expect("value"),
        );
        let text = serde_json::to_string(&Env(map)).expect("serializes");
        assert_eq!(text, r#"{"API_KEY":"v-1"}"#);
        let Env(back) = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.values().next().map(SecretValue::expose), Some("v-1"));
        assert!(serde_json::from_str::<Env>(r#"{"not a name":"v"}"#).is_err());
    }
}
