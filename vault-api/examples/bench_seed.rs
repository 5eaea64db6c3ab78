//! Seeds a database for `cargo xtask bench` through the real router, in process: every
//! row is sealed, stored and audited exactly as `POST /v1/secrets` and friends do it, so
//! the benchmark reads what production would hold, without paying for HTTP while
//! seeding a million rows.
//!
//! `--context` creates the hot resolution context: one user with a 50-secret profile
//! (mixed `all` / `agents` scopes, values 20–200 bytes), a workspace with 5 keys that
//! the user is a member of and a project with 20 entries (some milestone-scoped) that
//! the user is Accountable for, and prints it with an orchestrator token as one JSON
//! line. `--background N` adds N secrets across `--users` other users,
//! numbered from `--first` so a later run can grow the same database.
//!
//! Needs `DATABASE_URL` and `ENCRYPTION_KEY`, as `vault-api serve` does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use clap::Parser;
use serde::Serialize;
use serde_json::json;
use tower::ServiceExt;
use vault_api::audit::{Actor, AuditContext};
use vault_api::clock::SystemClock;
use vault_api::server::{self, RootConfig, RootKeys};
use vault_api::service::tokens::TokenRequest;
use vault_api::{AppState, app};
use vault_client::wire::{CreateEntry, CreateKey, CreateMilestone, CreateProject, CreateSecret};
use vault_kms::KeyringConfig;
use vault_store::StoreConfig;
use zeroize::Zeroizing;

const USER: &str = "bench-user";
const PROFILE: &str = "prof_bench";
const WORKSPACE: &str = "bench-ws";
const PROJECT: &str = "bench-proj";
const MILESTONE: &str = "bench-ms";

#[derive(Parser)]
struct Args {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Seed the hot context and print it (with an orchestrator token) as JSON.
    #[arg(long)]
    context: bool,
    /// Background secrets to add, spread over `--users` users.
    #[arg(long, default_value_t = 0)]
    background: u64,
    /// The first background row's number, to grow an already seeded database.
    #[arg(long, default_value_t = 0)]
    first: u64,
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Insert the background by SQL instead, with placeholder envelopes: for the scale
    /// check, whose extra rows belong to other users and are never opened, where going
    /// through the router would take a quarter of an hour per million.
    #[arg(long)]
    placeholder: bool,
    /// Requests in flight while seeding.
    #[arg(long, default_value_t = 8)]
    concurrency: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let key = Zeroizing::new(
        std::env::var("ENCRYPTION_KEY").context("ENCRYPTION_KEY is not set (the server's key)")?,
    );
    let clock = Arc::new(SystemClock);
    let store = server::open_store(&args.database_url, StoreConfig::default()).await?;
    let keys = RootConfig::Local(RootKeys {
        current: key,
        previous: Vec::new(),
    });
    let keyring =
        server::open_keyring(&store, &keys, clock.clone(), KeyringConfig::default()).await?;
    let policy = server::policy(&server::NameRules::default())?;
    let state = AppState::new(store.clone(), keyring, policy, clock.clone());
    let audit = AuditContext {
        clock: clock.clone(),
    };
    let issue = |kind: &'static str| {
        let (store, audit) = (store.clone(), audit.clone());
        async move {
            let (_, secret) = TokenRequest::parse(kind, None, None, Some(format!("bench {kind}")))?
                .issue(&store, &audit, "req_bench_seed", &Actor::cli())
                .await?;
            Ok::<_, anyhow::Error>(secret)
        }
    };
    let operator = Arc::new(issue("operator").await?);
    let router = app::router(state);

    if args.background > 0 && args.placeholder {
        let started = Instant::now();
        let (url, first, end, users) = (
            args.database_url.clone(),
            args.first,
            args.first + args.background,
            args.users.max(1),
        );
        tokio::task::spawn_blocking(move || seed_placeholders(&url, first, end, users)).await??;
        eprintln!(
            "inserted {} placeholder background rows in {:.1}s",
            args.background,
            started.elapsed().as_secs_f64()
        );
    } else if args.background > 0 {
        seed_background(&router, &operator, &args).await?;
    }
    if args.context {
        let expected = seed_context(&router, &operator).await?;
        let orchestrator = issue("orchestrator").await?;
        println!(
            "{}",
            json!({
                "orchestrator_token": orchestrator.as_str(),
                "context": {
                    "user_id": USER,
                    "profile_id": PROFILE,
                    "workspace_id": WORKSPACE,
                    "project_id": PROJECT,
                    "milestone_id": MILESTONE,
                },
                "user_names": expected.user,
                "expected_names": expected.all,
            })
        );
    }
    Ok(())
}

