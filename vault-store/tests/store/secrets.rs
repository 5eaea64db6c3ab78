//! Secret rows: create, read, list pages and filters, updates, versions, deletion,
//! the overlap rule, and the candidates of a resolution context.

use std::collections::BTreeSet;

use vault_core::{
    Category, Description, ExpiresAt, MilestoneId, Owner, ProjectId, ResolutionContext, Scope,
    SecretId, Version, WorkspaceId,
};
use vault_store::{Conflict, Entity, ListCursor, NewValue, SecretUpdate, StoreError};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    created_secrets_read_back_exactly,
    list_pages_follow_the_cursor_without_gaps_or_repeats,
    list_filters_by_prefix_category_and_expiry,
    bad_list_input_names_the_field,
    a_second_wide_scope_or_a_shared_profile_is_an_overlap,
    scope_changes_obey_the_overlap_rule_and_change_nothing_when_refused,
    a_rotation_adds_a_version_and_keeps_only_the_newest,
    a_stale_expected_version_is_refused_and_changes_nothing,
    a_rollback_records_the_version_it_restored,
    deleting_a_secret_takes_every_version,
    candidates_are_exactly_the_secrets_that_reach_the_context,
    every_change_a_resolution_reads_moves_the_generations_of_its_owner_only,
);

/// A cache of candidates trusts the generations alone, so every write path that
/// changes what `candidates` returns must move them, in the same transaction, and
/// writes to other owners must not.
async fn every_change_a_resolution_reads_moves_the_generations_of_its_owner_only(db: TestDb) {
    let store = db.open();
    let context = |user_id: &str, project: Option<&str>| {
        ResolutionContext::new(
            user(user_id),
            profile("p1"),
            None,
            project.map(|p| ProjectId::parse(p).expect("valid")),
            project.map(|_| MilestoneId::parse("m1").expect("valid")),
        )
        .expect("valid context")
    };
    let alice = context("alice", Some("apollo"));
    let generations = || store.generations(alice.clone());
    let mut seen = vec![generations().await.expect("reads")];
    let moved = async |what: &str, seen: &mut Vec<vault_store::Generations>| {
        let now = generations().await.expect("reads");
        assert!(
            !seen.contains(&now),
            "{what} left the generations where they were"
        );
        let (stamp, _) = store
            .stamped_candidates(alice.clone())
            .await
            .expect("reads");
        assert_eq!(
            stamp, now,
            "{what}: the stamp is not the current generations"
        );
        seen.push(now);
    };

    let created = store
        .create_secret(user_secret("alice", "TOKEN", agents(&["p1"])), audit())
        .await
        .expect("creates");
    moved("a creation", &mut seen).await;
    store
        .update_secret(created.id.clone(), rotation(1, "v2"), at(1), audit())
        .await
        .expect("rotates");
    moved("a rotation", &mut seen).await;
    let narrowed = SecretUpdate {
        scope: Some(agents(&["p1", "p2"])),
        ..SecretUpdate::default()
    };
    store
        .update_secret(created.id.clone(), narrowed, at(2), audit())
        .await
        .expect("changes the scope");
    moved("a change of targets", &mut seen).await;
    let current = store
        .sealed_version(created.id.clone(), Version::new(2).expect("valid"))
        .await
        .expect("sealed");
    let replaced = store
        .replace_envelope(
            created.id.clone(),
            Version::new(2).expect("valid"),
            current.kek_id,
            "kek_other".into(),
            b"envelope:rewrapped".to_vec(),
        )
        .await
        .expect("replaces");
    assert!(replaced);
    moved("a rewrap", &mut seen).await;

    // Another user's and another project's writes leave alice's context alone.
    let before = generations().await.expect("reads");
    store
        .create_secret(user_secret("bob", "TOKEN", Scope::All), audit())
        .await
        .expect("creates");
    let project = |id: &str| ProjectId::parse(id).expect("valid");
    for id in ["apollo", "gemini"] {
        store
            .create_project(project(id), id.into(), user("alice"), at(3), audit())
            .await
            .expect("creates the project");
    }
    store
        .create_secret(
            new_secret(
                Owner::Project(project("gemini")),
                "DEPLOY",
                Scope::Project,
                "g",
            ),
            audit(),
        )
        .await
        .expect("creates");
    assert_eq!(generations().await.expect("reads"), before);

    store
        .create_secret(
            new_secret(
                Owner::Project(project("apollo")),
                "DEPLOY",
                Scope::Project,
                "a",
            ),
            audit(),
        )
        .await
        .expect("creates");
    moved("a project entry", &mut seen).await;
    store
        .delete_project(project("apollo"), at(4), audit())
        .await
        .expect("deletes the project");
    moved("a project's deletion", &mut seen).await;
    store
        .delete_secret(created.id, audit())
        .await
        .expect("deletes");
    moved("a deletion", &mut seen).await;
}

