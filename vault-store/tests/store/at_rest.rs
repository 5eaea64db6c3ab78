//! No plaintext at rest: values sealed for real with vault-kms are stored, then every
//! byte the database keeps (SQLite's file, WAL and shared memory; every PostgreSQL
//! table's text) is searched for them.

use std::sync::Arc;

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use vault_core::{Scope, SecretValue, Version};
use vault_kms::{
    Envelope, Keyring, KeyringConfig, LocalRootProvider, MemoryKekRepository, RootKey, SealBinding,
    VaultInstanceId,
};
use vault_store::{NewSecret, NewValue, Sealed, SecretUpdate, Store};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(worker_threads = 4; no_value_is_ever_stored_in_plaintext);

const MARKER: &str = "PLAINTEXT-MARKER-7f3a9c";
/// Stored in clear on purpose (a secret's name is metadata): the scan must find it, or
/// it could not have found the marker either.
const VISIBLE_NAME: &str = "VISIBLE_NAME_CONTROL";

fn keyring() -> Keyring {
    Keyring::new(
        VaultInstanceId::parse("vault-at-rest").expect("valid"),
        Arc::new(LocalRootProvider::new(
            RootKey::from_bytes(&[7; 32]),
            vec![],
        )),
        Arc::new(MemoryKekRepository::new()),
        KeyringConfig::default(),
    )
}

async fn seal(keyring: &Keyring, new: &NewSecret, version: Version, text: &str) -> Sealed {
    let (owner, _) = new.placement.clone().into_parts();
    let binding = SealBinding {
        secret_id: &new.id,
        version,
        owner: &owner,
        name: &new.name,
    };
    let value = SecretValue::new(text.to_owned()).expect("valid value");
    let envelope = keyring.seal(&binding, &value).await.expect("seals");
    Sealed {
        envelope: envelope.to_bytes(),
        kek_id: envelope.kek_id().to_string(),
    }
}

async fn store_marked_values(
    store: &Store,
    keyring: &Keyring,
) -> Vec<(NewSecret, Version, String)> {
    let mut stored = Vec::new();
    for i in 0..10 {
        let secret_name = if i == 0 {
            VISIBLE_NAME.to_owned()
        } else {
            format!("SECRET_{i}")
        };
        let mut new = user_secret("u1", &secret_name, Scope::All);
        // Multi-line and long values too, like PEM keys.
        let text = format!(
            "{MARKER}-{i}\n-----BEGIN KEY-----\n{}\n",
            MARKER.repeat(i * 20 + 1)
        );
        new.value = seal(keyring, &new, Version::FIRST, &text).await;
        store
            .create_secret(new.clone(), audit())
            .await
            .expect("creates");
        stored.push((new.clone(), Version::FIRST, text));
        // A rotation writes a second sealed version of the same kind.
        let next = Version::new(2).expect("valid");
        let rotated = format!("{MARKER}-rotated-{i}");
        let update = SecretUpdate {
            expected_version: Some(Version::FIRST),
            value: Some(NewValue {
                sealed: seal(keyring, &new, next, &rotated).await,
                masked: "****".into(),
                restored_from: None,
            }),
            ..SecretUpdate::default()
        };
        store
            .update_secret(new.id.clone(), update, at(1), audit())
            .await
            .expect("rotates");
        stored.push((new, next, rotated));
    }
    stored
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    table_name: String,
}

#[derive(QueryableByName)]
struct TableText {
    #[diesel(sql_type = Nullable<Text>)]
    text: Option<String>,
}

/// Every row of every table in the test database, as PostgreSQL's text output.
fn postgres_text(url: &str) -> String {
    let mut conn = PgConnection::establish(url).expect("connects");
    let tables: Vec<TableName> = diesel::sql_query(
        "SELECT table_name::text AS table_name FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .load(&mut conn)
    .expect("lists tables");
    assert!(tables.len() >= 9, "expected the vault's tables");
    let mut all = String::new();
    for table in tables {
        let text: TableText = diesel::sql_query(format!(
            "SELECT string_agg(t::text, ' ') AS text FROM \"{}\" t",
            table.table_name
        ))
        .get_result(&mut conn)
        .expect("reads table");
        all.push_str(&text.text.unwrap_or_default());
    }
    all
}

async fn no_value_is_ever_stored_in_plaintext(db: TestDb) {
    let store = db.open();
    let keyring = keyring();
    let stored = store_marked_values(&store, &keyring).await;
    // What the store gives back opens to the original values: these are real envelopes.
    for (new, version, text) in &stored {
        let sealed = store
            .sealed_version(new.id.clone(), *version)
            .await
            .expect("reads");
        let envelope = Envelope::from_bytes(&sealed.envelope).expect("parses");
        let (owner, _) = new.placement.clone().into_parts();
        let binding = SealBinding {
            secret_id: &new.id,
            version: *version,
            owner: &owner,
            name: &new.name,
        };
        let opened = keyring.open(&binding, &envelope).await.expect("opens");
        assert_eq!(opened.expose(), text);
    }
    match db.sqlite_file() {
        Some(file) => {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let path = format!("{}{suffix}", file.display());
                if let Ok(content) = std::fs::read(&path) {
                    bytes.extend(content);
                }
            }
            assert!(
                contains(&bytes, VISIBLE_NAME.as_bytes()),
                "the scan sees stored rows"
            );
            assert!(
                !contains(&bytes, MARKER.as_bytes()),
                "plaintext found in SQLite files"
            );
            assert!(!contains(&bytes, hex(MARKER).as_bytes()));
        }
        None => {
            let text = postgres_text(&db.url);
            assert!(text.contains(VISIBLE_NAME), "the scan sees stored rows");
            assert!(
                !text.contains(MARKER),
                "plaintext found in a PostgreSQL table"
            );
            assert!(!text.contains(&hex(MARKER)), "hex-encoded plaintext found");
        }
    }
}