/// A printable value of 20–200 bytes, different per row.
fn value(seed: u64) -> String {
    let len = 20 + (seed.wrapping_mul(2_654_435_761) % 181) as usize;
    let mut bytes = [0u8; 150];
    getrandom::fill(&mut bytes).ok();
    let mut text = String::with_capacity(len);
    for (i, b) in bytes.iter().cycle().take(len).enumerate() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        text.push(ALPHABET[(*b as usize + i) % ALPHABET.len()] as char);
    }
    text
}

/// Posts `body`, one of vault-client's request types, so a field renamed on the server
/// fails to compile the seeder rather than to seed.
async fn call(router: &Router, token: &str, path: &str, body: &impl Serialize) -> Result<()> {
    send(
        router,
        Method::POST,
        token,
        path,
        serde_json::to_string(body)?,
    )
    .await
}

async fn send(
    router: &Router,
    method: Method,
    token: &str,
    path: &str,
    body: String,
) -> Result<()> {
    let request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body))?;
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    if status != StatusCode::CREATED && status != StatusCode::OK {
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
        bail!(
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(())
}

async fn seed_background(
    router: &Router,
    operator: &Arc<Zeroizing<String>>,
    args: &Args,
) -> Result<()> {
    let next = Arc::new(AtomicU64::new(args.first));
    let end = args.first + args.background;
    let users = args.users.max(1);
    let first = args.first;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (router, operator, next) = (router.clone(), operator.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    return Ok::<_, anyhow::Error>(());
                }
                let narrow = n % 3 == 0;
                let body = CreateSecret {
                    user_id: Some(format!("bg-user-{}", n % users)),
                    name: format!("BG_SECRET_{n}"),
                    value: value(n).into(),
                    scope: narrow.then(|| "agents".to_owned()),
                    profile_ids: narrow.then(|| vec![format!("prof_{}", n % 7)]),
                    ..CreateSecret::default()
                };
                call(&router, &operator, "/v1/secrets", &body).await?;
                if (n + 1) % 50_000 == 0 {
                    eprintln!(
                        "seeded {} background rows ({:.0}/s)",
                        n + 1 - first,
                        (n + 1 - first) as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    eprintln!(
        "seeded {} background rows in {:.1}s",
        args.background,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Rows `first..end` as `seed_background` would make them (user `n % users`, every
/// third narrowed to a profile), in three statements, with a 205-byte placeholder
/// envelope; the owner-generation triggers fire as for any insert.
fn seed_placeholders(url: &str, first: u64, end: u64, users: u64) -> Result<()> {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection, SqliteConnection};
    // Ids are `sec_pl` and 19 digits, so they sort as their numbers do, and the new rows
    // are picked as a range of ids: a random real id can begin with `sec_pl` too.
    let first_id = format!("sec_pl{}", 1_000_000_000_000_000_000u64 + first);
    let end_id = format!("sec_pl{}", 1_000_000_000_000_000_000u64 + end);
    let statements = format!(
        "WITH RECURSIVE seq(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < {end})
         INSERT INTO secrets (id, owner_kind, owner_id, project_id, name, scope_kind, category,
                              description, expires_at, current_version, created_at, updated_at)
         SELECT 'sec_pl' || (1000000000000000000 + n), 'user', 'bg-user-' || (n % {users}), NULL,
                'BG_SECRET_' || n, CASE WHEN n % 3 = 0 THEN 'agents' ELSE 'all' END,
                'other', NULL, NULL, 1, 0, 0
         FROM seq;
         INSERT INTO secret_targets (secret_id, owner_kind, owner_id, name, target_id)
         SELECT id, owner_kind, owner_id, name, 'prof_' || (CAST(substr(id, 7) AS BIGINT) % 7)
         FROM secrets WHERE id >= '{first_id}' AND id < '{end_id}' AND scope_kind = 'agents';
         INSERT INTO secret_versions (secret_id, version, envelope, masked, kek_id, restored_from, created_at)
         SELECT id, 1, {{placeholder}}, '****', 'kek_placeholder', NULL, 0
         FROM secrets WHERE id >= '{first_id}' AND id < '{end_id}';"
    );
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let mut conn = SqliteConnection::establish(rest)?;
        let placeholder = format!("X'{}'", "5a".repeat(205));
        // Checkpoint now, so the server measured next does not copy a WAL of hundreds
        // of megabytes into the database during its first rounds.
        conn.batch_execute(&format!(
            "BEGIN; {} COMMIT; PRAGMA wal_checkpoint(TRUNCATE);",
            statements.replace("{placeholder}", &placeholder)
        ))?;
    } else {
        let mut conn = PgConnection::establish(url)?;
        let placeholder = format!("'\\x{}'::bytea", "5a".repeat(205));
        // The seeding session only: no flush per commit, and the per-row generation
        // triggers off (each would rewrite one of a thousand counter rows a million
        // times over); the owners touched are then bumped once each, which is all a
        // cache reading the counters can tell apart.
        conn.batch_execute(&format!(
            "BEGIN; SET LOCAL synchronous_commit = off; \
             SET LOCAL session_replication_role = replica; {} \
             SET LOCAL session_replication_role = origin; \
             INSERT INTO owner_generations (owner_kind, owner_id, generation) \
             SELECT DISTINCT owner_kind, owner_id, 1 FROM secrets \
             WHERE id >= '{first_id}' AND id < '{end_id}' \
             ON CONFLICT (owner_kind, owner_id) \
             DO UPDATE SET generation = owner_generations.generation + 1; \
             COMMIT;",
            statements.replace("{placeholder}", &placeholder)
        ))?;
    }
    Ok(())
}

struct Expected {
    user: Vec<String>,
    all: Vec<String>,
}

async fn seed_context(router: &Router, operator: &str) -> Result<Expected> {
    let mut expected = Expected {
        user: Vec::new(),
        all: Vec::new(),
    };
    for i in 0..50u64 {
        let name = format!("BENCH_SECRET_{i:02}");
        let narrow = i % 2 == 1;
        let body = CreateSecret {
            user_id: Some(USER.to_owned()),
            name: name.clone(),
            value: value(i).into(),
            scope: narrow.then(|| "agents".to_owned()),
            profile_ids: narrow.then(|| vec![PROFILE.to_owned(), "prof_other".to_owned()]),
            ..CreateSecret::default()
        };
        call(router, operator, "/v1/secrets", &body).await?;
        expected.user.push(name.clone());
        expected.all.push(name);
    }
    // Resolution refuses a workspace its user is not a member of.
    send(
        router,
        Method::PUT,
        operator,
        &format!("/v1/workspaces/{WORKSPACE}/members/{USER}"),
        "{}".to_owned(),
    )
    .await?;
    for i in 0..5u64 {
        let name = format!("WORKSPACE_KEY_{i}");
        let narrow = i % 2 == 1;
        let body = CreateKey {
            name: name.clone(),
            value: value(100 + i).into(),
            scope: narrow.then(|| "agents".to_owned()),
            profile_ids: narrow.then(|| vec![PROFILE.to_owned()]),
            ..CreateKey::default()
        };
        let path = format!("/v1/workspaces/{WORKSPACE}/keys");
        call(router, operator, &path, &body).await?;
        expected.all.push(name);
    }
    call(
        router,
        operator,
        "/v1/projects",
        &CreateProject {
            id: Some(PROJECT.to_owned()),
            name: "Bench project".to_owned(),
            accountable_user_id: USER.to_owned(),
        },
    )
    .await?;
    call(
        router,
        operator,
        &format!("/v1/projects/{PROJECT}/milestones"),
        &CreateMilestone {
            id: Some(MILESTONE.to_owned()),
            name: "Bench milestone".to_owned(),
        },
    )
    .await?;
    for i in 0..20u64 {
        let name = format!("PROJECT_ENTRY_{i:02}");
        let narrow = i % 4 == 3;
        let body = CreateEntry {
            name: name.clone(),
            value: value(200 + i).into(),
            category: "api_key".to_owned(),
            scope: if narrow { "milestone" } else { "project" }.to_owned(),
            milestone_ids: narrow.then(|| vec![MILESTONE.to_owned()]),
            ..CreateEntry::default()
        };
        let path = format!("/v1/projects/{PROJECT}/vault");
        call(router, operator, &path, &body).await?;
        expected.all.push(name);
    }
    expected.all.sort();
    Ok(expected)
}
