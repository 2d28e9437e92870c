//! What the app-level keys do: send, cancel, focus, maximise, toggle providers, copy, sessions.

use super::app::{fresh_input, App};
use super::clipboard::last_code_block;
use super::msg::Command;
use super::pane::{Phase, Turn};
use super::view::PaneView;
use super::{record, slash};

/// Send the prompt to every enabled provider, each with its own history. A prompt starting
/// with `/` is a command (`//` sends a prompt that starts with `/`).
pub fn submit(app: &mut App) -> Vec<Command> {
    let text = app.input_text();
    if text.trim().is_empty() {
        return Vec::new();
    }
    let prompt = match text.strip_prefix('/') {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        Some(_) => {
            let commands = slash::run(app, text.trim());
            app.history.push(text.trim());
            app.input = fresh_input("");
            return commands;
        }
        None => text,
    };
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
    let mut commands = Vec::with_capacity(targets.len() + 1);
    commands.push(record::begin(app, &targets, &prompt));
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

/// Abort every request in flight; their late events will be dropped as stale. The session keeps
/// the text so far, marked cancelled.
pub fn cancel(app: &mut App) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut panes = Vec::new();
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
        panes.push(pane);
        commands.push(Command::Abort { pane, request_id });
    }
    commands.extend(record::cancelled(app, &panes));
    commands
}

/// Ctrl-C: cancel what runs (so the session says so), save what is unsaved, quit.
pub fn quit(app: &mut App) -> Vec<Command> {
    let mut commands = cancel(app);
    if !commands
        .iter()
        .any(|c| matches!(c, Command::SaveSession { .. }))
    {
        commands.extend(record::flush(app));
    }
    commands.push(Command::Quit);
    commands
}

/// Ctrl-Y: the focused pane's last answer; Alt-Y: the last code block in it.
pub fn copy(app: &mut App, code_only: bool) -> Vec<Command> {
    let Some(p) = app.panes.get(app.focus) else {
        return Vec::new();
    };
    let name = p.info.name.clone();
    let Some(answer) = p
        .turns
        .iter()
        .rev()
        .map(|t| t.answer.as_str())
        .find(|a| !a.trim().is_empty())
    else {
        app.notice = Some(format!("{name} has no answer to copy yet"));
        return Vec::new();
    };
    let (text, what) = if code_only {
        match last_code_block(answer) {
            Some(code) => (code, "last code block"),
            None => {
                app.notice = Some(format!(
                    "{name}'s last answer has no code block: Ctrl-Y copies the whole answer"
                ));
                return Vec::new();
            }
        }
    } else {
        (answer.to_owned(), "last answer")
    };
    app.notice = Some(format!(
        "copied {name}'s {what} ({} chars)",
        text.chars().count()
    ));
    vec![Command::Copy(text)]
}

/// Ctrl-O: list the saved sessions (the picker opens when the list arrives).
pub fn open_picker(app: &mut App) -> Vec<Command> {
    if app.in_flight() {
        app.notice = Some("a race is still running: Esc cancels it".to_owned());
        return Vec::new();
    }
    vec![Command::ListSessions]
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

/// Forget every pane's history and start a new session (not while a race runs). The old
/// session stays on disk.
pub fn new_conversation(app: &mut App) -> Vec<Command> {
    if app.in_flight() {
        app.notice = Some("a race is still running: Esc cancels it".to_owned());
        return Vec::new();
    }
    for p in &mut app.panes {
        p.turns.clear();
        p.scroll = None;
        p.view = PaneView::default();
    }
    app.round = 0;
    app.notice = Some("new conversation".to_owned());
    vec![Command::NewSession]
}
