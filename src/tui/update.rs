//! `update`: the one place state changes. A message in, new state plus effects out; no I/O.

use std::time::Instant;

use crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::client::ClientEvent;
use crate::ratelimit::LimiterSnapshot;

use super::app::{App, Overlay};
use super::keys::on_key;
use super::layout::content_area;
use super::msg::{Command, Msg, PaneId, RequestId};
use super::picker::Picker;
use super::scroll::scroll_by;
use super::{record, resume};
use crate::race::{CoreEvent, Lane};

/// `update` with the clock read now: the time every change of this message is stamped with.
pub fn update_at(app: &mut App, msg: Msg, now: Instant) -> Vec<Command> {
    app.now = now;
    update(app, msg)
}

pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(key) => return on_key(app, key),
        Msg::Mouse(mouse) => on_mouse(app, mouse),
        Msg::Paste(text) => {
            app.input
                .insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
            app.dirty = true;
        }
        Msg::Resize { width, height } => {
            app.area = Rect::new(0, 0, width, height);
            app.dirty = true;
        }
        Msg::Provider {
            pane,
            request_id,
            event,
            at,
        } => return on_provider(app, pane, request_id, event, at),
        Msg::Limits(limits) => on_limits(app, limits),
        Msg::Frame => refresh_views(app),
        Msg::SessionStarted(session) => {
            let commands = record::drive(app, CoreEvent::SessionStarted(session));
            app.reset_panes();
            app.dirty = true;
            return commands;
        }
        Msg::SessionLoaded(Ok(session)) => resume::load(app, *session),
        Msg::SessionLoaded(Err(e)) => tell(app, e),
        Msg::SessionList { sessions, problems } => {
            app.picker = Picker::new(sessions, problems);
            app.overlay = Overlay::Sessions;
            app.dirty = true;
        }
        Msg::Saved { result, announce } => on_saved(app, result, announce),
        Msg::Models { pane, result } => {
            if let Some(p) = app.panes.get_mut(pane) {
                p.models = Some(result);
            }
            // The user is still completing: finish what the Tab started.
            if pane == app.focus {
                super::slash::complete_model(app);
            }
            app.dirty = true;
        }
        Msg::Notice(text) => tell(app, text),
    }
    Vec::new()
}

/// Show `text` on the notice line.
pub fn tell(app: &mut App, text: impl Into<String>) {
    app.notice = Some(text.into());
    app.dirty = true;
}

fn on_saved(app: &mut App, result: Result<std::path::PathBuf, String>, announce: bool) {
    match result {
        Ok(path) if announce => tell(app, format!("saved to {}", path.display())),
        Ok(_) => {}
        Err(e) if announce || !app.save_error_told => {
            app.save_error_told = true;
            tell(app, e);
        }
        Err(_) => {}
    }
}

/// Fold one provider event into the core. Events of any other request than the lane's current
/// one (cancelled, superseded) are dropped there.
fn on_provider(
    app: &mut App,
    pane: PaneId,
    request_id: RequestId,
    event: ClientEvent,
    at: Instant,
) -> Vec<Command> {
    if app.lane(pane).and_then(Lane::request_id) != Some(request_id) {
        return Vec::new();
    }
    let shows = matches!(
        event,
        ClientEvent::Delta(_) | ClientEvent::Reasoning(_) | ClientEvent::Done(_)
    );
    app.dirty = true;
    if shows {
        if let Some(p) = app.panes.get_mut(pane) {
            p.view.stale = true;
        }
    }
    let before = lane_phase(app, pane);
    let commands = record::drive(
        app,
        CoreEvent::Provider {
            lane: pane,
            request_id,
            event,
            at,
        },
    );
    if lane_phase(app, pane) != before {
        app.draw_now = true;
    }
    commands
}

/// Which phase lane `pane`'s request is in (its kind only: a retry's countdown is not a change).
fn lane_phase(app: &App, pane: PaneId) -> Option<std::mem::Discriminant<crate::race::Phase>> {
    let live = app.lane(pane)?.live.as_ref()?;
    Some(std::mem::discriminant(&live.phase))
}

/// New limiter snapshots: redraw when they moved, or while anything shows a running clock.
fn on_limits(app: &mut App, limits: Vec<Option<LimiterSnapshot>>) {
    if limits != app.limits || app.in_flight() {
        app.dirty = true;
    }
    for (history, snap) in app.budgets.iter_mut().zip(&limits) {
        if let Some(snap) = snap {
            history.record(app.now, snap);
        }
    }
    app.limits = limits;
    // A shared budget's store lost or back: said once each time, on the notice line.
    if let Some(last) = crate::ratelimit::notice::take().pop() {
        app.notice = Some(last);
        app.dirty = true;
    }
}

/// Re-wrap what changed, at each visible pane's current width.
fn refresh_views(app: &mut App) {
    let screen = app.layout();
    for (i, (pane, rect)) in app.panes.iter_mut().zip(screen.panes).enumerate() {
        if let Some(rect) = rect {
            let area = content_area(rect);
            let turns: Vec<_> = app.core.turns(i).collect();
            pane.view.refresh(&turns, area.width, pane.thinking_open);
            let height = usize::from(area.height);
            let top = pane.top(height);
            pane.view.light(&turns, top..top + height);
        }
    }
}

fn on_mouse(app: &mut App, mouse: MouseEvent) {
    let screen = app.layout();
    let at = Position::new(mouse.column, mouse.row);
    let Some(i) = screen
        .panes
        .iter()
        .position(|r| r.is_some_and(|r| r.contains(at)))
    else {
        return;
    };
    let height = screen.panes[i].map_or(0, |r| content_area(r).height);
    match mouse.kind {
        MouseEventKind::ScrollUp => scroll_by(&mut app.panes[i], -3, height),
        MouseEventKind::ScrollDown => scroll_by(&mut app.panes[i], 3, height),
        MouseEventKind::Down(_) => app.focus = i,
        _ => return,
    }
    app.dirty = true;
}
