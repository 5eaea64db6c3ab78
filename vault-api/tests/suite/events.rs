//! The change event feed over the real server: pages and Server-Sent Events read by
//! vault-client, resumed exactly after `Last-Event-ID`, live from this replica and from
//! another; every principal sees only what it may; a stream ends when its token or its
//! standing does; expiry reminders reach the feed once from two replicas.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use vault_api::StateOptions;
use vault_api::clock::Clock;
use vault_api::service::events::{EventOptions, SweepOptions, sweep};
use vault_client::wire::{EventParams, EventView};
use vault_client::{Client, ClientError, Config, EventStream, ProblemCode, StreamItem};
use vault_testkit::on_both_backends;
use zeroize::Zeroizing;

use crate::support::{ServerOptions, TestDb, TestServer, test_key};

on_both_backends!(
    worker_threads = 4;
    the_feed_pages_streams_and_resumes_exactly_after_the_last_event,
    each_principal_sees_only_its_events,
    a_stream_ends_when_its_token_or_its_standing_does,
    bad_positions_and_filters_are_refused_and_pruned_ones_are_told,
    expiry_reminders_reach_the_feed_once_from_two_replicas,
);

/// Streams that notice quickly: tests wait on them.
fn quick_events() -> ServerOptions {
    ServerOptions {
        state: Some(StateOptions {
            events: EventOptions {
                poll_interval: Duration::from_millis(100),
                heartbeat: Duration::from_millis(500),
                recheck_interval: Duration::from_millis(200),
                max_streams: 4,
            },
            ..StateOptions::default()
        }),
        ..ServerOptions::default()
    }
}

fn client(base: &str, token: &str) -> Client {
    Client::new(Config::new(base, Zeroizing::new(token.to_owned()))).expect("a client")
}

fn problem(error: ClientError) -> vault_client::Problem {
    match error {
        ClientError::Problem(problem) => *problem,
        other => panic!("not a problem: {other}"),
    }
}

async fn next_event(stream: &mut EventStream) -> EventView {
    match tokio::time::timeout(Duration::from_secs(15), stream.next()).await {
        Ok(Ok(Some(StreamItem::Event(event)))) => *event,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Asserts nothing arrives for a moment (heartbeats are not events).
async fn quiet(stream: &mut EventStream) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(700), stream.next()).await {
        panic!("expected nothing, got {item:?}");
    }
}

async fn page(server: &TestServer, token: &str, query: &str) -> Vec<Value> {
    let body = server
        .expect(200, Method::GET, &format!("/v1/events{query}"), token, None)
        .await;
    body["data"].as_array().expect("data").clone()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect()
}

async fn create(server: &TestServer, token: &str, name: &str, body: Value) -> String {
    let mut body = body;
    body["name"] = json!(name);
    let created = server
        .expect(201, Method::POST, "/v1/secrets", token, Some(body))
        .await;
    created["id"].as_str().expect("id").to_owned()
}

async fn rotate(base: &str, token: &str, id: &str, value: &str) {
    let response = reqwest::Client::new()
        .patch(format!("{base}/v1/secrets/{id}"))
        .bearer_auth(token)
        .json(&json!({ "value": value }))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
}

