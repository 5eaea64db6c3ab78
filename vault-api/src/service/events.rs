//! The change event feed (`GET /v1/events`): a page for pollers and a Server-Sent
//! Events stream for subscribers, both read from the store's log and both filtered by
//! vault-core's audience rule for the principal. A stream holds at most one page of
//! events in memory and reads the next only when the client has taken the last, so a
//! slow consumer costs its socket buffer and nothing more; it re-checks its token and
//! its principal's standing as it runs, so a revoked token or a removed member stops
//! being told at once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse;
use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use vault_client::wire::{EventPage, EventParams, EventView};
use vault_core::{EventAudience, EventKind, OwnerKind, SecretName, StoredEvent};
use vault_store::{EventFilter, TokenKind};

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Events a page holds at most (and a stream reads at once).
pub const MAX_EVENT_PAGE: u32 = 200;
const DEFAULT_EVENT_PAGE: u32 = 100;

/// How the feed behaves on this replica.
#[derive(Clone, Debug)]
pub struct EventOptions {
    /// How often an idle stream looks for events other replicas committed (its own
    /// replica's wake it at once).
    pub poll_interval: Duration,
    /// How often an idle stream sends a comment line, so proxies keep it open.
    pub heartbeat: Duration,
    /// How often a stream checks that its token still authenticates and re-reads what
    /// its principal may see.
    pub recheck_interval: Duration,
    /// Streams this replica serves at once; more are refused with 503.
    pub max_streams: usize,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            poll_interval: Duration::from_secs(1),
            heartbeat: Duration::from_secs(15),
            recheck_interval: Duration::from_secs(5),
            max_streams: 1024,
        }
    }
}

/// The feed's shared state on one replica: its options, the stream slots, and the
/// signal that ends every stream when the server shuts down.
pub struct EventStreams {
    pub options: EventOptions,
    slots: Arc<Semaphore>,
    closing: watch::Sender<bool>,
}

impl EventStreams {
    pub fn new(options: EventOptions) -> Self {
        EventStreams {
            slots: Arc::new(Semaphore::new(options.max_streams.max(1))),
            options,
            closing: watch::Sender::new(false),
        }
    }

    /// Ends every open stream (their clients reconnect to another replica with
    /// `Last-Event-ID`); the server calls it as it starts draining.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.options.max_streams.max(1) - self.slots.available_permits()
    }
}

/// What a reader asked for, parsed.
#[derive(Clone, Debug)]
pub struct FeedRequest {
    pub after: Option<u64>,
    pub filter: EventFilter,
    pub limit: u32,
    pub end: vault_store::PageEnd,
}

