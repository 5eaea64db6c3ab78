//! The precedence policy: which layer of the environment beats which, the names only
//! the platform may set, and the protected names stored layers may never inject.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::name::EnvName;
use crate::protected::ProtectedNames;
use crate::scope::OwnerKind;

/// One source of environment variables at resolution time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The profile's `setup_commands` env, passed by the orchestrator.
    ProfileEnv,
    /// The user's own secrets.
    UserSecrets,
    /// The workspace's BYOK keys.
    WorkspaceKeys,
    /// The project vault: fills gaps only.
    ProjectVault,
    /// The platform baseline env, passed by the orchestrator.
    Baseline,
}

impl Layer {
    pub const ALL: [Layer; 5] = [
        Layer::ProfileEnv,
        Layer::UserSecrets,
        Layer::WorkspaceKeys,
        Layer::ProjectVault,
        Layer::Baseline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::ProfileEnv => "profile_env",
            Layer::UserSecrets => "user_secrets",
            Layer::WorkspaceKeys => "workspace_keys",
            Layer::ProjectVault => "project_vault",
            Layer::Baseline => "baseline",
        }
    }

    /// How the README's precedence table describes the layer.
    pub fn describe(self) -> &'static str {
        match self {
            Layer::ProfileEnv => "profile `setup_commands` env (passed by the orchestrator)",
            Layer::UserSecrets => "user secrets (`agents` before `all`)",
            Layer::WorkspaceKeys => "workspace BYOK keys (`agents` before `all`)",
            Layer::ProjectVault => "project vault (`milestone` before `project`)",
            Layer::Baseline => "platform baseline env (passed by the orchestrator)",
        }
    }

    /// The layer a stored secret belongs to.
    pub fn of_owner(kind: OwnerKind) -> Layer {
        match kind {
            OwnerKind::User => Layer::UserSecrets,
            OwnerKind::Workspace => Layer::WorkspaceKeys,
            OwnerKind::Project => Layer::ProjectVault,
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Layers ordered highest first, plus the platform-reserved names (only ever taken
/// from the baseline, whatever the order, so no lower-trust layer can set or override
/// them) and the protected names (only ever taken from the layers the orchestrator
/// supplies: no stored secret, of any owner, is injected under one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrecedencePolicy {
    order: [Layer; 5],
    reserved: BTreeSet<EnvName>,
    protected: ProtectedNames,
}

impl PrecedencePolicy {
    pub fn new(
        order: &[Layer],
        reserved: impl IntoIterator<Item = EnvName>,
    ) -> Result<Self, CoreError> {
        let problem = |problem: String| CoreError::InvalidPolicy { problem };
        let order: [Layer; 5] = order
            .try_into()
            .map_err(|_| problem(format!("got {} layers, expected 5", order.len())))?;
        for layer in Layer::ALL {
            if !order.contains(&layer) {
                return Err(problem(format!("{layer} is missing")));
            }
        }
        Ok(PrecedencePolicy {
            order,
            reserved: reserved.into_iter().collect(),
            protected: ProtectedNames::built_in(),
        })
    }

    /// Highest first.
    pub fn layers(&self) -> &[Layer] {
        &self.order
    }

    /// 0 for the highest layer.
    pub fn rank(&self, layer: Layer) -> usize {
        self.order
            .iter()
            .position(|&l| l == layer)
            .unwrap_or(self.order.len())
    }

    pub fn is_reserved(&self, name: &EnvName) -> bool {
        self.reserved.contains(name)
    }

    pub fn reserved(&self) -> impl Iterator<Item = &EnvName> {
        self.reserved.iter()
    }

    pub fn with_reserved(mut self, names: impl IntoIterator<Item = EnvName>) -> Self {
        self.reserved = names.into_iter().collect();
        self
    }

    /// Whether a stored secret under this name may never be injected.
    pub fn is_protected(&self, name: &EnvName) -> bool {
        self.protected.is_protected(name.as_str())
    }

    pub fn protected(&self) -> &ProtectedNames {
        &self.protected
    }

    pub fn with_protected(mut self, protected: ProtectedNames) -> Self {
        self.protected = protected;
        self
    }
}

/// The product's documented order (README, "Precedence"), with no reserved names and
/// the built-in protected names.
impl Default for PrecedencePolicy {
    fn default() -> Self {
        PrecedencePolicy {
            order: Layer::ALL,
            reserved: BTreeSet::new(),
            protected: ProtectedNames::built_in(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_listed_sorted_and_once() {
        let name = |n: &str| EnvName::parse(n).expect("valid");
        let policy = PrecedencePolicy::default().with_reserved([
            name("VAULT_TASK_ID"),
            name("AGENT_ID"),
            name("VAULT_TASK_ID"),
        ]);
        let listed: Vec<&str> = policy.reserved().map(|n| n.as_str()).collect();
        assert_eq!(listed, ["AGENT_ID", "VAULT_TASK_ID"]);
        assert!(policy.is_reserved(&name("AGENT_ID")));
        assert!(!policy.is_reserved(&name("OTHER")));
    }

    #[test]
    fn default_order_is_the_documented_one() {
        let policy = PrecedencePolicy::default();
        assert_eq!(
            policy.layers(),
            [
                Layer::ProfileEnv,
                Layer::UserSecrets,
                Layer::WorkspaceKeys,
                Layer::ProjectVault,
                Layer::Baseline
            ]
        );
        assert_eq!(policy.rank(Layer::ProfileEnv), 0);
        assert_eq!(policy.rank(Layer::Baseline), 4);
    }

    #[test]
    fn the_readme_table_matches_the_default_policy() {
        let readme = include_str!("../../README.md");
        for (position, layer) in PrecedencePolicy::default().layers().iter().enumerate() {
            let row = format!(
                "| {} | `{}` | {} |",
                position + 1,
                layer.as_str(),
                layer.describe()
            );
            assert!(readme.contains(&row), "README lacks the row {row:?}");
        }
    }

    #[test]
    fn a_policy_must_list_every_layer_once() {
        assert!(PrecedencePolicy::new(&Layer::ALL, []).is_ok());
        let mut reversed = Layer::ALL;
        reversed.reverse();
        assert_eq!(
            PrecedencePolicy::new(&reversed, [])
                .map(|p| p.rank(Layer::Baseline))
                .ok(),
            Some(0)
        );
        assert_eq!(
            PrecedencePolicy::new(&Layer::ALL[..4], []),
            Err(CoreError::InvalidPolicy {
                problem: "got 4 layers, expected 5".into()
            })
        );
        let doubled = [
            Layer::ProfileEnv,
            Layer::ProfileEnv,
            Layer::WorkspaceKeys,
            Layer::ProjectVault,
            Layer::Baseline,
        ];
        assert_eq!(
            PrecedencePolicy::new(&doubled, []),
            Err(CoreError::InvalidPolicy {
                problem: "user_secrets is missing".into()
            })
        );
    }

    #[test]
    fn reserved_names_are_configurable() {
        let name = EnvName::parse("ANTHROPIC_API_KEY").expect("valid");
        let policy = PrecedencePolicy::default().with_reserved([name.clone()]);
        assert!(policy.is_reserved(&name));
        assert!(!PrecedencePolicy::default().is_reserved(&name));
    }

    #[test]
    fn built_in_protected_names_come_with_every_policy() {
        let preload = EnvName::parse("LD_PRELOAD").expect("valid");
        assert!(PrecedencePolicy::default().is_protected(&preload));
        let reordered = PrecedencePolicy::new(&Layer::ALL, []).expect("valid");
        assert!(reordered.is_protected(&preload));
        let released = ProtectedNames::configure(&[], &["LD_*".into()]).expect("valid");
        assert!(
            !PrecedencePolicy::default()
                .with_protected(released)
                .is_protected(&preload)
        );
        assert!(!PrecedencePolicy::default().is_protected(&EnvName::parse("API").expect("ok")));
        // The configured list is the one handed out, not the built-in one.
        let added = ProtectedNames::configure(&["CORP_*".into()], &[]).expect("valid");
        let policy = PrecedencePolicy::default().with_protected(added.clone());
        assert_eq!(policy.protected(), &added);
        assert!(policy.protected().is_protected("CORP_PROXY"));
    }
}
