//! The trust boundaries where plaintext leaves the vault, each played as the attacker
//! would play it, on SQLite and PostgreSQL against a real server: a user who is not a
//! member of what they ask for, a member removed mid-session, a leaked session whose
//! minting token was revoked, a project Responsible from a partner organisation or a
//! workspace admin steering other people's agents through protected names, an
//! operator minting itself an orchestrator token, someone with write access to the
//! database, and an environment too large for the kernel to start a process with.

use vault_testkit::on_both_backends;

use crate::support::{ServerOptions, TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use vault_api::clock::Clock as _;
use vault_api::server::NameRules;

on_both_backends!(
    only_members_whose_role_reads_entries_get_a_project_injected,
    a_session_ends_with_its_members_access_and_with_its_minting_token,
    a_sessions_runtime_env_is_its_contexts_resolution_and_ends_with_its_access,
    workspace_membership_decides_the_workspace_layer,
    protected_names_are_refused_for_every_owner_and_never_injected,
    configuration_adds_protected_names_and_releases_them_only_explicitly,
    operators_issue_only_user_tokens_over_http,
    token_lifetimes_past_the_grammar_are_refused_and_the_longest_expiry_is_rfc3339,
    an_env_over_the_limit_is_refused_whole_naming_its_largest_variables,
    writes_past_an_owners_entry_limit_are_refused_and_change_nothing,
    refused_writes_are_refused_before_anything_is_sealed,
);

/// Stored as a value wherever a test checks that nothing disclosed it.
const MARKER: &str = "ghp_trustBoundaryMarker7c1e9a";

/// Every DEK wrap every KEK has made: a write that seals moves it.
const WRAPS: &str = "SELECT COALESCE(SUM(wrap_count), 0) FROM keks";

fn assert_no_marker(context: &str, body: &Value) {
    assert!(
        !body.to_string().contains(MARKER),
        "{context} disclosed the value: {body}"
    );
}

fn assert_refused(body: &Value, code: &str, field: &str) {
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some(code), Some(field)),
        "{body}"
    );
    assert_no_marker("a refusal", body);
}

async fn project_with_entry(server: &TestServer, project: &str, accountable: &str) {
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            &server.orchestrator,
            Some(json!({"id": project, "name": project, "accountable_user_id": accountable})),
        )
        .await;
    server
        .expect(
            201,
            Method::POST,
            &format!("/v1/projects/{project}/vault"),
            &server.operator,
            Some(
                json!({"name": "DEPLOY_TOKEN", "value": MARKER, "category": "access_token",
                        "scope": "project"}),
            ),
        )
        .await;
}

async fn put_member(server: &TestServer, project: &str, user: &str, role: &str) {
    server
        .expect(
            200,
            Method::PUT,
            &format!("/v1/projects/{project}/members/{user}"),
            &server.orchestrator,
            Some(json!({ "role": role })),
        )
        .await;
}

async fn remove_member(server: &TestServer, project: &str, user: &str) {
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/projects/{project}/members/{user}"),
            &server.orchestrator,
            None,
        )
        .await;
}

fn context(user: &str, workspace: Option<&str>, project: Option<&str>) -> Value {
    json!({"user_id": user, "profile_id": "p1", "workspace_id": workspace, "project_id": project})
}

/// Starts a session for `body` with `orchestrator`; returns its id and token.
async fn session(server: &TestServer, orchestrator: &str, mut body: Value) -> (String, String) {
    body["ttl_seconds"] = json!(86_400);
    let created = server
        .expect(201, Method::POST, "/v1/sessions", orchestrator, Some(body))
        .await;
    (
        created["id"].as_str().expect("id").to_owned(),
        created["token"].as_str().expect("token").to_owned(),
    )
}

async fn lookup(server: &TestServer, session: &str, name: &str) -> (u16, Value) {
    server
        .call(
            Method::GET,
            &format!("/v1/runtime/secrets/{name}"),
            session,
            None,
        )
        .await
}

/// The latest records of the trail, newest first.
async fn records(server: &TestServer) -> Vec<vault_core::AuditEntry> {
    server
        .store
        .audit_latest(None, 500)
        .await
        .expect("reads the trail")
        .into_iter()
        .map(|r| r.entry)
        .collect()
}

