//! Drawing the state: tabs, the secrets table (expired rows red, expiring within 7 days
//! yellow), the detail pane with version history, modals, and the key-hint bar. Reads
//! the `App` only; the rotate buffer is drawn as its length in dots, never its text.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Tabs, Wrap,
};

use crate::app::{App, Modal, Status, Tab};
use crate::model::{AuditRow, Expiry, SecretRow, VersionRow};

const HINTS: &str =
    "q quit ? help ↑↓ move Tab tab / filter ⏎ detail R rotate b rollback d delete r reload";

pub fn render(app: &App, frame: &mut Frame) {
    let [tabs_area, body, status_area, hints_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    let selected = Tab::ALL.iter().position(|t| *t == app.tab).unwrap_or(0);
    frame.render_widget(
        Tabs::new(Tab::ALL.iter().map(|t| t.title()))
            .select(selected)
            .highlight_style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)),
        tabs_area,
    );

    match &app.detail {
        Some(_) => {
            let [table_area, detail_area] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(body);
            table(app, frame, table_area);
            detail(app, frame, detail_area);
        }
        None if app.tab == Tab::Audit => audit_table(app, frame, body),
        None if app.tab == Tab::Events => events_table(app, frame, body),
        None if app.tab == Tab::Webhooks => webhooks_table(app, frame, body),
        None => table(app, frame, body),
    }

    frame.render_widget(Paragraph::new(status_line(app)), status_area);
    frame.render_widget(
        Paragraph::new(HINTS).style(Style::new().fg(Color::DarkGray)),
        hints_area,
    );

    match &app.modal {
        Some(Modal::Help) => help(frame),
        Some(Modal::Record(record)) => audit_record(record, frame),
        Some(Modal::Rotate(rotate)) => {
            let area = centered(frame.area(), 60, 9);
            let mut lines = vec![
                Line::from(format!("New value for {}", rotate.name)),
                Line::from(""),
                // Neither the text nor its length reaches the screen.
                Line::from(if rotate.buffer.is_empty() {
                    "value: (empty)"
                } else {
                    "value: •••••••• (hidden)"
                }),
                Line::from(""),
            ];
            lines.push(Line::from(if rotate.confirming {
                "Rotate now? y yes · n back · Esc cancel"
            } else {
                "Enter confirm · Esc cancel (paste works)"
            }));
            if let Some(error) = &rotate.error {
                lines.push(Line::styled(error.to_string(), Style::new().fg(Color::Red)));
            }
            modal_box(frame, area, " Rotate ", lines);
        }
        Some(Modal::Rollback(rollback)) => {
            let area = centered(frame.area(), 60, 14);
            let mut lines = vec![
                Line::from(format!("Roll {} back to:", rollback.name)),
                Line::from(""),
            ];
            for (n, version) in rollback.versions.iter().enumerate() {
                let line = format!(
                    "{} v{:<3} {:<12} {}{}",
                    if n == rollback.selected { ">" } else { " " },
                    version.version,
                    version.masked,
                    version.created_at.format("%Y-%m-%d %H:%M"),
                    if version.current { " (current)" } else { "" }
                );
                lines.push(if n == rollback.selected {
                    Line::styled(line, Style::new().add_modifier(Modifier::REVERSED))
                } else {
                    Line::from(line)
                });
            }
            lines.push(Line::from(""));
            lines.push(Line::from(if rollback.confirming {
                "Roll back now? y yes · n back · Esc cancel"
            } else {
                "↑↓ pick · Enter confirm · Esc cancel"
            }));
            if let Some(error) = &rollback.error {
                lines.push(Line::styled(error.to_string(), Style::new().fg(Color::Red)));
            }
            modal_box(frame, area, " Roll back ", lines);
        }
        Some(Modal::DeleteProject(modal)) => {
            let area = centered(frame.area(), 64, 11);
            let mut lines = vec![
                Line::from(format!(
                    "Delete project {}? This removes:",
                    modal.project_id
                )),
                Line::from(format!(
                    "  {} vault entries with every version",
                    modal.entries
                )),
                Line::from(format!("  {} milestones", modal.milestones)),
                Line::from(format!("  {} memberships", modal.members)),
                Line::from("Type the project id to confirm:"),
                Line::from(format!("> {}", modal.typed)),
                Line::from("Enter delete · Esc cancel"),
            ];
            if let Some(error) = &modal.error {
                lines.push(Line::styled(error.to_string(), Style::new().fg(Color::Red)));
            }
            modal_box(frame, area, " Delete project ", lines);
        }
        Some(Modal::Delete(delete)) => {
            let area = centered(frame.area(), 64, 9);
            let mut lines = vec![
                Line::from(format!("Delete {} and every version?", delete.name)),
                Line::from("Type its name to confirm:"),
                Line::from(format!("> {}", delete.typed)),
                Line::from(""),
                Line::from("Enter delete · Esc cancel"),
            ];
            if let Some(error) = &delete.error {
                lines.push(Line::styled(error.to_string(), Style::new().fg(Color::Red)));
            }
            modal_box(frame, area, " Delete ", lines);
        }
        None => {}
    }
}

