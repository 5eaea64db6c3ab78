//! The console's state and its one pure transition, `update(&mut App, Action)`, which
//! returns the API calls to make. No I/O happens here, so every key sequence can be
//! tested without a terminal or a server.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use zeroize::Zeroizing;

use crate::model::{
    ApiFailure, AuditRow, EventBatch, EventRow, RowPage, SecretRow, VersionRow, WebhookRow,
};

/// The most events the events tab keeps, newest first.
pub const MAX_EVENTS_SHOWN: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    UserSecrets,
    WorkspaceKeys,
    ProjectVault,
    Audit,
    /// Change events, live: new ones are read every tick while the tab is open.
    Events,
    /// Webhook endpoints and how their deliveries stand.
    Webhooks,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::UserSecrets,
        Tab::WorkspaceKeys,
        Tab::ProjectVault,
        Tab::Audit,
        Tab::Events,
        Tab::Webhooks,
    ];

    /// Tabs that list no secrets: nothing on them can be rotated or deleted.
    pub fn is_read_only(self) -> bool {
        matches!(self, Tab::Audit | Tab::Events | Tab::Webhooks)
    }

    pub fn title(self) -> &'static str {
        match self {
            Tab::UserSecrets => "User secrets",
            Tab::WorkspaceKeys => "Workspace keys",
            Tab::ProjectVault => "Project vault",
            Tab::Audit => "Audit",
            Tab::Events => "Events",
            Tab::Webhooks => "Webhooks",
        }
    }

    /// Where the tab is in `ALL`, which is where its filter is kept.
    fn index(self) -> usize {
        match self {
            Tab::UserSecrets => 0,
            Tab::WorkspaceKeys => 1,
            Tab::ProjectVault => 2,
            Tab::Audit => 3,
            Tab::Events => 4,
            Tab::Webhooks => 5,
        }
    }

    fn next(self) -> Tab {
        match self {
            Tab::UserSecrets => Tab::WorkspaceKeys,
            Tab::WorkspaceKeys => Tab::ProjectVault,
            Tab::ProjectVault => Tab::Audit,
            Tab::Audit => Tab::Events,
            Tab::Events => Tab::Webhooks,
            Tab::Webhooks => Tab::UserSecrets,
        }
    }
}

/// The new value being typed: never shown, zeroized when the modal closes.
pub struct RotateModal {
    pub secret_id: String,
    pub name: String,
    pub buffer: Zeroizing<String>,
    pub confirming: bool,
    pub error: Option<ApiFailure>,
}

pub struct DeleteModal {
    pub secret_id: String,
    pub name: String,
    /// What the operator typed; deletion needs the secret's name.
    pub typed: String,
    pub error: Option<ApiFailure>,
}

/// Picking the version whose value becomes current again.
pub struct RollbackModal {
    pub secret_id: String,
    pub name: String,
    pub versions: Vec<VersionRow>,
    pub selected: usize,
    pub confirming: bool,
    pub error: Option<ApiFailure>,
}

pub enum Modal {
    Help,
    /// One audit record, whole.
    Record(Box<AuditRow>),
    Rotate(RotateModal),
    Delete(DeleteModal),
    Rollback(RollbackModal),
    DeleteProject(ProjectDeleteModal),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    Name,
    /// Most recently changed first.
    Updated,
    /// Soonest expiry first; entries without one last.
    Expiry,
    Owner,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Updated => "updated",
            SortKey::Expiry => "expiry",
            SortKey::Owner => "owner",
        }
    }

    fn next(self) -> SortKey {
        match self {
            SortKey::Name => SortKey::Updated,
            SortKey::Updated => SortKey::Expiry,
            SortKey::Expiry => SortKey::Owner,
            SortKey::Owner => SortKey::Name,
        }
    }
}

/// What deleting a project will take with it, shown before it happens.
pub struct ProjectDeleteModal {
    pub project_id: String,
    pub entries: usize,
    pub milestones: usize,
    pub members: usize,
    pub typed: String,
    pub error: Option<ApiFailure>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Loading,
    Ready,
    Failed(ApiFailure),
}

