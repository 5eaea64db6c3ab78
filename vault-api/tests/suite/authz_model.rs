//! The embedded authorizer against `authz/model.fga.yaml`: the same tuples and check
//! assertions that `fga model test` runs against the OpenFGA model, loaded into a real
//! store on both backends and checked through `StoreAuthorizer`. The two must agree,
//! and every relation the model defines must be one the Rust side knows.

use vault_testkit::on_both_backends;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::support::TestDb;
use serde::Deserialize;
use vault_api::authz::{Authorizer, StoreAuthorizer, check_context_by_relations};
use vault_core::{
    AuditEntry, ProfileId, ProjectId, ProjectPermission, ProjectRole, ResolutionContext, UserId,
    WorkspaceId, WorkspacePermission,
};
use vault_store::{Conflict, StoreConfig, StoreError};

on_both_backends!(the_embedded_authorizer_passes_the_model_assertions);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[allow(dead_code)]
    name: String,
    model_file: String,
    tuples: Vec<Tuple>,
    tests: Vec<TestCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tuple {
    user: String,
    relation: String,
    object: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    name: String,
    check: Vec<Check>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    user: String,
    object: String,
    assertions: BTreeMap<String, bool>,
}

fn authz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../authz")
}

fn load() -> TestFile {
    let text = std::fs::read_to_string(authz_dir().join("model.fga.yaml")).expect("reads");
    serde_yaml_ng::from_str(&text).expect("parses the assertions")
}

fn split<'a>(reference: &'a str, kind: &str) -> &'a str {
    reference
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{reference} is not a {kind}"))
}

/// The relations `model.fga` defines, per type.
fn model_relations(model_file: &str) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(authz_dir().join(model_file)).expect("reads the model");
    let mut relations: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("type ") {
            current = Some(name.trim().to_owned());
            relations.entry(name.trim().to_owned()).or_default();
        } else if let Some(rest) = line.strip_prefix("define ") {
            let relation = rest.split(':').next().expect("a name").trim().to_owned();
            let owner = current.clone().expect("a define inside a type");
            relations.entry(owner).or_default().insert(relation);
        }
    }
    relations
}

fn audit() -> AuditEntry {
    AuditEntry {
        id: format!("aud_{}", vault_core::SecretId::generate().as_str()),
        at: chrono::Utc::now(),
        principal: "test:authz-model".into(),
        action: "authz.fixture".into(),
        target: None,
        outcome: "ok".into(),
        request_id: "req_authz_model".into(),
    }
}

const LOADER: &str = "fga-fixture-loader";

