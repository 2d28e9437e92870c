//! The current race: which turns belong to it, whether it is over, and who won.

use std::time::Duration;

use super::app::App;
use super::msg::PaneId;
use super::pane::{Phase, Turn};

/// The turns of the latest round, by pane.
pub fn round_turns(app: &App) -> Vec<(PaneId, &Turn)> {
    if app.round == 0 {
        return Vec::new();
    }
    app.panes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.last_turn()
                .filter(|t| t.round == app.round)
                .map(|t| (i, t))
        })
        .collect()
}

/// Every pane of the latest round has finished.
pub fn finished(app: &App) -> bool {
    let turns = round_turns(app);
    !turns.is_empty() && turns.iter().all(|(_, t)| t.phase.is_finished())
}

/// Winners of a finished race with at least two successful answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Winners {
    pub ttft: Option<PaneId>,
    pub total: Option<PaneId>,
}

pub fn winners(app: &App) -> Winners {
    if !finished(app) {
        return Winners::default();
    }
    let done: Vec<(PaneId, &Turn)> = round_turns(app)
        .into_iter()
        .filter(|(_, t)| t.phase == Phase::Done)
        .collect();
    if done.len() < 2 {
        return Winners::default();
    }
    Winners {
        ttft: best(&done, |t| t.ttft()),
        total: best(&done, |t| t.stats.as_ref().map(|s| s.latency)),
    }
}

fn best(turns: &[(PaneId, &Turn)], key: impl Fn(&Turn) -> Option<Duration>) -> Option<PaneId> {
    turns
        .iter()
        .filter_map(|(i, t)| key(t).map(|d| (d, *i)))
        .min()
        .map(|(_, i)| i)
}
