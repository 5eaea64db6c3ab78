//! What the console shows, as the API sends it: metadata and masked values only. No
//! type here can hold a plaintext value; the one secret the console ever holds is the
//! rotate buffer, which lives in `app.rs` and zeroizes itself.

use chrono::{DateTime, Utc};
use vault_core::{Category, Owner, ScopeKind};

/// One row of a browser tab: a user secret, a workspace key or a project entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRow {
    pub id: String,
    pub owner: Owner,
    pub name: String,
    pub scope: ScopeKind,
    /// Profile or milestone ids of a narrow scope.
    pub targets: Vec<String>,
    pub category: Category,
    pub masked: String,
    pub version: u32,
    pub expires_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Live,
    /// Within seven days.
    Soon,
    Expired,
}

impl SecretRow {
    pub fn expiry(&self, now: DateTime<Utc>) -> Expiry {
        match self.expires_at {
            Some(at) if at <= now => Expiry::Expired,
            Some(at) if at - now <= chrono::Duration::days(7) => Expiry::Soon,
            _ => Expiry::Live,
        }
    }

    /// `user:alice`, `workspace:acme`, `project:apollo`.
    pub fn owner_label(&self) -> String {
        format!("{}:{}", self.owner.kind(), self.owner.id())
    }

    /// The project of a project entry.
    pub fn project_id(&self) -> Option<&str> {
        match &self.owner {
            Owner::Project(project) => Some(project.as_str()),
            _ => None,
        }
    }

    pub fn scope_label(&self) -> String {
        if self.targets.is_empty() {
            self.scope.to_string()
        } else {
            format!("{}: {}", self.scope, self.targets.join(","))
        }
    }

    /// Whether the `/` filter keeps this row: a case-insensitive match on name or owner.
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.to_lowercase();
        self.name.to_lowercase().contains(&filter)
            || self.owner_label().to_lowercase().contains(&filter)
    }
}

/// One page of a tab, and where the next one starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowPage {
    pub rows: Vec<SecretRow>,
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    pub version: u32,
    pub masked: String,
    pub current: bool,
    pub restored_from: Option<u32>,
    pub created_at: DateTime<Utc>,
}

/// How an API call failed, as the console shows it inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// The problem+json `code`, or `unreachable` when no answer came.
    pub code: String,
    pub detail: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

/// One audit record as the console lists it: the API's own type.
pub use vault_client::wire::AuditView as AuditRow;

/// One change event as the console lists it: the API's own type.
pub use vault_client::wire::EventView as EventRow;

/// Events read after a position, oldest first, and where to read on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBatch {
    pub events: Vec<EventRow>,
    pub next_after: u64,
}

/// A webhook endpoint with how its deliveries stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    pub webhook: vault_client::wire::WebhookView,
    /// Its newest delivery.
    pub last: Option<vault_client::wire::DeliveryView>,
    pub pending: usize,
    pub failed: usize,
}

impl WebhookRow {
    /// `delivered 204`, `pending (3 attempts, last 500)`, `-`.
    pub fn last_label(&self) -> String {
        match &self.last {
            None => "-".into(),
            Some(delivery) => {
                let status = delivery
                    .last_status
                    .map(|s| format!(", last {s}"))
                    .unwrap_or_default();
                format!(
                    "{} ({} attempts{status})",
                    delivery.state, delivery.attempts
                )
            }
        }
    }
}

/// The `/` filter on the events tab: type, name, owner or actor.
pub fn event_matches(event: &EventRow, filter: &str) -> bool {
    let filter = filter.to_lowercase();
    [
        Some(&event.kind),
        event.name.as_ref(),
        event.owner_id.as_ref(),
        event.actor.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|field| field.to_lowercase().contains(&filter))
}

/// The `/` filter on the audit tab: action, target or principal.
pub fn audit_matches(record: &AuditRow, filter: &str) -> bool {
    let filter = filter.to_lowercase();
    [&record.action, &record.target_label(), &record.principal]
        .iter()
        .any(|field| field.to_lowercase().contains(&filter))
}
