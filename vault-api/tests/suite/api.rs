//! vault-api end to end: a real server on a loopback port, over SQLite and PostgreSQL.

use vault_testkit::on_both_backends;

use crate::support::{TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_secret_lives_through_create_resolve_rotate_rollback_and_delete,
    every_token_kind_meets_the_routes_it_may_use,
    another_users_secret_is_invisible,
    bad_input_names_the_field_and_changes_nothing,
    scopes_expiry_and_precedence_shape_the_env,
    a_stale_expected_version_is_refused,
    a_refused_rotation_is_recorded_as_a_rotation,
    pagination_walks_every_row_once_while_rows_are_added,
    the_audit_chain_catches_altered_deleted_and_reordered_rows,
    the_openapi_document_lists_every_route,
    without_its_audit_record_nothing_is_answered,
    a_change_through_one_replica_reaches_the_next_resolution_on_another,
    resolution_checks_the_token_first_and_a_revocation_at_once,
);

/// Resolution answers who asks before what they sent, and a warm context (candidates
/// cached) is no shortcut past the token: a revoked orchestrator token is refused on
/// the very next resolution.
async fn resolution_checks_the_token_first_and_a_revocation_at_once(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let good = json!({"user_id": "alice", "profile_id": "p1"});
    let bad = json!({"user_id": "alice", "profile_id": "not a profile"});
    let bogus = "vault_orch_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (token, body, status, code) in [
        (bogus, &bad, 401, "unauthenticated"),
        ("", &good, 401, "unauthenticated"),
        (alice.as_str(), &bad, 403, "forbidden"),
        (alice.as_str(), &good, 403, "forbidden"),
        (server.orchestrator.as_str(), &bad, 422, "invalid_value"),
    ] {
        let (got, answer) = server
            .call(Method::POST, "/v1/resolve", token, Some(body.clone()))
            .await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{answer}"
        );
    }
    let (_, answer) = server
        .call(Method::POST, "/v1/resolve", &server.orchestrator, Some(bad))
        .await;
    assert_eq!(answer["field"], "profile_id");

    // Later than the server's own orchestrator token, so the list (oldest first) ends
    // with it.
    server.clock.advance(chrono::Duration::seconds(1));
    let orchestrator = server.token("orchestrator", None).await;
    let resolve = async |token: &str| {
        server
            .call(Method::POST, "/v1/resolve", token, Some(good.clone()))
            .await
            .0
    };
    assert_eq!(resolve(&orchestrator).await, 200);
    assert_eq!(resolve(&orchestrator).await, 200);
    revoke_newest(&server, |t| t["kind"] == "orchestrator").await;
    assert_eq!(resolve(&orchestrator).await, 401);
    assert_eq!(resolve(&server.orchestrator).await, 200);
}

