//! Change events: what the vault tells subscribers happened (a secret rotated, a member
//! removed, a credential about to expire), and who may be told. An event names owners,
//! names, ids and versions, never a value. The kinds are one closed list whose names
//! are stored and sent to webhooks, so they never change; a new kind gets a new name.
//! Who sees an event is decided here, on the event alone and the viewer's standing read
//! by the caller, so every path that hands events out applies the same rule.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::authz::ProjectPermission;
use crate::error::CoreError;
use crate::ids::{MilestoneId, ProjectId, SecretId, UserId, WorkspaceId};
use crate::integrity::{IntegrityKeys, Mac};
use crate::name::SecretName;
use crate::resolve::ResolutionContext;
use crate::role::ProjectRole;
use crate::scope::{Owner, Scope};
use crate::secret::{SecretMeta, Version};
use crate::token::TokenKind;

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum EventKind {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        impl EventKind {
            /// Every kind, once.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)+];

            /// The name stored, streamed and sent to webhooks.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)+
                }
            }
        }
    };
}

event_kinds! {
    SecretCreated => "secret.created",
    /// A new value sealed.
    SecretRotated => "secret.rotated",
    /// An older version's value made current again (as a new version).
    SecretRolledBack => "secret.rolled_back",
    /// Which agents the secret reaches changed (and perhaps other metadata with it).
    SecretRescoped => "secret.rescoped",
    /// Description, category or expiry changed; nobody's env did.
    SecretUpdated => "secret.updated",
    SecretDeleted => "secret.deleted",
    /// The current version expires within the event's `lead_seconds`.
    SecretExpiring => "secret.expiring",
    /// The current version has expired: resolution leaves it out from now on.
    SecretExpired => "secret.expired",
    ProjectCreated => "project.created",
    ProjectDeleted => "project.deleted",
    MilestoneCreated => "milestone.created",
    MilestoneDeleted => "milestone.deleted",
    /// A member added, or their role changed.
    ProjectMemberPut => "project.member.put",
    ProjectMemberRemoved => "project.member.removed",
    WorkspaceAdminPut => "workspace.admin.put",
    WorkspaceAdminRemoved => "workspace.admin.removed",
    WorkspaceMemberPut => "workspace.member.put",
    WorkspaceMemberRemoved => "workspace.member.removed",
    TokenRevoked => "token.revoked",
    /// A webhook endpoint that kept failing was turned off (`webhook_id` names it).
    WebhookDisabled => "webhook.disabled",
}

impl EventKind {
    /// Whether the event is about one secret (and carries its name and id).
    pub fn is_secret(self) -> bool {
        self.as_str().starts_with("secret.")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, CoreError> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == text)
            .ok_or(CoreError::UnknownEventKind)
    }
}

/// Which agents a secret event concerns: every agent of the owner (`wide`), or those
/// of the listed profiles or milestones. A change covers the scope before and after
/// it, so an agent a rescope took a name away from is told too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wide: bool,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub targets: BTreeSet<String>,
}

impl Reach {
    fn add(&mut self, scope: &Scope) {
        match scope {
            Scope::All | Scope::Project => self.wide = true,
            Scope::Agents(profiles) => self
                .targets
                .extend(profiles.iter().map(|p| p.as_str().to_owned())),
            Scope::Milestones(milestones) => self
                .targets
                .extend(milestones.iter().map(|m| m.as_str().to_owned())),
        }
    }

    /// Whether an agent of `context` is among those reached, for a secret of `owner`.
    fn includes(&self, owner: &Owner, context: &ResolutionContext) -> bool {
        if self.wide {
            return true;
        }
        let target = match owner {
            Owner::User(_) | Owner::Workspace(_) => Some(context.profile().as_str()),
            Owner::Project(_) => context.milestone().map(MilestoneId::as_str),
        };
        target.is_some_and(|t| self.targets.contains(t))
    }
}

/// What an event says beyond its kind and subject; every field optional, each set by
/// the kinds it belongs to. Never a value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetail {
    /// What a secret update changed: `value`, `scope`, `expires_at`, `description`,
    /// `category`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// The version a rollback restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u32>,
    /// When the version an expiry event is about expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// How long before `expires_at` an expiring event was due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_seconds: Option<u64>,
    /// The member or admin a membership event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ProjectRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone_id: Option<MilestoneId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_kind: Option<TokenKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// Why a webhook endpoint was turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For secret events: whose agents the change concerns. Decides who is told; never
    /// shown to anyone below operator standing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<Reach>,
}