impl FeedRequest {
    /// `params` and a `Last-Event-ID` header, which wins over `after`: an EventSource
    /// reconnects to the URL it was given, with the header saying where it got to.
    pub fn parse(params: EventParams, last_event_id: Option<&str>) -> ApiResult<FeedRequest> {
        let after = match last_event_id {
            Some(id) => Some(id.trim().parse::<u64>().map_err(|_| {
                ApiError::invalid("Last-Event-ID", "must be the id of an event this feed sent")
            })?),
            None => params.after,
        };
        let limit = params.limit.unwrap_or(DEFAULT_EVENT_PAGE);
        if limit == 0 || limit > MAX_EVENT_PAGE {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_EVENT_PAGE}"),
            ));
        }
        let owner_kind = params
            .owner_kind
            .as_deref()
            .map(|kind| {
                [OwnerKind::User, OwnerKind::Workspace, OwnerKind::Project]
                    .into_iter()
                    .find(|k| k.as_str() == kind)
                    .ok_or_else(|| {
                        ApiError::invalid("owner_kind", "must be user, workspace or project")
                    })
            })
            .transpose()?;
        if let Some(id) = &params.owner_id {
            if owner_kind.is_none() {
                return Err(ApiError::invalid(
                    "owner_id",
                    "needs owner_kind: the same id may name a user and a project",
                ));
            }
            vault_core::UserId::parse(id).map_err(ApiError::core("owner_id"))?;
        }
        let name = params
            .name
            .as_deref()
            .map(SecretName::parse)
            .transpose()
            .map_err(ApiError::core("name"))?;
        let kinds = match params.types.as_deref() {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|kind| {
                    kind.parse::<EventKind>().map_err(|_| {
                        ApiError::invalid(
                            "type",
                            format!(
                                "{kind:?} is not an event type; the types are {}",
                                EventKind::ALL
                                    .iter()
                                    .map(|k| k.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?,
        };
        Ok(FeedRequest {
            after,
            end: if params.newest == Some(true) {
                vault_store::PageEnd::Newest
            } else {
                vault_store::PageEnd::Oldest
            },
            filter: EventFilter {
                owner_kind,
                owner_id: params.owner_id,
                name,
                kinds,
            },
            limit,
        })
    }
}

/// Who `principal` is to the event log, read now.
async fn audience(state: &AppState, principal: &Principal) -> ApiResult<EventAudience> {
    Ok(match &principal.caller {
        Caller::Operator | Caller::Orchestrator => EventAudience::Everything,
        Caller::User(user) => EventAudience::User(state.store.user_standing(user.clone()).await?),
        Caller::Session(context) => {
            // A session hears of its context's names only while its user may still
            // have that context: the rule every disclosure path applies.
            state
                .authorizer
                .check_context(context)
                .await?
                .map_err(ApiError::InjectionRefused)?;
            EventAudience::Session(context.clone())
        }
    })
}

/// Whether the token behind `principal` still authenticates (neither revoked nor
/// expired, and for a session its minting token likewise).
async fn still_authenticates(state: &AppState, principal: &Principal) -> ApiResult<bool> {
    let now = state.clock.now();
    let Some(token) = state.store.token(principal.token_id.clone()).await? else {
        return Ok(false);
    };
    if !token.is_live(now) {
        return Ok(false);
    }
    if token.kind == TokenKind::Session {
        let Some(issuer) = token.binding.issued_by.clone() else {
            return Ok(false);
        };
        let issuer = state.store.token(issuer).await?;
        return Ok(issuer
            .is_some_and(|issuer| issuer.kind == TokenKind::Orchestrator && issuer.is_live(now)));
    }
    Ok(true)
}

pub fn view(stored: StoredEvent) -> EventView {
    let event = stored.event;
    let detail = event.detail;
    EventView {
        seq: stored.seq,
        id: stored.id,
        at: stored.at,
        kind: event.kind.as_str().to_owned(),
        owner_kind: event.owner.as_ref().map(|o| o.kind().as_str().to_owned()),
        owner_id: event.owner.as_ref().map(|o| o.id().to_owned()),
        name: event.name.map(|n| n.as_str().to_owned()),
        secret_id: event.secret_id.map(|s| s.as_str().to_owned()),
        version: event.version.map(vault_core::Version::get),
        actor: (!stored.actor.is_empty()).then_some(stored.actor),
        changed: detail.changed,
        restored_from: detail.restored_from,
        expires_at: detail.expires_at,
        lead_seconds: detail.lead_seconds,
        user_id: detail.user_id.map(|u| u.as_str().to_owned()),
        role: detail.role.map(|r| r.as_str().to_owned()),
        milestone_id: detail.milestone_id.map(|m| m.as_str().to_owned()),
        token_id: detail.token_id,
        token_kind: detail.token_kind.map(|k| k.as_str().to_owned()),
        webhook_id: detail.webhook_id,
        reason: detail.reason,
    }
}

/// Says in the log that events were left out for failing their MAC: someone wrote
/// the events table outside the vault.
fn warn_tampered(page: &vault_store::EventPage) {
    if page.tampered > 0 {
        tracing::error!(
            tampered = page.tampered,
            "change events failed their integrity check and were left out: the events \
             table was written outside the vault"
        );
    }
}

/// Reads a page from `after` and checks the position is one this log can resume from:
/// not beyond the newest, and not before events retention has deleted.
async fn read(
    state: &AppState,
    after: u64,
    filter: &EventFilter,
    limit: u32,
    field: &'static str,
    end: vault_store::PageEnd,
) -> ApiResult<vault_store::EventPage> {
    let page = state
        .store
        .events_from(after, filter.clone(), limit, end)
        .await?;
    warn_tampered(&page);
    if after > page.newest {
        return Err(ApiError::invalid(
            field,
            format!(
                "is beyond the newest event ({}): it was not sent by this vault",
                page.newest
            ),
        ));
    }
    if let Some(oldest) = page.oldest
        && after.saturating_add(1) < oldest
    {
        return Err(ApiError::EventsPruned {
            after,
            oldest,
            field,
        });
    }
    Ok(page)
}

fn position_field(last_event_id: bool) -> &'static str {
    if last_event_id {
        "Last-Event-ID"
    } else {
        "after"
    }
}

/// One page of the events `principal` may see, oldest first.
pub(crate) async fn page(
    state: &AppState,
    principal: &Principal,
    request: FeedRequest,
    from_header: bool,
) -> ApiResult<EventPage> {
    let audience = audience(state, principal).await?;
    let page = match request.after {
        Some(after) => {
            read(
                state,
                after,
                &request.filter,
                request.limit,
                position_field(from_header),
                request.end,
            )
            .await?
        }
        // From the oldest kept: nothing before it can be asked for.
        None => {
            let page = state
                .store
                .events_from(0, request.filter.clone(), request.limit, request.end)
                .await?;
            warn_tampered(&page);
            page
        }
    };
    Ok(EventPage {
        data: page
            .events
            .iter()
            .filter_map(|event| audience.view(event))
            .map(view)
            .collect(),
        next_after: page.next_after,
    })
}

/// A stream that has started: everything it needs to read on.
struct Subscription {
    state: AppState,
    principal: Principal,
    audience: EventAudience,
    filter: EventFilter,
    after: u64,
    checked: tokio::time::Instant,
    commits: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    ready: VecDeque<sse::Event>,
    /// A position to tell the client without an event: where the stream starts, and
    /// where it has read past events this principal may not see. An `id` field alone
    /// sets an EventSource's last event id, so a reconnect resumes from there.
    position: Option<u64>,
    ended: bool,
    _slot: OwnedSemaphorePermit,
}

/// Opens the stream for `principal`: refused up front (401/403/422/410/503) exactly as
/// a page would be, then events as they commit, each with its position as `id`.
pub(crate) async fn stream(
    state: &AppState,
    principal: Principal,
    request: FeedRequest,
    from_header: bool,
) -> ApiResult<impl Stream<Item = Result<sse::Event, Infallible>> + Send + 'static> {
    let slot = state
        .events
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Unavailable {
            detail: format!(
                "this replica already serves {} event streams (VAULT_EVENT_STREAMS); retry, or poll pages",
                state.events.options.max_streams
            ),
        })?;
    let audience = audience(state, &principal).await?;
    let after = match request.after {
        Some(after) => {
            read(
                state,
                after,
                &request.filter,
                1,
                position_field(from_header),
                vault_store::PageEnd::Oldest,
            )
            .await?;
            after
        }
        // Without a position the stream starts now: after the newest event.
        None => {
            state
                .store
                .events(0, EventFilter::default(), 1)
                .await?
                .newest
        }
    };
    let subscription = Subscription {
        state: state.clone(),
        principal,
        audience,
        filter: request.filter,
        after,
        checked: tokio::time::Instant::now(),
        commits: state.store.event_commits(),
        closing: state.events.closing.subscribe(),
        ready: VecDeque::new(),
        position: Some(after),
        ended: false,
        _slot: slot,
    };
    Ok(futures_util::stream::unfold(
        subscription,
        |mut sub| async move {
            let event = sub.next().await?;
            Some((Ok(event), sub))
        },
    ))
}

impl Subscription {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<sse::Event> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            if let Some(position) = self.position.take() {
                return Some(sse::Event::default().id(position.to_string()));
            }
            if self.ended || *self.closing.borrow() {
                return None;
            }
            let options = &self.state.events.options;
            if self.checked.elapsed() >= options.recheck_interval {
                self.checked = tokio::time::Instant::now();
                if let Some(reason) = self.recheck().await {
                    // Told why, once, then closed: an EventSource would otherwise
                    // reconnect at once and be refused with no explanation.
                    self.ended = true;
                    return Some(sse::Event::default().event("end").data(reason));
                }
            }
            let page = match self
                .state
                .store
                .events(self.after, self.filter.clone(), MAX_EVENT_PAGE)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "an event stream could not read the log; retrying");
                    self.wait().await;
                    continue;
                }
            };
            warn_tampered(&page);
            // Mark what this replica has seen, so a wake-up for events already read
            // does not cause a second empty read.
            self.commits.borrow_and_update();
            let full = page.events.len() >= MAX_EVENT_PAGE as usize;
            let moved = page.next_after > self.after;
            self.after = page.next_after;
            for event in page.events.iter().filter_map(|e| self.audience.view(e)) {
                let seq = event.seq;
                let kind = event.event.kind;
                match sse::Event::default()
                    .id(seq.to_string())
                    .event(kind.as_str())
                    .json_data(view(event))
                {
                    Ok(event) => self.ready.push_back(event),
                    Err(error) => tracing::error!(%error, seq, "an event could not be encoded"),
                }
            }
            if self.ready.is_empty() && moved {
                self.position = Some(self.after);
                continue;
            }
            if self.ready.is_empty() && !full {
                self.wait().await;
            }
        }
    }

    /// Until this replica commits an event, the poll interval passes, the next
    /// recheck is due or the server closes.
    async fn wait(&mut self) {
        let options = &self.state.events.options;
        let recheck = options
            .recheck_interval
            .saturating_sub(self.checked.elapsed());
        let pause = options.poll_interval.min(recheck);
        tokio::select! {
            _ = self.commits.changed() => {}
            _ = self.closing.changed() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }

    /// Why the stream must end now, if it must: its token no longer authenticates, or
    /// its principal may no longer be told (a session's user left the project). A
    /// user's standing is re-read, so a new membership widens the stream and a removed
    /// one narrows it.
    async fn recheck(&mut self) -> Option<String> {
        match still_authenticates(&self.state, &self.principal).await {
            Ok(true) => {}
            Ok(false) => return Some("the token is no longer valid".into()),
            // The database cannot answer: keep the stream, ask again next time.
            Err(_) => return None,
        }
        match audience(&self.state, &self.principal).await {
            Ok(audience) => {
                self.audience = audience;
                None
            }
            Err(ApiError::InjectionRefused(refused)) => Some(refused.to_string()),
            Err(ApiError::Unavailable { .. }) => None,
            Err(error) => Some(error.to_string()),
        }
    }
}

