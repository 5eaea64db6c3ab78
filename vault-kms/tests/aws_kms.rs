//! The `aws-kms` provider against LocalStack's KMS over HTTP, with keys the tests
//! create through the SDK. `cargo xtask test` starts LocalStack and sets
//! `VAULT_TEST_KMS_ENDPOINT`; without it these tests say so and pass, unless
//! `VAULT_TEST_REQUIRE_LOCALSTACK=1` demands them.

use std::sync::Arc;

use vault_core::{Owner, SecretId, SecretName, SecretValue, UserId, Version};
use vault_kms::{
    AwsKmsProvider, KekBinding, KekId, KekMaterial, Keyring, KeyringConfig, KmsError,
    LayeredRootProvider, LocalRootProvider, MemoryKekRepository, RootKeyProvider, SealBinding,
    VaultInstanceId,
};
use vault_testkit::localstack;

/// A new KEK's material and what its root wrap is bound to.
struct FreshKek {
    id: KekId,
    instance: VaultInstanceId,
    material: KekMaterial,
}

impl FreshKek {
    fn new() -> Self {
        FreshKek {
            id: KekId::generate().expect("id"),
            instance: VaultInstanceId::generate().expect("id"),
            material: KekMaterial::generate().expect("random"),
        }
    }

    fn binding(&self) -> KekBinding<'_> {
        KekBinding {
            kek_id: &self.id,
            instance: &self.instance,
        }
    }
}

struct Row {
    id: SecretId,
    owner: Owner,
    name: SecretName,
}

impl Row {
    fn new(n: usize) -> Row {
        Row {
            id: SecretId::generate(),
            owner: Owner::User(UserId::parse("u1").expect("valid")),
            name: SecretName::parse(&format!("SECRET_{n}")).expect("valid"),
        }
    }

    fn binding(&self) -> SealBinding<'_> {
        SealBinding {
            secret_id: &self.id,
            version: Version::FIRST,
            owner: &self.owner,
            name: &self.name,
        }
    }
}

fn keyring(
    provider: Arc<dyn RootKeyProvider>,
    repo: Arc<MemoryKekRepository>,
    instance: &VaultInstanceId,
) -> Keyring {
    Keyring::new(instance.clone(), provider, repo, KeyringConfig::default())
}

#[tokio::test]
async fn keks_round_trip_and_a_cold_start_costs_one_decrypt_per_kek() {
    let Some(url) = localstack::endpoint() else {
        return;
    };
    let kms = localstack::client(&url);
    let key = localstack::new_key(&kms).await.0;
    let instance = VaultInstanceId::generate().expect("random");
    let repo = Arc::new(MemoryKekRepository::new());
    let writer = Arc::new(
        AwsKmsProvider::with_client(kms.clone(), &key)
            .await
            .expect("connects"),
    );
    assert!(writer.current_key_id().as_str().starts_with("arn:aws:kms:"));
    let sealing = keyring(writer.clone(), repo.clone(), &instance);
    let rows: Vec<Row> = (0..6).map(Row::new).collect();
    let mut sealed = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        if n == 3 {
            sealing.rotate_kek().await.expect("a second KEK");
        }
        let value = SecretValue::new(format!("value-{n}")).expect("valid");
        sealed.push(sealing.seal(&row.binding(), &value).await.expect("seals"));
    }
    assert_eq!(writer.calls().encrypt, 2, "one wrap per KEK");

    // A fresh process: nothing cached. Six values under two KEKs cost two Decrypts.
    let reader = Arc::new(
        AwsKmsProvider::with_client(kms.clone(), &key)
            .await
            .expect("connects"),
    );
    let cold = keyring(reader.clone(), repo.clone(), &instance);
    for round in 0..3 {
        for (n, (row, envelope)) in rows.iter().zip(&sealed).enumerate() {
            let value = cold.open(&row.binding(), envelope).await.expect("opens");
            assert_eq!(value.expose(), format!("value-{n}"), "round {round}");
        }
        assert_eq!(
            reader.calls().decrypt,
            2,
            "warm opens make no KMS call (round {round})"
        );
    }
    assert_eq!(reader.calls().encrypt, 0);
}