/// One change, as the writing transaction appends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    pub kind: EventKind,
    /// The owner the change belongs to (a token revocation: the token's user, if any).
    pub owner: Option<Owner>,
    pub name: Option<SecretName>,
    pub secret_id: Option<SecretId>,
    pub version: Option<Version>,
    pub detail: EventDetail,
}

impl ChangeEvent {
    /// An event about secret `meta` as it stands after the change; `scope_before` is
    /// its scope before, when the change may have moved it.
    pub fn secret(kind: EventKind, meta: &SecretMeta, scope_before: Option<&Scope>) -> Self {
        let mut reach = Reach::default();
        reach.add(meta.placement.scope());
        if let Some(before) = scope_before {
            reach.add(before);
        }
        ChangeEvent {
            kind,
            owner: Some(meta.placement.owner().clone()),
            name: Some(meta.name.clone()),
            secret_id: Some(meta.id.clone()),
            version: Some(meta.version),
            detail: EventDetail {
                reach: Some(reach),
                ..EventDetail::default()
            },
        }
    }

    /// The event for an update of secret `before` into `after`: a rollback, a rotation, a
    /// rescope or a metadata change, with what changed.
    pub fn secret_update(
        before: &SecretMeta,
        after: &SecretMeta,
        restored_from: Option<Version>,
    ) -> Self {
        let mut changed = Vec::new();
        if after.version != before.version {
            changed.push("value");
        }
        if after.placement.scope() != before.placement.scope() {
            changed.push("scope");
        }
        if after.expires_at != before.expires_at {
            changed.push("expires_at");
        }
        if after.description != before.description {
            changed.push("description");
        }
        if after.category != before.category {
            changed.push("category");
        }
        let kind = if restored_from.is_some() {
            EventKind::SecretRolledBack
        } else if after.version != before.version {
            EventKind::SecretRotated
        } else if after.placement.scope() != before.placement.scope() {
            EventKind::SecretRescoped
        } else {
            EventKind::SecretUpdated
        };
        let mut event = ChangeEvent::secret(kind, after, Some(before.placement.scope()));
        event.detail.changed = changed.into_iter().map(str::to_owned).collect();
        event.detail.restored_from = restored_from.map(Version::get);
        event
    }

    /// An event about `owner` itself (a project, a milestone, a membership).
    pub fn about(kind: EventKind, owner: Owner, detail: EventDetail) -> Self {
        ChangeEvent {
            kind,
            owner: Some(owner),
            name: None,
            secret_id: None,
            version: None,
            detail,
        }
    }
}

/// An event as the log holds it: its place, when, and who acted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its place in the log: every committed event has the next number, with no gaps,
    /// in commit order, so a subscriber resumes after the last one it saw.
    pub seq: u64,
    /// Unique across every vault (`evt_` + nanoid): what webhook receivers deduplicate on.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The principal that made the change (`operator:tok_…`), or `vault` for reminders.
    pub actor: String,
    pub event: ChangeEvent,
}

impl StoredEvent {
    /// A fresh event id: `evt_` and a 21-character nanoid.
    pub fn generate_id() -> String {
        format!("evt_{}", crate::ids::random_suffix())
    }
}

const EVENT_LABEL: &[u8] = b"vault-change-event/v1";

/// Everything an event row says, each field framed: its place, id, time, actor, kind,
/// subject and `detail` as stored (JSON text).
fn event_fields(stored: &StoredEvent, detail_json: &str, fields: &mut crate::integrity::Fields) {
    let event = &stored.event;
    let (owner_kind, owner_id) = match &event.owner {
        Some(owner) => (owner.kind().as_str(), owner.id()),
        None => ("", ""),
    };
    fields
        .field(&stored.seq.to_be_bytes())
        .field(stored.id.as_bytes())
        .field(&stored.at.timestamp_micros().to_be_bytes())
        .field(stored.actor.as_bytes())
        .field(event.kind.as_str().as_bytes())
        .field(owner_kind.as_bytes())
        .field(owner_id.as_bytes())
        .field(event.name.as_ref().map_or("", |n| n.as_str()).as_bytes())
        .field(
            event
                .secret_id
                .as_ref()
                .map_or("", |s| s.as_str())
                .as_bytes(),
        )
        .field(&event.version.map_or(0, Version::get).to_be_bytes())
        .field(detail_json.as_bytes());
}