fn status_line(app: &App) -> Line<'_> {
    let filter = (app.filtering || !app.filter().is_empty()).then(|| format!("/{}", app.filter()));
    if app.filtering {
        return Line::from(filter.unwrap_or_default());
    }
    let prefix = filter.map(|f| format!("{f}  ")).unwrap_or_default();
    match &app.status {
        Status::Loading => Line::styled(format!("{prefix}loading…"), Style::new().fg(Color::Cyan)),
        Status::Failed(failure) => {
            Line::styled(format!("{prefix}{failure}"), Style::new().fg(Color::Red))
        }
        Status::Ready => Line::from(format!(
            "{prefix}{}",
            app.notice.clone().unwrap_or_default()
        )),
    }
}

/// How a column gives up room when the content does not fit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shrink {
    /// Dates, versions, masks: always whole.
    Never,
    /// What the operator looks for (a secret's name, an audit target): shrinks only
    /// once the `First` columns are at their minimum.
    Last,
    First,
}

/// A column: its header, how it shrinks, and each row's text.
struct Column {
    header: &'static str,
    shrinks: Shrink,
    cells: Vec<String>,
}

impl Column {
    fn new(header: &'static str, shrinks: Shrink, cells: Vec<String>) -> Column {
        Column {
            header,
            shrinks,
            cells,
        }
    }

    fn natural(&self) -> u16 {
        let widest = self
            .cells
            .iter()
            .map(|c| c.chars().count())
            .chain([self.header.chars().count()])
            .max()
            .unwrap_or(0);
        u16::try_from(widest).unwrap_or(u16::MAX)
    }
}

/// The narrowest a shrinking column gets: a few characters and the ellipsis.
const MIN_SHRUNK: u16 = 8;

/// Widths sized by content: every column as wide as its widest cell while they fit in
/// `available` (one space between columns). Past that, the `First` columns give up a
/// character at a time, widest first, down to `MIN_SHRUNK`; then the `Last` ones.
fn column_widths(columns: &[Column], available: u16) -> Vec<u16> {
    let mut widths: Vec<u16> = columns.iter().map(Column::natural).collect();
    let spacing = u16::try_from(columns.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let total = |widths: &[u16]| widths.iter().sum::<u16>().saturating_add(spacing);
    while total(&widths) > available {
        let widest = columns
            .iter()
            .zip(&widths)
            .enumerate()
            .filter(|(_, (column, width))| column.shrinks != Shrink::Never && **width > MIN_SHRUNK)
            .max_by_key(|(_, (column, width))| (column.shrinks, **width))
            .map(|(index, _)| index);
        match widest {
            Some(index) => widths[index] -= 1,
            None => break,
        }
    }
    widths
}

/// `text` in `width` columns; what does not fit ends in an ellipsis, never a silent cut.
pub fn fit(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut shown: String = text.chars().take(width - 1).collect();
    shown.push('…');
    shown
}

/// A bordered table of `columns`, sized by content, with `styles` per row.
fn sized_table(
    frame: &mut Frame,
    area: Rect,
    title: String,
    columns: &[Column],
    styles: &[Style],
    selected: Option<usize>,
) {
    let widths = column_widths(columns, area.width.saturating_sub(2));
    let header = Row::new(
        columns
            .iter()
            .zip(&widths)
            .map(|(column, width)| Cell::from(fit(column.header, *width))),
    )
    .style(Style::new().add_modifier(Modifier::BOLD));
    let rows = styles.iter().enumerate().map(|(n, style)| {
        Row::new(
            columns
                .iter()
                .zip(&widths)
                .map(|(column, width)| Cell::from(fit(&column.cells[n], *width))),
        )
        .style(*style)
    });
    let table = Table::new(rows, widths.iter().map(|w| Constraint::Length(*w)))
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

fn day(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), |at| at.format("%Y-%m-%d").to_string())
}