#[tokio::test]
async fn an_unwrap_with_another_encryption_context_is_refused() {
    let Some(url) = localstack::endpoint() else {
        return;
    };
    let kms = localstack::client(&url);
    let key = localstack::new_key(&kms).await.0;
    let provider = AwsKmsProvider::with_client(kms, &key)
        .await
        .expect("connects");
    let (kek_id, other_kek) = (
        KekId::generate().expect("id"),
        KekId::generate().expect("id"),
    );
    let (instance, other_instance) = (
        VaultInstanceId::generate().expect("id"),
        VaultInstanceId::generate().expect("id"),
    );
    let material = KekMaterial::generate().expect("random");
    let binding = KekBinding {
        kek_id: &kek_id,
        instance: &instance,
    };
    let wrapped = provider.wrap(&material, &binding).await.expect("wraps");
    assert!(provider.unwrap(&wrapped, &binding).await.expect("opens") == material);
    for wrong in [
        KekBinding {
            kek_id: &other_kek,
            instance: &instance,
        },
        KekBinding {
            kek_id: &kek_id,
            instance: &other_instance,
        },
    ] {
        let refused = provider.unwrap(&wrapped, &wrong).await;
        assert!(
            matches!(refused, Err(KmsError::KekUnwrapFailed { .. })),
            "{refused:?}"
        );
    }
    // A record naming a key other than the one that wrapped it does not open either.
    let other_key = localstack::new_key(&localstack::client(&url)).await.0;
    let other = AwsKmsProvider::with_client(localstack::client(&url), &other_key)
        .await
        .expect("connects");
    let mut relabelled = wrapped.clone();
    relabelled.key_id = other.current_key_id().clone();
    let refused = provider.unwrap(&relabelled, &binding).await;
    assert!(
        matches!(refused, Err(KmsError::KekUnwrapFailed { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_disabled_key_refuses_every_use_until_enabled_again() {
    let Some(url) = localstack::endpoint() else {
        return;
    };
    let kms = localstack::client(&url);
    let key = localstack::new_key(&kms).await.0;
    let provider = AwsKmsProvider::with_client(kms.clone(), &key)
        .await
        .expect("connects");
    let kek = FreshKek::new();
    let (binding, material) = (kek.binding(), &kek.material);
    let wrapped = provider.wrap(material, &binding).await.expect("wraps");
    provider.check().await.expect("enabled");

    kms.disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("disables");
    let disabled = |r: &Result<(), KmsError>| matches!(r, Err(KmsError::RootKeyDisabled { .. }));
    let checked = provider.check().await;
    assert!(disabled(&checked), "{checked:?}");
    let opened = provider.unwrap(&wrapped, &binding).await.map(|_| ());
    assert!(disabled(&opened), "{opened:?}");
    let sealed = provider.wrap(material, &binding).await.map(|_| ());
    assert!(disabled(&sealed), "{sealed:?}");
    let started = AwsKmsProvider::with_client(kms.clone(), &key)
        .await
        .map(|_| ());
    assert!(
        disabled(&started),
        "a disabled key fails at start: {started:?}"
    );

    kms.enable_key().key_id(&key).send().await.expect("enables");
    provider.check().await.expect("usable again");
    assert!(provider.unwrap(&wrapped, &binding).await.expect("opens") == *material);
}

#[tokio::test]
async fn kms_side_rotation_keeps_every_wrap_readable() {
    let Some(url) = localstack::endpoint() else {
        return;
    };
    let kms = localstack::client(&url);
    let key = localstack::new_key(&kms).await.0;
    let provider = AwsKmsProvider::with_client(kms.clone(), &key)
        .await
        .expect("connects");
    let kek = FreshKek::new();
    let (binding, material) = (kek.binding(), &kek.material);
    let before = provider.wrap(material, &binding).await.expect("wraps");
    kms.enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .expect("enables rotation");
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .expect("rotates");
    let after = provider
        .wrap(material, &binding)
        .await
        .expect("wraps after rotation");
    assert_eq!(
        before.key_id, after.key_id,
        "the key's ARN stays; its material rotates"
    );
    for wrapped in [&before, &after] {
        assert!(provider.unwrap(wrapped, &binding).await.expect("opens") == *material);
    }
}

#[tokio::test]
async fn aliases_resolve_to_the_arn_and_missing_keys_fail_at_start() {
    let Some(url) = localstack::endpoint() else {
        return;
    };
    let kms = localstack::client(&url);
    let key = localstack::new_key(&kms).await.0;
    let alias = format!("alias/vault-test-{}", &key[..8]);
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(&key)
        .send()
        .await
        .expect("creates the alias");
    let by_alias = AwsKmsProvider::with_client(kms.clone(), &alias)
        .await
        .expect("connects");
    let by_id = AwsKmsProvider::with_client(kms.clone(), &key)
        .await
        .expect("connects");
    assert_eq!(by_alias.current_key_id(), by_id.current_key_id());
    // Logs name the provider by its key's ARN, and show nothing of the client.
    let shown = format!("{by_alias:?}");
    assert!(shown.starts_with("AwsKmsProvider {"), "{shown}");
    assert!(shown.contains(by_id.current_key_id().as_str()), "{shown}");
    assert!(!shown.contains("test"), "credentials in {shown}");
    // Errors and metrics name the provider.
    assert_eq!(by_alias.kind(), "aws-kms");
    // It answers for every KMS key ARN (KMS decides access), and for nothing else.
    let id = |text: &str| vault_kms::RootKeyId::parse(text).expect("valid");
    assert!(by_alias.holds(&id(SOME_KEY)));
    assert!(by_alias.holds(by_id.current_key_id()));
    assert!(!by_alias.holds(&id("arn:aws:s3:::a-bucket")));
    assert!(!by_alias.holds(&id("local:00112233aabbccdd")));
    assert!(!by_alias.holds(&id("kms:key/1")));
    let missing = AwsKmsProvider::with_client(kms, "alias/no-such-key")
        .await
        .map(|_| ());
    assert!(
        matches!(missing, Err(KmsError::RootAccessDenied { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_layered_provider_opens_local_keks_and_wraps_new_ones_under_kms() {
    let Some(url) = localstack::endpoint() else {
        return;
    };
    let kms = localstack::client(&url);
    let key = localstack::new_key(&kms).await.0;
    let encoded = vault_kms::RootKey::generate_encoded().expect("random");
    let local: Arc<dyn RootKeyProvider> =
        Arc::new(LocalRootProvider::from_config(&encoded, &[]).expect("valid key"));
    let aws: Arc<dyn RootKeyProvider> = Arc::new(
        AwsKmsProvider::with_client(kms, &key)
            .await
            .expect("connects"),
    );
    let kek = FreshKek::new();
    let (binding, material) = (kek.binding(), &kek.material);
    let old = local.wrap(material, &binding).await.expect("wraps locally");
    let layered = LayeredRootProvider::new(aws.clone(), vec![local.clone()]);
    assert_eq!(layered.current_key_id(), aws.current_key_id());
    assert!(
        layered
            .unwrap(&old, &binding)
            .await
            .expect("opens the local wrap")
            == *material
    );
    let new = layered
        .wrap(material, &binding)
        .await
        .expect("wraps under KMS");
    assert_eq!(&new.key_id, aws.current_key_id());
    let without_local = LayeredRootProvider::new(aws, Vec::new());
    let refused = without_local.unwrap(&old, &binding).await;
    assert!(
        matches!(refused, Err(KmsError::RootKeyNotHeld { .. })),
        "{refused:?}"
    );
}

/// A client for a KMS at `endpoint` that tries once and gives up after `timeout`, so
/// a failure is the first one, classified as it happened.
fn impatient_client(endpoint: &str, timeout: std::time::Duration) -> aws_sdk_kms::Client {
    use aws_sdk_kms::config::retry::RetryConfig;
    use aws_sdk_kms::config::timeout::TimeoutConfig;
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("id", "secret", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout)
                    .operation_timeout(timeout)
                    .build(),
            )
            .build(),
    )
}

const SOME_KEY: &str =
    "arn:aws:kms:us-east-1:000000000000:key/0b7f6d2a-1c3e-4a5b-9d8e-7f6a5b4c3d2e";

/// Why connecting to a KMS on loopback `port` left the provider unavailable.
async fn unavailable_because(port: u16, timeout: std::time::Duration) -> String {
    let client = impatient_client(&format!("http://127.0.0.1:{port}"), timeout);
    match AwsKmsProvider::with_client(client, SOME_KEY).await {
        Err(KmsError::RootProviderUnavailable {
            provider: "aws-kms",
            detail,
        }) => detail,
        Err(other) => panic!("{other:?}"),
        Ok(provider) => panic!("connected: {provider:?}"),
    }
}

/// Nothing listens: the operator is told KMS cannot be reached, not that a request
/// failed somehow (which would send them looking at keys and policies).
#[tokio::test]
async fn an_unreachable_kms_is_reported_as_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("bound").port()
    };
    let detail = unavailable_because(port, std::time::Duration::from_secs(5)).await;
    assert_eq!(detail, "could not reach KMS");
}

/// A KMS that accepts the connection and never answers: the call ends at the
/// configured timeout and says so.
#[tokio::test]
async fn a_kms_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = listener.local_addr().expect("bound").port();
    let silent = std::thread::spawn(move || {
        // Held open, unanswered, until the client has given up.
        let (connection, _) = listener.accept().expect("the client connects");
        std::thread::sleep(std::time::Duration::from_secs(3));
        drop(connection);
    });
    let detail = unavailable_because(port, std::time::Duration::from_millis(500)).await;
    assert_eq!(detail, "timed out");
    silent.join().expect("the silent server ends");
}