async fn the_feed_pages_streams_and_resumes_exactly_after_the_last_event(db: TestDb) {
    let server = TestServer::start_configured(db, test_key(), quick_events()).await;
    let alice = server.token("user", Some("alice")).await;
    let first = create(&server, &alice, "API_KEY", json!({"value": "value-one-1"})).await;
    rotate(&server.base, &alice, &first, "value-one-2").await;
    let second = create(&server, &alice, "DB_URL", json!({"value": "value-two-1"})).await;

    let events = page(&server, &alice, "").await;
    assert_eq!(
        types(&events),
        ["secret.created", "secret.rotated", "secret.created"]
    );
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(events[1]["version"], 2);
    assert_eq!(events[1]["changed"], json!(["value"]));
    assert_eq!(events[1]["name"], "API_KEY");
    // Pages resume after `next_after`, and a page asked after the last is empty.
    let body = server
        .expect(200, Method::GET, "/v1/events?limit=2", &alice, None)
        .await;
    assert_eq!(body["next_after"], 2);
    // The newest end, for a reader that wants recent context before it follows.
    let body = server
        .expect(
            200,
            Method::GET,
            "/v1/events?limit=2&newest=true",
            &alice,
            None,
        )
        .await;
    let seqs: Vec<u64> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!((seqs, &body["next_after"]), (vec![2, 3], &json!(3)));
    let rest = page(&server, &alice, "?after=2").await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["seq"], 3);
    assert!(page(&server, &alice, "?after=3").await.is_empty());

    // The stream from after event 1: the two after it, then what commits next, on this
    // replica and on another.
    let feed = client(&server.base, &alice);
    let mut stream = feed
        .event_stream(&EventParams::default(), Some(1))
        .await
        .expect("opens");
    assert_eq!(next_event(&mut stream).await.seq, 2);
    assert_eq!(next_event(&mut stream).await.seq, 3);
    quiet(&mut stream).await;
    rotate(&server.base, &alice, &second, "value-two-2").await;
    let live = next_event(&mut stream).await;
    assert_eq!((live.seq, live.kind.as_str()), (4, "secret.rotated"));
    assert_eq!(live.name.as_deref(), Some("DB_URL"));
    let replica = server.replica().await;
    rotate(&replica.base, &alice, &first, "value-one-3").await;
    let polled = next_event(&mut stream).await;
    assert_eq!((polled.seq, polled.version), (5, Some(3)));
    assert_eq!(stream.last_event_id(), Some(5));
    drop(stream);

    // Reconnecting with the last id seen misses nothing and repeats nothing, on either
    // replica.
    rotate(&server.base, &alice, &second, "value-two-3").await;
    let mut resumed = client(&replica.base, &alice)
        .event_stream(&EventParams::default(), Some(5))
        .await
        .expect("opens");
    assert_eq!(next_event(&mut resumed).await.seq, 6);
    quiet(&mut resumed).await;

    // Without a position the stream starts now: nothing old, the next change first.
    let mut fresh = feed
        .event_stream(&EventParams::default(), None)
        .await
        .expect("opens");
    quiet(&mut fresh).await;
    // It said where it starts, so a reconnect before any event misses nothing.
    assert_eq!(fresh.last_event_id(), Some(6));
    rotate(&server.base, &alice, &first, "value-one-4").await;
    assert_eq!(next_event(&mut fresh).await.seq, 7);
    assert_eq!(next_event(&mut resumed).await.seq, 7);

    // Filters apply to the stream as to a page.
    let mut named = feed
        .event_stream(
            &EventParams {
                name: Some("DB_URL".into()),
                types: Some("secret.rotated".into()),
                ..EventParams::default()
            },
            Some(0),
        )
        .await
        .expect("opens");
    for expected in [4, 6] {
        let event = next_event(&mut named).await;
        assert_eq!(
            (event.seq, event.name.as_deref()),
            (expected, Some("DB_URL"))
        );
    }
    quiet(&mut named).await;

    // No event, on the page or the stream, holds a value.
    let everything = server
        .expect(200, Method::GET, "/v1/events", &server.operator, None)
        .await
        .to_string();
    for marker in ["value-one", "value-two"] {
        assert!(!everything.contains(marker), "{everything}");
    }

    // A replica that shuts down ends its streams at once, so clients move on.
    let mut on_replica = client(&replica.base, &alice)
        .event_stream(&EventParams::default(), None)
        .await
        .expect("opens");
    drop(replica);
    let ended = tokio::time::timeout(Duration::from_secs(4), on_replica.next())
        .await
        .expect("the stream ends well within the grace period");
    assert!(matches!(ended, Ok(None) | Err(_)), "{ended:?}");
}