async fn created_secrets_read_back_exactly(db: TestDb) {
    let store = db.open();
    let mut new = user_secret("u1", "API_KEY", agents(&["p2", "p1"]));
    new.category = Category::ApiKey;
    new.expires_at = Some(ExpiresAt::stored(at(500)));
    let created = store
        .create_secret(new.clone(), audit())
        .await
        .expect("creates");
    assert_eq!(created.id, new.id);
    assert_eq!(created.name, new.name);
    assert_eq!(created.placement, new.placement);
    assert_eq!(created.category, Category::ApiKey);
    assert_eq!(created.description, new.description);
    assert_eq!(created.expires_at, new.expires_at);
    assert_eq!(created.version, Version::FIRST);
    assert_eq!((created.created_at, created.updated_at), (at(0), at(0)));
    assert_eq!(store.secret(new.id.clone()).await.expect("reads"), created);
    assert_eq!(
        store
            .sealed_version(new.id.clone(), Version::FIRST)
            .await
            .expect("sealed"),
        new.value
    );
    assert_eq!(
        store.secret(SecretId::generate()).await,
        Err(StoreError::NotFound(Entity::Secret))
    );
    let again = store.create_secret(new.clone(), audit()).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

async fn list_pages_follow_the_cursor_without_gaps_or_repeats(db: TestDb) {
    let store = db.open();
    let mut expected = Vec::new();
    for i in 0..23 {
        // Two per name (one wide, one narrow) so equal names are ordered by id.
        let secret_name = format!("KEY_{:02}", i % 12);
        let scope = if i < 12 { Scope::All } else { agents(&["p1"]) };
        let new = user_secret("u1", &secret_name, scope);
        expected.push((new.name.clone(), new.id.clone()));
        store.create_secret(new, audit()).await.expect("creates");
    }
    store
        .create_secret(user_secret("someone-else", "KEY_00", Scope::All), audit())
        .await
        .expect("creates");
    expected.sort();
    let mut seen = Vec::new();
    let mut q = list_query("u1", 5);
    let mut pages = 0;
    loop {
        let page = store.list_secrets(q.clone()).await.expect("lists");
        assert!(page.items.len() <= 5);
        seen.extend(page.items.iter().map(|m| (m.name.clone(), m.id.clone())));
        pages += 1;
        match page.next {
            Some(cursor) => {
                let round_trip = ListCursor::decode(&cursor.encode()).expect("decodes");
                assert_eq!(round_trip, cursor);
                q.after = Some(round_trip);
            }
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 5);
}

async fn list_filters_by_prefix_category_and_expiry(db: TestDb) {
    let store = db.open();
    let mut expiring = user_secret("u1", "DB_PASSWORD", Scope::All);
    expiring.category = Category::Password;
    expiring.expires_at = Some(ExpiresAt::stored(at(50)));
    store
        .create_secret(expiring, audit())
        .await
        .expect("creates");
    for secret_name in ["DB_URL", "DBX", "D", "GITHUB_TOKEN", "DB"] {
        store
            .create_secret(user_secret("u1", secret_name, Scope::All), audit())
            .await
            .expect("creates");
    }
    let names = |items: Vec<vault_core::SecretMeta>| -> Vec<String> {
        items
            .into_iter()
            .map(|m| m.name.as_str().to_owned())
            .collect()
    };
    let mut q = list_query("u1", 50);
    q.name_prefix = Some("DB_".into());
    let page = store.list_secrets(q.clone()).await.expect("lists");
    assert_eq!(names(page.items), ["DB_PASSWORD", "DB_URL"]);
    q.name_prefix = Some("DB".into());
    let page = store.list_secrets(q.clone()).await.expect("lists");
    assert_eq!(names(page.items), ["DB", "DBX", "DB_PASSWORD", "DB_URL"]);
    let mut q = list_query("u1", 50);
    q.category = Some(Category::Password);
    assert_eq!(
        names(store.list_secrets(q).await.expect("lists").items),
        ["DB_PASSWORD"]
    );
    let mut q = list_query("u1", 50);
    q.expired = Some(true);
    assert_eq!(
        names(store.list_secrets(q.clone()).await.expect("lists").items),
        ["DB_PASSWORD"]
    );
    q.now = at(49);
    assert!(
        store
            .list_secrets(q.clone())
            .await
            .expect("lists")
            .items
            .is_empty()
    );
    q.expired = Some(false);
    assert_eq!(
        store
            .list_secrets(q.clone())
            .await
            .expect("lists")
            .items
            .len(),
        6
    );
    q.now = at(50);
    assert_eq!(store.list_secrets(q).await.expect("lists").items.len(), 5);
}

async fn bad_list_input_names_the_field(db: TestDb) {
    let store = db.open();
    store
        .create_secret(user_secret("u1", "A", Scope::All), audit())
        .await
        .expect("creates");
    for limit in [0, 201] {
        let refused = store.list_secrets(list_query("u1", limit)).await;
        assert!(
            matches!(refused, Err(StoreError::Invalid { field: "limit", .. })),
            "{refused:?}"
        );
    }
    for prefix in ["db", "A%", "A'--", "A~"] {
        let mut q = list_query("u1", 10);
        q.name_prefix = Some(prefix.into());
        let refused = store.list_secrets(q).await;
        assert!(
            matches!(
                refused,
                Err(StoreError::Invalid {
                    field: "name_prefix",
                    ..
                })
            ),
            "{prefix}: {refused:?}"
        );
    }
    for cursor in ["", "not base64!", "QUJD", "bG93ZXIKc2VjX3g"] {
        let refused = ListCursor::decode(cursor);
        assert!(
            matches!(
                refused,
                Err(StoreError::Invalid {
                    field: "cursor",
                    ..
                })
            ),
            "{cursor}: {refused:?}"
        );
    }
}

fn is_overlap<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(Conflict::Overlap(_))))
}