/// The MAC an event row carries, under the integrity master's `events` key.
pub fn event_mac(keys: &IntegrityKeys, stored: &StoredEvent, detail_json: &str) -> Mac {
    keys.events.mac(EVENT_LABEL, |fields| {
        event_fields(stored, detail_json, fields)
    })
}

/// Whether `mac` is the event row's MAC (constant time).
pub fn event_mac_matches(
    keys: &IntegrityKeys,
    stored: &StoredEvent,
    detail_json: &str,
    mac: &[u8],
) -> bool {
    keys.events.verify(
        EVENT_LABEL,
        |fields| event_fields(stored, detail_json, fields),
        mac,
    )
}

/// What a user is to the workspaces and projects whose events they may see, read by
/// the caller from the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserStanding {
    pub user: Option<UserId>,
    /// Workspaces the user administers.
    pub admin_of: BTreeSet<WorkspaceId>,
    /// Projects the user is a member of, with their role.
    pub projects: BTreeMap<ProjectId, ProjectRole>,
}

/// Who is reading the event log, and so which events, and how much of each, they see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventAudience {
    /// Operators and the orchestrator: every event, in full.
    Everything,
    /// A user: their own secrets and tokens, their workspaces' if they administer them,
    /// their projects' by role.
    User(UserStanding),
    /// A session: events about secrets that reach its bound context, and nothing else.
    Session(ResolutionContext),
}

impl EventAudience {
    /// `event` as this audience may see it, or `None` when it is not theirs to see.
    pub fn view(&self, stored: &StoredEvent) -> Option<StoredEvent> {
        let event = &stored.event;
        match self {
            EventAudience::Everything => Some(stored.clone()),
            EventAudience::User(standing) => {
                let owner = event.owner.as_ref()?;
                let full = match owner {
                    Owner::User(user) => standing.user.as_ref() == Some(user),
                    Owner::Workspace(workspace) => standing.admin_of.contains(workspace),
                    Owner::Project(project) => {
                        let role = *standing.projects.get(project)?;
                        let needed = if event.kind.is_secret() {
                            ProjectPermission::ReadEntries
                        } else {
                            ProjectPermission::View
                        };
                        if !role.grants(needed) {
                            // Informed members know names only: which entry changed and
                            // how, not by whom, to which version or to where.
                            return role
                                .grants(ProjectPermission::ListEntries)
                                .then(|| Self::names_only(stored));
                        }
                        true
                    }
                };
                full.then(|| Self::without_reach(stored))
            }
            EventAudience::Session(context) => {
                if !event.kind.is_secret() {
                    return None;
                }
                let owner = event.owner.as_ref()?;
                let layer = match owner {
                    Owner::User(user) => user == context.user(),
                    Owner::Workspace(workspace) => context.workspace() == Some(workspace),
                    Owner::Project(project) => context.project() == Some(project),
                };
                let reach = event.detail.reach.as_ref()?;
                (layer && reach.includes(owner, context)).then(|| {
                    let mut seen = Self::names_only(stored);
                    seen.event.version = event.version;
                    seen
                })
            }
        }
    }

    fn without_reach(stored: &StoredEvent) -> StoredEvent {
        let mut seen = stored.clone();
        seen.event.detail.reach = None;
        seen
    }

    /// Kind, owner, name and secret id; no actor, version or detail.
    fn names_only(stored: &StoredEvent) -> StoredEvent {
        StoredEvent {
            seq: stored.seq,
            id: stored.id.clone(),
            at: stored.at,
            actor: String::new(),
            event: ChangeEvent {
                kind: stored.event.kind,
                owner: stored.event.owner.clone(),
                name: stored.event.name.clone(),
                secret_id: stored.event.secret_id.clone(),
                version: None,
                detail: EventDetail::default(),
            },
        }
    }
}

/// The expiry event due for a version expiring at `expires_at`, given the lead times
/// reminders go out at: the tightest lead whose window `now` has entered (`0`: expired),
/// or `None` when none has. Leads already sent for this version are the caller's to skip;
/// reaching a tight lead first also settles every wider one, so a secret created a day
/// before it expires gets one reminder, not two at once.
pub fn due_expiry_lead(
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    leads: &[std::time::Duration],
) -> Option<u64> {
    if now >= expires_at {
        return Some(0);
    }
    let left = (expires_at - now).num_seconds().max(0).unsigned_abs();
    leads
        .iter()
        .map(std::time::Duration::as_secs)
        .filter(|lead| *lead > 0 && left <= *lead)
        .min()
}

#[cfg(test)]
mod tests;
