//! Who owns a secret (`Owner`), where it reaches (`Scope`), and `Placement`, the pair
//! of them, which only exists when the scope is one that owner kind can have.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, IdKind};
use crate::ids::{MilestoneId, ProfileId, ProjectId, UserId, WorkspaceId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    User,
    Workspace,
    Project,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::User => "user",
            OwnerKind::Workspace => "workspace",
            OwnerKind::Project => "project",
        }
    }
}

impl fmt::Display for OwnerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one owner every secret has.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Owner {
    User(UserId),
    Workspace(WorkspaceId),
    Project(ProjectId),
}

impl Owner {
    pub fn kind(&self) -> OwnerKind {
        match self {
            Owner::User(_) => OwnerKind::User,
            Owner::Workspace(_) => OwnerKind::Workspace,
            Owner::Project(_) => OwnerKind::Project,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Owner::User(id) => id.as_str(),
            Owner::Workspace(id) => id.as_str(),
            Owner::Project(id) => id.as_str(),
        }
    }
}

/// The most profile or milestone ids one scope may list.
pub const MAX_SCOPE_TARGETS: usize = 256;

/// A non-empty, de-duplicated, sorted set of scope targets (profile or milestone ids).
/// Sorted so two scopes with the same targets are equal and intersect cheaply.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TargetSet<T>(Vec<T>);

impl<T: Ord> TargetSet<T> {
    fn new(
        targets: impl IntoIterator<Item = T>,
        scope: &'static str,
        kind: IdKind,
    ) -> Result<Self, CoreError> {
        let mut targets: Vec<T> = targets.into_iter().collect();
        targets.sort_unstable();
        targets.dedup();
        if targets.is_empty() {
            return Err(CoreError::EmptyTargets { scope, kind });
        }
        if targets.len() > MAX_SCOPE_TARGETS {
            return Err(CoreError::TooManyTargets {
                scope,
                len: targets.len(),
                max: MAX_SCOPE_TARGETS,
            });
        }
        Ok(TargetSet(targets))
    }

    pub fn contains(&self, target: &T) -> bool {
        self.0.binary_search(target).is_ok()
    }

    /// Targets present in both sets, in order.
    pub fn intersection<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = &'a T> + 'a {
        self.0.iter().filter(|t| other.contains(t))
    }

    pub fn intersects(&self, other: &Self) -> bool {
        self.intersection(other).next().is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: kept for clippy's `len_without_is_empty` and for readers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    All,
    Agents,
    Project,
    Milestone,
}

const SCOPE_KINDS: &str = "all, agents, project, milestone";

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::All => "all",
            ScopeKind::Agents => "agents",
            ScopeKind::Project => "project",
            ScopeKind::Milestone => "milestone",
        }
    }

    /// Narrow scopes list their targets and beat wide ones within one layer.
    pub fn is_narrow(self) -> bool {
        matches!(self, ScopeKind::Agents | ScopeKind::Milestone)
    }
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScopeKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ScopeKind::All,
            ScopeKind::Agents,
            ScopeKind::Project,
            ScopeKind::Milestone,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or(CoreError::UnknownScope {
            expected: SCOPE_KINDS,
        })
    }
}

/// Where a secret reaches within its owner.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every profile of the user, or every session of the workspace.
    All,
    /// Only the listed profiles.
    Agents(TargetSet<ProfileId>),
    /// Every agent assigned to the project.
    Project,
    /// Only agents working on one of the listed milestones.
    Milestones(TargetSet<MilestoneId>),
}

impl Scope {
    pub fn agents(profiles: impl IntoIterator<Item = ProfileId>) -> Result<Self, CoreError> {
        TargetSet::new(profiles, "agents", IdKind::Profile).map(Scope::Agents)
    }

