//! vault-client against the real server on a loopback port: every route through its
//! typed method, each answer read into the wire type the server wrote it with, and
//! refusals read as problems a caller can branch on.

use vault_testkit::on_both_backends;

use crate::support::{TestDb, TestServer};
use vault_client::wire::*;
use vault_client::{
    Client, ClientError, Config, EntryChange, EntryRef, Plaintext, ProblemCode, TlsSettings,
};
use vault_core::{EnvName, Layer, ProjectId, UserId, WorkspaceId};
use zeroize::Zeroizing;

on_both_backends!(
    a_user_manages_secrets_through_the_client,
    the_orchestrator_resolves_and_an_agent_looks_up_through_the_client,
    an_operator_manages_projects_workspaces_tokens_and_audit_through_the_client,
    refusals_arrive_as_problems_with_their_code_and_field,
    runtime_lookups_share_the_candidate_cache_and_see_every_change,
);

fn client(server: &TestServer, token: &str) -> Client {
    Client::new(Config::new(&server.base, Zeroizing::new(token.to_owned()))).expect("a client")
}

fn problem(error: ClientError) -> vault_client::Problem {
    match error {
        ClientError::Problem(problem) => *problem,
        other => panic!("not a problem: {other}"),
    }
}

async fn a_user_manages_secrets_through_the_client(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = client(&server, &server.token("user", Some("alice")).await);
    let created = alice
        .create_secret(&CreateSecret {
            name: "API_KEY".into(),
            value: Plaintext::new("first-value-1234"),
            scope: Some("agents".into()),
            profile_ids: Some(vec!["coder".into()]),
            ..CreateSecret::default()
        })
        .await
        .expect("created");
    assert_eq!(
        created.owner(),
        Some(vault_core::Owner::User(UserId::parse("alice").expect("id")))
    );
    assert_eq!(created.version, 1);
    assert_eq!(created.targets(), vec!["coder".to_owned()]);
    assert!(!created.masked.contains("first-value"));

    let entry = EntryRef::of(&created).expect("an owner");
    assert_eq!(entry, EntryRef::UserSecret(created.id.clone()));
    let rotated = alice
        .update_entry(
            &entry,
            &EntryChange::rotation(&entry, Plaintext::new("second-value-5678"), 1),
        )
        .await
        .expect("rotated");
    assert_eq!(rotated.version, 2);
    let described = alice
        .update_entry(
            &entry,
            &EntryChange::Profiles(UpdateSecret {
                description: Some(Some("the CI key".into())),
                ..UpdateSecret::default()
            }),
        )
        .await
        .expect("described");
    assert_eq!(described.description.as_deref(), Some("the CI key"));
    assert_eq!(described.version, 2);
    let cleared = alice
        .update_entry(
            &entry,
            &EntryChange::Profiles(UpdateSecret {
                description: Some(None),
                ..UpdateSecret::default()
            }),
        )
        .await
        .expect("cleared");
    assert_eq!(cleared.description, None);

    let versions = alice.entry_versions(&entry).await.expect("versions");
    assert_eq!(
        versions
            .data
            .iter()
            .map(|v| (v.version, v.current))
            .collect::<Vec<_>>(),
        vec![(2, true), (1, false)]
    );
    let rolled = alice
        .rollback_entry(
            &entry,
            &Rollback {
                version: 1,
                expected_version: Some(2),
            },
        )
        .await
        .expect("rolled back");
    assert_eq!(rolled.version, 3);
    assert_eq!(alice.entry(&entry).await.expect("read").version, 3);

    for n in 0..5 {
        alice
            .create_secret(&CreateSecret {
                name: format!("MORE_{n}"),
                value: Plaintext::new("another-value"),
                ..CreateSecret::default()
            })
            .await
            .expect("created");
    }
    let all = alice
        .collect_pages(100, |cursor| {
            let alice = alice.clone();
            async move {
                alice
                    .list_secrets(&ListParams {
                        limit: Some(2),
                        cursor,
                        ..ListParams::default()
                    })
                    .await
            }
        })
        .await
        .expect("every page");
    assert_eq!(all.len(), 6);
    let first_three = alice
        .collect_pages(3, |cursor| {
            let alice = alice.clone();
            async move {
                alice
                    .list_secrets(&ListParams {
                        limit: Some(2),
                        cursor,
                        ..ListParams::default()
                    })
                    .await
            }
        })
        .await
        .expect("three");
    assert_eq!(first_three.len(), 3);

    alice.delete_entry(&entry).await.expect("deleted");
    let gone = problem(alice.entry(&entry).await.expect_err("gone"));
    assert_eq!((gone.status, gone.code), (404, ProblemCode::NotFound));
}