/// The candidate cache answers repeated resolutions from memory; a write through
/// another replica (its own process, pool and cache) must still be in the very next
/// resolution here: rotation, rollback, a new secret, a narrowed scope, a deletion.
async fn a_change_through_one_replica_reaches_the_next_resolution_on_another(db: TestDb) {
    let server = TestServer::start(db).await;
    let other = server.replica().await;
    let alice = server.token("user", Some("alice")).await;
    let context = json!({"user_id": "alice", "profile_id": "p1"});
    let through_other = |method: Method, path: String, body: Value| {
        let request = server
            .client
            .request(method, format!("{}{path}", other.base))
            .bearer_auth(&alice)
            .json(&body);
        async move {
            let response = request.send().await.expect("the replica answers");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json::<Value>().await.unwrap_or(Value::Null)
        }
    };
    let env = async || server.resolve(context.clone()).await["env"].clone();
    let hits = || server_hits(&server);

    let created = through_other(
        Method::POST,
        "/v1/secrets".into(),
        json!({"name": "TOKEN", "value": "first-value"}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(env().await["TOKEN"], "first-value");
    let before = hits().await;
    assert_eq!(env().await["TOKEN"], "first-value");
    assert!(
        hits().await > before,
        "a repeated resolution did not use the cache"
    );

    through_other(
        Method::PATCH,
        format!("/v1/secrets/{id}"),
        json!({"value": "second-value"}),
    )
    .await;
    assert_eq!(env().await["TOKEN"], "second-value");
    through_other(
        Method::POST,
        format!("/v1/secrets/{id}/rollback"),
        json!({"version": 1}),
    )
    .await;
    assert_eq!(env().await["TOKEN"], "first-value");
    through_other(
        Method::POST,
        "/v1/secrets".into(),
        json!({"name": "SECOND", "value": "another", "scope": "agents", "profile_ids": ["p1"]}),
    )
    .await;
    assert_eq!(env().await["SECOND"], "another");
    through_other(
        Method::PATCH,
        format!("/v1/secrets/{id}"),
        json!({"scope": "agents", "profile_ids": ["p2"]}),
    )
    .await;
    assert_eq!(env().await.get("TOKEN"), None);
    through_other(Method::DELETE, format!("/v1/secrets/{id}"), Value::Null).await;
    let after = env().await;
    assert_eq!(after.get("TOKEN"), None);
    assert_eq!(after["SECOND"], "another");
}

/// Revokes through the API the newest listed token that `matches`.
async fn revoke_newest(server: &TestServer, matches: impl Fn(&Value) -> bool) {
    let (_, listed) = server
        .call(Method::GET, "/v1/tokens", &server.operator, None)
        .await;
    let id = listed["data"]
        .as_array()
        .expect("list")
        .iter()
        .rfind(|t| matches(t))
        .expect("the token")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            &server.operator,
            None,
        )
        .await;
    assert_eq!(status, 204);
}

/// Resolutions this server answered from its candidate cache, from `/metrics`.
async fn server_hits(server: &TestServer) -> u64 {
    let text = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix("vault_candidate_cache_hits_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map(|value| value as u64)
        .expect("the cache hit counter")
}

async fn without_its_audit_record_nothing_is_answered(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "A", "value": MARKER})),
        )
        .await;
    assert_eq!(status, 201);
    server.db.execute("DROP TABLE audit_records");
    let (status, problem) = server
        .call(
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(json!({"user_id": "alice", "profile_id": "p"})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("unavailable")),
        "{problem}"
    );
    assert!(!problem.to_string().contains(MARKER));
    assert!(
        !problem.to_string().contains("audit_records"),
        "5xx bodies stay generic: {problem}"
    );
    crate::shapes::pin("problem_unavailable", status, &problem);
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "B", "value": "v"})),
        )
        .await;
    assert_eq!(status, 503);
    let (_, listed) = server.call(Method::GET, "/v1/secrets", &alice, None).await;
    let names: Vec<&str> = listed["data"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !names.contains(&"B"),
        "a change whose record failed was rolled back"
    );
}

const MARKER: &str = "sk_live_MARKER_7f3a9c2e51";

fn names(resolved: &Value) -> Vec<String> {
    resolved["env"]
        .as_object()
        .expect("env map")
        .keys()
        .cloned()
        .collect()
}

