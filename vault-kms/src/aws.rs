//! The `aws-kms` root provider: KEKs wrapped by an AWS KMS key (aws-sdk-kms). Region,
//! credentials and endpoint come from the standard AWS configuration chain
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, profiles, instance roles). Each wrap carries an
//! encryption context naming the vault instance and the KEK, and each unwrap passes the
//! same context and checks which key KMS answered with. KMS is called only to wrap and
//! unwrap KEKs, so a warm resolution never reaches it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeyState;
use zeroize::Zeroize;

use crate::binding::KekBinding;
use crate::error::KmsError;
use crate::ids::RootKeyId;
use crate::material::{KEY_LEN, KekMaterial};
use crate::root::RootKeyProvider;
use crate::wrapped_kek::RootWrapped;

const PROVIDER: &str = "aws-kms";
/// Encryption context keys: what every wrap is bound to.
const CONTEXT_INSTANCE: &str = "vault_instance";
const CONTEXT_KEK: &str = "vault_kek";

/// Timeouts and retries for every KMS call: a stalled KMS costs a request a few
/// seconds, never a hung worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwsKmsSettings {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
}

impl Default for AwsKmsSettings {
    fn default() -> Self {
        AwsKmsSettings {
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(10),
            max_attempts: 3,
        }
    }
}

/// Calls made to KMS since start-up, for `/metrics` and for tests that count them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AwsKmsCalls {
    pub encrypt: u64,
    pub decrypt: u64,
    pub describe: u64,
}

#[derive(Default)]
struct Counters {
    encrypt: AtomicU64,
    decrypt: AtomicU64,
    describe: AtomicU64,
}

pub struct AwsKmsProvider {
    client: Client,
    /// The configured key's ARN: what new wraps use and what records name.
    key: RootKeyId,
    counters: Counters,
}

impl std::fmt::Debug for AwsKmsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKmsProvider")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl AwsKmsProvider {
    /// Loads the AWS configuration chain and resolves `key` (a key id, ARN or alias) to
    /// its ARN, which fails fast when the key is missing, disabled or not reachable.
    pub async fn connect(key: &str, settings: AwsKmsSettings) -> Result<Self, KmsError> {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.connect_timeout)
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .operation_timeout(settings.operation_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
            .load()
            .await;
        Self::with_client(Client::new(&config), key).await
    }

    /// Over an existing client (tests point one at LocalStack).
    pub async fn with_client(client: Client, key: &str) -> Result<Self, KmsError> {
        let counters = Counters::default();
        let named = RootKeyId::parse(key)?;
        let arn = describe(&client, &counters, &named).await?;
        Ok(AwsKmsProvider {
            client,
            key: arn,
            counters,
        })
    }

    pub fn calls(&self) -> AwsKmsCalls {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AwsKmsCalls {
            encrypt: read(&self.counters.encrypt),
            decrypt: read(&self.counters.decrypt),
            describe: read(&self.counters.describe),
        }
    }
}

/// The ARN of `key` when it is enabled.
async fn describe(
    client: &Client,
    counters: &Counters,
    key: &RootKeyId,
) -> Result<RootKeyId, KmsError> {
    counters.describe.fetch_add(1, Ordering::Relaxed);
    let output = client
        .describe_key()
        .key_id(key.as_str())
        .send()
        .await
        .map_err(|e| classify(e, key))?;
    let metadata = output
        .key_metadata()
        .ok_or_else(|| unavailable("DescribeKey returned no key metadata"))?;
    let arn = metadata
        .arn()
        .ok_or_else(|| unavailable("DescribeKey returned no key ARN"))?;
    let arn = RootKeyId::parse(arn)?;
    match metadata.key_state() {
        Some(KeyState::Enabled) => Ok(arn),
        state => Err(KmsError::RootKeyDisabled {
            key_id: arn,
            state: state.map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
        }),
    }
}

fn unavailable(detail: impl Into<String>) -> KmsError {
    KmsError::RootProviderUnavailable {
        provider: PROVIDER,
        detail: detail.into(),
    }
}

