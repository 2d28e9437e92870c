//! `update`: the one place state changes. A message in, new state plus effects out; no I/O.

use std::time::Instant;

use crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::client::ClientEvent;
use crate::ratelimit::LimiterSnapshot;

use super::app::{App, Overlay};
use super::keys::on_key;
use super::msg::{Command, Msg, PaneId, RequestId};
use super::pane::{Pane, Phase, TurnStats};
use super::picker::Picker;
use super::ui::layout::content_area;
use super::{record, resume};

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
            app.session = *session;
            app.autosave = crate::session::Autosave::default();
        }
        Msg::SessionLoaded(Ok(session)) => resume::load(app, *session),
        Msg::SessionLoaded(Err(e)) => tell(app, e),
        Msg::SessionList { sessions, problems } => {
            app.picker = Picker::new(sessions, problems);
            app.overlay = Overlay::Sessions;
            app.dirty = true;
        }
        Msg::Saved { result, announce } => on_saved(app, result, announce),
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

/// Fold one provider event into its pane. Events of any other request than the pane's current
/// one (cancelled, superseded) are dropped.
fn on_provider(
    app: &mut App,
    pane: PaneId,
    request_id: RequestId,
    event: ClientEvent,
    at: Instant,
) -> Vec<Command> {
    let Some(p) = app.panes.get(pane) else {
        return Vec::new();
    };
    if p.request_id != Some(request_id) {
        return Vec::new();
    }
    if let ClientEvent::Done(outcome) = &event {
        let outcome = outcome.clone();
        let cost = cost_of(app, pane, &outcome);
        fold(app, pane, event, at, cost);
        return vec![record::finish(app, pane, &outcome, cost)];
    }
    let save = match &event {
        ClientEvent::Delta(text) => record::delta(app, pane, text, at),
        _ => None,
    };
    fold(app, pane, event, at, None);
    save.into_iter().collect()
}

fn cost_of(app: &App, pane: PaneId, outcome: &crate::client::Outcome) -> Option<f64> {
    let asked = app.panes.get(pane).map(|p| p.info.model.as_str());
    app.prices
        .answer_cost(&outcome.model, asked, &outcome.usage)
}

/// Fold one event of the pane's current request into the pane.
fn fold(app: &mut App, pane: PaneId, event: ClientEvent, at: Instant, cost: Option<f64>) {
    let Some(p) = app.panes.get_mut(pane) else {
        return;
    };
    app.dirty = true;
    if let ClientEvent::RateLimit(headers) = &event {
        p.server = Some(*headers);
        return;
    }
    if let ClientEvent::Retry { .. } = &event {
        p.total_retries += 1;
    }
    let done = matches!(event, ClientEvent::Done(_));
    let Some(turn) = p.turns.last_mut() else {
        return;
    };
    match event {
        ClientEvent::Queued => turn.phase = Phase::Queued,
        ClientEvent::Connecting { attempt } => {
            turn.sent.get_or_insert(at);
            turn.phase = Phase::Connecting { attempt };
        }
        ClientEvent::Retry { decision, error } => {
            turn.retries = decision.retry;
            turn.phase = Phase::Retrying {
                retry: decision.retry,
                max: decision.max_retries,
                until: at + decision.wait,
                kind: error.kind,
                status: error.status,
            };
        }
        ClientEvent::Delta(text) => {
            turn.first_token.get_or_insert(at);
            turn.answer.push_str(&text);
            turn.chunks += 1;
            turn.phase = Phase::Streaming;
            p.view.stale = true;
        }
        ClientEvent::Reasoning(text) => {
            turn.first_token.get_or_insert(at);
            turn.add_thinking(&text);
            turn.chunks += 1;
            if turn.answer.is_empty() {
                turn.phase = Phase::Thinking;
            }
            p.view.stale = true;
        }
        ClientEvent::Usage(usage) => turn.usage = usage,
        ClientEvent::Finish(reason) => turn.finish_reason = Some(reason),
        ClientEvent::Done(outcome) => {
            if turn.answer.is_empty() {
                turn.answer = outcome.content.clone();
            }
            if outcome.reasoning.is_some() {
                turn.set_thinking(outcome.reasoning.clone().unwrap_or_default());
                turn.signature.clone_from(&outcome.reasoning_signature);
            }
            // Retries the UI did not see as events still count.
            p.total_retries += outcome.retries.saturating_sub(turn.retries);
            turn.retries = turn.retries.max(outcome.retries);
            turn.stats = Some(TurnStats {
                cost,
                ..TurnStats::from_outcome(&outcome)
            });
            turn.ended = Some(at);
            turn.phase = match &outcome.error {
                Some(e) => Phase::Failed {
                    kind: e.kind,
                    message: e.message.clone(),
                },
                None => Phase::Done,
            };
            p.view.stale = true;
        }
        ClientEvent::RateLimit(_) => {}
    }
    if done {
        p.request_id = None;
    }
}

/// New limiter snapshots: redraw when they moved, or while anything shows a running clock.
fn on_limits(app: &mut App, limits: Vec<Option<LimiterSnapshot>>) {
    if limits != app.limits || app.in_flight() {
        app.dirty = true;
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
    for (pane, rect) in app.panes.iter_mut().zip(screen.panes) {
        if let Some(rect) = rect {
            let width = content_area(rect).width;
            pane.view.refresh(&pane.turns, width);
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

/// Scroll `delta` lines; reaching the bottom resumes following the tail.
pub fn scroll_by(pane: &mut Pane, delta: isize, height: u16) {
    let max_top = pane.view.len().saturating_sub(usize::from(height));
    let top = pane.scroll.unwrap_or(max_top).min(max_top);
    let top = top.saturating_add_signed(delta).min(max_top);
    pane.scroll = (top < max_top).then_some(top);
}

/// Height of the focused pane's text, for paging.
pub fn focused_height(app: &App) -> u16 {
    app.layout()
        .panes
        .get(app.focus)
        .copied()
        .flatten()
        .map_or(0, |r| content_area(r).height)
}
