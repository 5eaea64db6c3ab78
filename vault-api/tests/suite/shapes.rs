//! Every response shape and problem body of the API, pinned as insta snapshots: one
//! flow calls each operation of the OpenAPI document (the test fails when one is left
//! out) and then provokes each problem a client can cause, and every answer is written
//! with its status, generated ids, tokens, hashes, cursors and times replaced by
//! placeholders. A change to the contract is then a snapshot diff someone reviews.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use vault_api::body::MAX_BODY_BYTES;

use crate::support::{ServerOptions, TestDb, TestServer};

/// The prefixes of the ids the vault generates (vault-core, vault-kms, vault-api).
const GENERATED_ID_PREFIXES: [&str; 14] = [
    "sec_", "tok_", "ses_", "aud_", "req_", "sum_", "dev_", "cli_", "kek_", "prj_", "ms_", "evt_",
    "whk_", "dlv_",
];

fn is_generated_id(text: &str) -> bool {
    GENERATED_ID_PREFIXES.iter().any(|prefix| {
        text.strip_prefix(prefix).is_some_and(|rest| {
            rest.len() >= 16
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    })
}

/// `text` as a snapshot shows it: what varies from run to run replaced.
fn placeholder(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let looks_like_time = bytes.len() >= 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[10] == b'T';
    if looks_like_time {
        return Some("[time]".into());
    }
    if text.starts_with("vault_") && text.len() > 40 {
        return Some("[token]".into());
    }
    if text.starts_with("whsec_") {
        return Some("[webhook secret]".into());
    }
    if is_generated_id(text) {
        return Some("[id]".into());
    }
    // A principal names its token: `user:tok_…`.
    if let Some((kind, rest)) = text.split_once(':')
        && is_generated_id(rest)
    {
        return Some(format!("{kind}:[id]"));
    }
    None
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match key.as_str() {
                    // Audit positions depend on how many records came before, and a
                    // throttled caller's wait on how long it took to get there.
                    "hash" | "next_cursor" | "request_id" | "seq" | "next_before"
                    | "next_after" | "retry_after" | "event_seq"
                        if !field.is_null() =>
                    {
                        *field = Value::String(format!("[{key}]"));
                    }
                    _ => redact(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => {
            if let Some(shown) = placeholder(text) {
                *text = shown;
            }
        }
        _ => {}
    }
}

/// Snapshots one answer as `status` and its redacted body. The tests that provoke a
/// problem through its real cause (a tampered row, a disabled KMS key, a flood) pin it
/// here too, under `problem_<code>`, so every module's refusals land in one place.
pub(crate) fn pin(name: &str, status: u16, body: &Value) {
    let mut shown = body.clone();
    redact(&mut shown);
    let text = serde_json::to_string_pretty(&shown).expect("serializes");
    insta::assert_snapshot!(name, format!("{status}\n{text}"));
}

struct Flow<'a> {
    server: &'a TestServer,
    pinned: BTreeSet<&'static str>,
}

impl Flow<'_> {
    /// Calls `operation` and pins its answer, which must have `status`.
    async fn pin(
        &mut self,
        operation: &'static str,
        status: u16,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let answer = self.server.expect(status, method, path, token, body).await;
        pin(operation, status, &answer);
        self.pinned.insert(operation);
        answer
    }

    /// Provokes `case` and pins the refusal under its problem code.
    async fn problem(&mut self, case: Case) {
        let answer = self
            .server
            .expect(case.status, case.method, &case.path, &case.token, case.body)
            .await;
        assert_eq!(answer["code"], case.code, "{answer}");
        pin(&format!("problem_{}", case.code), case.status, &answer);
    }
}

/// A request that a client can send and the vault refuses with `code`.
struct Case {
    code: &'static str,
    status: u16,
    method: Method,
    path: String,
    token: String,
    body: Option<Value>,
}

fn case(
    code: &'static str,
    status: u16,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Case {
    Case {
        code,
        status,
        method,
        path: path.to_owned(),
        token: token.to_owned(),
        body,
    }
}

fn id(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_shape_and_problem_body_is_pinned() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let operator = server.operator.clone();
    let orchestrator = server.orchestrator.clone();
    let mut flow = Flow {
        server: &server,
        pinned: BTreeSet::new(),
    };

    flow.pin("healthz", 200, Method::GET, "/healthz", "", None)
        .await;
    flow.pin("readyz", 200, Method::GET, "/readyz", "", None)
        .await;

    // Tokens.
    let issued = flow
        .pin(
            "createToken",
            201,
            Method::POST,
            "/v1/tokens",
            &operator,
            Some(json!({"kind": "user", "user_id": "ada", "label": "laptop", "ttl": "30d"})),
        )
        .await;
    let ada = issued["secret"].as_str().expect("secret").to_owned();
    let spare = server.token("user", Some("bob")).await;
    // Tokens issued in the same instant list in the order of their random ids: the
    // snapshot shows them by kind and label instead.
    let mut tokens = server
        .expect(200, Method::GET, "/v1/tokens", &operator, None)
        .await;
    redact(&mut tokens);
    if let Some(listed) = tokens["data"].as_array_mut() {
        listed.sort_by_key(|t| {
            (
                t["kind"].to_string(),
                t["label"].to_string(),
                t["user_id"].to_string(),
            )
        });
    }
    pin("listTokens", 200, &tokens);
    flow.pinned.insert("listTokens");
    let listed = server
        .expect(200, Method::GET, "/v1/tokens", &operator, None)
        .await;
    let bob_token = listed["data"]
        .as_array()
        .and_then(|tokens| tokens.iter().find(|t| t["user_id"] == "bob"))
        .map(id)
        .expect("bob's token is listed");
    let revoke = format!("/v1/tokens/{bob_token}");
    flow.pin("revokeToken", 204, Method::DELETE, &revoke, &operator, None)
        .await;
    drop(spare);

    // A user's own secrets.
    let created = flow
        .pin(
            "createSecret",
            201,
            Method::POST,
            "/v1/secrets",
            &ada,
            Some(
                json!({"name": "GITHUB_TOKEN", "value": "ghp_shapeMarker0123456789",
                "scope": "agents", "profile_ids": ["p1"], "description": "for CI"}),
            ),
        )
        .await;
    let secret = format!("/v1/secrets/{}", id(&created));
    flow.pin("listSecrets", 200, Method::GET, "/v1/secrets", &ada, None)
        .await;
    flow.pin("getSecret", 200, Method::GET, &secret, &ada, None)
        .await;
    flow.pin(
        "updateSecret",
        200,
        Method::PATCH,
        &secret,
        &ada,
        Some(json!({"value": "ghp_shapeMarkerRotated98765", "expected_version": 1})),
    )
    .await;
    let versions = format!("{secret}/versions");
    flow.pin(
        "listSecretVersions",
        200,
        Method::GET,
        &versions,
        &ada,
        None,
    )
    .await;
    flow.pin(
        "compareSecret",
        200,
        Method::POST,
        &format!("{secret}/compare"),
        &ada,
        Some(json!({"value": "ghp_shapeMarkerRotated98765"})),
    )
    .await;
    flow.pin(
        "rollbackSecret",
        200,
        Method::POST,
        &format!("{secret}/rollback"),
        &ada,
        Some(json!({"version": 1})),
    )
    .await;

    // A workspace: its admin, member and keys.
    flow.pin(
        "putWorkspaceAdmin",
        200,
        Method::PUT,
        "/v1/workspaces/acme/admins/ada",
        &operator,
        None,
    )
    .await;
    flow.pin(
        "listWorkspaceAdmins",
        200,
        Method::GET,
        "/v1/workspaces/acme/admins",
        &operator,
        None,
    )
    .await;
    flow.pin(
        "putWorkspaceMember",
        200,
        Method::PUT,
        "/v1/workspaces/acme/members/carol",
        &ada,
        None,
    )
    .await;
    flow.pin(
        "getWorkspaceMember",
        200,
        Method::GET,
        "/v1/workspaces/acme/members/carol",
        &ada,
        None,
    )
    .await;
    flow.pin(
        "listWorkspaceMembers",
        200,
        Method::GET,
        "/v1/workspaces/acme/members",
        &ada,
        None,
    )
    .await;
    let key = flow
        .pin(
            "createWorkspaceKey",
            201,
            Method::POST,
            "/v1/workspaces/acme/keys",
            &ada,
            Some(json!({"name": "OPENAI_API_KEY", "value": "sk-shapeMarkerKey0123456789"})),
        )
        .await;
    let key = format!("/v1/workspaces/acme/keys/{}", id(&key));
    flow.pin(
        "listWorkspaceKeys",
        200,
        Method::GET,
        "/v1/workspaces/acme/keys",
        &ada,
        None,
    )
    .await;
    flow.pin("getWorkspaceKey", 200, Method::GET, &key, &ada, None)
        .await;
    flow.pin(
        "updateWorkspaceKey",
        200,
        Method::PATCH,
        &key,
        &ada,
        Some(json!({"value": "sk-shapeMarkerKeyRotated987", "description": "rotated"})),
    )
    .await;
    flow.pin(
        "listWorkspaceKeyVersions",
        200,
        Method::GET,
        &format!("{key}/versions"),
        &ada,
        None,
    )
    .await;
    flow.pin(
        "compareWorkspaceKey",
        200,
        Method::POST,
        &format!("{key}/compare"),
        &ada,
        Some(json!({"value": "sk-shapeMarkerKey0123456789"})),
    )
    .await;
    flow.pin(
        "rollbackWorkspaceKey",
        200,
        Method::POST,
        &format!("{key}/rollback"),
        &ada,
        Some(json!({"version": 1})),
    )
    .await;
    flow.pin(
        "listAllWorkspaceKeys",
        200,
        Method::GET,
        "/v1/workspace-keys",
        &operator,
        None,
    )
    .await;

    // A project, its milestone, members and vault.
    flow.pin(
        "createProject",
        201,
        Method::POST,
        "/v1/projects",
        &orchestrator,
        Some(json!({"id": "apollo", "name": "Apollo", "accountable_user_id": "ada"})),
    )
    .await;
    flow.pin(
        "createMilestone",
        201,
        Method::POST,
        "/v1/projects/apollo/milestones",
        &orchestrator,
        Some(json!({"id": "launch", "name": "Launch"})),
    )
    .await;
    flow.pin(
        "putProjectMember",
        200,
        Method::PUT,
        "/v1/projects/apollo/members/otto",
        &ada,
        Some(json!({"role": "responsible"})),
    )
    .await;
    flow.pin("listProjects", 200, Method::GET, "/v1/projects", &ada, None)
        .await;
    flow.pin(
        "getProject",
        200,
        Method::GET,
        "/v1/projects/apollo",
        &ada,
        None,
    )
    .await;
    let entry = flow
        .pin(
            "createProjectEntry",
            201,
            Method::POST,
            "/v1/projects/apollo/vault",
            &ada,
            Some(
                json!({"name": "DEPLOY_TOKEN", "value": "ghp_shapeDeployToken0123456",
                "category": "access_token", "scope": "milestone", "milestone_ids": ["launch"]}),
            ),
        )
        .await;
    let entry = format!("/v1/projects/apollo/vault/{}", id(&entry));
    flow.pin(
        "listProjectEntries",
        200,
        Method::GET,
        "/v1/projects/apollo/vault",
        &ada,
        None,
    )
    .await;
    flow.pin("getProjectEntry", 200, Method::GET, &entry, &ada, None)
        .await;
    flow.pin(
        "updateProjectEntry",
        200,
        Method::PATCH,
        &entry,
        &ada,
        Some(json!({"value": "ghp_shapeDeployTokenRotated9", "category": "api_key"})),
    )
    .await;
    flow.pin(
        "listProjectEntryVersions",
        200,
        Method::GET,
        &format!("{entry}/versions"),
        &ada,
        None,
    )
    .await;
    flow.pin(
        "compareProjectEntry",
        200,
        Method::POST,
        &format!("{entry}/compare"),
        &ada,
        Some(json!({"value": "ghp_shapeDeployTokenRotated9"})),
    )
    .await;
    flow.pin(
        "rollbackProjectEntry",
        200,
        Method::POST,
        &format!("{entry}/rollback"),
        &ada,
        Some(json!({"version": 1})),
    )
    .await;

    // Resolution and sessions.
    let context = json!({"user_id": "ada", "profile_id": "p1", "workspace_id": "acme",
        "project_id": "apollo", "milestone_id": "launch"});
    let mut explained = context.clone();
    explained["explain"] = json!(true);
    explained["baseline_env"] = json!({"LANG": "C.UTF-8"});
    flow.pin(
        "resolveEnv",
        200,
        Method::POST,
        "/v1/resolve",
        &orchestrator,
        Some(explained),
    )
    .await;
    let session = flow
        .pin(
            "createSession",
            201,
            Method::POST,
            "/v1/sessions",
            &orchestrator,
            Some(context),
        )
        .await;
    let session_token = session["token"].as_str().expect("token").to_owned();
    flow.pin(
        "getRuntimeEnv",
        200,
        Method::GET,
        "/v1/runtime/env",
        &session_token,
        None,
    )
    .await;
    flow.pin(
        "lookupRuntimeSecret",
        200,
        Method::GET,
        "/v1/runtime/secrets/DEPLOY_TOKEN",
        &session_token,
        None,
    )
    .await;
    flow.pin(
        "endSession",
        204,
        Method::DELETE,
        &format!("/v1/sessions/{}", id(&session)),
        &orchestrator,
        None,
    )
    .await;

    // The removals, last.
    flow.pin(
        "deleteProjectEntry",
        204,
        Method::DELETE,
        &entry,
        &ada,
        None,
    )
    .await;
    flow.pin(
        "removeProjectMember",
        204,
        Method::DELETE,
        "/v1/projects/apollo/members/otto",
        &ada,
        None,
    )
    .await;
    flow.pin(
        "deleteMilestone",
        200,
        Method::DELETE,
        "/v1/projects/apollo/milestones/launch",
        &ada,
        None,
    )
    .await;
    flow.pin(
        "deleteProject",
        200,
        Method::DELETE,
        "/v1/projects/apollo",
        &ada,
        None,
    )
    .await;
    flow.pin("deleteWorkspaceKey", 204, Method::DELETE, &key, &ada, None)
        .await;
    flow.pin(
        "removeWorkspaceMember",
        204,
        Method::DELETE,
        "/v1/workspaces/acme/members/carol",
        &ada,
        None,
    )
    .await;
    flow.pin(
        "removeWorkspaceAdmin",
        204,
        Method::DELETE,
        "/v1/workspaces/acme/admins/ada",
        &operator,
        None,
    )
    .await;
    flow.pin("deleteSecret", 204, Method::DELETE, &secret, &ada, None)
        .await;
    flow.pin(
        "listEvents",
        200,
        Method::GET,
        "/v1/events?limit=3&type=secret.rotated,secret.deleted",
        &operator,
        None,
    )
    .await;
    let hook = flow
        .pin(
            "createWebhook",
            201,
            Method::POST,
            "/v1/webhooks",
            &ada,
            Some(
                json!({"owner_kind": "user", "url": "https://8.8.8.8/hooks/vault",
                "event_types": ["secret.created", "secret.rotated"], "description": "CI"}),
            ),
        )
        .await;
    let hook = format!(
        "/v1/webhooks/{}",
        hook["webhook"]["id"].as_str().expect("id")
    );
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &ada,
            Some(json!({"name": "HOOKED", "value": "hooked-value-0123"})),
        )
        .await;
    server
        .store
        .fan_out_webhooks(chrono::Utc::now())
        .await
        .expect("fans out");
    flow.pin("listWebhooks", 200, Method::GET, "/v1/webhooks", &ada, None)
        .await;
    flow.pin("getWebhook", 200, Method::GET, &hook, &ada, None)
        .await;
    flow.pin(
        "updateWebhook",
        200,
        Method::PATCH,
        &hook,
        &ada,
        Some(json!({"enabled": false, "description": "paused"})),
    )
    .await;
    flow.pin(
        "rotateWebhookSecret",
        200,
        Method::POST,
        &format!("{hook}/rotate-secret"),
        &ada,
        None,
    )
    .await;
    let log = flow
        .pin(
            "listWebhookDeliveries",
            200,
            Method::GET,
            &format!("{hook}/deliveries"),
            &ada,
            None,
        )
        .await;
    let delivery = log["data"][0]["id"]
        .as_str()
        .expect("a delivery")
        .to_owned();
    flow.pin(
        "redeliverWebhook",
        200,
        Method::POST,
        &format!("{hook}/deliveries/{delivery}/redeliver"),
        &ada,
        None,
    )
    .await;
    flow.pin("deleteWebhook", 204, Method::DELETE, &hook, &ada, None)
        .await;
    flow.pin(
        "listAuditRecords",
        200,
        Method::GET,
        "/v1/audit?limit=3&action=secret.delete",
        &operator,
        None,
    )
    .await;

    // Every operation of the document is pinned, but the metrics' text exposition
    // (Prometheus's format, not ours) and the document itself (which the contract run
    // validates and generates a client from).
    let document = server
        .expect(200, Method::GET, "/openapi.json", "", None)
        .await;
    let mut documented = BTreeSet::new();
    for operations in document["paths"].as_object().expect("paths").values() {
        for operation in operations.as_object().expect("operations").values() {
            if let Some(name) = operation["operationId"].as_str() {
                documented.insert(name.to_owned());
            }
        }
    }
    documented.remove("metrics");
    documented.remove("getOpenApiDocument");
    let pinned: BTreeSet<String> = flow.pinned.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        documented.difference(&pinned).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "operations without a pinned response shape"
    );

    problems(&mut flow).await;
}