async fn a_secret_lives_through_create_resolve_rotate_rollback_and_delete(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let (status, created) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "STRIPE_KEY", "value": MARKER, "description": "billing"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["masked"],
        "sk_****c2e51"[..0].to_owned() + "sk_****e51"
    );
    assert_eq!(created["version"], 1);
    assert!(!created.to_string().contains(MARKER));
    let id = created["id"].as_str().expect("id").to_owned();

    let context = json!({"user_id": "alice", "profile_id": "p1"});
    assert_eq!(
        server.resolve(context.clone()).await["env"]["STRIPE_KEY"],
        MARKER
    );

    let (status, rotated) = server
        .call(
            Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &alice,
            Some(json!({"value": "sk_live_second_value_0002"})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["version"], 2);
    assert_eq!(
        server.resolve(context.clone()).await["env"]["STRIPE_KEY"],
        "sk_live_second_value_0002"
    );

    let (status, versions) = server
        .call(
            Method::GET,
            &format!("/v1/secrets/{id}/versions"),
            &server.operator,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(versions["data"][0]["version"], 2);
    assert_eq!(versions["data"][1]["masked"], "sk_****e51");
    assert!(!versions.to_string().contains(MARKER));

    let (status, rolled) = server
        .call(
            Method::POST,
            &format!("/v1/secrets/{id}/rollback"),
            &server.operator,
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(rolled["version"], 3);
    assert_eq!(
        server.resolve(context.clone()).await["env"]["STRIPE_KEY"],
        MARKER
    );

    let (status, got) = server
        .call(Method::GET, &format!("/v1/secrets/{id}"), &alice, None)
        .await;
    assert_eq!((status, got["version"].clone()), (200, json!(3)));
    assert!(!got.to_string().contains(MARKER));

    let (status, _) = server
        .call(Method::DELETE, &format!("/v1/secrets/{id}"), &alice, None)
        .await;
    assert_eq!(status, 204);
    assert!(names(&server.resolve(context).await).is_empty());
    let (status, _) = server
        .call(
            Method::GET,
            &format!("/v1/secrets/{id}/versions"),
            &alice,
            None,
        )
        .await;
    assert_eq!(status, 404);

    let actions: Vec<String> = server
        .store
        .audit_since(0, 100)
        .await
        .expect("reads")
        .into_iter()
        .map(|r| {
            assert!(!format!("{r:?}").contains(MARKER));
            r.entry.action
        })
        .collect();
    for expected in [
        "secret.create",
        "resolve",
        "secret.rotate",
        "secret.rollback",
        "secret.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    assert!(
        vault_api::verify::verify_chain(&server.store)
            .await
            .expect("reads")
            .is_ok()
    );
}

async fn every_token_kind_meets_the_routes_it_may_use(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let (_, created) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "A", "value": "v"})),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let resolve_body = json!({"user_id": "alice", "profile_id": "p1"});
    let token_body = json!({"kind": "user", "user_id": "bob"});
    // (method, path, body, allowed for operator, orchestrator, user)
    let routes: Vec<(Method, String, Option<Value>, [bool; 3])> = vec![
        (
            Method::GET,
            "/v1/secrets?user_id=alice".into(),
            None,
            [true, true, true],
        ),
        (
            Method::GET,
            "/v1/secrets".into(),
            None,
            // Operators list every user's secrets; the orchestrator must name a user.
            [true, false, true],
        ),
        (
            Method::GET,
            format!("/v1/secrets/{id}"),
            None,
            [true, true, true],
        ),
        (
            Method::GET,
            format!("/v1/secrets/{id}/versions"),
            None,
            [true, true, true],
        ),
        (
            Method::POST,
            "/v1/resolve".into(),
            Some(resolve_body),
            [false, true, false],
        ),
        (
            Method::POST,
            "/v1/tokens".into(),
            Some(token_body),
            [true, false, false],
        ),
        (Method::GET, "/v1/tokens".into(), None, [true, false, false]),
        (Method::GET, "/v1/audit".into(), None, [true, false, false]),
    ];
    let tokens = [&server.operator, &server.orchestrator, &alice];
    // Writes: operators and orchestrators name the user; users act for themselves.
    for (n, token) in tokens.iter().enumerate() {
        let user_id = if n == 2 { Value::Null } else { json!("alice") };
        let (status, created) = server
            .call(
                Method::POST,
                "/v1/secrets",
                token,
                Some(json!({"name": format!("W{n}"), "value": "v", "user_id": user_id})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let path = format!("/v1/secrets/{}", created["id"].as_str().expect("id"));
        let (status, _) = server
            .call(Method::PATCH, &path, token, Some(json!({"value": "v2"})))
            .await;
        assert_eq!(status, 200);
        let (status, _) = server
            .call(
                Method::POST,
                &format!("{path}/rollback"),
                token,
                Some(json!({"version": 1})),
            )
            .await;
        assert_eq!(status, 200);
        let (status, _) = server.call(Method::DELETE, &path, token, None).await;
        assert_eq!(status, 204);
    }
    for (method, path, body, allowed) in &routes {
        for (token, allowed) in tokens.iter().zip(allowed) {
            let (status, json) = server.call(method.clone(), path, token, body.clone()).await;
            if *allowed {
                assert!(status < 300, "{method} {path}: {status} {json}");
            } else {
                assert!(
                    matches!(status, 403 | 422),
                    "{method} {path}: {status} {json}"
                );
            }
        }
        // No token, a malformed one, an unknown one: the same 401.
        let mut bodies = Vec::new();
        for bad in [
            "",
            "vault_op_nottherightlength",
            "vault_op_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let (status, json) = server.call(method.clone(), path, bad, body.clone()).await;
            assert_eq!(status, 401, "{method} {path}");
            bodies.push(json["detail"].clone());
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    }
    // Revoked and expired tokens are refused exactly like unknown ones.
    let (status, issued) = server
        .call(
            Method::POST,
            "/v1/tokens",
            &server.operator,
            Some(json!({"kind": "user", "user_id": "carol", "ttl": "1h"})),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let carol = issued["secret"].as_str().expect("secret").to_owned();
    assert!(carol.starts_with("vault_user_"));
    assert_eq!(
        server
            .call(Method::GET, "/v1/secrets", &carol, None)
            .await
            .0,
        200
    );
    server.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        server
            .call(Method::GET, "/v1/secrets", &carol, None)
            .await
            .0,
        401
    );
    let bob = server.token("user", Some("bob")).await;
    let (_, listed) = server
        .call(Method::GET, "/v1/tokens", &server.operator, None)
        .await;
    assert!(!listed.to_string().contains(&bob));
    revoke_newest(&server, |t| t["user_id"] == "bob").await;
    let (status, refused) = server.call(Method::GET, "/v1/secrets", &bob, None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    // Anonymous refusals are summarised per source, with the route and outcome.
    server.state.write_refusal_summaries().await;
    let failed = server
        .store
        .audit_latest(None, 5)
        .await
        .expect("reads")
        .into_iter()
        .find(|r| r.entry.action == "auth.refused.summary")
        .expect("the refusal is recorded");
    assert_eq!(failed.entry.principal, "anonymous");
    let target: Value =
        serde_json::from_str(failed.entry.target.as_deref().expect("target")).expect("JSON");
    assert!(
        target["routes"]
            .as_array()
            .is_some_and(|routes| routes.iter().any(|r| {
                r["route"] == "/v1/secrets" && r["outcome"] == "unauthenticated" && r["count"] == 8
            })),
        "{target}"
    );
}

async fn another_users_secret_is_invisible(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let bob = server.token("user", Some("bob")).await;
    let (_, created) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "A", "value": "alice-secret-value"})),
        )
        .await;
    let id = created["id"].as_str().expect("id");
    let missing = "sec_AAAAAAAAAAAAAAAAAAAAA";
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"value": "stolen"}))),
        (Method::DELETE, None),
    ] {
        let theirs = server
            .call(
                method.clone(),
                &format!("/v1/secrets/{id}"),
                &bob,
                body.clone(),
            )
            .await;
        let absent = server
            .call(
                method.clone(),
                &format!("/v1/secrets/{missing}"),
                &bob,
                body,
            )
            .await;
        assert_eq!(theirs.0, 404);
        assert_eq!(theirs.1["detail"], absent.1["detail"]);
    }
    let (_, listed) = server.call(Method::GET, "/v1/secrets", &bob, None).await;
    assert_eq!(listed["data"], json!([]));
    let (status, _) = server
        .call(Method::GET, "/v1/secrets?user_id=alice", &bob, None)
        .await;
    assert_eq!(status, 403);
    let resolved = server
        .resolve(json!({"user_id": "alice", "profile_id": "p"}))
        .await;
    assert_eq!(resolved["env"]["A"], "alice-secret-value");
    // Operators browse every user's secrets (masked); the orchestrator must name one.
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &bob,
            Some(json!({"name": "B", "value": "bob-secret-value"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, everyone) = server
        .call(Method::GET, "/v1/secrets", &server.operator, None)
        .await;
    assert_eq!(status, 200, "{everyone}");
    let owners: Vec<(&str, &str)> = everyone["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name"),
                s["user_id"].as_str().expect("user"),
            )
        })
        .collect();
    assert_eq!(owners, [("A", "alice"), ("B", "bob")]);
    assert!(!everyone.to_string().contains("secret-value"));
    let (status, body) = server
        .call(Method::GET, "/v1/secrets", &server.orchestrator, None)
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("user_id")),
        "{body}"
    );
}

