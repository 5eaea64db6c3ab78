//! LocalStack's KMS, which `cargo xtask test` starts and names in
//! `VAULT_TEST_KMS_ENDPOINT`: the endpoint (a test without it says so and passes,
//! unless `VAULT_TEST_REQUIRE_LOCALSTACK=1` demands it), a client with LocalStack's
//! fixed credentials, and a fresh key per test.

use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};

pub const ENDPOINT_VAR: &str = "VAULT_TEST_KMS_ENDPOINT";
pub const REQUIRE_VAR: &str = "VAULT_TEST_REQUIRE_LOCALSTACK";

/// The KMS endpoint, or `None` (with a note) when none was given and none is required.
pub fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) => Some(url),
        Err(_) if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") => {
            panic!("{REQUIRE_VAR}=1 but {ENDPOINT_VAR} is not set")
        }
        Err(_) => {
            eprintln!("skipped: set {ENDPOINT_VAR} (cargo xtask test does)");
            None
        }
    }
}

pub fn client(endpoint: &str) -> Client {
    Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "localstack"))
            .build(),
    )
}

/// A new symmetric key, as its id and its ARN.
pub async fn new_key(client: &Client) -> (String, String) {
    let created = client
        .create_key()
        .description("vault test key")
        .send()
        .await
        .expect("creates a key");
    let metadata = created.key_metadata().expect("metadata");
    let arn = metadata.arn().expect("arn").to_owned();
    (metadata.key_id().to_owned(), arn)
}