/// Each problem a client can provoke, pinned whole.
async fn problems(flow: &mut Flow<'_>) {
    let server = flow.server;
    let operator = server.operator.clone();
    let orchestrator = server.orchestrator.clone();
    let eve = server.token("user", Some("eve")).await;
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &eve,
            Some(json!({"name": "EVE_TOKEN", "value": "ghp_shapeEveToken0123456789"})),
        )
        .await;
    let secret = format!("/v1/secrets/{}", id(&created));
    let tokens = server
        .expect(200, Method::GET, "/v1/tokens", &operator, None)
        .await;
    let operator_id = tokens["data"]
        .as_array()
        .and_then(|listed| listed.iter().find(|t| t["kind"] == "operator"))
        .map(id)
        .expect("the operator token is listed");
    let cases = vec![
        case("unauthenticated", 401, Method::GET, "/v1/secrets", "", None),
        case(
            "forbidden",
            403,
            Method::POST,
            "/v1/resolve",
            &eve,
            Some(json!({"user_id": "eve", "profile_id": "p1"})),
        ),
        case(
            "not_found",
            404,
            Method::GET,
            "/v1/secrets/sec_AAAAAAAAAAAAAAAAAAAAA",
            &eve,
            None,
        ),
        case(
            "unknown_field",
            400,
            Method::POST,
            "/v1/secrets",
            &eve,
            Some(json!({"name": "A", "value": "b", "colour": "red"})),
        ),
        case(
            "invalid_value",
            422,
            Method::POST,
            "/v1/secrets",
            &eve,
            Some(json!({"name": "1BAD", "value": "b"})),
        ),
        case(
            "protected_name",
            422,
            Method::POST,
            "/v1/secrets",
            &eve,
            Some(json!({"name": "LD_PRELOAD", "value": "/tmp/x.so"})),
        ),
        case(
            "scope_overlap",
            409,
            Method::POST,
            "/v1/secrets",
            &eve,
            Some(json!({"name": "EVE_TOKEN", "value": "ghp_other"})),
        ),
        case(
            "stale_version",
            409,
            Method::PATCH,
            &secret,
            &eve,
            Some(json!({"value": "ghp_new", "expected_version": 7})),
        ),
        case(
            "version_not_kept",
            409,
            Method::POST,
            &format!("{secret}/rollback"),
            &eve,
            Some(json!({"version": 9})),
        ),
        case(
            "token_kind_host_only",
            403,
            Method::POST,
            "/v1/tokens",
            &operator,
            Some(json!({"kind": "operator"})),
        ),
        case(
            "already_exists",
            409,
            Method::POST,
            "/v1/projects",
            &orchestrator,
            Some(json!({"id": "gemini", "name": "Gemini", "accountable_user_id": "eve"})),
        ),
        case(
            "last_accountable",
            409,
            Method::DELETE,
            "/v1/projects/gemini/members/eve",
            &eve,
            None,
        ),
        case(
            "project_injection_denied",
            403,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(json!({"user_id": "mallory", "profile_id": "p1", "project_id": "gemini"})),
        ),
        case(
            "workspace_injection_denied",
            403,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(json!({"user_id": "mallory", "profile_id": "p1", "workspace_id": "acme"})),
        ),
        case(
            "method_not_allowed",
            405,
            Method::PUT,
            "/v1/secrets",
            &eve,
            None,
        ),
        case(
            "scope_mismatch",
            409,
            Method::PATCH,
            &secret,
            &eve,
            Some(json!({"profile_ids": ["p1"]})),
        ),
        case(
            "last_operator_token",
            409,
            Method::DELETE,
            &format!("/v1/tokens/{operator_id}"),
            &operator,
            None,
        ),
    ];
    // The project the conflicts need exists before them.
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            &orchestrator,
            Some(json!({"id": "gemini", "name": "Gemini", "accountable_user_id": "eve"})),
        )
        .await;
    for case in cases {
        flow.problem(case).await;
    }
    // Retention removed every event but the newest: a reader from the start would miss
    // some.
    server
        .store
        .prune_events(chrono::Utc::now() + chrono::Duration::days(3650))
        .await
        .expect("prunes");
    flow.problem(case(
        "events_pruned",
        410,
        Method::GET,
        "/v1/events?after=0",
        &eve,
        None,
    ))
    .await;
    // Bodies that are not the JSON an operation takes.
    let oversized = format!(
        "{{\"name\": \"A\", \"value\": \"{}\"}}",
        "x".repeat(MAX_BODY_BYTES + 1)
    );
    for (code, status, content_type, body) in [
        ("malformed_json", 400, "application/json", "{\"name\": "),
        (
            "duplicate_field",
            400,
            "application/json",
            "{\"name\": \"A\", \"name\": \"B\", \"value\": \"c\"}",
        ),
        ("unsupported_media_type", 415, "text/plain", "name=A"),
        ("payload_too_large", 413, "application/json", &oversized),
    ] {
        let response = server
            .client
            .post(format!("{}/v1/secrets", server.base))
            .bearer_auth(&eve)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status().as_u16(), status, "{code}");
        let answer: Value = response.json().await.expect("a problem document");
        assert_eq!(answer["code"], code, "{answer}");
        pin(&format!("problem_{code}"), status, &answer);
    }
    // More headers than the vault reads.
    let mut request = server.client.get(format!("{}/v1/secrets", server.base));
    for n in 0..120 {
        request = request.header(format!("x-filler-{n}"), "1");
    }
    let response = request.bearer_auth(&eve).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 431);
    let answer: Value = response.json().await.expect("a problem document");
    assert_eq!(answer["code"], "headers_too_large", "{answer}");
    pin("problem_headers_too_large", 431, &answer);
    malformed_body(server, &eve).await;
    limits().await;
}

