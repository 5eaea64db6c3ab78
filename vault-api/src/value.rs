//! A plaintext value as it arrives in a request body: zeroized on drop, redacted in
//! `Debug`, turned into vault-core's `SecretValue` (which checks its size) at once.

use serde::{Deserialize, Deserializer};
use vault_core::SecretValue;
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult};

pub struct IncomingValue(Zeroizing<String>);

impl<'de> Deserialize<'de> for IncomingValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| IncomingValue(Zeroizing::new(s)))
    }
}

impl std::fmt::Debug for IncomingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IncomingValue([redacted])")
    }
}

impl IncomingValue {
    /// Moves the buffer into a `SecretValue` to store, without copying it.
    pub fn into_stored(mut self, field: &str) -> ApiResult<SecretValue> {
        let text = std::mem::take(&mut *self.0);
        SecretValue::to_store(text).map_err(ApiError::core(field))
    }

    /// Moves the buffer into a `SecretValue` of an orchestrator-supplied layer.
    pub fn into_supplied(mut self, field: &str) -> ApiResult<SecretValue> {
        let text = std::mem::take(&mut *self.0);
        SecretValue::supplied(text).map_err(ApiError::core(field))
    }
}