async fn each_principal_sees_only_its_events(db: TestDb) {
    let server = TestServer::start_configured(db, test_key(), quick_events()).await;
    let operator = server.operator.clone();
    let alice = server.token("user", Some("alice")).await;
    let bob = server.token("user", Some("bob")).await;
    let wadmin = server.token("user", Some("wadmin")).await;
    let lead = server.token("user", Some("lead")).await;
    let dave = server.token("user", Some("dave")).await;
    let carol = server.token("user", Some("carol")).await;
    let outsider = server.token("user", Some("outsider")).await;

    create(&server, &alice, "ALICE_ALL", json!({"value": "a-1"})).await;
    create(
        &server,
        &alice,
        "ALICE_OTHER",
        json!({"value": "a-2", "scope": "agents", "profile_ids": ["other"]}),
    )
    .await;
    create(&server, &bob, "BOB_KEY", json!({"value": "b-1"})).await;
    server
        .expect(
            200,
            Method::PUT,
            "/v1/workspaces/ws1/admins/wadmin",
            &operator,
            None,
        )
        .await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/workspaces/ws1/keys",
            &wadmin,
            Some(json!({"name": "WS_KEY", "value": "w-1"})),
        )
        .await;
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            &operator,
            Some(json!({"id": "prj1", "name": "One", "accountable_user_id": "lead"})),
        )
        .await;
    for (user, role) in [("dave", "consulted"), ("carol", "informed")] {
        server
            .expect(
                200,
                Method::PUT,
                &format!("/v1/projects/prj1/members/{user}"),
                &operator,
                Some(json!({ "role": role })),
            )
            .await;
    }
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects/prj1/vault",
            &lead,
            Some(
                json!({"name": "DEPLOY_TOKEN", "value": "p-1", "category": "access_token",
                "scope": "project"}),
            ),
        )
        .await;
    let session = server
        .expect(
            201,
            Method::POST,
            "/v1/sessions",
            &server.orchestrator,
            Some(json!({"user_id": "alice", "profile_id": "coder"})),
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let all = page(&server, &operator, "").await;
    assert_eq!(
        types(&all),
        [
            "secret.created",
            "secret.created",
            "secret.created",
            "workspace.admin.put",
            "secret.created",
            "project.created",
            "project.member.put",
            "project.member.put",
            "secret.created",
        ]
    );
    assert_eq!(page(&server, &server.orchestrator, "").await, all);
    let names = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| {
                e["name"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| e["type"].as_str().expect("type").to_owned())
            })
            .collect()
    };
    assert_eq!(
        names(&page(&server, &alice, "").await),
        ["ALICE_ALL", "ALICE_OTHER"]
    );
    assert_eq!(names(&page(&server, &bob, "").await), ["BOB_KEY"]);
    // Asking for another owner's events by name gets nothing, not an error that says
    // they exist.
    assert!(
        page(&server, &bob, "?owner_kind=user&owner_id=alice")
            .await
            .is_empty()
    );
    assert!(page(&server, &bob, "?name=ALICE_ALL").await.is_empty());
    assert_eq!(
        names(&page(&server, &wadmin, "").await),
        ["workspace.admin.put", "WS_KEY"]
    );
    assert!(page(&server, &outsider, "").await.is_empty());

    // Project members by role: the Consulted see the entry in full, the Informed its
    // name only; membership events to both.
    let consulted = page(&server, &dave, "").await;
    assert_eq!(
        names(&consulted),
        [
            "project.created",
            "project.member.put",
            "project.member.put",
            "DEPLOY_TOKEN"
        ]
    );
    let entry = consulted.last().expect("the entry");
    assert_eq!(entry["version"], 1);
    assert!(entry["actor"].as_str().expect("actor").starts_with("user:"));
    let informed = page(&server, &carol, "").await;
    assert_eq!(names(&informed), names(&consulted));
    let entry = informed.last().expect("the entry");
    assert_eq!(entry["name"], "DEPLOY_TOKEN");
    for hidden in ["version", "actor"] {
        assert!(entry.get(hidden).is_none(), "{entry}");
    }
    assert_eq!(names(&page(&server, &lead, "").await), names(&consulted));

    // A session: only secret events that reach its context (alice, profile coder).
    let seen = page(&server, &session, "").await;
    assert_eq!(names(&seen), ["ALICE_ALL"]);
    assert!(seen[0].get("actor").is_none(), "{}", seen[0]);

    // Anonymous and unknown tokens are refused; the stream too.
    for token in ["", "vlt_user_not-a-token"] {
        let (status, body) = server.call(Method::GET, "/v1/events", token, None).await;
        assert_eq!(status, 401, "{body}");
    }
    let refused = client(&server.base, "vlt_user_not-a-token")
        .event_stream(&EventParams::default(), None)
        .await
        .expect_err("refused");
    assert_eq!(problem(refused).code, ProblemCode::Unauthenticated);

    // Streams filter alike: bob is not told of alice's rotation, only of his own.
    let mut bobs = client(&server.base, &bob)
        .event_stream(&EventParams::default(), None)
        .await
        .expect("opens");
    let alice_all = all[0]["secret_id"].as_str().expect("id").to_owned();
    rotate(&server.base, &alice, &alice_all, "a-1-rotated").await;
    let bob_key = all[2]["secret_id"].as_str().expect("id").to_owned();
    rotate(&server.base, &bob, &bob_key, "b-1-rotated").await;
    let told = next_event(&mut bobs).await;
    assert_eq!(told.name.as_deref(), Some("BOB_KEY"));
    // Alice rotates again: bob is told only how far the stream has read.
    rotate(&server.base, &alice, &alice_all, "a-1-rotated-again").await;
    quiet(&mut bobs).await;
    assert_eq!(bobs.last_event_id(), Some(told.seq + 1));
}