/// What the background sweep does: expiry reminders and retention.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// How often it runs.
    pub interval: Duration,
    /// How long before a version expires `secret.expiring` goes out (each once).
    pub reminder_leads: Vec<Duration>,
    /// How long events are kept.
    pub retention: Duration,
}

impl Default for SweepOptions {
    fn default() -> Self {
        const DAY: u64 = 86_400;
        SweepOptions {
            interval: Duration::from_secs(60),
            reminder_leads: vec![Duration::from_secs(7 * DAY), Duration::from_secs(DAY)],
            retention: Duration::from_secs(30 * DAY),
        }
    }
}

/// One sweep: every reminder due now (in batches until none is left), then the events
/// older than the retention. Every replica sweeps; the store makes each reminder go out
/// once.
pub async fn sweep(state: &AppState, options: &SweepOptions) -> ApiResult<u64> {
    let now = state.clock.now();
    let mut appended = 0;
    loop {
        let batch = state
            .store
            .emit_due_reminders(now, options.reminder_leads.clone())
            .await?;
        appended += batch;
        if batch == 0 {
            break;
        }
    }
    let cut = chrono::Duration::from_std(options.retention)
        .ok()
        .and_then(|retention| now.checked_sub_signed(retention));
    if let Some(cut) = cut {
        state.store.prune_events(cut).await?;
    }
    Ok(appended)
}

/// Sweeps every `options.interval` for as long as the state lives.
pub fn sweep_every(state: &AppState, options: SweepOptions) {
    let weak = std::sync::Arc::downgrade(&state.0);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(options.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(shared) = weak.upgrade() else { return };
            let state = AppState(shared);
            match sweep(&state, &options).await {
                Ok(0) => {}
                Ok(appended) => tracing::info!(appended, "expiry reminders appended"),
                Err(error) => tracing::warn!(%error, "the event sweep failed; it runs again"),
            }
        }
    });
}
