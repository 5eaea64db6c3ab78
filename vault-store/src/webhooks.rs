//! Webhook endpoints and their deliveries. The event log is fanned out into deliveries
//! by whichever replica gets there first (a cursor in `vault_settings`, moved in the
//! transaction that writes the deliveries, under the append lock), and due deliveries
//! are claimed with a lease: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas
//! claiming at once take different rows; on SQLite under its write lock. Claiming
//! counts the attempt, and only the claimer of an attempt may record its outcome, so
//! no attempt is delivered twice and a replica that dies mid-delivery leaves a row
//! that is claimed again once its lease runs out.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use vault_core::{ChangeEvent, EventDetail, EventKind, IntegrityKeys, Owner, StoredEvent};

use crate::audit::serialize_appends;
use crate::convert::{from_micros, micros};
use crate::db::{DbConnection, on_backend, write_transaction};
use crate::error::{Entity, StoreError, StoreResult};
use crate::events::{self, VAULT_ACTOR};
use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::secrets::owner_from_row;
use crate::settings;

/// Where fan-out has got to in the event log.
const FANOUT_CURSOR: &str = "webhook_fanout_after";

/// Events fanned out at once.
const FANOUT_BATCH: u32 = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub owner: Owner,
    pub url: String,
    /// Every type when empty.
    pub event_types: Vec<EventKind>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: u32,
    pub secret_generation: u32,
    /// Until when the previous generation's secret still signs (after a rotation).
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub from_seq: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether events of `kind` go to this endpoint.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&kind)
    }
}

#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub id: String,
    pub owner: Owner,
    pub url: String,
    pub event_types: Vec<EventKind>,
    pub description: Option<String>,
    pub now: DateTime<Utc>,
}

/// What a change of an endpoint sets; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventKind>>,
    pub description: Option<Option<String>>,
    /// Turning an endpoint back on clears its failures and the reason it went off.
    pub enabled: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt (or for its endpoint to be turned back on).
    Pending,
    Delivered,
    /// Every attempt failed; only a manual redelivery sends it again.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            other => {
                return Err(StoreError::corrupt(
                    "webhook_deliveries.state",
                    format!("unknown state {other:?}"),
                ));
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_seq: u64,
    pub event_id: String,
    pub event_kind: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A delivery this replica claimed: the attempt to make, where, and what.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub endpoint: Webhook,
    /// `None` when retention deleted the event before it could be delivered.
    pub event: Option<StoredEvent>,
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub enum DeliveryOutcome {
    Delivered {
        status: u16,
    },
    Failed {
        /// The receiver's status, when it answered.
        status: Option<u16>,
        error: String,
        /// When to try again; `None` gives up.
        retry_at: Option<DateTime<Utc>>,
    },
}

type EndpointRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i16,
    Option<String>,
    i32,
    i32,
    Option<i64>,
    i64,
    i64,
    i64,
);

/// The columns in `EndpointRow` order.
type EndpointColumns = (
    webhook_endpoints::id,
    webhook_endpoints::owner_kind,
    webhook_endpoints::owner_id,
    webhook_endpoints::url,
    webhook_endpoints::event_types,
    webhook_endpoints::description,
    webhook_endpoints::enabled,
    webhook_endpoints::disabled_reason,
    webhook_endpoints::consecutive_failures,
    webhook_endpoints::secret_generation,
    webhook_endpoints::previous_secret_until,
    webhook_endpoints::from_seq,
    webhook_endpoints::created_at,
    webhook_endpoints::updated_at,
);

fn endpoint_columns() -> EndpointColumns {
    (
        webhook_endpoints::id,
        webhook_endpoints::owner_kind,
        webhook_endpoints::owner_id,
        webhook_endpoints::url,
        webhook_endpoints::event_types,
        webhook_endpoints::description,
        webhook_endpoints::enabled,
        webhook_endpoints::disabled_reason,
        webhook_endpoints::consecutive_failures,
        webhook_endpoints::secret_generation,
        webhook_endpoints::previous_secret_until,
        webhook_endpoints::from_seq,
        webhook_endpoints::created_at,
        webhook_endpoints::updated_at,
    )
}

