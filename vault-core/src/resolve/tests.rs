//! Example-based tests of the resolver: one scenario per rule.

use super::fixtures::*;
use super::*;

fn input(
    context: ResolutionContext,
    candidates: Vec<Candidate<SecretValue>>,
    profile_env: EnvMap,
    baseline_env: EnvMap,
) -> ResolutionInput<Vec<Candidate<SecretValue>>> {
    ResolutionInput {
        context,
        candidates,
        profile_env,
        baseline_env,
    }
}

fn run(input: ResolutionInput<Vec<Candidate<SecretValue>>>) -> Resolution<SecretValue> {
    resolve(input, &PrecedencePolicy::default(), at(NOW))
}

fn source(layer: Layer, secret: Option<(usize, ScopeKind)>) -> Source {
    Source {
        layer,
        secret: secret.map(|(n, scope)| SecretRef {
            id: secret_id(n),
            scope,
        }),
    }
}

#[test]
fn user_scopes_follow_the_seed_semantics() {
    // getDecryptedForProfile: `all` rows always, `agents` rows only for listed profiles.
    let candidates = vec![
        candidate(1, "SUPABASE_KEY", user("u1"), Scope::All, None, "supa"),
        candidate(
            2,
            "STRIPE_WEBHOOK_SECRET",
            user("u1"),
            agents(&["prof_billing"]),
            None,
            "whsec",
        ),
        candidate(
            3,
            "GITHUB_PAT",
            user("u1"),
            agents(&["prof_dev", "prof_ops"]),
            None,
            "ghp",
        ),
    ];
    let billing = run(input(
        context("u1", "prof_billing", None, None, None),
        candidates.clone(),
        EnvMap::new(),
        EnvMap::new(),
    ));
    assert_eq!(
        exposed(billing),
        BTreeMap::from([
            ("STRIPE_WEBHOOK_SECRET".into(), "whsec".into()),
            ("SUPABASE_KEY".into(), "supa".into()),
        ])
    );
    let ops = run(input(
        context("u1", "prof_ops", None, None, None),
        candidates,
        EnvMap::new(),
        EnvMap::new(),
    ));
    assert_eq!(
        exposed(ops),
        BTreeMap::from([
            ("GITHUB_PAT".into(), "ghp".into()),
            ("SUPABASE_KEY".into(), "supa".into()),
        ])
    );
}

#[test]
fn the_default_policy_orders_all_five_layers() {
    let candidates = vec![
        candidate(1, "TOKEN", user("u1"), Scope::All, None, "user"),
        candidate(2, "TOKEN", workspace("w1"), Scope::All, None, "workspace"),
        candidate(3, "TOKEN", project("p1"), Scope::Project, None, "project"),
        candidate(
            4,
            "BYOK_ONLY",
            workspace("w1"),
            Scope::All,
            None,
            "workspace",
        ),
        candidate(
            5,
            "BYOK_ONLY",
            project("p1"),
            Scope::Project,
            None,
            "project",
        ),
        candidate(
            6,
            "PROJECT_ONLY",
            project("p1"),
            Scope::Project,
            None,
            "project",
        ),
    ];
    let resolution = run(input(
        context("u1", "prof", Some("w1"), Some("p1"), None),
        candidates,
        env(&[("TOKEN", "profile")]),
        env(&[("TOKEN", "baseline"), ("BASE_ONLY", "baseline")]),
    ));
    let token = &resolution.entries[&env_name("TOKEN")];
    assert_eq!(token.source, source(Layer::ProfileEnv, None));
    assert_eq!(
        token.shadowed,
        [
            source(Layer::UserSecrets, Some((1, ScopeKind::All))),
            source(Layer::WorkspaceKeys, Some((2, ScopeKind::All))),
            source(Layer::ProjectVault, Some((3, ScopeKind::Project))),
            source(Layer::Baseline, None),
        ]
    );
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([
            ("BASE_ONLY".into(), "baseline".into()),
            ("BYOK_ONLY".into(), "workspace".into()),
            ("PROJECT_ONLY".into(), "project".into()),
            ("TOKEN".into(), "profile".into()),
        ])
    );
}

