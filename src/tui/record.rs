//! The TUI's side of the race core: core events from the UI go in, the core's effects come back
//! as commands for the runtime (start or abort a request, save the session off the loop).

use crate::race::{CoreEvent, Effect};
use crate::session::SaveOp;

use super::app::App;
use super::msg::Command;

/// Step the core with `event`; a lane whose request starts or stops gets its view redrawn.
pub fn drive(app: &mut App, event: CoreEvent) -> Vec<Command> {
    let effects = app.core.step(event);
    effects
        .into_iter()
        .map(|effect| match effect {
            Effect::Start {
                lane,
                request_id,
                request,
            } => {
                if let Some(p) = app.panes.get_mut(lane) {
                    p.scroll = None;
                    p.view.stale = true;
                }
                Command::StartRequest {
                    pane: lane,
                    request_id,
                    request,
                }
            }
            Effect::Abort { lane, request_id } => {
                if let Some(p) = app.panes.get_mut(lane) {
                    p.view.stale = true;
                }
                Command::Abort {
                    pane: lane,
                    request_id,
                }
            }
            Effect::Save(op) => Command::Save {
                op,
                announce: false,
            },
        })
        .collect()
}

/// `/save`: the whole session now, and say where it went.
pub fn save_now(app: &App) -> Command {
    Command::Save {
        op: SaveOp::Whole(std::sync::Arc::clone(&app.core.session)),
        announce: true,
    }
}
