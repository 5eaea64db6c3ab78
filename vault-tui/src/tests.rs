//! The console without a terminal or a server: key sequences through `update`, and
//! every screen and modal rendered on ratatui's `TestBackend` and snapshotted.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use zeroize::Zeroizing;

use crate::app::{Action, App, Command, Modal, Tab, update};
use crate::model::{ApiFailure, RowPage, SecretRow, VersionRow};
use vault_core::{Category, Owner, ProjectId, ScopeKind, UserId};

fn project(id: &str) -> Owner {
    Owner::Project(ProjectId::parse(id).expect("a project id"))
}
use crate::render::render;

/// A value the API would never send; fed where only the operator types it.
const MARKER: &str = "PLAINTEXT-MARKER-93c1";

fn at(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 15, 8, 0, 0)
        .single()
        .expect("valid")
        + chrono::Duration::days(days)
}

fn row(n: usize, name: &str, expires_in_days: Option<i64>) -> SecretRow {
    SecretRow {
        id: format!("sec_{n:021}"),
        owner: Owner::User(UserId::parse(&format!("u{n}")).expect("a user id")),
        name: name.to_owned(),
        scope: if n.is_multiple_of(2) {
            ScopeKind::All
        } else {
            ScopeKind::Agents
        },
        targets: if n.is_multiple_of(2) {
            Vec::new()
        } else {
            vec!["prof_ci".into()]
        },
        category: Category::Other,
        masked: "sk-****abc".into(),
        version: n as u32 + 1,
        expires_at: expires_in_days.map(at),
        description: (n == 1).then(|| "CI's Twilio sender".to_owned()),
        created_at: at(-9),
        updated_at: at(-3),
    }
}

fn loaded_app() -> App {
    let mut app = App::new(at(0));
    let rows = vec![
        row(0, "STRIPE_KEY", None),
        row(1, "TWILIO_TOKEN", Some(3)),
        row(2, "WEBHOOK_OLD", Some(-1)),
        row(3, "ZAPIER_KEY", None),
    ];
    update(
        &mut app,
        Action::Loaded(Tab::UserSecrets, Ok(RowPage { rows, next: None })),
    );
    app
}

fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn press(app: &mut App, keys: &str) -> Vec<Command> {
    keys.chars()
        .flat_map(|c| update(app, key(KeyCode::Char(c))))
        .collect()
}

/// Snapshots the screen at 80×24 and at a wide 160×40.
fn snap(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), screen(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x40"), screen(app, 160, 40));
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|frame| render(app, frame)).expect("draws");
    terminal.backend().to_string()
}

#[test]
fn browsing_moves_filters_and_switches_tabs() {
    let mut app = loaded_app();
    press(&mut app, "jj");
    assert_eq!(
        app.selected_row().map(|r| r.name.as_str()),
        Some("WEBHOOK_OLD")
    );
    press(&mut app, "kkk");
    assert_eq!(app.selected, 0, "never above the first row");
    press(&mut app, "G");
    assert_eq!(app.selected, 3);
    press(&mut app, "/");
    press(&mut app, "token");
    assert!(app.filtering);
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.visible().len(), 1);
    assert_eq!(
        app.selected_row().map(|r| r.name.as_str()),
        Some("TWILIO_TOKEN")
    );
    // Owners match too; Esc in the filter clears it.
    press(&mut app, "/");
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.visible().len(), 4);
    let commands = update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::WorkspaceKeys);
    assert!(matches!(
        commands.as_slice(),
        [Command::Load(Tab::WorkspaceKeys)]
    ));
    let commands = press(&mut app, "3");
    assert!(matches!(
        commands.as_slice(),
        [Command::Load(Tab::ProjectVault)]
    ));
    // An answer for a tab no longer shown is dropped.
    update(
        &mut app,
        Action::Loaded(
            Tab::UserSecrets,
            Ok(RowPage {
                rows: vec![row(9, "LATE", None)],
                next: None,
            }),
        ),
    );
    assert!(app.rows.is_empty());
    press(&mut app, "q");
    assert!(app.quit);
}

