//! The schema itself: every foreign key cascades as designed, and the migrations go
//! up, down and up again on both backends.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::Text;
use vault_core::Scope;
use vault_store::{DatabaseUrl, migrate};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    every_foreign_key_cascades_on_delete,
    migrations_go_up_down_and_up_again,
    replicas_starting_together_migrate_once,
);

#[derive(QueryableByName, Debug)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

fn foreign_keys(db: &TestDb) -> Vec<ForeignKey> {
    match db.sqlite_file() {
        Some(file) => {
            let mut conn = SqliteConnection::establish(&file.display().to_string()).expect("opens");
            diesel::sql_query(
                "SELECT m.name AS child, f.\"table\" AS parent, f.on_delete AS on_delete
                 FROM sqlite_master m, pragma_foreign_key_list(m.name) f
                 WHERE m.type = 'table'",
            )
            .load(&mut conn)
            .expect("reads foreign keys")
        }
        None => {
            let mut conn = PgConnection::establish(&db.url).expect("connects");
            diesel::sql_query(
                "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent,
                        CASE confdeltype WHEN 'c' THEN 'CASCADE' ELSE confdeltype::text END
                            AS on_delete
                 FROM pg_constraint WHERE contype = 'f'",
            )
            .load(&mut conn)
            .expect("reads foreign keys")
        }
    }
}

async fn every_foreign_key_cascades_on_delete(db: TestDb) {
    db.open();
    let keys = foreign_keys(&db);
    let not_cascading: Vec<&ForeignKey> =
        keys.iter().filter(|k| k.on_delete != "CASCADE").collect();
    assert!(not_cascading.is_empty(), "{not_cascading:?}");
    let edges: BTreeSet<(&str, &str)> = keys
        .iter()
        .map(|k| (k.child.as_str(), k.parent.as_str()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("milestones", "projects"),
        ("project_members", "projects"),
        ("secrets", "projects"),
        ("secret_targets", "secrets"),
        ("secret_versions", "secrets"),
        // A sent reminder goes with its secret.
        ("expiry_reminders", "secrets"),
        ("webhook_deliveries", "webhook_endpoints"),
    ]
    .into_iter()
    .collect();
    assert_eq!(edges, expected);
}

async fn migrations_go_up_down_and_up_again(db: TestDb) {
    let url = DatabaseUrl::parse(&db.url).expect("valid URL");
    let pending = migrate::status(&url).expect("status");
    assert!(!pending.is_empty());
    assert!(pending.iter().all(|m| !m.applied), "{pending:?}");
    assert_eq!(migrate::revert_last(&url).expect("nothing to revert"), None);
    let applied = migrate::run_pending(&url).expect("applies");
    assert_eq!(applied.len(), pending.len());
    assert!(
        migrate::status(&url)
            .expect("status")
            .iter()
            .all(|m| m.applied)
    );
    assert!(migrate::run_pending(&url).expect("idempotent").is_empty());
    let store = db.open();
    store
        .create_secret(user_secret("u1", "BEFORE", Scope::All), audit())
        .await
        .expect("creates");
    drop(store);
    // Down all the way, newest first, then up again.
    let mut reverted = Vec::new();
    while let Some(migration) = migrate::revert_last(&url).expect("reverts") {
        let status = migrate::status(&url).expect("status");
        let entry = status
            .iter()
            .find(|m| m.name == migration)
            .expect("a reverted migration is still known");
        assert!(!entry.applied, "{migration} still applied after its revert");
        reverted.push(migration);
    }
    let mut newest_first = applied.clone();
    newest_first.reverse();
    assert_eq!(reverted, newest_first);
    let applied_again = migrate::run_pending(&url).expect("applies again");
    assert_eq!(applied_again, applied);
    // The schema is whole again, and empty: down really dropped the tables.
    let store = db.open();
    let page = store
        .list_secrets(list_query("u1", 10))
        .await
        .expect("lists");
    assert!(page.items.is_empty());
    store
        .create_secret(user_secret("u1", "AFTER", Scope::All), audit())
        .await
        .expect("creates");
}

/// libpq is built in with OpenSSL, so `sslmode=require` means TLS rather than "not
/// compiled in". The test server has no certificate, so libpq must say exactly that.
#[test]
fn the_built_in_libpq_speaks_tls() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let url = format!("{}?sslmode=require", db.url);
    let refused = vault_store::Store::open(&url, &vault_store::StoreConfig::default())
        .expect_err("the test server offers no TLS");
    let message = refused.to_string();
    assert!(message.contains("server does not support SSL"), "{message}");
}

async fn replicas_starting_together_migrate_once(db: TestDb) {
    let url = db.url.clone();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                vault_store::Store::open(&url, &vault_store::StoreConfig::default()).map(|_| ())
            })
        })
        .collect();
    for start in starts {
        start
            .join()
            .expect("thread finished")
            .expect("every replica starts");
    }
    let url = DatabaseUrl::parse(&db.url).expect("valid URL");
    assert!(
        migrate::status(&url)
            .expect("status")
            .iter()
            .all(|m| m.applied)
    );
}
