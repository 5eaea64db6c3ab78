//! Workspace admins: registered per workspace, idempotently, with an audit record per
//! change and none for a refused one.

use vault_core::WorkspaceId;
use vault_store::{Entity, StoreError};

use crate::on_both_backends;
use crate::support::*;

on_both_backends!(workspace_admins_are_registered_per_workspace,);

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
