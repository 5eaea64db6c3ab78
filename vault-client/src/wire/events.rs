//! The change event feed: what a poller pages through and what each Server-Sent Event
//! (and, later, each webhook delivery) carries. Ids, names, versions and times only;
//! an event never holds a value.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vault_core::EventKind;

/// The media type of the live feed: ask for it in `Accept`.
pub const EVENT_STREAM: &str = "text/event-stream";

#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Only events after this position (the `next_after` of the previous page, or the
    /// `id` of the last Server-Sent Event seen). A `Last-Event-ID` header, which
    /// EventSource clients send when they reconnect, takes its place. The stream starts
    /// at the newest event without either; a page starts at the oldest kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// `user`, `workspace` or `project`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_kind: Option<String>,
    /// One owner's events (with `owner_kind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// One secret name's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Event types, comma-separated (`secret.rotated,secret.deleted`); every type when
    /// absent.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[param(rename = "type")]
    pub types: Option<String>,
    /// 1 to 200; 100 when absent (a page only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The newest `limit` matching events instead of the oldest (a page only): recent
    /// context for a reader starting now; `next_after` is then the newest position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest: Option<bool>,
}

/// One event, as its reader may see it: an Informed project member and a session see
/// names without actor, version or detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// The event's position in the log; resume after it.
    pub seq: u64,
    /// Unique (`evt_…`): what a receiver deduplicates on.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The event type (`secret.rotated`, `secret.expiring`, `project.member.removed`, …).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// The secret's version after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Who made the change (`user:tok_…`), `vault` for reminders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// What an update changed: `value`, `scope`, `expires_at`, `description`, `category`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// How long before `expires_at` a `secret.expiring` event was due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_seconds: Option<u64>,
    /// The member or admin a membership event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_kind: Option<String>,
    /// The endpoint a `webhook.disabled` event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// Why a webhook endpoint was turned off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl EventView {
    /// The type as this client knows it; `None` for one a newer vault added.
    pub fn kind(&self) -> Option<EventKind> {
        self.kind.parse().ok()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    /// Oldest first.
    pub data: Vec<EventView>,
    /// Ask `after` this next time: it moves on even when nothing here matched.
    pub next_after: u64,
}