async fn a_second_wide_scope_or_a_shared_profile_is_an_overlap(db: TestDb) {
    let store = db.open();
    let create = |scope| store.create_secret(user_secret("u1", "TOKEN", scope), audit());
    create(Scope::All).await.expect("first wide");
    create(agents(&["p1", "p2"]))
        .await
        .expect("narrow beside wide");
    create(agents(&["p3"])).await.expect("disjoint narrow");
    let second_wide = create(Scope::All).await;
    assert!(is_overlap(&second_wide), "{second_wide:?}");
    let shared = create(agents(&["p4", "p2"])).await;
    match &shared {
        Err(StoreError::Conflict(Conflict::Overlap(overlap))) => {
            assert!(overlap.to_string().contains("p2"), "{overlap}");
            assert!(!overlap.to_string().contains("p4"), "{overlap}");
        }
        other => panic!("expected an overlap, got {other:?}"),
    }
    // Other names and other owners are independent.
    store
        .create_secret(user_secret("u1", "OTHER", Scope::All), audit())
        .await
        .expect("other name");
    store
        .create_secret(user_secret("u2", "TOKEN", Scope::All), audit())
        .await
        .expect("other owner");
    let mut q = list_query("u1", 50);
    q.name_prefix = Some("TOKEN".into());
    assert_eq!(store.list_secrets(q).await.expect("lists").items.len(), 3);
}