async fn only_members_whose_role_reads_entries_get_a_project_injected(db: TestDb) {
    let server = TestServer::start(db).await;
    project_with_entry(&server, "apollo", "ada").await;
    put_member(&server, "apollo", "rhea", "responsible").await;
    put_member(&server, "apollo", "cato", "consulted").await;
    put_member(&server, "apollo", "iris", "informed").await;
    let orchestrator = server.orchestrator.clone();

    for user in ["ada", "rhea", "cato"] {
        let resolved = server.resolve(context(user, None, Some("apollo"))).await;
        assert_eq!(resolved["env"]["DEPLOY_TOKEN"], MARKER, "{user}");
        session(&server, &orchestrator, context(user, None, Some("apollo"))).await;
    }
    // Informed members know the names; their agents get none of the values. Users who
    // are not members (from this organisation or a partner's) get nothing at all, and
    // a project that does not exist is refused the same way.
    for (user, project, detail) in [
        ("iris", "apollo", "is informed on project apollo"),
        ("mallory", "apollo", "is not a member of project apollo"),
        (
            "otto.partner",
            "apollo",
            "is not a member of project apollo",
        ),
        ("ada", "ghost", "is not a member of project ghost"),
    ] {
        let body = context(user, None, Some(project));
        let refused = server
            .expect(
                403,
                Method::POST,
                "/v1/resolve",
                &orchestrator,
                Some(body.clone()),
            )
            .await;
        assert_refused(&refused, "project_injection_denied", "project_id");
        assert!(
            refused.get("env").is_none(),
            "never a smaller env: {refused}"
        );
        assert!(
            refused["detail"]
                .as_str()
                .is_some_and(|d| d.contains(detail)),
            "{refused}"
        );
        let refused = server
            .expect(403, Method::POST, "/v1/sessions", &orchestrator, Some(body))
            .await;
        assert_refused(&refused, "project_injection_denied", "project_id");
        assert!(refused.get("token").is_none(), "{refused}");
    }

    // Each refusal is in the trail with the context it asked for; no record anywhere
    // holds the value.
    let trail = records(&server).await;
    let refusal = trail
        .iter()
        .find(|r| {
            r.action == "resolve"
                && r.outcome == "project_injection_denied"
                && r.target
                    .as_deref()
                    .is_some_and(|t| t.contains("\"mallory\""))
        })
        .expect("the refused resolution is recorded");
    assert!(
        refusal.principal.starts_with("orchestrator:"),
        "{refusal:?}"
    );
    let target: Value =
        serde_json::from_str(refusal.target.as_deref().expect("target")).expect("JSON target");
    assert_eq!(target["context"]["project_id"], "apollo");
    assert!(
        trail
            .iter()
            .any(|r| r.action == "session.create" && r.outcome == "project_injection_denied")
    );
    for record in &trail {
        assert!(!format!("{record:?}").contains(MARKER), "{record:?}");
    }

    // A removal holds at once on every replica: the other one had the context warm in
    // its candidate cache, and no cache may serve a grant.
    let replica = server.replica().await;
    let through_replica = async |body: Value| {
        let response = server
            .client
            .post(format!("{}/v1/resolve", replica.base))
            .bearer_auth(&orchestrator)
            .json(&body)
            .send()
            .await
            .expect("the replica answers");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.expect("JSON"))
    };
    let rhea = context("rhea", None, Some("apollo"));
    assert_eq!(through_replica(rhea.clone()).await.0, 200);
    assert_eq!(through_replica(rhea.clone()).await.0, 200);
    server
        .expect(
            204,
            Method::DELETE,
            "/v1/projects/apollo/members/rhea",
            &orchestrator,
            None,
        )
        .await;
    let (status, refused) = through_replica(rhea.clone()).await;
    assert_eq!(status, 403, "{refused}");
    assert_refused(&refused, "project_injection_denied", "project_id");
    server
        .expect(403, Method::POST, "/v1/resolve", &orchestrator, Some(rhea))
        .await;
}

async fn runtime_env(server: &TestServer, session: &str) -> (u16, Value) {
    server
        .call(Method::GET, "/v1/runtime/env", session, None)
        .await
}

/// The runner in a container fetches the whole env with its session token: the same
/// resolution the orchestrator gets for the context, recorded the same way, and
/// refused the moment the session or its user's access ends.
async fn a_sessions_runtime_env_is_its_contexts_resolution_and_ends_with_its_access(db: TestDb) {
    let server = TestServer::start(db).await;
    project_with_entry(&server, "apollo", "ada").await;
    put_member(&server, "apollo", "rhea", "responsible").await;
    let rhea_user = server.token("user", Some("rhea")).await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &rhea_user,
            Some(json!({"name": "OWN_KEY", "value": "rhea-own-value-0042"})),
        )
        .await;
    let rhea = context("rhea", None, Some("apollo"));
    let (session_id, token) = session(&server, &server.orchestrator, rhea.clone()).await;

    let response = server
        .send(Method::GET, "/v1/runtime/env", &token, None)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let fetched: Value = response.json().await.expect("JSON");
    let resolved = server.resolve(rhea.clone()).await;
    assert_eq!(fetched["env"], resolved["env"], "{fetched}");
    assert_eq!(fetched["env"]["DEPLOY_TOKEN"], MARKER);
    assert_eq!(fetched["env"]["OWN_KEY"], "rhea-own-value-0042");
    let trail = records(&server).await;
    let record = trail
        .iter()
        .find(|r| r.action == "resolve" && r.principal.starts_with("session:"))
        .expect("the fetch is recorded as a resolution by the session");
    assert_eq!(record.outcome, "ok");
    let target = record.target.as_deref().expect("a target");
    assert!(
        target.contains("DEPLOY_TOKEN") && target.contains("\"rhea\""),
        "{target}"
    );
    assert!(!format!("{record:?}").contains(MARKER), "{record:?}");

    // No other kind of token reads a session's env, nor an anonymous caller.
    let ada = server.token("user", Some("ada")).await;
    for (who, other, status) in [
        ("anonymous", "", 401),
        ("a user", ada.as_str(), 403),
        ("the orchestrator", server.orchestrator.as_str(), 403),
        ("an operator", server.operator.as_str(), 403),
        (
            "a guessed session",
            "vault_sess_guessedGuessedGuessedGuessed0123456",
            401,
        ),
    ] {
        let (got, refused) = runtime_env(&server, other).await;
        assert_eq!(got, status, "{who}: {refused}");
        assert_no_marker(who, &refused);
    }

    // The member removed: the project goes, whole; nothing smaller is served.
    remove_member(&server, "apollo", "rhea").await;
    let (status, refused) = runtime_env(&server, &token).await;
    assert_eq!(status, 403, "{refused}");
    assert_refused(&refused, "project_injection_denied", "project_id");
    assert!(
        refused.get("env").is_none(),
        "never a smaller env: {refused}"
    );
    assert_no_marker("a removed member", &refused);
    put_member(&server, "apollo", "rhea", "consulted").await;
    assert_eq!(runtime_env(&server, &token).await.0, 200);

    // Ended by the orchestrator, or outlived: unauthenticated, and no value.
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/sessions/{session_id}"),
            &server.orchestrator,
            None,
        )
        .await;
    let (status, refused) = runtime_env(&server, &token).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    assert_no_marker("an ended session", &refused);
    let (_, day_long) = session(&server, &server.orchestrator, rhea).await;
    assert_eq!(runtime_env(&server, &day_long).await.0, 200);
    server.clock.advance(chrono::Duration::hours(25));
    assert_eq!(runtime_env(&server, &day_long).await.0, 401);
}