async fn bad_input_names_the_field_and_changes_nothing(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let records_before = server
        .store
        .audit_head()
        .await
        .expect("reads")
        .map_or(0, |r| r.seq);
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            json!({"name": "lower", "value": "v"}),
            422,
            "invalid_value",
            Some("name"),
        ),
        (
            json!({"name": "A", "value": "x".repeat(64 * 1024 + 1)}),
            422,
            "invalid_value",
            Some("value"),
        ),
        (
            json!({"name": "A", "value": "v", "scope": "agents"}),
            422,
            "invalid_value",
            Some("profile_ids"),
        ),
        (
            json!({"name": "A", "value": "v", "scope": "all", "profile_ids": ["p1"]}),
            422,
            "invalid_value",
            Some("profile_ids"),
        ),
        (
            json!({"name": "A", "value": "v", "scope": "project"}),
            422,
            "invalid_value",
            Some("scope"),
        ),
        (
            json!({"name": "A", "value": "v", "scope": "agents", "profile_ids": ["bad id!"]}),
            422,
            "invalid_value",
            Some("profile_ids[0]"),
        ),
        (
            json!({"name": "A", "value": "v", "expires_at": "2020-01-01T00:00:00Z"}),
            422,
            "invalid_value",
            Some("expires_at"),
        ),
        (
            json!({"name": "A", "value": "v", "expires_at": "tomorrow"}),
            422,
            "invalid_value",
            Some("expires_at"),
        ),
        (
            json!({"name": "A", "value": 5}),
            422,
            "invalid_value",
            Some("value"),
        ),
        (json!({"name": "A"}), 422, "invalid_value", Some("value")),
        (
            json!({"name": "A", "value": "v", "colour": "red"}),
            400,
            "unknown_field",
            Some("colour"),
        ),
        (
            json!({"name": "A", "value": "v", "user_id": "bob"}),
            403,
            "forbidden",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let (got, problem) = server
            .call(Method::POST, "/v1/secrets", &alice, Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {problem}");
        assert_eq!(problem["code"], code, "{body}");
        assert_eq!(problem["field"].as_str(), field, "{body}");
        assert_eq!(problem["status"], status);
    }
    let raw = |body: &'static str, content_type: &'static str| {
        server
            .client
            .post(format!("{}/v1/secrets", server.base))
            .bearer_auth(&alice)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = raw("{\"name\": ", "application/json")
        .await
        .expect("answers");
    assert_eq!(malformed.status().as_u16(), 400);
    assert_eq!(
        malformed.headers()["content-type"].to_str().expect("ascii"),
        "application/problem+json"
    );
    assert_eq!(
        raw("{}", "text/plain")
            .await
            .expect("answers")
            .status()
            .as_u16(),
        415
    );
    let huge = format!(
        "{{\"name\":\"A\",\"value\":\"{}\"}}",
        "x".repeat(200 * 1024)
    );
    let too_large = server
        .client
        .post(format!("{}/v1/secrets", server.base))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("answers");
    assert_eq!(too_large.status().as_u16(), 413);
    let (status, problem) = server
        .call(Method::GET, "/v1/secrets/not-an-id", &alice, None)
        .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("id")));
    let (status, problem) = server
        .call(Method::GET, "/v1/secrets?limit=500", &alice, None)
        .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("limit")));

    for (query, status, field) in [
        ("limit=abc", 422, "limit"),
        ("expired=maybe", 422, "expired"),
        ("colour=red", 400, "colour"),
    ] {
        let (got, problem) = server
            .call(Method::GET, &format!("/v1/secrets?{query}"), &alice, None)
            .await;
        assert_eq!(
            (got, problem["field"].as_str()),
            (status, Some(field)),
            "{query}: {problem}"
        );
    }
    let (status, problem) = server.call(Method::PUT, "/v1/secrets", &alice, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    // Nothing was written but the refusals' own audit records.
    let (_, listed) = server.call(Method::GET, "/v1/secrets", &alice, None).await;
    assert_eq!(listed["data"], json!([]));
    let records = server
        .store
        .audit_since(records_before, 100)
        .await
        .expect("reads");
    assert!(
        records.iter().all(|r| r.entry.outcome != "ok"),
        "{records:?}"
    );
}