/// One KMS failure as the vault's error: what the operator must fix is named apart
/// from what a retry may cure.
fn classify<E, R>(error: SdkError<E, R>, key: &RootKeyId) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error.code().map(str::to_owned);
    let message = error.message().map(str::to_owned);
    match code.as_deref() {
        Some("DisabledException" | "KMSInvalidStateException" | "KeyUnavailableException") => {
            KmsError::RootKeyDisabled {
                key_id: key.clone(),
                state: message.unwrap_or_else(|| "disabled".into()),
            }
        }
        Some(
            "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException",
        ) => KmsError::RootAccessDenied {
            key_id: key.clone(),
            detail: message.unwrap_or_default(),
        },
        Some("NotFoundException") => KmsError::RootAccessDenied {
            key_id: key.clone(),
            detail: "the key does not exist or is not visible to these credentials".into(),
        },
        Some("InvalidCiphertextException" | "IncorrectKeyException") => KmsError::KekUnwrapFailed {
            key_id: key.clone(),
        },
        Some(other) => unavailable(format!("{other}: {}", message.unwrap_or_default())),
        None => unavailable(match &error {
            SdkError::TimeoutError(_) => "timed out".to_owned(),
            SdkError::DispatchFailure(_) => "could not reach KMS".to_owned(),
            _ => "the request failed without an error code".to_owned(),
        }),
    }
}

fn context(binding: &KekBinding<'_>) -> [(&'static str, String); 2] {
    [
        (CONTEXT_INSTANCE, binding.instance.as_str().to_owned()),
        (CONTEXT_KEK, binding.kek_id.to_string()),
    ]
}

#[async_trait]
impl RootKeyProvider for AwsKmsProvider {
    fn kind(&self) -> &'static str {
        PROVIDER
    }

    fn current_key_id(&self) -> &RootKeyId {
        &self.key
    }

    /// Every KMS key ARN: KMS itself decides whether these credentials may use it.
    fn holds(&self, key_id: &RootKeyId) -> bool {
        key_id.as_str().starts_with("arn:") && key_id.as_str().contains(":kms:")
    }

    async fn wrap(
        &self,
        kek: &KekMaterial,
        binding: &KekBinding<'_>,
    ) -> Result<RootWrapped, KmsError> {
        self.counters.encrypt.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .client
            .encrypt()
            .key_id(self.key.as_str())
            .plaintext(Blob::new(kek.expose().to_vec()));
        for (name, value) in context(binding) {
            request = request.encryption_context(name, value);
        }
        let output = request.send().await.map_err(|e| classify(e, &self.key))?;
        let answered = output
            .key_id()
            .ok_or_else(|| unavailable("Encrypt named no key"))?;
        if answered != self.key.as_str() {
            return Err(unavailable(format!(
                "Encrypt answered with key {answered}, not the configured {}",
                self.key
            )));
        }
        let ciphertext = output
            .ciphertext_blob()
            .ok_or_else(|| unavailable("Encrypt returned no ciphertext"))?
            .as_ref()
            .to_vec();
        Ok(RootWrapped {
            key_id: self.key.clone(),
            ciphertext,
        })
    }

    async fn unwrap(
        &self,
        wrapped: &RootWrapped,
        binding: &KekBinding<'_>,
    ) -> Result<KekMaterial, KmsError> {
        if !self.holds(&wrapped.key_id) {
            return Err(KmsError::RootKeyNotHeld {
                key_id: wrapped.key_id.clone(),
            });
        }
        self.counters.decrypt.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .client
            .decrypt()
            .key_id(wrapped.key_id.as_str())
            .ciphertext_blob(Blob::new(wrapped.ciphertext.clone()));
        for (name, value) in context(binding) {
            request = request.encryption_context(name, value);
        }
        let output = request
            .send()
            .await
            .map_err(|e| classify(e, &wrapped.key_id))?;
        // KMS names the key that decrypted; a record must open under the key it names.
        if output.key_id() != Some(wrapped.key_id.as_str()) {
            return Err(KmsError::KekUnwrapFailed {
                key_id: wrapped.key_id.clone(),
            });
        }
        let mut plaintext = output
            .plaintext
            .ok_or_else(|| unavailable("Decrypt returned no plaintext"))?
            .into_inner();
        let material = <[u8; KEY_LEN]>::try_from(plaintext.as_slice()).map(KekMaterial::from_bytes);
        plaintext.zeroize();
        material.map_err(|_| KmsError::KekUnwrapFailed {
            key_id: wrapped.key_id.clone(),
        })
    }

    async fn check(&self) -> Result<(), KmsError> {
        describe(&self.client, &self.counters, &self.key)
            .await
            .map(|_| ())
    }
}
