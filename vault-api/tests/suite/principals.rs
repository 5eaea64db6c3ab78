//! Every principal against every route the OpenAPI document lists, on SQLite and
//! PostgreSQL: an anonymous client, an operator, the orchestrator, a user with no role
//! in what is asked for, a user who owns and belongs to it, a workspace admin, and a
//! session token (a leaked one is exactly this). Each pair has one expected status; a
//! route added to the document without a row here fails the test. Routes that change
//! something get a fresh set of objects for every attempt, so one principal's success
//! cannot decide another's outcome.

use vault_testkit::on_both_backends;

use std::collections::BTreeSet;

use crate::support::{TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(every_principal_meets_every_route);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Operator,
    Orchestrator,
    /// alice: a user with no role in the world's project or workspace.
    Outsider,
    /// ada: owns the user secret, is the project's Accountable, a workspace member.
    Member,
    /// wanda: the workspace's admin, nothing else.
    Admin,
    /// ada's session in the world's context.
    Session,
}

const EVERYONE: [Who; 7] = [
    Who::Anonymous,
    Who::Operator,
    Who::Orchestrator,
    Who::Outsider,
    Who::Member,
    Who::Admin,
    Who::Session,
];

/// Any 2xx.
const OK: u16 = 200;

/// The objects one attempt acts on, all fresh.
struct World {
    n: usize,
    project: String,
    milestone: String,
    workspace: String,
    secret: String,
    key: String,
    entry: String,
    session_id: String,
    session: String,
    revocable_token: String,
    /// Ada's webhook endpoint, and a delivery of it.
    webhook: String,
    delivery: String,
}

struct Tokens {
    operator: String,
    orchestrator: String,
    alice: String,
    ada: String,
    wanda: String,
}

impl Tokens {
    fn of<'a>(&'a self, who: Who, world: &'a World) -> &'a str {
        match who {
            Who::Anonymous => "",
            Who::Operator => &self.operator,
            Who::Orchestrator => &self.orchestrator,
            Who::Outsider => &self.alice,
            Who::Member => &self.ada,
            Who::Admin => &self.wanda,
            Who::Session => &world.session,
        }
    }
}

async fn created_id(server: &TestServer, path: &str, token: &str, body: Value) -> String {
    let created = server
        .expect(201, Method::POST, path, token, Some(body))
        .await;
    created["id"].as_str().expect("an id").to_owned()
}

async fn world(server: &TestServer, tokens: &Tokens, n: usize) -> World {
    let (project, milestone, workspace) = (format!("p{n}"), format!("m{n}"), format!("w{n}"));
    let op = &tokens.operator;
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            op,
            Some(json!({"id": project, "name": "P", "accountable_user_id": "ada"})),
        )
        .await;
    server
        .expect(
            201,
            Method::POST,
            &format!("/v1/projects/{project}/milestones"),
            op,
            Some(json!({"id": milestone, "name": "M"})),
        )
        .await;
    server
        .expect(
            200,
            Method::PUT,
            &format!("/v1/projects/{project}/members/otto"),
            op,
            Some(json!({"role": "informed"})),
        )
        .await;
    let entry = created_id(
        server,
        &format!("/v1/projects/{project}/vault"),
        op,
        json!({"name": "ENTRY", "value": "entry-value", "category": "other", "scope": "project"}),
    )
    .await;
    for (path, user) in [("admins", "wanda"), ("members", "ada")] {
        server
            .expect(
                200,
                Method::PUT,
                &format!("/v1/workspaces/{workspace}/{path}/{user}"),
                op,
                None,
            )
            .await;
    }
    let key = created_id(
        server,
        &format!("/v1/workspaces/{workspace}/keys"),
        op,
        json!({"name": "KEY", "value": "key-value"}),
    )
    .await;
    let webhook = server
        .expect(
            201,
            Method::POST,
            "/v1/webhooks",
            &tokens.ada,
            Some(json!({"owner_kind": "user", "url": "https://8.8.8.8/hook"})),
        )
        .await["webhook"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let secret = created_id(
        server,
        "/v1/secrets",
        &tokens.ada,
        json!({"name": format!("SECRET_{n}"), "value": "secret-value"}),
    )
    .await;
    // No worker runs here: the delivery is written and stays pending.
    server
        .store
        .fan_out_webhooks(chrono::Utc::now())
        .await
        .expect("fans out");
    let delivery = server
        .store
        .webhook_deliveries(webhook.clone(), 1)
        .await
        .expect("lists")
        .pop()
        .expect("a delivery")
        .id;
    let session = server
        .expect(
            201,
            Method::POST,
            "/v1/sessions",
            &tokens.orchestrator,
            Some(
                json!({"user_id": "ada", "profile_id": "p1", "workspace_id": workspace,
                        "project_id": project, "milestone_id": milestone}),
            ),
        )
        .await;
    let revocable = server
        .expect(
            201,
            Method::POST,
            "/v1/tokens",
            op,
            Some(json!({"kind": "user", "user_id": "bob"})),
        )
        .await;
    World {
        n,
        project,
        milestone,
        workspace,
        secret,
        key,
        entry,
        session_id: session["id"].as_str().expect("id").to_owned(),
        session: session["token"].as_str().expect("token").to_owned(),
        revocable_token: revocable["id"].as_str().expect("id").to_owned(),
        webhook,
        delivery,
    }
}

