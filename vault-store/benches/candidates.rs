//! The store's two hot reads at scale: every candidate secret of one resolution
//! context, and one page of one owner's list. The context is a task's: one user with 50
//! secrets (mixed `all` / `agents`), a workspace with 5 keys and a project with 20
//! entries, beside `VAULT_BENCH_ROWS` background secrets (default 100k; 1k when run as a
//! test) across 1k users, 50 workspaces and 100 projects. On SQLite and, when
//! `VAULT_TEST_POSTGRES_URL` names a server, on PostgreSQL. Run it again with 10x the
//! rows: both figures must stay flat, since the work is proportional to what the context
//! reaches, not to the table.

use chrono::DateTime;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary};
use tokio::runtime::Runtime;
use vault_core::AuditEntry;
use vault_core::{
    Category, MilestoneId, Owner, Placement, ProfileId, ProjectId, ResolutionContext, Scope,
    SecretId, SecretName, UserId, WorkspaceId,
};
use vault_store::{NewSecret, Sealed, SecretQuery, Store, StoreConfig};

const PROJECTS: i64 = 100;

/// Row `n` belongs to a project when n % 10 == 9, to a workspace when n % 10 == 8,
/// otherwise to user n % USERS; every third row is narrow (`agents` / `milestone`).
/// Ids are `sec_bb` + 19 digits: valid nanoid-alphabet ids, distinct per row.
const SEED_SECRETS: &str = "
WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < $1)
INSERT INTO secrets (id, owner_kind, owner_id, project_id, name, scope_kind, category,
                     description, expires_at, current_version, created_at, updated_at)
SELECT 'sec_bb' || (1000000000000000000 + n),
       CASE n % 10 WHEN 9 THEN 'project' WHEN 8 THEN 'workspace' ELSE 'user' END,
       CASE n % 10 WHEN 9 THEN 'proj-' || (n % 100) WHEN 8 THEN 'ws-' || (n % 50)
            ELSE 'user-' || (n % 1000) END,
       CASE n % 10 WHEN 9 THEN 'proj-' || (n % 100) ELSE NULL END,
       'NAME_' || n,
       CASE WHEN n % 10 = 9 AND n % 3 = 0 THEN 'milestone' WHEN n % 10 = 9 THEN 'project'
            WHEN n % 3 = 0 THEN 'agents' ELSE 'all' END,
       'secret', NULL, NULL, 1, 0, 0
FROM seq";

const SEED_TARGETS: &str = "
INSERT INTO secret_targets (secret_id, owner_kind, owner_id, name, target_id)
SELECT id, owner_kind, owner_id, name,
       CASE scope_kind WHEN 'milestone' THEN 'm0'
            ELSE 'p' || (CAST(substr(id, 7) AS BIGINT) % 7) END
FROM secrets WHERE scope_kind IN ('agents', 'milestone')";

const SEED_VERSIONS: &str = "
INSERT INTO secret_versions (secret_id, version, envelope, masked, kek_id, restored_from, created_at)
SELECT id, 1, $1, '****', 'kek_bench', NULL, 0 FROM secrets";

#[derive(Clone, Copy)]
enum Bind {
    Nothing,
    RowCount,
    Envelope,
}

/// The same statement on either connection type (`$1` binds on both).
macro_rules! execute {
    ($conn:expr, $sql:expr, $bind:expr, $rows:expr) => {
        match $bind {
            Bind::Nothing => $conn.batch_execute($sql).expect("seeds"),
            Bind::RowCount => {
                diesel::sql_query($sql)
                    .bind::<BigInt, _>($rows)
                    .execute($conn)
                    .expect("seeds");
            }
            // A typical envelope: 105 bytes of overhead plus a 100-byte value.
            Bind::Envelope => {
                diesel::sql_query($sql)
                    .bind::<Binary, _>(vec![0x5a_u8; 205])
                    .execute($conn)
                    .expect("seeds");
            }
        }
    };
}

/// Runs one seeding statement on whichever connection the URL opened.
type Execute = dyn FnMut(&str, Bind);

struct Seeded {
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

fn seed(url: &str, rows: i64) -> Store {
    let store = Store::open(url, &StoreConfig::default()).expect("opens");
    let mut conn: Box<Execute> = if let Some(pg) = url.strip_prefix("postgres") {
        let mut conn = PgConnection::establish(&format!("postgres{pg}")).expect("connects");
        Box::new(move |sql, bind| execute!(&mut conn, sql, bind, rows))
    } else {
        let path = url.trim_start_matches("sqlite://");
        let mut conn = SqliteConnection::establish(path).expect("opens");
        Box::new(move |sql, bind| execute!(&mut conn, sql, bind, rows))
    };
    let mut projects = String::new();
    for p in 0..PROJECTS {
        projects.push_str(&format!(
            "INSERT INTO projects VALUES ('proj-{p}', 'Project {p}', 0, 0);
             INSERT INTO milestones VALUES ('proj-{p}', 'm0', 'M0', 0);"
        ));
    }
    conn(&projects, Bind::Nothing);
    conn(SEED_SECRETS, Bind::RowCount);
    conn(SEED_TARGETS, Bind::Nothing);
    conn(SEED_VERSIONS, Bind::Envelope);
    conn("ANALYZE", Bind::Nothing);
    store
}

fn backends(rows: i64) -> Vec<(&'static str, Seeded)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut seeded = vec![(
        "sqlite",
        Seeded {
            store: seed(&url, rows),
            _dir: Some(dir),
        },
    )];
    match std::env::var("VAULT_TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            let name = format!("vault_bench_{}", std::process::id());
            let mut admin = PgConnection::establish(&admin_url).expect("connects");
            for statement in [
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("CREATE DATABASE {name}"),
            ] {
                admin
                    .batch_execute(&statement)
                    .expect("creates the bench database");
            }
            let (base, _) = admin_url.rsplit_once('/').expect("URL names a database");
            seeded.push((
                "postgres",
                Seeded {
                    store: seed(&format!("{base}/{name}"), rows),
                    _dir: None,
                },
            ));
        }
        Err(_) => eprintln!("PostgreSQL skipped: VAULT_TEST_POSTGRES_URL is not set"),
    }
    seeded
}

