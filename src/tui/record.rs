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
pub fn cancelled(app: &mut App, panes: &[PaneId]) -> Option<Command> {
    let names: Vec<String> = panes
        .iter()
        .filter_map(|&p| app.panes.get(p).map(|p| p.info.name.clone()))
        .collect();
    for name in &names {
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
        }
    }
    (!names.is_empty()).then(|| save(app, false))
}

/// The error a cancelled turn is saved with.
pub const CANCELLED: &str = "cancelled";

/// Unsaved streamed text, saved now (before quitting).
pub fn flush(app: &mut App) -> Option<Command> {
    app.autosave.dirty().then(|| save(app, false))
}