async fn a_session_ends_with_its_members_access_and_with_its_minting_token(db: TestDb) {
    let server = TestServer::start(db).await;
    project_with_entry(&server, "apollo", "ada").await;
    put_member(&server, "apollo", "rhea", "responsible").await;
    let rhea = context("rhea", None, Some("apollo"));
    let (short_id, short_lived) = server.token_lasting("orchestrator", None, Some("1h")).await;
    let (_, by_short) = session(&server, &short_lived, rhea.clone()).await;
    let (_, by_main) = session(&server, &server.orchestrator, rhea.clone()).await;
    for token in [&by_short, &by_main] {
        let (status, found) = lookup(&server, token, "DEPLOY_TOKEN").await;
        assert_eq!((status, found["value"].as_str()), (200, Some(MARKER)));
    }

    // The member is removed: both sessions lose the project at their next lookup.
    remove_member(&server, "apollo", "rhea").await;
    for token in [&by_short, &by_main] {
        let (status, refused) = lookup(&server, token, "DEPLOY_TOKEN").await;
        assert_eq!(status, 403, "{refused}");
        assert_refused(&refused, "project_injection_denied", "project_id");
    }
    // Back as Informed, still nothing; the session follows the membership as it is
    // at each lookup, so only a role that reads entries serves it again.
    put_member(&server, "apollo", "rhea", "informed").await;
    assert_eq!(lookup(&server, &by_main, "DEPLOY_TOKEN").await.0, 403);
    put_member(&server, "apollo", "rhea", "consulted").await;
    assert_eq!(lookup(&server, &by_main, "DEPLOY_TOKEN").await.0, 200);

    // Revoking the orchestrator token that minted a session ends the session at once,
    // whatever its own expiry; sessions of other orchestrator tokens live on.
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/tokens/{short_id}"),
            &server.operator,
            None,
        )
        .await;
    let (status, refused) = lookup(&server, &by_short, "DEPLOY_TOKEN").await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    assert_no_marker("a revoked session", &refused);
    assert_eq!(lookup(&server, &by_main, "DEPLOY_TOKEN").await.0, 200);

    // Outliving it does the same: a 1-hour orchestrator token's day-long session ends
    // with the hour.
    let (_, hour) = server.token_lasting("orchestrator", None, Some("1h")).await;
    let (_, by_hour) = session(&server, &hour, rhea.clone()).await;
    assert_eq!(lookup(&server, &by_hour, "DEPLOY_TOKEN").await.0, 200);
    server.clock.advance(chrono::Duration::hours(2));
    assert_eq!(lookup(&server, &by_hour, "DEPLOY_TOKEN").await.0, 401);
    assert_eq!(lookup(&server, &by_main, "DEPLOY_TOKEN").await.0, 200);

    // Deleting the project takes its memberships, and the session's access with them.
    server
        .expect(
            200,
            Method::DELETE,
            "/v1/projects/apollo",
            &server.operator,
            None,
        )
        .await;
    let (status, refused) = lookup(&server, &by_main, "DEPLOY_TOKEN").await;
    assert_eq!(status, 403, "{refused}");
    assert_refused(&refused, "project_injection_denied", "project_id");

    // Someone with write access to the database who detaches a session from its
    // issuer (to outlive a revocation) makes it useless instead.
    let alice = server.token("user", Some("alice")).await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "ALICE_KEY", "value": MARKER})),
        )
        .await;
    let (detached_id, detached) =
        session(&server, &server.orchestrator, context("alice", None, None)).await;
    assert_eq!(lookup(&server, &detached, "ALICE_KEY").await.0, 200);
    server.db.execute(&format!(
        "UPDATE api_tokens SET issued_by = NULL WHERE id = '{detached_id}'"
    ));
    assert_eq!(lookup(&server, &detached, "ALICE_KEY").await.0, 401);
    // Pointed at a live token that is not an orchestrator's, it is refused as well.
    let operator_id = server
        .call(Method::GET, "/v1/tokens", &server.operator, None)
        .await
        .1["data"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["kind"] == "operator")
        .and_then(|t| t["id"].as_str())
        .expect("the operator token")
        .to_owned();
    server.db.execute(&format!(
        "UPDATE api_tokens SET issued_by = '{operator_id}' WHERE id = '{detached_id}'"
    ));
    assert_eq!(lookup(&server, &detached, "ALICE_KEY").await.0, 401);
}

