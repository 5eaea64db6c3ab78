//! Workspace admins and members: registered per workspace, idempotently, with an audit
//! record per change and none for a refused one; and the roles a resolution context
//! is checked against, read fresh.

use vault_core::{
    ContextRoles, MilestoneId, ProfileId, ProjectId, ProjectRole, ResolutionContext, WorkspaceId,
    WorkspaceRole,
};
use vault_store::{Entity, StoreError};

use crate::support::*;
use vault_testkit::on_both_backends;

on_both_backends!(
    worker_threads = 4;
    workspace_admins_are_registered_per_workspace,
    workspace_members_are_registered_per_workspace,
    context_roles_are_read_fresh_for_each_layer,
);

fn wid(id: &str) -> WorkspaceId {
    WorkspaceId::parse(id).expect("valid workspace id")
}

async fn workspace_admins_are_registered_per_workspace(db: TestDb) {
    let store = db.open();
    let first = store
        .put_workspace_admin(wid("acme"), user("wanda"), at(1), audit())
        .await
        .expect("registers");
    assert_eq!(first.created_at, at(1));
    let again = store
        .put_workspace_admin(wid("acme"), user("wanda"), at(2), audit())
        .await
        .expect("registering twice is fine");
    assert_eq!(again, first, "the first registration stands");
    store
        .put_workspace_admin(wid("acme"), user("ada"), at(3), audit())
        .await
        .expect("registers");
    assert!(
        store
            .is_workspace_admin(wid("acme"), user("wanda"))
            .await
            .expect("checks")
    );
    assert!(
        !store
            .is_workspace_admin(wid("other"), user("wanda"))
            .await
            .expect("checks"),
        "an admin of one workspace is nobody in another"
    );
    let listed: Vec<String> = store
        .workspace_admins(wid("acme"))
        .await
        .expect("lists")
        .into_iter()
        .map(|a| a.user_id.as_str().to_owned())
        .collect();
    assert_eq!(listed, ["ada", "wanda"]);

    let head = store.audit_head().await.expect("head").expect("records");
    store
        .remove_workspace_admin(wid("acme"), user("wanda"), audit())
        .await
        .expect("removes");
    assert!(
        !store
            .is_workspace_admin(wid("acme"), user("wanda"))
            .await
            .expect("checks")
    );
    let after_removal = store.audit_head().await.expect("head").expect("records");
    assert_eq!(after_removal.seq, head.seq + 1);
    assert_eq!(
        store
            .remove_workspace_admin(wid("acme"), user("wanda"), audit())
            .await,
        Err(StoreError::NotFound(Entity::WorkspaceAdmin))
    );
    let after_refusal = store.audit_head().await.expect("head").expect("records");
    assert_eq!(
        after_refusal.seq, after_removal.seq,
        "a refused change records nothing"
    );
}

async fn workspace_members_are_registered_per_workspace(db: TestDb) {
    let store = db.open();
    assert_eq!(
        store.workspace_role(wid("acme"), user("mia")).await,
        Ok(None)
    );
    let first = store
        .put_workspace_member(wid("acme"), user("mia"), at(1), audit())
        .await
        .expect("registers");
    assert_eq!(first.created_at, at(1));
    let again = store
        .put_workspace_member(wid("acme"), user("mia"), at(2), audit())
        .await
        .expect("registering twice is fine");
    assert_eq!(again, first, "the first registration stands");
    assert_eq!(
        store.workspace_member(wid("acme"), user("mia")).await,
        Ok(Some(first.clone()))
    );
    assert_eq!(
        store.workspace_member(wid("other"), user("mia")).await,
        Ok(None)
    );
    assert_eq!(
        store.workspace_role(wid("acme"), user("mia")).await,
        Ok(Some(WorkspaceRole::Member))
    );
    // An admin is an admin whether or not they are also registered as a member.
    store
        .put_workspace_admin(wid("acme"), user("mia"), at(3), audit())
        .await
        .expect("registers");
    assert_eq!(
        store.workspace_role(wid("acme"), user("mia")).await,
        Ok(Some(WorkspaceRole::Admin))
    );
    store
        .put_workspace_member(wid("acme"), user("abe"), at(4), audit())
        .await
        .expect("registers");
    let listed: Vec<String> = store
        .workspace_members(wid("acme"))
        .await
        .expect("lists")
        .into_iter()
        .map(|m| m.user_id.as_str().to_owned())
        .collect();
    assert_eq!(listed, ["abe", "mia"]);

    let head = store.audit_head().await.expect("head").expect("records");
    store
        .remove_workspace_member(wid("acme"), user("abe"), audit())
        .await
        .expect("removes");
    assert_eq!(
        store.workspace_role(wid("acme"), user("abe")).await,
        Ok(None)
    );
    let after_removal = store.audit_head().await.expect("head").expect("records");
    assert_eq!(after_removal.seq, head.seq + 1);
    assert_eq!(
        store
            .remove_workspace_member(wid("acme"), user("abe"), audit())
            .await,
        Err(StoreError::NotFound(Entity::WorkspaceMember))
    );
    assert_eq!(
        StoreError::NotFound(Entity::WorkspaceMember).to_string(),
        "workspace member not found"
    );
    let after_refusal = store.audit_head().await.expect("head").expect("records");
    assert_eq!(
        after_refusal.seq, after_removal.seq,
        "a refused change records nothing"
    );
}

