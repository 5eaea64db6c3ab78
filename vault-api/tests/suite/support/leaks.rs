//! Every key a vault's database holds wrapped, unwrapped here through the root
//! provider (and each DEK through its KEK, by the envelope layout `vault-kms`
//! documents), and the spellings under which one could end up in a log line.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use diesel::sql_types::{Binary, Integer, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use vault_kms::{KekBinding, RootKeyProvider, VaultInstanceId, WrappedKek};

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct KekRow {
    #[diesel(sql_type = Binary)]
    wrapped: Vec<u8>,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    secret_id: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Binary)]
    envelope: Vec<u8>,
    #[diesel(sql_type = Text)]
    owner_kind: String,
    #[diesel(sql_type = Text)]
    owner_id: String,
    #[diesel(sql_type = Text)]
    name: String,
}

fn field(aad: &mut Vec<u8>, bytes: &[u8]) {
    aad.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    aad.extend_from_slice(bytes);
}

/// The 32-byte keys of the SQLite vault at `path`: its KEKs, its integrity master, and
/// every DEK of every stored version.
pub async fn key_material(path: &str, root: &dyn RootKeyProvider) -> Vec<[u8; 32]> {
    let mut conn = SqliteConnection::establish(path).expect("opens");
    let setting = |conn: &mut SqliteConnection, name: &str| -> Option<String> {
        diesel::sql_query(format!(
            "SELECT value FROM vault_settings WHERE name = '{name}'"
        ))
        .load::<Setting>(conn)
        .expect("reads")
        .pop()
        .map(|s| s.value)
    };
    let instance = VaultInstanceId::parse(&setting(&mut conn, "instance_id").expect("an instance"))
        .expect("valid");
    let mut wrapped: Vec<WrappedKek> = diesel::sql_query("SELECT wrapped FROM keks")
        .load::<KekRow>(&mut conn)
        .expect("reads")
        .into_iter()
        .map(|row| WrappedKek::from_bytes(&row.wrapped).expect("a KEK record"))
        .collect();
    let master = setting(&mut conn, "integrity_master").expect("an integrity master");
    let master = base64::engine::general_purpose::STANDARD
        .decode(master)
        .expect("base64");
    wrapped.push(WrappedKek::from_bytes(&master).expect("a wrap"));
    let mut keys = Vec::new();
    let mut keks = std::collections::HashMap::new();
    for record in &wrapped {
        let binding = KekBinding {
            kek_id: record.id(),
            instance: &instance,
        };
        let material = root
            .unwrap(record.root_wrapped(), &binding)
            .await
            .expect("the root key opens it");
        keys.push(*material.expose());
        keks.insert(*record.id().as_bytes(), *material.expose());
    }
    let versions: Vec<VersionRow> = diesel::sql_query(
        "SELECT v.secret_id, v.version, v.envelope, s.owner_kind, s.owner_id, s.name
         FROM secret_versions v JOIN secrets s ON s.id = v.secret_id",
    )
    .load(&mut conn)
    .expect("reads");
    assert!(!versions.is_empty(), "the run stored no value");
    for row in versions {
        // Format 1: version, KEK id (16), DEK nonce (12), wrapped DEK (32 + 16 tag), …
        let envelope = &row.envelope;
        assert_eq!(envelope[0], 1, "envelope format");
        let kek_id: [u8; 16] = envelope[1..17].try_into().expect("16 bytes");
        let kek = keks.get(&kek_id).expect("its KEK is stored");
        let mut aad = Vec::new();
        field(&mut aad, b"vault-kms/v1/dek");
        field(&mut aad, row.secret_id.as_bytes());
        field(&mut aad, &(row.version as u32).to_be_bytes());
        field(&mut aad, row.owner_kind.as_bytes());
        field(&mut aad, row.owner_id.as_bytes());
        field(&mut aad, row.name.as_bytes());
        field(&mut aad, &kek_id);
        let cipher = Aes256Gcm::new_from_slice(kek).expect("a 32-byte key");
        let nonce: [u8; 12] = envelope[17..29].try_into().expect("12 bytes");
        let dek = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &envelope[29..77],
                    aad: &aad,
                },
            )
            .expect("the DEK unwraps");
        keys.push(dek.as_slice().try_into().expect("32 bytes"));
    }
    keys
}

/// The ways a key could be spelled in a log line.
pub fn spellings(key: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        hex.clone(),
        hex.to_uppercase(),
        STANDARD.encode(key),
        STANDARD_NO_PAD.encode(key),
        URL_SAFE.encode(key),
        URL_SAFE_NO_PAD.encode(key),
        format!("{key:?}"),
    ]
}

/// `logs` with every printed byte list (`Bytes([123, 34, …])`, as the AWS SDK prints
/// a body) decoded as text beside it, so a body printed as numbers is searched too.
fn with_byte_lists_decoded(logs: &str) -> String {
    let mut out = logs.to_owned();
    for chunk in logs.split('[').skip(1) {
        let Some(list) = chunk.split(']').next() else {
            continue;
        };
        let bytes: Option<Vec<u8>> = list
            .split(',')
            .map(|n| n.trim().parse::<u8>().ok())
            .collect();
        if let Some(bytes) = bytes.filter(|b| b.len() > 8) {
            out.push('\n');
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

/// Fails naming the first secret found in `logs`.
pub fn assert_none_in(logs: &str, keys: &[[u8; 32]], texts: &[&str]) {
    assert!(!keys.is_empty());
    let logs = &with_byte_lists_decoded(logs);
    for (n, key) in keys.iter().enumerate() {
        for spelling in spellings(key) {
            assert!(
                !logs.contains(&spelling),
                "key {n} is in the log as {spelling}"
            );
        }
    }
    for text in texts {
        assert!(!text.is_empty());
        assert!(!logs.contains(text), "the log carries {text}");
    }
}