struct Route {
    method: Method,
    template: &'static str,
    /// Changes state, so each attempt gets a world of its own.
    mutates: bool,
    request: fn(&World) -> (String, Option<Value>),
    expect: fn(Who) -> u16,
}

fn route(
    method: Method,
    template: &'static str,
    request: fn(&World) -> (String, Option<Value>),
    expect: fn(Who) -> u16,
) -> Route {
    let mutates = method != Method::GET;
    Route {
        method,
        template,
        mutates,
        request,
        expect,
    }
}

/// Operators and the orchestrator act for any user; a user token for its own user;
/// another user's secret is 404; a session may do none of it.
fn user_secrets(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Operator | Who::Orchestrator | Who::Member => OK,
        Who::Outsider | Who::Admin => 404,
        Who::Session => 403,
    }
}

/// Naming a user: a user token naming another one is a 403, not a 404.
fn naming_the_owner(who: Who) -> u16 {
    match user_secrets(who) {
        404 => 403,
        other => other,
    }
}

/// Every token reads the change event feed, each seeing only its own events (the
/// events suite checks which); only the anonymous are refused.
fn any_token(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        _ => OK,
    }
}

fn operator_only(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Operator => OK,
        _ => 403,
    }
}

/// A workspace's keys and members: operators and its admins; other users find no
/// workspace; the orchestrator and sessions may not.
fn workspace_admins(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Operator | Who::Admin => OK,
        Who::Outsider | Who::Member => 404,
        Who::Orchestrator | Who::Session => 403,
    }
}

/// A project's structure: operators, the orchestrator (mirroring the platform) and
/// the Accountable; non-members find no project.
fn project_structure(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Operator | Who::Orchestrator | Who::Member => OK,
        Who::Outsider | Who::Admin => 404,
        Who::Session => 403,
    }
}

/// A project's entries: operators and members by role; the orchestrator never reads
/// or writes them (it resolves).
fn project_entries(who: Who) -> u16 {
    match who {
        Who::Orchestrator => 403,
        other => project_structure(other),
    }
}

/// Comparing a value with an entry: whoever may rotate it, except operators, who never
/// learn anything of a value (each answer says whether a guess is right).
fn compare_user_secret(who: Who) -> u16 {
    refusing_operators(user_secrets(who), who)
}

fn compare_workspace_key(who: Who) -> u16 {
    refusing_operators(workspace_admins(who), who)
}

fn compare_project_entry(who: Who) -> u16 {
    refusing_operators(project_entries(who), who)
}

