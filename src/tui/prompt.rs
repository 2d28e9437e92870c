//! Enter: the prompt box's text is a `/` command, or a prompt the race core sends to every
//! enabled provider.

use super::app::{fresh_input, App};
use super::msg::Command;
use super::{record, slash};
use crate::race::CoreEvent;

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
            let mut commands = slash::run(app, text.trim());
            app.history.push(text.trim());
            commands.push(Command::RememberPrompt(text.trim().to_owned()));
            app.input = fresh_input("");
            return commands;
        }
        None => text,
    };
    if app.in_flight() {
        app.notice = Some("a race is still running: Esc cancels it".to_owned());
        return Vec::new();
    }
    let targets: Vec<usize> = (0..app.core.lanes.len())
        .filter(|&i| app.core.lanes[i].enabled)
        .collect();
    if targets.is_empty() {
        app.notice = Some("every provider is off: Ctrl-T or Alt-<n> turns one on".to_owned());
        return Vec::new();
    }
    let mut commands = record::drive(
        app,
        CoreEvent::Submit {
            lanes: targets,
            prompt: prompt.clone(),
            at: app.now,
        },
    );
    app.history.push(&prompt);
    commands.push(Command::RememberPrompt(prompt));
    app.input = fresh_input("");
    commands
}
