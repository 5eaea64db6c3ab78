//! Connections: one `DbConnection` type over SQLite and PostgreSQL, a pool of them, and
//! the transaction helpers every write goes through.

use std::fmt;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError, QueryResult};

use crate::error::{StoreError, StoreResult};

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs one query expression on the concrete connection inside a `DbConnection`, for
/// the statements every request runs. Through the `MultiConnection` wrapper diesel
/// renders a query to SQL text on each execution, more than once; on the concrete
/// connection a statement with a static shape is found in the cache by its type alone.
/// The expression is compiled once per backend.
macro_rules! on_backend {
    ($conn:expr, |$concrete:ident| $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($concrete) => $query,
            $crate::db::DbConnection::Sqlite($concrete) => $query,
        }
    };
}
pub(crate) use on_backend;

/// Which database a URL names, decided once from its scheme: `postgres://` or
/// `postgresql://` is PostgreSQL; `sqlite://path`, `sqlite:path` or a bare path is a
/// SQLite file.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> StoreResult<Self> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::invalid("database_url", "is empty"));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        // Every pooled connection to `:memory:` would be a different, empty database.
        if path.is_empty() || path == ":memory:" || path.contains("mode=memory") {
            return Err(StoreError::invalid(
                "database_url",
                "needs a SQLite file path (an in-memory database cannot be shared by a pool)",
            ));
        }
        if url.contains("://") && !url.starts_with("sqlite://") {
            return Err(StoreError::invalid(
                "database_url",
                "scheme must be postgres://, postgresql:// or sqlite://",
            ));
        }
        Ok(DatabaseUrl::Sqlite(path.to_owned()))
    }

    pub fn backend(&self) -> BackendKind {
        match self {
            DatabaseUrl::Postgres(_) => BackendKind::Postgres,
            DatabaseUrl::Sqlite(_) => BackendKind::Sqlite,
        }
    }

    /// What a PostgreSQL URL leaves open to the network: a host other than loopback (or
    /// a local socket) reached without `sslmode=require` or stricter sends the password
    /// and every envelope in clear text, or lets a machine in the middle pose as the
    /// database. `None` when the URL is SQLite or safe; otherwise a sentence to warn with.
    pub fn transport_warning(&self) -> Option<String> {
        let DatabaseUrl::Postgres(url) = self else {
            return None;
        };
        let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let (authority, query) = match rest.split_once('?') {
            Some((before, query)) => (before, query),
            None => (rest, ""),
        };
        let authority = authority.split('/').next().unwrap_or("");
        let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let mut sslmode = None;
        let mut query_hosts = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "sslmode" => sslmode = Some(value.into_owned()),
                "host" | "hostaddr" => query_hosts.push(value.into_owned()),
                _ => {}
            }
        }
        let mut remote: Vec<String> = hosts
            .split(',')
            .map(|h| {
                let h = h.trim();
                if let Some(bracketed) = h.strip_prefix('[') {
                    bracketed.split(']').next().unwrap_or("").to_owned()
                } else {
                    h.split(':').next().unwrap_or("").to_owned()
                }
            })
            .chain(query_hosts)
            .filter(|h| !is_local_host(h))
            .collect();
        remote.dedup();
        let protected = matches!(
            sslmode.as_deref(),
            Some("require" | "verify-ca" | "verify-full")
        );
        if remote.is_empty() || protected {
            return None;
        }
        Some(format!(
            "DATABASE_URL reaches {} without sslmode=require (or verify-ca / verify-full): \
             the database password and every stored envelope cross the network unprotected; \
             add ?sslmode=verify-full",
            remote.join(", ")
        ))
    }

    pub(crate) fn establish(&self, sync: SqliteSynchronous) -> StoreResult<DbConnection> {
        match self {
            DatabaseUrl::Postgres(url) => Ok(DbConnection::Postgres(PgConnection::establish(url)?)),
            DatabaseUrl::Sqlite(path) => {
                create_private_file(path)?;
                let mut conn = SqliteConnection::establish(path)?;
                let configure_failed = |e: diesel::result::Error| StoreError::Unavailable {
                    detail: format!("could not configure the SQLite connection: {e}"),
                };
                conn.batch_execute("PRAGMA busy_timeout = 10000;")
                    .map_err(configure_failed)?;
                switch_to_wal(&mut conn).map_err(configure_failed)?;
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA synchronous = {};",
                    sync.pragma()
                ))
                .map_err(configure_failed)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Empty host (a local socket), `localhost`, or a loopback address.
fn is_local_host(host: &str) -> bool {
    host.is_empty()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How SQLite syncs commits to disk (`PRAGMA synchronous`) in WAL mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SqliteSynchronous {
    /// Every commit is on disk before it returns: a resolution answered, a secret
    /// written or an audit record acknowledged survives a power loss.
    #[default]
    Full,
    /// Commits reach the OS at once and the disk at each checkpoint: a power loss (not
    /// a crash of the process) can lose the newest commits, never corrupt the file.
    Normal,
}

impl SqliteSynchronous {
    fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

/// Creates the database file readable and writable by its owner only, before SQLite
/// opens it: SQLite creates its WAL and shared-memory files with the main file's mode,
/// so they are private too. A file that already exists with a wider mode is narrowed.
fn create_private_file(path: &str) -> StoreResult<()> {
    let unusable = |e: std::io::Error| StoreError::Unavailable {
        detail: format!("cannot create the SQLite file {path}: {e}"),
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path).map_err(unusable)?;
        let mode = file.metadata().map_err(unusable)?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(unusable)?;
        }
    }
    #[cfg(not(unix))]
    options.open(path).map_err(unusable)?;
    Ok(())
}

/// WAL lets readers run beside the one writer; the sync level (set after) decides
/// whether the newest commits survive a power loss (`SqliteSynchronous`).
///
/// Switching a file to WAL takes an exclusive lock without consulting the busy handler,
/// so replicas (or pool connections) opening one file together can see "database is
/// locked" even with a busy timeout set. That answer is transient: retry it for as long
/// as the busy timeout would have waited.
fn switch_to_wal(conn: &mut SqliteConnection) -> QueryResult<()> {
    const WAIT: Duration = Duration::from_secs(10);
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(diesel::result::Error::DatabaseError(_, info))
                if is_busy(info.message()) && started.elapsed() < WAIT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

/// Shows the backend and, for PostgreSQL, never the password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(_) => f.write_str("DatabaseUrl::Postgres(..)"),
            DatabaseUrl::Sqlite(path) => write!(f, "DatabaseUrl::Sqlite({path:?})"),
        }
    }
}

