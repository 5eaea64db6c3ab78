//! Webhooks against a real receiver on loopback that verifies every delivery with the
//! Standard Webhooks reference library (PyPI `standardwebhooks`): signatures verify
//! (through a secret rotation too), receiver errors are retried with the same
//! `webhook-id`, an endpoint that keeps failing is turned off with an event, two
//! replicas never deliver one attempt twice, a restarted vault finishes what another
//! claimed and never finished, and SSRF targets are refused at registration and at
//! delivery.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};
use vault_api::StateOptions;
use vault_api::clock::Clock;
use vault_api::service::webhooks::{WebhookOptions, deliver_once};
use vault_testkit::on_both_backends;

use crate::support::{ServerOptions, TestDb, TestServer, test_key};

on_both_backends!(
    worker_threads = 4;
    deliveries_verify_with_the_reference_library_and_errors_are_retried,
    a_failing_endpoint_is_turned_off_with_an_event,
    replicas_never_deliver_an_attempt_twice_and_a_restart_finishes_what_was_left,
    ssrf_targets_are_refused_at_registration_and_at_delivery,
    project_and_workspace_endpoints_belong_to_whoever_manages_the_owner,
);

const PYTHON_VAR: &str = "VAULT_TEST_PYTHON_WEBHOOKS";
const REQUIRE_VAR: &str = "VAULT_TEST_REQUIRE_PYTHON_WEBHOOKS";

/// A receiver that verifies each request with `standardwebhooks.Webhook(secret)`,
/// answers with the next status of its plan (204 once the plan is used up) and
/// appends what it saw to `received.jsonl`.
const RECEIVER: &str = r#"
import http.server, json, os, sys, threading
from standardwebhooks import Webhook

