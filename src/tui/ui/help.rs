//! The help overlay: every key binding, then the `/` commands; it scrolls when the screen is short.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::popup;
use crate::tui::keys::BINDINGS;
use crate::tui::slash::COMMANDS;

/// `(key or command, what it does)` rows; `None` is the heading between the two lists.
fn rows() -> Vec<Option<(String, &'static str)>> {
    let keys = BINDINGS.iter().map(|(k, d)| Some(((*k).to_owned(), *d)));
    let commands = COMMANDS
        .iter()
        .map(|(name, args, desc)| Some((format!("/{name} {args}").trim_end().to_owned(), *desc)));
    keys.chain([None]).chain(commands).collect()
}

const HEADING: &str =
    " Commands: type them in the prompt (Tab completes the name, // sends a literal /)";

/// How many lines the help has (the keys count them too, to stop scrolling at the end).
fn lines_count() -> usize {
    crate::tui::keys::help_line_count()
}

pub fn render(scroll: usize, area: Rect, buf: &mut Buffer) {
    let rows = rows();
    let entries = rows.iter().flatten();
    let key_w = entries
        .clone()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let desc_w = entries.map(|(_, d)| d.chars().count()).max().unwrap_or(0);
    let height = lines_count() as u16 + 2;
    let width = (key_w + desc_w + 4).max(HEADING.chars().count() + 3) as u16;
    let inner = popup::open(area, width, height, "keys and commands", buf);
    let key_style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    for row in &rows {
        match row {
            Some((k, d)) => lines.push(Line::from(vec![
                Span::styled(format!(" {k:<key_w$}"), key_style),
                Span::raw(*d),
            ])),
            None => {
                lines.push(Line::default());
                lines.push(Line::styled(HEADING, Style::new().fg(Color::Yellow)));
            }
        }
    }
    let max_top = lines.len().saturating_sub(usize::from(inner.height));
    let top = scroll.min(max_top);
    Paragraph::new(lines)
        .scroll((top as u16, 0))
        .render(inner, buf);
    if top < max_top && inner.height > 0 {
        let more = " ↓ more (↑/↓ scroll) ";
        let x = inner.right().saturating_sub(more.chars().count() as u16);
        buf.set_string(
            x.max(inner.x),
            inner.bottom() - 1,
            more,
            Style::new().fg(Color::Black).bg(Color::Yellow),
        );
    }
}
