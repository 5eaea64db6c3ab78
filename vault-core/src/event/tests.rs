//! Who is told what: one test per audience, each with the probe an outsider would try.

use std::time::Duration;

use super::*;
use crate::Placement;
use crate::resolve::fixtures::{
    agents, at, candidate, context, milestones, project, user, workspace,
};

fn stored(seq: u64, event: ChangeEvent) -> StoredEvent {
    StoredEvent {
        seq,
        id: format!("evt_{seq}"),
        at: at(0),
        actor: "user:tok_alice".into(),
        event,
    }
}

fn secret_event(kind: EventKind, owner: Owner, scope: Scope) -> StoredEvent {
    let meta = candidate(1, "API_KEY", owner, scope, None, "unused").meta;
    stored(1, ChangeEvent::secret(kind, &meta, None))
}

fn standing(user_id: &str) -> UserStanding {
    UserStanding {
        user: Some(UserId::parse(user_id).expect("valid")),
        ..UserStanding::default()
    }
}

fn pid(id: &str) -> ProjectId {
    ProjectId::parse(id).expect("valid")
}

#[test]
fn kind_names_are_unique_round_trip_and_stay() {
    let mut names: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), EventKind::ALL.len());
    for kind in EventKind::ALL {
        assert_eq!(kind.as_str().parse::<EventKind>().ok(), Some(*kind));
        assert_eq!(
            serde_json::to_string(kind).ok(),
            Some(format!("\"{kind}\""))
        );
        assert_eq!(kind.is_secret(), kind.as_str().starts_with("secret."));
    }
    // Webhook receivers match on these names.
    assert_eq!(EventKind::SecretRotated.as_str(), "secret.rotated");
    assert_eq!(EventKind::SecretExpiring.as_str(), "secret.expiring");
    assert_eq!(EventKind::TokenRevoked.as_str(), "token.revoked");
    assert!(EventKind::SecretRotated.is_secret());
    assert!(!EventKind::ProjectMemberPut.is_secret());
    assert!("secret.Rotated".parse::<EventKind>().is_err());
    assert!("".parse::<EventKind>().is_err());
}

#[test]
fn an_update_is_named_by_what_it_changed() {
    let before = candidate(1, "API_KEY", user("u1"), agents(&["p1"]), None, "x").meta;
    let mut rotated = before.clone();
    rotated.version = before.version.next().expect("next");
    let event = ChangeEvent::secret_update(&before, &rotated, None);
    assert_eq!(event.kind, EventKind::SecretRotated);
    assert_eq!(event.detail.changed, ["value"]);
    assert_eq!(event.version, Some(rotated.version));

    let rolled = ChangeEvent::secret_update(&before, &rotated, Some(Version::FIRST));
    assert_eq!(rolled.kind, EventKind::SecretRolledBack);
    assert_eq!(rolled.detail.restored_from, Some(1));

    let mut moved = before.clone();
    moved.placement = Placement::new(user("u1"), agents(&["p2"])).expect("valid");
    let rescoped = ChangeEvent::secret_update(&before, &moved, None);
    assert_eq!(rescoped.kind, EventKind::SecretRescoped);
    assert_eq!(rescoped.detail.changed, ["scope"]);
    // The profile the name left is told, and so is the one it reached.
    let reach = rescoped
        .detail
        .reach
        .expect("secret events carry their reach");
    assert!(!reach.wide);
    assert_eq!(
        reach.targets.iter().map(String::as_str).collect::<Vec<_>>(),
        ["p1", "p2"]
    );

    let mut described = before.clone();
    described.description = Some(crate::Description::parse("rotated monthly").expect("valid"));
    described.expires_at = Some(crate::ExpiresAt::stored(at(100)));
    let updated = ChangeEvent::secret_update(&before, &described, None);
    assert_eq!(updated.kind, EventKind::SecretUpdated);
    assert_eq!(updated.detail.changed, ["expires_at", "description"]);

    let mut recategorised = before.clone();
    recategorised.category = crate::Category::ApiKey;
    assert_eq!(
        ChangeEvent::secret_update(&before, &recategorised, None)
            .detail
            .changed,
        ["category"]
    );
    assert!(
        ChangeEvent::secret_update(&before, &before, None)
            .detail
            .changed
            .is_empty()
    );
}

