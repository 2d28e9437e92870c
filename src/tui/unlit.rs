//! Code blocks rendered plain until they first show: highlighting is most of what rendering an
//! answer costs, and the blocks of a flood that scroll past unseen need none until scrolled back to.

use std::ops::Range;

use ratatui::text::Line;

use super::markdown::markdown_lines;
use crate::race::TurnRef;

/// A complete block of an answer, rendered with its code plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlit {
    /// Whose answer: the index of its turn among the pane's turns.
    pub turn: usize,
    /// Its bytes in that answer.
    pub bytes: Range<usize>,
    /// Its lines in the list of lines that holds it.
    pub lines: Range<usize>,
}

/// Highlight the blocks of `unlit` whose lines meet `visible`, in place in `lines`; they leave
/// `unlit`. A block whose text is gone (the turn changed under it) stays plain and leaves too.
/// `unlit` is in line order, so only the blocks that show are looked at: this runs before every
/// frame, and its cost does not grow with the transcript.
pub fn light_visible(
    lines: &mut Vec<Line<'static>>,
    unlit: &mut Vec<Unlit>,
    turns: &[TurnRef<'_>],
    visible: Range<usize>,
    width: usize,
) {
    let from = unlit.partition_point(|b| b.lines.end <= visible.start);
    let to = from + unlit[from..].partition_point(|b| b.lines.start < visible.end);
    // Should a highlighted block take another line count than its plain one, the blocks after
    // it move by the difference.
    let mut moved: isize = 0;
    for block in unlit.drain(from..to) {
        let now = shift(&block.lines, moved);
        let text = turns
            .get(block.turn)
            .and_then(|t| t.answer().get(block.bytes.clone()));
        let Some(text) = text.filter(|_| now.end <= lines.len()) else {
            continue;
        };
        let mut lit = Vec::new();
        markdown_lines(text, width, &mut lit);
        moved += lit.len() as isize - now.len() as isize;
        lines.splice(now, lit);
    }
    if moved != 0 {
        for block in &mut unlit[from..] {
            block.lines = shift(&block.lines, moved);
        }
    }
}

/// `lines` moved by `by` (never below 0).
pub fn shift(lines: &Range<usize>, by: isize) -> Range<usize> {
    lines.start.saturating_add_signed(by)..lines.end.saturating_add_signed(by)
}
