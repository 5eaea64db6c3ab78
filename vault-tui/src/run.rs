//! The event loop: draw, wait for the next action (a key, a paste, an API answer, a
//! tick), update, and hand the resulting commands to tasks that call the API and send
//! their answers back as actions. The render loop never waits on the network.

use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::api::ApiClient;
use crate::app::{Action, App, Command, Tab, update};
use crate::render::render;

/// Runs until the app quits or every action sender is gone.
pub async fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    client: Arc<dyn ApiClient>,
    sender: UnboundedSender<Action>,
    actions: UnboundedReceiver<Action>,
) -> Result<(), B::Error> {
    run_loop_observed(terminal, app, client, sender, actions, &mut |_| {}).await
}

/// As [`run_loop`], showing `observe` the state after every draw (for scripted tests).
pub async fn run_loop_observed<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    client: Arc<dyn ApiClient>,
    sender: UnboundedSender<Action>,
    mut actions: UnboundedReceiver<Action>,
    observe: &mut (dyn FnMut(&App) + Send),
) -> Result<(), B::Error> {
    dispatch(app, Command::Load(app.tab), &client, &sender);
    loop {
        terminal.draw(|frame| render(app, frame))?;
        observe(app);
        if app.quit {
            return Ok(());
        }
        let Some(action) = actions.recv().await else {
            return Ok(());
        };
        for command in update(app, action) {
            dispatch(app, command, &client, &sender);
        }
    }
}

fn dispatch(
    app: &App,
    command: Command,
    client: &Arc<dyn ApiClient>,
    sender: &UnboundedSender<Action>,
) {
    let client = client.clone();
    let sender = sender.clone();
    let row_of = |id: &str| app.rows.iter().find(|r| r.id == id).cloned();
    match command {
        Command::Load(Tab::Events) => {
            tokio::spawn(async move {
                let result = client.events(None).await;
                let _ = sender.send(Action::EventsLoaded(true, result));
            });
        }
        Command::LoadEvents { after } => {
            tokio::spawn(async move {
                let result = client.events(Some(after)).await;
                let _ = sender.send(Action::EventsLoaded(false, result));
            });
        }
        Command::Load(Tab::Webhooks) => {
            tokio::spawn(async move {
                let result = client.webhooks().await;
                let _ = sender.send(Action::WebhooksLoaded(result));
            });
        }
        Command::Load(Tab::Audit) => {
            tokio::spawn(async move {
                let result = client.audit().await;
                let _ = sender.send(Action::AuditLoaded(result));
            });
        }
        Command::Load(tab) => {
            tokio::spawn(async move {
                let result = client.page(tab, None).await;
                let _ = sender.send(Action::Loaded(tab, result));
            });
        }
        Command::LoadMore { tab, cursor } => {
            tokio::spawn(async move {
                let result = client.page(tab, Some(cursor)).await;
                let _ = sender.send(Action::More(tab, result));
            });
        }
        Command::LoadVersions { secret_id } => {
            let Some(row) = row_of(&secret_id) else {
                return;
            };
            tokio::spawn(async move {
                let result = client.versions(&row).await;
                let _ = sender.send(Action::VersionsLoaded(secret_id, result));
            });
        }
        Command::Rotate { secret_id, value } => {
            let Some(row) = row_of(&secret_id) else {
                return;
            };
            tokio::spawn(async move {
                let result = client.rotate(&row, value).await;
                let _ = sender.send(Action::Rotated(result));
            });
        }
        Command::Rollback { secret_id, version } => {
            let Some(row) = row_of(&secret_id) else {
                return;
            };
            tokio::spawn(async move {
                let result = client.rollback(&row, version).await;
                let _ = sender.send(Action::Rotated(result));
            });
        }
        Command::PreviewProject { project_id } => {
            tokio::spawn(async move {
                let result = client.project_counts(&project_id).await;
                let _ = sender.send(Action::ProjectPreviewed(project_id, result));
            });
        }
        Command::DeleteProject { project_id } => {
            tokio::spawn(async move {
                let result = client.delete_project(&project_id).await;
                let _ = sender.send(Action::ProjectDeleted(project_id, result));
            });
        }
        Command::Delete { secret_id } => {
            let Some(row) = row_of(&secret_id) else {
                return;
            };
            tokio::spawn(async move {
                let result = client.delete(&row).await;
                let _ = sender.send(Action::Deleted(secret_id, result));
            });
        }
    }
}
