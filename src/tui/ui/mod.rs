//! Rendering: reads the App and draws it; changes nothing.

pub mod fmt;
mod footer;
mod help;
mod input;
pub mod layout;
mod pane;
mod picker;
mod popup;
mod status;
mod table;

use ratatui::Frame;

use super::app::{App, Overlay};

pub use help::lines_count as help_lines;

/// Draw the whole screen for `app` into `frame`.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let screen = app.layout_in(area);
    let winners = super::race::winners(app);
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