fn kinds_column(kinds: &[EventKind]) -> String {
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn endpoint_from(row: EndpointRow) -> StoreResult<Webhook> {
    let (
        id,
        owner_kind,
        owner_id,
        url,
        event_types,
        description,
        enabled,
        disabled_reason,
        failures,
        generation,
        previous_until,
        from_seq,
        created_at,
        updated_at,
    ) = row;
    let event_types = event_types
        .split(',')
        .filter(|k| !k.is_empty())
        // A type this build does not know (a newer replica's) matches nothing here.
        .filter_map(|k| k.parse().ok())
        .collect();
    Ok(Webhook {
        owner: owner_from_row(&owner_kind, &owner_id)?,
        id,
        url,
        event_types,
        description,
        enabled: enabled != 0,
        disabled_reason,
        consecutive_failures: u32::try_from(failures).unwrap_or(0),
        secret_generation: u32::try_from(generation)
            .map_err(|_| StoreError::corrupt("webhook_endpoints.secret_generation", "negative"))?,
        previous_secret_until: previous_until
            .map(|at| from_micros("webhook_endpoints.previous_secret_until", at))
            .transpose()?,
        from_seq: u64::try_from(from_seq).unwrap_or(0),
        created_at: from_micros("webhook_endpoints.created_at", created_at)?,
        updated_at: from_micros("webhook_endpoints.updated_at", updated_at)?,
    })
}

type DeliveryRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    i32,
    i64,
    Option<i32>,
    Option<String>,
    i64,
    i64,
);

fn delivery_columns() -> (
    webhook_deliveries::id,
    webhook_deliveries::endpoint_id,
    webhook_deliveries::event_seq,
    webhook_deliveries::event_id,
    webhook_deliveries::event_kind,
    webhook_deliveries::state,
    webhook_deliveries::attempts,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::last_status,
    webhook_deliveries::last_error,
    webhook_deliveries::created_at,
    webhook_deliveries::updated_at,
) {
    (
        webhook_deliveries::id,
        webhook_deliveries::endpoint_id,
        webhook_deliveries::event_seq,
        webhook_deliveries::event_id,
        webhook_deliveries::event_kind,
        webhook_deliveries::state,
        webhook_deliveries::attempts,
        webhook_deliveries::next_attempt_at,
        webhook_deliveries::last_status,
        webhook_deliveries::last_error,
        webhook_deliveries::created_at,
        webhook_deliveries::updated_at,
    )
}

fn delivery_from(row: DeliveryRow) -> StoreResult<Delivery> {
    let (
        id,
        endpoint_id,
        seq,
        event_id,
        kind,
        state,
        attempts,
        next,
        status,
        error,
        created,
        updated,
    ) = row;
    Ok(Delivery {
        id,
        endpoint_id,
        event_seq: u64::try_from(seq).unwrap_or(0),
        event_id,
        event_kind: kind,
        state: DeliveryState::parse(&state)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: from_micros("webhook_deliveries.next_attempt_at", next)?,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: error,
        created_at: from_micros("webhook_deliveries.created_at", created)?,
        updated_at: from_micros("webhook_deliveries.updated_at", updated)?,
    })
}

pub(crate) fn get(conn: &mut DbConnection, id: &str) -> StoreResult<Webhook> {
    let row: Option<EndpointRow> = webhook_endpoints::table
        .find(id)
        .select(endpoint_columns())
        .first(conn)
        .optional()?;
    endpoint_from(row.ok_or(StoreError::NotFound(Entity::Webhook))?)
}

pub(crate) fn list(conn: &mut DbConnection, owner: Option<&Owner>) -> StoreResult<Vec<Webhook>> {
    let mut query = webhook_endpoints::table
        .select(endpoint_columns())
        .order(webhook_endpoints::id.asc())
        .into_boxed();
    if let Some(owner) = owner {
        query = query
            .filter(webhook_endpoints::owner_kind.eq(owner.kind().as_str()))
            .filter(webhook_endpoints::owner_id.eq(owner.id().to_owned()));
    }
    query
        .load::<EndpointRow>(conn)?
        .into_iter()
        .map(endpoint_from)
        .collect()
}

