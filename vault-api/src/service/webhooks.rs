//! Webhooks: endpoints registered per user, workspace or project by whoever may manage
//! that owner's secrets, and the delivery worker every replica runs. Deliveries follow
//! the Standard Webhooks specification (`webhook-id` is the event's id, stable across
//! retries; `webhook-timestamp`; `webhook-signature` with every secret that signs now),
//! at least once, with exponential backoff and jitter over a bounded number of
//! attempts. A target must be `https://` on public addresses unless the operator allows
//! otherwise; it is checked when registered and again, resolved once, before every
//! attempt, and the attempt connects to exactly the addresses checked (no DNS
//! rebinding between the check and the connection), with redirects not followed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::json;
use vault_client::wire::{
    CreateWebhook, DeliveryList, DeliveryView, UpdateWebhook, WebhookList, WebhookListParams,
    WebhookPayload, WebhookView, WebhookWithSecret,
};
use vault_core::{
    AuditAction, Description, EventKind, Owner, ProjectPermission, UserId, WebhookSecret,
    WorkspaceId, WorkspacePermission, is_public_address,
};
use vault_store::{ClaimedDelivery, DeliveryOutcome, NewWebhook, Webhook, WebhookChanges};

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The longest target URL.
pub const MAX_WEBHOOK_URL: usize = 2048;

/// How deliveries go out from this replica.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Targets on loopback, private, link-local and other non-public addresses.
    pub allow_private_targets: bool,
    /// `http://` targets (their deliveries cross the network unencrypted).
    pub allow_http: bool,
    /// How often the worker looks for due deliveries when nothing woke it.
    pub poll_interval: Duration,
    /// How long one attempt may take, connection included.
    pub timeout: Duration,
    /// Attempts per delivery before it is given up (failed; a redelivery sends it again).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles with each one.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Failed attempts in a row after which an endpoint is turned off.
    pub disable_after: u32,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// How long the previous secret still signs after a rotation.
    pub rotation_overlap: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            allow_private_targets: false,
            allow_http: false,
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            max_attempts: 10,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            disable_after: 20,
            concurrency: 8,
            rotation_overlap: Duration::from_secs(24 * 3600),
        }
    }
}

impl WebhookOptions {
    /// How long a claim lasts: past every attempt's timeout, so a live worker never
    /// loses its claim, and short enough that a dead one's is soon taken over.
    fn lease(&self) -> Duration {
        self.timeout.saturating_mul(3).max(Duration::from_secs(30))
    }
}

/// A target checked and resolved: where an attempt connects.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: reqwest::Url,
    pub host: String,
    pub addresses: Vec<SocketAddr>,
}

