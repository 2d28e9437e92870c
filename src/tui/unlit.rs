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
pub fn light_visible(
    lines: &mut Vec<Line<'static>>,
    unlit: &mut Vec<Unlit>,
    turns: &[TurnRef<'_>],
    visible: Range<usize>,
    width: usize,
) {
    // A highlighted block can take another line count (a long language label wraps): the
    // blocks after it move by the difference.
    let mut moved: isize = 0;
    unlit.retain_mut(|block| {
        block.lines = shift(&block.lines, moved);
        if block.lines.start >= visible.end || block.lines.end <= visible.start {
            return true;
        }
        let text = turns
            .get(block.turn)
            .and_then(|t| t.answer().get(block.bytes.clone()));
        let Some(text) = text else {
            return false;
        };
        let mut lit = Vec::new();
        markdown_lines(text, width, &mut lit);
        moved += lit.len() as isize - block.lines.len() as isize;
        if block.lines.end <= lines.len() {
            lines.splice(block.lines.clone(), lit);
        }
        false
    });
}

/// `lines` moved by `by` (never below 0).
pub fn shift(lines: &Range<usize>, by: isize) -> Range<usize> {
    lines.start.saturating_add_signed(by)..lines.end.saturating_add_signed(by)
}