#[test]
fn operators_and_the_orchestrator_see_everything_in_full() {
    let event = secret_event(EventKind::SecretRotated, project("prj_a"), Scope::Project);
    assert_eq!(EventAudience::Everything.view(&event), Some(event));
}

#[test]
fn a_user_sees_their_own_and_never_another_users() {
    let own = secret_event(EventKind::SecretRotated, user("u1"), Scope::All);
    let theirs = secret_event(EventKind::SecretRotated, user("u2"), Scope::All);
    let audience = EventAudience::User(standing("u1"));
    let seen = audience.view(&own).expect("their own");
    assert_eq!(seen.actor, own.actor);
    assert_eq!(seen.event.version, own.event.version);
    assert_eq!(
        seen.event.detail.reach, None,
        "reach is for routing, not for showing"
    );
    assert_eq!(audience.view(&theirs), None);
    // A token revocation is the token user's business.
    let revoked = stored(
        2,
        ChangeEvent {
            kind: EventKind::TokenRevoked,
            owner: Some(user("u2")),
            name: None,
            secret_id: None,
            version: None,
            detail: EventDetail::default(),
        },
    );
    assert_eq!(audience.view(&revoked), None);
    assert!(EventAudience::User(standing("u2")).view(&revoked).is_some());
    // An event with no owner (an operator token revoked) is for operators only.
    let ownerless = stored(
        3,
        ChangeEvent {
            owner: None,
            ..revoked.event.clone()
        },
    );
    assert_eq!(EventAudience::User(standing("u2")).view(&ownerless), None);
    assert!(EventAudience::Everything.view(&ownerless).is_some());
}

#[test]
fn workspace_events_go_to_its_admins_only() {
    let event = secret_event(EventKind::SecretRotated, workspace("ws_a"), Scope::All);
    let mut admin = standing("u1");
    admin
        .admin_of
        .insert(WorkspaceId::parse("ws_a").expect("valid"));
    assert!(EventAudience::User(admin.clone()).view(&event).is_some());
    let mut other = standing("u1");
    other
        .admin_of
        .insert(WorkspaceId::parse("ws_b").expect("valid"));
    assert_eq!(EventAudience::User(other).view(&event), None);
    assert_eq!(EventAudience::User(standing("u1")).view(&event), None);
}

#[test]
fn project_members_see_by_role() {
    let entry = secret_event(EventKind::SecretRotated, project("prj_a"), Scope::Project);
    let member_put = stored(
        2,
        ChangeEvent::about(
            EventKind::ProjectMemberPut,
            project("prj_a"),
            EventDetail {
                user_id: Some(UserId::parse("u9").expect("valid")),
                role: Some(ProjectRole::Consulted),
                ..EventDetail::default()
            },
        ),
    );
    let as_role = |role: ProjectRole| {
        let mut s = standing("u1");
        s.projects.insert(pid("prj_a"), role);
        EventAudience::User(s)
    };
    for role in [
        ProjectRole::Accountable,
        ProjectRole::Responsible,
        ProjectRole::Consulted,
    ] {
        let seen = as_role(role)
            .view(&entry)
            .expect("members who read entries");
        assert_eq!(seen.actor, entry.actor, "{role}");
        assert_eq!(seen.event.version, entry.event.version, "{role}");
        assert!(as_role(role).view(&member_put).is_some(), "{role}");
    }
    // Informed members know names only.
    let informed = as_role(ProjectRole::Informed).view(&entry).expect("names");
    assert_eq!(informed.event.name, entry.event.name);
    assert_eq!(informed.event.kind, entry.event.kind);
    assert_eq!(informed.actor, "");
    assert_eq!(informed.event.version, None);
    assert_eq!(informed.event.detail, EventDetail::default());
    assert!(as_role(ProjectRole::Informed).view(&member_put).is_some());
    // A member of another project, or of none, sees nothing.
    let mut elsewhere = standing("u1");
    elsewhere
        .projects
        .insert(pid("prj_b"), ProjectRole::Accountable);
    assert_eq!(EventAudience::User(elsewhere).view(&entry), None);
    assert_eq!(EventAudience::User(standing("u1")).view(&member_put), None);
}

