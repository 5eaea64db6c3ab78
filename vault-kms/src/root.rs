//! The root of the key hierarchy: a provider that wraps and unwraps KEKs and
//! nothing else, so a cold start costs one call per KEK and a warm one none.

use std::sync::Arc;

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

    /// Every root key configured here, the current one first.
    fn configured_key_ids(&self) -> Vec<RootKeyId> {
        vec![self.current_key_id().clone()]
    }

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

    /// Whether the current root key can be used now (for readiness). Providers whose
    /// key lives in memory are always ready.
    async fn check(&self) -> Result<(), KmsError> {
        Ok(())
    }
}

/// The current provider, plus providers that only still open what they wrapped: a
/// move from `local` to `aws-kms` keeps the old `ENCRYPTION_KEY` here until `keys
/// rewrap` has moved every KEK.
pub struct LayeredRootProvider {
    current: Arc<dyn RootKeyProvider>,
    previous: Vec<Arc<dyn RootKeyProvider>>,
}

impl LayeredRootProvider {
    pub fn new(current: Arc<dyn RootKeyProvider>, previous: Vec<Arc<dyn RootKeyProvider>>) -> Self {
        LayeredRootProvider { current, previous }
    }

    fn holder(&self, key_id: &RootKeyId) -> Option<&Arc<dyn RootKeyProvider>> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|provider| provider.holds(key_id))
    }
}

#[async_trait]
impl RootKeyProvider for LayeredRootProvider {
    fn kind(&self) -> &'static str {
        self.current.kind()
    }

    fn current_key_id(&self) -> &RootKeyId {
        self.current.current_key_id()
    }

    fn holds(&self, key_id: &RootKeyId) -> bool {
        self.holder(key_id).is_some()
    }

    fn configured_key_ids(&self) -> Vec<RootKeyId> {
        let mut ids = self.current.configured_key_ids();
        for provider in &self.previous {
            for id in provider.configured_key_ids() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    async fn wrap(
        &self,
        kek: &KekMaterial,
        binding: &KekBinding<'_>,
    ) -> Result<RootWrapped, KmsError> {
        self.current.wrap(kek, binding).await
    }

    async fn unwrap(
        &self,
        wrapped: &RootWrapped,
        binding: &KekBinding<'_>,
    ) -> Result<KekMaterial, KmsError> {
        match self.holder(&wrapped.key_id) {
            Some(provider) => provider.unwrap(wrapped, binding).await,
            None => Err(KmsError::RootKeyNotHeld {
                key_id: wrapped.key_id.clone(),
            }),
        }
    }

    async fn check(&self) -> Result<(), KmsError> {
        self.current.check().await
    }
}