async fn the_embedded_authorizer_passes_the_model_assertions(db: TestDb) {
    let file = load();
    let model = model_relations(&file.model_file);
    // The Rust side knows every relation the model defines, and no other.
    let project_relations: BTreeSet<String> = ProjectRole::ALL
        .into_iter()
        .map(ProjectPermission::Role)
        .chain(ProjectPermission::DERIVED)
        .map(|p| p.relation().to_owned())
        .collect();
    let workspace_relations: BTreeSet<String> = WorkspacePermission::ALL
        .into_iter()
        .map(|p| p.relation().to_owned())
        .collect();
    assert_eq!(model["project"], project_relations);
    assert_eq!(model["workspace"], workspace_relations);
    assert_eq!(
        model.keys().collect::<Vec<_>>(),
        ["project", "user", "workspace"]
    );

    let store = vault_api::server::open_store(&db.url, StoreConfig::default())
        .await
        .expect("store opens");
    let now = chrono::Utc::now();
    let mut projects = BTreeSet::new();
    for tuple in &file.tuples {
        let user = UserId::parse(split(&tuple.user, "user")).expect("user id");
        if let Some(project) = tuple.object.strip_prefix("project:") {
            let project = ProjectId::parse(project).expect("project id");
            if projects.insert(project.clone()) {
                store
                    .create_project(
                        project.clone(),
                        "fixture".into(),
                        UserId::parse(LOADER).expect("valid"),
                        now,
                        audit(),
                    )
                    .await
                    .expect("creates the project");
            }
            let role: ProjectRole = tuple
                .relation
                .parse()
                .unwrap_or_else(|_| panic!("tuple relation {} is not a role", tuple.relation));
            store
                .put_member(project, user, role, now, audit())
                .await
                .expect("adds the member");
        } else {
            let workspace = WorkspaceId::parse(split(&tuple.object, "workspace")).expect("id");
            match tuple.relation.as_str() {
                "admin" => store
                    .put_workspace_admin(workspace, user, now, audit())
                    .await
                    .map(|_| ())
                    .expect("registers the admin"),
                "member" => store
                    .put_workspace_member(workspace, user, now, audit())
                    .await
                    .map(|_| ())
                    .expect("registers the member"),
                other => panic!("workspaces hold admins and members, not {other}"),
            }
        }
    }
    // The loader leaves every project that has an Accountable of its own.
    for project in &projects {
        match store
            .remove_member(
                project.clone(),
                UserId::parse(LOADER).expect("valid"),
                now,
                audit(),
            )
            .await
        {
            Ok(()) | Err(StoreError::Conflict(Conflict::LastAccountable)) => {}
            Err(other) => panic!("{other}"),
        }
    }

    let authorizer = StoreAuthorizer::new(store.clone());
    let mut checked = 0;
    let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
    for case in &file.tests {
        for check in &case.check {
            let user_id = split(&check.user, "user");
            assert_ne!(user_id, LOADER, "assertions never name the fixture loader");
            let user = UserId::parse(user_id).expect("user id");
            for (relation, expected) in &check.assertions {
                let actual = if let Some(project) = check.object.strip_prefix("project:") {
                    let permission = ProjectPermission::from_relation(relation)
                        .unwrap_or_else(|| panic!("unknown project relation {relation}"));
                    let project = ProjectId::parse(project).expect("project id");
                    authorizer
                        .check_project(&user, permission, &project)
                        .await
                        .expect("checks")
                } else {
                    let workspace =
                        WorkspaceId::parse(split(&check.object, "workspace")).expect("id");
                    let permission = WorkspacePermission::from_relation(relation)
                        .unwrap_or_else(|| panic!("unknown workspace relation {relation}"));
                    authorizer
                        .check_workspace(&user, permission, &workspace)
                        .await
                        .expect("checks")
                };
                assert_eq!(
                    actual, *expected,
                    "{}: {} {relation} {}",
                    case.name, check.user, check.object
                );
                checked += 1;
                let object_type = check.object.split(':').next().expect("a type");
                covered.insert((object_type.to_owned(), relation.clone()));
            }
        }
    }
    // Every relation of the model is asserted somewhere.
    for (object_type, relations) in &model {
        for relation in relations {
            assert!(
                covered.contains(&(object_type.clone(), relation.clone()))
                    || ProjectRole::ALL.iter().any(|r| r.as_str() == relation),
                "no assertion covers {object_type}#{relation}"
            );
        }
    }
    assert!(checked >= 90, "only {checked} checks ran");

    // The one-trip context check the hot path uses must agree with asking the model's
    // relations one by one, for every user and every context over the fixture.
    let users: BTreeSet<&str> = file
        .tuples
        .iter()
        .map(|t| split(&t.user, "user"))
        .chain(["mallory"])
        .filter(|u| *u != LOADER)
        .collect();
    let workspaces = [None, Some("acme"), Some("other")];
    let projects = [None, Some("apollo"), Some("gemini")];
    let mut contexts = 0;
    for user in &users {
        for workspace in workspaces {
            for project in projects {
                let context = ResolutionContext::new(
                    UserId::parse(user).expect("user id"),
                    ProfileId::parse("p1").expect("valid"),
                    workspace.map(|w| WorkspaceId::parse(w).expect("valid")),
                    project.map(|p| ProjectId::parse(p).expect("valid")),
                    None,
                )
                .expect("valid context");
                let fast = authorizer.check_context(&context).await.expect("checks");
                let by_relations = check_context_by_relations(&authorizer, &context)
                    .await
                    .expect("checks");
                assert_eq!(fast, by_relations, "{user} in {workspace:?} / {project:?}");
                contexts += 1;
            }
        }
    }
    assert_eq!(contexts, users.len() * 9);
    assert!(users.len() >= 8, "{users:?}");
}