pub struct App {
    pub tab: Tab,
    pub rows: Vec<SecretRow>,
    /// The audit tab's records, newest first.
    pub audit: Vec<AuditRow>,
    /// The events tab's events, newest first, at most `MAX_EVENTS_SHOWN`.
    pub events: Vec<EventRow>,
    /// Where the events tab reads on from, once it has read.
    pub events_after: Option<u64>,
    /// A read of new events is under way (a tick does not start another).
    pub events_loading: bool,
    pub webhooks: Vec<WebhookRow>,
    pub selected: usize,
    /// Each tab's `/` filter: switching tabs keeps what the other tab was narrowed to.
    filters: [String; 6],
    pub filtering: bool,
    pub sort: SortKey,
    pub detail: Option<Vec<VersionRow>>,
    pub modal: Option<Modal>,
    pub status: Status,
    /// A one-line outcome of the last change (rotated, deleted).
    pub notice: Option<String>,
    pub now: DateTime<Utc>,
    pub quit: bool,
    /// Where the tab's next page starts, while there is one.
    pub next_cursor: Option<String>,
    pub loading_more: bool,
}

/// Work for the I/O side: API calls whose answers come back as actions.
pub enum Command {
    Load(Tab),
    /// The events after `after`, for the live events tab.
    LoadEvents {
        after: u64,
    },
    LoadMore {
        tab: Tab,
        cursor: String,
    },
    LoadVersions {
        secret_id: String,
    },
    Rotate {
        secret_id: String,
        value: Zeroizing<String>,
    },
    Delete {
        secret_id: String,
    },
    Rollback {
        secret_id: String,
        version: u32,
    },
    PreviewProject {
        project_id: String,
    },
    DeleteProject {
        project_id: String,
    },
}

impl std::fmt::Debug for Command {
    /// Leaves the rotate value out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Load(tab) => write!(f, "Load({tab:?})"),
            Command::LoadEvents { after } => write!(f, "LoadEvents({after})"),
            Command::LoadMore { tab, cursor } => write!(f, "LoadMore({tab:?}, {cursor})"),
            Command::LoadVersions { secret_id } => write!(f, "LoadVersions({secret_id})"),
            Command::Rotate { secret_id, .. } => write!(f, "Rotate({secret_id}, [redacted])"),
            Command::Delete { secret_id } => write!(f, "Delete({secret_id})"),
            Command::PreviewProject { project_id } => write!(f, "PreviewProject({project_id})"),
            Command::DeleteProject { project_id } => write!(f, "DeleteProject({project_id})"),
            Command::Rollback { secret_id, version } => {
                write!(f, "Rollback({secret_id}, v{version})")
            }
        }
    }
}

pub enum Action {
    Key(KeyEvent),
    /// Bracketed paste, into the rotate buffer when it is open.
    Paste(Zeroizing<String>),
    /// A tab's first page.
    Loaded(Tab, Result<RowPage, ApiFailure>),
    /// A further page, appended.
    More(Tab, Result<RowPage, ApiFailure>),
    AuditLoaded(Result<Vec<AuditRow>, ApiFailure>),
    /// Events read for the events tab: the newest page (`true`: it replaces what the
    /// tab holds), or what was committed since the last read.
    EventsLoaded(bool, Result<EventBatch, ApiFailure>),
    WebhooksLoaded(Result<Vec<WebhookRow>, ApiFailure>),
    /// A project's milestone and member counts, for the deletion preview.
    ProjectPreviewed(String, Result<(usize, usize), ApiFailure>),
    ProjectDeleted(String, Result<u64, ApiFailure>),
    VersionsLoaded(String, Result<Vec<VersionRow>, ApiFailure>),
    Rotated(Result<SecretRow, ApiFailure>),
    Deleted(String, Result<(), ApiFailure>),
    Tick(DateTime<Utc>),
}

impl App {
    pub fn new(now: DateTime<Utc>) -> Self {
        App {
            tab: Tab::UserSecrets,
            rows: Vec::new(),
            audit: Vec::new(),
            events: Vec::new(),
            events_after: None,
            events_loading: false,
            webhooks: Vec::new(),
            selected: 0,
            filters: Default::default(),
            filtering: false,
            sort: SortKey::Name,
            detail: None,
            modal: None,
            status: Status::Loading,
            notice: None,
            now,
            quit: false,
            next_cursor: None,
            loading_more: false,
        }
    }

    /// The current tab's filter.
    pub fn filter(&self) -> &str {
        &self.filters[self.tab.index()]
    }

    fn filter_mut(&mut self) -> &mut String {
        &mut self.filters[self.tab.index()]
    }