#[test]
fn rotating_takes_hidden_input_confirms_and_zeroizes_on_cancel() {
    let mut app = loaded_app();
    press(&mut app, "R");
    assert!(matches!(app.modal, Some(Modal::Rotate(_))));
    press(&mut app, "abc");
    update(&mut app, Action::Paste(Zeroizing::new("-pasted".into())));
    update(&mut app, key(KeyCode::Backspace));
    let Some(Modal::Rotate(rotate)) = &app.modal else {
        panic!("rotate modal")
    };
    assert_eq!(rotate.buffer.as_str(), "abc-paste");
    update(&mut app, key(KeyCode::Enter));
    let commands = press(&mut app, "y");
    match commands.as_slice() {
        [Command::Rotate { secret_id, value }] => {
            assert_eq!(secret_id, "sec_000000000000000000000");
            assert_eq!(value.as_str(), "abc-paste");
            assert!(!format!("{:?}", commands[0]).contains("abc-paste"));
        }
        other => panic!("expected one rotation, got {other:?}"),
    }
    // The buffer left the modal with the command.
    let Some(Modal::Rotate(rotate)) = &app.modal else {
        panic!("rotate modal stays open until the answer")
    };
    assert!(rotate.buffer.is_empty());
    let mut rotated = row(0, "STRIPE_KEY", None);
    rotated.version = 2;
    update(&mut app, Action::Rotated(Ok(rotated)));
    assert!(app.modal.is_none());
    assert_eq!(
        app.notice.as_deref(),
        Some("STRIPE_KEY is now at version 2")
    );

    // Errors stay inline; Esc cancels and drops the buffer.
    press(&mut app, "R");
    press(&mut app, "xyz");
    update(&mut app, key(KeyCode::Enter));
    press(&mut app, "y");
    update(
        &mut app,
        Action::Rotated(Err(ApiFailure {
            code: "root_key_disabled".into(),
            detail: "the vault's root key is disabled".into(),
        })),
    );
    assert!(screen(&app, 80, 24).contains("root_key_disabled"));
    update(&mut app, key(KeyCode::Esc));
    assert!(app.modal.is_none());
}

#[test]
fn deleting_needs_the_name_typed() {
    let mut app = loaded_app();
    press(&mut app, "d");
    update(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(app.modal, Some(Modal::Delete(_))),
        "nothing typed yet"
    );
    let commands = press(&mut app, "STRIPE_KE");
    assert!(commands.is_empty());
    assert!(
        update(&mut app, key(KeyCode::Enter)).is_empty(),
        "not the whole name"
    );
    press(&mut app, "Y");
    let commands = update(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(commands.as_slice(), [Command::Delete { secret_id }] if secret_id.ends_with("000"))
    );
    update(
        &mut app,
        Action::Deleted("sec_000000000000000000000".into(), Ok(())),
    );
    assert_eq!(app.rows.len(), 3);
    assert_eq!(
        app.notice.as_deref(),
        Some("STRIPE_KEY deleted with every version")
    );
}

