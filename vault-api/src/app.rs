//! The router: every route, its OpenAPI document (generated from the handlers, so a
//! route cannot be served without being documented), and the request middleware that
//! assigns request ids, logs, counts, and audits every refused request.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Actor;
use crate::auth::RequestCtx;
use crate::body::MAX_BODY_BYTES;
use crate::error::ApiError;
use crate::flood::{Source, bounded_path};
use crate::metrics::{RefusalLabels, RequestLabels};
use crate::routes::{
    audit, events, health, projects, resolve, secrets, sessions, tokens, webhooks, workspaces,
};
use crate::server::Connection;
use crate::state::AppState;
use crate::tokens::random_id;
use vault_core::AuditAction;

/// The most header fields, and header bytes (names and values), a request may carry.
/// hyper's own limits sit above these (see `server.rs`), so a request between the two
/// gets a problem+json 431 from here rather than hyper's bodiless one.
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// A request that takes longer is answered 408 and its work dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(OpenApi)]
#[openapi(
    info(title = "vault-api", description = "KMS-backed secrets for agent containers."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    // Referenced only from `routes::compare::ComparisonResponses`: the path macro
    // collects the schemas of `body = …` types, not of an `IntoResponses` type's.
    components(schemas(vault_client::wire::ValueComparison)),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes and their OpenAPI document, built from the same list.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(secrets::create, secrets::list))
        .routes(routes!(secrets::get, secrets::update, secrets::delete))
        .routes(routes!(secrets::versions))
        .routes(routes!(secrets::rollback))
        .routes(routes!(secrets::compare))
        .routes(routes!(workspaces::list_admins))
        .routes(routes!(workspaces::list_all_keys))
        .routes(routes!(workspaces::put_admin, workspaces::remove_admin))
        .routes(routes!(workspaces::list_members))
        .routes(routes!(
            workspaces::put_member,
            workspaces::get_member,
            workspaces::remove_member
        ))
        .routes(routes!(workspaces::create_key, workspaces::list_keys))
        .routes(routes!(
            workspaces::get_key,
            workspaces::update_key,
            workspaces::delete_key
        ))
        .routes(routes!(workspaces::key_versions))
        .routes(routes!(workspaces::rollback_key))
        .routes(routes!(workspaces::compare_key))
        .routes(routes!(projects::create_project, projects::list_projects))
        .routes(routes!(projects::get_project, projects::delete_project))
        .routes(routes!(projects::create_milestone))
        .routes(routes!(projects::delete_milestone))
        .routes(routes!(projects::put_member, projects::remove_member))
        .routes(routes!(projects::create_entry, projects::list_entries))
        .routes(routes!(
            projects::get_entry,
            projects::update_entry,
            projects::delete_entry
        ))
        .routes(routes!(projects::entry_versions))
        .routes(routes!(projects::rollback_entry))
        .routes(routes!(projects::compare_entry))
        .routes(routes!(resolve::resolve))
        .routes(routes!(sessions::create))
        .routes(routes!(sessions::end))
        .routes(routes!(sessions::env))
        .routes(routes!(sessions::lookup))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(events::list))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .split_for_parts()
}

/// The served OpenAPI document: utoipa's, refined into the contract (`contract.rs`).
pub fn document() -> serde_json::Value {
    let (_, mut openapi) = routes();
    openapi.paths.paths.insert(
        "/openapi.json".into(),
        utoipa::openapi::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .tag("health")
                .operation_id(Some("getOpenApiDocument"))
                .response("200", utoipa::openapi::Response::new("This document")),
        ),
    );
    let mut document = serde_json::to_value(&openapi).unwrap_or_default();
    crate::contract::refine(&mut document);
    document
}

pub fn router(state: AppState) -> Router {
    let (routes, _) = routes();
    // Serialized once: every request gets the same bytes.
    let document = axum::body::Bytes::from(serde_json::to_vec(&document()).unwrap_or_default());
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        document,
                    )
                }
            }),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Tokens and values are in responses: no cache, shared or private, may keep one.
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(bounded_headers))
        .with_state(state)
}

async fn bounded_headers(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge {
            max_headers: MAX_HEADERS,
            max_bytes: MAX_HEADER_BYTES,
        }
        .into_response();
    }
    next.run(request).await
}