async fn a_stream_ends_when_its_token_or_its_standing_does(db: TestDb) {
    let server = TestServer::start_configured(db, test_key(), quick_events()).await;
    let operator = server.operator.clone();
    server
        .expect(
            201,
            Method::POST,
            "/v1/projects",
            &operator,
            Some(json!({"id": "prj1", "name": "One", "accountable_user_id": "lead"})),
        )
        .await;
    server
        .expect(
            200,
            Method::PUT,
            "/v1/projects/prj1/members/alice",
            &operator,
            Some(json!({"role": "responsible"})),
        )
        .await;
    let (orchestrator_id, orchestrator) = server.token_lasting("orchestrator", None, None).await;
    let start_session = |project: Option<&str>| {
        let mut body = json!({"user_id": "alice", "profile_id": "coder"});
        if let Some(project) = project {
            body["project_id"] = json!(project);
        }
        let orchestrator = orchestrator.clone();
        let server = &server;
        async move {
            server
                .expect(201, Method::POST, "/v1/sessions", &orchestrator, Some(body))
                .await["token"]
                .as_str()
                .expect("token")
                .to_owned()
        }
    };
    let ended = |mut stream: EventStream| async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
                Ok(Ok(Some(StreamItem::End(reason)))) => {
                    // After saying why, the stream closes.
                    let after = tokio::time::timeout(Duration::from_secs(5), stream.next())
                        .await
                        .expect("closes");
                    assert!(matches!(after, Ok(None)), "{after:?}");
                    return reason;
                }
                Ok(Ok(Some(StreamItem::Event(_)))) => continue,
                other => panic!("expected the stream to end, got {other:?}"),
            }
        }
    };

    // A session in the project is told nothing more once its user leaves it.
    let in_project = start_session(Some("prj1")).await;
    let stream = client(&server.base, &in_project)
        .event_stream(&EventParams::default(), None)
        .await
        .expect("opens");
    server
        .expect(
            204,
            Method::DELETE,
            "/v1/projects/prj1/members/alice",
            &operator,
            None,
        )
        .await;
    let reason = ended(stream).await;
    assert!(reason.contains("prj1"), "{reason}");
    // And a new stream for it is refused up front.
    let refused = client(&server.base, &in_project)
        .event_stream(&EventParams::default(), None)
        .await
        .expect_err("refused");
    assert_eq!(problem(refused).code, ProblemCode::ProjectInjectionDenied);

    // A user token revoked.
    let (alice_id, alice) = server.token_lasting("user", Some("alice"), None).await;
    let stream = client(&server.base, &alice)
        .event_stream(&EventParams::default(), None)
        .await
        .expect("opens");
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/tokens/{alice_id}"),
            &operator,
            None,
        )
        .await;
    assert!(ended(stream).await.contains("no longer valid"));

    // Every session an orchestrator token began, when that token is revoked.
    let session = start_session(None).await;
    let stream = client(&server.base, &session)
        .event_stream(&EventParams::default(), None)
        .await
        .expect("opens");
    server
        .expect(
            204,
            Method::DELETE,
            &format!("/v1/tokens/{orchestrator_id}"),
            &operator,
            None,
        )
        .await;
    ended(stream).await;

    // A replica serves a bounded number of streams; past it, 503 and a retry.
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(
            client(&server.base, &operator)
                .event_stream(&EventParams::default(), None)
                .await
                .expect("opens"),
        );
    }
    let refused = client(&server.base, &operator)
        .event_stream(&EventParams::default(), None)
        .await
        .expect_err("over the cap");
    assert_eq!(problem(refused).code, ProblemCode::Unavailable);
    open.pop();
    // The slot comes back once the server notices the client went.
    let mut reopened = None;
    for _ in 0..50 {
        match client(&server.base, &operator)
            .event_stream(&EventParams::default(), None)
            .await
        {
            Ok(stream) => {
                reopened = Some(stream);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(reopened.is_some(), "a closed stream frees its slot");
}

async fn bad_positions_and_filters_are_refused_and_pruned_ones_are_told(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    for n in 0..3 {
        create(
            &server,
            &alice,
            &format!("KEY_{n}"),
            json!({"value": "v-1"}),
        )
        .await;
    }
    for (query, field) in [
        ("?after=4", "after"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?type=secret.nope", "type"),
        ("?type=secret.rotated,", "type"),
        ("?owner_id=alice", "owner_id"),
        ("?owner_kind=team", "owner_kind"),
        ("?owner_kind=user&owner_id=a%20b", "owner_id"),
        ("?name=lower", "name"),
    ] {
        let (status, body) = server
            .call(Method::GET, &format!("/v1/events{query}"), &alice, None)
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let (status, body) = server
        .call(Method::GET, "/v1/events?after=x", &alice, None)
        .await;
    assert_eq!((status, &body["field"]), (422, &json!("after")), "{body}");
    let response = reqwest::Client::new()
        .get(format!("{}/v1/events", server.base))
        .bearer_auth(&alice)
        .header("Last-Event-ID", "not-a-number")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["field"], "Last-Event-ID");

    // Retention removed events 1 and 2: a reader after 0 or 1 would miss some, so it
    // is told; a reader after 2 misses nothing.
    server
        .store
        .prune_events(server.clock.now() + chrono::Duration::days(1))
        .await
        .expect("prunes");
    for after in [0, 1] {
        let (status, body) = server
            .call(
                Method::GET,
                &format!("/v1/events?after={after}"),
                &alice,
                None,
            )
            .await;
        assert_eq!(status, 410, "{body}");
        assert_eq!(body["code"], "events_pruned");
        assert_eq!(body["field"], "after");
    }
    assert_eq!(page(&server, &alice, "?after=2").await.len(), 1);
    // Without `after`, a page starts at the oldest kept.
    assert_eq!(page(&server, &alice, "").await.len(), 1);
    let told = client(&server.base, &alice)
        .event_stream(&EventParams::default(), Some(1))
        .await
        .expect_err("told");
    let told = problem(told);
    assert_eq!(
        (told.code, told.field.as_deref()),
        (ProblemCode::EventsPruned, Some("Last-Event-ID"))
    );
}

async fn expiry_reminders_reach_the_feed_once_from_two_replicas(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let expires = server.clock.now() + chrono::Duration::days(2);
    create(
        &server,
        &alice,
        "SHORT_LIVED",
        json!({"value": "s-1", "expires_at": expires.to_rfc3339()}),
    )
    .await;
    let replica = server.replica().await;
    let options = SweepOptions::default();
    let sweep_both = || async {
        let (a, b) = tokio::join!(
            sweep(&server.state, &options),
            sweep(&replica.state, &options)
        );
        a.expect("sweeps") + b.expect("sweeps")
    };
    // Two days out: inside the 7-day lead.
    assert_eq!(sweep_both().await, 1);
    server.clock.advance(chrono::Duration::hours(36));
    assert_eq!(sweep_both().await, 1, "the 1-day reminder, once");
    assert_eq!(sweep_both().await, 0);
    server.clock.advance(chrono::Duration::hours(13));
    assert_eq!(sweep_both().await, 1, "expired, once");
    let reminders: Vec<Value> = page(&server, &alice, "?type=secret.expiring,secret.expired").await;
    assert_eq!(
        types(&reminders),
        ["secret.expiring", "secret.expiring", "secret.expired"]
    );
    assert_eq!(reminders[0]["lead_seconds"], 7 * 86_400);
    assert_eq!(reminders[1]["lead_seconds"], 86_400);
    assert!(reminders[2].get("lead_seconds").is_none());
    for reminder in &reminders {
        assert_eq!(reminder["name"], "SHORT_LIVED");
        assert_eq!(reminder["actor"], "vault");
        let at: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(reminder["expires_at"].clone()).expect("a time");
        assert_eq!(at.timestamp(), expires.timestamp());
    }
}