async fn scopes_expiry_and_precedence_shape_the_env(db: TestDb) {
    let server = TestServer::start_with(db, crate::support::test_key(), &["PLATFORM_TOKEN"]).await;
    let alice = server.token("user", Some("alice")).await;
    let create = |body: Value| {
        let alice = alice.clone();
        let server = &server;
        async move {
            let (status, json) = server
                .call(Method::POST, "/v1/secrets", &alice, Some(body))
                .await;
            assert_eq!(status, 201, "{json}");
            json["id"].as_str().expect("id").to_owned()
        }
    };
    let wide = create(json!({"name": "API_KEY", "value": "wide-value-000"})).await;
    let narrow = create(json!({"name": "API_KEY", "value": "narrow-value-1", "scope": "agents", "profile_ids": ["billing"]})).await;
    let only_billing = create(json!({"name": "ONLY_BILLING", "value": "billing-only-2", "scope": "agents", "profile_ids": ["billing"]})).await;
    let soon =
        (server.clock.as_ref() as &dyn vault_api::clock::Clock).now() + chrono::Duration::hours(1);
    let short_lived = create(
        json!({"name": "SHORT_LIVED", "value": "short-lived-33", "expires_at": soon.to_rfc3339()}),
    )
    .await;
    create(json!({"name": "PLATFORM_TOKEN", "value": "user-tries-to-override"})).await;
    let setup_var = create(json!({"name": "SETUP_VAR", "value": "from-the-vault"})).await;

    let support_env = server
        .resolve(json!({"user_id": "alice", "profile_id": "support"}))
        .await;
    assert_eq!(support_env["env"]["API_KEY"], "wide-value-000");
    assert!(support_env["env"].get("ONLY_BILLING").is_none());

    let billing = server
        .resolve(json!({
            "user_id": "alice",
            "profile_id": "billing",
            "profile_env": {"SETUP_VAR": "from-setup-commands"},
            "baseline_env": {"PLATFORM_TOKEN": "platform-value", "BASE_ONLY": "base"},
            "explain": true,
        }))
        .await;
    let env = &billing["env"];
    assert_eq!(env["API_KEY"], "narrow-value-1");
    assert_eq!(env["ONLY_BILLING"], "billing-only-2");
    assert_eq!(env["SHORT_LIVED"], "short-lived-33");
    assert_eq!(env["SETUP_VAR"], "from-setup-commands");
    assert_eq!(env["PLATFORM_TOKEN"], "platform-value");
    assert_eq!(env["BASE_ONLY"], "base");
    let sources = &billing["sources"];
    assert_eq!(sources["API_KEY"]["secret_id"], narrow.as_str());
    assert_eq!(sources["API_KEY"]["scope"], "agents");
    assert_eq!(
        sources["API_KEY"]["shadowed"][0]["secret_id"],
        wide.as_str()
    );
    assert_eq!(sources["SETUP_VAR"]["layer"], "profile_env");
    assert_eq!(sources["SETUP_VAR"]["shadowed"][0]["layer"], "user_secrets");
    assert_eq!(sources["PLATFORM_TOKEN"]["layer"], "baseline");
    assert_eq!(
        sources["PLATFORM_TOKEN"]["skipped"][0]["reason"],
        "reserved"
    );

    server.clock.advance(chrono::Duration::hours(2));
    let later = server
        .resolve(json!({"user_id": "alice", "profile_id": "billing"}))
        .await;
    assert!(later["env"].get("SHORT_LIVED").is_none());
    assert_eq!(later["expired"], json!(["SHORT_LIVED"]));

    // Each resolution's record names its context, every name served, the stored
    // secrets disclosed (not those a supplied value shadowed) and the expired names,
    // and never a value.
    let (_, audit) = server
        .call(
            Method::GET,
            "/v1/audit?action=resolve&limit=200",
            &server.operator,
            None,
        )
        .await;
    let targets: Vec<&Value> = audit["data"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| &record["target"])
        .filter(|target| target["profile_id"] == "billing")
        .collect();
    let context = json!({"user_id": "alice", "profile_id": "billing", "workspace_id": null, "project_id": null, "milestone_id": null});
    let with_context = |disclosed: Value| {
        let mut target = context.clone();
        for (key, value) in disclosed.as_object().expect("object") {
            target[key] = value.clone();
        }
        target
    };
    let mut expected = vec![
        with_context(json!({
            "names": ["API_KEY", "BASE_ONLY", "ONLY_BILLING", "PLATFORM_TOKEN", "SETUP_VAR", "SHORT_LIVED"],
            "secret_ids": [narrow, only_billing, short_lived],
            "versions": [1, 1, 1],
            "expired": [],
        })),
        with_context(json!({
            "names": ["API_KEY", "ONLY_BILLING", "SETUP_VAR"],
            "secret_ids": [narrow, only_billing, setup_var],
            "versions": [1, 1, 1],
            "expired": ["SHORT_LIVED"],
        })),
    ];
    let mut found: Vec<Value> = targets.into_iter().cloned().collect();
    found.sort_by_key(Value::to_string);
    expected.sort_by_key(Value::to_string);
    assert_eq!(found, expected, "{audit}");
    for value in [
        "narrow-value-1",
        "billing-only-2",
        "from-setup-commands",
        "platform-value",
        "from-the-vault",
    ] {
        assert!(!audit.to_string().contains(value), "{value} in {audit}");
    }
    let (_, expired) = server
        .call(Method::GET, "/v1/secrets?expired=true", &alice, None)
        .await;
    let listed: Vec<&Value> = expired["data"].as_array().expect("list").iter().collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["name"].as_str(), listed[0]["expired"].as_bool()),
        (Some("SHORT_LIVED"), Some(true))
    );

    let (status, overlap) = server
        .call(Method::POST, "/v1/secrets", &alice, Some(json!({"name": "API_KEY", "value": "v", "scope": "agents", "profile_ids": ["billing", "other"]})))
        .await;
    assert_eq!(
        (status, overlap["code"].as_str()),
        (409, Some("scope_overlap"))
    );
}