fn table(app: &App, frame: &mut Frame, area: Rect) {
    let visible = app.visible();
    // Narrow (80 columns with the detail open): the columns an operator acts on.
    let compact = area.width < 70;
    let wide = area.width >= 110;
    let styles: Vec<Style> = visible
        .iter()
        .map(|row| match row.expiry(app.now) {
            Expiry::Expired => Style::new().fg(Color::Red),
            Expiry::Soon => Style::new().fg(Color::Yellow),
            Expiry::Live => Style::new(),
        })
        .collect();
    let cells = |f: &dyn Fn(&SecretRow) -> String| visible.iter().map(|r| f(r)).collect();
    let mut columns = vec![Column::new(
        "NAME",
        Shrink::Last,
        cells(&|r| r.name.clone()),
    )];
    if !compact {
        columns.push(Column::new(
            "OWNER",
            Shrink::First,
            cells(&|r| r.owner_label()),
        ));
        columns.push(Column::new(
            "SCOPE",
            Shrink::First,
            cells(&|r| r.scope_label()),
        ));
        columns.push(Column::new(
            "CATEGORY",
            Shrink::Never,
            cells(&|r| r.category.to_string()),
        ));
    }
    columns.push(Column::new(
        "MASKED",
        Shrink::Never,
        cells(&|r| r.masked.clone()),
    ));
    columns.push(Column::new(
        "VER",
        Shrink::Never,
        cells(&|r| format!("v{}", r.version)),
    ));
    columns.push(Column::new(
        "EXPIRES",
        Shrink::Never,
        cells(&|r| day(r.expires_at)),
    ));
    if !compact {
        let format = if wide { "%Y-%m-%d %H:%M" } else { "%Y-%m-%d" };
        columns.push(Column::new(
            "UPDATED",
            Shrink::Never,
            cells(&|r| r.updated_at.format(format).to_string()),
        ));
    }
    let title = format!(
        " {} ({}) · sorted by {} ",
        app.tab.title(),
        visible.len(),
        app.sort.label()
    );
    let selected = (!visible.is_empty()).then_some(app.selected);
    sized_table(frame, area, title, &columns, &styles, selected);
}

fn audit_table(app: &App, frame: &mut Frame, area: Rect) {
    let visible = app.visible_audit();
    let styles: Vec<Style> = visible
        .iter()
        .map(|record| {
            if record.outcome == "ok" {
                Style::new()
            } else {
                Style::new().fg(Color::Yellow)
            }
        })
        .collect();
    let cells = |f: &dyn Fn(&AuditRow) -> String| visible.iter().map(|r| f(r)).collect();
    let columns = [
        Column::new("SEQ", Shrink::Never, cells(&|r| r.seq.to_string())),
        Column::new(
            "TIME",
            Shrink::Never,
            cells(&|r| r.at.format("%m-%d %H:%M:%S").to_string()),
        ),
        Column::new("PRINCIPAL", Shrink::First, cells(&|r| r.principal.clone())),
        Column::new("ACTION", Shrink::Last, cells(&|r| r.action.clone())),
        Column::new("OUTCOME", Shrink::First, cells(&|r| r.outcome.clone())),
        Column::new("TARGET", Shrink::Last, cells(&AuditRow::target_label)),
    ];
    let title = format!(" Audit ({}) · Enter: whole record ", visible.len());
    let selected = (!visible.is_empty()).then_some(app.selected);
    sized_table(frame, area, title, &columns, &styles, selected);
}

