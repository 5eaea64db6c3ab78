//! The root of the key hierarchy: a provider that wraps and unwraps KEKs and
//! nothing else, so a cold start costs one call per KEK and a warm one none.

use async_trait::async_trait;

use crate::binding::KekBinding;
use crate::error::KmsError;
use crate::ids::RootKeyId;
use crate::material::KekMaterial;
use crate::wrapped_kek::RootWrapped;

#[async_trait]
pub trait RootKeyProvider: Send + Sync + 'static {
    /// Short name for errors and metrics: `local`, `aws-kms`.
    fn kind(&self) -> &'static str;

    /// The root key new KEKs are wrapped under.
    fn current_key_id(&self) -> &RootKeyId;

    /// Whether KEKs wrapped under `key_id` can be unwrapped here.
    fn holds(&self, key_id: &RootKeyId) -> bool;

    async fn wrap(
        &self,
        kek: &KekMaterial,
        binding: &KekBinding<'_>,
    ) -> Result<RootWrapped, KmsError>;

    /// Fails with [`KmsError::RootKeyNotHeld`] ("not my key") when `wrapped` names a
    /// root key this provider does not hold, and with another error when it does
    /// but unwrapping fails.
    async fn unwrap(
        &self,
        wrapped: &RootWrapped,
        binding: &KekBinding<'_>,
    ) -> Result<KekMaterial, KmsError>;
}
