//! The TUI's model: the race core plus what only the screen needs (focus, overlays, input, scroll).

use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui_textarea::TextArea;

use crate::config::{Prices, ProviderConfig};
use crate::race::{Lane, RaceCore};
use crate::ratelimit::LimiterSnapshot;
use crate::session::Session;

use super::history::PromptHistory;
use super::layout::{screen, LayoutParams, Screen};
use super::pane::{Pane, ProviderInfo};
use super::picker::Picker;

/// Frames are drawn at most this often (30 per second: text streams smoothly at that rate and
/// each frame costs a full diff of the screen); the first change after a quiet spell draws at once.
pub const FRAME: Duration = Duration::from_millis(33);
/// How often the limiter is re-read, so the budget moves even when no tokens flow.
pub const TICK: Duration = Duration::from_millis(100);

/// Which overlay covers the panes, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Table,
    /// The session picker (Ctrl-O).
    Sessions,
}

/// Everything the UI shows. Changed only by the update step; read by render.
#[derive(Debug)]
pub struct App {
    /// The race core: lanes (one per pane), the session record, the live requests.
    pub core: RaceCore,
    /// Each lane's view state (scroll, render cache), in lane order.
    pub panes: Vec<Pane>,
    pub focus: usize,
    pub maximized: bool,
    pub overlay: Overlay,
    pub input: TextArea<'static>,
    pub history: PromptHistory,
    /// The latest limiter snapshot per pane.
    pub limits: Vec<Option<LimiterSnapshot>>,
    /// What was left of each pane's budget over the last minute, for the status bar's chart.
    pub budgets: Vec<super::budget::BudgetHistory>,
    pub area: Rect,
    /// The clock as of the latest message; injected so rendering is deterministic in tests.
    pub now: Instant,
    pub notice: Option<String>,
    pub demo: bool,
    pub dirty: bool,
    /// A request's phase just changed (its first token, a retry, its end): the next frame goes
    /// out at once instead of waiting for the frame clock, so what a clock measured is on screen
    /// when it happened. Streaming text between phases is drawn at the frame rate.
    pub draw_now: bool,
    pub picker: Picker,
    /// The code block Alt-Y copied last: (pane, turn, block), so the next Alt-Y takes the one before.
    pub code_cursor: Option<(usize, usize, usize)>,
    /// An autosave failure was already told (once is enough).
    pub save_error_told: bool,
    /// First line of the help overlay shown (it scrolls on short screens).
    pub help_scroll: usize,
}

impl App {
    /// One pane per provider; `unavailable[i]` says why provider `i` cannot be used, if so.
    pub fn new(
        providers: &[ProviderConfig],
        unavailable: Vec<Option<String>>,
        demo: bool,
        now: Instant,
    ) -> Self {
        let lanes: Vec<Lane> = providers
            .iter()
            .zip(unavailable.into_iter().chain(std::iter::repeat(None)))
            .map(|(p, why)| Lane::new(ProviderInfo::from_config(p), why))
            .collect();
        let n = lanes.len();
        Self {
            core: RaceCore::new(lanes, Session::new(), Prices::default(), super::MAX_PANES),
            panes: (0..n).map(|_| Pane::default()).collect(),
            focus: 0,
            maximized: false,
            overlay: Overlay::None,
            input: fresh_input(""),
            history: PromptHistory::default(),
            limits: vec![None; n],
            budgets: vec![Default::default(); n],
            area: Rect::new(0, 0, 80, 24),
            now,
            notice: None,
            demo,
            dirty: true,
            draw_now: false,
            picker: Picker::default(),
            code_cursor: None,
            save_error_told: false,
            help_scroll: 0,
        }
    }

    /// Price answers with `prices` (the config's `[prices]`).
    pub fn with_prices(mut self, prices: Prices) -> Self {
        self.core.set_prices(prices);
        self
    }

    /// One pane per lane again, each with a fresh view (the lanes changed: a session loaded).
    pub fn reset_panes(&mut self) {
        let n = self.core.lanes.len();
        self.panes = (0..n).map(|_| Pane::default()).collect();
        self.limits.resize(n, None);
        self.budgets.resize(n, Default::default());
        self.focus = self.focus.min(n.saturating_sub(1));
    }

    /// Pane `i`'s lane in the core.
    pub fn lane(&self, i: usize) -> Option<&Lane> {
        self.core.lanes.get(i)
    }

    pub fn layout(&self) -> Screen {
        self.layout_in(self.area)
    }

    pub fn layout_in(&self, area: Rect) -> Screen {
        screen(LayoutParams {
            area,
            panes: self.panes.len(),
            maximized: self.maximized.then_some(self.focus),
            input_lines: self.input.lines().len(),
        })
    }

    pub fn in_flight(&self) -> bool {
        self.core.in_flight()
    }

    pub fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }
}

/// A prompt editor holding `text`, styled for the input box.
pub fn fresh_input(text: &str) -> TextArea<'static> {
    let mut input = TextArea::new(text.split('\n').map(str::to_owned).collect());
    input.set_placeholder_text(
        "Ask every provider… (Enter sends, Alt-Enter for a new line, ? for help)",
    );
    input.set_placeholder_style(Style::new().fg(Color::DarkGray));
    input.set_cursor_line_style(Style::new());
    input.set_cursor_style(Style::new().add_modifier(Modifier::REVERSED));
    input.move_cursor(ratatui_textarea::CursorMove::Bottom);
    input.move_cursor(ratatui_textarea::CursorMove::End);
    input
}