#[test]
fn ctrl_c_quits_from_anywhere() {
    let mut app = loaded_app();
    press(&mut app, "R");
    update(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(app.quit);
    assert!(app.modal.is_none());
}

#[test]
fn no_screen_ever_shows_a_typed_value() {
    let mut app = loaded_app();
    press(&mut app, "R");
    update(&mut app, Action::Paste(Zeroizing::new(MARKER.into())));
    for (width, height) in [(80, 24), (160, 40), (40, 12)] {
        let text = screen(&app, width, height);
        assert!(!text.contains("MARKER"), "{text}");
        assert!(!text.contains("93c1"), "{text}");
    }
    update(&mut app, key(KeyCode::Enter));
    assert!(!screen(&app, 80, 24).contains("MARKER"));
    // Not even the length shows: a one-character value draws the same screen.
    update(&mut app, key(KeyCode::Char('n')));
    let long = screen(&app, 80, 24);
    update(&mut app, key(KeyCode::Esc));
    press(&mut app, "R");
    press(&mut app, "x");
    assert_eq!(screen(&app, 80, 24), long);
}

#[test]
fn screens_at_80_by_24() {
    let mut app = loaded_app();
    snap("browser", &app);
    press(&mut app, "j");
    update(&mut app, key(KeyCode::Enter));
    update(
        &mut app,
        Action::VersionsLoaded(
            "sec_000000000000000000001".into(),
            Ok(vec![
                VersionRow {
                    version: 2,
                    masked: "****".into(),
                    current: true,
                    restored_from: Some(1),
                    created_at: at(-3),
                },
                VersionRow {
                    version: 1,
                    masked: "****".into(),
                    current: false,
                    restored_from: None,
                    created_at: at(-9),
                },
            ]),
        ),
    );
    snap("detail", &app);
    press(&mut app, "?");
    snap("help", &app);
    update(&mut app, key(KeyCode::Esc));
    press(&mut app, "R");
    press(&mut app, "secret");
    snap("rotate", &app);
    update(&mut app, key(KeyCode::Esc));
    press(&mut app, "d");
    press(&mut app, "TWILIO");
    snap("delete", &app);
}

#[test]
fn screens_wide_and_while_loading_or_failing() {
    let mut app = loaded_app();
    press(&mut app, "r");
    snap("loading", &app);
    update(
        &mut app,
        Action::Loaded(
            Tab::UserSecrets,
            Err(ApiFailure {
                code: "unreachable".into(),
                detail: "vault-api at http://127.0.0.1:8200 did not answer".into(),
            }),
        ),
    );
    snap("failed", &app);
}

fn history() -> Vec<VersionRow> {
    vec![
        VersionRow {
            version: 3,
            masked: "****".into(),
            current: true,
            restored_from: None,
            created_at: at(-1),
        },
        VersionRow {
            version: 2,
            masked: "****".into(),
            current: false,
            restored_from: None,
            created_at: at(-2),
        },
        VersionRow {
            version: 1,
            masked: "****".into(),
            current: false,
            restored_from: None,
            created_at: at(-3),
        },
    ]
}

#[test]
fn rolling_back_picks_a_version_from_the_history_and_confirms() {
    let mut app = loaded_app();
    // Without the history, `b` fetches it first.
    let commands = press(&mut app, "b");
    assert!(matches!(
        commands.as_slice(),
        [Command::LoadVersions { .. }]
    ));
    update(
        &mut app,
        Action::VersionsLoaded("sec_000000000000000000000".into(), Ok(history())),
    );
    press(&mut app, "b");
    let Some(Modal::Rollback(rollback)) = &app.modal else {
        panic!("rollback modal")
    };
    assert_eq!(
        rollback.versions[rollback.selected].version, 2,
        "starts on the newest non-current"
    );
    snap("rollback", &app);
    press(&mut app, "j");
    update(&mut app, key(KeyCode::Enter));
    let commands = press(&mut app, "y");
    assert!(matches!(
        commands.as_slice(),
        [Command::Rollback { version: 1, .. }]
    ));
    // The current version cannot be picked.
    press(&mut app, "kk");
    update(&mut app, key(KeyCode::Enter));
    assert!(press(&mut app, "y").is_empty());
}

#[test]
fn scrolling_near_the_end_fetches_the_next_page_once() {
    let mut app = App::new(at(0));
    let rows = (0..30).map(|n| row(n, &format!("S{n:02}"), None)).collect();
    update(
        &mut app,
        Action::Loaded(
            Tab::UserSecrets,
            Ok(RowPage {
                rows,
                next: Some("cursor-1".into()),
            }),
        ),
    );
    assert!(press(&mut app, "jjjj").is_empty(), "far from the end");
    let commands = press(&mut app, "G");
    assert!(matches!(
        commands.as_slice(),
        [Command::LoadMore { cursor, .. }] if cursor == "cursor-1"
    ));
    assert!(press(&mut app, "k").is_empty(), "one fetch at a time");
    let more = (30..35)
        .map(|n| row(n, &format!("S{n:02}"), None))
        .collect();
    update(
        &mut app,
        Action::More(
            Tab::UserSecrets,
            Ok(RowPage {
                rows: more,
                next: None,
            }),
        ),
    );
    assert_eq!(app.rows.len(), 35);
    assert!(press(&mut app, "G").is_empty(), "nothing further");
    assert_eq!(app.selected_row().map(|r| r.name.as_str()), Some("S34"));
}

#[test]
fn the_audit_tab_lists_filters_and_stays_read_only() {
    let mut app = loaded_app();
    let commands = press(&mut app, "4");
    assert!(matches!(commands.as_slice(), [Command::Load(Tab::Audit)]));
    let record = |seq: u64, principal: &str, action: &str, outcome: &str, target: &str| {
        crate::model::AuditRow {
            seq,
            id: format!("aud_{seq:020}"),
            at: at(-1) + chrono::Duration::minutes(seq as i64),
            principal: principal.into(),
            action: action.into(),
            outcome: outcome.into(),
            request_id: format!("req_{seq:020}"),
            target: serde_json::from_str(target).ok(),
            hash: "00".repeat(32),
        }
    };
    update(
        &mut app,
        Action::AuditLoaded(Ok(vec![
            record(
                4,
                "operator:tok_ops",
                "secret.rotate",
                "ok",
                r#"{"name":"STRIPE_KEY","secret_id":"sec_V1StGXR8_Z5jdHi6B-myT","version":2}"#,
            ),
            record(
                3,
                "orchestrator:tok_orch",
                "resolve",
                "ok",
                r#"{"user_id":"alice","profile_id":"prof_ci"}"#,
            ),
            record(
                2,
                "anonymous",
                "secret.list",
                "unauthenticated",
                r#"{"method":"GET","path":"/v1/secrets"}"#,
            ),
            record(
                1,
                "user:tok_alice",
                "secret.create",
                "ok",
                r#"{"name":"STRIPE_KEY"}"#,
            ),
        ])),
    );
    snap("audit", &app);
    assert_eq!(
        app.visible_audit()[0].target_label(),
        "STRIPE_KEY · secret sec_V1StGXR8_Z5jdHi6B-myT · version 2",
        "names and ids, not JSON"
    );
    assert_eq!(app.visible_audit()[2].target_label(), "GET /v1/secrets");
    // Enter opens the whole record; any key closes it.
    update(&mut app, key(KeyCode::Enter));
    assert!(matches!(&app.modal, Some(Modal::Record(r)) if r.seq == 4));
    snap("audit_record", &app);
    update(&mut app, key(KeyCode::Esc));
    assert!(app.modal.is_none());
    press(&mut app, "/");
    press(&mut app, "stripe");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.visible_audit().len(), 2, "by secret");
    press(&mut app, "/");
    update(&mut app, key(KeyCode::Esc));
    press(&mut app, "/");
    press(&mut app, "orchestrator");
    assert_eq!(app.visible_audit().len(), 1, "by principal");
    update(&mut app, key(KeyCode::Esc));
    assert!(press(&mut app, "Rdb").is_empty());
    assert!(
        app.modal.is_none(),
        "nothing to rotate, roll back or delete here"
    );
}

