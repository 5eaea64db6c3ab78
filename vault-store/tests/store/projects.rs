//! Projects, milestones and members, and what deleting them takes along.

use vault_core::{MilestoneId, Owner, ProjectId, ProjectRole, Scope, SecretId};
use vault_store::{Conflict, Entity, MilestoneRemoval, ProjectRemoval, Store, StoreError};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    deleting_a_project_cascades_to_everything_it_owns,
    deleting_a_milestone_narrows_or_deletes_its_entries,
    a_project_always_keeps_an_accountable_member,
    project_entries_need_a_known_project_and_its_own_milestones,
    projects_list_in_pages_for_everyone_or_for_one_member,
);

fn pid(id: &str) -> ProjectId {
    ProjectId::parse(id).expect("valid project id")
}

fn mid(id: &str) -> MilestoneId {
    MilestoneId::parse(id).expect("valid milestone id")
}

fn milestones(ids: &[&str]) -> Scope {
    Scope::milestones(ids.iter().map(|m| mid(m))).expect("valid scope")
}

async fn project_with_milestones(store: &Store, id: &str, ms: &[&str]) -> ProjectId {
    let project = pid(id);
    store
        .create_project(
            project.clone(),
            format!("Project {id}"),
            user("lead"),
            at(0),
            audit(),
        )
        .await
        .expect("creates project");
    for m in ms {
        store
            .create_milestone(
                project.clone(),
                mid(m),
                format!("Milestone {m}"),
                at(0),
                audit(),
            )
            .await
            .expect("creates milestone");
    }
    project
}

async fn entry(store: &Store, project: &ProjectId, secret_name: &str, scope: Scope) -> SecretId {
    store
        .create_secret(
            new_secret(
                Owner::Project(project.clone()),
                secret_name,
                scope,
                secret_name,
            ),
            audit(),
        )
        .await
        .expect("creates entry")
        .id
}

async fn deleting_a_project_cascades_to_everything_it_owns(db: TestDb) {
    let store = db.open();
    let doomed = project_with_milestones(&store, "doomed", &["m1", "m2"]).await;
    let kept = project_with_milestones(&store, "kept", &["m1"]).await;
    for (user_id, role) in [
        ("a", ProjectRole::Responsible),
        ("b", ProjectRole::Informed),
    ] {
        store
            .put_member(doomed.clone(), user(user_id), role, at(1), audit())
            .await
            .expect("adds member");
    }
    let doomed_entries = [
        entry(&store, &doomed, "WIDE", Scope::Project).await,
        entry(&store, &doomed, "NARROW", milestones(&["m1", "m2"])).await,
        entry(&store, &doomed, "OTHER", milestones(&["m2"])).await,
    ];
    let kept_entry = entry(&store, &kept, "WIDE", Scope::Project).await;
    let user_secret_id = store
        .create_secret(user_secret("lead", "WIDE", Scope::All), audit())
        .await
        .expect("user secret")
        .id;
    let removal = store
        .delete_project(doomed.clone(), at(2), audit())
        .await
        .expect("deletes");
    assert_eq!(
        removal,
        ProjectRemoval {
            entries: 3,
            milestones: 2,
            members: 3
        }
    );
    assert_eq!(
        store.project(doomed.clone()).await,
        Err(StoreError::NotFound(Entity::Project))
    );
    for id in doomed_entries {
        assert_eq!(
            store.secret(id.clone()).await,
            Err(StoreError::NotFound(Entity::Secret))
        );
        assert_eq!(
            store.sealed_version(id, vault_core::Version::FIRST).await,
            Err(StoreError::NotFound(Entity::SecretVersion))
        );
    }
    assert_eq!(
        store.milestones(doomed.clone()).await,
        Err(StoreError::NotFound(Entity::Project))
    );
    assert_eq!(
        store.members(doomed.clone()).await,
        Err(StoreError::NotFound(Entity::Project))
    );
    assert_eq!(store.member_role(doomed.clone(), user("a")).await, Ok(None));
    assert_eq!(
        store.delete_project(doomed.clone(), at(3), audit()).await,
        Err(StoreError::NotFound(Entity::Project))
    );
    // Nothing of anyone else's went with it.
    store
        .secret(kept_entry)
        .await
        .expect("other project's entry stays");
    store
        .secret(user_secret_id)
        .await
        .expect("user secret stays");
    assert_eq!(store.milestones(kept.clone()).await.expect("kept").len(), 1);
    // The id can be used again, from scratch.
    let again = project_with_milestones(&store, "doomed", &[]).await;
    assert_eq!(store.members(again).await.expect("members").len(), 1);
}

async fn deleting_a_milestone_narrows_or_deletes_its_entries(db: TestDb) {
    let store = db.open();
    let project = project_with_milestones(&store, "p", &["m1", "m2", "m3"]).await;
    let both = entry(&store, &project, "BOTH", milestones(&["m1", "m2"])).await;
    let only = entry(&store, &project, "ONLY", milestones(&["m1"])).await;
    let elsewhere = entry(&store, &project, "ELSEWHERE", milestones(&["m3"])).await;
    let wide = entry(&store, &project, "WIDE", Scope::Project).await;
    let removal = store
        .delete_milestone(project.clone(), mid("m1"), at(1), audit())
        .await
        .expect("deletes");
    assert_eq!(
        removal,
        MilestoneRemoval {
            entries_narrowed: 1,
            entries_deleted: 1
        }
    );
    assert_eq!(
        store.secret(both).await.expect("stays").placement.scope(),
        &milestones(&["m2"])
    );
    assert_eq!(
        store.secret(only).await,
        Err(StoreError::NotFound(Entity::Secret))
    );
    store.secret(elsewhere).await.expect("stays");
    store.secret(wide).await.expect("stays");
    let left: Vec<String> = store
        .milestones(project.clone())
        .await
        .expect("lists")
        .into_iter()
        .map(|m| m.id.as_str().to_owned())
        .collect();
    assert_eq!(left, ["m2", "m3"]);
    assert_eq!(
        store
            .delete_milestone(project.clone(), mid("m1"), at(2), audit())
            .await,
        Err(StoreError::NotFound(Entity::Milestone))
    );
    // A milestone id can be created again and targeted afresh.
    store
        .create_milestone(project.clone(), mid("m1"), "again".into(), at(3), audit())
        .await
        .expect("re-creates");
    entry(&store, &project, "ONLY", milestones(&["m1"])).await;
}