async fn a_stale_expected_version_is_refused(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let (_, created) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "A", "value": "first-value"})),
        )
        .await;
    let path = format!("/v1/secrets/{}", created["id"].as_str().expect("id"));
    let (status, _) = server
        .call(
            Method::PATCH,
            &path,
            &alice,
            Some(json!({"value": "second-value", "expected_version": 1})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, stale) = server
        .call(
            Method::PATCH,
            &path,
            &alice,
            Some(json!({"value": "lost-update", "expected_version": 1})),
        )
        .await;
    assert_eq!(
        (status, stale["code"].as_str()),
        (409, Some("stale_version"))
    );
    let resolved = server
        .resolve(json!({"user_id": "alice", "profile_id": "p"}))
        .await;
    assert_eq!(resolved["env"]["A"], "second-value");
    let (status, patched) = server
        .call(
            Method::PATCH,
            &path,
            &alice,
            Some(json!({"description": "now described", "expires_at": null})),
        )
        .await;
    assert_eq!(
        (
            status,
            patched["version"].clone(),
            patched["description"].clone()
        ),
        (200, json!(2), json!("now described"))
    );
}

/// The record of a refused PATCH names what was refused: a change carrying a value is
/// a rotation, one without is an update, the same names the accepted ones get.
async fn a_refused_rotation_is_recorded_as_a_rotation(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "A", "value": "first-value"})),
        )
        .await;
    let path = format!("/v1/secrets/{}", created["id"].as_str().expect("id"));
    for (body, action) in [
        (
            json!({"value": "lost", "expected_version": 7}),
            "secret.rotate",
        ),
        (
            json!({"description": "d", "expected_version": 7}),
            "secret.update",
        ),
    ] {
        let (status, _) = server.call(Method::PATCH, &path, &alice, Some(body)).await;
        assert_eq!(status, 409);
        let page = server
            .expect(
                200,
                Method::GET,
                &format!("/v1/audit?action={action}&limit=1"),
                &server.operator,
                None,
            )
            .await;
        assert_eq!(page["data"][0]["outcome"], "stale_version", "{page}");
        assert_eq!(page["data"][0]["target"]["method"], "PATCH", "{page}");
    }
    let (status, refused) = server
        .call(
            Method::GET,
            "/v1/audit?action=secret.frobnicate",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str(), refused["field"].as_str()),
        (422, Some("invalid_value"), Some("action"))
    );
}