#[test]
fn sorting_cycles_through_name_updated_expiry_and_owner() {
    let mut app = loaded_app();
    let names =
        |app: &App| -> Vec<String> { app.visible().iter().map(|r| r.name.clone()).collect() };
    assert_eq!(
        names(&app),
        ["STRIPE_KEY", "TWILIO_TOKEN", "WEBHOOK_OLD", "ZAPIER_KEY"]
    );
    press(&mut app, "ss");
    assert_eq!(app.sort.label(), "expiry");
    assert_eq!(
        &names(&app)[..2],
        ["WEBHOOK_OLD", "TWILIO_TOKEN"],
        "soonest expiry first"
    );
    press(&mut app, "s");
    assert_eq!(names(&app)[0], "STRIPE_KEY", "by owner: user:u0 first");
    press(&mut app, "s");
    assert_eq!(app.sort.label(), "name");
}

#[test]
fn deleting_a_project_first_shows_the_cascade() {
    let mut app = App::new(at(0));
    press(&mut app, "3");
    let mut entry = row(0, "DEPLOY_TOKEN", None);
    entry.owner = project("apollo");
    let mut other = row(1, "SIGNING_KEY", None);
    other.owner = project("apollo");
    let mut elsewhere = row(2, "ELSEWHERE", None);
    elsewhere.owner = project("gemini");
    update(
        &mut app,
        Action::Loaded(
            Tab::ProjectVault,
            Ok(RowPage {
                rows: vec![entry, other, elsewhere],
                next: None,
            }),
        ),
    );
    let commands = press(&mut app, "D");
    assert!(matches!(
        commands.as_slice(),
        [Command::PreviewProject { project_id }] if project_id == "apollo"
    ));
    update(
        &mut app,
        Action::ProjectPreviewed("apollo".into(), Ok((2, 3))),
    );
    snap("delete_project", &app);
    press(&mut app, "gemini");
    assert!(
        update(&mut app, key(KeyCode::Enter)).is_empty(),
        "another project's id"
    );
    for _ in 0..6 {
        update(&mut app, key(KeyCode::Backspace));
    }
    press(&mut app, "apollo");
    let commands = update(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        commands.as_slice(),
        [Command::DeleteProject { project_id }] if project_id == "apollo"
    ));
    update(&mut app, Action::ProjectDeleted("apollo".into(), Ok(2)));
    assert_eq!(app.rows.len(), 1);
    assert_eq!(
        app.notice.as_deref(),
        Some("project apollo deleted with 2 entries")
    );
}