    pub fn milestones(
        milestones: impl IntoIterator<Item = MilestoneId>,
    ) -> Result<Self, CoreError> {
        TargetSet::new(milestones, "milestone", IdKind::Milestone).map(Scope::Milestones)
    }

    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::All => ScopeKind::All,
            Scope::Agents(_) => ScopeKind::Agents,
            Scope::Project => ScopeKind::Project,
            Scope::Milestones(_) => ScopeKind::Milestone,
        }
    }
}

/// An owner together with a scope that owner kind can have: `all`/`agents` for users
/// and workspaces, `project`/`milestone` for projects. No other pairing can be built.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    owner: Owner,
    scope: Scope,
}

impl Placement {
    pub fn new(owner: Owner, scope: Scope) -> Result<Self, CoreError> {
        let fits = matches!(
            (owner.kind(), scope.kind()),
            (
                OwnerKind::User | OwnerKind::Workspace,
                ScopeKind::All | ScopeKind::Agents
            ) | (
                OwnerKind::Project,
                ScopeKind::Project | ScopeKind::Milestone
            )
        );
        if !fits {
            return Err(CoreError::ScopeOwnerMismatch {
                scope: scope.kind().as_str(),
                owner: owner.kind().as_str(),
                allowed: Self::allowed_scopes(owner.kind()),
            });
        }
        Ok(Placement { owner, scope })
    }

    /// The scope a secret gets when its author names none: the owner's widest.
    pub fn widest(owner: Owner) -> Self {
        let scope = match owner.kind() {
            OwnerKind::User | OwnerKind::Workspace => Scope::All,
            OwnerKind::Project => Scope::Project,
        };
        Placement { owner, scope }
    }

    fn allowed_scopes(kind: OwnerKind) -> &'static str {
        match kind {
            OwnerKind::User | OwnerKind::Workspace => "all or agents",
            OwnerKind::Project => "project or milestone",
        }
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn into_parts(self) -> (Owner, Scope) {
        (self.owner, self.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str) -> ProfileId {
        ProfileId::parse(id).expect("valid profile id")
    }

    fn milestone(id: &str) -> MilestoneId {
        MilestoneId::parse(id).expect("valid milestone id")
    }

    fn owners() -> [Owner; 3] {
        [
            Owner::User(UserId::parse("u1").expect("valid")),
            Owner::Workspace(WorkspaceId::parse("w1").expect("valid")),
            Owner::Project(ProjectId::parse("p1").expect("valid")),
        ]
    }

    fn scopes() -> [Scope; 4] {
        [
            Scope::All,
            Scope::agents([profile("a")]).expect("non-empty"),
            Scope::Project,
            Scope::milestones([milestone("m")]).expect("non-empty"),
        ]
    }

    #[test]
    fn owner_kinds_print_their_wire_name() {
        let printed: Vec<String> = owners().iter().map(|o| o.kind().to_string()).collect();
        assert_eq!(printed, ["user", "workspace", "project"]);
        for owner in owners() {
            assert_eq!(owner.kind().to_string(), owner.kind().as_str());
        }
    }

    #[test]
    fn a_target_set_is_never_empty_and_counts_each_target_once() {
        let Ok(Scope::Agents(set)) = Scope::agents([profile("b"), profile("a"), profile("b")])
        else {
            panic!("two profiles make an agents scope");
        };
        assert_eq!(set.len(), 2);
        assert!(!set.is_empty());
        assert!(Scope::agents(std::iter::empty()).is_err());
    }

    #[test]
    fn only_matching_owner_and_scope_pairs_can_be_placed() {
        for owner in owners() {
            for scope in scopes() {
                let expected_fit = match owner.kind() {
                    OwnerKind::User | OwnerKind::Workspace => {
                        matches!(scope, Scope::All | Scope::Agents(_))
                    }
                    OwnerKind::Project => matches!(scope, Scope::Project | Scope::Milestones(_)),
                };
                let placed = Placement::new(owner.clone(), scope.clone());
                assert_eq!(placed.is_ok(), expected_fit, "{owner:?} with {scope:?}");
                if let Err(err) = placed {
                    assert!(matches!(err, CoreError::ScopeOwnerMismatch { .. }));
                }
            }
        }
    }

    #[test]
    fn mismatch_error_names_the_allowed_scopes() {
        let [user, _, project] = owners();
        let err = Placement::new(user, Scope::Project).expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "scope project does not apply to user secrets; user secrets take all or agents"
        );
        let err = Placement::new(project, Scope::All).expect_err("mismatch");
        assert!(err.to_string().contains("project or milestone"));
    }

