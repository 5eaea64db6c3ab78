//! Property tests of the resolver over small random universes, checked against an
//! independent oracle of which secrets apply and in what order layers rank.

use proptest::prelude::*;
use proptest::sample::subsequence;

use super::fixtures::*;
use super::*;
use crate::scope::TargetSet;

const USERS: [&str; 2] = ["u1", "u2"];
const PROFILES: [&str; 3] = ["p1", "p2", "p3"];
const WORKSPACES: [&str; 2] = ["w1", "w2"];
const PROJECTS: [&str; 2] = ["j1", "j2"];
const MILESTONES: [&str; 3] = ["m1", "m2", "m3"];
/// `PATH` is protected by the built-in list: stored layers never serve it.
const NAMES: [&str; 5] = ["A", "B", "C", "D", "PATH"];

fn profile_scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::All),
        subsequence(PROFILES.to_vec(), 1..=3).prop_map(|ids| agents(&ids)),
    ]
}

fn project_scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Project),
        subsequence(MILESTONES.to_vec(), 1..=3).prop_map(|ids| milestones(&ids)),
    ]
}

fn placement() -> impl Strategy<Value = (Owner, Scope)> {
    prop_oneof![
        (prop::sample::select(USERS.to_vec()), profile_scope()).prop_map(|(u, s)| (user(u), s)),
        (prop::sample::select(WORKSPACES.to_vec()), profile_scope())
            .prop_map(|(w, s)| (workspace(w), s)),
        (prop::sample::select(PROJECTS.to_vec()), project_scope())
            .prop_map(|(p, s)| (project(p), s)),
    ]
}

fn expiry() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), (-3i64..3).prop_map(|offset| Some(NOW + offset))]
}

fn candidates() -> impl Strategy<Value = Vec<Candidate<SecretValue>>> {
    prop::collection::vec(
        (prop::sample::select(NAMES.to_vec()), placement(), expiry()),
        0..24,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(n, (name, (owner, scope), expires))| {
                candidate(n, name, owner, scope, expires, &format!("secret-{n}"))
            })
            .collect()
    })
}

fn resolution_context() -> impl Strategy<Value = ResolutionContext> {
    (
        prop::sample::select(USERS.to_vec()),
        prop::sample::select(PROFILES.to_vec()),
        prop::option::of(prop::sample::select(WORKSPACES.to_vec())),
        prop::option::of((
            prop::sample::select(PROJECTS.to_vec()),
            prop::option::of(prop::sample::select(MILESTONES.to_vec())),
        )),
    )
        .prop_map(|(u, p, w, project)| {
            let (project, milestone) = project.map_or((None, None), |(j, m)| (Some(j), m));
            context(u, p, w, project, milestone)
        })
}

fn supplied(prefix: &'static str) -> impl Strategy<Value = EnvMap> {
    subsequence(NAMES.to_vec(), 0..=5).prop_map(move |names| {
        names
            .into_iter()
            .map(|n| (env_name(n), value(&format!("{prefix}-{n}"))))
            .collect()
    })
}

fn policy() -> impl Strategy<Value = PrecedencePolicy> {
    (
        Just(Layer::ALL.to_vec()).prop_shuffle(),
        subsequence(NAMES.to_vec(), 0..=2),
    )
        .prop_map(|(order, reserved)| {
            PrecedencePolicy::new(&order, reserved.into_iter().map(env_name))
                .expect("a permutation of every layer")
        })
}

/// The oracle: written from the spec, independently of `Placement::reaches`.
fn applies(meta: &SecretMeta, ctx: &ResolutionContext) -> bool {
    let has_profile = |ids: &TargetSet<ProfileId>| ids.iter().any(|p| p == ctx.profile());
    let has_milestone = |ids: &TargetSet<MilestoneId>| {
        ctx.milestone()
            .is_some_and(|m| ids.iter().any(|id| id == m))
    };
    match (meta.placement.owner(), meta.placement.scope()) {
        (Owner::User(u), Scope::All) => u == ctx.user(),
        (Owner::User(u), Scope::Agents(p)) => u == ctx.user() && has_profile(p),
        (Owner::Workspace(w), Scope::All) => Some(w) == ctx.workspace(),
        (Owner::Workspace(w), Scope::Agents(p)) => Some(w) == ctx.workspace() && has_profile(p),
        (Owner::Project(j), Scope::Project) => Some(j) == ctx.project(),
        (Owner::Project(j), Scope::Milestones(m)) => Some(j) == ctx.project() && has_milestone(m),
        _ => false,
    }
}

