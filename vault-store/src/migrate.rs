//! The embedded migrations of both backends, and applying, listing and reverting them.

use diesel::backend::Backend;
use diesel::migration::{Migration, MigrationSource};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use diesel::connection::SimpleConnection;

use crate::db::{DatabaseUrl, DbConnection, write_transaction};
use crate::error::{StoreError, StoreResult};

const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's version, e.g. `20261122000001`.
    pub version: String,
    /// The folder name, e.g. `2026-11-22-000001_initial`.
    pub name: String,
    pub applied: bool,
}

/// Applies every pending migration; returns the names of those it applied.
pub fn run_pending(url: &DatabaseUrl) -> StoreResult<Vec<String>> {
    apply_pending(&mut url.establish(crate::db::SqliteSynchronous::default())?)
}

/// Several replicas may start at once against one fresh database: the first applies
/// the migrations while the others wait, then find nothing pending. On PostgreSQL a
/// session advisory lock serialises them; on SQLite the write lock (`BEGIN IMMEDIATE`)
/// does, with diesel's per-migration transactions nested inside as savepoints.
pub(crate) fn apply_pending(conn: &mut DbConnection) -> StoreResult<Vec<String>> {
    match conn {
        DbConnection::Postgres(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let applied = apply_pending_unlocked(conn);
            let unlocked =
                conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            let applied = applied?;
            unlocked?;
            Ok(applied)
        }
        DbConnection::Sqlite(_) => write_transaction(conn, apply_pending_unlocked),
    }
}

/// An arbitrary key for the advisory lock, the same in every vault process.
const MIGRATION_LOCK: i64 = 0x7661_756c_745f_6d67;

fn apply_pending_unlocked(conn: &mut DbConnection) -> StoreResult<Vec<String>> {
    match conn {
        DbConnection::Sqlite(c) => {
            let applied = c.run_pending_migrations(SQLITE).map_err(failed)?;
            names_of::<diesel::sqlite::Sqlite>(SQLITE, applied.iter().map(ToString::to_string))
        }
        DbConnection::Postgres(c) => {
            let applied = c.run_pending_migrations(POSTGRES).map_err(failed)?;
            names_of::<diesel::pg::Pg>(POSTGRES, applied.iter().map(ToString::to_string))
        }
    }
}

/// diesel reports versions (`20261122000001`); people read folder names.
fn names_of<DB: Backend>(
    source: EmbeddedMigrations,
    versions: impl Iterator<Item = String>,
) -> StoreResult<Vec<String>>
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    let known = MigrationSource::<DB>::migrations(&source).map_err(failed)?;
    Ok(versions
        .map(|version| {
            known
                .iter()
                .find(|m| m.name().version().to_string() == version)
                .map_or(version, |m| m.name().to_string())
        })
        .collect())
}

/// Every known migration, oldest first, with whether this database has applied it.
pub fn status(url: &DatabaseUrl) -> StoreResult<Vec<MigrationState>> {
    match &mut url.establish(crate::db::SqliteSynchronous::default())? {
        DbConnection::Sqlite(c) => states(c, SQLITE),
        DbConnection::Postgres(c) => states(c, POSTGRES),
    }
}

/// Reverts the most recently applied migration; returns its name, or `None` when none
/// was applied.
pub fn revert_last(url: &DatabaseUrl) -> StoreResult<Option<String>> {
    let mut conn = url.establish(crate::db::SqliteSynchronous::default())?;
    let has_applied = match &mut conn {
        DbConnection::Sqlite(c) => !c.applied_migrations().map_err(failed)?.is_empty(),
        DbConnection::Postgres(c) => !c.applied_migrations().map_err(failed)?.is_empty(),
    };
    if !has_applied {
        return Ok(None);
    }
    let reverted = match &mut conn {
        DbConnection::Sqlite(c) => {
            let version = c.revert_last_migration(SQLITE).map_err(failed)?;
            names_of::<diesel::sqlite::Sqlite>(SQLITE, std::iter::once(version.to_string()))?
        }
        DbConnection::Postgres(c) => {
            let version = c.revert_last_migration(POSTGRES).map_err(failed)?;
            names_of::<diesel::pg::Pg>(POSTGRES, std::iter::once(version.to_string()))?
        }
    };
    Ok(reverted.into_iter().next())
}

fn states<DB: Backend>(
    conn: &mut impl MigrationHarness<DB>,
    source: EmbeddedMigrations,
) -> StoreResult<Vec<MigrationState>>
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    let applied = conn.applied_migrations().map_err(failed)?;
    let mut known: Vec<MigrationState> = MigrationSource::<DB>::migrations(&source)
        .map_err(failed)?
        .iter()
        .map(|migration| {
            let version = migration.name().version();
            MigrationState {
                version: version.to_string(),
                name: migration.name().to_string(),
                applied: applied.contains(&version),
            }
        })
        .collect();
    known.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(known)
}

fn failed(error: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    StoreError::Unavailable {
        detail: format!("migration failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Triggers, which the two dialects cannot spell alike: for these the test compares
    /// which tables they watch instead of the text.
    const DIALECT_SPECIFIC: [&str; 1] = ["2026-11-23-000004_owner_generation_triggers"];

    /// The tables named by `AFTER … ON <table>` in trigger definitions.
    fn triggered_tables(sql: &str) -> std::collections::BTreeSet<String> {
        let words: Vec<&str> = sql.split_whitespace().collect();
        words
            .windows(2)
            .filter(|pair| pair[0] == "ON" && pair[1] != "CONFLICT")
            .map(|pair| pair[1].to_owned())
            .collect()
    }

    /// The two backends' migrations say the same thing: identical text once the
    /// binary type and PostgreSQL's byte-order collation are set aside.
    #[test]
    fn sqlite_and_postgres_migrations_match() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let folders = |backend: &str| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(root.join(backend))
                .expect("migrations folder")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let sqlite = folders("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, folders("postgres"));
        let comparable = |text: String| -> String {
            text.lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
                .replace("BYTEA", "BLOB")
                .replace(" COLLATE \"C\"", "")
        };
        for folder in &sqlite {
            if DIALECT_SPECIFIC.contains(&folder.as_str()) {
                let tables = |backend: &str| {
                    let text =
                        std::fs::read_to_string(root.join(backend).join(folder).join("up.sql"))
                            .expect("migration file");
                    triggered_tables(&text)
                };
                assert!(!tables("sqlite").is_empty(), "{folder} defines no trigger");
                assert_eq!(
                    tables("sqlite"),
                    tables("postgres"),
                    "{folder}: the backends' triggers watch different tables"
                );
                continue;
            }
            for file in ["up.sql", "down.sql"] {
                let read = |backend: &str| {
                    std::fs::read_to_string(root.join(backend).join(folder).join(file))
                        .expect("migration file")
                };
                assert_eq!(
                    comparable(read("sqlite")),
                    comparable(read("postgres")),
                    "{folder}/{file} differs between the backends"
                );
            }
        }
    }
}
