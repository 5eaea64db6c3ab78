//! What each RACI role and each workspace role may do: the relations of
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
    /// The project's entries injected into the member's agents (resolution, sessions,
    /// runtime lookups): what lets plaintext leave the vault for this member.
    Inject,
}

impl ProjectPermission {
    pub const DERIVED: [ProjectPermission; 9] = [
        ProjectPermission::Member,
        ProjectPermission::View,
        ProjectPermission::Delete,
        ProjectPermission::ManageMembers,
        ProjectPermission::ManageMilestones,
        ProjectPermission::WriteEntries,
        ProjectPermission::ReadEntries,
        ProjectPermission::ListEntries,
        ProjectPermission::Inject,
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
            ProjectPermission::Inject => "can_inject",
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
            // Whoever may read an entry's metadata may have it injected; Informed
            // members know names only, so their agents get none of the values.
            ProjectPermission::ReadEntries | ProjectPermission::Inject => {
                matches!(self, Accountable | Responsible | Consulted)
            }
        }
    }
}

/// What a user is to a workspace: a member (their agents get its BYOK keys), or an
/// admin (who also manages the keys, and counts as a member).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkspaceRole {
    Admin,
    Member,
}

impl WorkspaceRole {
    /// Whether holding this role grants `permission`.
    pub fn grants(self, permission: WorkspacePermission) -> bool {
        match permission {
            WorkspacePermission::Admin
            | WorkspacePermission::ManageKeys
            | WorkspacePermission::ManageMembers => self == WorkspaceRole::Admin,
            WorkspacePermission::Member | WorkspacePermission::Inject => true,
        }
    }
}

/// A relation a user can hold on a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkspacePermission {
    Admin,
    /// Registered as a member, or an admin.
    Member,
    /// BYOK keys: list, read masked, create, rotate, roll back, delete.
    ManageKeys,
    /// Register and remove the workspace's members.
    ManageMembers,
    /// The workspace's keys injected into the member's agents.
    Inject,
}

impl WorkspacePermission {
    pub const ALL: [WorkspacePermission; 5] = [
        WorkspacePermission::Admin,
        WorkspacePermission::Member,
        WorkspacePermission::ManageKeys,
        WorkspacePermission::ManageMembers,
        WorkspacePermission::Inject,
    ];

    pub fn relation(self) -> &'static str {
        match self {
            WorkspacePermission::Admin => "admin",
            WorkspacePermission::Member => "member",
            WorkspacePermission::ManageKeys => "can_manage_keys",
            WorkspacePermission::ManageMembers => "can_manage_members",
            WorkspacePermission::Inject => "can_inject",
        }
    }

    pub fn from_relation(relation: &str) -> Option<Self> {
        WorkspacePermission::ALL
            .into_iter()
            .find(|p| p.relation() == relation)
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
        assert_eq!(WorkspacePermission::from_relation("owner"), None);
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

    #[test]
    fn injection_follows_entry_reads_and_informed_gets_nothing() {
        use ProjectRole::{Accountable, Consulted, Informed, Responsible};
        for (role, injects) in [
            (Accountable, true),
            (Responsible, true),
            (Consulted, true),
            (Informed, false),
        ] {
            assert_eq!(role.grants(ProjectPermission::Inject), injects, "{role}");
        }
    }

    #[test]
    fn workspace_admins_are_members_and_members_manage_nothing() {
        use WorkspacePermission::{Admin, Inject, ManageKeys, ManageMembers, Member};
        for (role, expected) in [
            (WorkspaceRole::Admin, [true, true, true, true, true]),
            (WorkspaceRole::Member, [false, true, false, false, true]),
        ] {
            let granted =
                [Admin, Member, ManageKeys, ManageMembers, Inject].map(|p| role.grants(p));
            assert_eq!(granted, expected, "{role:?}");
        }
    }
}