fn events_table(app: &App, frame: &mut Frame, area: Rect) {
    let visible = app.visible_events();
    let styles: Vec<Style> = visible
        .iter()
        .map(|event| match event.kind.as_str() {
            "secret.expired" | "webhook.disabled" => Style::new().fg(Color::Red),
            "secret.expiring" | "secret.deleted" | "token.revoked" => {
                Style::new().fg(Color::Yellow)
            }
            _ => Style::new(),
        })
        .collect();
    let cells =
        |f: &dyn Fn(&crate::model::EventRow) -> String| visible.iter().map(|e| f(e)).collect();
    let columns = [
        Column::new("SEQ", Shrink::Never, cells(&|e| e.seq.to_string())),
        Column::new(
            "TIME",
            Shrink::Never,
            cells(&|e| e.at.format("%m-%d %H:%M:%S").to_string()),
        ),
        Column::new("TYPE", Shrink::Last, cells(&|e| e.kind.clone())),
        Column::new(
            "OWNER",
            Shrink::First,
            cells(&|e| match (&e.owner_kind, &e.owner_id) {
                (Some(kind), Some(id)) => format!("{kind}:{id}"),
                _ => "-".into(),
            }),
        ),
        Column::new(
            "NAME",
            Shrink::Last,
            cells(&|e| e.name.clone().unwrap_or_else(|| "-".into())),
        ),
        Column::new(
            "VER",
            Shrink::Never,
            cells(&|e| e.version.map_or_else(|| "-".into(), |v| v.to_string())),
        ),
        Column::new(
            "ACTOR",
            Shrink::First,
            cells(&|e| e.actor.clone().unwrap_or_else(|| "-".into())),
        ),
    ];
    let title = format!(" Events ({}) · live ", visible.len());
    let selected = (!visible.is_empty()).then_some(app.selected);
    sized_table(frame, area, title, &columns, &styles, selected);
}

fn webhooks_table(app: &App, frame: &mut Frame, area: Rect) {
    let visible = app.visible_webhooks();
    let styles: Vec<Style> = visible
        .iter()
        .map(|w| {
            if !w.webhook.enabled {
                Style::new().fg(Color::Red)
            } else if w.failed > 0 || w.webhook.consecutive_failures > 0 {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            }
        })
        .collect();
    let cells =
        |f: &dyn Fn(&crate::model::WebhookRow) -> String| visible.iter().map(|w| f(w)).collect();
    let columns = [
        Column::new(
            "OWNER",
            Shrink::First,
            cells(&|w| format!("{}:{}", w.webhook.owner_kind, w.webhook.owner_id)),
        ),
        Column::new("URL", Shrink::Last, cells(&|w| w.webhook.url.clone())),
        Column::new(
            "STATE",
            Shrink::Never,
            cells(&|w| {
                if w.webhook.enabled {
                    "on".into()
                } else {
                    "off".into()
                }
            }),
        ),
        Column::new("PENDING", Shrink::Never, cells(&|w| w.pending.to_string())),
        Column::new("FAILED", Shrink::Never, cells(&|w| w.failed.to_string())),
        Column::new("LAST DELIVERY", Shrink::First, cells(&|w| w.last_label())),
        Column::new(
            "WHY OFF",
            Shrink::First,
            cells(&|w| w.webhook.disabled_reason.clone().unwrap_or_default()),
        ),
    ];
    let title = format!(" Webhooks ({}) · r reload ", visible.len());
    let selected = (!visible.is_empty()).then_some(app.selected);
    sized_table(frame, area, title, &columns, &styles, selected);
}