pub(crate) struct ConnectionManager {
    url: DatabaseUrl,
    sync: SqliteSynchronous,
}

#[derive(Debug)]
pub(crate) struct ManagerError(String);

impl fmt::Display for ManagerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ManagerError {}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        self.url
            .establish(self.sync)
            .map_err(|e| ManagerError(e.to_string()))
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ManagerError> {
        conn.ping().map_err(|e| ManagerError(e.to_string()))
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection handed back mid-transaction (a panic in a closure) is dropped.
        std::thread::panicking() || conn.is_broken()
    }
}

pub(crate) type Pool = r2d2::Pool<ConnectionManager>;

pub(crate) fn build_pool(
    url: DatabaseUrl,
    sync: SqliteSynchronous,
    size: u32,
    timeout: Duration,
) -> StoreResult<Pool> {
    r2d2::Pool::builder()
        .max_size(size)
        // Grow on demand rather than opening every connection at start-up.
        .min_idle(Some(size.min(2)))
        .connection_timeout(timeout)
        .build(ConnectionManager { url, sync })
        .map_err(|e| StoreError::Unavailable {
            detail: e.to_string(),
        })
}

/// Runs `work` in one transaction that writes. On SQLite it starts with `BEGIN
/// IMMEDIATE`, taking the write lock before the first read: a deferred transaction that
/// read first would fail with SQLITE_BUSY, not wait, when another writer got in between.
/// On PostgreSQL it is an ordinary READ COMMITTED transaction; the writes that must not
/// race are guarded by unique indexes, conditional updates and row locks.
pub(crate) fn write_transaction<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    transaction(conn, "BEGIN IMMEDIATE", "BEGIN", work)
}

/// As `write_transaction`, but on PostgreSQL `postgres_begin` (a `BEGIN` followed by
/// the statement that takes a lock) opens it, so the lock costs no round trip of its
/// own. `work` learns whether that happened: nested in another transaction, this is a
/// savepoint and the caller must take its lock itself.
pub(crate) fn locked_write_transaction<T>(
    conn: &mut DbConnection,
    postgres_begin: &str,
    work: impl FnOnce(&mut DbConnection, bool) -> StoreResult<T>,
) -> StoreResult<T> {
    let locked = matches!(conn, DbConnection::Postgres(_))
        && DbConnection::transaction_manager_status_mut(conn)
            .transaction_depth()?
            .is_none();
    transaction(conn, "BEGIN IMMEDIATE", postgres_begin, |conn| {
        work(conn, locked)
    })
}

/// Runs `work` in a read-only snapshot, so a read of several queries sees one state.
pub(crate) fn read_transaction<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    transaction(
        conn,
        "BEGIN",
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        work,
    )
}

fn transaction<T>(
    conn: &mut DbConnection,
    sqlite_begin: &str,
    postgres_begin: &str,
    work: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    // Through the inner connection's own transaction manager, so diesel's bookkeeping
    // (and the pool's "returned mid-transaction" check) stays right. Inside another
    // transaction (an operation composed with its audit record) this is a savepoint,
    // so an inner retry can roll back its own attempt without losing the outer work.
    let nested = DbConnection::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some();
    match conn {
        _ if nested => DbConnection::begin_transaction(conn)?,
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, sqlite_begin)?
        }
        DbConnection::Postgres(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, postgres_begin)?
        }
    }
    match work(conn) {
        Ok(value) => {
            DbConnection::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The work's error is the one worth reporting; a failed rollback leaves the
            // connection marked broken, and the pool discards it.
            let _ = DbConnection::rollback_transaction(conn);
            Err(error)
        }
    }
}

