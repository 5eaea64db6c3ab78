//! The resolver on a task's context: 50 user secrets (half narrowed to the profile), 5
//! workspace keys and 20 project entries (a quarter milestone-scoped), with a small
//! profile env and baseline on top and below. This is the pure part of `POST
//! /v1/resolve`; payloads are the 8-byte stand-ins vault-api uses before opening winners.

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use vault_core::{
    Candidate, Category, EnvMap, EnvName, MilestoneId, Owner, Placement, PrecedencePolicy,
    ProfileId, ProjectId, ResolutionContext, ResolutionInput, Scope, SecretId, SecretMeta,
    SecretName, SecretValue, UserId, Version, WorkspaceId, resolve, resolve_shared,
};

fn candidate(n: usize, name: String, owner: Owner, scope: Scope) -> Candidate<u64> {
    let at = Utc.timestamp_opt(1_700_000_000, 0).single().expect("valid");
    Candidate {
        meta: SecretMeta {
            id: SecretId::parse(&format!("sec_{n:0>21}")).expect("valid id"),
            name: SecretName::parse(&name).expect("valid name"),
            placement: Placement::new(owner, scope).expect("matching scope"),
            category: Category::Other,
            description: None,
            expires_at: None,
            version: Version::FIRST,
            created_at: at,
            updated_at: at,
        },
        payload: n as u64,
    }
}

fn env(prefix: &str, count: usize) -> EnvMap {
    (0..count)
        .map(|i| {
            (
                EnvName::parse(&format!("{prefix}_{i}")).expect("valid"),
                SecretValue::new(format!("value-{i}")).expect("fits"),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let user = UserId::parse("bench-user").expect("valid");
    let profile = ProfileId::parse("prof_bench").expect("valid");
    let workspace = WorkspaceId::parse("bench-ws").expect("valid");
    let project = ProjectId::parse("bench-proj").expect("valid");
    let milestone = MilestoneId::parse("bench-ms").expect("valid");
    let mut candidates = Vec::new();
    for i in 0..50 {
        let scope = if i % 2 == 1 {
            Scope::agents([profile.clone()]).expect("non-empty")
        } else {
            Scope::All
        };
        candidates.push(candidate(
            i,
            format!("BENCH_SECRET_{i:02}"),
            Owner::User(user.clone()),
            scope,
        ));
    }
    for i in 0..5 {
        candidates.push(candidate(
            100 + i,
            format!("WORKSPACE_KEY_{i}"),
            Owner::Workspace(workspace.clone()),
            Scope::All,
        ));
    }
    for i in 0..20 {
        let scope = if i % 4 == 3 {
            Scope::milestones([milestone.clone()]).expect("non-empty")
        } else {
            Scope::Project
        };
        candidates.push(candidate(
            200 + i,
            format!("PROJECT_ENTRY_{i:02}"),
            Owner::Project(project.clone()),
            scope,
        ));
    }
    let context = ResolutionContext::new(
        user,
        profile,
        Some(workspace),
        Some(project),
        Some(milestone),
    )
    .expect("valid context");
    let policy = PrecedencePolicy::default();
    let now = Utc.timestamp_opt(1_700_000_100, 0).single().expect("valid");
    let (profile_env, baseline_env) = (env("PROFILE", 5), env("BASELINE", 5));
    c.bench_function("resolver/75_candidates", |b| {
        b.iter_batched(
            || ResolutionInput {
                context: context.clone(),
                candidates: candidates.clone(),
                profile_env: profile_env.clone(),
                baseline_env: baseline_env.clone(),
            },
            |input| {
                let resolution = resolve(input, &policy, now);
                assert_eq!(resolution.entries.len(), 85);
                resolution
            },
            criterion::BatchSize::SmallInput,
        );
    });
    // What vault-api runs: the candidates stay in its cache and are only borrowed.
    c.bench_function("resolver/75_candidates_shared", |b| {
        b.iter_batched(
            || ResolutionInput {
                context: context.clone(),
                candidates: candidates.as_slice(),
                profile_env: profile_env.clone(),
                baseline_env: baseline_env.clone(),
            },
            |input| {
                let resolution = resolve_shared(input, &policy, now);
                assert_eq!(resolution.entries.len(), 85);
                resolution
            },
            criterion::BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
