//! The change event log's rows. Events are appended inside the transaction of the
//! change they describe, after its audit record and under the same lock, so a change
//! and its event commit together and positions follow commit order with no gaps: a
//! reader that has seen position n has seen every event before it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use vault_core::{
    ChangeEvent, EventDetail, EventKind, IntegrityKeys, Owner, OwnerKind, SecretId, SecretName,
    StoredEvent, due_expiry_lead, event_mac, event_mac_matches,
};

use crate::audit::serialize_appends;
use crate::convert::{from_micros, micros, version_column, version_number};
use crate::db::{DbConnection, on_backend, read_transaction, write_transaction};
use crate::error::{StoreError, StoreResult};
use crate::schema::{events, expiry_reminders, secrets};
use crate::secrets::owner_from_row;

/// Who the vault itself is, as the actor of the events nobody's request made.
pub const VAULT_ACTOR: &str = "vault";

/// Which events a reader asks for; every field narrows, none widens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub owner_kind: Option<OwnerKind>,
    /// Only with `owner_kind`: one owner.
    pub owner_id: Option<String>,
    pub name: Option<SecretName>,
    /// Any of these kinds; every kind when empty.
    pub kinds: Vec<EventKind>,
}

/// A page of the log read from one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPage {
    /// Matching events after the asked position, oldest first.
    pub events: Vec<StoredEvent>,
    /// The position to ask after next: the last event returned when the page is full,
    /// else the newest position the snapshot held (so a filter that matched nothing
    /// still moves the reader on).
    pub next_after: u64,
    /// The oldest position still kept; `None` while the log is empty.
    pub oldest: Option<u64>,
    /// The newest position; 0 while the log is empty.
    pub newest: u64,
    /// Rows in the page's range left out because their MAC failed: written or edited
    /// outside the vault.
    pub tampered: u64,
}

type EventColumns = (
    i64,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    String,
    String,
    Option<Vec<u8>>,
);

/// The columns in `EventColumns` order.
type EventSelection = (
    events::seq,
    events::id,
    events::at,
    events::kind,
    events::owner_kind,
    events::owner_id,
    events::name,
    events::secret_id,
    events::version,
    events::actor,
    events::detail,
    events::mac,
);

fn columns() -> EventSelection {
    (
        events::seq,
        events::id,
        events::at,
        events::kind,
        events::owner_kind,
        events::owner_id,
        events::name,
        events::secret_id,
        events::version,
        events::actor,
        events::detail,
        events::mac,
    )
}

/// What a stored row reads as.
enum Read {
    Event(Box<StoredEvent>),
    /// A kind this build does not know (written by a newer replica during a rollout),
    /// which no audience rule here could judge.
    Unknown,
    /// Its MAC is missing or does not match (written or edited outside the vault), or
    /// it does not even parse: never handed out.
    Tampered,
}

fn parse(row: &EventColumns, kind: EventKind) -> StoreResult<StoredEvent> {
    let (seq, id, at, _, owner_kind, owner_id, name, secret_id, version, actor, detail, _) = row;
    let owner = match (owner_kind, owner_id) {
        (Some(kind), Some(id)) => Some(owner_from_row(kind, id)?),
        (None, None) => None,
        _ => {
            return Err(StoreError::corrupt(
                "events.owner_id",
                "owner kind without id",
            ));
        }
    };
    let detail: EventDetail = serde_json::from_str(detail)
        .map_err(|e| StoreError::corrupt("events.detail", e.to_string()))?;
    Ok(StoredEvent {
        seq: u64::try_from(*seq).map_err(|_| StoreError::corrupt("events.seq", "negative"))?,
        id: id.clone(),
        at: from_micros("events.at", *at)?,
        actor: actor.clone(),
        event: ChangeEvent {
            kind,
            owner,
            name: name
                .as_deref()
                .map(|n| SecretName::parse(n).map_err(StoreError::stored("events.name")))
                .transpose()?,
            secret_id: secret_id
                .as_deref()
                .map(|s| SecretId::parse(s).map_err(StoreError::stored("events.secret_id")))
                .transpose()?,
            version: version
                .map(|v| version_number("events.version", v))
                .transpose()?,
            detail,
        },
    })
}

