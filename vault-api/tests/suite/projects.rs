//! The project vault, workspace keys and agent sessions end to end, over a real
//! loopback port on SQLite and PostgreSQL: every RACI role against every action,
//! non-members and members from other organisations, precedence across layers,
//! milestone scoping, expiry, cascades, and what a session token can and cannot do.

use vault_testkit::on_both_backends;

use crate::support::{TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    every_raci_role_meets_every_project_action,
    byok_keys_beat_project_entries_and_milestones_stay_apart,
    deleting_a_project_leaves_nothing_behind,
    milestones_and_members_keep_the_project_consistent,
    a_session_token_does_one_thing_in_one_context,
    workspace_keys_belong_to_operators_and_workspace_admins,
);

/// The value every entry starts with; no response but a lookup or resolution may
/// ever carry it.
const MARKER: &str = "marker-value-7f3a9c1e5b";

async fn project(server: &TestServer, id: &str, accountable: &str) {
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/projects",
            &server.operator,
            Some(json!({"id": id, "name": format!("Project {id}"), "accountable_user_id": accountable})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn milestone(server: &TestServer, project: &str, id: &str) {
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/projects/{project}/milestones"),
            &server.operator,
            Some(json!({"id": id, "name": format!("Milestone {id}")})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn member(server: &TestServer, project: &str, user: &str, role: &str) {
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/v1/projects/{project}/members/{user}"),
            &server.operator,
            Some(json!({"role": role})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Registers `user` as a member of `workspace`, as an operator does.
async fn workspace_member(server: &TestServer, workspace: &str, user: &str) {
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/v1/workspaces/{workspace}/members/{user}"),
            &server.operator,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn entry(server: &TestServer, project: &str, body: Value) -> String {
    let (status, created) = server
        .call(
            Method::POST,
            &format!("/v1/projects/{project}/vault"),
            &server.operator,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

fn assert_no_marker(context: &str, body: &Value) {
    assert!(
        !body.to_string().contains("marker-value"),
        "{context} leaked a value: {body}"
    );
}

/// What each role may do, in the order of `ROLES`: accountable, responsible,
/// consulted, informed, a responsible member from another organisation, a non-member.
const ROLES: [&str; 6] = [
    "accountable",
    "responsible",
    "consulted",
    "informed",
    "partner",
    "outsider",
];

struct Case {
    action: &'static str,
    expected: [u16; 6],
}

const CASES: &[Case] = &[
    Case {
        action: "view project",
        expected: [200, 200, 200, 200, 200, 404],
    },
    Case {
        action: "list entries",
        expected: [200, 200, 200, 200, 200, 404],
    },
    Case {
        action: "read entry",
        expected: [200, 200, 200, 403, 200, 404],
    },
    Case {
        action: "read versions",
        expected: [200, 200, 200, 403, 200, 404],
    },
    Case {
        action: "create entry",
        expected: [201, 201, 403, 403, 201, 404],
    },
    Case {
        action: "rotate entry",
        expected: [200, 200, 403, 403, 200, 404],
    },
    Case {
        action: "roll back entry",
        expected: [200, 200, 403, 403, 200, 404],
    },
    Case {
        action: "delete entry",
        expected: [204, 204, 403, 403, 204, 404],
    },
    Case {
        action: "add milestone",
        expected: [201, 403, 403, 403, 403, 404],
    },
    Case {
        action: "remove milestone",
        expected: [200, 403, 403, 403, 403, 404],
    },
    Case {
        action: "put member",
        expected: [200, 403, 403, 403, 403, 404],
    },
    Case {
        action: "remove member",
        expected: [204, 403, 403, 403, 403, 404],
    },
    Case {
        action: "delete project",
        expected: [200, 403, 403, 403, 403, 404],
    },
];

/// Runs one action as `token` against project `pid` (freshly set up per call, so
/// every attempt meets the same state) and returns the status.
async fn attempt(
    server: &TestServer,
    pid: &str,
    action: &str,
    token: &str,
    n: usize,
) -> (u16, Value) {
    let entry_id = entry(
        server,
        pid,
        json!({"name": format!("ENTRY_{n}"), "value": MARKER, "category": "api_key", "scope": "project"}),
    )
    .await;
    let (status, _) = server
        .call(
            Method::PATCH,
            &format!("/v1/projects/{pid}/vault/{entry_id}"),
            &server.operator,
            Some(json!({"value": format!("{MARKER}-v2")})),
        )
        .await;
    assert_eq!(status, 200);
    milestone(server, pid, &format!("ms{n}")).await;
    member(server, pid, &format!("extra{n}"), "informed").await;
    let path = format!("/v1/projects/{pid}");
    let entry_path = format!("{path}/vault/{entry_id}");
    let (method, path, body) = match action {
        "view project" => (Method::GET, path, None),
        "list entries" => (Method::GET, format!("{path}/vault"), None),
        "read entry" => (Method::GET, entry_path, None),
        "read versions" => (Method::GET, format!("{entry_path}/versions"), None),
        "create entry" => (
            Method::POST,
            format!("{path}/vault"),
            Some(
                json!({"name": format!("NEW_{n}"), "value": MARKER, "category": "secret", "scope": "project"}),
            ),
        ),
        "rotate entry" => (
            Method::PATCH,
            entry_path,
            Some(json!({"value": format!("{MARKER}-v3")})),
        ),
        "roll back entry" => (
            Method::POST,
            format!("{entry_path}/rollback"),
            Some(json!({"version": 1})),
        ),
        "delete entry" => (Method::DELETE, entry_path, None),
        "add milestone" => (
            Method::POST,
            format!("{path}/milestones"),
            Some(json!({"id": format!("new{n}"), "name": "New"})),
        ),
        "remove milestone" => (Method::DELETE, format!("{path}/milestones/ms{n}"), None),
        "put member" => (
            Method::PUT,
            format!("{path}/members/newcomer{n}"),
            Some(json!({"role": "consulted"})),
        ),
        "remove member" => (Method::DELETE, format!("{path}/members/extra{n}"), None),
        "delete project" => (Method::DELETE, path, None),
        other => panic!("unknown action {other}"),
    };
    server.call(method, &path, token, body).await
}

async fn every_raci_role_meets_every_project_action(db: TestDb) {
    let server = TestServer::start(db).await;
    let mut tokens = Vec::new();
    let users = ["ada", "rhea", "cato", "iris", "otto.partner-org", "mallory"];
    for user in users {
        tokens.push(server.token("user", Some(user)).await);
    }
    let mut n = 0;
    for case in CASES {
        for (i, role) in ROLES.iter().enumerate() {
            n += 1;
            // A project per attempt, so a deletion or removal never changes the next.
            let pid = format!("p{n}");
            project(&server, &pid, "ada").await;
            member(&server, &pid, "rhea", "responsible").await;
            member(&server, &pid, "cato", "consulted").await;
            member(&server, &pid, "iris", "informed").await;
            member(&server, &pid, "otto.partner-org", "responsible").await;
            let (status, body) = attempt(&server, &pid, case.action, &tokens[i], n).await;
            assert_eq!(
                status, case.expected[i],
                "{role} ({}) {}: {body}",
                users[i], case.action
            );
            assert_no_marker(case.action, &body);
            if status == 403 {
                assert_eq!(body["code"], "forbidden", "{body}");
            }
            if status == 404 {
                // The same answer as for a project that does not exist.
                let (missing, missing_body) =
                    attempt_missing(&server, case.action, &tokens[i]).await;
                assert_eq!(missing, 404);
                assert_eq!(missing_body["code"], body["code"]);
            }
            if case.action == "list entries" && status == 200 {
                let first = &body["data"][0];
                if *role == "informed" {
                    let keys: Vec<&String> = first.as_object().expect("object").keys().collect();
                    assert_eq!(keys, ["category", "name"], "informed sees names only");
                } else {
                    assert!(first["masked"].is_string(), "{body}");
                }
            }
        }
    }
    // The operator does everything, the orchestrator only the project's structure,
    // and a session token nothing here.
    project(&server, "ops", "ada").await;
    let session = session_token(&server, json!({"user_id": "ada", "profile_id": "p1"})).await;
    for case in CASES {
        n += 1;
        let pid = format!("ops{n}");
        project(&server, &pid, "ada").await;
        let (status, body) = attempt(&server, &pid, case.action, &server.operator, n).await;
        assert!(status < 300, "operator {}: {status} {body}", case.action);
        assert_no_marker(case.action, &body);

        n += 1;
        let pid = format!("orch{n}");
        project(&server, &pid, "ada").await;
        let (status, body) = attempt(&server, &pid, case.action, &server.orchestrator, n).await;
        let structural = matches!(
            case.action,
            "view project" | "add milestone" | "remove milestone" | "put member" | "remove member"
        );
        if structural {
            assert!(
                status < 300,
                "orchestrator {}: {status} {body}",
                case.action
            );
        } else {
            assert_eq!(status, 403, "orchestrator {}: {body}", case.action);
        }

        n += 1;
        let pid = format!("sess{n}");
        project(&server, &pid, "ada").await;
        let (status, body) = attempt(&server, &pid, case.action, &session, n).await;
        assert_eq!(status, 403, "session {}: {body}", case.action);
    }
    // Creating projects is for the operator and the orchestrator only.
    for (token, want) in [
        (&tokens[0], 403),
        (&session, 403),
        (&server.orchestrator, 201),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/projects",
                token,
                Some(json!({"name": "Made", "accountable_user_id": "ada"})),
            )
            .await;
        assert_eq!(status, want, "{body}");
        if status == 201 {
            assert!(
                body["id"].as_str().expect("id").starts_with("prj_"),
                "{body}"
            );
        }
    }
}

async fn attempt_missing(server: &TestServer, action: &str, token: &str) -> (u16, Value) {
    let path = "/v1/projects/no-such-project";
    let (method, path, body) = match action {
        "create entry" => (
            Method::POST,
            format!("{path}/vault"),
            Some(json!({"name": "X", "value": "v", "category": "secret", "scope": "project"})),
        ),
        "list entries" => (Method::GET, format!("{path}/vault"), None),
        "delete project" => (Method::DELETE, path.to_owned(), None),
        _ => (Method::GET, path.to_owned(), None),
    };
    server.call(method, &path, token, body).await
}

async fn session_token(server: &TestServer, body: Value) -> String {
    let (status, created) = server
        .call(
            Method::POST,
            "/v1/sessions",
            &server.orchestrator,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().expect("token").to_owned()
}

async fn lookup(server: &TestServer, token: &str, name: &str) -> (u16, Value) {
    server
        .call(
            Method::GET,
            &format!("/v1/runtime/secrets/{name}"),
            token,
            None,
        )
        .await
}

async fn byok_keys_beat_project_entries_and_milestones_stay_apart(db: TestDb) {
    let server = TestServer::start_with(db, crate::support::test_key(), &["PLATFORM_TOKEN"]).await;
    project(&server, "apollo", "ada").await;
    milestone(&server, "apollo", "alpha").await;
    milestone(&server, "apollo", "beta").await;
    let put_key = |name: &'static str, value: &'static str| {
        let server = &server;
        async move {
            let (status, body) = server
                .call(
                    Method::POST,
                    "/v1/workspaces/acme/keys",
                    &server.operator,
                    Some(json!({"name": name, "value": value})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    };
    put_key("OPENAI_API_KEY", "byok-openai-key-value").await;
    let project_entry = |name: &str, value: &str, scope: Value| {
        let mut body = json!({"name": name, "value": value, "category": "api_key"});
        body.as_object_mut()
            .expect("object")
            .extend(scope.as_object().expect("object").clone());
        body
    };
    entry(
        &server,
        "apollo",
        project_entry(
            "OPENAI_API_KEY",
            "project-openai-value",
            json!({"scope": "project"}),
        ),
    )
    .await;
    entry(
        &server,
        "apollo",
        project_entry(
            "DEPLOY_TOKEN",
            "project-wide-deploy",
            json!({"scope": "project"}),
        ),
    )
    .await;
    entry(
        &server,
        "apollo",
        project_entry(
            "DEPLOY_TOKEN",
            "alpha-deploy",
            json!({"scope": "milestone", "milestone_ids": ["alpha"]}),
        ),
    )
    .await;
    entry(
        &server,
        "apollo",
        project_entry(
            "BETA_ONLY",
            "beta-secret-value",
            json!({"scope": "milestone", "milestone_ids": ["beta"]}),
        ),
    )
    .await;
    entry(
        &server,
        "apollo",
        project_entry(
            "PLATFORM_TOKEN",
            "project-tries-reserved",
            json!({"scope": "project"}),
        ),
    )
    .await;
    let expiring = entry(
        &server,
        "apollo",
        project_entry(
            "SHORT_LIVED",
            "short-lived-value",
            json!({"scope": "project", "expires_at": "2027-01-15T10:00:00Z"}),
        ),
    )
    .await;

    // The overlap rule holds for project entries too.
    for scope in [
        json!({"scope": "project"}),
        json!({"scope": "milestone", "milestone_ids": ["beta", "alpha"]}),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/projects/apollo/vault",
                &server.operator,
                Some(project_entry("DEPLOY_TOKEN", "again", scope)),
            )
            .await;
        assert_eq!(status, 409, "{body}");
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/projects/apollo/vault",
            &server.operator,
            Some(project_entry(
                "GHOST",
                "v",
                json!({"scope": "milestone", "milestone_ids": ["gamma"]}),
            )),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "milestone_ids", "{body}");

    workspace_member(&server, "acme", "ada").await;
    let context = json!({
        "user_id": "ada", "profile_id": "p1", "workspace_id": "acme",
        "project_id": "apollo", "milestone_id": "alpha",
        "baseline_env": {"PLATFORM_TOKEN": "from-the-platform"},
        "explain": true,
    });
    let resolved = server.resolve(context.clone()).await;
    let env = &resolved["env"];
    assert_eq!(
        env["OPENAI_API_KEY"], "byok-openai-key-value",
        "BYOK beats the project vault"
    );
    assert_eq!(
        env["DEPLOY_TOKEN"], "alpha-deploy",
        "milestone beats project-wide"
    );
    assert_eq!(
        env["PLATFORM_TOKEN"], "from-the-platform",
        "reserved names come from the baseline"
    );
    assert_eq!(env["SHORT_LIVED"], "short-lived-value");
    assert!(
        env.get("BETA_ONLY").is_none(),
        "alpha never sees a beta entry: {resolved}"
    );
    let sources = &resolved["sources"];
    assert_eq!(
        sources["OPENAI_API_KEY"]["layer"], "workspace_keys",
        "{sources}"
    );
    assert_eq!(
        sources["OPENAI_API_KEY"]["shadowed"][0]["layer"], "project_vault",
        "{sources}"
    );
    assert_eq!(sources["DEPLOY_TOKEN"]["scope"], "milestone", "{sources}");
    assert_eq!(
        sources["DEPLOY_TOKEN"]["shadowed"][0]["scope"], "project",
        "{sources}"
    );
    assert_eq!(
        sources["PLATFORM_TOKEN"]["skipped"][0]["reason"], "reserved",
        "{sources}"
    );

    // The agent on beta sees its own entry and the project-wide one.
    let mut on_beta = context.clone();
    on_beta["milestone_id"] = json!("beta");
    let resolved = server.resolve(on_beta).await;
    assert_eq!(resolved["env"]["BETA_ONLY"], "beta-secret-value");
    assert_eq!(resolved["env"]["DEPLOY_TOKEN"], "project-wide-deploy");

    // The same precedence decides a lookup by name.
    let alpha = session_token(
        &server,
        json!({"user_id": "ada", "profile_id": "p1", "workspace_id": "acme", "project_id": "apollo", "milestone_id": "alpha"}),
    )
    .await;
    for (name, want) in [
        ("OPENAI_API_KEY", "byok-openai-key-value"),
        ("DEPLOY_TOKEN", "alpha-deploy"),
        ("SHORT_LIVED", "short-lived-value"),
    ] {
        let (status, body) = lookup(&server, &alpha, name).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"name": name, "value": want}));
    }
    for hidden in ["BETA_ONLY", "PLATFORM_TOKEN", "NOT_THERE"] {
        let (status, body) = lookup(&server, &alpha, hidden).await;
        assert_eq!(status, 404, "{hidden}: {body}");
    }

    // Past its expiry the entry is skipped by resolution and answers null to a lookup.
    server.clock.advance(chrono::Duration::days(400));
    let alpha = session_token(
        &server,
        json!({"user_id": "ada", "profile_id": "p1", "workspace_id": "acme", "project_id": "apollo", "milestone_id": "alpha"}),
    )
    .await;
    let resolved = server.resolve(context).await;
    assert!(resolved["env"].get("SHORT_LIVED").is_none(), "{resolved}");
    assert_eq!(resolved["expired"], json!(["SHORT_LIVED"]));
    let (status, body) = lookup(&server, &alpha, "SHORT_LIVED").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"name": "SHORT_LIVED", "value": null, "expired": true})
    );
    let (_, listed) = server
        .call(
            Method::GET,
            "/v1/projects/apollo/vault?expired=true",
            &server.operator,
            None,
        )
        .await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [expiring.as_str()]);
}

async fn deleting_a_project_leaves_nothing_behind(db: TestDb) {
    let server = TestServer::start(db).await;
    project(&server, "doomed", "ada").await;
    project(&server, "kept", "ada").await;
    milestone(&server, "doomed", "m1").await;
    member(&server, "doomed", "rhea", "responsible").await;
    for pid in ["doomed", "kept"] {
        let id = entry(
            &server,
            pid,
            json!({"name": "WIDE", "value": MARKER, "category": "secret", "scope": "project"}),
        )
        .await;
        server
            .call(
                Method::PATCH,
                &format!("/v1/projects/{pid}/vault/{id}"),
                &server.operator,
                Some(json!({"value": "second-version-value"})),
            )
            .await;
    }
    entry(
        &server,
        "doomed",
        json!({"name": "NARROW", "value": MARKER, "category": "secret", "scope": "milestone", "milestone_ids": ["m1"]}),
    )
    .await;
    let ada = server.token("user", Some("ada")).await;
    let (status, body) = server
        .call(Method::DELETE, "/v1/projects/doomed", &ada, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"project_id": "doomed", "entries_removed": 2, "milestones_removed": 1, "members_removed": 2})
    );
    let (status, _) = server
        .call(Method::GET, "/v1/projects/doomed", &server.operator, None)
        .await;
    assert_eq!(status, 404);
    // Nothing of it in any table; the other project untouched.
    for (table, column) in [
        ("projects", "id"),
        ("milestones", "project_id"),
        ("project_members", "project_id"),
        ("secrets", "owner_id"),
        ("secret_targets", "owner_id"),
    ] {
        assert_eq!(server.db.count(table, column, "doomed"), 0, "{table}");
        assert!(
            server.db.count(table, column, "kept") > 0
                || table == "milestones"
                || table == "secret_targets",
            "{table}"
        );
    }
    assert_eq!(
        server.db.scalar(
            "SELECT COUNT(*) FROM secret_versions v LEFT JOIN secrets s ON s.id = v.secret_id WHERE s.id IS NULL"
        ),
        0,
        "no version outlives its secret"
    );
    assert_eq!(
        server.db.scalar("SELECT COUNT(*) FROM secret_versions"),
        2,
        "the kept project's two versions"
    );
}

async fn milestones_and_members_keep_the_project_consistent(db: TestDb) {
    let server = TestServer::start(db).await;
    project(&server, "p", "ada").await;
    for m in ["m1", "m2"] {
        milestone(&server, "p", m).await;
    }
    let both = entry(
        &server,
        "p",
        json!({"name": "BOTH", "value": "v", "category": "secret", "scope": "milestone", "milestone_ids": ["m1", "m2"]}),
    )
    .await;
    let only = entry(
        &server,
        "p",
        json!({"name": "ONLY_M1", "value": "v", "category": "secret", "scope": "milestone", "milestone_ids": ["m1"]}),
    )
    .await;
    let ada = server.token("user", Some("ada")).await;
    let (status, body) = server
        .call(Method::DELETE, "/v1/projects/p/milestones/m1", &ada, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"milestone_id": "m1", "entries_narrowed": 1, "entries_deleted": 1})
    );
    let (_, narrowed) = server
        .call(
            Method::GET,
            &format!("/v1/projects/p/vault/{both}"),
            &ada,
            None,
        )
        .await;
    assert_eq!(narrowed["milestone_ids"], json!(["m2"]));
    let (status, recategorized) = server
        .call(
            Method::PATCH,
            &format!("/v1/projects/p/vault/{both}"),
            &ada,
            Some(json!({"category": "certificate"})),
        )
        .await;
    assert_eq!(status, 200, "{recategorized}");
    assert_eq!(recategorized["category"], "certificate");
    assert_eq!(
        recategorized["version"], 1,
        "metadata changes keep the version"
    );
    let (status, refused) = server
        .call(
            Method::PATCH,
            &format!("/v1/projects/p/vault/{both}"),
            &ada,
            Some(json!({"category": "shiny", "description": "never applied"})),
        )
        .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (422, Some("category")),
        "{refused}"
    );
    let (_, unchanged) = server
        .call(
            Method::GET,
            &format!("/v1/projects/p/vault/{both}"),
            &ada,
            None,
        )
        .await;
    assert_eq!(
        unchanged["description"],
        Value::Null,
        "a refused change changes nothing"
    );
    let (status, _) = server
        .call(
            Method::GET,
            &format!("/v1/projects/p/vault/{only}"),
            &ada,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, project_view) = server.call(Method::GET, "/v1/projects/p", &ada, None).await;
    assert_eq!(project_view["milestones"][0]["id"], "m2", "{project_view}");

    // The last Accountable can neither leave nor be demoted.
    let (status, body) = server
        .call(Method::DELETE, "/v1/projects/p/members/ada", &ada, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("last_accountable")),
        "{body}"
    );
    let (status, _) = server
        .call(
            Method::PUT,
            "/v1/projects/p/members/ada",
            &ada,
            Some(json!({"role": "informed"})),
        )
        .await;
    assert_eq!(status, 409);
    // With a second Accountable, the first may step down.
    member(&server, "p", "bea", "accountable").await;
    let (status, body) = server
        .call(
            Method::PUT,
            "/v1/projects/p/members/ada",
            &ada,
            Some(json!({"role": "informed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "informed");
    let (status, _) = server
        .call(Method::DELETE, "/v1/projects/p/members/bea", &ada, None)
        .await;
    assert_eq!(status, 403, "ada is informed now");
    // Bad input names its field and changes nothing.
    let bea = server.token("user", Some("bea")).await;
    for (path, body, field) in [
        (
            "/v1/projects/p/members/carl",
            json!({"role": "owner"}),
            "role",
        ),
        (
            "/v1/projects/p/members/bad%20id",
            json!({"role": "informed"}),
            "user_id",
        ),
    ] {
        let (status, answer) = server.call(Method::PUT, path, &bea, Some(body)).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    for (body, field) in [
        (
            json!({"name": "X", "value": "v", "category": "shiny", "scope": "project"}),
            "category",
        ),
        (
            json!({"name": "X", "value": "v", "category": "secret", "scope": "all"}),
            "scope",
        ),
        (
            json!({"name": "X", "value": "v", "category": "secret", "scope": "milestone"}),
            "milestone_ids",
        ),
        (
            json!({"name": "X", "value": "v", "category": "secret", "scope": "project", "milestone_ids": ["m2"]}),
            "milestone_ids",
        ),
        (
            json!({"name": "X", "value": "v", "category": "secret", "scope": "project", "profile_ids": ["p1"]}),
            "profile_ids",
        ),
    ] {
        let (status, answer) = server
            .call(Method::POST, "/v1/projects/p/vault", &bea, Some(body))
            .await;
        assert!(status == 422 || status == 400, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    // Each user lists the projects they belong to, with their role; operators all.
    project(&server, "q", "carl").await;
    let (status, listed) = server.call(Method::GET, "/v1/projects", &ada, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["data"].as_array().expect("data").len(),
        1,
        "{listed}"
    );
    assert_eq!(listed["data"][0]["id"], "p");
    assert_eq!(listed["data"][0]["role"], "informed");
    let (_, first) = server
        .call(Method::GET, "/v1/projects?limit=1", &server.operator, None)
        .await;
    assert_eq!(first["data"][0]["id"], "p");
    assert!(first["data"][0].get("role").is_none());
    let cursor = first["next_cursor"]
        .as_str()
        .expect("more follow")
        .to_owned();
    let (_, second) = server
        .call(
            Method::GET,
            &format!("/v1/projects?limit=1&cursor={cursor}"),
            &server.operator,
            None,
        )
        .await;
    assert_eq!(second["data"][0]["id"], "q");
    assert_eq!(second["next_cursor"], Value::Null);
    let (status, refused) = server
        .call(
            Method::GET,
            "/v1/projects?cursor=bogus!",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (422, Some("cursor")),
        "{refused}"
    );
    let (_, members) = server.call(Method::GET, "/v1/projects/p", &bea, None).await;
    let names: Vec<&str> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["user_id"].as_str().expect("user"))
        .collect();
    assert_eq!(names, ["ada", "bea"]);
}

async fn a_session_token_does_one_thing_in_one_context(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = server.token("user", Some("alice")).await;
    for (name, scope) in [
        ("FOR_P1", json!({"scope": "agents", "profile_ids": ["p1"]})),
        ("FOR_P2", json!({"scope": "agents", "profile_ids": ["p2"]})),
    ] {
        let mut body = json!({"name": name, "value": format!("{name}-value")});
        body.as_object_mut()
            .expect("object")
            .extend(scope.as_object().expect("object").clone());
        let (status, created) = server
            .call(Method::POST, "/v1/secrets", &alice, Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/sessions",
            &server.orchestrator,
            Some(json!({"user_id": "alice", "profile_id": "p1", "ttl_seconds": 600})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let session = body["token"].as_str().expect("token").to_owned();
    let session_id = body["id"].as_str().expect("id").to_owned();
    assert!(session.starts_with("vault_sess_"));
    assert_eq!(body["expires_at"], "2027-01-15T08:10:00Z");

    let (status, found) = lookup(&server, &session, "FOR_P1").await;
    assert_eq!(
        (status, found),
        (200, json!({"name": "FOR_P1", "value": "FOR_P1-value"}))
    );
    let (status, _) = lookup(&server, &session, "FOR_P2").await;
    assert_eq!(status, 404, "bound to profile p1");
    let (status, body) = lookup(&server, &session, "bad-name").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("name")),
        "{body}"
    );

    // Nothing else answers to a session token.
    for (method, path, body) in [
        (Method::GET, "/v1/secrets", None),
        (
            Method::POST,
            "/v1/secrets",
            Some(json!({"name": "X", "value": "v"})),
        ),
        (
            Method::POST,
            "/v1/resolve",
            Some(json!({"user_id": "alice", "profile_id": "p1"})),
        ),
        (
            Method::POST,
            "/v1/sessions",
            Some(json!({"user_id": "alice", "profile_id": "p1"})),
        ),
        (
            Method::DELETE,
            &format!("/v1/sessions/{session_id}") as &str,
            None,
        ),
        (Method::GET, "/v1/tokens", None),
        (Method::GET, "/v1/audit", None),
        (Method::GET, "/v1/workspaces/acme/keys", None),
        (Method::GET, "/v1/projects/any", None),
    ] {
        let (status, answer) = server.call(method.clone(), path, &session, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    // Only the orchestrator mints sessions, within the TTL bounds.
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/sessions",
            &alice,
            Some(json!({"user_id": "alice", "profile_id": "p1"})),
        )
        .await;
    assert_eq!(status, 403);
    for ttl in [0, 86_401] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/sessions",
                &server.orchestrator,
                Some(json!({"user_id": "alice", "profile_id": "p1", "ttl_seconds": ttl})),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("ttl_seconds")),
            "{body}"
        );
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/sessions",
            &server.orchestrator,
            Some(json!({"user_id": "alice", "profile_id": "p1", "milestone_id": "m1"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("milestone_id")),
        "{body}"
    );

    // Every lookup is in the audit trail, found or not, and never with a value.
    let (_, audit) = server
        .call(Method::GET, "/v1/audit?limit=200", &server.operator, None)
        .await;
    let lookups: Vec<&Value> = audit["data"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["action"] == "runtime.lookup")
        .collect();
    assert_eq!(lookups.len(), 3, "{audit}");
    assert!(!audit.to_string().contains("FOR_P1-value"));
    assert!(
        lookups
            .iter()
            .all(|r| r["principal"] == format!("session:{session_id}")),
        "{lookups:?}"
    );

    // Expiry and DELETE both end a session at once.
    server.clock.advance(chrono::Duration::seconds(600));
    let (status, _) = lookup(&server, &session, "FOR_P1").await;
    assert_eq!(status, 401, "expired");
    let (_, body) = server
        .call(
            Method::POST,
            "/v1/sessions",
            &server.orchestrator,
            Some(json!({"user_id": "alice", "profile_id": "p1"})),
        )
        .await;
    let second = body["token"].as_str().expect("token").to_owned();
    let second_id = body["id"].as_str().expect("id").to_owned();
    let (status, _) = lookup(&server, &second, "FOR_P1").await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{second_id}"),
            &server.orchestrator,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = lookup(&server, &second, "FOR_P1").await;
    assert_eq!(status, 401, "ended");
    // A day after it expired, the next session start purges the first one.
    server
        .clock
        .advance(chrono::Duration::days(1) + chrono::Duration::seconds(1));
    let rows_before = server
        .db
        .scalar("SELECT COUNT(*) FROM api_tokens WHERE kind = 'session'");
    session_token(&server, json!({"user_id": "alice", "profile_id": "p1"})).await;
    let rows_after = server
        .db
        .scalar("SELECT COUNT(*) FROM api_tokens WHERE kind = 'session'");
    assert_eq!(
        rows_after, rows_before,
        "the session that expired a day ago went and a new one came; the ended one expires \
         later and stays until then"
    );
    // Only sessions end through /v1/sessions.
    let (_, tokens) = server
        .call(Method::GET, "/v1/tokens", &server.operator, None)
        .await;
    let user_token = tokens["data"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["kind"] == "user")
        .expect("alice's token")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(
        tokens["data"]
            .as_array()
            .expect("tokens")
            .iter()
            .all(|t| t["kind"] != "session"),
        "{tokens}"
    );
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{user_token}"),
            &server.orchestrator,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

async fn workspace_keys_belong_to_operators_and_workspace_admins(db: TestDb) {
    let server = TestServer::start(db).await;
    let wanda = server.token("user", Some("wanda")).await;
    let ada = server.token("user", Some("ada")).await;
    let (status, _) = server
        .call(Method::GET, "/v1/workspaces/acme/keys", &wanda, None)
        .await;
    assert_eq!(status, 404, "not an admin yet");
    let (status, _) = server
        .call(
            Method::PUT,
            "/v1/workspaces/acme/admins/wanda",
            &wanda,
            None,
        )
        .await;
    assert_eq!(status, 403, "admins are registered by operators");
    let (status, body) = server
        .call(
            Method::PUT,
            "/v1/workspaces/acme/admins/wanda",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "wanda");

    let (status, created) = server
        .call(
            Method::POST,
            "/v1/workspaces/acme/keys",
            &wanda,
            Some(json!({"name": "ANTHROPIC_API_KEY", "value": MARKER, "scope": "agents", "profile_ids": ["p1"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_no_marker("create", &created);
    assert_eq!(created["workspace_id"], "acme");
    assert_eq!(created["profile_ids"], json!(["p1"]));
    let id = created["id"].as_str().expect("id").to_owned();
    let key_path = format!("/v1/workspaces/acme/keys/{id}");
    let (status, rotated) = server
        .call(
            Method::PATCH,
            &key_path,
            &wanda,
            Some(json!({"value": "rotated-byok-value"})),
        )
        .await;
    assert_eq!(
        (status, rotated["version"].as_u64()),
        (200, Some(2)),
        "{rotated}"
    );
    let (status, rolled) = server
        .call(
            Method::POST,
            &format!("{key_path}/rollback"),
            &wanda,
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(
        (status, rolled["version"].as_u64()),
        (200, Some(3)),
        "{rolled}"
    );
    // The keys reach the workspace's members' agents, and nobody else's.
    let context = json!({"user_id": "anyone", "profile_id": "p1", "workspace_id": "acme"});
    let (status, refused) = server
        .call(
            Method::POST,
            "/v1/resolve",
            &server.orchestrator,
            Some(context.clone()),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str(), refused["field"].as_str()),
        (
            403,
            Some("workspace_injection_denied"),
            Some("workspace_id")
        ),
        "{refused}"
    );
    assert_no_marker("a refused resolution", &refused);
    workspace_member(&server, "acme", "anyone").await;
    let resolved = server.resolve(context).await;
    assert_eq!(resolved["env"]["ANTHROPIC_API_KEY"], MARKER);
    let (status, versions) = server
        .call(Method::GET, &format!("{key_path}/versions"), &wanda, None)
        .await;
    assert_eq!(status, 200);
    assert_no_marker("versions", &versions);
    assert_eq!(versions["data"].as_array().expect("versions").len(), 3);

    // Not an admin of this workspace: it does not exist for them; the key is not
    // reachable through another workspace either.
    for (token, path) in [
        (&ada, "/v1/workspaces/acme/keys".to_owned()),
        (&ada, key_path.clone()),
        (&wanda, format!("/v1/workspaces/other/keys/{id}")),
    ] {
        let (status, body) = server.call(Method::GET, &path, token, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _) = server
        .call(
            Method::GET,
            "/v1/workspaces/acme/keys",
            &server.orchestrator,
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, listed) = server
        .call(
            Method::GET,
            "/v1/workspaces/acme/keys",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_no_marker("list", &listed);
    let (status, every_key) = server
        .call(Method::GET, "/v1/workspace-keys", &server.operator, None)
        .await;
    assert_eq!(status, 200, "{every_key}");
    assert_eq!(every_key["data"][0]["workspace_id"], "acme");
    assert_no_marker("every key", &every_key);
    let (status, _) = server
        .call(Method::GET, "/v1/workspace-keys", &wanda, None)
        .await;
    assert_eq!(status, 403, "operators only");
    let (_, admins) = server
        .call(
            Method::GET,
            "/v1/workspaces/acme/admins",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(admins["data"][0]["user_id"], "wanda");

    // Removing the admin takes the access away at once.
    let (status, _) = server
        .call(
            Method::DELETE,
            "/v1/workspaces/acme/admins/wanda",
            &server.operator,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = server.call(Method::DELETE, &key_path, &wanda, None).await;
    assert_eq!(status, 404);
    let (status, _) = server
        .call(Method::DELETE, &key_path, &server.operator, None)
        .await;
    assert_eq!(status, 204);
}