async fn pagination_walks_every_row_once_while_rows_are_added(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    for n in 0..25 {
        server
            .call(
                Method::POST,
                "/v1/secrets",
                &alice,
                Some(json!({"name": format!("K_{n:02}"), "value": "v"})),
            )
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/secrets?limit=7&cursor={c}"),
            None => "/v1/secrets?limit=7".into(),
        };
        let (status, page) = server.call(Method::GET, &path, &alice, None).await;
        assert_eq!(status, 200, "{page}");
        for item in page["data"].as_array().expect("data") {
            seen.push(item["name"].as_str().expect("name").to_owned());
        }
        // Rows added behind and ahead of the cursor while the walk goes on.
        server
            .call(
                Method::POST,
                "/v1/secrets",
                &alice,
                Some(json!({"name": format!("A_{added}"), "value": "v"})),
            )
            .await;
        server
            .call(
                Method::POST,
                "/v1/secrets",
                &alice,
                Some(json!({"name": format!("Z_{added}"), "value": "v"})),
            )
            .await;
        added += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "no row twice, in order");
    for n in 0..25 {
        assert!(seen.contains(&format!("K_{n:02}")));
    }
    assert!(seen.iter().all(|name| !name.starts_with("A_")));
    let (status, problem) = server
        .call(Method::GET, "/v1/secrets?cursor=garbage", &alice, None)
        .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("cursor")));
}

async fn the_audit_chain_catches_altered_deleted_and_reordered_rows(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    for n in 0..4 {
        server
            .call(
                Method::POST,
                "/v1/secrets",
                &alice,
                Some(json!({"name": format!("K{n}"), "value": "v"})),
            )
            .await;
    }
    let verify = || async {
        vault_api::verify::verify_chain(&server.store)
            .await
            .expect("reads")
    };
    let intact = verify().await.expect("intact");
    assert!(intact >= 6);
    let backup = server.store.audit_since(0, 100).await.expect("reads");
    server
        .db
        .execute("UPDATE audit_records SET outcome = 'ok-edited' WHERE seq = 4");
    assert_eq!(verify().await.map_err(|b| b.seq()), Err(4));
    server.db.execute(&format!(
        "UPDATE audit_records SET outcome = '{}' WHERE seq = 4",
        backup[3].entry.outcome
    ));
    assert!(verify().await.is_ok());
    server.db.execute(
        "UPDATE audit_records SET action = CASE seq WHEN 3 THEN (SELECT action FROM audit_records WHERE seq = 5) ELSE (SELECT action FROM audit_records WHERE seq = 3) END WHERE seq IN (3, 5)",
    );
    let swapped = verify().await;
    assert!(
        matches!(swapped.map_err(|b| b.seq()), Err(3)),
        "a swap is caught at its first row"
    );
    server.db.execute(&format!(
        "UPDATE audit_records SET action = '{}' WHERE seq = 3; UPDATE audit_records SET action = '{}' WHERE seq = 5",
        backup[2].entry.action, backup[4].entry.action
    ));
    assert!(verify().await.is_ok());
    server.db.execute("DELETE FROM audit_records WHERE seq = 2");
    assert_eq!(verify().await.map_err(|b| b.seq()), Err(3));
}

