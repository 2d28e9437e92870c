//! One provider's pane: title, the conversation (cached wrapped lines), footer.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget};

use super::footer;
use crate::race::{Lane, Winners};
use crate::tui::app::App;
use crate::tui::layout::{content_area, footer_area};
use crate::tui::pane::Pane;

pub fn render(app: &App, index: usize, winners: Winners, area: Rect, buf: &mut Buffer) {
    let (Some(pane), Some(lane)) = (app.panes.get(index), app.lane(index)) else {
        return;
    };
    let focused = index == app.focus;
    block(lane, index, focused, winners).render(area, buf);
    let empty = app.core.turn_count(index) == 0;
    render_body(lane, pane, empty, content_area(area), buf);
    let limits = app.limits.get(index).copied().flatten();
    let footer = footer_area(area);
    let last = app.core.last_turn(index);
    Paragraph::new(footer::lines(
        lane,
        last,
        app.now,
        limits.as_ref(),
        (footer.width, footer.height),
    ))
    .render(footer, buf);
}

fn block(pane: &Lane, index: usize, focused: bool, winners: Winners) -> Block<'static> {
    let border = match (focused, pane.enabled) {
        (true, _) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        (false, true) => Style::new().fg(Color::Gray),
        (false, false) => Style::new().fg(Color::DarkGray),
    };
    let mut title = vec![
        Span::styled(
            format!(" {} ", index + 1),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Span::styled(
            format!(" {} ", pane.info.name),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("· {} ", pane.info.model)),
    ];
    // What this pane's next prompt is asked with, when set: at a glance, not only via /commands.
    let settings = settings_badge(&pane.info);
    if !settings.is_empty() {
        title.push(Span::styled(
            format!("· {settings} "),
            Style::new().fg(Color::Gray),
        ));
    }
    if pane.info.simulated {
        title.push(Span::styled(
            "· simulated ",
            Style::new().fg(Color::Magenta),
        ));
    }
    if !pane.enabled {
        title.push(Span::styled("· off ", Style::new().fg(Color::DarkGray)));
    }
    let mut badges = Vec::new();
    let gold = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    if winners.ttft == Some(index) {
        badges.push(Span::styled(" ★ TTFT ", gold));
    }
    if winners.total == Some(index) {
        badges.push(Span::styled(" ★ total ", gold));
    }
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(border)
        .title(Line::from(title))
        .title(Line::from(badges).right_aligned())
}

fn render_body(lane: &Lane, pane: &Pane, empty: bool, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    if let Some(why) = &lane.unavailable {
        Paragraph::new(Line::styled(why.clone(), Style::new().fg(Color::Red)))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .render(area, buf);
        return;
    }
    if empty {
        let hint = match (lane.enabled, lane.info.simulated) {
            (true, false) => "ready",
            // Said in the body too: a narrow pane's title is cut before "simulated".
            (true, true) => "ready · simulated by paddock, no key needed",
            (false, _) => "off for the next prompt",
        };
        Paragraph::new(Line::styled(hint, Style::new().fg(Color::DarkGray)))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let height = usize::from(area.height);
    let max_top = pane.view.len().saturating_sub(height);
    let top = pane.top(height);
    for (row, line) in pane.view.lines(top, height).enumerate() {
        buf.set_line(area.x, area.y + row as u16, line, area.width);
    }
    if top < max_top {
        let more = format!(" ↓ {} more ", max_top - top);
        let x = area.right().saturating_sub(more.chars().count() as u16);
        buf.set_string(
            x.max(area.x),
            area.bottom() - 1,
            more,
            Style::new().fg(Color::Black).bg(Color::Yellow),
        );
    }
}

/// `sys t=0.7 max=256`: the settings that differ from the provider's defaults.
fn settings_badge(info: &crate::race::ProviderInfo) -> String {
    let mut parts = Vec::new();
    if info.system.as_deref().is_some_and(|s| !s.is_empty()) {
        parts.push("sys".to_owned());
    }
    if let Some(t) = info.temperature {
        parts.push(format!("t={t}"));
    }
    if let Some(n) = info.max_tokens {
        parts.push(format!("max={n}"));
    }
    parts.join(" ")
}
