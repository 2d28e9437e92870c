//! The prompt box and the hint line under the status bar.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget};

use crate::tui::app::App;
use crate::tui::keys::HINT;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let enabled = app.core.lanes.iter().filter(|p| p.enabled).count();
    let title = match enabled {
        0 => " prompt → no provider on ".to_owned(),
        1 => " prompt → 1 provider ".to_owned(),
        n => format!(" prompt → {n} providers "),
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Blue))
        .title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    Widget::render(&app.input, inner, buf);
}

pub fn render_hint(app: &App, area: Rect, buf: &mut Buffer) {
    let line = if let Some(notice) = &app.notice {
        Line::from(Span::styled(
            notice.clone(),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ))
    } else if app.core.race_finished() {
        Line::from(vec![
            Span::styled("race done · ", Style::new().fg(Color::Green)),
            // The hint itself names ^R once; said again it crowded out the rest.
            Span::styled(HINT, Style::new().fg(Color::DarkGray)),
        ])
    } else {
        Line::from(Span::styled(HINT, Style::new().fg(Color::DarkGray)))
    };
    Paragraph::new(line).render(area, buf);
}
