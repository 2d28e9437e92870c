//! The session picker overlay: saved sessions, newest first — date, providers, first prompt.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::popup;
use crate::tui::picker::Picker;

pub fn render(picker: &Picker, area: Rect, buf: &mut Buffer) {
    let rows = picker.entries.len().max(1) as u16;
    let inner = popup::open(area, 110, rows + 4, "saved sessions", buf);
    let [list, legend] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    if picker.entries.is_empty() {
        Paragraph::new("No saved sessions yet: every race is saved as it runs.").render(list, buf);
    } else {
        render_list(picker, list, buf);
    }
    let mut text = "↑/↓ choose · Enter reopen · Esc close".to_owned();
    if picker.problems > 0 {
        text.push_str(&format!(
            " · {} unreadable file(s), see the log",
            picker.problems
        ));
    }
    Paragraph::new(Line::styled(text, Style::new().fg(Color::DarkGray))).render(legend, buf);
}

fn render_list(picker: &Picker, area: Rect, buf: &mut Buffer) {
    let height = usize::from(area.height);
    if height == 0 {
        return;
    }
    // Keep the selection in view.
    let top = picker.selected.saturating_sub(height - 1);
    let providers_w = picker
        .entries
        .iter()
        .map(|e| e.providers.join(",").chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for (row, (i, e)) in picker
        .entries
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .enumerate()
    {
        let selected = i == picker.selected;
        let base = if selected {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new()
        };
        let providers: String = e.providers.join(",").chars().take(providers_w).collect();
        // Date, then the first prompt in what is left, then the providers.
        let prompt_w = usize::from(area.width)
            .saturating_sub(2 + 18 + providers_w + 2)
            .max(20);
        let prompt = clip(&e.first_prompt, prompt_w);
        let line = Line::from(vec![
            Span::styled(if selected { "› " } else { "  " }, base),
            Span::styled(format!("{}  ", e.date), base.fg(Color::Cyan)),
            Span::styled(
                format!("{prompt:<prompt_w$}  "),
                base.add_modifier(if selected {
                    Modifier::BOLD
                } else {
                    Modifier::empty()
                }),
            ),
            Span::styled(providers, base.fg(Color::Gray)),
        ]);
        let y = area.y + row as u16;
        if selected {
            buf.set_style(Rect::new(area.x, y, area.width, 1), base);
        }
        buf.set_line(area.x, y, &line, area.width);
    }
}

/// At most `width` characters of `text`, with `…` when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let head: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{head}…")
}
