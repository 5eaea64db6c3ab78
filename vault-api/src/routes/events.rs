//! `GET /v1/events`: the change event feed. A JSON page by default; with
//! `Accept: text/event-stream`, Server-Sent Events as changes commit, each with its
//! position as `id`, so an EventSource resumes with `Last-Event-ID` after a drop.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response, Sse};
use vault_client::wire::{EVENT_STREAM, EventPage, EventParams};

use crate::auth::Principal;
use crate::body::QueryParams;
use crate::error::{ApiError, ApiResult};
use crate::service::events::{self, FeedRequest};
use crate::state::AppState;

const LAST_EVENT_ID: &str = "last-event-id";

/// Whether the client asked for the stream: `text/event-stream` among its `Accept`
/// media types (a page otherwise, `*/*` included, so a plain client gets JSON).
fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            range
                .split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case(EVENT_STREAM))
        })
}

#[utoipa::path(operation_id = "listEvents", get, path = "/v1/events", tag = "events",
    params(EventParams,
        ("Last-Event-ID" = Option<String>, Header,
            description = "The id of the last event received (digits); wins over `after`. \
                Empty is the same as absent.")),
    responses(
        (status = 200, description = "The events this token may see, oldest first: a page, \
            or with `Accept: text/event-stream` a stream of them as they commit (each with \
            `id` its position and `event` its type; comment lines keep an idle stream open; \
            an `end` event says why the vault closed it)",
            content((EventPage = "application/json"), (String = "text/event-stream"))),
        (status = 410, description = "events after `after` are no longer kept \
            (`events_pruned`): read a fresh page without it and reconcile")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    QueryParams(params): QueryParams<EventParams>,
) -> ApiResult<Response> {
    // An empty id is none: what an EventSource holds after an event that reset it.
    let last_event_id = match headers.get(LAST_EVENT_ID) {
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::invalid("Last-Event-ID", "must be the id of an event this feed sent")
        })?)
        .filter(|id| !id.trim().is_empty()),
        None => None,
    };
    let from_header = last_event_id.is_some();
    let request = FeedRequest::parse(params, last_event_id)?;
    if wants_stream(&headers) {
        let stream = events::stream(&state, principal, request, from_header).await?;
        let keep_alive = axum::response::sse::KeepAlive::new()
            .interval(state.events.options.heartbeat)
            .text("heartbeat");
        return Ok(Sse::new(stream).keep_alive(keep_alive).into_response());
    }
    let page: EventPage = events::page(&state, &principal, request, from_header).await?;
    Ok(Json(page).into_response())
}
