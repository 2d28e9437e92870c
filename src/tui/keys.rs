//! Key bindings: what each key does, and the list the help overlay and hint line show.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{fresh_input, App, Overlay};
use super::msg::Command;
use super::scroll::{focused_height, scroll_by};
use super::{actions, pane::Pane, prompt, slash};

/// Every binding, for the help overlay.
pub const BINDINGS: &[(&str, &str)] = &[
    ("Enter", "send the prompt to every enabled provider"),
    ("Alt-Enter, Shift-Enter", "new line in the prompt"),
    (
        "Up / Down",
        "recall earlier prompts (on the first / last line)",
    ),
    (
        "Esc",
        "cancel the requests in flight (first closes an overlay)",
    ),
    (
        "Tab / Shift-Tab",
        "focus the next / previous pane (Tab completes a /command)",
    ),
    ("Ctrl-F, F3", "maximise or restore the focused pane"),
    (
        "Ctrl-T, F2",
        "turn the focused provider on/off for the next prompt",
    ),
    ("Alt-1 … Alt-6", "turn provider 1 … 6 on/off"),
    ("Ctrl-R, F4", "race results: the comparison table"),
    ("PgUp / PgDn", "scroll the focused pane"),
    (
        "Home / End",
        "top / follow the tail (when the prompt is empty)",
    ),
    ("Ctrl-Home / Ctrl-End", "top / follow the tail, always"),
    (
        "Mouse wheel",
        "scroll the pane under the pointer; click focuses",
    ),
    ("Ctrl-N", "new conversation: forget every pane's history"),
    ("Ctrl-O", "saved sessions: Enter reopens one"),
    ("Ctrl-Y", "copy the focused pane's last answer"),
    ("Alt-Y", "copy the last code block of that answer"),
    (
        "Alt-T",
        "show or fold the focused pane's thinking (copy takes the answer only)",
    ),
    ("?, F1", "this help (? when the prompt is empty)"),
    (
        "Ctrl-C",
        "cancel what streams; again (or with nothing streaming) quit",
    ),
];

/// The short form for the hint line.
pub const HINT: &str =
    "Enter send · Alt-Enter newline · Esc cancel · Tab focus · ^F zoom · ^T on/off · ^R results · ? help · ^C quit";

pub fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    app.dirty = true;
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return actions::quit(app);
    }
    if app.overlay == Overlay::Sessions {
        return on_picker_key(app, key);
    }
    if app.overlay != Overlay::None {
        on_overlay_key(app, key);
        return Vec::new();
    }
    app.notice = None;
    if let Some(commands) = global_key(app, key) {
        return commands;
    }
    edit_key(app, key);
    Vec::new()
}

fn on_overlay_key(app: &mut App, key: KeyEvent) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if app.overlay == Overlay::Help {
        let delta = match key.code {
            KeyCode::Up => Some(-1),
            KeyCode::Down => Some(1),
            KeyCode::PageUp => Some(-10),
            KeyCode::PageDown => Some(10),
            _ => None,
        };
        if let Some(delta) = delta {
            let last = help_line_count().saturating_sub(1);
            app.help_scroll = app.help_scroll.saturating_add_signed(delta).min(last);
            return;
        }
    }
    match key.code {
        KeyCode::Esc
        | KeyCode::Char('q')
        | KeyCode::Char('?')
        | KeyCode::F(1)
        | KeyCode::F(4)
        | KeyCode::Enter => app.overlay = Overlay::None,
        KeyCode::Char('r') if ctrl => app.overlay = Overlay::None,
        _ => {}
    }
}

/// The session picker: move, open, close.
fn on_picker_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let page = 10;
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') => app.overlay = Overlay::None,
        KeyCode::Char('o') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            app.overlay = Overlay::None
        }
        KeyCode::Up | KeyCode::Char('k') => app.picker.step(-1),
        KeyCode::Down | KeyCode::Char('j') => app.picker.step(1),
        KeyCode::PageUp => app.picker.step(-page),
        KeyCode::PageDown => app.picker.step(page),
        KeyCode::Home => app.picker.selected = 0,
        KeyCode::End => app.picker.step(isize::MAX),
        KeyCode::Enter => {
            app.overlay = Overlay::None;
            if let Some(s) = app.picker.selected() {
                return vec![Command::OpenSession(s.id.clone())];
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Keys that act on the app rather than the prompt; `None` passes the key to the editor.
fn global_key(app: &mut App, key: KeyEvent) -> Option<Vec<Command>> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    let empty = app.input.is_empty();
    match key.code {
        KeyCode::Esc => return Some(actions::escape(app)),
        KeyCode::Enter if alt || shift => app.input.insert_newline(),
        KeyCode::Enter => return Some(prompt::submit(app)),
        KeyCode::Tab => match slash::complete(app) {
            Some(commands) => return Some(commands),
            None => actions::focus_step(app, 1),
        },
        KeyCode::BackTab => actions::focus_step(app, -1),
        KeyCode::Char('f') if ctrl => actions::toggle_maximize(app),
        KeyCode::F(3) => actions::toggle_maximize(app),
        KeyCode::Char('t') if ctrl => actions::toggle_provider(app, app.focus),
        KeyCode::F(2) => actions::toggle_provider(app, app.focus),
        KeyCode::Char(d @ '1'..='6') if alt => {
            actions::toggle_provider(app, (d as usize) - ('1' as usize))
        }
        KeyCode::Char('r') if ctrl => app.overlay = Overlay::Table,
        KeyCode::F(4) => app.overlay = Overlay::Table,
        KeyCode::Char('n') if ctrl => return Some(actions::new_conversation(app)),
        KeyCode::Char('o') if ctrl => return Some(actions::open_picker(app)),
        KeyCode::Char('y') if ctrl => return Some(actions::copy(app, false)),
        KeyCode::Char('y') if alt => return Some(actions::copy(app, true)),
        KeyCode::Char('t') if alt => {
            with_focused(app, |p| p.thinking_open = !p.thinking_open);
        }
        KeyCode::Char('?') if empty => actions::open_help(app),
        KeyCode::F(1) => actions::open_help(app),
        KeyCode::PageUp => page(app, -1),
        KeyCode::PageDown => page(app, 1),
        KeyCode::Home if ctrl || empty => with_focused(app, |p| p.scroll = Some(0)),
        KeyCode::End if ctrl || empty => with_focused(app, |p| p.scroll = None),
        KeyCode::Up if app.input.cursor().0 == 0 => recall(app, true),
        KeyCode::Down if app.input.cursor().0 + 1 >= app.input.lines().len() => recall(app, false),
        _ => return None,
    }
    Some(Vec::new())
}

/// How many lines the help overlay has: the bindings, a heading, the `/` commands.
pub fn help_line_count() -> usize {
    BINDINGS.len() + slash::COMMANDS.len() + 2
}

fn edit_key(app: &mut App, key: KeyEvent) {
    app.input.input(key);
}

fn page(app: &mut App, direction: isize) {
    let height = focused_height(app);
    let step = (height.saturating_sub(1).max(1) as isize) * direction;
    with_focused(app, |p| scroll_by(p, step, height));
}

fn with_focused(app: &mut App, f: impl FnOnce(&mut Pane)) {
    if let Some(p) = app.panes.get_mut(app.focus) {
        f(p);
    }
}

/// Up/Down on the edge lines of the prompt step through earlier prompts.
fn recall(app: &mut App, older: bool) {
    let current = app.input_text();
    let text = if older {
        app.history.older(&current)
    } else {
        app.history.newer()
    };
    if let Some(text) = text.map(str::to_owned) {
        app.input = fresh_input(&text);
    }
}