/// A body that ends before its declared length: the client half-closes its side of the
/// connection after part of the body, and the vault answers on the other half.
async fn malformed_body(server: &TestServer, token: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let head = format!(
        "POST /v1/secrets HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\": \"A\""
    );
    stream.write_all(head.as_bytes()).await.expect("sends");
    stream.shutdown().await.expect("half-closes");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("reads");
    let answer = String::from_utf8(answer).expect("an HTTP/1.1 answer is text");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 400 "), "{answer}");
    let body: Value = serde_json::from_str(body).expect("a problem document");
    assert_eq!(body["code"], "malformed_body", "{body}");
    pin("problem_malformed_body", 400, &body);
}

/// What a client is told of each failure on the server's side, rendered by the one
/// mapping of `ApiError`: generic bodies that hold none of the detail the log gets.
/// Where a test provokes the failure for real (a dropped table, a disabled KMS key, a
/// tampered row), it pins the same snapshot, so the real path is held to this body.
#[tokio::test]
async fn server_failures_answer_generic_bodies() {
    use axum::response::IntoResponse;
    use vault_api::ApiError;
    use vault_kms::{KmsError, RootKeyId};
    use vault_store::{Conflict, StoreError};

    const DETAIL: &str = "detail-for-the-log-only /var/lib/vault arn:aws:kms:key/1234";
    let key_id = || RootKeyId::parse("arn:aws:kms:eu-west-1:000000000000:key/1234").expect("an id");
    let failures = [
        (
            "internal",
            ApiError::Internal {
                detail: DETAIL.into(),
            },
        ),
        (
            "unavailable",
            StoreError::Unavailable {
                detail: DETAIL.into(),
            }
            .into(),
        ),
        (
            "audit_contention",
            StoreError::Conflict(Conflict::AuditChainMoved).into(),
        ),
        (
            "integrity_violation",
            ApiError::IntegrityViolation {
                detail: DETAIL.into(),
            },
        ),
        (
            "root_key_disabled",
            KmsError::RootKeyDisabled {
                key_id: key_id(),
                state: DETAIL.into(),
            }
            .into(),
        ),
        (
            "root_key_access_denied",
            KmsError::RootAccessDenied {
                key_id: key_id(),
                detail: DETAIL.into(),
            }
            .into(),
        ),
        (
            "root_key_unavailable",
            KmsError::RootProviderUnavailable {
                provider: "aws-kms",
                detail: DETAIL.into(),
            }
            .into(),
        ),
        (
            "invalid_ciphertext",
            KmsError::KekUnwrapFailed { key_id: key_id() }.into(),
        ),
    ];
    for (code, failure) in failures {
        let response = failure.into_response();
        let status = response.status().as_u16();
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{code}"
        );
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let body: Value = serde_json::from_slice(&bytes).expect("a problem document");
        assert_eq!(body["code"], code, "{body}");
        for leaked in ["detail-for-the-log-only", "/var/lib", "arn:aws", "1234"] {
            assert!(!body.to_string().contains(leaked), "{code}: {body}");
        }
        pin(&format!("problem_{code}"), status, &body);
    }
}