fn refusing_operators(status: u16, who: Who) -> u16 {
    if who == Who::Operator { 403 } else { status }
}

fn orchestrator_only(who: Who) -> u16 {
    match who {
        Who::Anonymous => 401,
        Who::Orchestrator => OK,
        _ => 403,
    }
}

fn anyone(_: Who) -> u16 {
    OK
}

fn context(world: &World) -> Value {
    json!({"user_id": "ada", "profile_id": "p1", "workspace_id": world.workspace,
           "project_id": world.project, "milestone_id": world.milestone})
}

fn routes() -> Vec<Route> {
    use Method as M;
    vec![
        route(
            M::POST,
            "/v1/secrets",
            |w| {
                let body = json!({"name": format!("NEW_{}", w.n), "value": "v", "user_id": "ada"});
                ("/v1/secrets".into(), Some(body))
            },
            naming_the_owner,
        ),
        route(
            M::GET,
            "/v1/secrets",
            |_| ("/v1/secrets?user_id=ada".into(), None),
            naming_the_owner,
        ),
        route(
            M::GET,
            "/v1/secrets/{id}",
            |w| (format!("/v1/secrets/{}", w.secret), None),
            user_secrets,
        ),
        route(
            M::PATCH,
            "/v1/secrets/{id}",
            |w| {
                let body = json!({"value": "rotated"});
                (format!("/v1/secrets/{}", w.secret), Some(body))
            },
            user_secrets,
        ),
        route(
            M::DELETE,
            "/v1/secrets/{id}",
            |w| (format!("/v1/secrets/{}", w.secret), None),
            user_secrets,
        ),
        route(
            M::GET,
            "/v1/secrets/{id}/versions",
            |w| (format!("/v1/secrets/{}/versions", w.secret), None),
            user_secrets,
        ),
        route(
            M::POST,
            "/v1/secrets/{id}/rollback",
            |w| {
                let body = json!({"version": 1});
                (format!("/v1/secrets/{}/rollback", w.secret), Some(body))
            },
            user_secrets,
        ),
        route(
            M::POST,
            "/v1/secrets/{id}/compare",
            |w| {
                let body = json!({"value": "a guess"});
                (format!("/v1/secrets/{}/compare", w.secret), Some(body))
            },
            compare_user_secret,
        ),
        route(
            M::GET,
            "/v1/workspaces/{wid}/admins",
            |w| (format!("/v1/workspaces/{}/admins", w.workspace), None),
            operator_only,
        ),
        route(
            M::PUT,
            "/v1/workspaces/{wid}/admins/{user_id}",
            |w| (format!("/v1/workspaces/{}/admins/zed", w.workspace), None),
            operator_only,
        ),
        route(
            M::DELETE,
            "/v1/workspaces/{wid}/admins/{user_id}",
            |w| (format!("/v1/workspaces/{}/admins/wanda", w.workspace), None),
            operator_only,
        ),
        route(
            M::GET,
            "/v1/workspace-keys",
            |_| ("/v1/workspace-keys".into(), None),
            operator_only,
        ),
        route(
            M::GET,
            "/v1/workspaces/{wid}/members",
            |w| (format!("/v1/workspaces/{}/members", w.workspace), None),
            workspace_admins,
        ),
        route(
            M::PUT,
            "/v1/workspaces/{wid}/members/{user_id}",
            |w| (format!("/v1/workspaces/{}/members/zed", w.workspace), None),
            workspace_admins,
        ),
        route(
            M::GET,
            "/v1/workspaces/{wid}/members/{user_id}",
            |w| (format!("/v1/workspaces/{}/members/ada", w.workspace), None),
            workspace_admins,
        ),
        route(
            M::DELETE,
            "/v1/workspaces/{wid}/members/{user_id}",
            |w| (format!("/v1/workspaces/{}/members/ada", w.workspace), None),
            workspace_admins,
        ),
        route(
            M::POST,
            "/v1/workspaces/{wid}/keys",
            |w| {
                let body = json!({"name": "NEW_KEY", "value": "v"});
                (format!("/v1/workspaces/{}/keys", w.workspace), Some(body))
            },
            workspace_admins,
        ),
        route(
            M::GET,
            "/v1/workspaces/{wid}/keys",
            |w| (format!("/v1/workspaces/{}/keys", w.workspace), None),
            workspace_admins,
        ),
        route(
            M::GET,
            "/v1/workspaces/{wid}/keys/{id}",
            |w| {
                (
                    format!("/v1/workspaces/{}/keys/{}", w.workspace, w.key),
                    None,
                )
            },
            workspace_admins,
        ),
        route(
            M::PATCH,
            "/v1/workspaces/{wid}/keys/{id}",
            |w| {
                let body = json!({"value": "rotated"});
                let path = format!("/v1/workspaces/{}/keys/{}", w.workspace, w.key);
                (path, Some(body))
            },
            workspace_admins,
        ),
        route(
            M::DELETE,
            "/v1/workspaces/{wid}/keys/{id}",
            |w| {
                (
                    format!("/v1/workspaces/{}/keys/{}", w.workspace, w.key),
                    None,
                )
            },
            workspace_admins,
        ),
        route(
            M::GET,
            "/v1/workspaces/{wid}/keys/{id}/versions",
            |w| {
                let path = format!("/v1/workspaces/{}/keys/{}/versions", w.workspace, w.key);
                (path, None)
            },
            workspace_admins,
        ),
        route(
            M::POST,
            "/v1/workspaces/{wid}/keys/{id}/rollback",
            |w| {
                let path = format!("/v1/workspaces/{}/keys/{}/rollback", w.workspace, w.key);
                (path, Some(json!({"version": 1})))
            },
            workspace_admins,
        ),
        route(
            M::POST,
            "/v1/workspaces/{wid}/keys/{id}/compare",
            |w| {
                let path = format!("/v1/workspaces/{}/keys/{}/compare", w.workspace, w.key);
                (path, Some(json!({"value": "a guess"})))
            },
            compare_workspace_key,
        ),
        route(
            M::POST,
            "/v1/projects",
            |w| {
                let body = json!({"id": format!("new{}", w.n), "name": "N",
                                  "accountable_user_id": "ada"});
                ("/v1/projects".into(), Some(body))
            },
            |who| match who {
                Who::Anonymous => 401,
                Who::Operator | Who::Orchestrator => OK,
                _ => 403,
            },
        ),
        route(
            M::GET,
            "/v1/projects",
            |_| ("/v1/projects".into(), None),
            |who| match who {
                Who::Anonymous => 401,
                Who::Session => 403,
                _ => OK,
            },
        ),
        route(
            M::GET,
            "/v1/projects/{pid}",
            |w| (format!("/v1/projects/{}", w.project), None),
            project_structure,
        ),
        route(
            M::DELETE,
            "/v1/projects/{pid}",
            |w| (format!("/v1/projects/{}", w.project), None),
            project_entries,
        ),
        route(
            M::POST,
            "/v1/projects/{pid}/milestones",
            |w| {
                let body = json!({"id": "extra", "name": "E"});
                (format!("/v1/projects/{}/milestones", w.project), Some(body))
            },
            project_structure,
        ),
        route(
            M::DELETE,
            "/v1/projects/{pid}/milestones/{mid}",
            |w| {
                let path = format!("/v1/projects/{}/milestones/{}", w.project, w.milestone);
                (path, None)
            },
            project_structure,
        ),
        route(
            M::PUT,
            "/v1/projects/{pid}/members/{user_id}",
            |w| {
                let body = json!({"role": "consulted"});
                (
                    format!("/v1/projects/{}/members/otto", w.project),
                    Some(body),
                )
            },
            project_structure,
        ),
        route(
            M::DELETE,
            "/v1/projects/{pid}/members/{user_id}",
            |w| (format!("/v1/projects/{}/members/otto", w.project), None),
            project_structure,
        ),
        route(
            M::POST,
            "/v1/projects/{pid}/vault",
            |w| {
                let body = json!({"name": "NEW_ENTRY", "value": "v", "category": "other",
                                  "scope": "project"});
                (format!("/v1/projects/{}/vault", w.project), Some(body))
            },
            project_entries,
        ),
        route(
            M::GET,
            "/v1/projects/{pid}/vault",
            |w| (format!("/v1/projects/{}/vault", w.project), None),
            project_entries,
        ),
        route(
            M::GET,
            "/v1/projects/{pid}/vault/{id}",
            |w| {
                (
                    format!("/v1/projects/{}/vault/{}", w.project, w.entry),
                    None,
                )
            },
            project_entries,
        ),
        route(
            M::PATCH,
            "/v1/projects/{pid}/vault/{id}",
            |w| {
                let path = format!("/v1/projects/{}/vault/{}", w.project, w.entry);
                (path, Some(json!({"value": "rotated"})))
            },
            project_entries,
        ),
        route(
            M::DELETE,
            "/v1/projects/{pid}/vault/{id}",
            |w| {
                (
                    format!("/v1/projects/{}/vault/{}", w.project, w.entry),
                    None,
                )
            },
            project_entries,
        ),
        route(
            M::GET,
            "/v1/projects/{pid}/vault/{id}/versions",
            |w| {
                let path = format!("/v1/projects/{}/vault/{}/versions", w.project, w.entry);
                (path, None)
            },
            project_entries,
        ),
        route(
            M::POST,
            "/v1/projects/{pid}/vault/{id}/rollback",
            |w| {
                let path = format!("/v1/projects/{}/vault/{}/rollback", w.project, w.entry);
                (path, Some(json!({"version": 1})))
            },
            project_entries,
        ),
        route(
            M::POST,
            "/v1/projects/{pid}/vault/{id}/compare",
            |w| {
                let path = format!("/v1/projects/{}/vault/{}/compare", w.project, w.entry);
                (path, Some(json!({"value": "a guess"})))
            },
            compare_project_entry,
        ),
        route(
            M::POST,
            "/v1/resolve",
            |w| ("/v1/resolve".into(), Some(context(w))),
            orchestrator_only,
        ),
        route(
            M::POST,
            "/v1/sessions",
            |w| ("/v1/sessions".into(), Some(context(w))),
            orchestrator_only,
        ),
        route(
            M::DELETE,
            "/v1/sessions/{id}",
            |w| (format!("/v1/sessions/{}", w.session_id), None),
            |who| match who {
                Who::Anonymous => 401,
                Who::Operator | Who::Orchestrator => OK,
                _ => 403,
            },
        ),
        route(
            M::GET,
            "/v1/runtime/env",
            |_| ("/v1/runtime/env".into(), None),
            |who| match who {
                Who::Anonymous => 401,
                Who::Session => OK,
                _ => 403,
            },
        ),
        route(
            M::GET,
            "/v1/runtime/secrets/{name}",
            |_| ("/v1/runtime/secrets/ENTRY".into(), None),
            |who| match who {
                Who::Anonymous => 401,
                Who::Session => OK,
                _ => 403,
            },
        ),
        route(
            M::POST,
            "/v1/tokens",
            |_| {
                let body = json!({"kind": "user", "user_id": "bob"});
                ("/v1/tokens".into(), Some(body))
            },
            operator_only,
        ),
        route(
            M::GET,
            "/v1/tokens",
            |_| ("/v1/tokens".into(), None),
            operator_only,
        ),
        route(
            M::DELETE,
            "/v1/tokens/{id}",
            |w| (format!("/v1/tokens/{}", w.revocable_token), None),
            operator_only,
        ),
        route(
            M::GET,
            "/v1/audit",
            |_| ("/v1/audit".into(), None),
            operator_only,
        ),
        route(
            M::GET,
            "/v1/events",
            |_| ("/v1/events".into(), None),
            any_token,
        ),
        // Webhooks are managed like the owner's secrets: ada's are ada's own, the
        // operator's and the orchestrator's (which acts for users).
        route(
            M::POST,
            "/v1/webhooks",
            |_| {
                (
                    "/v1/webhooks".into(),
                    Some(json!({"owner_kind": "user", "owner_id": "ada",
                        "url": "https://8.8.8.8/hook"})),
                )
            },
            naming_the_owner,
        ),
        route(
            M::GET,
            "/v1/webhooks",
            |_| ("/v1/webhooks?owner_kind=user&owner_id=ada".into(), None),
            naming_the_owner,
        ),
        route(
            M::GET,
            "/v1/webhooks/{id}",
            |w| (format!("/v1/webhooks/{}", w.webhook), None),
            user_secrets,
        ),
        route(
            M::PATCH,
            "/v1/webhooks/{id}",
            |w| {
                (
                    format!("/v1/webhooks/{}", w.webhook),
                    Some(json!({"description": "changed"})),
                )
            },
            user_secrets,
        ),
        route(
            M::DELETE,
            "/v1/webhooks/{id}",
            |w| (format!("/v1/webhooks/{}", w.webhook), None),
            user_secrets,
        ),
        route(
            M::POST,
            "/v1/webhooks/{id}/rotate-secret",
            |w| (format!("/v1/webhooks/{}/rotate-secret", w.webhook), None),
            user_secrets,
        ),
        route(
            M::GET,
            "/v1/webhooks/{id}/deliveries",
            |w| (format!("/v1/webhooks/{}/deliveries", w.webhook), None),
            user_secrets,
        ),
        route(
            M::POST,
            "/v1/webhooks/{id}/deliveries/{did}/redeliver",
            |w| {
                (
                    format!(
                        "/v1/webhooks/{}/deliveries/{}/redeliver",
                        w.webhook, w.delivery
                    ),
                    None,
                )
            },
            user_secrets,
        ),
        route(M::GET, "/healthz", |_| ("/healthz".into(), None), anyone),
        route(M::GET, "/readyz", |_| ("/readyz".into(), None), anyone),
        route(M::GET, "/metrics", |_| ("/metrics".into(), None), anyone),
        route(
            M::GET,
            "/openapi.json",
            |_| ("/openapi.json".into(), None),
            anyone,
        ),
    ]
}

