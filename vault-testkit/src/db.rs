//! Test databases: a SQLite file in a temp dir, or a fresh database on the PostgreSQL
//! server that `cargo xtask test` starts (its admin URL in `VAULT_TEST_POSTGRES_URL`).
//! Every test gets its own database, so tests run in parallel; raw SQL helpers let a
//! test play someone with write access to the database.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use tempfile::TempDir;

pub const POSTGRES_URL_VAR: &str = "VAULT_TEST_POSTGRES_URL";
/// Set by `cargo xtask test`, so the PostgreSQL half can never be skipped silently there.
pub const REQUIRE_POSTGRES_VAR: &str = "VAULT_TEST_REQUIRE_POSTGRES";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One test's own database, and a temp dir beside it for whatever else the test writes.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub dir: TempDir,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("vault.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            dir,
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
            backend: Backend::Postgres,
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    /// The SQLite file, on that backend.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        (self.backend == Backend::Sqlite).then(|| self.dir.path().join("vault.db"))
    }

    /// Raw SQL against the test database, for tampering tests.
    pub fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .expect("connects")
                .batch_execute(sql)
                .expect("runs"),
            Backend::Sqlite => SqliteConnection::establish(self.sqlite_path())
                .expect("connects")
                .batch_execute(sql)
                .expect("runs"),
        }
    }

    /// The single number `sql` (a `SELECT COUNT(*) …`) answers.
    pub fn scalar(&self, sql: &str) -> i64 {
        let query = format!("SELECT CAST(({sql}) AS BIGINT) AS n");
        let rows: Vec<Count> = match self.backend {
            Backend::Postgres => diesel::sql_query(query)
                .load(&mut PgConnection::establish(&self.url).expect("connects"))
                .expect("runs"),
            Backend::Sqlite => diesel::sql_query(query)
                .load(&mut SqliteConnection::establish(self.sqlite_path()).expect("connects"))
                .expect("runs"),
        };
        rows.first().expect("one row").n
    }

    /// `bytes` as a SQL literal of this backend's binary type.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let hex = hex_of(bytes);
        match self.backend {
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
            Backend::Sqlite => format!("X'{hex}'"),
        }
    }

    /// How many rows of `table` have `column` = `value`.
    pub fn count(&self, table: &str, column: &str, value: &str) -> i64 {
        self.scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} = '{}'",
            value.replace('\'', "''")
        ))
    }

    fn sqlite_path(&self) -> &str {
        self.url.trim_start_matches("sqlite://")
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

pub fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
