//! What each RACI role and each workspace admin may do: the relations of
//! `authz/model.fga`, decided without I/O. Names match the model's relations exactly,
//! so the same assertions can run through OpenFGA and through the embedded authorizer.

use crate::role::ProjectRole;

/// A relation a user can hold on a project, direct (a role) or derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProjectPermission {
    /// Holds exactly this role.
    Role(ProjectRole),
    Member,
    /// The project's name, milestones and members.
    View,
    Delete,
    ManageMembers,
    ManageMilestones,
    /// Create, rotate, roll back and delete entries.
    WriteEntries,
    /// Entry metadata with masked values, and version history.
    ReadEntries,
    /// Entry names and categories only.
    ListEntries,
}

impl ProjectPermission {
    pub const DERIVED: [ProjectPermission; 8] = [
        ProjectPermission::Member,
        ProjectPermission::View,
        ProjectPermission::Delete,
        ProjectPermission::ManageMembers,
        ProjectPermission::ManageMilestones,
        ProjectPermission::WriteEntries,
        ProjectPermission::ReadEntries,
        ProjectPermission::ListEntries,
    ];

    /// The relation's name in `authz/model.fga`.
    pub fn relation(self) -> &'static str {
        match self {
            ProjectPermission::Role(role) => role.as_str(),
            ProjectPermission::Member => "member",
            ProjectPermission::View => "can_view",
            ProjectPermission::Delete => "can_delete",
            ProjectPermission::ManageMembers => "can_manage_members",
            ProjectPermission::ManageMilestones => "can_manage_milestones",
            ProjectPermission::WriteEntries => "can_write_entries",
            ProjectPermission::ReadEntries => "can_read_entries",
            ProjectPermission::ListEntries => "can_list_entries",
        }
    }

    pub fn from_relation(relation: &str) -> Option<Self> {
        ProjectRole::ALL
            .into_iter()
            .map(ProjectPermission::Role)
            .chain(ProjectPermission::DERIVED)
            .find(|p| p.relation() == relation)
    }
}

impl ProjectRole {
    /// Whether holding this role grants `permission`.
    pub fn grants(self, permission: ProjectPermission) -> bool {
        use ProjectRole::{Accountable, Consulted, Responsible};
        match permission {
            ProjectPermission::Role(role) => self == role,
            ProjectPermission::Member
            | ProjectPermission::View
            | ProjectPermission::ListEntries => true,
            ProjectPermission::Delete
            | ProjectPermission::ManageMembers
            | ProjectPermission::ManageMilestones => self == Accountable,
            ProjectPermission::WriteEntries => matches!(self, Accountable | Responsible),
            ProjectPermission::ReadEntries => matches!(self, Accountable | Responsible | Consulted),
        }
    }
}

/// A relation a user can hold on a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkspacePermission {
    Admin,
    /// BYOK keys: list, read masked, create, rotate, roll back, delete.
    ManageKeys,
}

impl WorkspacePermission {
    pub const ALL: [WorkspacePermission; 2] =
        [WorkspacePermission::Admin, WorkspacePermission::ManageKeys];

    pub fn relation(self) -> &'static str {
        match self {
            WorkspacePermission::Admin => "admin",
            WorkspacePermission::ManageKeys => "can_manage_keys",
        }
    }

    pub fn from_relation(relation: &str) -> Option<Self> {
        WorkspacePermission::ALL
            .into_iter()
            .find(|p| p.relation() == relation)
    }

    /// Whether a registered workspace admin holds this; non-admins hold nothing.
    pub fn granted_to_admin(self) -> bool {
        match self {
            WorkspacePermission::Admin | WorkspacePermission::ManageKeys => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_relation_name_round_trips() {
        let project = ProjectRole::ALL
            .into_iter()
            .map(ProjectPermission::Role)
            .chain(ProjectPermission::DERIVED);
        for permission in project {
            assert_eq!(
                ProjectPermission::from_relation(permission.relation()),
                Some(permission)
            );
        }
        for permission in WorkspacePermission::ALL {
            assert_eq!(
                WorkspacePermission::from_relation(permission.relation()),
                Some(permission)
            );
        }
        assert_eq!(ProjectPermission::from_relation("owner"), None);
        assert_eq!(WorkspacePermission::from_relation("member"), None);
    }

    #[test]
    fn each_level_includes_the_ones_below_it() {
        use ProjectPermission::{ListEntries, ReadEntries, WriteEntries};
        for role in ProjectRole::ALL {
            if role.grants(WriteEntries) {
                assert!(role.grants(ReadEntries), "{role}");
            }
            if role.grants(ReadEntries) {
                assert!(role.grants(ListEntries), "{role}");
            }
        }
        assert!(!ProjectRole::Informed.grants(ReadEntries));
        assert!(!ProjectRole::Consulted.grants(WriteEntries));
        assert!(!ProjectRole::Responsible.grants(ProjectPermission::Delete));
        assert!(ProjectRole::Accountable.grants(ProjectPermission::ManageMembers));
    }

    #[test]
    fn a_role_relation_holds_only_for_that_role() {
        for held in ProjectRole::ALL {
            for asked in ProjectRole::ALL {
                assert_eq!(
                    held.grants(ProjectPermission::Role(asked)),
                    held == asked,
                    "{held} asked {asked}"
                );
            }
        }
    }
}