#[test]
fn narrower_scopes_win_within_a_layer() {
    let candidates = vec![
        candidate(1, "KEY", user("u1"), Scope::All, None, "all"),
        candidate(2, "KEY", user("u1"), agents(&["prof"]), None, "agents"),
        candidate(3, "DEPLOY", project("p1"), Scope::Project, None, "project"),
        candidate(
            4,
            "DEPLOY",
            project("p1"),
            milestones(&["m1"]),
            None,
            "milestone",
        ),
    ];
    let resolution = run(input(
        context("u1", "prof", None, Some("p1"), Some("m1")),
        candidates,
        EnvMap::new(),
        EnvMap::new(),
    ));
    let key = &resolution.entries[&env_name("KEY")];
    assert_eq!(
        key.shadowed,
        [source(Layer::UserSecrets, Some((1, ScopeKind::All)))]
    );
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([
            ("DEPLOY".into(), "milestone".into()),
            ("KEY".into(), "agents".into()),
        ])
    );
}

#[test]
fn milestone_entries_reach_only_agents_on_that_milestone() {
    let candidates = vec![
        candidate(1, "PHASE_A", project("p1"), milestones(&["a"]), None, "a"),
        candidate(2, "PHASE_B", project("p1"), milestones(&["b"]), None, "b"),
        candidate(3, "SHARED", project("p1"), Scope::Project, None, "shared"),
    ];
    for (milestone, expected) in [
        (Some("a"), vec!["PHASE_A", "SHARED"]),
        (Some("b"), vec!["PHASE_B", "SHARED"]),
        (None, vec!["SHARED"]),
    ] {
        let resolution = run(input(
            context("u1", "prof", None, Some("p1"), milestone),
            candidates.clone(),
            EnvMap::new(),
            EnvMap::new(),
        ));
        assert_eq!(
            exposed(resolution).into_keys().collect::<Vec<_>>(),
            expected,
            "milestone {milestone:?}"
        );
    }
}

#[test]
fn secrets_of_other_owners_never_reach_the_context() {
    let candidates = vec![
        candidate(1, "OTHER_USER", user("u2"), Scope::All, None, "x"),
        candidate(2, "OTHER_WS", workspace("w2"), Scope::All, None, "x"),
        candidate(3, "OTHER_PROJECT", project("p2"), Scope::Project, None, "x"),
        candidate(
            4,
            "OTHER_PROFILE",
            user("u1"),
            agents(&["someone_else"]),
            None,
            "x",
        ),
        candidate(5, "MINE", user("u1"), Scope::All, None, "mine"),
    ];
    let resolution = run(input(
        context("u1", "prof", Some("w1"), Some("p1"), None),
        candidates.clone(),
        EnvMap::new(),
        EnvMap::new(),
    ));
    assert!(resolution.skipped.is_empty());
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([("MINE".into(), "mine".into())])
    );

    // Without a workspace or project in the context, no workspace or project entry applies.
    let bare = run(input(
        context("u2", "prof", None, None, None),
        candidates,
        EnvMap::new(),
        EnvMap::new(),
    ));
    assert_eq!(
        exposed(bare).into_keys().collect::<Vec<_>>(),
        ["OTHER_USER"]
    );
}