async fn workspace_membership_decides_the_workspace_layer(db: TestDb) {
    let server = TestServer::start(db).await;
    let operator = server.operator.clone();
    let orchestrator = server.orchestrator.clone();
    let wanda = server.token("user", Some("wanda")).await;
    let mia = server.token("user", Some("mia")).await;
    let eve = server.token("user", Some("eve")).await;
    server
        .expect(
            200,
            Method::PUT,
            "/v1/workspaces/acme/admins/wanda",
            &operator,
            None,
        )
        .await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/workspaces/acme/keys",
            &wanda,
            Some(json!({"name": "OPENAI_API_KEY", "value": MARKER})),
        )
        .await;

    // Members are managed by operators and the workspace's own admins; to other users
    // the workspace does not exist, and the other token kinds may not.
    let (_, eve_session) = session(&server, &orchestrator, context("eve", None, None)).await;
    for (token, status) in [
        (&mia, 404),
        (&eve, 404),
        (&orchestrator, 403),
        (&eve_session, 403),
        (&wanda, 200),
        (&operator, 200),
    ] {
        let (got, body) = server
            .call(Method::PUT, "/v1/workspaces/acme/members/mia", token, None)
            .await;
        assert_eq!(got, status, "{body}");
        let (got, _) = server
            .call(Method::GET, "/v1/workspaces/acme/members", token, None)
            .await;
        assert_eq!(got, status);
    }
    let listed = server
        .expect(
            200,
            Method::GET,
            "/v1/workspaces/acme/members",
            &wanda,
            None,
        )
        .await;
    assert_eq!(listed["data"][0]["user_id"], "mia");
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    server
        .expect(
            200,
            Method::GET,
            "/v1/workspaces/acme/members/mia",
            &wanda,
            None,
        )
        .await;
    server
        .expect(
            404,
            Method::GET,
            "/v1/workspaces/acme/members/eve",
            &wanda,
            None,
        )
        .await;
    // An admin of one workspace is nobody in another.
    server
        .expect(
            404,
            Method::PUT,
            "/v1/workspaces/other/members/eve",
            &wanda,
            None,
        )
        .await;

    // Members and admins get the keys; anyone else is refused whole, even when the
    // rest of the context (their own project) is theirs.
    for user in ["mia", "wanda"] {
        let resolved = server.resolve(context(user, Some("acme"), None)).await;
        assert_eq!(resolved["env"]["OPENAI_API_KEY"], MARKER, "{user}");
    }
    project_with_entry(&server, "eden", "eve").await;
    let refused = server
        .expect(
            403,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(context("eve", Some("acme"), Some("eden"))),
        )
        .await;
    assert_refused(&refused, "workspace_injection_denied", "workspace_id");
    let own = server.resolve(context("eve", None, Some("eden"))).await;
    assert_eq!(own["env"]["DEPLOY_TOKEN"], MARKER);
    let refused = server
        .expect(
            403,
            Method::POST,
            "/v1/sessions",
            &orchestrator,
            Some(context("eve", Some("acme"), None)),
        )
        .await;
    assert_refused(&refused, "workspace_injection_denied", "workspace_id");

    // A member's session ends with the membership.
    let (_, mia_session) =
        session(&server, &orchestrator, context("mia", Some("acme"), None)).await;
    let (status, found) = lookup(&server, &mia_session, "OPENAI_API_KEY").await;
    assert_eq!((status, found["value"].as_str()), (200, Some(MARKER)));
    server
        .expect(
            204,
            Method::DELETE,
            "/v1/workspaces/acme/members/mia",
            &wanda,
            None,
        )
        .await;
    let (status, refused) = lookup(&server, &mia_session, "OPENAI_API_KEY").await;
    assert_eq!(status, 403);
    assert_refused(&refused, "workspace_injection_denied", "workspace_id");
    server
        .expect(
            404,
            Method::DELETE,
            "/v1/workspaces/acme/members/mia",
            &wanda,
            None,
        )
        .await;
    // An admin removed is no member either.
    server
        .expect(
            204,
            Method::DELETE,
            "/v1/workspaces/acme/admins/wanda",
            &operator,
            None,
        )
        .await;
    server
        .expect(
            403,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(context("wanda", Some("acme"), None)),
        )
        .await;

    let trail = records(&server).await;
    for action in ["workspace.member.put", "workspace.member.remove"] {
        assert!(
            trail
                .iter()
                .any(|r| r.action == action && r.outcome == "ok"),
            "{action}"
        );
    }
    assert!(
        trail
            .iter()
            .any(|r| r.action == "runtime.lookup" && r.outcome == "workspace_injection_denied")
    );
}