async fn the_orchestrator_resolves_and_an_agent_looks_up_through_the_client(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = client(&server, &server.token("user", Some("alice")).await);
    alice
        .create_secret(&CreateSecret {
            name: "API_KEY".into(),
            value: Plaintext::new("stored-value-1234"),
            ..CreateSecret::default()
        })
        .await
        .expect("created");
    let orchestrator = client(&server, &server.orchestrator);
    let context = Context {
        user_id: "alice".into(),
        profile_id: "coder".into(),
        ..Context::default()
    };
    let mut request = ResolveRequest::for_context(context.clone());
    request.baseline_env = Some([("PATH".to_owned(), Plaintext::new("/usr/bin"))].into());
    request.explain = true;
    let resolved = orchestrator.resolve(&request).await.expect("resolved");
    let name = EnvName::parse("API_KEY").expect("name");
    assert_eq!(
        resolved.env.get(&name).map(|v| v.expose()),
        Some("stored-value-1234")
    );
    assert_eq!(
        resolved
            .env
            .get(&EnvName::parse("PATH").expect("name"))
            .map(|v| v.expose()),
        Some("/usr/bin")
    );
    let sources = resolved.sources.expect("explained");
    assert_eq!(sources["API_KEY"].winner.layer, Layer::UserSecrets);
    assert_eq!(sources["PATH"].winner.layer, Layer::Baseline);
    assert!(!format!("{:?}", resolved.env).contains("stored-value"));

    let session = orchestrator
        .create_session(&CreateSession {
            user_id: context.user_id.clone(),
            profile_id: context.profile_id.clone(),
            ttl_seconds: Some(600),
            ..CreateSession::default()
        })
        .await
        .expect("a session");
    assert!(session.token.expose().starts_with("vault_sess_"));
    assert!(!format!("{session:?}").contains(session.token.expose()));
    let agent = client(&server, session.token.expose());
    let looked_up = agent.runtime_secret(&name).await.expect("looked up");
    assert_eq!(
        looked_up.value.as_ref().map(|v| v.expose()),
        Some("stored-value-1234")
    );
    assert!(!looked_up.expired);
    orchestrator.end_session(&session.id).await.expect("ended");
    let after = problem(agent.runtime_secret(&name).await.expect_err("ended"));
    assert_eq!(after.code, ProblemCode::Unauthenticated);
}

