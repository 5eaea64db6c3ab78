//! The resolver: merges every layer that applies to one resolution context into the
//! env map an agent container receives, and explains the result.
//!
//! It decides on metadata alone and never looks inside a payload, so callers can hand
//! it sealed envelopes and decrypt only the winners: expired and shadowed entries are
//! never opened.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ids::{MilestoneId, ProfileId, ProjectId, SecretId, UserId, WorkspaceId};
use crate::name::EnvName;
use crate::policy::{Layer, PrecedencePolicy};
use crate::scope::{Owner, Placement, Scope, ScopeKind};
use crate::secret::SecretMeta;
use crate::value::SecretValue;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

/// Whom an environment is being built for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResolutionContext {
    user: UserId,
    profile: ProfileId,
    workspace: Option<WorkspaceId>,
    project: Option<ProjectId>,
    milestone: Option<MilestoneId>,
}

/// A resolution context as a request spells it, field by field, before parsing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextFields<'a> {
    pub user_id: &'a str,
    pub profile_id: &'a str,
    pub workspace_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub milestone_id: Option<&'a str>,
}

impl ResolutionContext {
    /// Parses every field in the order a request lists them; a refusal names the
    /// first bad field (a milestone without its project is the milestone's fault).
    pub fn parse(fields: ContextFields<'_>) -> Result<Self, (&'static str, CoreError)> {
        fn optional<T>(
            field: &'static str,
            value: Option<&str>,
            parse: fn(&str) -> Result<T, CoreError>,
        ) -> Result<Option<T>, (&'static str, CoreError)> {
            value.map(parse).transpose().map_err(|error| (field, error))
        }
        let user = UserId::parse(fields.user_id).map_err(|error| ("user_id", error))?;
        let profile = ProfileId::parse(fields.profile_id).map_err(|error| ("profile_id", error))?;
        let workspace = optional("workspace_id", fields.workspace_id, WorkspaceId::parse)?;
        let project = optional("project_id", fields.project_id, ProjectId::parse)?;
        let milestone = optional("milestone_id", fields.milestone_id, MilestoneId::parse)?;
        ResolutionContext::new(user, profile, workspace, project, milestone)
            .map_err(|error| ("milestone_id", error))
    }

    pub fn new(
        user: UserId,
        profile: ProfileId,
        workspace: Option<WorkspaceId>,
        project: Option<ProjectId>,
        milestone: Option<MilestoneId>,
    ) -> Result<Self, CoreError> {
        if milestone.is_some() && project.is_none() {
            return Err(CoreError::MilestoneWithoutProject);
        }
        Ok(ResolutionContext {
            user,
            profile,
            workspace,
            project,
            milestone,
        })
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }

    pub fn profile(&self) -> &ProfileId {
        &self.profile
    }

    pub fn workspace(&self) -> Option<&WorkspaceId> {
        self.workspace.as_ref()
    }

    pub fn project(&self) -> Option<&ProjectId> {
        self.project.as_ref()
    }

    pub fn milestone(&self) -> Option<&MilestoneId> {
        self.milestone.as_ref()
    }
}

impl Placement {
    /// Whether a secret placed here is meant for `context` at all.
    pub fn reaches(&self, context: &ResolutionContext) -> bool {
        let owner_matches = match self.owner() {
            Owner::User(user) => *user == context.user,
            Owner::Workspace(workspace) => context.workspace.as_ref() == Some(workspace),
            Owner::Project(project) => context.project.as_ref() == Some(project),
        };
        owner_matches
            && match self.scope() {
                Scope::All | Scope::Project => true,
                Scope::Agents(profiles) => profiles.contains(&context.profile),
                Scope::Milestones(milestones) => context
                    .milestone
                    .as_ref()
                    .is_some_and(|m| milestones.contains(m)),
            }
    }
}

/// A stored secret offered to the resolver: its metadata and an opaque payload (the
/// value itself, or whatever the caller will turn into it for the winners).
#[derive(Clone, Debug)]
pub struct Candidate<V> {
    pub meta: SecretMeta,
    pub payload: V,
}

pub type EnvMap = BTreeMap<EnvName, SecretValue>;

/// What a resolution merges. `C` is the candidates: owned (`Vec<Candidate<V>>`, for
/// [`resolve`]) or borrowed from a caller that keeps them (`&[Candidate<V>]`, for
/// [`resolve_shared`]).
pub struct ResolutionInput<C> {
    pub context: ResolutionContext,
    pub candidates: C,
    /// The profile's `setup_commands` env.
    pub profile_env: EnvMap,
    /// The platform's baseline env.
    pub baseline_env: EnvMap,
}