async fn protected_names_are_refused_for_every_owner_and_never_injected(db: TestDb) {
    let server = TestServer::start(db).await;
    let operator = server.operator.clone();
    let alice = server.token("user", Some("alice")).await;
    let wanda = server.token("user", Some("wanda")).await;
    let otto = server.token("user", Some("otto.partner")).await;
    server
        .expect(
            200,
            Method::PUT,
            "/v1/workspaces/acme/admins/wanda",
            &operator,
            None,
        )
        .await;
    server
        .expect(
            200,
            Method::PUT,
            "/v1/workspaces/acme/members/alice",
            &operator,
            None,
        )
        .await;
    project_with_entry(&server, "apollo", "ada").await;
    put_member(&server, "apollo", "otto.partner", "responsible").await;
    put_member(&server, "apollo", "alice", "consulted").await;

    let wraps = || {
        server
            .db
            .scalar("SELECT COALESCE(SUM(wrap_count), 0) FROM keks")
    };
    let rows = || server.db.scalar("SELECT COUNT(*) FROM secrets");
    let before = (wraps(), rows());
    let writers: [(&str, &str, Value); 4] = [
        ("a user", alice.as_str(), json!({})),
        (
            "an operator for a user",
            operator.as_str(),
            json!({"user_id": "alice"}),
        ),
        ("a workspace admin", wanda.as_str(), json!({})),
        (
            "a partner's Responsible",
            otto.as_str(),
            json!({"category": "other", "scope": "project"}),
        ),
    ];
    let paths = [
        "/v1/secrets",
        "/v1/secrets",
        "/v1/workspaces/acme/keys",
        "/v1/projects/apollo/vault",
    ];
    let mut refusals = 0;
    for name in [
        "LD_PRELOAD",
        "HTTPS_PROXY",
        "NODE_OPTIONS",
        "PATH",
        "GIT_CONFIG_GLOBAL",
        "SSL_CERT_FILE",
    ] {
        for ((who, token, extra), path) in writers.iter().zip(paths) {
            let mut body = json!({"name": name, "value": MARKER});
            body.as_object_mut()
                .expect("object")
                .extend(extra.as_object().expect("object").clone());
            let refused = server
                .expect(422, Method::POST, path, token, Some(body))
                .await;
            assert_refused(&refused, "protected_name", "name");
            let detail = refused["detail"].as_str().expect("detail");
            assert!(detail.contains("profile_env"), "{who}: {detail}");
            refusals += 1;
        }
    }
    // Nothing was stored, and nothing was even sealed (no KEK wrap was spent).
    assert_eq!((wraps(), rows()), before);
    let recorded = records(&server)
        .await
        .iter()
        .filter(|r| r.action == "secret.create" && r.outcome == "protected_name")
        .count();
    assert_eq!(recorded, refusals);

    // Rows stored before the names were protected: written under free names, then
    // renamed under the vault (a migration from an older version, or someone with
    // write access to the database). Their envelopes are bound to the old names, so
    // opening any of them would fail the whole resolution: a 200 proves none was.
    let create = async |token: &str, path: &str, mut body: Value| -> String {
        body["value"] = json!(MARKER);
        server
            .expect(201, Method::POST, path, token, Some(body))
            .await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let preload = create(&alice, "/v1/secrets", json!({"name": "LEGACY_A"})).await;
    let options = create(
        &wanda,
        "/v1/workspaces/acme/keys",
        json!({"name": "LEGACY_B"}),
    )
    .await;
    let proxy = create(
        &otto,
        "/v1/projects/apollo/vault",
        json!({"name": "LEGACY_C", "category": "other", "scope": "project"}),
    )
    .await;
    for (id, name) in [
        (&preload, "LD_PRELOAD"),
        (&options, "NODE_OPTIONS"),
        (&proxy, "HTTPS_PROXY"),
    ] {
        server.db.execute(&format!(
            "UPDATE secrets SET name = '{name}' WHERE id = '{id}'"
        ));
        // As an older vault left them: their row MACs vouch for the new names (a bare
        // edit is refused whole; `integrity.rs` plays that attack).
        server.restamp_row(id).await;
    }
    let mut body = context("alice", Some("acme"), Some("apollo"));
    body["baseline_env"] = json!({"HTTPS_PROXY": "http://platform-proxy:3128"});
    body["profile_env"] = json!({"NODE_OPTIONS": "--max-old-space-size=4096"});
    body["explain"] = json!(true);
    let resolved = server.resolve(body).await;
    let env = &resolved["env"];
    // The platform's proxy stands over the project's, the profile's NODE_OPTIONS over
    // the workspace's, and nobody's LD_PRELOAD is injected at all.
    assert_eq!(
        env["HTTPS_PROXY"], "http://platform-proxy:3128",
        "{resolved}"
    );
    assert_eq!(env["NODE_OPTIONS"], "--max-old-space-size=4096");
    assert!(env.get("LD_PRELOAD").is_none(), "{resolved}");
    assert_eq!(
        env["DEPLOY_TOKEN"], MARKER,
        "entries under free names still serve"
    );
    let skipped = &resolved["sources"]["HTTPS_PROXY"]["skipped"][0];
    assert_eq!(
        (
            skipped["layer"].as_str(),
            skipped["secret_id"].as_str(),
            skipped["reason"].as_str()
        ),
        (
            Some("project_vault"),
            Some(proxy.as_str()),
            Some("protected")
        )
    );
    let withheld = &resolved["unresolved"]["LD_PRELOAD"][0];
    assert_eq!(
        (withheld["secret_id"].as_str(), withheld["reason"].as_str()),
        (Some(preload.as_str()), Some("protected"))
    );
    // The record of what was disclosed names none of them.
    let disclosed = records(&server)
        .await
        .into_iter()
        .find(|r| r.action == "resolve" && r.outcome == "ok")
        .and_then(|r| r.target)
        .expect("the resolution's record");
    for id in [&preload, &options, &proxy] {
        assert!(!disclosed.contains(id.as_str()), "{disclosed}");
    }
    // Nor does a session look them up.
    let (_, alice_session) = session(
        &server,
        &server.orchestrator,
        context("alice", Some("acme"), Some("apollo")),
    )
    .await;
    for name in ["LD_PRELOAD", "NODE_OPTIONS", "HTTPS_PROXY"] {
        let (status, body) = lookup(&server, &alice_session, name).await;
        assert_eq!(status, 404, "{name}: {body}");
        assert_no_marker(name, &body);
    }
    assert_eq!(lookup(&server, &alice_session, "DEPLOY_TOKEN").await.0, 200);
}

async fn configuration_adds_protected_names_and_releases_them_only_explicitly(db: TestDb) {
    let names = NameRules {
        protected: vec!["CORP_*".into(), "INTERNAL_ROUTER".into()],
        released: vec!["HTTPS_PROXY".into()],
        ..NameRules::default()
    };
    let server = TestServer::start_configured(
        db,
        crate::support::test_key(),
        ServerOptions {
            names,
            ..ServerOptions::default()
        },
    )
    .await;
    let alice = server.token("user", Some("alice")).await;
    let create = async |name: &str| {
        server
            .call(
                Method::POST,
                "/v1/secrets",
                &alice,
                Some(json!({"name": name, "value": "http://alices-proxy:8080"})),
            )
            .await
    };
    for refused in [
        "CORP_PROXY",
        "CORP_",
        "INTERNAL_ROUTER",
        "HTTP_PROXY",
        "LD_PRELOAD",
    ] {
        let (status, body) = create(refused).await;
        assert_eq!(status, 422, "{refused}: {body}");
        assert_eq!(body["code"], "protected_name");
    }
    for allowed in ["HTTPS_PROXY", "CORPUS", "INTERNAL_ROUTER_2"] {
        assert_eq!(create(allowed).await.0, 201, "{allowed}");
    }
    // Released, the user's own entry sits above the baseline again.
    let mut body = context("alice", None, None);
    body["baseline_env"] = json!({"HTTPS_PROXY": "http://platform-proxy:3128"});
    let resolved = server.resolve(body).await;
    assert_eq!(resolved["env"]["HTTPS_PROXY"], "http://alices-proxy:8080");

    // Releasing what is not protected, or protecting and releasing one name, is a
    // configuration error that names the setting.
    for rules in [
        NameRules {
            released: vec!["STRIPE_KEY".into()],
            ..NameRules::default()
        },
        NameRules {
            protected: vec!["PATH".into()],
            released: vec!["PATH".into()],
            ..NameRules::default()
        },
        NameRules {
            protected: vec!["lower_case".into()],
            ..NameRules::default()
        },
    ] {
        let refused = vault_api::server::policy(&rules).expect_err("refused");
        assert!(
            refused.to_string().contains("VAULT_PROTECTED_NAMES"),
            "{refused}"
        );
    }
}

/// schemathesis once drew `909699w`: the vault issued the token and answered an
/// expiry of `+19461-08-15T…`, which is no RFC 3339 date-time and which no client
/// parses. The grammar bounds each unit now; a lifetime past it, or one whose unit is
/// a multi-byte character, is a 422 that issues nothing.
async fn token_lifetimes_past_the_grammar_are_refused_and_the_longest_expiry_is_rfc3339(
    db: TestDb,
) {
    let server = TestServer::start(db).await;
    let operator = server.operator.clone();
    let count = async || {
        server
            .expect(200, Method::GET, "/v1/tokens", &operator, None)
            .await["data"]
            .as_array()
            .map(Vec::len)
    };
    let before = count().await;
    for ttl in ["909699w", "10000w", "100000d", "1000000h", "1é", "é", "0d"] {
        let refused = server
            .expect(
                422,
                Method::POST,
                "/v1/tokens",
                &operator,
                Some(json!({"kind": "user", "user_id": "bob", "ttl": ttl})),
            )
            .await;
        assert_refused(&refused, "invalid_value", "ttl");
    }
    assert_eq!(count().await, before, "nothing was issued");
    for ttl in ["9999w", "99999d", "999999h"] {
        let issued = server
            .expect(
                201,
                Method::POST,
                "/v1/tokens",
                &operator,
                Some(json!({"kind": "user", "user_id": "bob", "ttl": ttl})),
            )
            .await;
        let expires_at = issued["expires_at"].as_str().expect("an expiry");
        let parsed = chrono::DateTime::parse_from_rfc3339(expires_at)
            .unwrap_or_else(|e| panic!("{ttl}: {expires_at:?} is not RFC 3339: {e}"));
        assert!(
            parsed.timestamp() > server.clock.now().timestamp(),
            "{issued}"
        );
    }
}

async fn operators_issue_only_user_tokens_over_http(db: TestDb) {
    let server = TestServer::start(db).await;
    let operator = server.operator.clone();
    let count = async || {
        server
            .expect(200, Method::GET, "/v1/tokens", &operator, None)
            .await["data"]
            .as_array()
            .map(Vec::len)
    };
    let before = count().await;
    for kind in ["orchestrator", "operator"] {
        let refused = server
            .expect(
                403,
                Method::POST,
                "/v1/tokens",
                &operator,
                Some(json!({ "kind": kind })),
            )
            .await;
        assert_refused(&refused, "token_kind_host_only", "kind");
        assert!(refused.get("secret").is_none(), "{refused}");
        assert!(
            refused["detail"]
                .as_str()
                .is_some_and(|d| d.contains("vault-api token create")),
            "{refused}"
        );
    }
    assert_eq!(count().await, before, "nothing was issued");
    let refusal = records(&server)
        .await
        .into_iter()
        .find(|r| r.action == "token.create" && r.outcome == "token_kind_host_only")
        .expect("the refusal is recorded");
    assert!(refusal.principal.starts_with("operator:"), "{refusal:?}");

    // User tokens are what an operator issues over HTTP, and they read no plaintext.
    let issued = server
        .expect(
            201,
            Method::POST,
            "/v1/tokens",
            &operator,
            Some(json!({"kind": "user", "user_id": "bob"})),
        )
        .await;
    let bob = issued["secret"].as_str().expect("secret").to_owned();
    assert!(bob.starts_with("vault_user_"));
    for token in [&operator, &bob] {
        for path in ["/v1/resolve", "/v1/sessions"] {
            let (status, body) = server
                .call(Method::POST, path, token, Some(context("bob", None, None)))
                .await;
            assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
        }
    }
    // On the host, the CLI's path still issues both kinds.
    let orchestrator = server.token("orchestrator", None).await;
    server.token("operator", None).await;
    server
        .expect(
            200,
            Method::POST,
            "/v1/resolve",
            &orchestrator,
            Some(context("bob", None, None)),
        )
        .await;
}

async fn an_env_over_the_limit_is_refused_whole_naming_its_largest_variables(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    // 40 values of 60 KB: 2.4 MB, over what Linux lets a process start with.
    let big = format!("{MARKER}{}", "a".repeat(60_000 - MARKER.len()));
    let mut ids = Vec::new();
    for i in 0..40 {
        let created = server
            .expect(
                201,
                Method::POST,
                "/v1/secrets",
                &alice,
                Some(json!({"name": format!("BLOB_{i:02}"), "value": big})),
            )
            .await;
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let refused = server
        .expect(
            422,
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(context("alice", None, None)),
        )
        .await;
    assert_eq!(refused["code"], "env_too_large", "{refused}");
    assert_eq!(refused["limit"], 1024 * 1024);
    assert_eq!(refused["bytes"], 40 * (7 + 1 + 60_000 + 1));
    let named: Vec<&str> = refused["largest"]
        .as_array()
        .expect("largest")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        named,
        ["BLOB_00", "BLOB_01", "BLOB_02", "BLOB_03", "BLOB_04"]
    );
    assert!(refused.get("env").is_none(), "nothing partial: {refused}");
    assert_no_marker("the refusal", &refused);
    assert!(!refused.to_string().contains("aaaaaaaa"));
    let trail = records(&server).await;
    let refusal = trail
        .iter()
        .find(|r| r.action == "resolve" && r.outcome == "env_too_large")
        .expect("the refusal is recorded");
    let target: Value =
        serde_json::from_str(refusal.target.as_deref().expect("target")).expect("JSON target");
    assert_eq!(target["context"]["user_id"], "alice", "{target}");
    assert!(
        !trail
            .iter()
            .any(|r| r.action == "resolve" && r.outcome == "ok"),
        "nothing was recorded as disclosed"
    );

    // Down to 17 values (1.02 MB) it fits; what the orchestrator supplies counts too.
    for id in &ids[17..] {
        server
            .expect(
                204,
                Method::DELETE,
                &format!("/v1/secrets/{id}"),
                &alice,
                None,
            )
            .await;
    }
    let resolved = server.resolve(context("alice", None, None)).await;
    assert_eq!(resolved["env"].as_object().map(|e| e.len()), Some(17));
    let mut body = context("alice", None, None);
    body["profile_env"] = json!({"SETUP_BLOB": "b".repeat(64 * 1024)});
    let refused = server
        .expect(
            422,
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(body),
        )
        .await;
    assert_eq!(refused["largest"][0]["name"], "SETUP_BLOB", "{refused}");

    // A session's lookups return one value at a time and are not bound by it.
    let (_, token) = session(&server, &server.orchestrator, context("alice", None, None)).await;
    assert_eq!(lookup(&server, &token, "BLOB_00").await.0, 200);
}

async fn writes_past_an_owners_entry_limit_are_refused_and_change_nothing(db: TestDb) {
    let server = TestServer::start_configured(
        db,
        crate::support::test_key(),
        ServerOptions {
            max_entries_per_owner: Some(3),
            ..ServerOptions::default()
        },
    )
    .await;
    let alice = server.token("user", Some("alice")).await;
    let bob = server.token("user", Some("bob")).await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            &server.orchestrator,
            Some(json!({"id": "apollo", "name": "Apollo", "accountable_user_id": "ada"})),
        )
        .await;
    let owners: [(&str, &str, Value); 3] = [
        ("/v1/secrets", alice.as_str(), json!({})),
        (
            "/v1/workspaces/acme/keys",
            server.operator.as_str(),
            json!({}),
        ),
        (
            "/v1/projects/apollo/vault",
            server.operator.as_str(),
            json!({"category": "other", "scope": "project"}),
        ),
    ];
    let mut first_ids = Vec::new();
    for (path, token, extra) in &owners {
        let body = |n: usize| {
            let mut body = json!({"name": format!("ENTRY_{n}"), "value": MARKER});
            body.as_object_mut()
                .expect("object")
                .extend(extra.as_object().expect("object").clone());
            body
        };
        for n in 0..3 {
            let created = server
                .expect(201, Method::POST, path, token, Some(body(n)))
                .await;
            if n == 0 {
                first_ids.push(created["id"].as_str().expect("id").to_owned());
            }
        }
        let rows = server.db.scalar("SELECT COUNT(*) FROM secrets");
        let wraps = server.db.scalar(WRAPS);
        let refused = server
            .expect(422, Method::POST, path, token, Some(body(3)))
            .await;
        assert_eq!(
            server.db.scalar(WRAPS),
            wraps,
            "{path}: a refused write sealed"
        );
        assert_eq!(
            (refused["code"].as_str(), refused["limit"].as_u64()),
            (Some("entry_limit_reached"), Some(3)),
            "{path}: {refused}"
        );
        assert!(
            refused["detail"]
                .as_str()
                .is_some_and(|d| d.contains("VAULT_MAX_ENTRIES_PER_OWNER")),
            "{refused}"
        );
        assert_no_marker(path, &refused);
        assert_eq!(server.db.scalar("SELECT COUNT(*) FROM secrets"), rows);
    }
    // One owner's limit is nobody else's.
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &bob,
            Some(json!({"name": "ENTRY_0", "value": "v"})),
        )
        .await;
    // Deleting makes room.
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/secrets/{}", first_ids[0]),
            &alice,
            None,
        )
        .await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "ENTRY_9", "value": "v"})),
        )
        .await;
}