async fn a_project_always_keeps_an_accountable_member(db: TestDb) {
    let store = db.open();
    let project = project_with_milestones(&store, "p", &[]).await;
    let last = Err(StoreError::Conflict(Conflict::LastAccountable));
    assert_eq!(
        store
            .put_member(
                project.clone(),
                user("lead"),
                ProjectRole::Consulted,
                at(1),
                audit()
            )
            .await
            .map(|_| ()),
        last
    );
    assert_eq!(
        store
            .remove_member(project.clone(), user("lead"), at(1), audit())
            .await,
        last
    );
    store
        .put_member(
            project.clone(),
            user("second"),
            ProjectRole::Accountable,
            at(2),
            audit(),
        )
        .await
        .expect("adds a second accountable");
    let demoted = store
        .put_member(
            project.clone(),
            user("lead"),
            ProjectRole::Informed,
            at(3),
            audit(),
        )
        .await
        .expect("now allowed");
    assert_eq!(demoted.role, ProjectRole::Informed);
    assert_eq!(demoted.updated_at, at(3));
    assert_eq!(
        store
            .remove_member(project.clone(), user("second"), at(4), audit())
            .await,
        last
    );
    store
        .remove_member(project.clone(), user("lead"), at(4), audit())
        .await
        .expect("removes");
    assert_eq!(
        store
            .remove_member(project.clone(), user("lead"), at(5), audit())
            .await,
        Err(StoreError::NotFound(Entity::Member))
    );
    let members = store.members(project.clone()).await.expect("lists");
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].user_id.as_str(), members[0].role),
        ("second", ProjectRole::Accountable)
    );
    assert_eq!(
        store.member_role(project, user("second")).await,
        Ok(Some(ProjectRole::Accountable))
    );
}

async fn project_entries_need_a_known_project_and_its_own_milestones(db: TestDb) {
    let store = db.open();
    let project = project_with_milestones(&store, "p", &["m1"]).await;
    project_with_milestones(&store, "other", &["m9"]).await;
    let unknown_project = store
        .create_secret(
            new_secret(Owner::Project(pid("nope")), "A", Scope::Project, "a"),
            audit(),
        )
        .await;
    assert_eq!(unknown_project, Err(StoreError::NotFound(Entity::Project)));
    let foreign_milestone = store
        .create_secret(
            new_secret(
                Owner::Project(project.clone()),
                "A",
                milestones(&["m1", "m9"]),
                "a",
            ),
            audit(),
        )
        .await;
    assert!(
        matches!(&foreign_milestone, Err(StoreError::Invalid { field: "milestone_ids", reason }) if reason.contains("m9")),
        "{foreign_milestone:?}"
    );
    assert_eq!(
        store
            .create_project(project.clone(), "dup".into(), user("x"), at(0), audit())
            .await
            .map(|_| ()),
        Err(StoreError::Conflict(Conflict::AlreadyExists(
            Entity::Project
        )))
    );
    for bad in ["", "   ", "tab\tname"] {
        let refused = store
            .create_project(pid("fresh"), bad.into(), user("x"), at(0), audit())
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid { field: "name", .. })),
            "{refused:?}"
        );
    }
    assert_eq!(
        store.project(pid("fresh")).await,
        Err(StoreError::NotFound(Entity::Project))
    );
}

async fn projects_list_in_pages_for_everyone_or_for_one_member(db: TestDb) {
    let store = db.open();
    for id in ["p3", "p1", "p5", "p2", "p4"] {
        project_with_milestones(&store, id, &[]).await;
    }
    for (id, role) in [
        ("p2", ProjectRole::Informed),
        ("p4", ProjectRole::Responsible),
    ] {
        store
            .put_member(pid(id), user("x"), role, at(1), audit())
            .await
            .expect("adds");
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, more) = store
            .list_projects(None, after.clone(), 2)
            .await
            .expect("lists");
        assert!(page.len() <= 2);
        assert!(page.iter().all(|listed| listed.role.is_none()));
        seen.extend(
            page.iter()
                .map(|listed| listed.project.id.as_str().to_owned()),
        );
        after = page.last().map(|listed| listed.project.id.clone());
        if !more {
            break;
        }
    }
    assert_eq!(seen, ["p1", "p2", "p3", "p4", "p5"]);
    let (mine, more) = store
        .list_projects(Some(user("x")), None, 10)
        .await
        .expect("lists");
    assert!(!more);
    let mine: Vec<(&str, Option<ProjectRole>)> = mine
        .iter()
        .map(|listed| (listed.project.id.as_str(), listed.role))
        .collect();
    assert_eq!(
        mine,
        [
            ("p2", Some(ProjectRole::Informed)),
            ("p4", Some(ProjectRole::Responsible))
        ]
    );
    let (none, _) = store
        .list_projects(Some(user("nobody")), None, 10)
        .await
        .expect("lists");
    assert!(none.is_empty());
}
