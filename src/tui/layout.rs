//! Where everything goes on screen: pure functions of the terminal size, shared by update and render.

use ratatui::layout::{Constraint, Layout, Rect};

/// The screen's regions. Panes that are not shown (another one is maximised) get `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub panes: Vec<Option<Rect>>,
    pub input: Rect,
    pub status: Rect,
    pub hint: Rect,
}

/// The inputs the layout depends on.
#[derive(Debug, Clone, Copy)]
pub struct LayoutParams {
    pub area: Rect,
    pub panes: usize,
    pub maximized: Option<usize>,
    pub input_lines: usize,
}

/// Panes on top, then the input, the status bar (one row per provider) and the hint line.
pub fn screen(p: LayoutParams) -> Screen {
    let input_h = p.input_lines.clamp(1, 6) as u16 + 2;
    let status_h = p.panes.max(1) as u16;
    let [panes, input, status, hint] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(input_h),
        Constraint::Length(status_h),
        Constraint::Length(1),
    ])
    .areas(p.area);
    let panes = match p.maximized {
        Some(m) if m < p.panes => (0..p.panes).map(|i| (i == m).then_some(panes)).collect(),
        _ => tile(panes, p.panes).into_iter().map(Some).collect(),
    };
    Screen {
        panes,
        input,
        status,
        hint,
    }
}

/// Footer rows of a pane: state and numbers on two rows when the pane is tall, one when not.
fn footer_rows(inner: Rect) -> u16 {
    if inner.height >= 12 {
        2
    } else {
        inner.height.min(1)
    }
}

/// A pane's text area: inside the border, above the footer.
pub fn content_area(pane: Rect) -> Rect {
    let inner = pane.inner(ratatui::layout::Margin::new(1, 1));
    Rect {
        height: inner.height - footer_rows(inner),
        ..inner
    }
}

/// A pane's footer: the last one or two rows inside the border.
pub fn footer_area(pane: Rect) -> Rect {
    let inner = pane.inner(ratatui::layout::Margin::new(1, 1));
    let rows = footer_rows(inner);
    Rect {
        y: inner.y + inner.height - rows,
        height: rows,
        ..inner
    }
}

/// Tile `n` panes in `area`: side by side when wide, a grid when many, stacked when narrow.
pub fn tile(area: Rect, n: usize) -> Vec<Rect> {
    if n == 0 {
        return Vec::new();
    }
    let cols = best_columns(area, n);
    let rows = n.div_ceil(cols);
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(area);
    let mut out = Vec::with_capacity(n);
    for (r, row) in row_areas.iter().enumerate() {
        let in_row = cols.min(n - r * cols);
        let cells =
            Layout::horizontal(vec![Constraint::Ratio(1, in_row as u32); in_row]).split(*row);
        out.extend(cells.iter().copied());
    }
    out
}

/// The column count whose cells are the most readable: a row of text wants about two columns per line of height,
/// and a pane narrower than ~24 columns is hard to read.
fn best_columns(area: Rect, n: usize) -> usize {
    let score = |cols: usize| {
        let rows = n.div_ceil(cols);
        let w = usize::from(area.width) / cols;
        let h = usize::from(area.height) / rows;
        let s = w.min(h * 2);
        if w < 24 {
            s / 2
        } else {
            s
        }
    };
    // On a tie, the arrangement with fewer empty slots (6 panes: 3+3 rather than 4+2).
    let empty = |cols: usize| n.div_ceil(cols) * cols - n;
    (1..=n)
        .max_by_key(|&c| (score(c), std::cmp::Reverse(empty(c))))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(w: u16, h: u16, n: usize) -> usize {
        best_columns(Rect::new(0, 0, w, h), n)
    }

    #[test]
    fn wide_is_side_by_side_narrow_is_stacked_many_is_a_grid() {
        assert_eq!(cols(160, 35, 3), 3);
        assert_eq!(cols(40, 40, 3), 1);
        assert_eq!(cols(160, 40, 6), 3);
    }

    #[test]
    fn tiles_cover_every_pane_even_when_tiny() {
        for (w, h) in [(0, 0), (1, 1), (3, 2), (160, 45)] {
            for n in 1..=6 {
                assert_eq!(tile(Rect::new(0, 0, w, h), n).len(), n);
            }
        }
    }
}