#[test]
fn a_wrong_name_in_the_delete_prompt_says_so() {
    let mut app = loaded_app();
    press(&mut app, "d");
    press(&mut app, "STRIPE");
    assert!(
        update(&mut app, key(KeyCode::Enter)).is_empty(),
        "nothing deleted"
    );
    let Some(Modal::Delete(delete)) = &app.modal else {
        panic!("the prompt stays open");
    };
    let error = delete.error.as_ref().expect("says why");
    assert_eq!(error.code, "not_confirmed");
    assert!(
        error.detail.contains("\"STRIPE\" is not the name"),
        "{error}"
    );
    snap("delete_mismatch", &app);
    // Typing again clears it; the right name deletes.
    press(&mut app, "_KEY");
    let Some(Modal::Delete(delete)) = &app.modal else {
        panic!("open");
    };
    assert!(delete.error.is_none());
    let commands = update(&mut app, key(KeyCode::Enter));
    assert!(matches!(commands.as_slice(), [Command::Delete { .. }]));
    // An empty prompt says what to type.
    let mut app = loaded_app();
    press(&mut app, "d");
    update(&mut app, key(KeyCode::Enter));
    let Some(Modal::Delete(delete)) = &app.modal else {
        panic!("open");
    };
    assert_eq!(
        delete.error.as_ref().map(|e| e.detail.as_str()),
        Some("type the name to delete it")
    );
}

#[test]
fn the_status_line_clears_on_the_next_key() {
    let mut app = loaded_app();
    let mut rotated = row(0, "STRIPE_KEY", None);
    rotated.version = 2;
    update(&mut app, Action::Rotated(Ok(rotated)));
    assert_eq!(
        app.notice.as_deref(),
        Some("STRIPE_KEY is now at version 2")
    );
    press(&mut app, "j");
    assert_eq!(app.notice, None, "read once, then gone");
    update(
        &mut app,
        Action::Loaded(
            Tab::UserSecrets,
            Err(ApiFailure {
                code: "unreachable".into(),
                detail: "connection refused".into(),
            }),
        ),
    );
    assert!(matches!(app.status, crate::app::Status::Failed(_)));
    press(&mut app, "k");
    assert_eq!(app.status, crate::app::Status::Ready);
    assert!(!screen(&app, 80, 24).contains("connection refused"));
}

