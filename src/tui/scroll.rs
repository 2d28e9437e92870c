//! Scrolling a pane: by lines, by pages of the focused pane's height; at the bottom it follows the tail.

use super::app::App;
use super::layout::content_area;
use super::pane::Pane;

/// Scroll `delta` lines; reaching the bottom resumes following the tail.
pub fn scroll_by(pane: &mut Pane, delta: isize, height: u16) {
    let max_top = pane.view.len().saturating_sub(usize::from(height));
    let top = pane.top(usize::from(height));
    let top = top.saturating_add_signed(delta).min(max_top);
    pane.scroll = (top < max_top).then_some(top);
}

/// Height of the focused pane's text, for paging.
pub fn focused_height(app: &App) -> u16 {
    app.layout()
        .panes
        .get(app.focus)
        .copied()
        .flatten()
        .map_or(0, |r| content_area(r).height)
}
