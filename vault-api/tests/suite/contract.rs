//! The API as integrators meet it (issue 15): rotations that race, values an
//! environment can hold, the last operator token, readiness when writes fail, audit
//! pages while filtering, and bodies every error carries. Real server on loopback,
//! SQLite and PostgreSQL.

use vault_testkit::on_both_backends;

use crate::support::{TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use vault_api::clock::Clock;

on_both_backends!(
    unguarded_rotations_from_many_writers_all_land,
    values_must_be_valid_for_an_environment,
    the_last_operator_token_cannot_be_revoked_over_http,
    readiness_turns_false_when_the_database_cannot_take_writes,
    filtered_audit_pages_are_never_empty_while_more_records_match,
    every_refusal_is_a_problem_that_says_what_is_wrong,
);

/// The served document holds together the way generators and fuzzers need it to:
/// unique operationIds, every path parameter declared where it lives, a problem+json
/// body on every error, and the probes marked as needing no token. (The real
/// validator, schemathesis and a generated client run in `cargo xtask contract`.)
#[tokio::test]
async fn the_served_document_is_a_contract() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let (status, document) = server.call(Method::GET, "/openapi.json", "", None).await;
    assert_eq!(status, 200);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    assert!(document["components"]["schemas"]["Problem"]["properties"]["code"].is_object());
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(operation_ids.insert(id.to_owned()), "{id} repeats");
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for name in path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            {
                assert!(
                    declared.contains(&name),
                    "{method} {path}: {{{name}}} undeclared"
                );
            }
            // Nothing else claims to live in the path (list filters once did).
            assert_eq!(
                declared.len(),
                path.matches('{').count(),
                "{method} {path}: {declared:?}"
            );
            for (code, response) in operation["responses"].as_object().expect("responses") {
                if code.starts_with('4') || code.starts_with('5') {
                    let problem = &response["content"]["application/problem+json"]["schema"];
                    assert!(
                        problem["$ref"] == "#/components/schemas/Problem" || path == "/readyz",
                        "{method} {path} {code}: {response}"
                    );
                }
            }
            let open =
                ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path.as_str());
            assert_eq!(
                operation["security"] == json!([]),
                open,
                "{method} {path}: marked as needing no token exactly when it needs none"
            );
        }
    }
    assert!(operation_ids.contains("createSecret") && operation_ids.contains("resolveEnv"));
    // Every reference resolves: utoipa collects the schemas of `body = …` types only, so
    // one named elsewhere (an `IntoResponses` variant) must be registered by hand.
    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(references.len() > 50, "{}", references.len());
    for reference in references {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} points at nothing"
        );
    }
}

fn collect_references(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get("$ref") {
                into.push(reference.clone());
            }
            fields.values().for_each(|v| collect_references(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, into)),
        _ => {}
    }
}

/// Eight writers (four through a second replica) PATCH one secret's value with no
/// `expected_version`: every request lands, versions are contiguous, and the value the
/// highest acknowledged version carries is the one resolution serves.
async fn unguarded_rotations_from_many_writers_all_land(db: TestDb) {
    let server = TestServer::start(db).await;
    let other = server.replica().await;
    let alice = server.token("user", Some("alice")).await;
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "RACED", "value": "v0"})),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    const WRITERS: usize = 8;
    const EACH: usize = 6;
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let base = if writer % 2 == 0 {
            server.base.clone()
        } else {
            other.base.clone()
        };
        let client = server.client.clone();
        let (alice, id) = (alice.clone(), id.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for round in 0..EACH {
                let value = format!("w{writer}-r{round}");
                let response = client
                    .patch(format!("{base}/v1/secrets/{id}"))
                    .bearer_auth(&alice)
                    .json(&json!({"value": value}))
                    .send()
                    .await
                    .expect("answers");
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("json");
                assert_eq!(status, 200, "an unguarded rotation was refused: {body}");
                acknowledged.push((body["version"].as_u64().expect("version"), value));
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer finished"));
    }
    acknowledged.sort();
    let versions: Vec<u64> = acknowledged.iter().map(|(v, _)| *v).collect();
    let expected: Vec<u64> = (2..=(WRITERS * EACH + 1) as u64).collect();
    assert_eq!(versions, expected, "each rotation got its own next version");
    let listed = server
        .expect(
            200,
            Method::GET,
            &format!("/v1/secrets/{id}/versions"),
            &alice,
            None,
        )
        .await;
    assert_eq!(
        listed["data"][0]["version"].as_u64(),
        Some((WRITERS * EACH + 1) as u64)
    );
    let last = &acknowledged.last().expect("rotations").1;
    let env = server
        .resolve(json!({"user_id": "alice", "profile_id": "p1"}))
        .await;
    assert_eq!(env["env"]["RACED"].as_str(), Some(last.as_str()));
    // A stale guard is still refused.
    let stale = server
        .expect(
            409,
            Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &alice,
            Some(json!({"value": "late", "expected_version": 1})),
        )
        .await;
    assert_eq!(stale["code"], "stale_version");
}

