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
use crate::model::Expiry;

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
        None => table(app, frame, body),
    }

    frame.render_widget(Paragraph::new(status_line(app)), status_area);
    frame.render_widget(
        Paragraph::new(HINTS).style(Style::new().fg(Color::DarkGray)),
        hints_area,
    );

    match &app.modal {
        Some(Modal::Help) => help(frame),
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
    let filter = (app.filtering || !app.filter.is_empty()).then(|| format!("/{}", app.filter));
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

fn table(app: &App, frame: &mut Frame, area: Rect) {
    let visible = app.visible();
    // Narrow (80 columns with the detail open): the columns an operator acts on.
    let compact = area.width < 70;
    let wide = area.width >= 110;
    let rows = visible.iter().map(|row| {
        let style = match row.expiry(app.now) {
            Expiry::Expired => Style::new().fg(Color::Red),
            Expiry::Soon => Style::new().fg(Color::Yellow),
            Expiry::Live => Style::new(),
        };
        let expires = row
            .expires_at
            .map_or_else(|| "-".to_owned(), |at| at.format("%Y-%m-%d").to_string());
        let cells = if compact {
            vec![
                Cell::from(row.name.clone()),
                Cell::from(row.masked.clone()),
                Cell::from(format!("v{}", row.version)),
                Cell::from(expires),
            ]
        } else {
            vec![
                Cell::from(row.name.clone()),
                Cell::from(row.owner.clone()),
                Cell::from(row.scope_label()),
                Cell::from(row.category.clone()),
                Cell::from(row.masked.clone()),
                Cell::from(format!("v{}", row.version)),
                Cell::from(expires),
                Cell::from(
                    row.updated_at
                        .format(if wide { "%Y-%m-%d %H:%M" } else { "%Y-%m-%d" })
                        .to_string(),
                ),
            ]
        };
        Row::new(cells).style(style)
    });
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if compact {
        (
            vec!["NAME", "MASKED", "VER", "EXPIRES"],
            vec![
                Constraint::Min(12),
                Constraint::Length(12),
                Constraint::Length(4),
                Constraint::Length(10),
            ],
        )
    } else {
        (
            vec![
                "NAME", "OWNER", "SCOPE", "CATEGORY", "MASKED", "VER", "EXPIRES", "UPDATED",
            ],
            vec![
                Constraint::Min(12),
                Constraint::Min(10),
                Constraint::Min(6),
                Constraint::Length(9),
                // The widest mask: a 4-character prefix, ****, the last 3.
                Constraint::Length(11),
                Constraint::Length(3),
                Constraint::Length(10),
                Constraint::Length(if wide { 16 } else { 10 }),
            ],
        )
    };
    let header = Row::new(header).style(Style::new().add_modifier(Modifier::BOLD));
    let title = format!(
        " {} ({}) · sorted by {} ",
        app.tab.title(),
        visible.len(),
        app.sort.label()
    );
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state =
        TableState::default().with_selected((!visible.is_empty()).then_some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn audit_table(app: &App, frame: &mut Frame, area: Rect) {
    let visible = app.visible_audit();
    let rows = visible.iter().map(|record| {
        let style = if record.outcome == "ok" {
            Style::new()
        } else {
            Style::new().fg(Color::Yellow)
        };
        Row::new(vec![
            Cell::from(record.seq.to_string()),
            Cell::from(record.at.format("%m-%d %H:%M:%S").to_string()),
            Cell::from(record.principal.clone()),
            Cell::from(record.action.clone()),
            Cell::from(record.outcome.clone()),
            Cell::from(record.target.clone()),
        ])
        .style(style)
    });
    let header = Row::new(["SEQ", "TIME", "PRINCIPAL", "ACTION", "OUTCOME", "TARGET"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Length(6),
        Constraint::Length(14),
        Constraint::Length(22),
        Constraint::Length(16),
        Constraint::Length(12),
        Constraint::Min(10),
    ];
    let title = format!(" Audit ({}) ", visible.len());
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state =
        TableState::default().with_selected((!visible.is_empty()).then_some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn detail(app: &App, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    if let Some(row) = app.selected_row() {
        lines.push(Line::from(Span::styled(
            row.name.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        )));
        lines.push(Line::from(format!("id       {}", row.id)));
        lines.push(Line::from(format!("owner    {}", row.owner)));
        lines.push(Line::from(format!("scope    {}", row.scope_label())));
        lines.push(Line::from(format!("category {}", row.category)));
        lines.push(Line::from(format!("masked   {}", row.masked)));
        lines.push(Line::from(""));
        lines.push(Line::from("versions"));
    }
    for version in app.detail.iter().flatten() {
        lines.push(Line::from(format!(
            "{} v{:<3} {:<12} {}{}",
            if version.current { "*" } else { " " },
            version.version,
            version.masked,
            version.created_at.format("%Y-%m-%d %H:%M"),
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
    let area = centered(frame.area(), 56, 19);
    let lines = [
        "↑ ↓ j k      move",
        "g G          first, last",
        "Tab 1-4      switch tab (4: audit)",
        "/            filter: name or owner; on audit,",
        "             action, secret or principal",
        "Enter        detail and version history",
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
