//! A pane's render cache: wrapped lines of finished turns kept, and of the streaming turn only
//! the block still being written is re-rendered, so a frame costs the same however long it gets;
//! code is highlighted when it first shows (tui/unlit.rs).

use std::hash::{DefaultHasher, Hasher};
use std::ops::Range;

use ratatui::text::Line;

use super::markdown::{
    markdown_lines, plain_code, prompt_lines, thinking_lines, turn_head_lines, turn_lines,
    turn_tail_lines, BlockScan, Thinking,
};
use super::unlit::{light_visible, shift, Unlit};
use crate::race::TurnRef;

/// Lines of finished turns (`done`), then the turn in flight: its prompt and complete markdown
/// blocks (`stable`, rendered when a block completes) and the block being written (`live`,
/// rendered at most once per frame).
#[derive(Debug, Default)]
pub struct PaneView {
    width: u16,
    /// How many turns `done` holds.
    done_turns: usize,
    done: Vec<Line<'static>>,
    stable: Vec<Line<'static>>,
    /// Blocks of `done` and of `stable` whose code is not highlighted yet.
    unlit_done: Vec<Unlit>,
    unlit_stable: Vec<Unlit>,
    live: Vec<Line<'static>>,
    scan: BlockScan,
    /// How many bytes of the answer `stable` renders; `None` until the turn's prompt is in.
    stable_bytes: Option<usize>,
    /// Where in `stable` the answer's lines begin (after the prompt and folded thinking).
    answer_start: usize,
    /// A hash of the answer's first `stable_bytes`: when the turn finishes, its lines are kept
    /// only if the record still begins with the text they render.
    stable_hash: DefaultHasher,
    /// `stable` holds the folded thinking line (the answer began after a thought).
    folded: bool,
    /// `stable` holds some of the answer (a block after it needs a blank line first).
    stable_answer: bool,
    /// Bytes of answers rendered since the view was made, into `stable` and when a turn
    /// finishes: the tests check that each byte is rendered once.
    #[cfg(test)]
    stable_rendered: usize,
    #[cfg(test)]
    finish_rendered: usize,
    /// The thinking is shown unfolded (Alt-T).
    open: bool,
    /// The turn in flight changed since `live` was built.
    pub stale: bool,
}

