//! Reopening a saved session: the core takes it as its record, each pane shows its lane's turns,
//! and the next prompt continues every conversation; providers the config no longer has get a
//! pane that says so.

use crate::race::CoreEvent;
use crate::session::Session;

use super::app::App;
use super::record;
use super::MAX_PANES;

/// Make `session` the current one.
pub fn load(app: &mut App, session: Session) {
    let id = session.id.clone();
    let prompts: Vec<String> = (0..session.turn_count())
        .filter_map(|i| session.providers.iter().find_map(|p| p.turns.get(i)))
        .map(|t| t.prompt.clone())
        .collect();
    // Loading asks for no effect: nothing starts, nothing is written until the next prompt.
    let _ = record::drive(app, CoreEvent::SessionLoaded(Box::new(session)));
    app.reset_panes();
    app.maximized = false;
    for prompt in &prompts {
        app.history.push(prompt);
    }
    let left_out = app.core.left_out();
    app.notice = Some(match left_out.as_slice() {
        [] => format!("resumed session {id}"),
        names => format!(
            "resumed session {id}; no room for {} (at most {MAX_PANES} panes)",
            names.join(", ")
        ),
    });
    app.dirty = true;
}