    /// The rows the filter keeps, in order.
    pub fn visible(&self) -> Vec<&SecretRow> {
        let mut rows: Vec<&SecretRow> = self
            .rows
            .iter()
            .filter(|r| r.matches(self.filter()))
            .collect();
        match self.sort {
            SortKey::Name => rows.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id))),
            SortKey::Updated => rows.sort_by_key(|r| std::cmp::Reverse(r.updated_at)),
            SortKey::Expiry => rows.sort_by_key(|r| (r.expires_at.is_none(), r.expires_at)),
            SortKey::Owner => {
                rows.sort_by(|a, b| (a.owner_label(), &a.name).cmp(&(b.owner_label(), &b.name)))
            }
        }
        rows
    }

    /// The audit records the filter keeps, newest first.
    pub fn visible_audit(&self) -> Vec<&AuditRow> {
        self.audit
            .iter()
            .filter(|r| crate::model::audit_matches(r, self.filter()))
            .collect()
    }

    /// The events the filter keeps, newest first.
    pub fn visible_events(&self) -> Vec<&EventRow> {
        self.events
            .iter()
            .filter(|e| crate::model::event_matches(e, self.filter()))
            .collect()
    }

    /// The webhook endpoints the filter keeps (by URL, owner or id).
    pub fn visible_webhooks(&self) -> Vec<&WebhookRow> {
        let filter = self.filter().to_lowercase();
        self.webhooks
            .iter()
            .filter(|w| {
                [&w.webhook.url, &w.webhook.owner_id, &w.webhook.id]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&filter))
            })
            .collect()
    }

    pub fn selected_record(&self) -> Option<&AuditRow> {
        self.visible_audit().get(self.selected).copied()
    }

    /// How many lines the current tab lists.
    fn line_count(&self) -> usize {
        match self.tab {
            Tab::Audit => self.visible_audit().len(),
            Tab::Events => self.visible_events().len(),
            Tab::Webhooks => self.visible_webhooks().len(),
            _ => self.visible().len(),
        }
    }

    pub fn selected_row(&self) -> Option<&SecretRow> {
        self.visible().get(self.selected).copied()
    }

    fn clamp(&mut self) {
        let count = self.line_count();
        self.selected = self.selected.min(count.saturating_sub(1));
    }
}

fn is_quit(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c')
}

pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::Key(key) if is_quit(&key) => {
            app.modal = None;
            app.quit = true;
            Vec::new()
        }
        Action::Key(key) => {
            // The last outcome or failure was read: the next key clears it.
            app.notice = None;
            if matches!(app.status, Status::Failed(_)) {
                app.status = Status::Ready;
            }
            key_action(app, key)
        }
        Action::Paste(text) => {
            if let Some(Modal::Rotate(rotate)) = app.modal.as_mut()
                && !rotate.confirming
            {
                rotate.buffer.push_str(&text);
            }
            Vec::new()
        }
        Action::Loaded(tab, result) => {
            if tab == app.tab {
                match result {
                    Ok(page) => {
                        app.rows = page.rows;
                        app.next_cursor = page.next;
                        app.status = Status::Ready;
                        app.clamp();
                    }
                    Err(failure) => app.status = Status::Failed(failure),
                }
            }
            Vec::new()
        }
        Action::AuditLoaded(result) => {
            if app.tab == Tab::Audit {
                match result {
                    Ok(records) => {
                        app.audit = records;
                        app.status = Status::Ready;
                        app.clamp();
                    }
                    Err(failure) => app.status = Status::Failed(failure),
                }
            }
            Vec::new()
        }
        Action::EventsLoaded(fresh, result) => {
            app.events_loading = false;
            match result {
                Ok(batch) => {
                    if fresh {
                        app.events.clear();
                    }
                    let newest = app.events.first().map_or(0, |e| e.seq);
                    // Newest first: the batch is oldest first. A batch that raced a
                    // reload adds nothing twice.
                    for event in batch.events.into_iter().filter(|e| fresh || e.seq > newest) {
                        app.events.insert(0, event);
                    }
                    app.events.truncate(MAX_EVENTS_SHOWN);
                    app.events_after = Some(batch.next_after);
                    if app.tab == Tab::Events {
                        app.status = Status::Ready;
                        app.clamp();
                    }
                }
                Err(failure) if app.tab == Tab::Events => app.status = Status::Failed(failure),
                Err(_) => {}
            }
            Vec::new()
        }
        Action::WebhooksLoaded(result) => {
            if app.tab == Tab::Webhooks {
                match result {
                    Ok(webhooks) => {
                        app.webhooks = webhooks;
                        app.status = Status::Ready;
                        app.clamp();
                    }
                    Err(failure) => app.status = Status::Failed(failure),
                }
            }
            Vec::new()
        }
        Action::ProjectPreviewed(project_id, result) => {
            match result {
                Ok((milestones, members)) => {
                    let entries = app
                        .rows
                        .iter()
                        .filter(|r| r.project_id() == Some(project_id.as_str()))
                        .count();
                    app.modal = Some(Modal::DeleteProject(ProjectDeleteModal {
                        project_id,
                        entries,
                        milestones,
                        members,
                        typed: String::new(),
                        error: None,
                    }));
                }
                Err(failure) => app.status = Status::Failed(failure),
            }
            Vec::new()
        }
        Action::ProjectDeleted(project_id, result) => {
            match result {
                Ok(entries) => {
                    app.rows
                        .retain(|r| r.project_id() != Some(project_id.as_str()));
                    app.clamp();
                    app.modal = None;
                    app.detail = None;
                    app.notice = Some(format!(
                        "project {project_id} deleted with {entries} entries"
                    ));
                }
                Err(failure) => {
                    if let Some(Modal::DeleteProject(modal)) = app.modal.as_mut() {
                        modal.error = Some(failure);
                    } else {
                        app.status = Status::Failed(failure);
                    }
                }
            }
            Vec::new()
        }
        Action::More(tab, result) => {
            if tab == app.tab {
                app.loading_more = false;
                match result {
                    Ok(page) => {
                        app.rows.extend(page.rows);
                        app.next_cursor = page.next;
                    }
                    Err(failure) => app.status = Status::Failed(failure),
                }
            }
            Vec::new()
        }
        Action::VersionsLoaded(id, result) => {
            if app.selected_row().is_some_and(|r| r.id == id) {
                match result {
                    Ok(versions) => app.detail = Some(versions),
                    Err(failure) => app.status = Status::Failed(failure),
                }
            }
            Vec::new()
        }
        Action::Rotated(result) => match result {
            Ok(row) => {
                app.notice = Some(format!("{} is now at version {}", row.name, row.version));
                app.detail = None;
                if let Some(existing) = app.rows.iter_mut().find(|r| r.id == row.id) {
                    *existing = row;
                }
                app.modal = None;
                Vec::new()
            }
            Err(failure) => {
                if let Some(Modal::Rotate(rotate)) = app.modal.as_mut() {
                    rotate.error = Some(failure);
                } else if let Some(Modal::Rollback(rollback)) = app.modal.as_mut() {
                    rollback.error = Some(failure);
                } else {
                    app.status = Status::Failed(failure);
                }
                Vec::new()
            }
        },
        Action::Deleted(id, result) => match result {
            Ok(()) => {
                let name = app.rows.iter().find(|r| r.id == id).map(|r| r.name.clone());
                app.rows.retain(|r| r.id != id);
                app.clamp();
                app.modal = None;
                app.detail = None;
                app.notice = name.map(|n| format!("{n} deleted with every version"));
                Vec::new()
            }
            Err(failure) => {
                if let Some(Modal::Delete(delete)) = app.modal.as_mut() {
                    delete.error = Some(failure);
                } else {
                    app.status = Status::Failed(failure);
                }
                Vec::new()
            }
        },
        Action::Tick(now) => {
            app.now = now;
            // The events tab is live: each tick reads what was committed since.
            match app.events_after {
                Some(after) if app.tab == Tab::Events && !app.events_loading => {
                    app.events_loading = true;
                    vec![Command::LoadEvents { after }]
                }
                _ => Vec::new(),
            }
        }
    }
}

fn key_action(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match app.modal.take() {
        Some(modal) => modal_key(app, modal, key),
        None if app.filtering => {
            filter_key(app, key);
            Vec::new()
        }
        None => browse_key(app, key),
    }
}

/// Near the end of what is loaded, the next page is fetched.
fn more_if_near_end(app: &mut App) -> Vec<Command> {
    let count = app.visible().len();
    match &app.next_cursor {
        Some(cursor) if !app.loading_more && app.selected + 10 >= count => {
            app.loading_more = true;
            vec![Command::LoadMore {
                tab: app.tab,
                cursor: cursor.clone(),
            }]
        }
        _ => Vec::new(),
    }
}

fn browse_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let commands = browse(app, key);
    if commands.is_empty() && !app.quit {
        return more_if_near_end(app);
    }
    commands
}