#[test]
fn a_session_sees_only_secrets_that_reach_its_context() {
    let session =
        EventAudience::Session(context("u1", "p1", Some("ws_a"), Some("prj_a"), Some("m1")));
    let reaches = [
        secret_event(EventKind::SecretRotated, user("u1"), Scope::All),
        secret_event(EventKind::SecretRotated, user("u1"), agents(&["p1", "p2"])),
        secret_event(EventKind::SecretDeleted, workspace("ws_a"), Scope::All),
        secret_event(EventKind::SecretCreated, project("prj_a"), Scope::Project),
        secret_event(
            EventKind::SecretRotated,
            project("prj_a"),
            milestones(&["m1"]),
        ),
    ];
    for event in &reaches {
        let seen = session.view(event).expect("reaches the context");
        assert_eq!(seen.event.name, event.event.name);
        assert_eq!(seen.event.version, event.event.version);
        assert_eq!(seen.actor, "", "a session is not told who rotated");
        assert_eq!(seen.event.detail, EventDetail::default());
    }
    let elsewhere = [
        secret_event(EventKind::SecretRotated, user("u2"), Scope::All),
        secret_event(EventKind::SecretRotated, user("u1"), agents(&["p2"])),
        secret_event(EventKind::SecretRotated, workspace("ws_b"), Scope::All),
        secret_event(EventKind::SecretRotated, project("prj_b"), Scope::Project),
        secret_event(
            EventKind::SecretRotated,
            project("prj_a"),
            milestones(&["m2"]),
        ),
        stored(
            9,
            ChangeEvent::about(
                EventKind::ProjectMemberPut,
                project("prj_a"),
                EventDetail::default(),
            ),
        ),
    ];
    for event in &elsewhere {
        assert_eq!(session.view(event), None, "{:?}", event.event);
    }
    // A project's milestone-scoped entry does not reach a session without a milestone.
    let no_milestone = EventAudience::Session(context("u1", "p1", None, Some("prj_a"), None));
    assert_eq!(no_milestone.view(&elsewhere[4]), None);
    assert!(no_milestone.view(&reaches[3]).is_some());
    // A secret event without its reach (never written so) is refused rather than guessed.
    let mut unrouted = reaches[0].clone();
    unrouted.event.detail.reach = None;
    assert_eq!(session.view(&unrouted), None);
}

#[test]
fn a_rescope_away_from_a_profile_still_tells_it() {
    let before = candidate(1, "API_KEY", user("u1"), agents(&["p1"]), None, "x").meta;
    let mut after = before.clone();
    after.placement = Placement::new(user("u1"), agents(&["p2"])).expect("valid");
    let event = stored(1, ChangeEvent::secret_update(&before, &after, None));
    for profile in ["p1", "p2"] {
        let session = EventAudience::Session(context("u1", profile, None, None, None));
        assert!(session.view(&event).is_some(), "{profile}");
    }
    let session = EventAudience::Session(context("u1", "p3", None, None, None));
    assert_eq!(session.view(&event), None);
}

#[test]
fn the_tightest_entered_lead_is_due() {
    let day = Duration::from_secs(86_400);
    let leads = [7 * day, day];
    let expires = at(30 * 86_400);
    let before = |secs: i64| at(30 * 86_400 - secs);
    assert_eq!(due_expiry_lead(expires, before(8 * 86_400), &leads), None);
    assert_eq!(
        due_expiry_lead(expires, before(7 * 86_400 + 1), &leads),
        None
    );
    assert_eq!(
        due_expiry_lead(expires, before(7 * 86_400), &leads),
        Some(7 * 86_400)
    );
    assert_eq!(
        due_expiry_lead(expires, before(86_400 + 1), &leads),
        Some(7 * 86_400)
    );
    assert_eq!(
        due_expiry_lead(expires, before(86_400), &leads),
        Some(86_400)
    );
    assert_eq!(due_expiry_lead(expires, before(1), &leads), Some(86_400));
    assert_eq!(due_expiry_lead(expires, expires, &leads), Some(0));
    assert_eq!(due_expiry_lead(expires, at(31 * 86_400), &leads), Some(0));
    // No leads configured: only the expiry itself.
    assert_eq!(due_expiry_lead(expires, before(1), &[]), None);
    assert_eq!(due_expiry_lead(expires, expires, &[]), Some(0));
    // A zero lead means nothing beyond the expiry, even a moment before it.
    assert_eq!(due_expiry_lead(expires, before(1), &[Duration::ZERO]), None);
    let moment = expires - chrono::Duration::milliseconds(500);
    assert_eq!(due_expiry_lead(expires, moment, &[Duration::ZERO]), None);
    assert_eq!(due_expiry_lead(expires, moment, &[day]), Some(86_400));
}

