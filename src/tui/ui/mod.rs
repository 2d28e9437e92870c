//! Rendering: reads the App and draws it; changes nothing.

pub mod fmt;
mod footer;
mod help;
mod input;
mod pane;
mod picker;
mod popup;
mod status;
mod table;

use ratatui::Frame;

use super::app::{App, Overlay};

/// The smallest screen the workbench draws on; below it one line says what is needed.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;

/// Draw the whole screen for `app` into `frame`.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "paddock needs at least {MIN_WIDTH}x{MIN_HEIGHT}; this terminal is {}x{}",
            area.width, area.height
        );
        frame.render_widget(
            ratatui::widgets::Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let screen = app.layout_in(area);
    let winners = app.core.winners();
    let buf = frame.buffer_mut();
    for (i, rect) in screen.panes.iter().enumerate() {
        if let Some(rect) = rect {
            pane::render(app, i, winners, *rect, buf);
        }
    }
    input::render(app, screen.input, buf);
    status::render(app, screen.status, buf);
    input::render_hint(app, screen.hint, buf);
    match app.overlay {
        Overlay::None => {}
        Overlay::Help => help::render(app.help_scroll, area, buf),
        Overlay::Table => table::render(app, winners, area, buf),
        Overlay::Sessions => picker::render(&app.picker, area, buf),
    }
}