fn browse(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let count = app.line_count();
    // The audit tab is read-only; Enter opens the whole record.
    let on_audit = app.tab == Tab::Audit;
    if app.tab.is_read_only() && matches!(key.code, KeyCode::Char('R' | 'b' | 'd' | 'D')) {
        return Vec::new();
    }
    if matches!(app.tab, Tab::Events | Tab::Webhooks) && key.code == KeyCode::Enter {
        return Vec::new();
    }
    if on_audit && key.code == KeyCode::Enter {
        if let Some(record) = app.selected_record() {
            app.modal = Some(Modal::Record(Box::new(record.clone())));
        }
        return Vec::new();
    }
    match key.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('j') | KeyCode::Down if app.selected + 1 < count => {
            app.selected += 1;
            app.detail = None;
        }
        KeyCode::Char('k') | KeyCode::Up => {
            app.selected = app.selected.saturating_sub(1);
            app.detail = None;
        }
        KeyCode::Char('g') | KeyCode::Home => app.selected = 0,
        KeyCode::Char('G') | KeyCode::End => app.selected = count.saturating_sub(1),
        KeyCode::Tab => return switch(app, app.tab.next()),
        KeyCode::Char(c @ '1'..='6') => {
            let index = usize::from(c as u8 - b'1');
            return switch(app, Tab::ALL[index]);
        }
        KeyCode::Char('/') => app.filtering = true,
        KeyCode::Char('s') => {
            app.sort = app.sort.next();
            app.selected = 0;
        }
        KeyCode::Char('D') if app.tab == Tab::ProjectVault => {
            if let Some(project_id) = app.selected_row().and_then(|r| r.project_id()) {
                return vec![Command::PreviewProject {
                    project_id: project_id.to_owned(),
                }];
            }
        }
        KeyCode::Char('?') => app.modal = Some(Modal::Help),
        KeyCode::Char('r') => {
            app.status = Status::Loading;
            app.next_cursor = None;
            app.loading_more = false;
            return vec![Command::Load(app.tab)];
        }
        KeyCode::Enter => {
            if let Some(row) = app.selected_row() {
                return vec![Command::LoadVersions {
                    secret_id: row.id.clone(),
                }];
            }
        }
        KeyCode::Char('R') => {
            if let Some(row) = app.selected_row() {
                app.modal = Some(Modal::Rotate(RotateModal {
                    secret_id: row.id.clone(),
                    name: row.name.clone(),
                    buffer: Zeroizing::new(String::new()),
                    confirming: false,
                    error: None,
                }));
            }
        }
        KeyCode::Char('b') => match (&app.detail, app.selected_row()) {
            (Some(versions), Some(row)) if versions.len() > 1 => {
                app.modal = Some(Modal::Rollback(RollbackModal {
                    secret_id: row.id.clone(),
                    name: row.name.clone(),
                    versions: versions.clone(),
                    selected: versions.iter().position(|v| !v.current).unwrap_or(0),
                    confirming: false,
                    error: None,
                }));
            }
            (None, Some(row)) => {
                // The history comes first; `b` again picks from it.
                let secret_id = row.id.clone();
                return vec![Command::LoadVersions { secret_id }];
            }
            _ => {}
        },
        KeyCode::Char('d') => {
            if let Some(row) = app.selected_row() {
                app.modal = Some(Modal::Delete(DeleteModal {
                    secret_id: row.id.clone(),
                    name: row.name.clone(),
                    typed: String::new(),
                    error: None,
                }));
            }
        }
        KeyCode::Esc => app.detail = None,
        _ => {}
    }
    Vec::new()
}

fn switch(app: &mut App, tab: Tab) -> Vec<Command> {
    if tab == app.tab {
        return Vec::new();
    }
    app.tab = tab;
    app.rows.clear();
    app.next_cursor = None;
    app.loading_more = false;
    app.selected = 0;
    app.detail = None;
    app.status = Status::Loading;
    vec![Command::Load(tab)]
}

fn filter_key(app: &mut App, key: KeyEvent) {
    match key.code {
        KeyCode::Esc => {
            app.filter_mut().clear();
            app.filtering = false;
        }
        KeyCode::Enter => app.filtering = false,
        KeyCode::Backspace => {
            app.filter_mut().pop();
        }
        KeyCode::Char(c) => app.filter_mut().push(c),
        _ => {}
    }
    app.selected = 0;
    app.clamp();
}