async fn scope_changes_obey_the_overlap_rule_and_change_nothing_when_refused(db: TestDb) {
    let store = db.open();
    store
        .create_secret(user_secret("u1", "TOKEN", Scope::All), audit())
        .await
        .expect("wide");
    let narrow = store
        .create_secret(user_secret("u1", "TOKEN", agents(&["p1"])), audit())
        .await
        .expect("narrow");
    let other = store
        .create_secret(user_secret("u1", "TOKEN", agents(&["p2"])), audit())
        .await
        .expect("narrow");
    for scope in [Scope::All, agents(&["p2", "p9"])] {
        let update = SecretUpdate {
            scope: Some(scope),
            description: Some(None),
            ..SecretUpdate::default()
        };
        let refused = store
            .update_secret(narrow.id.clone(), update, at(10), audit())
            .await;
        assert!(is_overlap(&refused), "{refused:?}");
        assert_eq!(
            store.secret(narrow.id.clone()).await.expect("reads"),
            narrow
        );
    }
    let mismatched = SecretUpdate {
        scope: Some(Scope::Project),
        ..SecretUpdate::default()
    };
    let refused = store
        .update_secret(narrow.id.clone(), mismatched, at(10), audit())
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { field: "scope", .. })),
        "{refused:?}"
    );
    let widened = SecretUpdate {
        scope: Some(agents(&["p1", "p3"])),
        category: Some(Category::Certificate),
        description: Some(Some(Description::parse("widened").expect("valid"))),
        ..SecretUpdate::default()
    };
    let updated = store
        .update_secret(narrow.id.clone(), widened, at(10), audit())
        .await
        .expect("disjoint from the others");
    assert_eq!(updated.placement.scope(), &agents(&["p1", "p3"]));
    assert_eq!(updated.category, Category::Certificate);
    assert_eq!(
        updated.description.as_ref().map(|d| d.as_str()),
        Some("widened")
    );
    assert_eq!(updated.version, Version::FIRST);
    assert_eq!(updated.updated_at, at(10));
    assert_eq!(
        store
            .secret(other.id)
            .await
            .expect("reads")
            .placement
            .scope(),
        &agents(&["p2"])
    );
}

fn rotation(expected: u32, label: &str) -> SecretUpdate {
    SecretUpdate {
        expected_version: Some(Version::new(expected).expect("valid")),
        value: Some(NewValue {
            sealed: sealed(label),
            masked: "****".into(),
            restored_from: None,
        }),
        ..SecretUpdate::default()
    }
}

fn version_numbers(versions: &[vault_store::VersionInfo]) -> Vec<u32> {
    versions.iter().map(|v| v.version.get()).collect()
}