async fn an_operator_manages_projects_workspaces_tokens_and_audit_through_the_client(db: TestDb) {
    let server = TestServer::start(db).await;
    let operator = client(&server, &server.operator);
    assert_eq!(operator.health().await.expect("live").status, "ok");
    let ready = operator.readiness().await.expect("ready");
    assert_eq!(
        (ready.ready, ready.database, ready.root_key),
        (true, DatabaseState::Ok, RootKeyState::Ok)
    );

    let project = operator
        .create_project(&CreateProject {
            id: Some("apollo".into()),
            name: "Apollo".into(),
            accountable_user_id: "alice".into(),
        })
        .await
        .expect("a project");
    let apollo = ProjectId::parse(&project.id).expect("id");
    let milestone = operator
        .create_milestone(
            &apollo,
            &CreateMilestone {
                id: Some("m1".into()),
                name: "First".into(),
            },
        )
        .await
        .expect("a milestone");
    let bob = UserId::parse("bob").expect("id");
    let member = operator
        .put_project_member(
            &apollo,
            &bob,
            &PutMember {
                role: "informed".into(),
            },
        )
        .await
        .expect("a member");
    assert_eq!(member.role, vault_core::ProjectRole::Informed);
    let entry = operator
        .create_project_entry(
            &apollo,
            &CreateEntry {
                name: "DEPLOY_KEY".into(),
                value: Plaintext::new("deploy-value-1234"),
                category: "api_key".into(),
                scope: "milestone".into(),
                milestone_ids: Some(vec![milestone.id.clone()]),
                ..CreateEntry::default()
            },
        )
        .await
        .expect("an entry");
    let entry_ref = EntryRef::of(&entry).expect("an owner");
    let changed = operator
        .update_entry(
            &entry_ref,
            &EntryChange::Milestones(UpdateEntry {
                category: Some("secret".into()),
                ..UpdateEntry::default()
            }),
        )
        .await
        .expect("changed");
    assert_eq!(changed.category, vault_core::Category::Secret);
    let full = operator
        .list_project_entries(&apollo, &EntryListParams::default())
        .await
        .expect("entries");
    assert!(matches!(&full, EntryList::Full(page) if page.data.len() == 1));
    let informed = client(&server, &server.token("user", Some("bob")).await);
    let names = informed
        .list_project_entries(&apollo, &EntryListParams::default())
        .await
        .expect("names");
    assert!(
        matches!(&names, EntryList::Names(page) if page.data[0].name == "DEPLOY_KEY"),
        "{names:?}"
    );
    let projects = operator
        .list_projects(&ProjectListParams::default())
        .await
        .expect("projects");
    assert_eq!(projects.data.len(), 1);
    assert_eq!(
        operator
            .project(&apollo)
            .await
            .expect("read")
            .milestones
            .len(),
        1
    );
    operator
        .remove_project_member(&apollo, &bob)
        .await
        .expect("removed");
    let narrowed = operator
        .delete_milestone(&apollo, &vault_core::MilestoneId::parse("m1").expect("id"))
        .await
        .expect("milestone deleted");
    assert_eq!(narrowed.entries_deleted, 1);

    let acme = WorkspaceId::parse("acme").expect("id");
    operator
        .put_workspace_admin(&acme, &bob)
        .await
        .expect("an admin");
    assert_eq!(
        operator
            .list_workspace_admins(&acme)
            .await
            .expect("admins")
            .data
            .len(),
        1
    );
    let carol = UserId::parse("carol").expect("id");
    operator
        .put_workspace_member(&acme, &carol)
        .await
        .expect("a member");
    assert_eq!(
        operator
            .workspace_member(&acme, &carol)
            .await
            .expect("member")
            .user_id,
        "carol"
    );
    assert_eq!(
        operator
            .list_workspace_members(&acme)
            .await
            .expect("members")
            .data
            .len(),
        1
    );
    let key = operator
        .create_workspace_key(
            &acme,
            &CreateKey {
                name: "ACME_KEY".into(),
                value: Plaintext::new("acme-value-1234"),
                ..CreateKey::default()
            },
        )
        .await
        .expect("a key");
    assert_eq!(key.workspace_id.as_ref(), Some(&acme));
    assert_eq!(
        operator
            .list_workspace_keys(&acme, &KeyListParams::default())
            .await
            .expect("keys")
            .data
            .len(),
        1
    );
    assert_eq!(
        operator
            .list_all_workspace_keys(&KeyListParams::default())
            .await
            .expect("all keys")
            .data
            .len(),
        1
    );
    operator
        .remove_workspace_member(&acme, &carol)
        .await
        .expect("removed");
    operator
        .remove_workspace_admin(&acme, &bob)
        .await
        .expect("removed");

    let issued = operator
        .create_token(&CreateToken {
            kind: "user".into(),
            user_id: Some("dave".into()),
            ttl: Some("1h".into()),
            label: Some("laptop".into()),
        })
        .await
        .expect("a token");
    assert_eq!(issued.token.kind, vault_core::TokenKind::User);
    assert!(issued.secret.expose().starts_with("vault_user_"));
    assert!(!format!("{issued:?}").contains(issued.secret.expose()));
    let tokens = operator.list_tokens().await.expect("tokens");
    assert!(tokens.data.iter().any(|t| t.id == issued.token.id));
    operator
        .revoke_token(&issued.token.id)
        .await
        .expect("revoked");

    let removal = operator.delete_project(&apollo).await.expect("deleted");
    assert_eq!(removal.project_id, "apollo");
    let trail = operator
        .audit(&AuditParams {
            action: Some("project.create".into()),
            ..AuditParams::default()
        })
        .await
        .expect("the trail");
    assert_eq!(trail.data.len(), 1);
    assert_eq!(
        trail.data[0].action(),
        Some(vault_core::AuditAction::ProjectCreate)
    );
    assert!(
        trail.data[0].target_label().contains("apollo"),
        "{}",
        trail.data[0].target_label()
    );
}

