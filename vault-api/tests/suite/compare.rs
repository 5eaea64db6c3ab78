//! Comparing a value with a stored one (`POST …/compare`, `vaultctl import`'s plan)
//! answers one bit: whether a guess is right. Played as the attackers would play it,
//! on SQLite and PostgreSQL: another user, a project member who may only read, a
//! workspace member who is not its admin, the orchestrator on a project, an operator,
//! a session token and an anonymous client get no answer; whoever may rotate the entry
//! gets one, recorded with the answer and never the value, changing nothing; and a
//! guesser runs out of budget (429 with `Retry-After`) across all of a user's tokens
//! while other principals go on being served.

use std::num::NonZeroU32;

use vault_testkit::on_both_backends;

use crate::support::{ServerOptions, TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use vault_api::StateOptions;

on_both_backends!(
    only_principals_who_may_rotate_learn_whether_a_value_is_current,
    a_guesser_runs_out_of_comparisons_and_others_are_untouched,
);

/// Stored as the value; no answer or record may hold it.
const MARKER: &str = "ghp_compareBoundaryMarker51b3f0";

/// The records of the trail whose action is `secret.compare`, oldest first.
async fn comparisons(server: &TestServer) -> Vec<vault_core::AuditEntry> {
    let mut records: Vec<_> = server
        .store
        .audit_latest(None, 1000)
        .await
        .expect("reads the trail")
        .into_iter()
        .map(|r| r.entry)
        .filter(|e| e.action == "secret.compare")
        .collect();
    records.reverse();
    records
}

fn assert_no_marker(context: &str, body: &Value) {
    assert!(
        !body.to_string().contains(MARKER) && !body.to_string().contains("compareGuess"),
        "{context} disclosed a value: {body}"
    );
}

async fn compare(server: &TestServer, path: &str, token: &str, value: &str) -> (u16, Value) {
    let (status, body) = server
        .call(
            Method::POST,
            &format!("{path}/compare"),
            token,
            Some(json!({ "value": value })),
        )
        .await;
    assert_no_marker(path, &body);
    (status, body)
}

async fn versions(server: &TestServer, path: &str) -> Value {
    server
        .expect(
            200,
            Method::GET,
            &format!("{path}/versions"),
            &server.operator,
            None,
        )
        .await
}

async fn only_principals_who_may_rotate_learn_whether_a_value_is_current(db: TestDb) {
    let server = TestServer::start(db).await;
    let operator = server.operator.clone();
    let orchestrator = server.orchestrator.clone();
    let alice = server.token("user", Some("alice")).await;
    let bob = server.token("user", Some("bob")).await;

    // A user secret.
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &alice,
            Some(json!({"name": "GITHUB_TOKEN", "value": MARKER})),
        )
        .await;
    let secret = format!("/v1/secrets/{}", created["id"].as_str().expect("id"));
    let before = versions(&server, &secret).await;
    let session = server
        .expect(
            201,
            Method::POST,
            "/v1/sessions",
            &orchestrator,
            Some(json!({"user_id": "alice", "profile_id": "p1", "ttl_seconds": 600})),
        )
        .await["token"]
        .as_str()
        .expect("session token")
        .to_owned();
    for (who, token, status) in [
        ("anonymous", "", 401),
        ("another user", bob.as_str(), 404),
        ("an operator", operator.as_str(), 403),
        ("a session", session.as_str(), 403),
    ] {
        let (got, body) = compare(&server, &secret, token, MARKER).await;
        assert_eq!(got, status, "{who}: {body}");
        assert!(body.get("matches").is_none(), "{who} got an answer: {body}");
    }
    for (token, guess, matches) in [
        (&alice, "ghp_compareGuessWrong", false),
        (&alice, MARKER, true),
        // One byte more or less is another value.
        (&alice, &format!("{MARKER} ")[..], false),
        (&alice, &MARKER[..MARKER.len() - 1], false),
        // The orchestrator resolves the value anyway; it may compare too.
        (&orchestrator, MARKER, true),
    ] {
        let (got, body) = compare(&server, &secret, token, guess).await;
        assert_eq!(got, 200, "{body}");
        assert_eq!(body, json!({"matches": matches, "version": 1}));
    }
    // Nothing changed: the same versions, the same value resolved.
    assert_eq!(versions(&server, &secret).await, before);
    let resolved = server
        .resolve(json!({"user_id": "alice", "profile_id": "p1"}))
        .await;
    assert_eq!(resolved["env"]["GITHUB_TOKEN"], MARKER);
    // An invalid value is refused naming the field, and answers nothing.
    let (got, body) = compare(&server, &secret, &alice, "").await;
    assert_eq!(
        (got, body["field"].as_str()),
        (422, Some("value")),
        "{body}"
    );

    // A workspace key: its admin compares; a member who is not its admin does not.
    server
        .expect(
            200,
            Method::PUT,
            "/v1/workspaces/acme/admins/alice",
            &operator,
            None,
        )
        .await;
    server
        .expect(
            200,
            Method::PUT,
            "/v1/workspaces/acme/members/bob",
            &operator,
            None,
        )
        .await;
    let key = server
        .expect(
            201,
            Method::POST,
            "/v1/workspaces/acme/keys",
            &alice,
            Some(json!({"name": "OPENAI_API_KEY", "value": MARKER})),
        )
        .await;
    let key = format!(
        "/v1/workspaces/acme/keys/{}",
        key["id"].as_str().expect("id")
    );
    let (got, body) = compare(&server, &key, &bob, MARKER).await;
    assert!(matches!(got, 403 | 404), "{got} {body}");
    assert!(body.get("matches").is_none(), "{body}");
    let (got, body) = compare(&server, &key, &operator, MARKER).await;
    assert_eq!(got, 403, "{body}");
    let (got, body) = compare(&server, &key, &alice, MARKER).await;
    assert_eq!(
        (got, body["matches"].as_bool()),
        (200, Some(true)),
        "{body}"
    );

    // A project entry: a Responsible compares; a Consulted member (who reads masked
    // metadata only), a non-member and the orchestrator do not.
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            &orchestrator,
            Some(json!({"id": "apollo", "name": "Apollo", "accountable_user_id": "alice"})),
        )
        .await;
    let carol = server.token("user", Some("carol")).await;
    let dave = server.token("user", Some("dave")).await;
    for (user, role) in [("carol", "responsible"), ("bob", "consulted")] {
        server
            .expect(
                200,
                Method::PUT,
                &format!("/v1/projects/apollo/members/{user}"),
                &orchestrator,
                Some(json!({ "role": role })),
            )
            .await;
    }
    let entry = server
        .expect(
            201,
            Method::POST,
            "/v1/projects/apollo/vault",
            &alice,
            Some(json!({"name": "DEPLOY_TOKEN", "value": MARKER,
                "category": "access_token", "scope": "project"})),
        )
        .await;
    let entry = format!(
        "/v1/projects/apollo/vault/{}",
        entry["id"].as_str().expect("id")
    );
    for (who, token, status) in [
        ("a Consulted member", bob.as_str(), 403),
        ("a non-member", dave.as_str(), 404),
        ("the orchestrator", orchestrator.as_str(), 403),
        ("an operator", operator.as_str(), 403),
    ] {
        let (got, body) = compare(&server, &entry, token, MARKER).await;
        assert_eq!(got, status, "{who}: {body}");
        assert!(body.get("matches").is_none(), "{who} got an answer: {body}");
    }
    let (got, body) = compare(&server, &entry, &carol, "ghp_compareGuessWrong").await;
    assert_eq!(
        (got, body["matches"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    let (got, body) = compare(&server, &entry, &carol, MARKER).await;
    assert_eq!(
        (got, body["matches"].as_bool()),
        (200, Some(true)),
        "{body}"
    );

    // Every answer is in the trail with what it said; every refusal under the same
    // action; no record holds a value or a guess.
    let records = comparisons(&server).await;
    let answered: Vec<(String, Option<bool>)> = records
        .iter()
        .filter(|r| r.outcome == "ok")
        .map(|r| {
            let target: Value =
                serde_json::from_str(r.target.as_deref().unwrap_or("null")).expect("json");
            (
                target["name"].as_str().unwrap_or("").to_owned(),
                target["matches"].as_bool(),
            )
        })
        .collect();
    let expected: Vec<(String, Option<bool>)> = [
        ("GITHUB_TOKEN", false),
        ("GITHUB_TOKEN", true),
        ("GITHUB_TOKEN", false),
        ("GITHUB_TOKEN", false),
        ("GITHUB_TOKEN", true),
        ("OPENAI_API_KEY", true),
        ("DEPLOY_TOKEN", false),
        ("DEPLOY_TOKEN", true),
    ]
    .into_iter()
    .map(|(name, matches)| (name.to_owned(), Some(matches)))
    .collect();
    assert_eq!(answered, expected);
    let refused: Vec<&str> = records
        .iter()
        .filter(|r| r.outcome != "ok")
        .map(|r| r.outcome.as_str())
        .collect();
    // 3 user-secret refusals recorded (the anonymous one is summarised, not chained),
    // the invalid value, 2 on the key, 4 on the entry.
    assert_eq!(refused.len(), 3 + 1 + 2 + 4, "{refused:?}");
    for record in &records {
        assert_no_marker("an audit record", &Value::String(format!("{record:?}")));
    }
}

async fn a_guesser_runs_out_of_comparisons_and_others_are_untouched(db: TestDb) {
    let options = ServerOptions {
        state: Some(StateOptions {
            comparisons_per_minute: NonZeroU32::new(3).expect("non-zero"),
            ..StateOptions::default()
        }),
        ..ServerOptions::default()
    };
    let server = TestServer::start_configured(db, crate::support::test_key(), options).await;
    let alice = server.token("user", Some("alice")).await;
    let alice_again = server.token("user", Some("alice")).await;
    let bob = server.token("user", Some("bob")).await;
    let mut paths = Vec::new();
    for (token, user) in [(&alice, "alice"), (&bob, "bob")] {
        let created = server
            .expect(
                201,
                Method::POST,
                "/v1/secrets",
                token,
                Some(json!({"name": "PIN", "value": MARKER, "description": user})),
            )
            .await;
        paths.push(format!(
            "/v1/secrets/{}",
            created["id"].as_str().expect("id")
        ));
    }
    let (alices, bobs) = (&paths[0], &paths[1]);
    for guess in 0..3 {
        let (got, body) = compare(&server, alices, &alice, &format!("compareGuess{guess}")).await;
        assert_eq!(
            (got, body["matches"].as_bool()),
            (200, Some(false)),
            "{body}"
        );
    }
    // The budget is the user's: a fresh token of the same user buys no more guesses,
    // and the right guess is not answered either.
    let waits = regex::Regex::new(r"retry after [0-9]+ s").expect("a pattern");
    for token in [&alice, &alice_again] {
        let response = server
            .send(
                Method::POST,
                &format!("{alices}/compare"),
                token,
                Some(json!({"value": MARKER})),
            )
            .await;
        assert_eq!(response.status().as_u16(), 429);
        let header: u64 = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("a Retry-After in seconds");
        let body: Value = response.json().await.expect("a problem");
        assert_eq!(body["code"], "too_many_comparisons", "{body}");
        assert_eq!(body["retry_after"].as_u64(), Some(header), "{body}");
        assert!((1..=20).contains(&header), "{header}");
        assert!(body.get("matches").is_none(), "{body}");
        assert_no_marker("a throttled answer", &body);
        let mut shown = body.clone();
        let detail = body["detail"].as_str().expect("a detail");
        assert!(waits.is_match(detail), "{body}");
        shown["detail"] = Value::String(waits.replace(detail, "retry after [seconds] s").into());
        crate::shapes::pin("problem_too_many_comparisons", 429, &shown);
    }
    // Everything else alice does is served, and bob's budget is his own.
    server.expect(200, Method::GET, alices, &alice, None).await;
    let (got, body) = compare(&server, bobs, &bob, MARKER).await;
    assert_eq!(
        (got, body["matches"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let outcomes: Vec<String> = comparisons(&server)
        .await
        .into_iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            "ok",
            "ok",
            "ok",
            "too_many_comparisons",
            "too_many_comparisons",
            "ok"
        ]
    );
}