#[test]
fn event_ids_are_fresh_and_shaped_for_receivers() {
    let (a, b) = (StoredEvent::generate_id(), StoredEvent::generate_id());
    assert_ne!(a, b);
    for id in [a, b] {
        assert!(id.starts_with("evt_"), "{id}");
        assert_eq!(id.len(), 4 + 21, "{id}");
    }
    let (c, d) = (crate::random_id("whk_"), crate::random_id("whk_"));
    assert_ne!(c, d);
    assert!(c.starts_with("whk_") && c.len() == 25, "{c}");
}

#[test]
fn event_details_round_trip_and_leave_empty_fields_out() {
    let detail = EventDetail {
        changed: vec!["value".into()],
        lead_seconds: Some(86_400),
        reach: Some(Reach {
            wide: false,
            targets: ["p1".to_owned()].into(),
        }),
        ..EventDetail::default()
    };
    let text = serde_json::to_string(&detail).expect("encodes");
    assert_eq!(
        text,
        r#"{"changed":["value"],"lead_seconds":86400,"reach":{"targets":["p1"]}}"#
    );
    assert_eq!(
        serde_json::from_str::<EventDetail>(&text).ok(),
        Some(detail)
    );
    assert_eq!(
        serde_json::to_string(&EventDetail::default())
            .ok()
            .as_deref(),
        Some("{}")
    );
}

#[test]
fn an_event_row_is_bound_by_its_mac_field_by_field() {
    let keys = IntegrityKeys::derive(&[3; 32]);
    let original = secret_event(EventKind::SecretRotated, user("u1"), Scope::All);
    let detail = r#"{"changed":["value"]}"#;
    let mac = event_mac(&keys, &original, detail);
    assert!(event_mac_matches(&keys, &original, detail, &mac));
    assert!(!event_mac_matches(
        &IntegrityKeys::derive(&[4; 32]),
        &original,
        detail,
        &mac
    ));
    assert!(!event_mac_matches(
        &keys,
        &original,
        r#"{"changed":["scope"]}"#,
        &mac
    ));
    assert!(!event_mac_matches(&keys, &original, detail, &mac[..31]));
    type Edit = Box<dyn Fn(&mut StoredEvent)>;
    let edits: Vec<Edit> = vec![
        Box::new(|e| e.seq += 1),
        Box::new(|e| e.id.push('x')),
        Box::new(|e| e.at += chrono::Duration::microseconds(1)),
        Box::new(|e| e.actor = "operator:tok_forged".into()),
        Box::new(|e| e.event.kind = EventKind::SecretDeleted),
        Box::new(|e| e.event.owner = Some(user("u2"))),
        Box::new(|e| e.event.owner = Some(project("u1"))),
        Box::new(|e| e.event.owner = None),
        Box::new(|e| e.event.name = Some(SecretName::parse("OTHER").expect("valid"))),
        Box::new(|e| e.event.name = None),
        Box::new(|e| e.event.secret_id = None),
        Box::new(|e| e.event.version = Version::new(9).ok()),
        Box::new(|e| e.event.version = None),
    ];
    for (n, edit) in edits.iter().enumerate() {
        let mut edited = original.clone();
        edit(&mut edited);
        assert!(!event_mac_matches(&keys, &edited, detail, &mac), "edit {n}");
    }
}
