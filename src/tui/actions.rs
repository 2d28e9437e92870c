//! What the app-level keys do: send, cancel, focus, maximise, toggle providers.

use super::app::{fresh_input, App};
use super::msg::Command;
use super::pane::{Phase, Turn};
use super::view::PaneView;

/// Send the prompt to every enabled provider, each with its own history.
pub fn submit(app: &mut App) -> Vec<Command> {
    let prompt = app.input_text();
    if prompt.trim().is_empty() {
        return Vec::new();
    }
    if app.in_flight() {
        app.notice = Some("a race is still running: Esc cancels it".to_owned());
        return Vec::new();
    }
    let targets: Vec<usize> = (0..app.panes.len())
        .filter(|&i| app.panes[i].enabled)
        .collect();
    if targets.is_empty() {
        app.notice = Some("every provider is off: Ctrl-T or Alt-<n> turns one on".to_owned());
        return Vec::new();
    }
    app.round += 1;
    let mut commands = Vec::with_capacity(targets.len());
    for pane in targets {
        let request_id = app.next_request_id;
        app.next_request_id += 1;
        let p = &mut app.panes[pane];
        let request = p.request_for(&prompt);
        p.turns.push(Turn::new(&prompt, app.round, app.now));
        p.request_id = Some(request_id);
        p.scroll = None;
        p.view.stale = true;
        commands.push(Command::StartRequest {
            pane,
            request_id,
            request,
        });
    }
    app.history.push(&prompt);
    app.input = fresh_input("");
    commands
}

/// Esc: cancel what is in flight; with nothing in flight, restore a maximised pane.
pub fn escape(app: &mut App) -> Vec<Command> {
    if app.in_flight() {
        return cancel(app);
    }
    app.maximized = false;
    Vec::new()
}

/// Abort every request in flight; their late events will be dropped as stale.
pub fn cancel(app: &mut App) -> Vec<Command> {
    let mut commands = Vec::new();
    let now = app.now;
    for (pane, p) in app.panes.iter_mut().enumerate() {
        let Some(request_id) = p.request_id.take() else {
            continue;
        };
        if let Some(turn) = p.turns.last_mut() {
            turn.phase = Phase::Cancelled;
            turn.ended = Some(now);
        }
        p.view.stale = true;
        commands.push(Command::Abort { pane, request_id });
    }
    commands
}

pub fn focus_step(app: &mut App, step: isize) {
    let n = app.panes.len();
    if n > 0 {
        app.focus = (app.focus as isize + step).rem_euclid(n as isize) as usize;
    }
}

pub fn toggle_maximize(app: &mut App) {
    app.maximized = !app.maximized;
}

pub fn toggle_provider(app: &mut App, pane: usize) {
    let Some(p) = app.panes.get_mut(pane) else {
        return;
    };
    if p.unavailable.is_some() {
        app.notice = Some(format!("{} cannot be used: see the pane", p.info.name));
        return;
    }
    p.enabled = !p.enabled;
}

/// Forget every pane's history (not while a race runs).
pub fn new_conversation(app: &mut App) {
    if app.in_flight() {
        app.notice = Some("a race is still running: Esc cancels it".to_owned());
        return;
    }
    for p in &mut app.panes {
        p.turns.clear();
        p.scroll = None;
        p.view = PaneView::default();
    }
    app.round = 0;
}
