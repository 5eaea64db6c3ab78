//! What an audit record says was done: one closed list, so the handlers that write
//! records, the middleware that records refusals, the audit filter and the console all
//! speak the same names. The names are stored in the trail, so they never change; a
//! new action gets a new name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

macro_rules! audit_actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        impl AuditAction {
            /// Every action, once.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)+];

            /// The name written in the trail.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)+
                }
            }
        }
    };
}

audit_actions! {
    SecretCreate => "secret.create",
    SecretList => "secret.list",
    SecretRead => "secret.read",
    /// A change of metadata only (scope, description, expiry, category).
    SecretUpdate => "secret.update",
    /// A change that seals a new value.
    SecretRotate => "secret.rotate",
    SecretDelete => "secret.delete",
    SecretVersions => "secret.versions",
    SecretRollback => "secret.rollback",
    /// A value compared with the current one (`import`'s plan): whether it matched is
    /// recorded, never the value.
    SecretCompare => "secret.compare",
    WorkspaceAdminList => "workspace.admin.list",
    WorkspaceAdminPut => "workspace.admin.put",
    WorkspaceAdminRemove => "workspace.admin.remove",
    WorkspaceMemberList => "workspace.member.list",
    WorkspaceMemberRead => "workspace.member.read",
    WorkspaceMemberPut => "workspace.member.put",
    WorkspaceMemberRemove => "workspace.member.remove",
    ProjectCreate => "project.create",
    ProjectList => "project.list",
    ProjectRead => "project.read",
    ProjectDelete => "project.delete",
    MilestoneCreate => "milestone.create",
    MilestoneDelete => "milestone.delete",
    MemberPut => "member.put",
    MemberRemove => "member.remove",
    SessionCreate => "session.create",
    SessionEnd => "session.end",
    RuntimeLookup => "runtime.lookup",
    Resolve => "resolve",
    TokenCreate => "token.create",
    TokenList => "token.list",
    TokenRevoke => "token.revoke",
    AuditRead => "audit.read",
    /// The change event feed read (a page, or a stream opened).
    EventsRead => "events.read",
    WebhookCreate => "webhook.create",
    WebhookList => "webhook.list",
    WebhookRead => "webhook.read",
    WebhookUpdate => "webhook.update",
    WebhookDelete => "webhook.delete",
    WebhookRotateSecret => "webhook.rotate_secret",
    WebhookDeliveries => "webhook.deliveries",
    WebhookRedeliver => "webhook.redeliver",
    /// A request that reached no route (its method and path are the target).
    Unrouted => "request.unrouted",
    /// One source's refused anonymous requests over an interval, summarised.
    RefusedSummary => "auth.refused.summary",
    /// The integrity master installed and every row stamped, at the first start.
    IntegrityInstall => "integrity.install",
    KeysRotate => "keys.rotate",
    KeysRewrap => "keys.rewrap",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, CoreError> {
        Self::ALL
            .iter()
            .copied()
            .find(|action| action.as_str() == text)
            .ok_or(CoreError::UnknownAuditAction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>().ok(), Some(*action));
            assert_eq!(
                serde_json::to_string(action).ok(),
                Some(format!("\"{action}\""))
            );
        }
    }

    /// Stored records carry these names: a rename would split one action's history.
    #[test]
    fn the_stored_names_stay() {
        assert_eq!(AuditAction::SecretRotate.as_str(), "secret.rotate");
        assert_eq!(AuditAction::SecretUpdate.as_str(), "secret.update");
        assert_eq!(AuditAction::SecretCompare.as_str(), "secret.compare");
        assert_eq!(AuditAction::Resolve.as_str(), "resolve");
        assert_eq!(AuditAction::RefusedSummary.as_str(), "auth.refused.summary");
        assert!("secret.Create".parse::<AuditAction>().is_err());
        assert!("".parse::<AuditAction>().is_err());
    }
}
