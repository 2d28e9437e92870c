//! What the app-level keys do: send, cancel, focus, maximise, toggle providers, copy, sessions.

use super::app::{App, Overlay};
use super::clipboard::code_blocks;
use super::msg::Command;
use super::record;
use crate::race::CoreEvent;

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
    let at = app.now;
    record::drive(app, CoreEvent::Cancel { at })
}

/// Ctrl-C: while answers stream, cancel them (saved, marked cancelled) and say that a second
/// Ctrl-C quits, the terminal habit; with nothing in flight, save what is unsaved and quit.
pub fn quit(app: &mut App) -> Vec<Command> {
    if app.in_flight() {
        let commands = cancel(app);
        app.notice = Some("cancelled · Ctrl-C again quits".to_owned());
        return commands;
    }
    let at = app.now;
    let mut commands = record::drive(app, CoreEvent::Flush { at });
    commands.push(Command::Quit);
    commands
}

/// Ctrl-Y: the focused pane's last answer (said so when the latest turn has none and an earlier
/// answer is copied); Alt-Y: its last code block, and each Alt-Y again the one before.
pub fn copy(app: &mut App, code_only: bool) -> Vec<Command> {
    let focus = app.focus;
    let Some(lane) = app.lane(focus) else {
        return Vec::new();
    };
    let name = lane.info.name.clone();
    let turns = app.core.turn_count(focus);
    let Some((index, answer)) = app
        .core
        .turns(focus)
        .enumerate()
        .rev()
        .map(|(i, t)| (i, t.answer().to_owned()))
        .find(|(_, a)| !a.trim().is_empty())
    else {
        app.notice = Some(format!("{name} has no answer to copy yet"));
        return Vec::new();
    };
    let whose = if index + 1 < turns {
        format!("{name}'s answer to an earlier prompt (the latest has none)")
    } else {
        format!("{name}'s last answer")
    };
    if !code_only {
        app.code_cursor = None;
        app.notice = Some(format!("copied {whose} ({} chars)", answer.chars().count()));
        return vec![Command::Copy(answer)];
    }
    let mut blocks = code_blocks(&answer);
    let count = blocks.len();
    if count == 0 {
        app.notice = Some(format!(
            "{whose} has no code block: Ctrl-Y copies the whole answer"
        ));
        return Vec::new();
    }
    let pick = match app.code_cursor {
        Some((pane, turn, i)) if pane == focus && turn == index => (i + count - 1) % count,
        _ => count - 1,
    };
    app.code_cursor = Some((focus, index, pick));
    let code = blocks.swap_remove(pick);
    let more = if count > 1 {
        " · Alt-Y again: the one before"
    } else {
        ""
    };
    app.notice = Some(format!(
        "copied code block {} of {count} of {whose} ({} chars){more}",
        pick + 1,
        code.chars().count()
    ));
    vec![Command::Copy(code)]
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
    let Some(p) = app.core.lanes.get_mut(pane) else {
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
    app.notice = Some("new conversation".to_owned());
    vec![Command::NewSession]
}

/// `?`, F1, `/help`: the help overlay, from its top.
pub fn open_help(app: &mut App) {
    app.help_scroll = 0;
    app.overlay = Overlay::Help;
}
