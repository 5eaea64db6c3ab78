//! A plaintext value as it arrives in a request body (vault-client's `Plaintext`:
//! zeroized on drop, redacted in `Debug`), turned into vault-core's `SecretValue`
//! (which checks its size and characters) at once, the refusal naming the field.

use vault_client::Plaintext;
use vault_core::SecretValue;

use crate::error::{ApiError, ApiResult};

pub trait IncomingValue {
    /// Moves the buffer into a `SecretValue` to store, without copying it.
    fn into_stored(self, field: &str) -> ApiResult<SecretValue>;

    /// Moves the buffer into a `SecretValue` of an orchestrator-supplied layer.
    fn into_supplied(self, field: &str) -> ApiResult<SecretValue>;
}

impl IncomingValue for Plaintext {
    fn into_stored(self, field: &str) -> ApiResult<SecretValue> {
        let mut buffer = self.into_zeroizing();
        SecretValue::to_store(std::mem::take(&mut *buffer)).map_err(ApiError::core(field))
    }

    fn into_supplied(self, field: &str) -> ApiResult<SecretValue> {
        let mut buffer = self.into_zeroizing();
        SecretValue::supplied(std::mem::take(&mut *buffer)).map_err(ApiError::core(field))
    }
}