impl PaneView {
    /// Bring the cache up to date with `turns` at `width`. Finished turns render once; the turn
    /// in flight re-renders only when it changed (once per frame at most, since this runs per frame).
    /// `open`: show the thinking unfolded.
    pub fn refresh(&mut self, turns: &[TurnRef<'_>], width: u16, open: bool) {
        let finished = turns.iter().take_while(|t| t.is_finished()).count();
        // Fewer finished turns than cached: a turn was dropped or is being asked again.
        if width != self.width || finished < self.done_turns || open != self.open {
            *self = PaneView {
                width,
                open,
                stale: true,
                ..PaneView::default()
            };
        }
        if finished > self.done_turns {
            for (i, turn) in turns[self.done_turns..finished].iter().enumerate() {
                // The first was the turn in flight: its lines are here already.
                if i == 0 {
                    self.finish_in_flight(*turn, self.done_turns);
                } else {
                    self.done.extend(turn_lines(*turn, width, self.open));
                }
            }
            // Kept for the rest of the session: no room to spare in it.
            self.done.shrink_to_fit();
            self.done_turns = finished;
            self.stale = true;
        }
        if self.stale {
            match turns.get(finished) {
                Some(turn) => self.render_in_flight(*turn, finished),
                None => self.forget_in_flight(),
            }
            self.stale = false;
        }
    }

    /// Forget the turn in flight, capacity too: the lines of a long answer would otherwise hold
    /// their peak size beside the finished turn's own.
    fn forget_in_flight(&mut self) {
        self.stable = Vec::new();
        self.unlit_stable = Vec::new();
        self.live = Vec::new();
        self.scan = BlockScan::default();
        self.stable_bytes = None;
        self.answer_start = 0;
        self.stable_hash = DefaultHasher::default();
        self.folded = false;
        self.stable_answer = false;
    }

    /// The turn in flight finished: its complete blocks move to `done` as they are, and only
    /// what came after them is rendered, so a long answer is rendered (and its code
    /// highlighted) once, not once more when it ends. Its head is rendered again: it is short,
    /// and the thinking's length or a redacted block may have come in since.
    fn finish_in_flight(&mut self, turn: TurnRef<'_>, index: usize) {
        let Some(cut) = self
            .stable_bytes
            .filter(|&cut| self.renders_start_of(turn.answer(), cut))
        else {
            self.done.extend(turn_lines(turn, self.width, self.open));
            self.forget_in_flight();
            return;
        };
        let width = usize::from(self.width.max(1));
        turn_head_lines(turn, width, self.open, &mut self.done);
        // Where the answer's first line goes, less where it was.
        let moved = self.done.len() as isize - self.answer_start as isize;
        self.unlit_done
            .extend(self.unlit_stable.drain(..).map(|block| Unlit {
                turn: index,
                lines: shift(&block.lines, moved),
                ..block
            }));
        self.done.extend(self.stable.drain(self.answer_start..));
        let rest = &turn.answer()[cut..];
        block_after(rest, self.stable_answer, false, width, &mut self.done);
        turn_tail_lines(turn, width, &mut self.done);
        #[cfg(test)]
        {
            self.finish_rendered += rest.len();
        }
        self.forget_in_flight();
    }

    /// `stable` renders the first `cut` bytes of `answer`.
    fn renders_start_of(&self, answer: &str, cut: usize) -> bool {
        let Some(start) = answer.as_bytes().get(..cut) else {
            return false;
        };
        let mut hash = DefaultHasher::default();
        hash.write(start);
        hash.finish() == self.stable_hash.finish()
    }

    /// Re-render the complete blocks only when another one completed (a few times per answer),
    /// and the block being written every time (it is short).
    fn render_in_flight(&mut self, turn: TurnRef<'_>, index: usize) {
        let width = usize::from(self.width.max(1));
        if self.stable_bytes.is_none() || turn.answer().len() < self.scan.stable {
            self.forget_in_flight();
        }
        self.scan.advance(turn.answer());
        let cut = self.scan.stable;
        let fold = !turn.answer().is_empty() && turn.thinking_chars() > 0;
        if self.stable_bytes.is_none() || self.folded != fold {
            self.folded = fold;
            self.stable.clear();
            prompt_lines(turn.prompt(), width, &mut self.stable);
            if fold {
                let shown = if self.open {
                    Thinking::Open
                } else {
                    Thinking::Folded
                };
                thinking_lines(turn, shown, width, &mut self.stable);
            }
            self.stable_answer = false;
            self.stable_bytes = Some(0);
            self.answer_start = self.stable.len();
            self.stable_hash = DefaultHasher::default();
        }
        let rendered = self.stable_bytes.unwrap_or(0);
        if cut > rendered {
            self.append_blocks(turn.answer(), rendered..cut, index, width);
            self.stable_bytes = Some(cut);
        }
        self.live.clear();
        if turn.answer().is_empty() {
            thinking_lines(turn, Thinking::Live, width, &mut self.live);
        }
        let rest = &turn.answer()[cut..];
        block_after(rest, self.stable_answer, true, width, &mut self.live);
        self.live.push(Line::default());
    }

    /// Append the blocks of `answer[bytes]`, which just completed, one by one: each is rendered
    /// once, so the cost of a block completing does not grow with the answer (rendering the
    /// whole prefix again did), and rendering does not depend on how many complete at once.
    /// A block with code renders it plain until it shows ([`Self::light`]).
    fn append_blocks(&mut self, answer: &str, bytes: Range<usize>, turn: usize, width: usize) {
        let mut scan = BlockScan::default();
        let mut from = 0;
        // `bytes` ends where a block does: the scan finds every block of it.
        while let Some(end) = scan.next_block(&answer[bytes.clone()]) {
            self.append_block(answer, bytes.start + from..bytes.start + end, turn, width);
            from = end;
        }
    }

    fn append_block(&mut self, answer: &str, bytes: Range<usize>, turn: usize, width: usize) {
        let block = &answer[bytes.clone()];
        self.stable_hash.write(block.as_bytes());
        if block.trim().is_empty() {
            return;
        }
        if self.stable_answer {
            // The blank line between blocks that rendering them apart leaves out.
            self.stable.push(Line::default());
        }
        let first = self.stable.len();
        match plain_code(block) {
            Some(plain) => {
                markdown_lines(&plain, width, &mut self.stable);
                let lines = first..self.stable.len();
                self.unlit_stable.push(Unlit { turn, bytes, lines });
            }
            None => markdown_lines(block, width, &mut self.stable),
        }
        self.stable_answer = true;
        #[cfg(test)]
        {
            self.stable_rendered += block.len();
        }
    }

    /// Highlight the code of the blocks that show: the view's lines `visible`, of `turns` as
    /// [`Self::refresh`] last had them. Done before each frame is drawn, so plain code never shows
    /// once its block is complete.
    pub fn light(&mut self, turns: &[TurnRef<'_>], visible: Range<usize>) {
        let width = usize::from(self.width.max(1));
        let in_stable = shift(&visible, -(self.done.len() as isize));
        light_visible(&mut self.done, &mut self.unlit_done, turns, visible, width);
        light_visible(
            &mut self.stable,
            &mut self.unlit_stable,
            turns,
            in_stable,
            width,
        );
    }

    pub fn len(&self) -> usize {
        self.done.len() + self.stable.len() + self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    /// Up to `count` lines from `start`, borrowed from the cache.
    pub fn lines(&self, start: usize, count: usize) -> impl Iterator<Item = &Line<'static>> {
        self.done
            .iter()
            .chain(self.stable.iter())
            .chain(self.live.iter())
            .skip(start)
            .take(count)
    }
}

/// The block after a turn's complete ones, `after_blocks` if some came before it (rendering
/// them apart leaves out the blank line between); `writing`: it is still being written, so its
/// code renders plain (it would be highlighted again every frame).
fn block_after(
    rest: &str,
    after_blocks: bool,
    writing: bool,
    width: usize,
    out: &mut Vec<Line<'static>>,
) {
    if after_blocks && !rest.trim().is_empty() {
        out.push(Line::default());
    }
    match writing.then(|| plain_code(rest)).flatten() {
        Some(plain) => markdown_lines(&plain, width, out),
        None => markdown_lines(rest, width, out),
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
