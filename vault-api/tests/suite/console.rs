//! The operator console end to end: a real `vault-api serve --dev` on a free port,
//! the console's event loop on a `TestBackend` fed scripted keys through its action
//! channel, and the outcome checked through the API: the rotated secret resolves to its
//! new value, the rolled-back one to its old value, and the deleted one is gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use tokio::sync::watch;
use vault_testkit::DevServer;
use vault_tui::api::{ApiClient, HttpClient};
use vault_tui::app::{Action, App, Modal};
use vault_tui::run::run_loop_observed;
use zeroize::Zeroizing;

const BIN: &str = env!("CARGO_BIN_EXE_vault-api");

async fn call(
    server: &DevServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> Value {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

/// What the script waits on: the console's state after each draw.
#[derive(Clone, Debug, Default, PartialEq)]
struct Seen {
    rows: Vec<(String, u32)>,
    selected: Option<String>,
    modal: Option<&'static str>,
    history: usize,
    notice: Option<String>,
    audit: Vec<String>,
}

fn seen(app: &App) -> Seen {
    Seen {
        rows: app
            .rows
            .iter()
            .map(|r| (r.name.clone(), r.version))
            .collect(),
        selected: app.selected_row().map(|r| r.name.clone()),
        modal: app.modal.as_ref().map(|m| match m {
            Modal::Help => "help",
            Modal::Record(_) => "record",
            Modal::Rotate(_) => "rotate",
            Modal::Delete(_) => "delete",
            Modal::Rollback(_) => "rollback",
            Modal::DeleteProject(_) => "delete project",
        }),
        history: app.detail.as_ref().map_or(0, Vec::len),
        notice: app.notice.clone(),
        audit: app.audit.iter().map(|r| r.action.clone()).collect(),
    }
}

struct Script {
    keys: tokio::sync::mpsc::UnboundedSender<Action>,
    seen: watch::Receiver<Seen>,
}

impl Script {
    fn type_text(&self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn key(&self, code: KeyCode) {
        self.keys
            .send(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .expect("the console runs");
    }

    async fn until(&mut self, what: &str, done: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = self.seen.borrow_and_update().clone();
            if done(&now) {
                return now;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited for {what}; the console shows {now:?}"
            );
            let _ = tokio::time::timeout(left, self.seen.changed()).await;
        }
    }

    /// Narrows the list to one name and waits until it is the selected row.
    async fn select(&mut self, name: &str) {
        self.key(KeyCode::Char('/'));
        self.type_text(name);
        self.key(KeyCode::Enter);
        let name = name.to_owned();
        self.until(&format!("{name} selected"), |s| {
            s.selected.as_deref() == Some(&name)
        })
        .await;
    }

    fn clear_filter(&self) {
        self.key(KeyCode::Char('/'));
        self.key(KeyCode::Esc);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_rotates_rolls_back_and_deletes_through_the_console() {
    let server = DevServer::start(BIN);
    let post = reqwest::Method::POST;
    let mut ids = std::collections::BTreeMap::new();
    for (name, value) in [
        ("ROTATE_ME", "before-rotation"),
        ("ROLL_ME_BACK", "the-first-value"),
        ("DELETE_ME", "doomed-value"),
    ] {
        let created = call(
            &server,
            post.clone(),
            "/v1/secrets",
            &server.operator,
            json!({"name": name, "value": value, "user_id": "eve"}),
        )
        .await;
        ids.insert(name, created["id"].as_str().expect("id").to_owned());
    }
    call(
        &server,
        reqwest::Method::PATCH,
        &format!("/v1/secrets/{}", ids["ROLL_ME_BACK"]),
        &server.operator,
        json!({"value": "a-regretted-value"}),
    )
    .await;

    let client: Arc<dyn ApiClient> = Arc::new(
        HttpClient::new(&server.base, Zeroizing::new(server.operator.clone())).expect("client"),
    );
    client
        .check()
        .await
        .expect("the operator token is accepted");
    let (keys, actions) = tokio::sync::mpsc::unbounded_channel();
    let (publish, watching) = watch::channel(Seen::default());
    let console_keys = keys.clone();
    let console = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
        let mut app = App::new(chrono::Utc::now());
        let mut observe = move |app: &App| {
            let _ = publish.send(seen(app));
        };
        run_loop_observed(
            &mut terminal,
            &mut app,
            client,
            console_keys,
            actions,
            &mut observe,
        )
        .await
        .expect("the loop runs");
        terminal.backend().to_string()
    });
    let mut script = Script {
        keys,
        seen: watching,
    };
    script
        .until("the secrets to load", |s| s.rows.len() == 3)
        .await;

    // Rotate: hidden input, confirm, the new version shown.
    script.select("ROTATE_ME").await;
    script.key(KeyCode::Char('R'));
    script
        .until("the rotate modal", |s| s.modal == Some("rotate"))
        .await;
    script
        .keys
        .send(Action::Paste(Zeroizing::new("after-rotation".into())))
        .expect("runs");
    script.key(KeyCode::Enter);
    script.key(KeyCode::Char('y'));
    script
        .until("the rotation", |s| {
            s.notice.as_deref() == Some("ROTATE_ME is now at version 2")
        })
        .await;
    script.clear_filter();

    // Roll back: open the history, pick version 1, confirm.
    script.select("ROLL_ME_BACK").await;
    script.key(KeyCode::Enter);
    script.until("the history", |s| s.history == 2).await;
    script.key(KeyCode::Char('b'));
    script
        .until("the rollback picker", |s| s.modal == Some("rollback"))
        .await;
    script.key(KeyCode::Enter);
    script.key(KeyCode::Char('y'));
    script
        .until("the rollback", |s| {
            s.notice.as_deref() == Some("ROLL_ME_BACK is now at version 3")
        })
        .await;
    script.clear_filter();

    // Delete: the name typed to confirm.
    script.select("DELETE_ME").await;
    script.key(KeyCode::Char('d'));
    script
        .until("the delete modal", |s| s.modal == Some("delete"))
        .await;
    script.type_text("DELETE_ME");
    script.key(KeyCode::Enter);
    script
        .until("the deletion", |s| {
            s.notice.as_deref() == Some("DELETE_ME deleted with every version")
        })
        .await;
    // The audit view shows what just happened.
    script.key(KeyCode::Char('4'));
    let audit = script
        .until("the audit records", |s| {
            s.audit.iter().any(|a| a == "secret.delete")
        })
        .await;
    for action in ["secret.rotate", "secret.rollback"] {
        assert!(audit.audit.iter().any(|a| a == action), "{audit:?}");
    }
    script.key(KeyCode::Char('q'));
    let last_screen = console.await.expect("the console ends");
    for value in [
        "after-rotation",
        "the-first-value",
        "a-regretted-value",
        "doomed-value",
    ] {
        assert!(
            !last_screen.contains(value),
            "a value on screen:\n{last_screen}"
        );
    }

    let resolved = call(
        &server,
        post,
        "/v1/resolve",
        &server.orchestrator,
        json!({"user_id": "eve", "profile_id": "p1"}),
    )
    .await;
    assert_eq!(
        resolved["env"],
        json!({"ROTATE_ME": "after-rotation", "ROLL_ME_BACK": "the-first-value"})
    );
}