#[test]
fn expired_entries_are_skipped_listed_and_let_live_ones_through() {
    let candidates = vec![
        candidate(
            1,
            "TOKEN",
            user("u1"),
            agents(&["prof"]),
            Some(NOW),
            "expired-now",
        ),
        candidate(2, "TOKEN", user("u1"), Scope::All, Some(NOW + 1), "live"),
        candidate(
            3,
            "GONE",
            workspace("w1"),
            Scope::All,
            Some(NOW - 60),
            "expired",
        ),
    ];
    let resolution = run(input(
        context("u1", "prof", Some("w1"), None, None),
        candidates,
        EnvMap::new(),
        EnvMap::new(),
    ));
    assert_eq!(
        resolution.skipped,
        [
            Skipped {
                name: env_name("GONE"),
                source: source(Layer::WorkspaceKeys, Some((3, ScopeKind::All))),
                reason: SkipReason::Expired,
            },
            Skipped {
                name: env_name("TOKEN"),
                source: source(Layer::UserSecrets, Some((1, ScopeKind::Agents))),
                reason: SkipReason::Expired,
            },
        ]
    );
    assert_eq!(
        resolution
            .expired_names()
            .map(EnvName::as_str)
            .collect::<Vec<_>>(),
        ["GONE", "TOKEN"]
    );
    let token = &resolution.entries[&env_name("TOKEN")];
    assert!(
        token.shadowed.is_empty(),
        "expired entries are not shadowed, they are skipped"
    );
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([("TOKEN".into(), "live".into())])
    );
}

#[test]
fn reserved_names_come_only_from_the_baseline() {
    let policy = PrecedencePolicy::default()
        .with_reserved([env_name("ANTHROPIC_API_KEY"), env_name("MCP_TOKEN")]);
    let candidates = vec![
        candidate(
            1,
            "ANTHROPIC_API_KEY",
            user("u1"),
            Scope::All,
            None,
            "user-key",
        ),
        candidate(
            2,
            "MCP_TOKEN",
            workspace("w1"),
            Scope::All,
            None,
            "ws-token",
        ),
    ];
    let resolution = resolve(
        input(
            context("u1", "prof", Some("w1"), None, None),
            candidates,
            env(&[("ANTHROPIC_API_KEY", "profile-key")]),
            env(&[("ANTHROPIC_API_KEY", "platform-key")]),
        ),
        &policy,
        at(NOW),
    );
    let reasons: Vec<_> = resolution
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.source.layer, s.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("ANTHROPIC_API_KEY", Layer::ProfileEnv, SkipReason::Reserved),
            (
                "ANTHROPIC_API_KEY",
                Layer::UserSecrets,
                SkipReason::Reserved
            ),
            ("MCP_TOKEN", Layer::WorkspaceKeys, SkipReason::Reserved),
        ]
    );
    // MCP_TOKEN is reserved but the baseline did not set it: nobody else may.
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([("ANTHROPIC_API_KEY".into(), "platform-key".into())])
    );
}

#[test]
fn protected_names_come_only_from_the_orchestrators_layers() {
    // A project Responsible and a workspace admin both try to steer other people's
    // agents; a user's own LD_PRELOAD is no more welcome than theirs.
    let candidates = vec![
        candidate(
            1,
            "HTTPS_PROXY",
            project("p1"),
            Scope::Project,
            None,
            "evil-proxy",
        ),
        candidate(
            2,
            "NODE_OPTIONS",
            workspace("w1"),
            Scope::All,
            None,
            "--require evil",
        ),
        candidate(
            3,
            "LD_PRELOAD",
            user("u1"),
            Scope::All,
            None,
            "/tmp/evil.so",
        ),
        candidate(4, "PATH", project("p1"), Scope::Project, None, "/evil/bin"),
        candidate(5, "API_KEY", project("p1"), Scope::Project, None, "fine"),
        // Expired and protected: protection is what it is skipped for.
        candidate(
            6,
            "PYTHONPATH",
            user("u1"),
            Scope::All,
            Some(NOW - 1),
            "old",
        ),
    ];
    let resolution = run(input(
        context("u1", "prof", Some("w1"), Some("p1"), None),
        candidates,
        env(&[
            ("PATH", "/usr/bin"),
            ("NODE_OPTIONS", "--max-old-space-size=4096"),
        ]),
        env(&[
            ("HTTPS_PROXY", "http://platform-proxy:3128"),
            ("PATH", "/bin"),
        ]),
    ));
    let skipped: Vec<_> = resolution
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.source.layer, s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("HTTPS_PROXY", Layer::ProjectVault, SkipReason::Protected),
            ("LD_PRELOAD", Layer::UserSecrets, SkipReason::Protected),
            ("NODE_OPTIONS", Layer::WorkspaceKeys, SkipReason::Protected),
            ("PATH", Layer::ProjectVault, SkipReason::Protected),
            ("PYTHONPATH", Layer::UserSecrets, SkipReason::Protected),
        ]
    );
    assert!(resolution.expired_names().next().is_none());
    // The platform's proxy stands, the profile's PATH beats the baseline's as any
    // orchestrator layer would, and a stored entry under a free name is untouched.
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([
            ("API_KEY".into(), "fine".into()),
            ("HTTPS_PROXY".into(), "http://platform-proxy:3128".into()),
            ("NODE_OPTIONS".into(), "--max-old-space-size=4096".into()),
            ("PATH".into(), "/usr/bin".into()),
        ])
    );
}

