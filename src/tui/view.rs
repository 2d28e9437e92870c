//! A pane's render cache: wrapped lines of finished turns kept, and of the streaming turn only
//! the block still being written is re-rendered, so a frame costs the same however long it gets.

use ratatui::text::Line;

use super::markdown::{
    markdown_lines, prompt_lines, thinking_lines, turn_lines, without_open_fence_language,
    BlockScan, Thinking,
};
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
    live: Vec<Line<'static>>,
    scan: BlockScan,
    /// How many bytes of the answer `stable` renders; `None` until the turn's prompt is in.
    stable_bytes: Option<usize>,
    /// `stable` holds the folded thinking line (the answer began after a thought).
    folded: bool,
    /// `stable` holds some of the answer (a block after it needs a blank line first).
    stable_answer: bool,
    /// Bytes of answers rendered into `stable` since the view was made: the tests check that
    /// each byte is rendered once.
    #[cfg(test)]
    stable_rendered: usize,
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
            for turn in &turns[self.done_turns..finished] {
                self.done.extend(turn_lines(*turn, width, self.open));
            }
            // Kept for the rest of the session: no room to spare in it.
            self.done.shrink_to_fit();
            self.done_turns = finished;
            self.stale = true;
        }
        if self.stale {
            match turns.get(finished) {
                Some(turn) => self.render_in_flight(*turn),
                None => self.forget_in_flight(),
            }
            self.stale = false;
        }
    }

    /// Forget the turn in flight, capacity too: the lines of a long answer would otherwise hold
    /// their peak size beside the finished turn's own.
    fn forget_in_flight(&mut self) {
        self.stable = Vec::new();
        self.live = Vec::new();
        self.scan = BlockScan::default();
        self.stable_bytes = None;
        self.folded = false;
        self.stable_answer = false;
    }

    /// Re-render the complete blocks only when another one completed (a few times per answer),
    /// and the block being written every time (it is short).
    fn render_in_flight(&mut self, turn: TurnRef<'_>) {
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
        }
        let rendered = self.stable_bytes.unwrap_or(0);
        if cut > rendered {
            self.append_blocks(&turn.answer()[rendered..cut], width);
            self.stable_bytes = Some(cut);
        }
        self.live.clear();
        if turn.answer().is_empty() {
            thinking_lines(turn, Thinking::Live, width, &mut self.live);
        }
        let rest = &turn.answer()[cut..];
        if cut > 0 && !rest.trim().is_empty() {
            // The blank line between blocks that rendering them apart leaves out.
            self.live.push(Line::default());
        }
        if self.scan.in_fence {
            markdown_lines(&without_open_fence_language(rest), width, &mut self.live);
        } else {
            markdown_lines(rest, width, &mut self.live);
        }
        self.live.push(Line::default());
    }

    /// Append the blocks that just completed: each is rendered once, so the cost of a block
    /// completing does not grow with the answer (rendering the whole prefix again did, and
    /// highlighted every earlier code block each time).
    fn append_blocks(&mut self, blocks: &str, width: usize) {
        if blocks.trim().is_empty() {
            return;
        }
        if self.stable_answer {
            // The blank line between blocks that rendering them apart leaves out.
            self.stable.push(Line::default());
        }
        markdown_lines(blocks, width, &mut self.stable);
        self.stable_answer = true;
        #[cfg(test)]
        {
            self.stable_rendered += blocks.len();
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Turn;

    fn text(view: &PaneView) -> Vec<String> {
        view.lines(0, usize::MAX).map(|l| l.to_string()).collect()
    }

    fn streaming(answer: &str) -> Turn {
        Turn {
            prompt: "q".to_owned(),
            answer: answer.to_owned(),
            ..Turn::default()
        }
    }

    /// A turn still streaming, as the core shows it.
    fn live() -> crate::race::Live {
        let mut live = crate::race::Live::new(1, 0, std::time::Instant::now());
        live.phase = crate::race::Phase::Streaming;
        live
    }

    #[test]
    fn block_scan_ends_blocks_at_blank_lines_outside_fences() {
        let text = "para one\n\n```\ncode\n\nmore\n```\n\ntail";
        let mut scan = BlockScan::default();
        scan.advance(text);
        assert_eq!(
            &text[..scan.stable],
            "para one\n\n```\ncode\n\nmore\n```\n\n"
        );
        let mut split = BlockScan::default();
        for end in [3, 11, 20, text.len()] {
            split.advance(&text[..end]);
        }
        assert_eq!(split, scan, "scanning in pieces finds the same blocks");
    }

    #[test]
    fn an_open_fence_loses_its_language_until_it_closes() {
        assert_eq!(
            without_open_fence_language("x\n```rust\nfn a() {}\n"),
            "x\n```\nfn a() {}\n"
        );
        assert_eq!(without_open_fence_language("```py"), "```");
        assert_eq!(without_open_fence_language("```\ncode"), "```\ncode");
        assert_eq!(without_open_fence_language("no fence"), "no fence");
    }

    #[test]
    fn a_streaming_turn_renders_like_the_whole_text() {
        let answer = "# Heading\n\nFirst paragraph, with *emphasis*.\n\n- one\n- two\n\n\
                      Second paragraph\nover two lines.\n\n```rust\nfn main() {}\n\n```\n\n\
                      1. first\n2. second\n\n> quoted\n\nLast line";
        let mut view = PaneView::default();
        let mut turns = [streaming("")];
        for end in 1..=answer.len() {
            if !answer.is_char_boundary(end) {
                continue;
            }
            turns[0].answer = answer[..end].to_owned();
            view.stale = true;
            let live = live();
            let refs = [TurnRef {
                record: &turns[0],
                live: Some(&live),
            }];
            view.refresh(&refs, 40, false);
        }
        let finished = TurnRef {
            record: &turns[0],
            live: Some(&live()),
        };
        let whole: Vec<String> = turn_lines(finished, 40, false)
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(text(&view), whole);
        let stable = answer.find("Last").unwrap();
        assert_eq!(view.stable_bytes, Some(stable));
        assert_eq!(
            view.stable_rendered, stable,
            "each completed block is rendered once, not again with every later one"
        );
    }

    #[test]
    fn a_finished_turn_leaves_no_room_behind() {
        let mut record = streaming(&"A line of an answer that goes on.\n\n".repeat(200));
        let mut view = PaneView::default();
        let live = live();
        view.refresh(
            &[TurnRef {
                record: &record,
                live: Some(&live),
            }],
            30,
            false,
        );
        assert!(view.stable.capacity() > 0);
        record.complete = true;
        view.refresh(
            &[TurnRef {
                record: &record,
                live: None,
            }],
            30,
            false,
        );
        assert_eq!((view.stable.capacity(), view.live.capacity()), (0, 0));
        assert_eq!(view.done.capacity(), view.done.len());
    }
}