fn audit_record(record: &AuditRow, frame: &mut Frame) {
    let area = centered(frame.area(), 100, 30);
    let mut lines = vec![
        Line::from(format!("seq        {}", record.seq)),
        Line::from(format!("id         {}", record.id)),
        Line::from(format!("at         {}", record.at.to_rfc3339())),
        Line::from(format!("principal  {}", record.principal)),
        Line::from(format!("action     {}", record.action)),
        Line::from(format!("outcome    {}", record.outcome)),
        Line::from(format!("request    {}", record.request_id)),
        Line::from("target"),
    ];
    let target = record.target_pretty().unwrap_or_else(|| "-".to_owned());
    lines.extend(target.lines().map(|l| Line::from(format!("  {l}"))));
    lines.push(Line::from(""));
    lines.push(Line::from("any key closes"));
    modal_box(frame, area, " Audit record ", lines);
}

fn detail(app: &App, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    if let Some(row) = app.selected_row() {
        let stamp = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M").to_string();
        lines.push(Line::from(Span::styled(
            row.name.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        )));
        lines.push(Line::from(format!("id       {}", row.id)));
        lines.push(Line::from(format!("owner    {}", row.owner_label())));
        lines.push(Line::from(format!("scope    {}", row.scope_label())));
        lines.push(Line::from(format!("category {}", row.category)));
        lines.push(Line::from(format!("masked   {}", row.masked)));
        let expires = match (row.expires_at, row.expiry(app.now)) {
            (None, _) => "never".to_owned(),
            (Some(at), Expiry::Expired) => format!("{} (expired)", day(Some(at))),
            (Some(at), _) => format!("{} (in {} days)", day(Some(at)), (at - app.now).num_days()),
        };
        lines.push(Line::from(format!("expires  {expires}")));
        lines.push(Line::from(format!("created  {}", stamp(row.created_at))));
        lines.push(Line::from(format!("updated  {}", stamp(row.updated_at))));
        lines.push(Line::from(format!(
            "about    {}",
            row.description.as_deref().unwrap_or("-")
        )));
        lines.push(Line::from(""));
        lines.push(Line::from("versions"));
    }
    let versions: Vec<&VersionRow> = app.detail.iter().flatten().collect();
    let mask_width = versions
        .iter()
        .map(|v| v.masked.chars().count())
        .max()
        .unwrap_or(0);
    // A history line stays on one line: the time of day only where there is room.
    let when = if area.width >= 46 {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    };
    for version in versions {
        lines.push(Line::from(format!(
            "{} v{:<3} {:<mask_width$} {}{}",
            if version.current { "*" } else { " " },
            version.version,
            version.masked,
            version.created_at.format(when),
            version
                .restored_from
                .map(|v| format!(" (from v{v})"))
                .unwrap_or_default()
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(" Detail ")),
        area,
    );
}

fn help(frame: &mut Frame) {
    let area = centered(frame.area(), 56, 21);
    let lines = [
        "↑ ↓ j k      move",
        "g G          first, last",
        "Tab 1-6      switch tab (4 audit, 5 events, 6 webhooks)",
        "/            filter: name or owner; on audit,",
        "             action, target or principal;",
        "             each tab keeps its own",
        "Enter        detail and version history; on",
        "             audit, the whole record",
        "Esc          close detail, cancel",
        "R            rotate (hidden input)",
        "b            roll back (from the detail)",
        "d            delete (type the name)",
        "s            sort: name, updated, expiry, owner",
        "D            delete the project (project tab)",
        "r            reload",
        "?            this help",
        "q Ctrl-C     quit",
    ]
    .into_iter()
    .map(Line::from)
    .collect();
    modal_box(frame, area, " Keys ", lines);
}

fn modal_box(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'_>>) {
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(title.to_owned())),
        area,
    );
}

fn centered(outer: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(outer.width);
    let height = height.min(outer.height);
    Rect {
        x: outer.x + (outer.width - width) / 2,
        y: outer.y + (outer.height - height) / 2,
        width,
        height,
    }
}