fn layer_of(meta: &SecretMeta) -> Layer {
    match meta.placement.owner() {
        Owner::User(_) => Layer::UserSecrets,
        Owner::Workspace(_) => Layer::WorkspaceKeys,
        Owner::Project(_) => Layer::ProjectVault,
    }
}

fn position(policy: &PrecedencePolicy, layer: Layer) -> usize {
    policy
        .layers()
        .iter()
        .position(|l| *l == layer)
        .expect("every layer listed")
}

type Summary = (
    BTreeMap<String, (String, Source, Vec<Source>)>,
    Vec<Skipped>,
);

fn summary(resolution: &Resolution<SecretValue>) -> Summary {
    let entries = resolution
        .entries
        .iter()
        .map(|(name, r)| {
            let value = match &r.value {
                ResolvedValue::Supplied(v) | ResolvedValue::Stored(v) => v.expose().to_owned(),
            };
            (
                name.as_str().to_owned(),
                (value, r.source.clone(), r.shadowed.clone()),
            )
        })
        .collect();
    (entries, resolution.skipped.clone())
}

#[derive(Clone, Debug)]
struct Case {
    ctx: ResolutionContext,
    candidates: Vec<Candidate<SecretValue>>,
    profile_env: EnvMap,
    baseline_env: EnvMap,
    policy: PrecedencePolicy,
}

impl Case {
    fn resolve_with(&self, candidates: Vec<Candidate<SecretValue>>) -> Resolution<SecretValue> {
        resolve(
            ResolutionInput {
                context: self.ctx.clone(),
                candidates,
                profile_env: self.profile_env.clone(),
                baseline_env: self.baseline_env.clone(),
            },
            &self.policy,
            at(NOW),
        )
    }

    fn live_applicable(&self) -> impl Iterator<Item = &Candidate<SecretValue>> {
        self.candidates.iter().filter(|c| {
            applies(&c.meta, &self.ctx)
                && !c.meta.is_expired(at(NOW))
                && !is_protected_here(&c.meta)
        })
    }
}

/// The oracle's own protected list for this universe: written out, not asked of the
/// policy under test.
fn is_protected_here(meta: &SecretMeta) -> bool {
    meta.name.as_str() == "PATH"
}