    #[test]
    fn widest_placement_follows_the_owner_kind() {
        let [user, workspace, project] = owners();
        assert_eq!(Placement::widest(user).scope(), &Scope::All);
        assert_eq!(Placement::widest(workspace).scope(), &Scope::All);
        assert_eq!(Placement::widest(project).scope(), &Scope::Project);
    }

    #[test]
    fn target_sets_are_non_empty_and_deduplicated() {
        assert_eq!(
            Scope::agents([]),
            Err(CoreError::EmptyTargets {
                scope: "agents",
                kind: IdKind::Profile
            })
        );
        assert_eq!(
            Scope::milestones([]),
            Err(CoreError::EmptyTargets {
                scope: "milestone",
                kind: IdKind::Milestone
            })
        );
        let Scope::Agents(set) =
            Scope::agents([profile("b"), profile("a"), profile("b")]).expect("non-empty")
        else {
            panic!("agents scope expected");
        };
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.iter().map(ProfileId::as_str).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            Scope::agents([profile("x"), profile("y")]),
            Scope::agents([profile("y"), profile("x"), profile("x")])
        );
    }

    #[test]
    fn target_sets_are_bounded() {
        let many = (0..=MAX_SCOPE_TARGETS).map(|i| profile(&format!("p{i}")));
        assert_eq!(
            Scope::agents(many),
            Err(CoreError::TooManyTargets {
                scope: "agents",
                len: MAX_SCOPE_TARGETS + 1,
                max: MAX_SCOPE_TARGETS
            })
        );
        let exactly = (0..MAX_SCOPE_TARGETS).map(|i| profile(&format!("p{i}")));
        assert!(Scope::agents(exactly).is_ok());
    }

    #[test]
    fn intersection_finds_shared_targets() {
        let (Scope::Agents(a), Scope::Agents(b), Scope::Agents(c)) = (
            Scope::agents([profile("a"), profile("b")]).expect("ok"),
            Scope::agents([profile("b"), profile("c")]).expect("ok"),
            Scope::agents([profile("c")]).expect("ok"),
        ) else {
            panic!("agents scopes expected");
        };
        assert!(a.intersects(&b));
        assert!(!a.intersects(&c));
        assert_eq!(a.intersection(&b).collect::<Vec<_>>(), [&profile("b")]);
    }

    #[test]
    fn scope_kinds_parse_from_their_wire_names() {
        for kind in [
            ScopeKind::All,
            ScopeKind::Agents,
            ScopeKind::Project,
            ScopeKind::Milestone,
        ] {
            assert_eq!(kind.as_str().parse::<ScopeKind>(), Ok(kind));
        }
        assert!(matches!(
            "everyone".parse::<ScopeKind>(),
            Err(CoreError::UnknownScope { .. })
        ));
    }

    #[test]
    fn owners_serialize_with_kind_and_id() {
        let owner = Owner::Workspace(WorkspaceId::parse("ws-1").expect("valid"));
        let json = serde_json::to_string(&owner).expect("serializes");
        assert_eq!(json, r#"{"kind":"workspace","id":"ws-1"}"#);
        assert_eq!(
            serde_json::from_str::<Owner>(&json).expect("deserializes"),
            owner
        );
        assert!(serde_json::from_str::<Owner>(r#"{"kind":"user","id":"bad id"}"#).is_err());
    }
}