/// Checks `url` as a delivery target and resolves it once; the reason it may not be
/// one otherwise.
pub async fn check_target(url: &str, options: &WebhookOptions) -> Result<Target, String> {
    if url.len() > MAX_WEBHOOK_URL {
        return Err(format!("must be at most {MAX_WEBHOOK_URL} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if options.allow_http => {}
        "http" => {
            return Err(
                "must be https:// (plain http:// needs VAULT_WEBHOOK_ALLOW_HTTP on the vault)"
                    .into(),
            );
        }
        other => return Err(format!("must be https://, not {other}://")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials; authenticate the signature instead".into());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("must name a host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().ok_or("must name a port")?;
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let lookup = tokio::net::lookup_host((host.as_str(), port));
            tokio::time::timeout(Duration::from_secs(5), lookup)
                .await
                .map_err(|_| format!("{host} did not resolve within 5 s"))?
                .map_err(|e| format!("{host} does not resolve: {e}"))?
                .collect()
        }
    };
    if addresses.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if !options.allow_private_targets
        && let Some(private) = addresses.iter().find(|a| !is_public_address(a.ip()))
    {
        return Err(format!(
            "{host} resolves to {}, which is not a public address (loopback, private, \
             link-local and metadata addresses are refused unless \
             VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS is set)",
            private.ip()
        ));
    }
    Ok(Target {
        url: parsed,
        host,
        addresses,
    })
}

fn parse_kinds(kinds: Option<Vec<String>>) -> ApiResult<Vec<EventKind>> {
    let mut parsed = Vec::new();
    for kind in kinds.unwrap_or_default() {
        let kind = kind.parse::<EventKind>().map_err(|_| {
            ApiError::invalid(
                "event_types",
                format!("{kind:?} is not an event type; GET /v1/events lists them by `type`"),
            )
        })?;
        if !parsed.contains(&kind) {
            parsed.push(kind);
        }
    }
    Ok(parsed)
}

fn parse_description(text: Option<String>) -> ApiResult<Option<String>> {
    text.map(|t| {
        Description::parse(&t)
            .map(|d| d.as_str().to_owned())
            .map_err(ApiError::core("description"))
    })
    .transpose()
}

/// The owner named by `kind` and `id`; a user token may leave the id out for itself.
fn parse_owner(principal: &Principal, kind: &str, id: Option<&str>) -> ApiResult<Owner> {
    let id = match (id, principal.user()) {
        (Some(id), _) => id.to_owned(),
        (None, Some(own)) if kind == "user" => own.as_str().to_owned(),
        (None, _) => return Err(ApiError::invalid("owner_id", "is required")),
    };
    Ok(match kind {
        "user" => Owner::User(UserId::parse(&id).map_err(ApiError::core("owner_id"))?),
        "workspace" => {
            Owner::Workspace(WorkspaceId::parse(&id).map_err(ApiError::core("owner_id"))?)
        }
        "project" => Owner::Project(crate::service::projects::parse_project(&id)?),
        _ => {
            return Err(ApiError::invalid(
                "owner_kind",
                "must be user, workspace or project",
            ));
        }
    })
}

/// Lets the request through when `principal` may manage `owner`'s secrets: a user its
/// own, a workspace's admins, a project's Accountable and Responsible members;
/// operators every owner, the orchestrator (which acts for users) users'.
async fn may_manage(state: &AppState, principal: &Principal, owner: &Owner) -> ApiResult<()> {
    match (&principal.caller, owner) {
        (Caller::Session(_), _) => Err(ApiError::Forbidden(
            "a session token may only look up secrets by name".into(),
        )),
        (Caller::Operator, _) | (Caller::Orchestrator, Owner::User(_)) => Ok(()),
        (Caller::User(user), Owner::User(owner)) if user == owner => Ok(()),
        (Caller::User(_), Owner::User(_)) => Err(ApiError::Forbidden(
            "a user token manages only its own user's webhooks".into(),
        )),
        (Caller::User(user), Owner::Workspace(workspace)) => {
            if state
                .authorizer
                .check_workspace(user, WorkspacePermission::ManageKeys, workspace)
                .await?
            {
                Ok(())
            } else {
                Err(ApiError::NotFound("workspace"))
            }
        }
        (_, Owner::Project(project)) => {
            crate::service::projects::authorize(
                state,
                principal,
                project,
                ProjectPermission::WriteEntries,
            )
            .await
        }
        (Caller::Orchestrator, Owner::Workspace(_)) => Err(ApiError::Forbidden(
            "workspace webhooks are managed by the workspace's admins".into(),
        )),
    }
}

/// Endpoint `id` when `principal` may manage it; 404 otherwise, as if missing.
async fn visible(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Webhook> {
    if let Caller::Session(_) = principal.caller {
        return Err(ApiError::Forbidden(
            "a session token may only look up secrets by name".into(),
        ));
    }
    if !id.starts_with("whk_") || id.len() > 64 {
        return Err(ApiError::NotFound("webhook"));
    }
    let endpoint = state.store.webhook(id.to_owned()).await?;
    match may_manage(state, principal, &endpoint.owner).await {
        Ok(()) => Ok(endpoint),
        Err(ApiError::Unavailable { detail }) => Err(ApiError::Unavailable { detail }),
        Err(_) => Err(ApiError::NotFound("webhook")),
    }
}

pub fn view(endpoint: &Webhook) -> WebhookView {
    WebhookView {
        id: endpoint.id.clone(),
        owner_kind: endpoint.owner.kind().as_str().to_owned(),
        owner_id: endpoint.owner.id().to_owned(),
        url: endpoint.url.clone(),
        event_types: endpoint
            .event_types
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
        description: endpoint.description.clone(),
        enabled: endpoint.enabled,
        disabled_reason: endpoint.disabled_reason.clone(),
        consecutive_failures: endpoint.consecutive_failures,
        secret_generation: endpoint.secret_generation,
        previous_secret_until: endpoint.previous_secret_until,
        created_at: endpoint.created_at,
        updated_at: endpoint.updated_at,
    }
}

fn secret_of(state: &AppState, endpoint: &Webhook, generation: u32) -> ApiResult<WebhookSecret> {
    let keys = state
        .store
        .integrity_keys()
        .ok_or_else(|| ApiError::Unavailable {
            detail: "the integrity master is not open".into(),
        })?;
    Ok(WebhookSecret::derive(&keys, &endpoint.id, generation))
}

fn audit_target(endpoint_id: &str, owner: &Owner) -> serde_json::Value {
    json!({"webhook_id": endpoint_id, "owner_kind": owner.kind().as_str(), "owner_id": owner.id()})
}

pub(crate) async fn create(
    state: &AppState,
    principal: &Principal,
    body: CreateWebhook,
) -> ApiResult<WebhookWithSecret> {
    let owner = parse_owner(principal, &body.owner_kind, body.owner_id.as_deref())?;
    may_manage(state, principal, &owner).await?;
    let event_types = parse_kinds(body.event_types)?;
    let description = parse_description(body.description)?;
    check_target(&body.url, &state.webhooks)
        .await
        .map_err(|reason| ApiError::invalid("url", reason))?;
    let id = vault_core::random_id("whk_");
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::WebhookCreate,
        audit_target(&id, &owner),
        "ok",
    )?;
    let endpoint = state
        .store
        .create_webhook(
            NewWebhook {
                id,
                owner,
                url: body.url,
                event_types,
                description,
                now: state.clock.now(),
            },
            audit,
        )
        .await?;
    let secret = secret_of(state, &endpoint, endpoint.secret_generation)?;
    Ok(WebhookWithSecret {
        webhook: view(&endpoint),
        secret: secret.encoded().into(),
    })
}

pub(crate) async fn list(
    state: &AppState,
    principal: &Principal,
    params: WebhookListParams,
) -> ApiResult<WebhookList> {
    if let Caller::Session(_) = principal.caller {
        return Err(ApiError::Forbidden(
            "a session token may only look up secrets by name".into(),
        ));
    }
    let owner = match (&params.owner_kind, &principal.caller) {
        (None, Caller::Operator) if params.owner_id.is_none() => None,
        (None, Caller::User(user)) if params.owner_id.is_none() => Some(Owner::User(user.clone())),
        (None, _) => {
            return Err(ApiError::invalid(
                "owner_kind",
                "is required with this token (with owner_id)",
            ));
        }
        (Some(kind), _) => Some(parse_owner(principal, kind, params.owner_id.as_deref())?),
    };
    if let Some(owner) = &owner {
        may_manage(state, principal, owner).await?;
    }
    let endpoints = state.store.webhooks(owner).await?;
    Ok(WebhookList {
        data: endpoints.iter().map(view).collect(),
    })
}

pub(crate) async fn get(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<WebhookView> {
    Ok(view(&visible(state, principal, id).await?))
}

pub(crate) async fn update(
    state: &AppState,
    principal: &Principal,
    id: &str,
    body: UpdateWebhook,
) -> ApiResult<WebhookView> {
    let endpoint = visible(state, principal, id).await?;
    if let Some(url) = &body.url {
        check_target(url, &state.webhooks)
            .await
            .map_err(|reason| ApiError::invalid("url", reason))?;
    }
    let changes = WebhookChanges {
        url: body.url,
        event_types: body.event_types.map(|k| parse_kinds(Some(k))).transpose()?,
        description: body
            .description
            .map(|d| parse_description(Some(d)))
            .transpose()?,
        enabled: body.enabled,
    };
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::WebhookUpdate,
        audit_target(&endpoint.id, &endpoint.owner),
        "ok",
    )?;
    let updated = state
        .store
        .update_webhook(endpoint.id, changes, state.clock.now(), audit)
        .await?;
    Ok(view(&updated))
}

pub(crate) async fn delete(state: &AppState, principal: &Principal, id: &str) -> ApiResult<()> {
    let endpoint = visible(state, principal, id).await?;
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::WebhookDelete,
        audit_target(&endpoint.id, &endpoint.owner),
        "ok",
    )?;
    state.store.delete_webhook(endpoint.id, audit).await?;
    Ok(())
}

pub(crate) async fn rotate_secret(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<WebhookWithSecret> {
    let endpoint = visible(state, principal, id).await?;
    let now = state.clock.now();
    let overlap = chrono::Duration::from_std(state.webhooks.rotation_overlap)
        .unwrap_or(chrono::Duration::zero());
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::WebhookRotateSecret,
        audit_target(&endpoint.id, &endpoint.owner),
        "ok",
    )?;
    let rotated = state
        .store
        .rotate_webhook_secret(endpoint.id, now + overlap, now, audit)
        .await?;
    let secret = secret_of(state, &rotated, rotated.secret_generation)?;
    Ok(WebhookWithSecret {
        webhook: view(&rotated),
        secret: secret.encoded().into(),
    })
}

fn delivery_view(delivery: vault_store::Delivery) -> DeliveryView {
    DeliveryView {
        id: delivery.id,
        event_id: delivery.event_id,
        event_seq: delivery.event_seq,
        event_type: delivery.event_kind,
        state: delivery.state.as_str().to_owned(),
        attempts: delivery.attempts,
        next_attempt_at: delivery.next_attempt_at,
        last_status: delivery.last_status,
        last_error: delivery.last_error,
        created_at: delivery.created_at,
        updated_at: delivery.updated_at,
    }
}

pub(crate) async fn deliveries(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<DeliveryList> {
    let endpoint = visible(state, principal, id).await?;
    let deliveries = state.store.webhook_deliveries(endpoint.id, 100).await?;
    Ok(DeliveryList {
        data: deliveries.into_iter().map(delivery_view).collect(),
    })
}

pub(crate) async fn redeliver(
    state: &AppState,
    principal: &Principal,
    id: &str,
    delivery: &str,
) -> ApiResult<DeliveryView> {
    let endpoint = visible(state, principal, id).await?;
    if !delivery.starts_with("dlv_") || delivery.len() > 64 {
        return Err(ApiError::NotFound("webhook delivery"));
    }
    let audit = state.audit_entry(
        principal.request_id(),
        &principal.actor(),
        AuditAction::WebhookRedeliver,
        json!({"webhook_id": endpoint.id, "delivery_id": delivery}),
        "ok",
    )?;
    let requeued = state
        .store
        .redeliver(endpoint.id, delivery.to_owned(), state.clock.now(), audit)
        .await?;
    Ok(delivery_view(requeued))
}

// --- delivery ------------------------------------------------------------------------

/// The headers and body of one attempt.
fn signed_request(
    state: &AppState,
    claimed: &ClaimedDelivery,
    event: &vault_core::StoredEvent,
    timestamp: i64,
) -> ApiResult<(Vec<u8>, String)> {
    let payload = WebhookPayload {
        kind: event.event.kind.as_str().to_owned(),
        timestamp: event.at,
        data: crate::service::events::view(event.clone()),
    };
    let body = serde_json::to_vec(&payload).map_err(|e| ApiError::Internal {
        detail: format!("a webhook payload could not be encoded: {e}"),
    })?;
    let endpoint = &claimed.endpoint;
    let mut signatures = vec![
        secret_of(state, endpoint, endpoint.secret_generation)?.sign(&event.id, timestamp, &body),
    ];
    // Through a rotation's overlap the previous secret signs too, so a receiver that
    // has not switched yet still verifies.
    if endpoint.secret_generation > 1
        && endpoint
            .previous_secret_until
            .is_some_and(|until| state.clock.now() < until)
    {
        signatures.push(
            secret_of(state, endpoint, endpoint.secret_generation - 1)?
                .sign(&event.id, timestamp, &body),
        );
    }
    Ok((body, signatures.join(" ")))
}

/// Makes one claimed attempt and says how it ended.
async fn attempt(state: &AppState, claimed: &ClaimedDelivery) -> DeliveryOutcome {
    let options = &state.webhooks;
    let Some(event) = &claimed.event else {
        return DeliveryOutcome::Failed {
            status: None,
            error: "the event is no longer kept (VAULT_EVENT_RETENTION), or failed its \
                    integrity check"
                .into(),
            retry_at: None,
        };
    };
    let failed = |status: Option<u16>, error: String| {
        let attempts = claimed.delivery.attempts;
        let retry_at = (attempts < options.max_attempts).then(|| {
            let jitter = f64::from(crate::tokens::random_bytes::<1>().map_or(0, |b| b[0])) / 256.0;
            let wait =
                vault_core::retry_delay(attempts, options.retry_base, options.retry_max, jitter);
            state.clock.now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero())
        });
        DeliveryOutcome::Failed {
            status,
            error,
            retry_at,
        }
    };
    // Resolved and checked again now: the name may point elsewhere than it did when
    // the endpoint was registered.
    let target = match check_target(&claimed.endpoint.url, options).await {
        Ok(target) => target,
        Err(reason) => return failed(None, format!("the target was refused: {reason}")),
    };
    let timestamp = state.clock.now().timestamp();
    let (body, signature) = match signed_request(state, claimed, event, timestamp) {
        Ok(signed) => signed,
        Err(error) => return failed(None, error.to_string()),
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .user_agent(concat!("vault-webhooks/", env!("CARGO_PKG_VERSION")))
        .resolve_to_addrs(&target.host, &target.addresses)
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => return failed(None, format!("no HTTP client: {error}")),
    };
    let sent = client
        .post(target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => DeliveryOutcome::Delivered {
            status: response.status().as_u16(),
        },
        Ok(response) => {
            let status = response.status();
            failed(
                Some(status.as_u16()),
                format!("the receiver answered {status}"),
            )
        }
        Err(error) if error.is_timeout() => failed(
            None,
            format!(
                "no answer within {}",
                humantime::format_duration(options.timeout)
            ),
        ),
        Err(error) => failed(None, format!("not delivered: {}", error.without_url())),
    }
}

/// One round: fan the new events out, claim what is due, attempt it all (up to
/// `concurrency` at once) and record each outcome. Returns how many attempts it made.
pub async fn deliver_once(state: &AppState) -> ApiResult<usize> {
    let options = &state.webhooks;
    let now = state.clock.now();
    state.store.fan_out_webhooks(now).await?;
    let lease = chrono::Duration::from_std(options.lease()).unwrap_or(chrono::Duration::zero());
    let claimed = state
        .store
        .claim_webhook_deliveries(
            now,
            now + lease,
            u32::try_from(options.concurrency.max(1)).unwrap_or(u32::MAX),
        )
        .await?;
    let count = claimed.len();
    let mut running = tokio::task::JoinSet::new();
    for claimed in claimed {
        let state = state.clone();
        running.spawn(async move {
            let outcome = attempt(&state, &claimed).await;
            let finished = state
                .store
                .finish_webhook_delivery(
                    claimed.delivery.id.clone(),
                    claimed.delivery.attempts,
                    outcome,
                    state.webhooks.disable_after,
                    state.clock.now(),
                )
                .await;
            match finished {
                Ok(true) => tracing::warn!(
                    webhook = %claimed.endpoint.id,
                    "a webhook endpoint kept failing and was turned off"
                ),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "a webhook delivery's outcome could not be recorded; it is retried after its lease"),
            }
        });
    }
    while running.join_next().await.is_some() {}
    Ok(count)
}

/// Delivers for as long as the state lives: at once after this replica commits an
/// event, and every `poll_interval` for other replicas' events and due retries.
pub fn deliver_every(state: &AppState) {
    let weak = std::sync::Arc::downgrade(&state.0);
    let mut commits = state.store.event_commits();
    let interval = state.webhooks.poll_interval;
    let batch = state.webhooks.concurrency.max(1);
    tokio::spawn(async move {
        loop {
            let Some(shared) = weak.upgrade() else { return };
            let state = AppState(shared);
            let attempted = match deliver_once(&state).await {
                Ok(attempted) => attempted,
                Err(error) => {
                    tracing::warn!(%error, "the webhook worker failed a round; it runs again");
                    0
                }
            };
            drop(state);
            // A full round may have left more due: go again at once.
            if attempted >= batch {
                continue;
            }
            tokio::select! {
                _ = commits.changed() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
    });
}