#[test]
fn each_tab_keeps_its_own_filter() {
    let mut app = loaded_app();
    press(&mut app, "/token");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.filter(), "token");
    press(&mut app, "4");
    assert_eq!(app.filter(), "", "the audit tab starts unfiltered");
    press(&mut app, "/stripe");
    update(&mut app, key(KeyCode::Enter));
    press(&mut app, "1");
    assert_eq!(
        app.filter(),
        "token",
        "back to what this tab was narrowed to"
    );
    press(&mut app, "4");
    assert_eq!(app.filter(), "stripe");
}

#[test]
fn long_names_end_in_an_ellipsis_and_columns_fit_their_content() {
    let mut app = App::new(at(0));
    let mut long = row(
        1,
        "GITHUB_PERSONAL_ACCESS_TOKEN_FOR_THE_RELEASE_PIPELINE",
        Some(3),
    );
    long.owner = Owner::Workspace(
        vault_core::WorkspaceId::parse("acme-platform-engineering").expect("a workspace id"),
    );
    long.targets = vec!["prof_release".into(), "prof_nightly".into()];
    let rows = vec![row(0, "DB_URL", None), long];
    update(
        &mut app,
        Action::Loaded(Tab::UserSecrets, Ok(RowPage { rows, next: None })),
    );
    snap("long_names", &app);
    let narrow = screen(&app, 80, 24);
    // The owner and scope give way first; the name keeps the most it can, and ends
    // in an ellipsis.
    assert!(narrow.contains("GITHUB_PERSON…"), "{narrow}");
    assert!(narrow.contains("workspa…"), "{narrow}");
    assert!(
        narrow.contains("2027-01-18"),
        "the fixed columns keep their width"
    );
    // A short table takes only the room its content needs.
    let short = screen(&loaded_app(), 160, 40);
    assert!(short.contains("NAME         OWNER"), "{short}");
}

#[test]
fn fitting_cuts_only_with_an_ellipsis() {
    use crate::render::fit;
    assert_eq!(fit("STRIPE_KEY", 10), "STRIPE_KEY");
    assert_eq!(fit("STRIPE_KEY", 9), "STRIPE_K…");
    assert_eq!(fit("STRIPE_KEY", 1), "…");
    assert_eq!(fit("STRIPE_KEY", 0), "");
    assert_eq!(fit("ÉTÉ_VALEUR", 4), "ÉTÉ…", "characters, not bytes");
}

fn event(seq: u64, kind: &str, name: Option<&str>) -> crate::model::EventRow {
    crate::model::EventRow {
        seq,
        id: format!("evt_{seq:021}"),
        at: at(-1) + chrono::Duration::minutes(seq as i64),
        kind: kind.into(),
        owner_kind: Some("user".into()),
        owner_id: Some("alice".into()),
        name: name.map(str::to_owned),
        secret_id: name.map(|_| format!("sec_{seq:021}")),
        version: name.map(|_| 2),
        actor: Some("user:tok_alice".into()),
        changed: Vec::new(),
        restored_from: None,
        expires_at: None,
        lead_seconds: None,
        user_id: None,
        role: None,
        milestone_id: None,
        token_id: None,
        token_kind: None,
        webhook_id: None,
        reason: None,
    }
}