fn modal_key(app: &mut App, modal: Modal, key: KeyEvent) -> Vec<Command> {
    match modal {
        // Any key closes help (`?` toggles it) and the audit record.
        Modal::Help | Modal::Record(_) => Vec::new(),
        Modal::Rotate(mut rotate) => {
            match (key.code, rotate.confirming) {
                // Dropping the modal zeroizes the buffer.
                (KeyCode::Esc, _) => return Vec::new(),
                (KeyCode::Enter, false) if !rotate.buffer.is_empty() => rotate.confirming = true,
                (KeyCode::Char('y'), true) => {
                    let value = Zeroizing::new(std::mem::take(&mut *rotate.buffer));
                    let secret_id = rotate.secret_id.clone();
                    rotate.confirming = false;
                    rotate.error = None;
                    app.modal = Some(Modal::Rotate(rotate));
                    return vec![Command::Rotate { secret_id, value }];
                }
                (KeyCode::Char('n'), true) => rotate.confirming = false,
                (KeyCode::Backspace, false) => {
                    rotate.buffer.pop();
                }
                (KeyCode::Char(c), false) => rotate.buffer.push(c),
                _ => {}
            }
            app.modal = Some(Modal::Rotate(rotate));
            Vec::new()
        }
        Modal::Rollback(mut rollback) => {
            let count = rollback.versions.len();
            match (key.code, rollback.confirming) {
                (KeyCode::Esc, _) => return Vec::new(),
                (KeyCode::Char('j') | KeyCode::Down, false) if rollback.selected + 1 < count => {
                    rollback.selected += 1;
                }
                (KeyCode::Char('k') | KeyCode::Up, false) => {
                    rollback.selected = rollback.selected.saturating_sub(1);
                }
                (KeyCode::Enter, false)
                    if rollback
                        .versions
                        .get(rollback.selected)
                        .is_some_and(|v| !v.current) =>
                {
                    rollback.confirming = true;
                }
                (KeyCode::Char('y'), true) => {
                    let command =
                        rollback
                            .versions
                            .get(rollback.selected)
                            .map(|v| Command::Rollback {
                                secret_id: rollback.secret_id.clone(),
                                version: v.version,
                            });
                    rollback.confirming = false;
                    rollback.error = None;
                    app.modal = Some(Modal::Rollback(rollback));
                    return command.into_iter().collect();
                }
                (KeyCode::Char('n'), true) => rollback.confirming = false,
                _ => {}
            }
            app.modal = Some(Modal::Rollback(rollback));
            Vec::new()
        }
        Modal::DeleteProject(mut modal) => {
            match key.code {
                KeyCode::Esc => return Vec::new(),
                KeyCode::Enter if modal.typed == modal.project_id => {
                    let project_id = modal.project_id.clone();
                    app.modal = Some(Modal::DeleteProject(modal));
                    return vec![Command::DeleteProject { project_id }];
                }
                KeyCode::Enter => modal.error = Some(not_confirmed(&modal.typed, "id")),
                KeyCode::Backspace => {
                    modal.typed.pop();
                    modal.error = None;
                }
                KeyCode::Char(c) => {
                    modal.typed.push(c);
                    modal.error = None;
                }
                _ => {}
            }
            app.modal = Some(Modal::DeleteProject(modal));
            Vec::new()
        }
        Modal::Delete(mut delete) => {
            match key.code {
                KeyCode::Esc => return Vec::new(),
                KeyCode::Enter if delete.typed == delete.name => {
                    let secret_id = delete.secret_id.clone();
                    app.modal = Some(Modal::Delete(delete));
                    return vec![Command::Delete { secret_id }];
                }
                KeyCode::Enter => delete.error = Some(not_confirmed(&delete.typed, "name")),
                KeyCode::Backspace => {
                    delete.typed.pop();
                    delete.error = None;
                }
                KeyCode::Char(c) => {
                    delete.typed.push(c);
                    delete.error = None;
                }
                _ => {}
            }
            app.modal = Some(Modal::Delete(delete));
            Vec::new()
        }
    }
}

/// Enter on a deletion prompt whose typed text is not the thing's name (or id): the
/// prompt stays, and says why nothing happened.
fn not_confirmed(typed: &str, what: &str) -> ApiFailure {
    ApiFailure {
        code: "not_confirmed".into(),
        detail: if typed.is_empty() {
            format!("type the {what} to delete it")
        } else {
            format!("\"{typed}\" is not the {what}; type it exactly")
        },
    }
}