async fn a_rotation_adds_a_version_and_keeps_only_the_newest(db: TestDb) {
    let store = db.open_keeping(3);
    let id = store
        .create_secret(user_secret("u1", "TOKEN", Scope::All), audit())
        .await
        .expect("creates")
        .id;
    for n in 1..=5 {
        let rotated = store
            .update_secret(
                id.clone(),
                rotation(n, &format!("v{}", n + 1)),
                at(i64::from(n)),
                audit(),
            )
            .await
            .expect("rotates");
        assert_eq!(rotated.version.get(), n + 1);
    }
    let versions = store.secret_versions(id.clone()).await.expect("versions");
    assert_eq!(version_numbers(&versions), [6, 5, 4]);
    assert_eq!(
        store
            .sealed_version(id.clone(), Version::new(6).expect("valid"))
            .await
            .expect("current"),
        sealed("v6")
    );
    assert_eq!(
        store
            .sealed_version(id.clone(), Version::new(3).expect("valid"))
            .await,
        Err(StoreError::NotFound(Entity::SecretVersion))
    );
    let without_expectation = SecretUpdate {
        value: Some(NewValue {
            sealed: sealed("x"),
            masked: "****".into(),
            restored_from: None,
        }),
        ..SecretUpdate::default()
    };
    let refused = store
        .update_secret(id.clone(), without_expectation, at(9), audit())
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Invalid {
                field: "expected_version",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(store.secret(id).await.expect("reads").version.get(), 6);
}

async fn a_stale_expected_version_is_refused_and_changes_nothing(db: TestDb) {
    let store = db.open();
    let created = store
        .create_secret(user_secret("u1", "TOKEN", Scope::All), audit())
        .await
        .expect("creates");
    store
        .update_secret(created.id.clone(), rotation(1, "v2"), at(1), audit())
        .await
        .expect("rotates");
    let before = store.secret(created.id.clone()).await.expect("reads");
    let mut stale = rotation(1, "lost");
    stale.description = Some(None);
    let refused = store
        .update_secret(created.id.clone(), stale, at(2), audit())
        .await;
    assert_eq!(
        refused,
        Err(StoreError::Conflict(Conflict::StaleVersion {
            expected: 1,
            current: 2
        }))
    );
    assert_eq!(
        store.secret(created.id.clone()).await.expect("reads"),
        before
    );
    assert_eq!(
        version_numbers(
            &store
                .secret_versions(created.id.clone())
                .await
                .expect("versions")
        ),
        [2, 1]
    );
    let unknown = store
        .update_secret(SecretId::generate(), rotation(1, "x"), at(2), audit())
        .await;
    assert_eq!(unknown, Err(StoreError::NotFound(Entity::Secret)));
}

async fn a_rollback_records_the_version_it_restored(db: TestDb) {
    let store = db.open();
    let id = store
        .create_secret(user_secret("u1", "TOKEN", Scope::All), audit())
        .await
        .expect("creates")
        .id;
    store
        .update_secret(id.clone(), rotation(1, "v2"), at(1), audit())
        .await
        .expect("rotates");
    let restore = SecretUpdate {
        expected_version: Some(Version::new(2).expect("valid")),
        value: Some(NewValue {
            sealed: sealed("v1 re-sealed as v3"),
            masked: "****".into(),
            restored_from: Some(Version::FIRST),
        }),
        ..SecretUpdate::default()
    };
    let rolled = store
        .update_secret(id.clone(), restore, at(2), audit())
        .await
        .expect("rolls back");
    assert_eq!(rolled.version.get(), 3);
    let versions = store.secret_versions(id.clone()).await.expect("versions");
    assert_eq!(versions[0].restored_from, Some(Version::FIRST));
    assert_eq!(versions[0].created_at, at(2));
    assert_eq!(versions[1].restored_from, None);
    let from_nowhere = SecretUpdate {
        expected_version: Some(Version::new(3).expect("valid")),
        value: Some(NewValue {
            sealed: sealed("x"),
            masked: "****".into(),
            restored_from: Some(Version::new(9).expect("valid")),
        }),
        ..SecretUpdate::default()
    };
    assert_eq!(
        store
            .update_secret(id.clone(), from_nowhere, at(3), audit())
            .await,
        Err(StoreError::NotFound(Entity::SecretVersion))
    );
    assert_eq!(store.secret(id).await.expect("reads").version.get(), 3);
}

async fn deleting_a_secret_takes_every_version(db: TestDb) {
    let store = db.open();
    let id = store
        .create_secret(user_secret("u1", "TOKEN", agents(&["p1"])), audit())
        .await
        .expect("creates")
        .id;
    store
        .update_secret(id.clone(), rotation(1, "v2"), at(1), audit())
        .await
        .expect("rotates");
    store
        .delete_secret(id.clone(), audit())
        .await
        .expect("deletes");
    assert_eq!(
        store.secret(id.clone()).await,
        Err(StoreError::NotFound(Entity::Secret))
    );
    assert_eq!(
        store.secret_versions(id.clone()).await,
        Err(StoreError::NotFound(Entity::Secret))
    );
    for n in [1, 2] {
        assert_eq!(
            store
                .sealed_version(id.clone(), Version::new(n).expect("valid"))
                .await,
            Err(StoreError::NotFound(Entity::SecretVersion))
        );
    }
    assert_eq!(
        store.delete_secret(id, audit()).await,
        Err(StoreError::NotFound(Entity::Secret))
    );
    // The name and its profiles are free again.
    store
        .create_secret(user_secret("u1", "TOKEN", agents(&["p1"])), audit())
        .await
        .expect("re-creates");
}

async fn candidates_are_exactly_the_secrets_that_reach_the_context(db: TestDb) {
    let store = db.open();
    let project = ProjectId::parse("proj-1").expect("valid");
    let workspace = Owner::Workspace(WorkspaceId::parse("ws-1").expect("valid"));
    store
        .create_project(
            project.clone(),
            "Project".into(),
            user("u1"),
            at(0),
            audit(),
        )
        .await
        .expect("project");
    for m in ["m1", "m2"] {
        store
            .create_milestone(
                project.clone(),
                MilestoneId::parse(m).expect("valid"),
                m.into(),
                at(0),
                audit(),
            )
            .await
            .expect("milestone");
    }
    let milestones = |ids: &[&str]| {
        Scope::milestones(ids.iter().map(|m| MilestoneId::parse(m).expect("valid"))).expect("valid")
    };
    let project_owner = Owner::Project(project.clone());
    let reaching = [
        user_secret("u1", "USER_ALL", Scope::All),
        user_secret("u1", "USER_P1", agents(&["p1", "p7"])),
        new_secret(workspace.clone(), "WS_ALL", Scope::All, "ws"),
        new_secret(workspace.clone(), "WS_P1", agents(&["p1"]), "ws"),
        new_secret(project_owner.clone(), "PROJECT_WIDE", Scope::Project, "pw"),
        new_secret(
            project_owner.clone(),
            "MILESTONE_1",
            milestones(&["m1", "m2"]),
            "m1",
        ),
    ];
    let not_reaching = [
        user_secret("u1", "USER_P2", agents(&["p2"])),
        user_secret("u2", "OTHER_USER", Scope::All),
        user_secret("u2", "OTHER_USER_P1", agents(&["p1"])),
        new_secret(workspace.clone(), "WS_P2", agents(&["p2"]), "ws"),
        new_secret(
            Owner::Workspace(WorkspaceId::parse("ws-2").expect("valid")),
            "OTHER_WS",
            Scope::All,
            "ws",
        ),
        new_secret(
            project_owner.clone(),
            "MILESTONE_2",
            milestones(&["m2"]),
            "m2",
        ),
    ];
    for new in reaching.iter().chain(&not_reaching) {
        store
            .create_secret(new.clone(), audit())
            .await
            .expect("creates");
    }
    // A rotated secret offers its current version only.
    store
        .update_secret(
            reaching[0].id.clone(),
            rotation(1, "user-all-v2"),
            at(1),
            audit(),
        )
        .await
        .expect("rotates");
    let context = ResolutionContext::new(
        user("u1"),
        profile("p1"),
        Some(WorkspaceId::parse("ws-1").expect("valid")),
        Some(project.clone()),
        Some(MilestoneId::parse("m1").expect("valid")),
    )
    .expect("valid context");
    let candidates = store.candidates(context.clone()).await.expect("candidates");
    // A lookup by name weighs the same candidates, narrowed to that name.
    for new in reaching.iter().chain(&not_reaching) {
        let named: Vec<SecretId> = store
            .candidates_named(context.clone(), new.name.clone())
            .await
            .expect("named candidates")
            .into_iter()
            .map(|c| c.meta.id)
            .collect();
        let want: Vec<SecretId> = candidates
            .iter()
            .filter(|c| c.meta.name == new.name)
            .map(|c| c.meta.id.clone())
            .collect();
        assert_eq!(named, want, "{}", new.name.as_str());
    }
    let found: BTreeSet<SecretId> = candidates.iter().map(|c| c.meta.id.clone()).collect();
    let expected: BTreeSet<SecretId> = reaching.iter().map(|n| n.id.clone()).collect();
    assert_eq!(found, expected);
    for candidate in &candidates {
        let new = reaching
            .iter()
            .find(|n| n.id == candidate.meta.id)
            .expect("known");
        assert_eq!(
            candidate.meta.placement,
            new.placement,
            "{}",
            new.name.as_str()
        );
        let want = if new.id == reaching[0].id {
            sealed("user-all-v2")
        } else {
            new.value.clone()
        };
        assert_eq!(candidate.payload, want);
        assert_eq!(
            candidate.meta.version.get(),
            if new.id == reaching[0].id { 2 } else { 1 }
        );
    }
    // Without a workspace or project, only the user's own secrets for the profile.
    let bare =
        ResolutionContext::new(user("u1"), profile("p1"), None, None, None).expect("valid context");
    let found: BTreeSet<SecretId> = store
        .candidates(bare)
        .await
        .expect("candidates")
        .into_iter()
        .map(|c| c.meta.id)
        .collect();
    assert_eq!(found, reaching[..2].iter().map(|n| n.id.clone()).collect());
    // A project without a milestone reaches only project-wide entries.
    let no_milestone = ResolutionContext::new(user("u9"), profile("p9"), None, Some(project), None)
        .expect("valid context");
    let found: Vec<SecretId> = store
        .candidates(no_milestone)
        .await
        .expect("candidates")
        .into_iter()
        .map(|c| c.meta.id)
        .collect();
    assert_eq!(found, [reaching[4].id.clone()]);
}