async fn every_principal_meets_every_route(db: TestDb) {
    let server = TestServer::start(db).await;
    let tokens = Tokens {
        operator: server.operator.clone(),
        orchestrator: server.orchestrator.clone(),
        alice: server.token("user", Some("alice")).await,
        ada: server.token("user", Some("ada")).await,
        wanda: server.token("user", Some("wanda")).await,
    };
    let routes = routes();

    // The table covers exactly what the document lists.
    let (_, document) = server.call(Method::GET, "/openapi.json", "", None).await;
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.template.to_owned()))
        .collect();
    assert_eq!(tabled, documented);
    assert_eq!(tabled.len(), routes.len(), "a route listed twice");

    let mut worlds = 0;
    let shared = world(&server, &tokens, worlds).await;
    let mut failures = Vec::new();
    for route in &routes {
        for who in EVERYONE {
            let fresh;
            let at = if route.mutates && who != Who::Anonymous {
                worlds += 1;
                fresh = world(&server, &tokens, worlds).await;
                &fresh
            } else {
                &shared
            };
            let (path, body) = (route.request)(at);
            let (status, answer) = server
                .call(route.method.clone(), &path, tokens.of(who, at), body)
                .await;
            let expected = (route.expect)(who);
            let matches = if expected == OK {
                (200..300).contains(&status)
            } else {
                status == expected
            };
            if !matches {
                failures.push(format!(
                    "{who:?} {} {}: expected {expected}, got {status} {answer}",
                    route.method, route.template
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
