//! Builders shared by the resolver's example tests and property tests.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::category::Category;
use crate::name::SecretName;
use crate::secret::{ExpiresAt, Version};

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .expect("valid timestamp")
}

pub const NOW: i64 = 1_700_000_000;

pub fn value(text: &str) -> SecretValue {
    SecretValue::new(text.to_owned()).expect("fits")
}

pub fn env_name(name: &str) -> EnvName {
    EnvName::parse(name).expect("valid env name")
}

pub fn env(pairs: &[(&str, &str)]) -> EnvMap {
    pairs
        .iter()
        .map(|(name, text)| (env_name(name), value(text)))
        .collect()
}

pub fn user(id: &str) -> Owner {
    Owner::User(UserId::parse(id).expect("valid"))
}

pub fn workspace(id: &str) -> Owner {
    Owner::Workspace(WorkspaceId::parse(id).expect("valid"))
}

pub fn project(id: &str) -> Owner {
    Owner::Project(ProjectId::parse(id).expect("valid"))
}

pub fn agents(ids: &[&str]) -> Scope {
    Scope::agents(ids.iter().map(|id| ProfileId::parse(id).expect("valid"))).expect("non-empty")
}

pub fn milestones(ids: &[&str]) -> Scope {
    Scope::milestones(ids.iter().map(|id| MilestoneId::parse(id).expect("valid")))
        .expect("non-empty")
}

/// A deterministic, valid secret id for fixture number `n`.
pub fn secret_id(n: usize) -> SecretId {
    SecretId::parse(&format!("sec_{n:0>21}")).expect("valid id")
}

pub fn candidate(
    n: usize,
    name: &str,
    owner: Owner,
    scope: Scope,
    expires_at: Option<i64>,
    payload: &str,
) -> Candidate<SecretValue> {
    Candidate {
        meta: SecretMeta {
            id: secret_id(n),
            name: SecretName::parse(name).expect("valid name"),
            placement: Placement::new(owner, scope).expect("matching scope"),
            category: Category::Other,
            description: None,
            expires_at: expires_at.map(|secs| ExpiresAt::stored(at(secs))),
            version: Version::FIRST,
            created_at: at(NOW - 10_000),
            updated_at: at(NOW - 10_000),
        },
        payload: value(payload),
    }
}

pub fn context(
    user: &str,
    profile: &str,
    workspace: Option<&str>,
    project: Option<&str>,
    milestone: Option<&str>,
) -> ResolutionContext {
    ResolutionContext::new(
        UserId::parse(user).expect("valid"),
        ProfileId::parse(profile).expect("valid"),
        workspace.map(|w| WorkspaceId::parse(w).expect("valid")),
        project.map(|p| ProjectId::parse(p).expect("valid")),
        milestone.map(|m| MilestoneId::parse(m).expect("valid")),
    )
    .expect("valid context")
}

/// The env as plain strings, for comparisons in tests only.
pub fn exposed(resolution: Resolution<SecretValue>) -> BTreeMap<String, String> {
    resolution
        .into_env()
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.expose().to_owned()))
        .collect()
}