/// No NUL (no environment can hold it), no control character but tab, line feed and
/// carriage return, never empty for a stored value; the orchestrator's own layers may
/// hold empty values. A refusal names the field and stores nothing.
async fn values_must_be_valid_for_an_environment(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    for (value, why) in [
        ("", "empty"),
        ("abc\u{0}def", "NUL"),
        ("a\u{1b}[31mred", "ESC"),
        ("a\u{7f}", "DEL"),
        ("a\u{9b}31m", "C1 CSI"),
        ("\u{8}", "backspace"),
    ] {
        let refused = server
            .expect(
                422,
                Method::POST,
                "/v1/secrets",
                &alice,
                Some(json!({"name": "BAD_VALUE", "value": value})),
            )
            .await;
        assert_eq!(
            (refused["code"].as_str(), refused["field"].as_str()),
            (Some("invalid_value"), Some("value")),
            "{why}: {refused}"
        );
    }
    assert_eq!(server.db.count("secrets", "name", "BAD_VALUE"), 0);
    let pem = "-----BEGIN KEY-----\r\nAAAA\n\tBBBB\n-----END KEY-----\n";
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "PEM", "value": pem})),
        )
        .await;
    let id = created["id"].as_str().expect("id");
    let refused = server
        .expect(
            422,
            Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &alice,
            Some(json!({"value": "x\u{0}"})),
        )
        .await;
    assert_eq!(refused["field"], "value");
    let context = json!({"user_id": "alice", "profile_id": "p1"});
    let mut with_layers = context.clone();
    with_layers["baseline_env"] = json!({"EMPTY_OK": "", "LANG": "C.UTF-8"});
    let env = server.resolve(with_layers).await;
    assert_eq!(env["env"]["PEM"].as_str(), Some(pem));
    assert_eq!(env["env"]["EMPTY_OK"].as_str(), Some(""));
    let mut bad_layer = context;
    bad_layer["profile_env"] = json!({"TERM_TRICK": "\u{1b}]0;owned\u{7}"});
    let (status, refused) = server
        .call(
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(bad_layer),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["field"], "profile_env.TERM_TRICK");
}