async fn fallback() -> ApiError {
    ApiError::NotFound("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The audit action a route performs, for records of refused requests.
pub fn action_of(method: &str, route: &str) -> Option<AuditAction> {
    use AuditAction::*;
    Some(match (method, route) {
        ("POST", "/v1/secrets") => SecretCreate,
        ("GET", "/v1/secrets") => SecretList,
        ("GET", "/v1/secrets/{id}") => SecretRead,
        ("PATCH", "/v1/secrets/{id}") => SecretUpdate,
        ("DELETE", "/v1/secrets/{id}") => SecretDelete,
        ("GET", "/v1/secrets/{id}/versions") => SecretVersions,
        ("POST", "/v1/secrets/{id}/rollback") => SecretRollback,
        ("POST", "/v1/secrets/{id}/compare")
        | ("POST", "/v1/workspaces/{wid}/keys/{id}/compare")
        | ("POST", "/v1/projects/{pid}/vault/{id}/compare") => SecretCompare,
        ("GET", "/v1/workspaces/{wid}/admins") => WorkspaceAdminList,
        ("GET", "/v1/workspace-keys") => SecretList,
        ("PUT", "/v1/workspaces/{wid}/admins/{user_id}") => WorkspaceAdminPut,
        ("DELETE", "/v1/workspaces/{wid}/admins/{user_id}") => WorkspaceAdminRemove,
        ("GET", "/v1/workspaces/{wid}/members") => WorkspaceMemberList,
        ("GET", "/v1/workspaces/{wid}/members/{user_id}") => WorkspaceMemberRead,
        ("PUT", "/v1/workspaces/{wid}/members/{user_id}") => WorkspaceMemberPut,
        ("DELETE", "/v1/workspaces/{wid}/members/{user_id}") => WorkspaceMemberRemove,
        ("POST", "/v1/workspaces/{wid}/keys") | ("POST", "/v1/projects/{pid}/vault") => {
            SecretCreate
        }
        ("GET", "/v1/workspaces/{wid}/keys") | ("GET", "/v1/projects/{pid}/vault") => SecretList,
        ("GET", "/v1/workspaces/{wid}/keys/{id}") | ("GET", "/v1/projects/{pid}/vault/{id}") => {
            SecretRead
        }
        ("PATCH", "/v1/workspaces/{wid}/keys/{id}")
        | ("PATCH", "/v1/projects/{pid}/vault/{id}") => SecretUpdate,
        ("DELETE", "/v1/workspaces/{wid}/keys/{id}")
        | ("DELETE", "/v1/projects/{pid}/vault/{id}") => SecretDelete,
        ("GET", "/v1/workspaces/{wid}/keys/{id}/versions")
        | ("GET", "/v1/projects/{pid}/vault/{id}/versions") => SecretVersions,
        ("POST", "/v1/workspaces/{wid}/keys/{id}/rollback")
        | ("POST", "/v1/projects/{pid}/vault/{id}/rollback") => SecretRollback,
        ("POST", "/v1/projects") => ProjectCreate,
        ("GET", "/v1/projects") => ProjectList,
        ("GET", "/v1/projects/{pid}") => ProjectRead,
        ("DELETE", "/v1/projects/{pid}") => ProjectDelete,
        ("POST", "/v1/projects/{pid}/milestones") => MilestoneCreate,
        ("DELETE", "/v1/projects/{pid}/milestones/{mid}") => MilestoneDelete,
        ("PUT", "/v1/projects/{pid}/members/{user_id}") => MemberPut,
        ("DELETE", "/v1/projects/{pid}/members/{user_id}") => MemberRemove,
        ("POST", "/v1/sessions") => SessionCreate,
        ("DELETE", "/v1/sessions/{id}") => SessionEnd,
        ("GET", "/v1/runtime/secrets/{name}") => RuntimeLookup,
        ("GET", "/v1/runtime/env") => Resolve,
        ("POST", "/v1/resolve") => Resolve,
        ("POST", "/v1/tokens") => TokenCreate,
        ("GET", "/v1/tokens") => TokenList,
        ("DELETE", "/v1/tokens/{id}") => TokenRevoke,
        ("GET", "/v1/audit") => AuditRead,
        ("GET", "/v1/events") => EventsRead,
        ("POST", "/v1/webhooks") => WebhookCreate,
        ("GET", "/v1/webhooks") => WebhookList,
        ("GET", "/v1/webhooks/{id}") => WebhookRead,
        ("PATCH", "/v1/webhooks/{id}") => WebhookUpdate,
        ("DELETE", "/v1/webhooks/{id}") => WebhookDelete,
        ("POST", "/v1/webhooks/{id}/rotate-secret") => WebhookRotateSecret,
        ("GET", "/v1/webhooks/{id}/deliveries") => WebhookDeliveries,
        ("POST", "/v1/webhooks/{id}/deliveries/{did}/redeliver") => WebhookRedeliver,
        _ => return None,
    })
}

/// Marks a response with the problem code it carries, for the middleware's record.
#[derive(Clone, Copy, Debug)]
pub struct AnsweredWith(pub vault_client::ProblemCode);

async fn observe(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = random_id("req_").unwrap_or_else(|_| "req_unavailable".into());
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let connection = request.extensions().get::<Connection>().copied();
    let ctx = RequestCtx::new(request_id.clone());
    request.extensions_mut().insert(ctx.clone());
    let span = tracing::info_span!("request", %request_id, %method, %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();

    let outcome = response
        .extensions()
        .get::<AnsweredWith>()
        .map_or("error", |c| c.0.as_str());
    let actor = ctx.actor();
    let anonymous_refusal = actor == Actor::anonymous()
        && matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
        );
    if anonymous_refusal {
        // Counted and summarised per source and interval, never one chained record
        // each: a flood of them neither grows the trail nor queues behind the writer.
        let source = connection.map(|c| Source::of(c.peer.ip()));
        state
            .refusals
            .note(source, &route, outcome, state.clock.now());
        state
            .metrics
            .anonymous_refusals
            .get_or_create(&RefusalLabels {
                route: route.clone(),
                outcome,
            })
            .inc();
        span.in_scope(|| tracing::debug!(outcome, "anonymous request refused"));
    } else if (status.is_client_error() || status.is_server_error())
        && !crate::contract::UNAUTHENTICATED.contains(&route.as_str())
    {
        // The probes and the document are not requests for anything: a load balancer
        // polling a not-ready `/readyz` would otherwise grow the trail during an outage,
        // and with a full disk turn the readiness answer itself into an audit failure.
        let mut target = json!({ "method": method, "path": bounded_path(&path) });
        if let Some(asked) = ctx.target() {
            target["context"] = asked;
        }
        let recorded = match state.audit_entry(
            &request_id,
            &actor,
            ctx.action()
                .or_else(|| action_of(&method, &route))
                .unwrap_or(AuditAction::Unrouted),
            target,
            outcome,
        ) {
            Ok(entry) => state.audit.write(entry).await,
            Err(error) => Err(error),
        };
        if let Err(error) = recorded {
            // Fail closed: a refusal that cannot be recorded is not answered as one.
            response = error.into_response();
        }
    }

    let status = response.status();
    let labels = RequestLabels {
        method: method.clone(),
        route: route.clone(),
        status: status.as_u16(),
    };
    let elapsed = started.elapsed();
    state.metrics.requests.get_or_create(&labels).inc();
    state
        .metrics
        .latency
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused request is recorded under its route's action; a route added without
    /// one would be recorded as `request.unrouted`, hiding what was refused.
    #[test]
    fn every_route_of_the_document_names_its_action() {
        let document = document();
        let paths = document["paths"].as_object().expect("paths");
        let mut checked = 0;
        for (path, item) in paths {
            if crate::contract::UNAUTHENTICATED.contains(&path.as_str()) {
                continue;
            }
            for method in ["get", "put", "post", "patch", "delete"] {
                if item.get(method).is_some() {
                    let upper = method.to_ascii_uppercase();
                    assert!(
                        action_of(&upper, path).is_some(),
                        "{upper} {path} has no audit action"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "only {checked} operations found");
    }

    #[test]
    fn unknown_routes_have_no_action() {
        assert_eq!(action_of("GET", "unmatched"), None);
        assert_eq!(action_of("POST", "/v1/secrets/{id}"), None);
        assert_eq!(
            action_of("PATCH", "/v1/secrets/{id}"),
            Some(AuditAction::SecretUpdate)
        );
    }
}
