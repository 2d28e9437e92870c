//! Recording the race into its [`Session`](crate::session::Session) as it happens, the way
//! [`Recorder`](crate::session::Recorder) does for the headless commands, but as effects: the
//! session changes in memory and a [`Command::SaveSession`] asks the runtime to write it.

use std::time::Instant;

use crate::client::Outcome;
use crate::session::{ProviderRef, TurnSettings};

use super::app::App;
use super::msg::{Command, PaneId};

/// What a session records about pane `pane`'s provider.
fn provider_ref(app: &App, pane: PaneId) -> Option<ProviderRef> {
    let info = &app.panes.get(pane)?.info;
    Some(ProviderRef::new(&info.name, &info.model, info.protocol))
}

/// A snapshot of the session to save now.
pub fn save(app: &mut App, announce: bool) -> Command {
    let now = app.now;
    save_at(app, now, announce)
}

fn save_at(app: &mut App, at: Instant, announce: bool) -> Command {
    app.autosave.saved(at);
    Command::SaveSession {
        session: Box::new(app.session.clone()),
        announce,
    }
}

/// The prompt went out to `panes`: the turns open on disk before the first token arrives.
pub fn begin(app: &mut App, panes: &[PaneId], prompt: &str) -> Command {
    for &pane in panes {
        let (Some(r), Some(info)) = (
            provider_ref(app, pane),
            app.panes.get(pane).map(|p| &p.info),
        ) else {
            continue;
        };
        let settings = TurnSettings {
            model: Some(info.model.clone()),
            system: info.system.clone().filter(|s| !s.is_empty()),
            temperature: info.temperature,
            max_tokens: info.max_tokens,
        };
        app.session.begin_answer(&r, prompt);
        app.session.set_settings(&r.name, settings);
    }
    save(app, false)
}

/// Streamed text: kept in the session, written at most every autosave interval.
pub fn delta(app: &mut App, pane: PaneId, text: &str, at: Instant) -> Option<Command> {
    let name = app.panes.get(pane)?.info.name.clone();
    app.session.append_partial(&name, text);
    app.autosave.touch();
    app.autosave.due(at).then(|| save_at(app, at, false))
}

/// The request ended: the turn is complete (with its metrics and cost) and saved at once.
pub fn finish(app: &mut App, pane: PaneId, outcome: &Outcome, cost: Option<f64>) -> Command {
    if let Some(p) = app.panes.get(pane) {
        let name = p.info.name.clone();
        app.session.finish_answer(&name, outcome, cost);
    }
    save(app, false)
}

/// These panes' answers were cancelled: complete, kept with the text so far, never replayed as
/// history (an error marks them as not succeeded).
/// The times it ran are kept (until the cancel, its TTFT if a token came, its queue), so a resumed
/// session shows how long it ran, not `0ms`.
pub fn cancelled(app: &mut App, panes: &[PaneId]) -> Option<Command> {
    let ran: Vec<(String, CancelledTimes)> = panes
        .iter()
        .filter_map(|&p| app.panes.get(p))
        .map(|p| (p.info.name.clone(), CancelledTimes::of(p.turns.last())))
        .collect();
    for (name, times) in &ran {
        let open = app
            .session
            .providers
            .iter_mut()
            .find(|p| &p.name == name)
            .and_then(|p| p.turns.last_mut())
            .filter(|t| !t.complete);
        if let Some(turn) = open {
            turn.complete = true;
            turn.metrics.error = Some(CANCELLED.to_owned());
            let m = &mut turn.metrics;
            m.latency_ms = m.latency_ms.or(times.latency_ms);
            m.ttft_ms = m.ttft_ms.or(times.ttft_ms);
            m.queue_ms = m.queue_ms.or(times.queue_ms);
        }
    }
    (!ran.is_empty()).then(|| save(app, false))
}

/// What a cancelled turn's clocks said when it stopped, in the session's milliseconds. Latency,
/// like an outcome's, counts from when the request was sent; the limiter wait is the queue.
#[derive(Default)]
struct CancelledTimes {
    latency_ms: Option<f64>,
    ttft_ms: Option<f64>,
    queue_ms: Option<f64>,
}

impl CancelledTimes {
    fn of(turn: Option<&super::pane::Turn>) -> Self {
        let Some(t) = turn else {
            return Self::default();
        };
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        let ended = t.ended.unwrap_or(t.started);
        let sent = t.sent.unwrap_or(t.started);
        Self {
            latency_ms: Some(ms(ended.saturating_duration_since(sent))),
            ttft_ms: t.ttft().map(ms),
            queue_ms: Some(ms(sent.saturating_duration_since(t.started))).filter(|q| *q > 0.0),
        }
    }
}

/// The error a cancelled turn is saved with.
pub const CANCELLED: &str = "cancelled";

/// Unsaved streamed text, saved now (before quitting).
pub fn flush(app: &mut App) -> Option<Command> {
    app.autosave.dirty().then(|| save(app, false))
}
