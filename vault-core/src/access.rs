//! Who may have a resolution context: the rule every path that discloses plaintext
//! (resolution, session creation, every runtime lookup) applies before it opens
//! anything. A context names a user and, optionally, a workspace and a project; each
//! layer beyond the user's own reaches the agent only when the user holds a role that
//! may have it injected. A context the user may not have is refused as a whole, so
//! nobody is ever answered with a silently smaller environment.

use std::fmt;

use crate::authz::{ProjectPermission, WorkspacePermission, WorkspaceRole};
use crate::ids::{ProjectId, UserId, WorkspaceId};
use crate::resolve::ResolutionContext;
use crate::role::ProjectRole;

/// What the context's user is to the context's workspace and project, as read from
/// the store (or answered by an external authorizer) at the moment of the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextRoles {
    /// The user's role on the context's project; `None` when not a member (or the
    /// context names no project).
    pub project: Option<ProjectRole>,
    /// The user's standing in the context's workspace; `None` when neither member nor
    /// admin (or the context names no workspace).
    pub workspace: Option<WorkspaceRole>,
}

/// Why a context was refused; names the layer, never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InjectionRefused {
    /// The user is not a member of the workspace.
    Workspace {
        user: UserId,
        workspace: WorkspaceId,
    },
    /// The user is not a member of the project, or holds a role whose agents get no
    /// entries (`role` says which).
    Project {
        user: UserId,
        project: ProjectId,
        role: Option<ProjectRole>,
    },
}

impl InjectionRefused {
    /// The request field naming the refused layer.
    pub fn field(&self) -> &'static str {
        match self {
            InjectionRefused::Workspace { .. } => "workspace_id",
            InjectionRefused::Project { .. } => "project_id",
        }
    }
}

impl fmt::Display for InjectionRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InjectionRefused::Workspace { user, workspace } => write!(
                f,
                "user {user} is not a member of workspace {workspace}, so its keys may not \
                 reach this user's agents"
            ),
            InjectionRefused::Project {
                user,
                project,
                role: None,
            } => write!(
                f,
                "user {user} is not a member of project {project}, so its entries may not \
                 reach this user's agents"
            ),
            InjectionRefused::Project {
                user,
                project,
                role: Some(role),
            } => write!(
                f,
                "user {user} is {role} on project {project}, a role whose agents get no \
                 entries (accountable, responsible and consulted members' agents do)"
            ),
        }
    }
}

/// Lets the context through when its user may have every layer it names injected;
/// the workspace is checked before the project, in precedence order.
pub fn check_injection(
    context: &ResolutionContext,
    roles: ContextRoles,
) -> Result<(), InjectionRefused> {
    if let Some(workspace) = context.workspace()
        && !roles
            .workspace
            .is_some_and(|role| role.grants(WorkspacePermission::Inject))
    {
        return Err(InjectionRefused::Workspace {
            user: context.user().clone(),
            workspace: workspace.clone(),
        });
    }
    if let Some(project) = context.project()
        && !roles
            .project
            .is_some_and(|role| role.grants(ProjectPermission::Inject))
    {
        return Err(InjectionRefused::Project {
            user: context.user().clone(),
            project: project.clone(),
            role: roles.project,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MilestoneId, ProfileId};

    fn context(workspace: bool, project: bool) -> ResolutionContext {
        ResolutionContext::new(
            UserId::parse("ada").expect("valid"),
            ProfileId::parse("p1").expect("valid"),
            workspace.then(|| WorkspaceId::parse("acme").expect("valid")),
            project.then(|| ProjectId::parse("apollo").expect("valid")),
            project.then(|| MilestoneId::parse("launch").expect("valid")),
        )
        .expect("valid context")
    }

    fn roles(project: Option<ProjectRole>, workspace: Option<WorkspaceRole>) -> ContextRoles {
        ContextRoles { project, workspace }
    }

    #[test]
    fn a_users_own_layer_needs_no_role() {
        assert_eq!(
            check_injection(&context(false, false), roles(None, None)),
            Ok(())
        );
    }

    #[test]
    fn every_project_role_meets_the_injection_rule() {
        for (role, allowed) in [
            (None, false),
            (Some(ProjectRole::Accountable), true),
            (Some(ProjectRole::Responsible), true),
            (Some(ProjectRole::Consulted), true),
            (Some(ProjectRole::Informed), false),
        ] {
            let outcome = check_injection(&context(false, true), roles(role, None));
            assert_eq!(outcome.is_ok(), allowed, "{role:?}");
            if let Err(refused) = outcome {
                assert_eq!(refused.field(), "project_id");
                assert_eq!(
                    refused,
                    InjectionRefused::Project {
                        user: UserId::parse("ada").expect("valid"),
                        project: ProjectId::parse("apollo").expect("valid"),
                        role,
                    }
                );
            }
        }
    }

    #[test]
    fn workspace_members_and_admins_are_let_through_and_nobody_else() {
        for (role, allowed) in [
            (None, false),
            (Some(WorkspaceRole::Member), true),
            (Some(WorkspaceRole::Admin), true),
        ] {
            let outcome = check_injection(&context(true, false), roles(None, role));
            assert_eq!(outcome.is_ok(), allowed, "{role:?}");
            if let Err(refused) = outcome {
                assert_eq!(refused.field(), "workspace_id");
            }
        }
    }

    #[test]
    fn a_context_is_refused_whole_when_either_layer_is_refused() {
        let both = context(true, true);
        let member = Some(WorkspaceRole::Member);
        let reader = Some(ProjectRole::Consulted);
        assert_eq!(check_injection(&both, roles(reader, member)), Ok(()));
        assert_eq!(
            check_injection(&both, roles(reader, None)).map_err(|r| r.field()),
            Err("workspace_id")
        );
        assert_eq!(
            check_injection(&both, roles(None, member)).map_err(|r| r.field()),
            Err("project_id")
        );
        assert_eq!(
            check_injection(&both, roles(Some(ProjectRole::Informed), None)).map_err(|r| r.field()),
            Err("workspace_id"),
            "the workspace is named first"
        );
    }

    #[test]
    fn roles_for_layers_the_context_does_not_name_change_nothing() {
        let admin_everywhere = roles(Some(ProjectRole::Accountable), Some(WorkspaceRole::Admin));
        assert_eq!(
            check_injection(&context(false, false), admin_everywhere),
            Ok(())
        );
    }

    #[test]
    fn refusals_say_which_layer_and_why_without_a_value() {
        let informed = InjectionRefused::Project {
            user: UserId::parse("iris").expect("valid"),
            project: ProjectId::parse("apollo").expect("valid"),
            role: Some(ProjectRole::Informed),
        };
        assert!(
            informed
                .to_string()
                .contains("is informed on project apollo")
        );
        let outsider = InjectionRefused::Workspace {
            user: UserId::parse("eve").expect("valid"),
            workspace: WorkspaceId::parse("acme").expect("valid"),
        };
        assert!(
            outsider
                .to_string()
                .contains("eve is not a member of workspace acme")
        );
    }
}
