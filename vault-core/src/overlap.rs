//! The overlap rule: one name may exist several times within one owner only when no
//! profile (or milestone) could receive two of them from the same scope width.
//! Allowed: one wide scope (`all` or `project`) plus narrow scopes (`agents`,
//! `milestone`) whose target sets are pairwise disjoint. The narrower one wins where
//! both apply, so the rule leaves every resolution with exactly one candidate per width.

use std::fmt;

use crate::scope::{Scope, ScopeKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// The name already has the owner's wide scope.
    SecondWide(ScopeKind),
    /// These targets would receive the name from two narrow scopes.
    SharedTargets { kind: ScopeKind, ids: Vec<String> },
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Overlap::SecondWide(kind) => {
                write!(f, "this name already has a secret with scope {kind}")
            }
            Overlap::SharedTargets { kind, ids } => write!(
                f,
                "this name already reaches {} through another {kind} scope: {}",
                match kind {
                    ScopeKind::Milestone => "milestones",
                    _ => "profiles",
                },
                ids.join(", ")
            ),
        }
    }
}

/// Checks `new` against the scopes the same name already has within the same owner
/// (without the secret being updated, when it is an update).
pub fn check_overlap<'a>(
    existing: impl IntoIterator<Item = &'a Scope>,
    new: &Scope,
) -> Result<(), Overlap> {
    for old in existing {
        match (old, new) {
            (Scope::All | Scope::Project, Scope::All | Scope::Project) => {
                return Err(Overlap::SecondWide(old.kind()));
            }
            (Scope::Agents(old), Scope::Agents(new)) if old.intersects(new) => {
                return Err(Overlap::SharedTargets {
                    kind: ScopeKind::Agents,
                    ids: new.intersection(old).map(|id| id.to_string()).collect(),
                });
            }
            (Scope::Milestones(old), Scope::Milestones(new)) if old.intersects(new) => {
                return Err(Overlap::SharedTargets {
                    kind: ScopeKind::Milestone,
                    ids: new.intersection(old).map(|id| id.to_string()).collect(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MilestoneId, ProfileId};

    fn agents(ids: &[&str]) -> Scope {
        Scope::agents(ids.iter().map(|id| ProfileId::parse(id).expect("valid"))).expect("ok")
    }

    fn milestones(ids: &[&str]) -> Scope {
        Scope::milestones(ids.iter().map(|id| MilestoneId::parse(id).expect("valid"))).expect("ok")
    }

    fn check(existing: &[Scope], new: &Scope, expected: Result<(), Overlap>) {
        assert_eq!(
            check_overlap(existing, new),
            expected,
            "{new:?} over {existing:?}"
        );
    }

    #[test]
    fn one_wide_scope_per_name() {
        check(&[], &Scope::All, Ok(()));
        check(
            &[Scope::All],
            &Scope::All,
            Err(Overlap::SecondWide(ScopeKind::All)),
        );
        check(
            &[Scope::Project],
            &Scope::Project,
            Err(Overlap::SecondWide(ScopeKind::Project)),
        );
    }

    #[test]
    fn wide_and_narrow_scopes_coexist() {
        check(&[Scope::All], &agents(&["a"]), Ok(()));
        check(&[agents(&["a"])], &Scope::All, Ok(()));
        check(&[Scope::Project], &milestones(&["m1"]), Ok(()));
        check(
            &[milestones(&["m1"]), milestones(&["m2"])],
            &Scope::Project,
            Ok(()),
        );
    }

    #[test]
    fn narrow_scopes_must_be_disjoint() {
        check(&[agents(&["a", "b"])], &agents(&["c"]), Ok(()));
        check(&[milestones(&["m1", "m2"])], &milestones(&["m3"]), Ok(()));
        check(
            &[agents(&["a", "b"]), agents(&["c"])],
            &agents(&["d", "b", "c"]),
            Err(Overlap::SharedTargets {
                kind: ScopeKind::Agents,
                ids: vec!["b".into()],
            }),
        );
        check(
            &[Scope::Project, milestones(&["m1", "m2"])],
            &milestones(&["m2", "m1"]),
            Err(Overlap::SharedTargets {
                kind: ScopeKind::Milestone,
                ids: vec!["m1".into(), "m2".into()],
            }),
        );
    }

    #[test]
    fn the_message_names_what_overlaps() {
        let err = check_overlap(&[agents(&["prof_billing"])], &agents(&["prof_billing"]))
            .expect_err("overlap");
        assert_eq!(
            err.to_string(),
            "this name already reaches profiles through another agents scope: prof_billing"
        );
        let err = check_overlap(&[Scope::All], &Scope::All).expect_err("overlap");
        assert_eq!(
            err.to_string(),
            "this name already has a secret with scope all"
        );
    }
}
