//! A pane's render cache: wrapped lines of finished turns kept, only the streaming turn re-rendered.

use ratatui::text::Line;

use super::markdown::turn_lines;
use super::pane::Turn;

/// Lines of finished turns (`done`) plus the lines of the turn in flight (`tail`), at `width`.
#[derive(Debug, Default)]
pub struct PaneView {
    width: u16,
    /// How many turns `done` holds.
    done_turns: usize,
    done: Vec<Line<'static>>,
    tail: Vec<Line<'static>>,
    /// The turn in flight changed since `tail` was built.
    pub stale: bool,
}

impl PaneView {
    /// Bring the cache up to date with `turns` at `width`. Finished turns render once; the turn
    /// in flight re-renders only when it changed (once per frame at most, since this runs per frame).
    pub fn refresh(&mut self, turns: &[Turn], width: u16) {
        if width != self.width || self.done_turns > turns.len() {
            *self = PaneView {
                width,
                stale: true,
                ..PaneView::default()
            };
        }
        let finished = turns.iter().take_while(|t| t.phase.is_finished()).count();
        if finished > self.done_turns {
            for turn in &turns[self.done_turns..finished] {
                self.done.extend(turn_lines(turn, width));
            }
            self.done_turns = finished;
            self.stale = true;
        }
        if self.stale {
            self.tail = turns
                .get(finished)
                .map(|t| turn_lines(t, width))
                .unwrap_or_default();
            self.stale = false;
        }
    }

    pub fn len(&self) -> usize {
        self.done.len() + self.tail.len()
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
            .chain(self.tail.iter())
            .skip(start)
            .take(count)
    }
}