/// Registers the endpoint; it receives the events committed after this transaction.
pub(crate) fn create(conn: &mut DbConnection, new: &NewWebhook) -> StoreResult<Webhook> {
    // Under the append lock, the newest position is the last event before this one.
    serialize_appends(conn)?;
    let from = events::newest(conn)?;
    let now = micros(new.now);
    on_backend!(conn, |conn| diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(&new.id),
            webhook_endpoints::owner_kind.eq(new.owner.kind().as_str()),
            webhook_endpoints::owner_id.eq(new.owner.id()),
            webhook_endpoints::url.eq(&new.url),
            webhook_endpoints::event_types.eq(kinds_column(&new.event_types)),
            webhook_endpoints::description.eq(&new.description),
            webhook_endpoints::enabled.eq(1i16),
            webhook_endpoints::consecutive_failures.eq(0),
            webhook_endpoints::secret_generation.eq(1),
            webhook_endpoints::from_seq.eq(i64::try_from(from).unwrap_or(i64::MAX)),
            webhook_endpoints::created_at.eq(now),
            webhook_endpoints::updated_at.eq(now),
        ))
        .execute(conn))?;
    get(conn, &new.id)
}

#[derive(AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointChanges {
    url: Option<String>,
    event_types: Option<String>,
    description: Option<Option<String>>,
    enabled: Option<i16>,
    disabled_reason: Option<Option<String>>,
    consecutive_failures: Option<i32>,
    updated_at: i64,
}

pub(crate) fn update(
    conn: &mut DbConnection,
    id: &str,
    changes: &WebhookChanges,
    now: DateTime<Utc>,
) -> StoreResult<Webhook> {
    let enabling = changes.enabled == Some(true);
    let set = EndpointChanges {
        url: changes.url.clone(),
        event_types: changes.event_types.as_deref().map(kinds_column),
        description: changes.description.clone(),
        enabled: changes.enabled.map(i16::from),
        disabled_reason: enabling.then_some(None),
        consecutive_failures: enabling.then_some(0),
        updated_at: micros(now),
    };
    let updated = diesel::update(webhook_endpoints::table.find(id))
        .set(&set)
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound(Entity::Webhook));
    }
    get(conn, id)
}

pub(crate) fn delete(conn: &mut DbConnection, id: &str) -> StoreResult<Webhook> {
    let endpoint = get(conn, id)?;
    diesel::delete(webhook_endpoints::table.find(id)).execute(conn)?;
    Ok(endpoint)
}

/// The next secret generation; the current one keeps signing until `previous_until`.
pub(crate) fn rotate_secret(
    conn: &mut DbConnection,
    id: &str,
    previous_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Webhook> {
    let updated = diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::secret_generation.eq(webhook_endpoints::secret_generation + 1),
            webhook_endpoints::previous_secret_until.eq(Some(micros(previous_until))),
            webhook_endpoints::updated_at.eq(micros(now)),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound(Entity::Webhook));
    }
    get(conn, id)
}

