//! Test databases: a SQLite file in a temp dir, or a fresh database on the PostgreSQL
//! server that `cargo xtask test` starts (its admin URL in `VAULT_TEST_POSTGRES_URL`).
//! Every test gets its own database, so tests run in parallel.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tempfile::TempDir;
use vault_core::{
    Category, Description, Owner, Placement, ProfileId, Scope, SecretId, SecretName, UserId,
};
use vault_store::{NewSecret, Sealed, SecretQuery, Store, StoreConfig};

pub const POSTGRES_URL_VAR: &str = "VAULT_TEST_POSTGRES_URL";
/// Set by `cargo xtask test`, so the PostgreSQL half can never be skipped silently there.
pub const REQUIRE_POSTGRES_VAR: &str = "VAULT_TEST_REQUIRE_POSTGRES";

pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    _dir: Option<TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("vault.db").display());
        TestDb {
            url,
            backend: "sqlite",
            _dir: Some(dir),
        }
    }

    /// A new, empty database on the test server; `None` (with a note) when no server was
    /// given and none is required.
    pub fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            if std::env::var_os(REQUIRE_POSTGRES_VAR).is_some() {
                panic!("{REQUIRE_POSTGRES_VAR} is set but {POSTGRES_URL_VAR} is not");
            }
            eprintln!("skipped: {POSTGRES_URL_VAR} is not set (cargo xtask test sets it)");
            return None;
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "vault_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::establish(&admin_url).expect("connects to the test server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("creates a test database");
        let (base, _) = admin_url.rsplit_once('/').expect("URL names a database");
        Some(TestDb {
            url: format!("{base}/{name}"),
            backend: "postgres",
            _dir: None,
        })
    }

    pub fn open(&self) -> Store {
        self.open_with(&StoreConfig::default())
    }

    /// A store that keeps `versions` versions of each secret.
    pub fn open_keeping(&self, versions: u32) -> Store {
        self.open_with(&StoreConfig {
            versions_kept: std::num::NonZeroU32::new(versions).expect("non-zero"),
            ..StoreConfig::default()
        })
    }

    pub fn open_with(&self, config: &StoreConfig) -> Store {
        Store::open(&self.url, config).expect("store opens")
    }

    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|dir| dir.path().join("vault.db"))
    }
}

/// Runs each named `async fn(TestDb)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test($crate::support::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    if let Some(db) = $crate::support::TestDb::postgres() {
                        super::$test(db).await;
                    }
                }
            )*
        }
    };
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .expect("valid time")
}

/// A record for a change to commit with; record ids are unique, as the API's are.
pub fn audit() -> vault_core::AuditEntry {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    vault_core::AuditEntry {
        id: format!("aud_test_{n}"),
        at: at(0),
        principal: "operator:tok_test".into(),
        action: "test.change".into(),
        target: None,
        outcome: "ok".into(),
        request_id: "req_test".into(),
    }
}

pub fn user(id: &str) -> UserId {
    UserId::parse(id).expect("valid user id")
}

pub fn profile(id: &str) -> ProfileId {
    ProfileId::parse(id).expect("valid profile id")
}

pub fn name(text: &str) -> SecretName {
    SecretName::parse(text).expect("valid name")
}

pub fn agents(ids: &[&str]) -> Scope {
    Scope::agents(ids.iter().map(|id| profile(id))).expect("valid scope")
}

/// Stand-in envelope bytes for tests about rows rather than cryptography.
pub fn sealed(label: &str) -> Sealed {
    Sealed {
        envelope: format!("envelope:{label}").into_bytes(),
        kek_id: "kek_test".into(),
    }
}

pub fn new_secret(owner: Owner, secret_name: &str, scope: Scope, label: &str) -> NewSecret {
    NewSecret {
        id: SecretId::generate(),
        name: name(secret_name),
        placement: Placement::new(owner, scope).expect("valid placement"),
        category: Category::default(),
        description: Some(Description::parse("for tests").expect("valid")),
        expires_at: None,
        value: sealed(label),
        masked: "****".into(),
        now: at(0),
    }
}

pub fn user_secret(owner: &str, secret_name: &str, scope: Scope) -> NewSecret {
    new_secret(Owner::User(user(owner)), secret_name, scope, secret_name)
}

/// The first `limit` secrets of a user, unfiltered.
pub fn list_query(owner: &str, limit: u32) -> SecretQuery {
    SecretQuery {
        owner: Owner::User(user(owner)).into(),
        name_prefix: None,
        category: None,
        expired: None,
        now: at(100),
        limit,
        after: None,
    }
}