const HOT_USER: &str = "hot-user";
const HOT_WORKSPACE: &str = "hot-ws";
const HOT_PROJECT: &str = "hot-proj";

fn new_secret(owner: Owner, name: String, scope: Scope) -> NewSecret {
    NewSecret {
        id: SecretId::generate(),
        name: SecretName::parse(&name).expect("valid name"),
        placement: Placement::new(owner, scope).expect("valid placement"),
        category: Category::default(),
        description: None,
        expires_at: None,
        value: Sealed {
            envelope: vec![0x5a; 205],
            kek_id: "kek_bench".into(),
        },
        masked: "****".into(),
        now: DateTime::UNIX_EPOCH,
    }
}

/// The task's own secrets, through the store's API: 50 + 5 + 20 of them, of which all
/// but the 10 scoped to profile p2 reach profile p1 on milestone m0.
async fn seed_context(store: &Store) {
    let profiles = |ids: &[&str]| {
        Scope::agents(ids.iter().map(|p| ProfileId::parse(p).expect("valid"))).expect("valid")
    };
    let project = ProjectId::parse(HOT_PROJECT).expect("valid");
    let accountable = UserId::parse(HOT_USER).expect("valid");
    let user = Owner::User(accountable.clone());
    let workspace = Owner::Workspace(WorkspaceId::parse(HOT_WORKSPACE).expect("valid"));
    let epoch = DateTime::UNIX_EPOCH;
    store
        .create_project(project.clone(), "Hot".into(), accountable, epoch, audit())
        .await
        .expect("project");
    let milestone = MilestoneId::parse("m0").expect("valid");
    store
        .create_milestone(
            project.clone(),
            milestone.clone(),
            "M0".into(),
            epoch,
            audit(),
        )
        .await
        .expect("milestone");
    let mut secrets = Vec::new();
    for i in 0..50 {
        let scope = match i % 5 {
            0 => profiles(&["p1", "p3"]),
            1 => profiles(&["p2"]),
            _ => Scope::All,
        };
        secrets.push(new_secret(user.clone(), format!("USER_{i}"), scope));
    }
    for i in 0..5 {
        secrets.push(new_secret(
            workspace.clone(),
            format!("BYOK_{i}"),
            Scope::All,
        ));
    }
    for i in 0..20 {
        let scope = if i % 4 == 0 {
            Scope::milestones([milestone.clone()]).expect("valid")
        } else {
            Scope::Project
        };
        let owner = Owner::Project(project.clone());
        secrets.push(new_secret(owner, format!("PROJECT_{i}"), scope));
    }
    for secret in secrets {
        store
            .create_secret(secret, audit())
            .await
            .expect("seeds the context");
    }
}

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let rows: i64 = std::env::var("VAULT_BENCH_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(if measuring { 100_000 } else { 1_000 });
    let context = ResolutionContext::new(
        UserId::parse(HOT_USER).expect("valid"),
        ProfileId::parse("p1").expect("valid"),
        Some(WorkspaceId::parse(HOT_WORKSPACE).expect("valid")),
        Some(ProjectId::parse(HOT_PROJECT).expect("valid")),
        Some(MilestoneId::parse("m0").expect("valid")),
    )
    .expect("valid context");
    let page = SecretQuery {
        owner: Owner::User(UserId::parse(HOT_USER).expect("valid")).into(),
        name_prefix: None,
        category: None,
        expired: None,
        now: DateTime::UNIX_EPOCH,
        limit: 50,
        after: None,
    };
    let mut group = c.benchmark_group("store");
    for (backend, seeded) in backends(rows) {
        let store = seeded.store;
        runtime.block_on(seed_context(&store));
        let found = runtime
            .block_on(store.candidates(context.clone()))
            .expect("candidates");
        assert_eq!(
            found.len(),
            40 + 5 + 20,
            "what reaches the context, exactly"
        );
        let listed = runtime
            .block_on(store.list_secrets(page.clone()))
            .expect("lists");
        assert_eq!(listed.items.len(), 50);
        eprintln!(
            "{backend}, {rows} rows: {} candidates for the context, {} on the list page",
            found.len(),
            listed.items.len()
        );
        let label = format!("{backend}/{rows}_rows");
        group.bench_function(BenchmarkId::new("candidates", &label), |b| {
            b.to_async(&runtime)
                .iter(|| store.candidates(context.clone()))
        });
        group.bench_function(BenchmarkId::new("list_page_50", &label), |b| {
            b.to_async(&runtime)
                .iter(|| store.list_secrets(page.clone()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

fn audit() -> AuditEntry {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    AuditEntry {
        id: format!("aud_bench_{n}"),
        at: DateTime::UNIX_EPOCH,
        principal: "operator:tok_bench".into(),
        action: "bench.seed".into(),
        target: None,
        outcome: "ok".into(),
        request_id: "req_bench".into(),
    }
}