/// The endpoint's deliveries, newest first.
pub(crate) fn deliveries(
    conn: &mut DbConnection,
    endpoint: &str,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .order((
            webhook_deliveries::event_seq.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(i64::from(limit))
        .select(delivery_columns())
        .load::<DeliveryRow>(conn)?
        .into_iter()
        .map(delivery_from)
        .collect()
}

fn delivery(conn: &mut DbConnection, id: &str) -> StoreResult<Delivery> {
    let row: Option<DeliveryRow> = webhook_deliveries::table
        .find(id)
        .select(delivery_columns())
        .first(conn)
        .optional()?;
    delivery_from(row.ok_or(StoreError::NotFound(Entity::WebhookDelivery))?)
}

/// Queues delivery `id` of `endpoint` again, now, whatever its state.
pub(crate) fn redeliver(
    conn: &mut DbConnection,
    endpoint: &str,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Delivery> {
    let updated = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::endpoint_id.eq(endpoint)),
    )
    .set((
        webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
        webhook_deliveries::next_attempt_at.eq(micros(now)),
        webhook_deliveries::lease_until.eq(None::<i64>),
        webhook_deliveries::updated_at.eq(micros(now)),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound(Entity::WebhookDelivery));
    }
    delivery(conn, id)
}

/// Where fan-out resumes: after its cursor, or after every endpoint's registration
/// when that is later (events before it go nowhere, so a first endpoint in an old
/// vault does not wait for the backlog).
fn fanout_after(conn: &mut DbConnection, endpoints: &[Webhook]) -> StoreResult<u64> {
    let earliest = endpoints.iter().map(|e| e.from_seq).min().unwrap_or(0);
    Ok(settings::get(conn, FANOUT_CURSOR)?
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(0)
        .max(earliest))
}

/// Turns the events after the fan-out cursor into deliveries for the endpoints of
/// their owners that want them; returns how many deliveries it wrote. Idempotent: the
/// cursor moves in the same transaction, under the append lock, and a delivery is
/// unique per (endpoint, event).
pub(crate) fn fan_out(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<u64> {
    // Without endpoints, or with the cursor already at the newest event (an idle
    // poll), there is nothing to write and no lock is worth taking: every replica runs
    // this every second and after every change, beside the audit trail's writers. The
    // cursor only moves forward, so a stale read at worst takes the lock for nothing.
    let endpoints = list(conn, None)?;
    if endpoints.is_empty() || events::newest(conn)? <= fanout_after(conn, &endpoints)? {
        return Ok(0);
    }
    write_transaction(conn, |conn| {
        serialize_appends(conn)?;
        let endpoints = list(conn, None)?;
        let after = fanout_after(conn, &endpoints)?;
        // Tampered rows are left out here too: nothing forged is delivered, signed.
        let page = events::page(
            conn,
            after,
            &events::EventFilter::default(),
            FANOUT_BATCH,
            keys,
        )?;
        if page.next_after == after {
            return Ok(0);
        }
        let mut written = 0;
        for event in &page.events {
            let Some(owner) = &event.event.owner else {
                continue;
            };
            for endpoint in endpoints.iter().filter(|e| {
                &e.owner == owner && e.wants(event.event.kind) && event.seq > e.from_seq
            }) {
                let inserted =
                    on_backend!(conn, |conn| diesel::insert_into(webhook_deliveries::table)
                        .values((
                            webhook_deliveries::id.eq(vault_core::random_id("dlv_")),
                            webhook_deliveries::endpoint_id.eq(&endpoint.id),
                            webhook_deliveries::event_seq
                                .eq(i64::try_from(event.seq).unwrap_or(i64::MAX)),
                            webhook_deliveries::event_id.eq(&event.id),
                            webhook_deliveries::event_kind.eq(event.event.kind.as_str()),
                            webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
                            webhook_deliveries::attempts.eq(0),
                            webhook_deliveries::next_attempt_at.eq(micros(now)),
                            webhook_deliveries::created_at.eq(micros(now)),
                            webhook_deliveries::updated_at.eq(micros(now)),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn))?;
                written += inserted as u64;
            }
        }
        settings::put(conn, FANOUT_CURSOR, Some(&page.next_after.to_string()))?;
        Ok(written)
    })
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Claims up to `limit` due deliveries of enabled endpoints until `lease_until`,
/// counting the attempt; returns them with their endpoint and event.
pub(crate) fn claim(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Vec<ClaimedDelivery>> {
    // Rows another transaction has locked are skipped, not waited for: two replicas
    // claiming at once take different deliveries. SQLite has one writer at a time.
    let lock = match conn {
        DbConnection::Postgres(_) => "FOR UPDATE OF d SKIP LOCKED",
        DbConnection::Sqlite(_) => "",
    };
    // Every replica's worker comes here after each committed change and every poll:
    // a read says whether anything is due before a write transaction is opened, so a
    // vault with nothing to deliver never takes the write lock from the change that
    // woke it (on SQLite the next writer would wait for it).
    let at = micros(now);
    let due = on_backend!(conn, |conn| webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
        .filter(webhook_endpoints::enabled.eq(1_i16))
        .filter(webhook_deliveries::next_attempt_at.le(at))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.lt(at)),
        )
        .select(webhook_deliveries::id)
        .first::<String>(conn)
        .optional())?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1, updated_at = $2 \
         WHERE id IN (SELECT d.id FROM webhook_deliveries d \
           JOIN webhook_endpoints e ON e.id = d.endpoint_id \
           WHERE d.state = 'pending' AND e.enabled = 1 AND d.next_attempt_at <= $2 \
             AND (d.lease_until IS NULL OR d.lease_until < $2) \
           ORDER BY d.next_attempt_at, d.id LIMIT $3 {lock}) \
         RETURNING id"
    );
    write_transaction(conn, |conn| {
        let claimed: Vec<ClaimedId> = diesel::sql_query(sql)
            .bind::<BigInt, _>(micros(lease_until))
            .bind::<BigInt, _>(micros(now))
            .bind::<Integer, _>(i32::try_from(limit).unwrap_or(i32::MAX))
            .load(conn)?;
        let mut out = Vec::with_capacity(claimed.len());
        for ClaimedId { id } in claimed {
            let delivery = delivery(conn, &id)?;
            let endpoint = get(conn, &delivery.endpoint_id)?;
            let event = events::at(conn, delivery.event_seq, keys)?;
            out.push(ClaimedDelivery {
                delivery,
                endpoint,
                event,
            });
        }
        Ok(out)
    })
}

/// Records how attempt `attempt` of delivery `id` ended, if it is still this
/// replica's attempt (a lease that ran out may have passed it on). A failure counts
/// against the endpoint, which is turned off, with a `webhook.disabled` event, after
/// `disable_after` failures in a row. Returns whether the endpoint was turned off.
pub(crate) fn finish(
    conn: &mut DbConnection,
    id: &str,
    attempt: u32,
    outcome: &DeliveryOutcome,
    disable_after: u32,
    now: DateTime<Utc>,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<bool> {
    write_transaction(conn, |conn| {
        let mine = webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::attempts.eq(i32::try_from(attempt).unwrap_or(i32::MAX)))
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()));
        let (state, status, error, next) = match outcome {
            DeliveryOutcome::Delivered { status } => {
                (DeliveryState::Delivered, Some(*status), None, None)
            }
            DeliveryOutcome::Failed {
                status,
                error,
                retry_at,
            } => (
                if retry_at.is_some() {
                    DeliveryState::Pending
                } else {
                    DeliveryState::Failed
                },
                *status,
                Some(error.clone()),
                *retry_at,
            ),
        };
        let updated = diesel::update(mine)
            .set((
                webhook_deliveries::state.eq(state.as_str()),
                webhook_deliveries::last_status.eq(status.map(i32::from)),
                webhook_deliveries::last_error.eq(&error),
                webhook_deliveries::lease_until.eq(None::<i64>),
                webhook_deliveries::next_attempt_at.eq(micros(next.unwrap_or(now))),
                webhook_deliveries::updated_at.eq(micros(now)),
            ))
            .execute(conn)?;
        if updated == 0 {
            return Ok(false);
        }
        let endpoint_id: String = webhook_deliveries::table
            .find(id)
            .select(webhook_deliveries::endpoint_id)
            .first(conn)?;
        if matches!(outcome, DeliveryOutcome::Delivered { .. }) {
            diesel::update(webhook_endpoints::table.find(&endpoint_id))
                .set(webhook_endpoints::consecutive_failures.eq(0))
                .execute(conn)?;
            return Ok(false);
        }
        diesel::update(webhook_endpoints::table.find(&endpoint_id))
            .set(
                webhook_endpoints::consecutive_failures
                    .eq(webhook_endpoints::consecutive_failures + 1),
            )
            .execute(conn)?;
        let endpoint = get(conn, &endpoint_id)?;
        if !endpoint.enabled || endpoint.consecutive_failures < disable_after {
            return Ok(false);
        }
        let reason = format!(
            "{} deliveries in a row failed; the last: {}",
            endpoint.consecutive_failures,
            error.unwrap_or_default()
        );
        diesel::update(webhook_endpoints::table.find(&endpoint_id))
            .set((
                webhook_endpoints::enabled.eq(0i16),
                webhook_endpoints::disabled_reason.eq(Some(&reason)),
                webhook_endpoints::updated_at.eq(micros(now)),
            ))
            .execute(conn)?;
        let event = ChangeEvent::about(
            EventKind::WebhookDisabled,
            endpoint.owner.clone(),
            EventDetail {
                webhook_id: Some(endpoint.id.clone()),
                reason: Some(reason),
                ..EventDetail::default()
            },
        );
        events::append(conn, now, VAULT_ACTOR, &[event], keys)?;
        Ok(true)
    })
}