/// An operator token may revoke others, never the last live one: a vault with no
/// operator left could only be repaired on its host. The host CLI still can.
async fn the_last_operator_token_cannot_be_revoked_over_http(db: TestDb) {
    let server = TestServer::start(db).await;
    let tokens = server
        .expect(200, Method::GET, "/v1/tokens", &server.operator, None)
        .await;
    let operators: Vec<String> = tokens["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|t| t["kind"] == "operator" && t["revoked_at"].is_null())
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(operators.len(), 1, "{tokens}");
    let refused = server
        .expect(
            409,
            Method::DELETE,
            &format!("/v1/tokens/{}", operators[0]),
            &server.operator,
            None,
        )
        .await;
    assert_eq!(refused["code"], "last_operator_token");
    // With a second operator, either may go, and then the survivor is the last again.
    let (second_id, second) = server.token_lasting("operator", None, None).await;
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/tokens/{}", operators[0]),
            &second,
            None,
        )
        .await;
    let refused = server
        .expect(
            409,
            Method::DELETE,
            &format!("/v1/tokens/{second_id}"),
            &second,
            None,
        )
        .await;
    assert_eq!(refused["code"], "last_operator_token");
    // An operator token that has expired does not count as one left.
    server.token_lasting("operator", None, Some("1h")).await;
    server.clock.advance(chrono::Duration::hours(2));
    let refused = server
        .expect(
            409,
            Method::DELETE,
            &format!("/v1/tokens/{second_id}"),
            &second,
            None,
        )
        .await;
    assert_eq!(refused["code"], "last_operator_token");
    // Two operators revoking each other at once: one goes, one stays.
    let (third_id, third) = server.token_lasting("operator", None, None).await;
    let (third_path, second_path) = (
        format!("/v1/tokens/{third_id}"),
        format!("/v1/tokens/{second_id}"),
    );
    let (one, other) = tokio::join!(
        server.call(Method::DELETE, &third_path, &second, None),
        server.call(Method::DELETE, &second_path, &third, None),
    );
    let statuses = [one.0, other.0];
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{one:?} {other:?}"
    );
    // The loser is refused as the last one, or no longer authenticates at all.
    assert!(
        statuses.iter().all(|s| [204, 401, 409].contains(s)),
        "{statuses:?}"
    );
    let survivor = if one.0 == 204 { &second } else { &third };
    let listed = server
        .expect(200, Method::GET, "/v1/tokens", survivor, None)
        .await;
    let live = listed["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|t| t["kind"] == "operator" && t["revoked_at"].is_null())
        .filter(|t| {
            t["expires_at"].as_str().is_none_or(|at| {
                chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|at| at > server.clock.now())
            })
        })
        .count();
    assert_eq!(live, 1, "{listed}");
}

/// `/readyz` answers from the last write, not only from a `SELECT 1`: a database that
/// refuses writes (here: a trigger standing in for a full disk on SQLite, a read-only
/// database on PostgreSQL) makes it 503 with the cause named, and a write that works
/// again makes it ready.
async fn readiness_turns_false_when_the_database_cannot_take_writes(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let ready = server.expect(200, Method::GET, "/readyz", "", None).await;
    assert_eq!(ready["database"], "ok", "{ready}");
    let postgres = server.db.url.starts_with("postgres");
    if postgres {
        server.db.execute(
            "CREATE OR REPLACE FUNCTION refuse_writes() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'could not extend file: No space left on device' \
             USING ERRCODE = '53100'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records \
             FOR EACH ROW EXECUTE FUNCTION refuse_writes(); \
             CREATE TRIGGER refuse_probe BEFORE INSERT OR UPDATE ON vault_settings \
             FOR EACH ROW EXECUTE FUNCTION refuse_writes();",
        );
    } else {
        server.db.execute(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END; \
             CREATE TRIGGER refuse_probe BEFORE UPDATE ON vault_settings \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END; \
             CREATE TRIGGER refuse_probe_insert BEFORE INSERT ON vault_settings \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        );
    }
    let (status, refused) = server
        .call(
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "NOT_WRITTEN", "value": "v"})),
        )
        .await;
    assert_eq!(status, 503, "{refused}");
    let (status, resolved) = server
        .call(
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(json!({"user_id": "alice", "profile_id": "p1"})),
        )
        .await;
    assert_eq!(status, 503, "{resolved}");
    let (status, not_ready) = server.call(Method::GET, "/readyz", "", None).await;
    assert_eq!(status, 503, "{not_ready}");
    assert_eq!(not_ready["ready"], false, "{not_ready}");
    assert_eq!(not_ready["database"], "not_writable", "{not_ready}");
    assert_eq!(not_ready["database_cause"], "disk_full", "{not_ready}");
    // The probe keeps failing while the database refuses, and passes once it takes
    // writes again.
    server
        .state
        .store
        .probe_write()
        .await
        .expect_err("still refused");
    let (status, _) = server.call(Method::GET, "/readyz", "", None).await;
    assert_eq!(status, 503);
    if postgres {
        server.db.execute(
            "DROP TRIGGER refuse_audit ON audit_records; DROP TRIGGER refuse_probe ON vault_settings;",
        );
    } else {
        server.db.execute(
            "DROP TRIGGER refuse_audit; DROP TRIGGER refuse_probe; DROP TRIGGER refuse_probe_insert;",
        );
    }
    server
        .state
        .store
        .probe_write()
        .await
        .expect("writes again");
    let ready = server.expect(200, Method::GET, "/readyz", "", None).await;
    assert_eq!(ready["database"], "ok", "{ready}");
}