folder = sys.argv[1]
lock = threading.Lock()

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with open(os.path.join(folder, "secret")) as f:
            secret = f.read().strip()
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            payload = Webhook(secret).verify(body, headers)
            verified, error = True, None
        except Exception as e:
            payload, verified, error = None, False, repr(e)
        with lock:
            plan_path = os.path.join(folder, "plan")
            plan = open(plan_path).read().split() if os.path.exists(plan_path) else []
            status = int(plan[0]) if plan else 204
            with open(plan_path, "w") as f:
                f.write(" ".join(plan[1:]))
            with open(os.path.join(folder, "received.jsonl"), "a") as f:
                f.write(json.dumps({"verified": verified, "error": error, "status": status,
                                    "id": headers.get("webhook-id"),
                                    "signatures": headers.get("webhook-signature", "").count("v1,"),
                                    "payload": payload}) + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct Receiver {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// `None` (with a note) when no Python with standardwebhooks was given and none is
    /// required; `cargo xtask test` gives one.
    fn start() -> Option<Receiver> {
        let Ok(python) = std::env::var(PYTHON_VAR) else {
            assert!(
                std::env::var_os(REQUIRE_VAR).is_none(),
                "{REQUIRE_VAR} is set but {PYTHON_VAR} is not"
            );
            eprintln!("skipped: {PYTHON_VAR} is not set (cargo xtask test sets it)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("receiver.py");
        std::fs::write(&script, RECEIVER).expect("writes");
        let mut child = Command::new(python)
            .arg(&script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut port = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut port)
            .expect("the receiver says its port");
        let url = format!("http://127.0.0.1:{}/hook", port.trim());
        Some(Receiver { child, dir, url })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn trust(&self, secret: &str) {
        std::fs::write(self.path("secret"), secret).expect("writes");
    }

    fn plan(&self, statuses: &str) {
        std::fs::write(self.path("plan"), statuses).expect("writes");
    }

    fn received(&self) -> Vec<Value> {
        read_lines(&self.path("received.jsonl"))
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Webhooks to loopback over HTTP, retried after 1 s, turned off after 3 failures.
fn loopback_options() -> StateOptions {
    StateOptions {
        webhooks: loopback_webhooks(),
        ..StateOptions::default()
    }
}

fn loopback_webhooks() -> WebhookOptions {
    WebhookOptions {
        allow_private_targets: true,
        allow_http: true,
        retry_base: std::time::Duration::from_secs(1),
        max_attempts: 5,
        disable_after: 3,
        // Short, so a test can outlast it without leaving receivers' timestamp
        // tolerance (5 minutes).
        rotation_overlap: std::time::Duration::from_secs(60),
        ..WebhookOptions::default()
    }
}

async fn start(db: TestDb) -> TestServer {
    let server = TestServer::start_configured(
        db,
        test_key(),
        ServerOptions {
            state: Some(loopback_options()),
            ..ServerOptions::default()
        },
    )
    .await;
    // Receivers check `webhook-timestamp` against their own clock.
    server
        .clock
        .advance(chrono::Utc::now() - server.clock.now());
    server
}

async fn register(server: &TestServer, token: &str, url: &str) -> (String, String) {
    let created = server
        .expect(
            201,
            Method::POST,
            "/v1/webhooks",
            token,
            Some(json!({"owner_kind": "user", "url": url, "description": "ci"})),
        )
        .await;
    assert!(created["webhook"]["enabled"].as_bool().expect("enabled"));
    (
        created["webhook"]["id"].as_str().expect("id").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
    )
}

async fn store_secret(server: &TestServer, token: &str, name: &str) -> String {
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            token,
            Some(json!({"name": name, "value": format!("{name}-value-0123456789")})),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn deliveries(server: &TestServer, token: &str, id: &str) -> Vec<Value> {
    server
        .expect(
            200,
            Method::GET,
            &format!("/v1/webhooks/{id}/deliveries"),
            token,
            None,
        )
        .await["data"]
        .as_array()
        .expect("data")
        .clone()
}

async fn deliveries_verify_with_the_reference_library_and_errors_are_retried(db: TestDb) {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let server = start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let (id, secret) = register(&server, &alice, &receiver.url).await;
    assert!(secret.starts_with("whsec_"));
    receiver.trust(&secret);
    receiver.plan("500 503");
    store_secret(&server, &alice, "API_KEY").await;

    assert_eq!(deliver_once(&server.state).await.expect("delivers"), 1);
    let log = deliveries(&server, &alice, &id).await;
    assert_eq!(
        (
            &log[0]["state"],
            &log[0]["attempts"],
            &log[0]["last_status"]
        ),
        (&json!("pending"), &json!(1), &json!(500))
    );
    // Not due again before its backoff.
    assert_eq!(deliver_once(&server.state).await.expect("delivers"), 0);
    server.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(deliver_once(&server.state).await.expect("delivers"), 1);
    server.clock.advance(chrono::Duration::seconds(4));
    assert_eq!(deliver_once(&server.state).await.expect("delivers"), 1);
    let log = deliveries(&server, &alice, &id).await;
    assert_eq!(
        (
            &log[0]["state"],
            &log[0]["attempts"],
            &log[0]["last_status"]
        ),
        (&json!("delivered"), &json!(3), &json!(204))
    );

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request["verified"], true, "{request}");
        // One message, retried: the same id every time, for the receiver to deduplicate.
        assert_eq!(request["id"], received[0]["id"]);
    }
    assert_eq!(
        received
            .iter()
            .map(|r| r["status"].as_u64().expect("status"))
            .collect::<Vec<_>>(),
        [500, 503, 204]
    );
    let payload = &received[2]["payload"];
    assert_eq!(payload["type"], "secret.created");
    assert_eq!(payload["data"]["name"], "API_KEY");
    assert_eq!(payload["data"]["owner_id"], "alice");
    assert_eq!(payload["data"]["id"], received[2]["id"]);
    assert!(!payload.to_string().contains("API_KEY-value"), "{payload}");

    // A rotated secret: for the overlap both sign, so a receiver still holding the old
    // one verifies, and so does one that switched.
    let rotated = server
        .expect(
            200,
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            &alice,
            None,
        )
        .await;
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["webhook"]["secret_generation"], 2);
    store_secret(&server, &alice, "OLD_SECRET_STILL_VERIFIES").await;
    deliver_once(&server.state).await.expect("delivers");
    receiver.trust(&new_secret);
    store_secret(&server, &alice, "NEW_SECRET_VERIFIES").await;
    deliver_once(&server.state).await.expect("delivers");
    let received = receiver.received();
    for request in &received[3..] {
        assert_eq!(request["verified"], true, "{request}");
        assert_eq!(request["signatures"], 2, "{request}");
    }
    // After the overlap only the new secret signs.
    server.clock.advance(chrono::Duration::seconds(61));
    store_secret(&server, &alice, "ONLY_THE_NEW_ONE").await;
    deliver_once(&server.state).await.expect("delivers");
    let last = receiver.received().pop().expect("a request");
    assert_eq!(
        (&last["verified"], &last["signatures"]),
        (&json!(true), &json!(1))
    );
    receiver.trust(&secret);
    store_secret(&server, &alice, "THE_OLD_ONE_NO_LONGER").await;
    deliver_once(&server.state).await.expect("delivers");
    let last = receiver.received().pop().expect("a request");
    assert_eq!(last["verified"], false, "{last}");

    // The list, the endpoint and the log never show a secret.
    for path in [
        "/v1/webhooks".to_owned(),
        format!("/v1/webhooks/{id}"),
        format!("/v1/webhooks/{id}/deliveries"),
    ] {
        let body = server.expect(200, Method::GET, &path, &alice, None).await;
        for secret in [&secret, &new_secret] {
            assert!(
                !body
                    .to_string()
                    .contains(secret.trim_start_matches("whsec_")),
                "{path}: {body}"
            );
        }
    }
}

async fn a_failing_endpoint_is_turned_off_with_an_event(db: TestDb) {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let server = start(db).await;
    let alice = server.token("user", Some("alice")).await;
    let (id, secret) = register(&server, &alice, &receiver.url).await;
    receiver.trust(&secret);
    receiver.plan("500 500 500 500 500 500");
    store_secret(&server, &alice, "ONE").await;
    store_secret(&server, &alice, "TWO").await;
    for _ in 0..3 {
        deliver_once(&server.state).await.expect("delivers");
        server.clock.advance(chrono::Duration::seconds(10));
    }
    let endpoint = server
        .expect(
            200,
            Method::GET,
            &format!("/v1/webhooks/{id}"),
            &alice,
            None,
        )
        .await;
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .expect("a reason")
            .contains("3 deliveries in a row failed"),
        "{endpoint}"
    );
    let events = server
        .expect(
            200,
            Method::GET,
            "/v1/events?type=webhook.disabled",
            &alice,
            None,
        )
        .await;
    assert_eq!(events["data"][0]["webhook_id"], id, "{events}");
    // Off means off: nothing more goes out until it is turned back on.
    let sent = receiver.received().len();
    server.clock.advance(chrono::Duration::minutes(10));
    deliver_once(&server.state).await.expect("delivers");
    assert_eq!(receiver.received().len(), sent);
    receiver.plan("");
    server
        .expect(
            200,
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            &alice,
            Some(json!({"enabled": true})),
        )
        .await;
    server.clock.advance(chrono::Duration::minutes(10));
    deliver_once(&server.state).await.expect("delivers");
    deliver_once(&server.state).await.expect("delivers");
    let log = deliveries(&server, &alice, &id).await;
    let states: Vec<&str> = log
        .iter()
        .map(|d| d["state"].as_str().expect("state"))
        .collect();
    assert!(states.iter().all(|s| *s == "delivered"), "{log:?}");
    // A delivery can be sent again by hand.
    let did = log[0]["id"].as_str().expect("id");
    let requeued = server
        .expect(
            200,
            Method::POST,
            &format!("/v1/webhooks/{id}/deliveries/{did}/redeliver"),
            &alice,
            None,
        )
        .await;
    assert_eq!(requeued["state"], "pending");
    let before = receiver.received().len();
    deliver_once(&server.state).await.expect("delivers");
    assert_eq!(receiver.received().len(), before + 1);

    // Another user may not see, change or redeliver it: 404, as if missing.
    let bob = server.token("user", Some("bob")).await;
    for (method, path) in [
        (Method::GET, format!("/v1/webhooks/{id}")),
        (Method::DELETE, format!("/v1/webhooks/{id}")),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries")),
        (Method::POST, format!("/v1/webhooks/{id}/rotate-secret")),
        (
            Method::POST,
            format!("/v1/webhooks/{id}/deliveries/{did}/redeliver"),
        ),
    ] {
        let (status, body) = server.call(method.clone(), &path, &bob, None).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    assert!(
        server
            .expect(200, Method::GET, "/v1/webhooks", &bob, None)
            .await["data"]
            .as_array()
            .expect("data")
            .is_empty()
    );
}

async fn replicas_never_deliver_an_attempt_twice_and_a_restart_finishes_what_was_left(db: TestDb) {
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let server = start(db).await;
    let replica = server.replica_with(loopback_options()).await;
    let alice = server.token("user", Some("alice")).await;
    let (id, secret) = register(&server, &alice, &receiver.url).await;
    receiver.trust(&secret);
    for n in 0..12 {
        store_secret(&server, &alice, &format!("KEY_{n}")).await;
    }
    // Both replicas deliver at once, until nothing is left.
    loop {
        let (a, b) = tokio::join!(deliver_once(&server.state), deliver_once(&replica.state));
        if a.expect("delivers") + b.expect("delivers") == 0 {
            break;
        }
    }
    let mut per_message: BTreeMap<String, usize> = BTreeMap::new();
    for request in receiver.received() {
        assert_eq!(request["verified"], true, "{request}");
        *per_message
            .entry(request["id"].as_str().expect("id").to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_message.len(), 12);
    assert!(per_message.values().all(|n| *n == 1), "{per_message:?}");

    // A replica claims a delivery and dies before it is made.
    store_secret(&server, &alice, "LEFT_BEHIND").await;
    let now = server.clock.now();
    server.store.fan_out_webhooks(now).await.expect("fans out");
    let claimed = server
        .store
        .claim_webhook_deliveries(now, now + chrono::Duration::seconds(90), 10)
        .await
        .expect("claims");
    assert_eq!(claimed.len(), 1);
    // Another vault process (restarted, on the same database) takes it over once the
    // lease has run out, and delivers it.
    let restarted = server.replica_with(loopback_options()).await;
    assert_eq!(
        deliver_once(&restarted.state).await.expect("delivers"),
        0,
        "still leased"
    );
    server.clock.advance(chrono::Duration::seconds(91));
    assert_eq!(deliver_once(&restarted.state).await.expect("delivers"), 1);
    let log = deliveries(&server, &alice, &id).await;
    assert_eq!(
        (&log[0]["state"], &log[0]["attempts"]),
        (&json!("delivered"), &json!(2))
    );
    let last = receiver.received().pop().expect("a request");
    assert_eq!(last["payload"]["data"]["name"], "LEFT_BEHIND");
}

async fn ssrf_targets_are_refused_at_registration_and_at_delivery(db: TestDb) {
    let strict = TestServer::start(db).await;
    let alice = strict.token("user", Some("alice")).await;
    for url in [
        "https://127.0.0.1/hook",
        "https://127.1.2.3:8443/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://0.0.0.0/hook",
        "http://8.8.8.8/hook",
        "ftp://8.8.8.8/hook",
        "https://user:password@8.8.8.8/hook",
        "not a url",
    ] {
        let (status, body) = strict
            .call(
                Method::POST,
                "/v1/webhooks",
                &alice,
                Some(json!({"owner_kind": "user", "url": url})),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["field"], "url", "{url}: {body}");
    }
    assert!(
        strict
            .expect(200, Method::GET, "/v1/webhooks", &alice, None)
            .await["data"]
            .as_array()
            .expect("data")
            .is_empty(),
        "nothing refused was registered"
    );

    // Registered where the operator allowed loopback, then delivered by a vault that
    // does not: the address is checked again at delivery, and refused.
    let Some(receiver) = Receiver::start() else {
        return;
    };
    let lenient = strict.replica_with(loopback_options()).await;
    let created = reqwest::Client::new()
        .post(format!("{}/v1/webhooks", lenient.base))
        .bearer_auth(&alice)
        .json(&json!({"owner_kind": "user", "url": receiver.url}))
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let id = created["webhook"]["id"].as_str().expect("id").to_owned();
    receiver.trust(created["secret"].as_str().expect("secret"));
    store_secret(&strict, &alice, "API_KEY").await;
    assert_eq!(deliver_once(&strict.state).await.expect("delivers"), 1);
    assert!(receiver.received().is_empty(), "the vault never connected");
    let log = deliveries(&strict, &alice, &id).await;
    let error = log[0]["last_error"].as_str().expect("an error");
    assert!(error.contains("the target was refused"), "{error}");
    assert!(
        error.contains("not a public address") || error.contains("http://"),
        "{error}"
    );
}

/// Every route that acts on one existing endpoint, with what it sends.
fn endpoint_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/v1/webhooks/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/webhooks/{id}"),
            Some(json!({"url": "https://8.8.4.4/taken-over"})),
        ),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries"), None),
        (
            Method::POST,
            format!("/v1/webhooks/{id}/rotate-secret"),
            None,
        ),
        (Method::DELETE, format!("/v1/webhooks/{id}"), None),
    ]
}

/// Project and workspace endpoints belong to whoever may manage that owner's secrets:
/// the project's Accountable and Responsible members (one from a partner organisation
/// too, as the RACI model lets them write entries), the workspace's admins, operators.
/// A Consulted or Informed member, a non-member, the Accountable of another project,
/// a plain workspace member, another workspace's admin, the orchestrator and a session
/// can neither register one nor find, change, rotate, read or delete one; a member
/// who leaves loses it at once; and each endpoint is sent only its own owner's events.
async fn project_and_workspace_endpoints_belong_to_whoever_manages_the_owner(db: TestDb) {
    let server = TestServer::start(db).await;
    let op = server.operator.clone();
    for (project, accountable) in [("px", "ada"), ("py", "mallory")] {
        server
            .expect(
                201,
                Method::POST,
                "/v1/projects",
                &op,
                Some(json!({"id": project, "name": project, "accountable_user_id": accountable})),
            )
            .await;
    }
    for (user, role) in [
        ("rhea", "responsible"),
        ("otto.partner-org", "responsible"),
        ("cato", "consulted"),
        ("iris", "informed"),
    ] {
        server
            .expect(
                200,
                Method::PUT,
                &format!("/v1/projects/px/members/{user}"),
                &op,
                Some(json!({"role": role})),
            )
            .await;
    }
    for (workspace, role, user) in [
        ("wx", "admins", "wanda"),
        ("wx", "members", "ada"),
        ("wy", "admins", "walt"),
    ] {
        server
            .expect(
                200,
                Method::PUT,
                &format!("/v1/workspaces/{workspace}/{role}/{user}"),
                &op,
                None,
            )
            .await;
    }
    let mut tokens = BTreeMap::new();
    for user in [
        "ada",
        "rhea",
        "otto.partner-org",
        "cato",
        "iris",
        "mallory",
        "wanda",
        "walt",
    ] {
        tokens.insert(user, server.token("user", Some(user)).await);
    }
    let session = server
        .expect(
            201,
            Method::POST,
            "/v1/sessions",
            &server.orchestrator,
            Some(
                json!({"user_id": "ada", "profile_id": "p1", "workspace_id": "wx",
                "project_id": "px"}),
            ),
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let register = |owner_kind: &'static str, owner_id: &'static str| json!({"owner_kind": owner_kind, "owner_id": owner_id, "url": "https://8.8.8.8/hook"});

    // Who may register, and what everyone else is told: 403 for a member whose role
    // falls short, 404 where the owner's existence is not theirs to learn.
    let project_cases: [(&str, &str, u16); 9] = [
        ("ada (Accountable)", &tokens["ada"], 201),
        ("rhea (Responsible)", &tokens["rhea"], 201),
        (
            "otto (a partner's Responsible)",
            &tokens["otto.partner-org"],
            201,
        ),
        ("the operator", &op, 201),
        ("cato (Consulted)", &tokens["cato"], 403),
        ("iris (Informed)", &tokens["iris"], 403),
        (
            "mallory (another project's Accountable)",
            &tokens["mallory"],
            404,
        ),
        ("the orchestrator", &server.orchestrator, 403),
        ("a session", &session, 403),
    ];
    let workspace_cases: [(&str, &str, u16); 6] = [
        ("wanda (admin)", &tokens["wanda"], 201),
        ("the operator", &op, 201),
        ("ada (a plain member)", &tokens["ada"], 404),
        ("walt (another workspace's admin)", &tokens["walt"], 404),
        ("the orchestrator", &server.orchestrator, 403),
        ("a session", &session, 403),
    ];
    for (owner_kind, owner_id, cases) in [
        ("project", "px", &project_cases[..]),
        ("workspace", "wx", &workspace_cases[..]),
    ] {
        for (who, token, expected) in cases {
            let (status, body) = server
                .call(
                    Method::POST,
                    "/v1/webhooks",
                    token,
                    Some(register(owner_kind, owner_id)),
                )
                .await;
            assert_eq!(
                status, *expected,
                "{who} registering for {owner_id}: {body}"
            );
            if status >= 400 {
                assert!(body.get("secret").is_none(), "{body}");
            }
            let listed = format!("/v1/webhooks?owner_kind={owner_kind}&owner_id={owner_id}");
            let (status, body) = server.call(Method::GET, &listed, token, None).await;
            let expected = if *expected == 201 { 200 } else { *expected };
            assert_eq!(status, expected, "{who} listing {owner_id}'s: {body}");
        }
    }
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/webhooks",
            "",
            Some(register("project", "px")),
        )
        .await;
    assert_eq!(status, 401, "anonymous");

    // One endpoint per owner, registered by a manager, meets every principal.
    let endpoint = |token: &str, owner_kind: &'static str, owner_id: &'static str| {
        let body = register(owner_kind, owner_id);
        let token = token.to_owned();
        let server = &server;
        async move {
            server
                .expect(201, Method::POST, "/v1/webhooks", &token, Some(body))
                .await["webhook"]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        }
    };
    let refused: [(&str, &str, &str, u16); 10] = [
        ("px", "cato (Consulted)", &tokens["cato"], 404),
        ("px", "iris (Informed)", &tokens["iris"], 404),
        (
            "px",
            "mallory (another project's Accountable)",
            &tokens["mallory"],
            404,
        ),
        ("px", "wanda (a workspace admin)", &tokens["wanda"], 404),
        ("px", "the orchestrator", &server.orchestrator, 404),
        ("px", "a session", &session, 403),
        ("wx", "ada (a plain member)", &tokens["ada"], 404),
        (
            "wx",
            "walt (another workspace's admin)",
            &tokens["walt"],
            404,
        ),
        ("wx", "rhea (a Responsible elsewhere)", &tokens["rhea"], 404),
        ("wx", "a session", &session, 403),
    ];
    let px = endpoint(&tokens["rhea"], "project", "px").await;
    let wx = endpoint(&tokens["wanda"], "workspace", "wx").await;
    for (owner, who, token, expected) in refused {
        let id = if owner == "px" { &px } else { &wx };
        for (method, path, body) in endpoint_routes(id) {
            let (status, answer) = server.call(method.clone(), &path, token, body).await;
            assert_eq!(status, expected, "{who}: {method} {path}: {answer}");
            assert!(answer.get("secret").is_none(), "{answer}");
        }
        let (status, _) = server
            .call(Method::GET, &format!("/v1/webhooks/{id}"), "", None)
            .await;
        assert_eq!(status, 401, "anonymous");
    }
    // Nothing the refused attempts sent changed either endpoint.
    for (id, token) in [(&px, &tokens["ada"]), (&wx, &tokens["wanda"])] {
        let seen = server
            .expect(200, Method::GET, &format!("/v1/webhooks/{id}"), token, None)
            .await;
        assert_eq!(seen["url"], "https://8.8.8.8/hook", "{seen}");
        assert_eq!(seen["secret_generation"], 1, "{seen}");
    }
    // Every manager reaches the endpoint another manager registered.
    for (id, token) in [
        (&px, &tokens["ada"]),
        (&px, &tokens["otto.partner-org"]),
        (&px, &op),
        (&wx, &op),
    ] {
        for (method, path, body) in endpoint_routes(id) {
            if method == Method::DELETE {
                continue;
            }
            let (status, answer) = server.call(method.clone(), &path, token, body).await;
            assert_eq!(status, 200, "{method} {path}: {answer}");
        }
    }

    // A Responsible who leaves, or is made Informed, loses the endpoint at once, the
    // one they registered included.
    server
        .expect(
            204,
            Method::DELETE,
            "/v1/projects/px/members/rhea",
            &op,
            None,
        )
        .await;
    server
        .expect(
            200,
            Method::PUT,
            "/v1/projects/px/members/otto.partner-org",
            &op,
            Some(json!({"role": "informed"})),
        )
        .await;
    for who in ["rhea", "otto.partner-org"] {
        for (method, path, body) in endpoint_routes(&px) {
            let (status, answer) = server.call(method.clone(), &path, &tokens[who], body).await;
            assert_eq!(
                status, 404,
                "{who} after leaving: {method} {path}: {answer}"
            );
        }
    }

    // Changes to every owner; each endpoint is sent only its own owner's.
    for (path, body) in [
        (
            "/v1/projects/px/vault",
            json!({"name": "PX_ENTRY", "value": "px-value-0123", "category": "other", "scope": "project"}),
        ),
        (
            "/v1/projects/py/vault",
            json!({"name": "PY_ENTRY", "value": "py-value-0123", "category": "other", "scope": "project"}),
        ),
        (
            "/v1/workspaces/wx/keys",
            json!({"name": "WX_KEY", "value": "wx-value-0123"}),
        ),
        (
            "/v1/workspaces/wy/keys",
            json!({"name": "WY_KEY", "value": "wy-value-0123"}),
        ),
    ] {
        server
            .expect(201, Method::POST, path, &op, Some(body))
            .await;
    }
    server
        .expect(
            201,
            Method::POST,
            "/v1/secrets",
            &tokens["ada"],
            Some(json!({"name": "ADA_OWN", "value": "ada-value-0123"})),
        )
        .await;
    server
        .store
        .fan_out_webhooks(chrono::Utc::now())
        .await
        .expect("fans out");
    let events = server
        .expect(200, Method::GET, "/v1/events?limit=200", &op, None)
        .await["data"]
        .as_array()
        .expect("data")
        .clone();
    let owner_of = |seq: u64| {
        let event = events
            .iter()
            .find(|e| e["seq"] == seq)
            .expect("a delivered event is in the log");
        (
            event["owner_kind"].clone(),
            event["owner_id"].clone(),
            event["name"].clone(),
        )
    };
    for (id, token, kind, owner, name) in [
        (&px, &tokens["ada"], "project", "px", "PX_ENTRY"),
        (&wx, &tokens["wanda"], "workspace", "wx", "WX_KEY"),
    ] {
        let sent = deliveries(&server, token, id).await;
        assert!(
            sent.iter()
                .any(|d| owner_of(d["event_seq"].as_u64().expect("seq")).2 == name),
            "{owner}'s endpoint was sent its own change: {sent:?}"
        );
        for delivery in &sent {
            let (event_kind, event_owner, _) =
                owner_of(delivery["event_seq"].as_u64().expect("seq"));
            assert_eq!(
                (event_kind.as_str(), event_owner.as_str()),
                (Some(kind), Some(owner)),
                "{owner}'s endpoint was sent another owner's event: {delivery}"
            );
        }
    }
}