#[test]
fn a_released_protected_name_is_served_from_storage_again() {
    let policy = PrecedencePolicy::default().with_protected(
        crate::ProtectedNames::configure(&[], &["HTTPS_PROXY".into()]).expect("valid"),
    );
    let resolution = resolve(
        input(
            context("u1", "prof", None, None, None),
            vec![
                candidate(1, "HTTPS_PROXY", user("u1"), Scope::All, None, "mine"),
                candidate(2, "HTTP_PROXY", user("u1"), Scope::All, None, "still not"),
            ],
            EnvMap::new(),
            EnvMap::new(),
        ),
        &policy,
        at(NOW),
    );
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([("HTTPS_PROXY".into(), "mine".into())])
    );
}

#[test]
fn a_resolution_knows_its_size_without_being_consumed() {
    let resolution = run(input(
        context("u1", "prof", None, None, None),
        vec![candidate(
            1,
            "BIG",
            user("u1"),
            Scope::All,
            None,
            &"x".repeat(65_000),
        )],
        env(&[("SUPPLIED", &"y".repeat(60_000))]),
        EnvMap::new(),
    ));
    let limit = crate::EnvLimit::new(100_000).expect("valid");
    let refused = resolution
        .check_size(limit)
        .expect_err("125 kB is over 100 kB");
    assert_eq!(refused.bytes, (3 + 1 + 65_000 + 1) + (8 + 1 + 60_000 + 1));
    let named: Vec<&str> = refused.largest.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        named,
        ["BIG", "SUPPLIED"],
        "stored and supplied values both count"
    );
    let roomy = crate::EnvLimit::new(200_000).expect("valid");
    assert_eq!(resolution.check_size(roomy), Ok(()));
    assert_eq!(exposed(resolution).len(), 2);
}

#[test]
fn a_custom_order_is_honoured() {
    let project_first = PrecedencePolicy::new(
        &[
            Layer::ProfileEnv,
            Layer::ProjectVault,
            Layer::UserSecrets,
            Layer::WorkspaceKeys,
            Layer::Baseline,
        ],
        [],
    )
    .expect("every layer once");
    let candidates = vec![
        candidate(1, "KEY", user("u1"), Scope::All, None, "user"),
        candidate(2, "KEY", project("p1"), Scope::Project, None, "project"),
    ];
    let resolution = resolve(
        input(
            context("u1", "prof", None, Some("p1"), None),
            candidates,
            EnvMap::new(),
            EnvMap::new(),
        ),
        &project_first,
        at(NOW),
    );
    assert_eq!(
        exposed(resolution),
        BTreeMap::from([("KEY".into(), "project".into())])
    );
}

#[test]
fn a_milestone_needs_a_project() {
    let err = ResolutionContext::new(
        UserId::parse("u").expect("valid"),
        ProfileId::parse("p").expect("valid"),
        None,
        None,
        Some(MilestoneId::parse("m").expect("valid")),
    )
    .expect_err("milestone without project");
    assert_eq!(err, CoreError::MilestoneWithoutProject);
}