/// Where an entry came from: a layer, and for stored secrets which one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub layer: Layer,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    #[serde(rename = "secret_id")]
    pub id: SecretId,
    pub scope: ScopeKind,
}

/// A winning value: one the orchestrator supplied, or a stored secret's payload.
#[derive(Clone, Debug)]
pub enum ResolvedValue<V> {
    Supplied(SecretValue),
    Stored(V),
}

#[derive(Clone, Debug)]
pub struct Resolved<V> {
    pub value: ResolvedValue<V>,
    pub source: Source,
    /// Everything that also had this name and lost, highest first.
    pub shadowed: Vec<Source>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Past its `expires_at`: never decrypted, never served.
    Expired,
    /// The name is reserved for the platform baseline.
    Reserved,
    /// The name is protected: only the orchestrator's layers may set it, so a stored
    /// secret under it (one written before the name was protected) is never opened.
    Protected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub name: EnvName,
    pub source: Source,
    pub reason: SkipReason,
}

#[derive(Clone, Debug)]
pub struct Resolution<V> {
    pub entries: BTreeMap<EnvName, Resolved<V>>,
    /// Entries that applied but were left out, ordered by name then precedence.
    pub skipped: Vec<Skipped>,
}

impl<V> Resolution<V> {
    /// Names left out because every entry that had them has expired or lost to a live one.
    pub fn expired_names(&self) -> impl Iterator<Item = &EnvName> {
        self.skipped
            .iter()
            .filter(|s| s.reason == SkipReason::Expired)
            .map(|s| &s.name)
    }

    /// Turns every stored payload into another; the first error aborts the whole map,
    /// so a caller never ends up holding part of an environment.
    pub fn try_map_stored<W, E>(
        self,
        mut convert: impl FnMut(&Source, V) -> Result<W, E>,
    ) -> Result<Resolution<W>, E> {
        let entries = self
            .entries
            .into_iter()
            .map(|(name, resolved)| {
                let value = match resolved.value {
                    ResolvedValue::Supplied(value) => ResolvedValue::Supplied(value),
                    ResolvedValue::Stored(payload) => {
                        ResolvedValue::Stored(convert(&resolved.source, payload)?)
                    }
                };
                Ok((
                    name,
                    Resolved {
                        value,
                        source: resolved.source,
                        shadowed: resolved.shadowed,
                    },
                ))
            })
            .collect::<Result<_, E>>()?;
        Ok(Resolution {
            entries,
            skipped: self.skipped,
        })
    }
}

impl Resolution<SecretValue> {
    /// Whether the environment fits `limit`, without giving up the resolution.
    pub fn check_size(
        &self,
        limit: crate::limits::EnvLimit,
    ) -> Result<(), crate::limits::EnvTooLarge> {
        limit.check_sizes(self.entries.iter().map(|(name, resolved)| {
            let value = match &resolved.value {
                ResolvedValue::Supplied(value) | ResolvedValue::Stored(value) => value,
            };
            (name, value.expose().len())
        }))
    }

    /// The environment to inject.
    pub fn into_env(self) -> EnvMap {
        self.entries
            .into_iter()
            .map(|(name, resolved)| {
                let value = match resolved.value {
                    ResolvedValue::Supplied(value) | ResolvedValue::Stored(value) => value,
                };
                (name, value)
            })
            .collect()
    }
}

/// Where a source stands for one name, best first: layer by the policy, then narrow
/// scopes before wide ones, then secret id, so the result never depends on the order
/// of the input (ids only decide when the overlap rule was bypassed and two equal
/// scopes compete).
fn precedence<'a>(
    policy: &PrecedencePolicy,
    source: &'a Source,
) -> (usize, bool, Option<&'a SecretId>) {
    let secret = source.secret.as_ref();
    (
        policy.rank(source.layer),
        secret.is_some_and(|s| !s.scope.is_narrow()),
        secret.map(|s| &s.id),
    )
}

struct Contender<V> {
    source: Source,
    value: ResolvedValue<V>,
}