async fn refusals_arrive_as_problems_with_their_code_and_field(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = client(&server, &server.token("user", Some("alice")).await);
    let invalid = problem(
        alice
            .create_secret(&CreateSecret {
                name: "not a name".into(),
                value: Plaintext::new("v"),
                ..CreateSecret::default()
            })
            .await
            .expect_err("refused"),
    );
    assert_eq!(
        (invalid.status, invalid.code, invalid.field.as_deref()),
        (422, ProblemCode::InvalidValue, Some("name"))
    );
    let created = alice
        .create_secret(&CreateSecret {
            name: "A".into(),
            value: Plaintext::new("first-value-1234"),
            ..CreateSecret::default()
        })
        .await
        .expect("created");
    let entry = EntryRef::of(&created).expect("an owner");
    let stale = problem(
        alice
            .update_entry(
                &entry,
                &EntryChange::rotation(&entry, Plaintext::new("x-1234"), 9),
            )
            .await
            .expect_err("stale"),
    );
    assert_eq!((stale.status, stale.code), (409, ProblemCode::StaleVersion));
    let forbidden = problem(alice.list_tokens().await.expect_err("operators only"));
    assert_eq!(
        (forbidden.status, forbidden.code),
        (403, ProblemCode::Forbidden)
    );
    let nobody = client(
        &server,
        "vault_user_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    let refused = problem(
        nobody
            .list_secrets(&ListParams::default())
            .await
            .expect_err("401"),
    );
    assert_eq!(
        (refused.status, refused.code),
        (401, ProblemCode::Unauthenticated)
    );
    let too_many = problem(
        alice
            .list_secrets(&ListParams {
                limit: Some(201),
                ..ListParams::default()
            })
            .await
            .expect_err("limit"),
    );
    assert_eq!(too_many.field.as_deref(), Some("limit"));

    let unreachable = Client::new(Config::new(
        format!("http://127.0.0.1:{}", vault_testkit::free_port()),
        Zeroizing::new("vault_user_x".into()),
    ))
    .expect("a client");
    assert!(matches!(
        unreachable.health().await,
        Err(ClientError::Unreachable { .. })
    ));
    let half = Config {
        tls: TlsSettings {
            client_cert: Some("cert.pem".into()),
            ..TlsSettings::default()
        },
        ..Config::new(&server.base, Zeroizing::new("t".into()))
    };
    assert!(matches!(
        Client::new(half),
        Err(ClientError::Config { setting, .. }) if setting.contains("VAULT_CLIENT_KEY")
    ));
}

/// A lookup goes through the same pipeline as a resolution: its candidates come from
/// the shared cache (a warm context reads no candidates again), and a rotation made
/// through the API is in the very next lookup.
async fn runtime_lookups_share_the_candidate_cache_and_see_every_change(db: TestDb) {
    let server = TestServer::start(db).await;
    let alice = client(&server, &server.token("user", Some("alice")).await);
    let created = alice
        .create_secret(&CreateSecret {
            name: "API_KEY".into(),
            value: Plaintext::new("first-value-1234"),
            ..CreateSecret::default()
        })
        .await
        .expect("created");
    let orchestrator = client(&server, &server.orchestrator);
    let session = orchestrator
        .create_session(&CreateSession {
            user_id: "alice".into(),
            profile_id: "coder".into(),
            ..CreateSession::default()
        })
        .await
        .expect("a session");
    let agent = client(&server, session.token.expose());
    let name = EnvName::parse("API_KEY").expect("name");
    let value = |found: RuntimeSecret| found.value.map(|v| v.expose().to_owned());

    let hits = || server.state.candidates.hits.get();
    let misses = || server.state.candidates.misses.get();
    let first = agent.runtime_secret(&name).await.expect("found");
    assert_eq!(value(first).as_deref(), Some("first-value-1234"));
    let (hits_before, misses_before) = (hits(), misses());
    let again = agent.runtime_secret(&name).await.expect("found");
    assert_eq!(value(again).as_deref(), Some("first-value-1234"));
    assert_eq!(
        (hits(), misses()),
        (hits_before + 1, misses_before),
        "a warm lookup"
    );

    let entry = EntryRef::of(&created).expect("an owner");
    alice
        .update_entry(
            &entry,
            &EntryChange::rotation(&entry, Plaintext::new("second-value-5678"), 1),
        )
        .await
        .expect("rotated");
    let after = agent.runtime_secret(&name).await.expect("found");
    assert_eq!(value(after).as_deref(), Some("second-value-5678"));
    let missing = problem(
        agent
            .runtime_secret(&EnvName::parse("NOT_THERE").expect("name"))
            .await
            .expect_err("404"),
    );
    assert_eq!(missing.code, ProblemCode::NotFound);
}