#[test]
fn the_events_tab_shows_the_newest_then_follows_live_and_stays_read_only() {
    let mut app = loaded_app();
    let commands = press(&mut app, "5");
    assert!(matches!(commands.as_slice(), [Command::Load(Tab::Events)]));
    // No position yet: a tick reads nothing.
    assert!(update(&mut app, Action::Tick(at(0))).is_empty());
    update(
        &mut app,
        Action::EventsLoaded(
            true,
            Ok(crate::model::EventBatch {
                events: vec![
                    event(7, "secret.created", Some("API_KEY")),
                    event(8, "secret.rotated", Some("API_KEY")),
                ],
                next_after: 8,
            }),
        ),
    );
    assert_eq!(app.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [8, 7]);
    // Each tick reads what was committed since, one read at a time.
    let commands = update(&mut app, Action::Tick(at(0)));
    assert!(matches!(
        commands.as_slice(),
        [Command::LoadEvents { after: 8 }]
    ));
    assert!(
        update(&mut app, Action::Tick(at(0))).is_empty(),
        "one read at a time"
    );
    update(
        &mut app,
        Action::EventsLoaded(
            false,
            Ok(crate::model::EventBatch {
                events: vec![
                    // A batch that raced a reload adds nothing twice.
                    event(8, "secret.rotated", Some("API_KEY")),
                    event(9, "secret.expiring", Some("DB_URL")),
                    event(10, "webhook.disabled", None),
                ],
                next_after: 10,
            }),
        ),
    );
    assert_eq!(
        app.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [10, 9, 8, 7]
    );
    assert!(matches!(
        update(&mut app, Action::Tick(at(0))).as_slice(),
        [Command::LoadEvents { after: 10 }]
    ));
    // Nothing here can be rotated, rolled back or deleted.
    assert!(press(&mut app, "Rbd").is_empty());
    assert!(app.modal.is_none());
    // The filter narrows by type, name, owner or actor.
    press(&mut app, "/");
    press(&mut app, "expir");
    assert_eq!(app.visible_events().len(), 1);
    update(&mut app, key(KeyCode::Enter));
    snap("events_tab", &app);
    // Other tabs do not read events.
    press(&mut app, "1");
    assert!(update(&mut app, Action::Tick(at(0))).is_empty());
}

#[test]
fn the_webhooks_tab_shows_each_endpoint_and_its_deliveries() {
    let mut app = loaded_app();
    let commands = press(&mut app, "6");
    assert!(matches!(
        commands.as_slice(),
        [Command::Load(Tab::Webhooks)]
    ));
    let webhook = |id: &str, url: &str, enabled: bool, reason: Option<&str>| {
        vault_client::wire::WebhookView {
            id: id.into(),
            owner_kind: "user".into(),
            owner_id: "alice".into(),
            url: url.into(),
            event_types: Vec::new(),
            description: None,
            enabled,
            disabled_reason: reason.map(str::to_owned),
            consecutive_failures: if enabled { 0 } else { 20 },
            secret_generation: 1,
            previous_secret_until: None,
            created_at: at(-3),
            updated_at: at(-1),
        }
    };
    let delivery =
        |state: &str, attempts: u32, status: Option<u16>| vault_client::wire::DeliveryView {
            id: "dlv_000000000000000000001".into(),
            event_id: "evt_000000000000000000001".into(),
            event_seq: 1,
            event_type: "secret.rotated".into(),
            state: state.into(),
            attempts,
            next_attempt_at: at(0),
            last_status: status,
            last_error: None,
            created_at: at(-1),
            updated_at: at(-1),
        };
    update(
        &mut app,
        Action::WebhooksLoaded(Ok(vec![
            crate::model::WebhookRow {
                webhook: webhook("whk_a", "https://hooks.example.com/ci", true, None),
                last: Some(delivery("delivered", 1, Some(204))),
                pending: 0,
                failed: 0,
            },
            crate::model::WebhookRow {
                webhook: webhook(
                    "whk_b",
                    "https://siem.example.net/vault",
                    false,
                    Some("20 deliveries in a row failed; the last: the receiver answered 503"),
                ),
                last: Some(delivery("pending", 4, Some(503))),
                pending: 3,
                failed: 1,
            },
        ])),
    );
    assert_eq!(app.visible_webhooks().len(), 2);
    assert_eq!(
        app.webhooks[1].last_label(),
        "pending (4 attempts, last 503)"
    );
    assert!(press(&mut app, "Rbd").is_empty());
    snap("webhooks_tab", &app);
}