async fn the_openapi_document_lists_every_route(db: TestDb) {
    let server = TestServer::start(db).await;
    let (status, document) = server.call(Method::GET, "/openapi.json", "", None).await;
    assert_eq!(status, 200);
    let paths = document["paths"].as_object().expect("paths");
    let expected = [
        ("/v1/secrets", "post"),
        ("/v1/secrets", "get"),
        ("/v1/secrets/{id}", "get"),
        ("/v1/secrets/{id}", "patch"),
        ("/v1/secrets/{id}", "delete"),
        ("/v1/secrets/{id}/versions", "get"),
        ("/v1/secrets/{id}/rollback", "post"),
        ("/v1/secrets/{id}/compare", "post"),
        ("/v1/workspaces/{wid}/admins", "get"),
        ("/v1/workspace-keys", "get"),
        ("/v1/workspaces/{wid}/admins/{user_id}", "put"),
        ("/v1/workspaces/{wid}/admins/{user_id}", "delete"),
        ("/v1/workspaces/{wid}/members", "get"),
        ("/v1/workspaces/{wid}/members/{user_id}", "put"),
        ("/v1/workspaces/{wid}/members/{user_id}", "get"),
        ("/v1/workspaces/{wid}/members/{user_id}", "delete"),
        ("/v1/workspaces/{wid}/keys", "post"),
        ("/v1/workspaces/{wid}/keys", "get"),
        ("/v1/workspaces/{wid}/keys/{id}", "get"),
        ("/v1/workspaces/{wid}/keys/{id}", "patch"),
        ("/v1/workspaces/{wid}/keys/{id}", "delete"),
        ("/v1/workspaces/{wid}/keys/{id}/versions", "get"),
        ("/v1/workspaces/{wid}/keys/{id}/rollback", "post"),
        ("/v1/workspaces/{wid}/keys/{id}/compare", "post"),
        ("/v1/projects", "post"),
        ("/v1/projects", "get"),
        ("/v1/projects/{pid}", "get"),
        ("/v1/projects/{pid}", "delete"),
        ("/v1/projects/{pid}/milestones", "post"),
        ("/v1/projects/{pid}/milestones/{mid}", "delete"),
        ("/v1/projects/{pid}/members/{user_id}", "put"),
        ("/v1/projects/{pid}/members/{user_id}", "delete"),
        ("/v1/projects/{pid}/vault", "post"),
        ("/v1/projects/{pid}/vault", "get"),
        ("/v1/projects/{pid}/vault/{id}", "get"),
        ("/v1/projects/{pid}/vault/{id}", "patch"),
        ("/v1/projects/{pid}/vault/{id}", "delete"),
        ("/v1/projects/{pid}/vault/{id}/versions", "get"),
        ("/v1/projects/{pid}/vault/{id}/rollback", "post"),
        ("/v1/projects/{pid}/vault/{id}/compare", "post"),
        ("/v1/resolve", "post"),
        ("/v1/sessions", "post"),
        ("/v1/sessions/{id}", "delete"),
        ("/v1/runtime/env", "get"),
        ("/v1/runtime/secrets/{name}", "get"),
        ("/v1/tokens", "post"),
        ("/v1/tokens", "get"),
        ("/v1/tokens/{id}", "delete"),
        ("/v1/audit", "get"),
        ("/v1/events", "get"),
        ("/v1/webhooks", "post"),
        ("/v1/webhooks", "get"),
        ("/v1/webhooks/{id}", "get"),
        ("/v1/webhooks/{id}", "patch"),
        ("/v1/webhooks/{id}", "delete"),
        ("/v1/webhooks/{id}/rotate-secret", "post"),
        ("/v1/webhooks/{id}/deliveries", "get"),
        ("/v1/webhooks/{id}/deliveries/{did}/redeliver", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
        // And the route really is served (not 404/405).
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let concrete = path
            .replace("{id}", "sec_AAAAAAAAAAAAAAAAAAAAA")
            .replace("{wid}", "w1")
            .replace("{pid}", "p1")
            .replace("{mid}", "m1")
            .replace("{user_id}", "u1")
            .replace("{name}", "SOME_NAME")
            .replace("{did}", "dlv_AAAAAAAAAAAAAAAAAAAAA");
        let response = server.send(m, &concrete, &server.operator, None).await;
        assert_ne!(response.status().as_u16(), 405, "{method} {path}");
    }
    // Nothing is documented that is not listed above.
    let documented: usize = paths
        .values()
        .map(|item| {
            item.as_object().map_or(0, |methods| {
                methods
                    .keys()
                    .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                    .count()
            })
        })
        .sum();
    assert_eq!(documented, expected.len());
    let (_, health) = server.call(Method::GET, "/readyz", "", None).await;
    assert_eq!(health["ready"], true);
    let metrics = server
        .send(Method::GET, "/metrics", "", None)
        .await
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("vault_http_requests_total"), "{metrics}");
    assert!(metrics.contains("vault_root_unwraps_total"));
}