/// A stored row as an event, its MAC checked when the store holds the keys. With the
/// keys, a row that does not even parse is tampered too: a database writer cannot stop
/// the feed with a broken row.
fn from_columns(row: EventColumns, keys: Option<&IntegrityKeys>) -> StoreResult<Read> {
    let Ok(kind) = row.3.parse::<EventKind>() else {
        return Ok(Read::Unknown);
    };
    let parsed = parse(&row, kind);
    let Some(keys) = keys else {
        return parsed.map(|event| Read::Event(Box::new(event)));
    };
    let Ok(event) = parsed else {
        return Ok(Read::Tampered);
    };
    let intact = row
        .11
        .as_deref()
        .is_some_and(|mac| event_mac_matches(keys, &event, &row.10, mac));
    Ok(if intact {
        Read::Event(Box::new(event))
    } else {
        Read::Tampered
    })
}

pub(crate) fn newest(conn: &mut DbConnection) -> StoreResult<u64> {
    let newest: Option<i64> = on_backend!(conn, |conn| events::table
        .select(diesel::dsl::max(events::seq))
        .get_result(conn))?;
    Ok(newest.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// The event at position `seq`, if it is kept (and of a kind this build knows).
pub(crate) fn at(
    conn: &mut DbConnection,
    seq: u64,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Option<StoredEvent>> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let rows: Vec<EventColumns> = events::table
        .filter(events::seq.eq(seq))
        .select(columns())
        .load(conn)?;
    match rows.into_iter().next() {
        Some(row) => Ok(match from_columns(row, keys)? {
            Read::Event(event) => Some(*event),
            Read::Unknown | Read::Tampered => None,
        }),
        None => Ok(None),
    }
}

/// Appends `events` after the newest, inside the caller's write transaction; returns
/// the position of the last one (`None` when there were none).
pub(crate) fn append(
    conn: &mut DbConnection,
    at: DateTime<Utc>,
    actor: &str,
    changes: &[ChangeEvent],
    keys: Option<&IntegrityKeys>,
) -> StoreResult<Option<u64>> {
    if changes.is_empty() {
        return Ok(None);
    }
    // Re-entrant: a change whose audit record took the lock already holds it.
    serialize_appends(conn)?;
    let mut seq = newest(conn)?;
    for change in changes {
        seq += 1;
        let detail = serde_json::to_string(&change.detail)
            .map_err(|e| StoreError::invalid("detail", e.to_string()))?;
        let version = change.version.map(version_column).transpose()?;
        let position =
            i64::try_from(seq).map_err(|_| StoreError::invalid("seq", "is too large"))?;
        let id = StoredEvent::generate_id();
        // Microseconds, as stored, so the MAC covers the time a reader gets back.
        let at = from_micros("events.at", micros(at))?;
        let mac = keys.map(|keys| {
            let stored = StoredEvent {
                seq,
                id: id.clone(),
                at,
                actor: actor.to_owned(),
                event: change.clone(),
            };
            event_mac(keys, &stored, &detail).to_vec()
        });
        on_backend!(conn, |conn| diesel::insert_into(events::table)
            .values((
                events::seq.eq(position),
                events::id.eq(&id),
                events::at.eq(micros(at)),
                events::kind.eq(change.kind.as_str()),
                events::owner_kind.eq(change.owner.as_ref().map(|o| o.kind().as_str())),
                events::owner_id.eq(change.owner.as_ref().map(Owner::id)),
                events::name.eq(change.name.as_ref().map(SecretName::as_str)),
                events::secret_id.eq(change.secret_id.as_ref().map(SecretId::as_str)),
                events::version.eq(version),
                events::actor.eq(actor),
                events::detail.eq(&detail),
                events::mac.eq(&mac),
            ))
            .execute(conn))?;
    }
    Ok(Some(seq))
}

/// Which end of the matching events a page takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageEnd {
    /// The first `limit` after the position: what a reader catching up takes.
    Oldest,
    /// The last `limit`: recent context for a reader starting now, which then
    /// follows from the newest position.
    Newest,
}

/// Up to `limit` events after `after` that match `filter`, from one snapshot.
pub(crate) fn page(
    conn: &mut DbConnection,
    after: u64,
    filter: &EventFilter,
    limit: u32,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<EventPage> {
    page_from(conn, after, filter, limit, PageEnd::Oldest, keys)
}

/// As `page`, from either end.
pub(crate) fn page_from(
    conn: &mut DbConnection,
    after: u64,
    filter: &EventFilter,
    limit: u32,
    end: PageEnd,
    keys: Option<&IntegrityKeys>,
) -> StoreResult<EventPage> {
    read_transaction(conn, |conn| {
        let newest = newest(conn)?;
        let oldest: Option<i64> = on_backend!(conn, |conn| events::table
            .select(diesel::dsl::min(events::seq))
            .get_result(conn))?;
        let from = i64::try_from(after).unwrap_or(i64::MAX);
        let to = i64::try_from(newest).unwrap_or(i64::MAX);
        let mut sql = events::table
            .select(columns())
            .filter(events::seq.gt(from))
            // Only what this snapshot's newest covers: everything at or below it has
            // committed, so `next_after` never skips an event still committing.
            .filter(events::seq.le(to))
            .limit(i64::from(limit))
            .into_boxed();
        sql = match end {
            PageEnd::Oldest => sql.order(events::seq.asc()),
            PageEnd::Newest => sql.order(events::seq.desc()),
        };
        if let Some(kind) = filter.owner_kind {
            sql = sql.filter(events::owner_kind.eq(kind.as_str()));
        }
        if let Some(id) = &filter.owner_id {
            sql = sql.filter(events::owner_id.eq(id.clone()));
        }
        if let Some(name) = &filter.name {
            sql = sql.filter(events::name.eq(name.as_str().to_owned()));
        }
        if !filter.kinds.is_empty() {
            sql = sql.filter(
                events::kind.eq_any(filter.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()),
            );
        }
        let mut rows: Vec<EventColumns> = sql.load(conn)?;
        if end == PageEnd::Newest {
            rows.reverse();
        }
        // The newest end leaves nothing between its events and the snapshot's newest.
        let full = end == PageEnd::Oldest && rows.len() == limit as usize;
        let last_row = rows.last().map(|row| row.0);
        let mut events = Vec::with_capacity(rows.len());
        let mut tampered = 0;
        for row in rows {
            match from_columns(row, keys)? {
                Read::Event(event) => events.push(*event),
                Read::Unknown => {}
                Read::Tampered => tampered += 1,
            }
        }
        let next_after = match (full, last_row) {
            (true, Some(last)) => u64::try_from(last).unwrap_or(after),
            _ => newest.max(after),
        };
        Ok(EventPage {
            events,
            tampered,
            next_after,
            oldest: oldest.and_then(|o| u64::try_from(o).ok()),
            newest,
        })
    })
}

/// Deletes events older than `before`, always keeping the newest (whose position the
/// next append counts from); returns how many went.
pub(crate) fn prune(conn: &mut DbConnection, before: DateTime<Utc>) -> StoreResult<u64> {
    write_transaction(conn, |conn| {
        let newest = i64::try_from(newest(conn)?).unwrap_or(i64::MAX);
        let removed = diesel::delete(
            events::table
                .filter(events::at.lt(micros(before)))
                .filter(events::seq.lt(newest)),
        )
        .execute(conn)?;
        Ok(removed as u64)
    })
}

/// Most secrets one sweep announces, so a vault with many expiring at once catches up
/// over a few sweeps instead of holding the lock for long.
const REMINDER_BATCH: i64 = 500;

/// Appends the expiry events now due (`secret.expiring` at each of `leads` before a
/// version expires, `secret.expired` once it has), each once per secret version, expiry
/// and lead however many replicas sweep: the sweep runs under the append lock, and the
/// sent reminders are rows. Returns how many events it appended and the last one's
/// position; a full batch means more may be due.
pub(crate) fn emit_due_reminders(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    leads: &[Duration],
    keys: Option<&IntegrityKeys>,
) -> StoreResult<(u64, Option<u64>)> {
    // The tightest lead first: 0 is the expiry itself.
    let mut all_leads: Vec<u64> = leads.iter().map(Duration::as_secs).collect();
    all_leads.push(0);
    all_leads.sort_unstable();
    all_leads.dedup();
    let offset = |lead: u64| {
        let lead = chrono::Duration::seconds(i64::try_from(lead).unwrap_or(i64::MAX / 1_000_000));
        micros(
            now.checked_add_signed(lead)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    };
    write_transaction(conn, |conn| {
        serialize_appends(conn)?;
        let mut changes = Vec::new();
        let mut budget = REMINDER_BATCH;
        for (index, lead) in all_leads.iter().copied().enumerate() {
            if budget == 0 {
                break;
            }
            let lead_column = i64::try_from(lead).unwrap_or(i64::MAX);
            // The window in which `lead` is the tightest entered: within it and not
            // within the next tighter one.
            let upper = offset(lead);
            let lower = index
                .checked_sub(1)
                .map(|tighter| offset(all_leads[tighter]));
            let sent = expiry_reminders::table
                .filter(expiry_reminders::secret_id.eq(secrets::id))
                .filter(expiry_reminders::version.eq(secrets::current_version))
                .filter(
                    expiry_reminders::expires_at
                        .nullable()
                        .eq(secrets::expires_at),
                )
                .filter(expiry_reminders::lead_seconds.eq(lead_column));
            let mut due = secrets::table
                .filter(secrets::expires_at.le(upper))
                .filter(diesel::dsl::not(diesel::dsl::exists(sent)))
                .select((secrets::id, secrets::current_version, secrets::expires_at))
                .order(secrets::expires_at.asc())
                .limit(budget)
                .into_boxed();
            if let Some(lower) = lower {
                due = due.filter(secrets::expires_at.gt(lower));
            }
            let due: Vec<(String, i32, Option<i64>)> = due.load(conn)?;
            budget -= due.len() as i64;
            for (id, version, expires_at) in due {
                let Some(expires_micros) = expires_at else {
                    continue;
                };
                let expires = from_micros("secrets.expires_at", expires_micros)?;
                // Whole seconds decide, as vault-core counts them; a row at a window's
                // edge is the next window's.
                if due_expiry_lead(expires, now, leads) != Some(lead) {
                    continue;
                }
                let secret = SecretId::parse(&id).map_err(StoreError::stored("secrets.id"))?;
                // A row that fails its MAC is not announced; the read paths report it.
                let meta = match crate::secrets::get(conn, &secret, keys) {
                    Ok(meta) => meta,
                    Err(StoreError::Tampered { .. }) => continue,
                    Err(other) => return Err(other),
                };
                // Reaching a tight lead settles the wider ones: no stale "in 7 days"
                // after "in 1 day".
                for settled in all_leads.iter().filter(|l| **l >= lead) {
                    let settled = i64::try_from(*settled).unwrap_or(i64::MAX);
                    on_backend!(conn, |conn| diesel::insert_into(expiry_reminders::table)
                        .values((
                            expiry_reminders::secret_id.eq(&id),
                            expiry_reminders::version.eq(version),
                            expiry_reminders::expires_at.eq(expires_micros),
                            expiry_reminders::lead_seconds.eq(settled),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn))?;
                }
                let kind = if lead == 0 {
                    EventKind::SecretExpired
                } else {
                    EventKind::SecretExpiring
                };
                let mut change = ChangeEvent::secret(kind, &meta, None);
                change.detail.expires_at = Some(expires);
                change.detail.lead_seconds = (lead > 0).then_some(lead);
                changes.push(change);
            }
        }
        let appended = changes.len() as u64;
        let last = append(conn, now, VAULT_ACTOR, &changes, keys)?;
        Ok((appended, last))
    })
}