async fn refused_writes_are_refused_before_anything_is_sealed(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "API_KEY", "value": MARKER})),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/secrets/{id}");
    project_with_entry(&server, "apollo", "ada").await;
    let wraps = server.db.scalar(WRAPS);
    let refusals: [(Method, String, Value, u16, &str); 4] = [
        // The same name again, everywhere: the overlap rule.
        (
            Method::POST,
            "/v1/secrets".into(),
            json!({"name": "API_KEY", "value": MARKER}),
            409,
            "scope_overlap",
        ),
        // A rotation for a version that is no longer current.
        (
            Method::PATCH,
            path.clone(),
            json!({"value": MARKER, "expected_version": 7}),
            409,
            "stale_version",
        ),
        // A rollback against a stale version.
        (
            Method::POST,
            format!("{path}/rollback"),
            json!({"version": 1, "expected_version": 4}),
            409,
            "stale_version",
        ),
        // A project entry for a milestone the project does not have.
        (
            Method::POST,
            "/v1/projects/apollo/vault".into(),
            json!({"name": "DB_URL", "value": MARKER, "category": "other",
                   "scope": "milestone", "milestone_ids": ["gamma"]}),
            422,
            "invalid_value",
        ),
    ];
    for (method, path, body, status, code) in refusals {
        let token = if path.starts_with("/v1/projects") {
            server.operator.clone()
        } else {
            alice.clone()
        };
        let refused = server
            .expect(status, method.clone(), &path, &token, Some(body))
            .await;
        assert_eq!(refused["code"], code, "{method} {path}: {refused}");
        assert_eq!(
            server.db.scalar(WRAPS),
            wraps,
            "{method} {path}: sealed before it was refused"
        );
    }
}
