//! The help overlay: every key binding.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::popup;
use crate::tui::keys::BINDINGS;

pub fn render(area: Rect, buf: &mut Buffer) {
    let key_w = BINDINGS
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let desc_w = BINDINGS
        .iter()
        .map(|(_, d)| d.chars().count())
        .max()
        .unwrap_or(0);
    let inner = popup::open(
        area,
        (key_w + desc_w + 4) as u16,
        BINDINGS.len() as u16 + 2,
        "keys",
        buf,
    );
    let key_style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let lines: Vec<Line> = BINDINGS
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!(" {k:<key_w$}"), key_style),
                Span::raw(*d),
            ])
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}