#[test]
fn mapping_payloads_is_all_or_nothing() {
    let candidates = vec![
        candidate(1, "A", user("u1"), Scope::All, None, "a"),
        candidate(2, "B", user("u1"), Scope::All, None, "b"),
    ];
    let resolution = run(input(
        context("u1", "prof", None, None, None),
        candidates,
        env(&[("C", "supplied")]),
        EnvMap::new(),
    ));
    let failed = resolution.clone().try_map_stored(|source, _| {
        match source.secret.as_ref().map(|s| s.id.clone()) {
            Some(id) if id == secret_id(2) => Err("cannot open"),
            _ => Ok(value("opened")),
        }
    });
    assert_eq!(failed.map(|r| r.entries.len()).err(), Some("cannot open"));
    let opened = resolution
        .try_map_stored(|_, payload| Ok::<_, ()>(value(&format!("{}!", payload.expose()))))
        .expect("all open");
    assert_eq!(
        exposed(opened),
        BTreeMap::from([
            ("A".into(), "a!".into()),
            ("B".into(), "b!".into()),
            ("C".into(), "supplied".into()),
        ])
    );
}

#[test]
fn explanations_serialize_without_values() {
    let resolution = run(input(
        context("u1", "prof", None, None, None),
        vec![candidate(
            7,
            "KEY",
            user("u1"),
            agents(&["prof"]),
            None,
            "MARKER-payload",
        )],
        env(&[("KEY", "MARKER-profile")]),
        EnvMap::new(),
    ));
    let entry = &resolution.entries[&env_name("KEY")];
    let json = serde_json::to_string(&(&entry.source, &entry.shadowed)).expect("serializes");
    assert_eq!(
        json,
        r#"[{"layer":"profile_env"},[{"layer":"user_secrets","secret_id":"sec_000000000000000000007","scope":"agents"}]]"#
    );
    assert!(!format!("{resolution:?}").contains("MARKER"));
}

#[test]
fn a_context_parses_from_its_fields_and_names_the_first_bad_one() {
    let fields = ContextFields {
        user_id: "alice",
        profile_id: "coder",
        workspace_id: Some("acme"),
        project_id: Some("apollo"),
        milestone_id: Some("m1"),
    };
    let context = ResolutionContext::parse(fields).expect("valid");
    assert_eq!(context.user().as_str(), "alice");
    assert_eq!(context.profile().as_str(), "coder");
    assert_eq!(context.workspace().map(|w| w.as_str()), Some("acme"));
    assert_eq!(context.project().map(|p| p.as_str()), Some("apollo"));
    assert_eq!(context.milestone().map(|m| m.as_str()), Some("m1"));

    let refused = |fields: ContextFields<'_>| match ResolutionContext::parse(fields) {
        Err((field, _)) => field,
        Ok(context) => panic!("accepted {context:?}"),
    };
    // Every field bad at once: the first in request order is named.
    let all_bad = ContextFields {
        user_id: "",
        profile_id: "",
        workspace_id: Some(""),
        project_id: Some(""),
        milestone_id: Some(""),
    };
    assert_eq!(refused(all_bad), "user_id");
    assert_eq!(
        refused(ContextFields {
            user_id: "alice",
            ..all_bad
        }),
        "profile_id"
    );
    let good_head = ContextFields {
        user_id: "alice",
        profile_id: "coder",
        ..all_bad
    };
    assert_eq!(refused(good_head), "workspace_id");
    assert_eq!(
        refused(ContextFields {
            workspace_id: None,
            ..good_head
        }),
        "project_id"
    );
    assert_eq!(
        refused(ContextFields {
            milestone_id: Some(""),
            ..fields
        }),
        "milestone_id"
    );
    // A milestone needs its project.
    let (field, error) = ResolutionContext::parse(ContextFields {
        project_id: None,
        ..fields
    })
    .expect_err("milestone without project");
    assert_eq!(
        (field, error),
        ("milestone_id", CoreError::MilestoneWithoutProject)
    );
    // Optional fields may all be absent.
    let minimal = ResolutionContext::parse(ContextFields {
        user_id: "alice",
        profile_id: "coder",
        ..ContextFields::default()
    })
    .expect("valid");
    assert_eq!(
        (minimal.workspace(), minimal.project(), minimal.milestone()),
        (None, None, None)
    );
}