fn case() -> impl Strategy<Value = Case> {
    (
        resolution_context(),
        candidates(),
        supplied("profile"),
        supplied("baseline"),
        policy(),
    )
        .prop_map(
            |(ctx, candidates, profile_env, baseline_env, policy)| Case {
                ctx,
                candidates,
                profile_env,
                baseline_env,
                policy,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_expired_and_no_out_of_scope_entry_is_ever_served(case in case()) {
        let resolution = case.resolve_with(case.candidates.clone());
        let served = resolution
            .entries
            .values()
            .flat_map(|r| std::iter::once(&r.source).chain(&r.shadowed));
        for source in served {
            if let Some(secret) = &source.secret {
                let c = case
                    .candidates
                    .iter()
                    .find(|c| c.meta.id == secret.id)
                    .expect("sources name real candidates");
                prop_assert!(applies(&c.meta, &case.ctx), "out of scope: {:?}", c.meta);
                prop_assert!(!c.meta.is_expired(at(NOW)), "expired: {:?}", c.meta);
            }
        }
        for (name, resolved) in &resolution.entries {
            if let (Some(secret), ResolvedValue::Stored(value)) =
                (&resolved.source.secret, &resolved.value)
            {
                let c = case.candidates.iter().find(|c| c.meta.id == secret.id).expect("real");
                prop_assert_eq!(c.meta.name.as_str(), name.as_str());
                prop_assert_eq!(value, &c.payload);
            }
        }
        for c in &case.candidates {
            let expired_here = applies(&c.meta, &case.ctx)
                && c.meta.is_expired(at(NOW))
                && !is_protected_here(&c.meta);
            let listed = resolution.skipped.iter().any(|s| {
                s.reason == SkipReason::Expired
                    && s.source.secret.as_ref().map(|r| &r.id) == Some(&c.meta.id)
            });
            prop_assert_eq!(expired_here, listed, "expiry listing of {:?}", c.meta);
        }
    }

    #[test]
    fn higher_layers_beat_lower_and_narrow_beats_wide(case in case()) {
        let resolution = case.resolve_with(case.candidates.clone());
        for c in case.live_applicable() {
            let name = EnvName::from(&c.meta.name);
            if case.policy.is_reserved(&name) {
                continue;
            }
            let winner = &resolution.entries.get(&name).expect("a live entry always resolves").source;
            let mine = position(&case.policy, layer_of(&c.meta));
            let theirs = position(&case.policy, winner.layer);
            prop_assert!(theirs <= mine, "{:?} lost to lower layer {:?}", c.meta, winner);
            if theirs == mine && c.meta.placement.scope().kind().is_narrow() {
                let winner_scope = winner.secret.as_ref().expect("same stored layer").scope;
                prop_assert!(winner_scope.is_narrow(), "narrow {:?} lost to {:?}", c.meta, winner);
            }
        }
        for (layer, env) in [(Layer::ProfileEnv, &case.profile_env), (Layer::Baseline, &case.baseline_env)] {
            for name in env.keys() {
                if case.policy.is_reserved(name) {
                    continue;
                }
                let winner = &resolution.entries[name].source;
                prop_assert!(position(&case.policy, winner.layer) <= position(&case.policy, layer));
            }
        }
    }

    #[test]
    fn no_stored_secret_is_ever_served_under_a_protected_name(case in case()) {
        let resolution = case.resolve_with(case.candidates.clone());
        for (name, resolved) in &resolution.entries {
            if name.as_str() == "PATH" {
                prop_assert!(resolved.source.secret.is_none(), "stored PATH served: {:?}", resolved.source);
                prop_assert!(resolved.shadowed.iter().all(|s| s.secret.is_none()));
            }
        }
        for c in &case.candidates {
            let skipped = resolution.skipped.iter().any(|s| {
                s.reason == SkipReason::Protected
                    && s.source.secret.as_ref().map(|r| &r.id) == Some(&c.meta.id)
            });
            prop_assert_eq!(
                skipped,
                applies(&c.meta, &case.ctx) && is_protected_here(&c.meta),
                "protection listing of {:?}", c.meta
            );
        }
        // The orchestrator's own layers still set it (unless it is also reserved).
        let supplied = case.profile_env.contains_key("PATH") || case.baseline_env.contains_key("PATH");
        let reserved = case.policy.is_reserved(&env_name("PATH"));
        if supplied && !reserved {
            prop_assert!(resolution.entries.contains_key("PATH"));
        }
    }

    #[test]
    fn reserved_baseline_names_are_never_overridden(case in case()) {
        let resolution = case.resolve_with(case.candidates.clone());
        for name in case.policy.reserved() {
            match case.baseline_env.get(name) {
                Some(expected) => {
                    let entry = &resolution.entries[name];
                    prop_assert_eq!(entry.source.layer, Layer::Baseline);
                    prop_assert!(matches!(&entry.value, ResolvedValue::Supplied(v) if v == expected));
                }
                None => prop_assert!(!resolution.entries.contains_key(name)),
            }
        }
    }

    #[test]
    fn shared_candidates_resolve_as_owned_ones_do(case in case()) {
        let shared = resolve_shared(
            ResolutionInput {
                context: case.ctx.clone(),
                candidates: case.candidates.as_slice(),
                profile_env: case.profile_env.clone(),
                baseline_env: case.baseline_env.clone(),
            },
            &case.policy,
            at(NOW),
        );
        for resolved in shared.entries.values() {
            if let ResolvedValue::Stored(candidate) = &resolved.value {
                let named = resolved.source.secret.as_ref().map(|s| &s.id);
                prop_assert_eq!(named, Some(&candidate.meta.id), "a winner is the candidate its source names");
            }
        }
        let shared = shared
            .try_map_stored(|_, candidate| Ok::<_, ()>(candidate.payload.clone()))
            .expect("cloning cannot fail");
        prop_assert_eq!(summary(&case.resolve_with(case.candidates.clone())), summary(&shared));
    }

    #[test]
    fn output_does_not_depend_on_candidate_order(
        (case, shuffled) in case().prop_flat_map(|case| {
            let shuffled = Just(case.candidates.clone()).prop_shuffle();
            (Just(case), shuffled)
        })
    ) {
        let original = summary(&case.resolve_with(case.candidates.clone()));
        let reordered = summary(&case.resolve_with(shuffled));
        prop_assert_eq!(original, reordered);
    }
}