/// A filter that matches one old record behind many that do not still answers it on
/// the first page; the walk ends with `next_before` absent, never with an empty page
/// that has one.
async fn filtered_audit_pages_are_never_empty_while_more_records_match(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "NEEDLE", "value": "v"})),
        )
        .await;
    // Well over the scan budget of records that do not match.
    let noise: Vec<String> = (0..5_300)
        .map(|i| {
            format!(
                "INSERT INTO audit_records (seq, id, at, principal, action, target, outcome, request_id, previous_hash, hash, chain_format) \
                 SELECT seq + 1, 'aud_noise{i}', at, principal, 'noise.read', NULL, 'ok', 'req_noise', hash, hash, chain_format \
                 FROM audit_records WHERE seq = (SELECT MAX(seq) FROM audit_records)"
            )
        })
        .collect();
    for chunk in noise.chunks(500) {
        server.db.execute(&chunk.join(";"));
    }
    let mut before: Option<u64> = None;
    let mut found = Vec::new();
    for _ in 0..10 {
        let query = match before {
            Some(b) => format!("/v1/audit?action=secret.create&limit=5&before={b}"),
            None => "/v1/audit?action=secret.create&limit=5".into(),
        };
        let page = server
            .expect(200, Method::GET, &query, &server.operator, None)
            .await;
        let data = page["data"].as_array().expect("data");
        if page["next_before"].is_u64() {
            assert!(!data.is_empty(), "an empty page with a next_before: {page}");
        }
        found.extend(data.iter().map(|r| r["seq"].as_u64().expect("seq")));
        match page["next_before"].as_u64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    let refused = server
        .expect(
            422,
            Method::GET,
            "/v1/audit?target=",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(refused["field"], "target");
}

/// Refusals at every layer carry a problem+json body that names the cause: headers
/// over the bound (431), a key given twice (400), and targets sent to an entry whose
/// stored scope has none (409). None of them changes anything.
async fn every_refusal_is_a_problem_that_says_what_is_wrong(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "WIDE", "value": "v"})),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let client = reqwest::Client::new();

    let mut crowded = client
        .get(format!("{}/v1/secrets", server.base))
        .bearer_auth(&alice);
    for n in 0..40 {
        crowded = crowded.header(format!("x-padding-{n}"), "p".repeat(1024));
    }
    let answer = crowded.send().await.expect("answers");
    assert_eq!(answer.status().as_u16(), 431);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    let problem: Value = answer.json().await.expect("a problem body");
    assert_eq!(problem["code"], "headers_too_large", "{problem}");

    let twice = client
        .patch(format!("{}/v1/secrets/{id}", server.base))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body(r#"{"value": "a", "value": "b"}"#)
        .send()
        .await
        .expect("answers");
    assert_eq!(twice.status().as_u16(), 400);
    let problem: Value = twice.json().await.expect("a problem body");
    assert_eq!(problem["code"], "duplicate_field", "{problem}");
    assert_eq!(problem["field"], "value", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("more than once")),
        "{problem}"
    );

    let (status, mismatch) = server
        .call(
            Method::PATCH,
            &format!("/v1/secrets/{id}"),
            &alice,
            Some(json!({"profile_ids": ["p1"]})),
        )
        .await;
    assert_eq!(status, 409, "{mismatch}");
    assert_eq!(mismatch["code"], "scope_mismatch", "{mismatch}");
    let unchanged = server
        .expect(200, Method::GET, &format!("/v1/secrets/{id}"), &alice, None)
        .await;
    assert_eq!(unchanged["version"], 1, "{unchanged}");
    assert_eq!(unchanged["scope"], "all", "{unchanged}");
}