fn context(user_id: &str, workspace: Option<&str>, project: Option<&str>) -> ResolutionContext {
    ResolutionContext::new(
        user(user_id),
        ProfileId::parse("p1").expect("valid"),
        workspace.map(wid),
        project.map(|p| ProjectId::parse(p).expect("valid")),
        project.map(|_| MilestoneId::parse("m1").expect("valid")),
    )
    .expect("valid context")
}

async fn context_roles_are_read_fresh_for_each_layer(db: TestDb) {
    let store = db.open();
    let apollo = ProjectId::parse("apollo").expect("valid");
    store
        .create_project(apollo.clone(), "Apollo".into(), user("ada"), at(0), audit())
        .await
        .expect("creates");
    store
        .put_member(
            apollo.clone(),
            user("iris"),
            ProjectRole::Informed,
            at(0),
            audit(),
        )
        .await
        .expect("adds");
    store
        .put_workspace_member(wid("acme"), user("iris"), at(0), audit())
        .await
        .expect("adds");
    store
        .put_workspace_admin(wid("acme"), user("ada"), at(0), audit())
        .await
        .expect("adds");
    let roles = |u: &str, w: Option<&str>, p: Option<&str>| {
        let store = store.clone();
        let context = context(u, w, p);
        async move { store.context_roles(context).await.expect("reads") }
    };
    assert_eq!(roles("ada", None, None).await, ContextRoles::default());
    assert_eq!(
        roles("ada", Some("acme"), Some("apollo")).await,
        ContextRoles {
            project: Some(ProjectRole::Accountable),
            workspace: Some(WorkspaceRole::Admin),
        }
    );
    assert_eq!(
        roles("iris", Some("acme"), Some("apollo")).await,
        ContextRoles {
            project: Some(ProjectRole::Informed),
            workspace: Some(WorkspaceRole::Member),
        }
    );
    // A context naming one layer reads that layer, and not the other, whatever the user
    // holds there.
    assert_eq!(
        roles("iris", None, Some("apollo")).await,
        ContextRoles {
            project: Some(ProjectRole::Informed),
            workspace: None,
        }
    );
    assert_eq!(
        roles("iris", Some("acme"), None).await,
        ContextRoles {
            project: None,
            workspace: Some(WorkspaceRole::Member),
        }
    );
    assert_eq!(
        roles("eve", Some("acme"), Some("apollo")).await,
        ContextRoles::default()
    );
    assert_eq!(
        roles("iris", Some("other"), Some("gemini")).await,
        ContextRoles::default()
    );
    // Changes show at once: no cache stands between a removal and the next check.
    store
        .remove_member(apollo.clone(), user("iris"), at(1), audit())
        .await
        .expect("removes");
    store
        .remove_workspace_member(wid("acme"), user("iris"), audit())
        .await
        .expect("removes");
    assert_eq!(
        roles("iris", Some("acme"), Some("apollo")).await,
        ContextRoles::default()
    );
    store
        .delete_project(apollo, at(2), audit())
        .await
        .expect("deletes");
    assert_eq!(roles("ada", None, Some("apollo")).await.project, None);
}