impl From<ConnectionError> for ManagerError {
    fn from(error: ConnectionError) -> Self {
        ManagerError(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};

    use super::*;

    #[test]
    fn urls_pick_their_backend_from_the_scheme() {
        let cases = [
            ("postgres://u:p@h/db", BackendKind::Postgres),
            ("postgresql://h/db", BackendKind::Postgres),
            ("sqlite://data/vault.db", BackendKind::Sqlite),
            ("sqlite:vault.db", BackendKind::Sqlite),
            ("/var/lib/vault/vault.db", BackendKind::Sqlite),
        ];
        for (url, backend) in cases {
            assert_eq!(
                DatabaseUrl::parse(url).expect(url).backend(),
                backend,
                "{url}"
            );
        }
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/vault.db").expect("valid"),
            DatabaseUrl::Sqlite("data/vault.db".into())
        );
        for bad in [
            "",
            "  ",
            ":memory:",
            "sqlite://",
            "sqlite::memory:",
            "mysql://h/db",
        ] {
            assert!(
                matches!(
                    DatabaseUrl::parse(bad),
                    Err(StoreError::Invalid {
                        field: "database_url",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_postgres_url_never_shows_its_password() {
        let url = DatabaseUrl::parse("postgres://vault:hunter2@db/vault").expect("valid");
        assert!(!format!("{url:?}").contains("hunter2"));
    }

    #[derive(QueryableByName)]
    struct JournalMode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }

    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = BigInt)]
        value: i64,
    }

    #[test]
    fn sqlite_connections_get_wal_foreign_keys_a_busy_timeout_and_the_sync_level_asked() {
        for (sync, level) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
            let dir = tempfile::tempdir().expect("temp dir");
            let url =
                DatabaseUrl::parse(&dir.path().join("v.db").display().to_string()).expect("ok");
            let DbConnection::Sqlite(conn) = url.establish(sync).expect("opens") else {
                panic!("expected SQLite");
            };
            check_pragmas(conn, level);
        }
        assert_eq!(SqliteSynchronous::default(), SqliteSynchronous::Full);
    }

    fn check_pragmas(mut conn: SqliteConnection, synchronous: i64) {
        let mode: JournalMode = diesel::sql_query("PRAGMA journal_mode")
            .get_result(&mut conn)
            .expect("reads");
        assert_eq!(mode.journal_mode, "wal");
        for (pragma, expected) in [
            ("foreign_keys", 1),
            ("busy_timeout", 10_000),
            ("synchronous", synchronous),
        ] {
            let found: Number =
                diesel::sql_query(format!("SELECT (SELECT * FROM pragma_{pragma}) AS value"))
                    .get_result(&mut conn)
                    .unwrap_or_else(|e| panic!("{pragma}: {e}"));
            assert_eq!(found.value, expected, "{pragma}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_database_and_its_wal_and_shm_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.db");
        let wide = dir.path().join("wide.db");
        std::fs::write(&wide, b"").expect("writes");
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        for file in [&path, &wide] {
            let url = DatabaseUrl::parse(&file.display().to_string()).expect("ok");
            let mut conn = url.establish(SqliteSynchronous::Full).expect("opens");
            conn.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
                .expect("writes");
            for suffix in ["", "-wal", "-shm"] {
                let name = format!("{}{suffix}", file.display());
                let mode = std::fs::metadata(&name)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{name}");
            }
        }
    }

    #[test]
    fn a_postgres_url_to_a_remote_host_without_tls_is_named() {
        let warned = |url: &str| DatabaseUrl::parse(url).expect("valid").transport_warning();
        for remote in [
            "postgres://vault:pw@db.internal/vault",
            "postgres://vault:pw@db.internal:5432/vault?sslmode=prefer",
            "postgresql://10.0.0.5/vault?sslmode=disable",
            "postgres://[2001:db8::1]:5432/vault",
            "postgres://localhost,db2.internal/vault?sslmode=allow",
            "postgres:///vault?host=db.internal",
        ] {
            let warning = warned(remote).unwrap_or_else(|| panic!("{remote}: no warning"));
            assert!(warning.contains("sslmode=require"), "{warning}");
            assert!(!warning.contains("pw"), "{warning}");
        }
        assert!(
            warned("postgres://vault:pw@db.internal/vault")
                .is_some_and(|w| w.contains("db.internal"))
        );
        for safe in [
            "postgres://vault:pw@db.internal/vault?sslmode=require",
            "postgres://db.internal/vault?connect_timeout=5&sslmode=verify-full",
            "postgres://db.internal/vault?sslmode=verify-ca",
            "postgres://postgres@127.0.0.1:55432/postgres",
            "postgres://localhost/vault",
            "postgres://[::1]/vault",
            "postgres:///vault?host=/var/run/postgresql",
            "sqlite://vault.db",
        ] {
            assert_eq!(warned(safe), None, "{safe}");
        }
    }
}
