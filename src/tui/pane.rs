//! One pane's own view state: where it is scrolled and its render cache. Who answers in it and
//! its conversation live in the race core's lane and record ([`crate::race`]).

pub use crate::race::{Phase, ProviderInfo, TurnRef};

use super::view::PaneView;

/// What the TUI keeps for one pane beyond the core's lane.
#[derive(Debug, Default)]
pub struct Pane {
    /// First visible line when the user scrolled; `None` follows the tail.
    pub scroll: Option<usize>,
    pub view: PaneView,
    /// Its turns' thinking shows unfolded (Alt-T toggles it; folded by default).
    pub thinking_open: bool,
    /// The models its server offers, once asked (`/model` + Tab), or why it could not say.
    pub models: Option<Result<Vec<String>, String>>,
}

impl Pane {
    /// The first line that shows in `height` rows: where the user scrolled to, or the tail.
    pub fn top(&self, height: usize) -> usize {
        let max_top = self.view.len().saturating_sub(height);
        self.scroll.unwrap_or(max_top).min(max_top)
    }
}