/// Every code the vault answers with has its body pinned somewhere in this suite.
#[test]
fn every_problem_code_has_a_pinned_body() {
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/snapshots");
    let unpinned: Vec<&str> = vault_client::ProblemCode::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| {
            !snapshots
                .join(format!("suite__shapes__problem_{code}.snap"))
                .is_file()
        })
        .collect();
    assert_eq!(
        unpinned,
        Vec::<&str>::new(),
        "problem codes without a snapshot"
    );
}

/// The refusals of a vault configured with small limits: an owner's entry count and
/// the size of a resolved environment.
async fn limits() {
    let options = ServerOptions {
        // The smallest limit the vault accepts: one largest value and its name.
        max_env_bytes: Some(65_794),
        max_entries_per_owner: Some(1),
        ..ServerOptions::default()
    };
    let server =
        TestServer::start_configured(TestDb::sqlite(), crate::support::test_key(), options).await;
    let operator = server.operator.clone();
    let body = |name: &str| {
        Some(json!({"user_id": "zoe", "name": name,
            "value": "v".repeat(60)}))
    };
    server
        .expect(201, Method::POST, "/v1/secrets", &operator, body("FIRST"))
        .await;
    let refused = server
        .expect(422, Method::POST, "/v1/secrets", &operator, body("SECOND"))
        .await;
    assert_eq!(refused["code"], "entry_limit_reached", "{refused}");
    pin("problem_entry_limit_reached", 422, &refused);
    let refused = server
        .expect(
            422,
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(json!({"user_id": "zoe", "profile_id": "p1",
                "baseline_env": {"PADDING_A": "a".repeat(40_000), "PADDING_B": "b".repeat(40_000)}})),
        )
        .await;
    assert_eq!(refused["code"], "env_too_large", "{refused}");
    pin("problem_env_too_large", 422, &refused);
}