/// Merges owned candidates; each stored winner keeps its payload.
pub fn resolve<V>(
    input: ResolutionInput<Vec<Candidate<V>>>,
    policy: &PrecedencePolicy,
    now: DateTime<Utc>,
) -> Resolution<V> {
    let ResolutionInput {
        context,
        candidates,
        profile_env,
        baseline_env,
    } = input;
    let (metas, payloads): (Vec<SecretMeta>, Vec<V>) = candidates
        .into_iter()
        .map(|Candidate { meta, payload }| (meta, payload))
        .unzip();
    merge(
        &context,
        metas.iter().zip(payloads),
        profile_env,
        baseline_env,
        policy,
        now,
    )
}

/// Merges candidates the caller keeps (a cache's, say) without copying them: only the
/// ids and names of entries that apply are cloned, and each stored winner is a
/// reference to its candidate, metadata included, for the caller to open.
pub fn resolve_shared<'a, V>(
    input: ResolutionInput<&'a [Candidate<V>]>,
    policy: &PrecedencePolicy,
    now: DateTime<Utc>,
) -> Resolution<&'a Candidate<V>> {
    let ResolutionInput {
        context,
        candidates,
        profile_env,
        baseline_env,
    } = input;
    merge(
        &context,
        candidates
            .iter()
            .map(|candidate| (&candidate.meta, candidate)),
        profile_env,
        baseline_env,
        policy,
        now,
    )
}

fn merge<'m, P>(
    context: &ResolutionContext,
    candidates: impl IntoIterator<Item = (&'m SecretMeta, P)>,
    profile_env: EnvMap,
    baseline_env: EnvMap,
    policy: &PrecedencePolicy,
    now: DateTime<Utc>,
) -> Resolution<P> {
    // One flat list sorted by name, then precedence, rather than a list per name: a
    // resolution weighs dozens of names, and this is its hot loop.
    let mut contenders: Vec<(EnvName, Contender<P>)> = Vec::new();
    let mut skipped = Vec::new();

    let supplied = [
        (Layer::ProfileEnv, profile_env),
        (Layer::Baseline, baseline_env),
    ];
    for (layer, env) in supplied {
        for (name, value) in env {
            let source = Source {
                layer,
                secret: None,
            };
            let value = ResolvedValue::Supplied(value);
            contenders.push((name, Contender { source, value }));
        }
    }

    for (meta, payload) in candidates {
        if !meta.placement.reaches(context) {
            continue;
        }
        let source = Source {
            layer: Layer::of_owner(meta.placement.owner().kind()),
            secret: Some(SecretRef {
                scope: meta.placement.scope().kind(),
                id: meta.id.clone(),
            }),
        };
        let name = EnvName::from(&meta.name);
        if policy.is_protected(&name) {
            skipped.push(Skipped {
                name,
                source,
                reason: SkipReason::Protected,
            });
            continue;
        }
        if meta.is_expired(now) {
            skipped.push(Skipped {
                name,
                source,
                reason: SkipReason::Expired,
            });
            continue;
        }
        let value = ResolvedValue::Stored(payload);
        contenders.push((name, Contender { source, value }));
    }

    contenders.sort_by(|(a_name, a), (b_name, b)| {
        (a_name, precedence(policy, &a.source)).cmp(&(b_name, precedence(policy, &b.source)))
    });
    let mut entries = Vec::new();
    let mut contenders = contenders.into_iter().peekable();
    while let Some((name, first)) = contenders.next() {
        let reserved = policy.is_reserved(&name);
        let mut winner = None;
        let mut shadowed = Vec::new();
        let rest = std::iter::from_fn(|| contenders.next_if(|(next, _)| *next == name));
        for contender in std::iter::once(first).chain(rest.map(|(_, c)| c)) {
            if reserved && contender.source.layer != Layer::Baseline {
                skipped.push(Skipped {
                    name: name.clone(),
                    source: contender.source,
                    reason: SkipReason::Reserved,
                });
            } else if winner.is_none() {
                winner = Some(contender);
            } else {
                shadowed.push(contender.source);
            }
        }
        if let Some(winner) = winner {
            let resolved = Resolved {
                value: winner.value,
                source: winner.source,
                shadowed,
            };
            entries.push((name, resolved));
        }
    }
    // Built from names in order, so the map is filled in bulk.
    let entries = entries.into_iter().collect();

    skipped.sort_by(|a, b| {
        (&a.name, precedence(policy, &a.source)).cmp(&(&b.name, precedence(policy, &b.source)))
    });

    Resolution { entries, skipped }
}
