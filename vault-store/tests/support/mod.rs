//! The store suite's helpers: a store over vault-testkit's per-test database (SQLite,
//! or a fresh database on the PostgreSQL server `cargo xtask test` starts), a fixed
//! clock, and builders for ids, scopes, records and secrets.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use vault_core::{
    Category, Description, Owner, Placement, ProfileId, Scope, SecretId, SecretName, UserId,
};
use vault_store::{NewSecret, Sealed, SecretQuery, Store, StoreConfig};

pub use vault_testkit::TestDb;

/// A store over the test's own database.
pub trait OpenStore {
    fn open_with(&self, config: &StoreConfig) -> Store;

    fn open(&self) -> Store {
        self.open_with(&StoreConfig::default())
    }

    /// A store that keeps `versions` versions of each secret.
    fn open_keeping(&self, versions: u32) -> Store {
        self.open_with(&StoreConfig {
            versions_kept: std::num::NonZeroU32::new(versions).expect("non-zero"),
            ..StoreConfig::default()
        })
    }
}

impl OpenStore for TestDb {
    fn open_with(&self, config: &StoreConfig) -> Store {
        Store::open(&self.url, config).expect("store opens")
    }
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
