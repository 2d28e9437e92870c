//! Reopening a saved session: each provider's turns back in its pane, so the next prompt
//! continues every conversation; providers the config no longer has get a pane that says so.

use std::time::Instant;

use crate::provider::ErrorKind;
use crate::session::{self, ProviderTranscript, Session};

use super::app::App;
use super::pane::{Pane, Phase, ProviderInfo, Turn, TurnStats};
use super::record::CANCELLED;
use super::view::PaneView;
use super::MAX_PANES;

/// Make `session` the current one: panes take its turns (configured panes it lacks start empty).
pub fn load(app: &mut App, session: Session) {
    app.panes.truncate(app.configured);
    app.limits.truncate(app.configured);
    for p in &mut app.panes {
        p.turns.clear();
        p.request_id = None;
        p.scroll = None;
        p.view = PaneView::default();
    }
    let mut left_out = Vec::new();
    for transcript in &session.providers {
        let index = match app
            .panes
            .iter()
            .position(|p| p.info.name == transcript.name)
        {
            Some(i) => i,
            None if app.panes.len() < MAX_PANES => {
                app.panes.push(missing_pane(transcript));
                app.panes.len() - 1
            }
            None => {
                left_out.push(transcript.name.clone());
                continue;
            }
        };
        let now = app.now;
        let pane = &mut app.panes[index];
        if !transcript.model.is_empty() {
            pane.info.model.clone_from(&transcript.model);
        }
        // The conversation goes on as it was last asked: system prompt, temperature, max tokens.
        if let Some(saved) = transcript
            .turns
            .iter()
            .rev()
            .find_map(|t| t.settings.as_ref())
        {
            if let Some(model) = &saved.model {
                pane.info.model.clone_from(model);
            }
            pane.info.system.clone_from(&saved.system);
            pane.info.temperature = saved.temperature;
            pane.info.max_tokens = saved.max_tokens;
        }
        pane.turns = transcript
            .turns
            .iter()
            .enumerate()
            .map(|(i, t)| turn(t, i as u64 + 1, now))
            .collect();
    }
    app.round = session.turn_count() as u64;
    app.focus = app.focus.min(app.panes.len().saturating_sub(1));
    app.maximized = false;
    for i in 0..session.turn_count() {
        if let Some(t) = session.providers.iter().find_map(|p| p.turns.get(i)) {
            app.history.push(&t.prompt);
        }
    }
    app.notice = Some(match left_out.as_slice() {
        [] => format!("resumed session {}", session.id),
        names => format!(
            "resumed session {}; no room for {} (at most {MAX_PANES} panes)",
            session.id,
            names.join(", ")
        ),
    });
    app.session = session;
    app.autosave = session::Autosave::default();
    app.dirty = true;
}

/// A pane for a provider the session has and the config does not: shown, never asked.
fn missing_pane(t: &ProviderTranscript) -> Pane {
    let info = ProviderInfo {
        name: t.name.clone(),
        model: t.model.clone(),
        protocol: t.protocol,
        simulated: false,
        system: None,
        temperature: None,
        max_tokens: None,
    };
    let why = format!(
        "{} is in this session but not configured now: its turns are shown, it gets no new prompts.",
        t.name
    );
    Pane::new(info, Some(why))
}

/// A saved turn as a finished pane turn.
fn turn(t: &session::Turn, round: u64, now: Instant) -> Turn {
    let m = &t.metrics;
    let ms = |v: Option<f64>| v.and_then(crate::checked::duration_from_ms);
    let ttft = ms(m.ttft_ms);
    let latency = ms(m.latency_ms).unwrap_or_default();
    // Files from before generation_ms was saved: the time after the first token stands in.
    let generation = ms(m.generation_ms).or_else(|| ttft.map(|t| latency.saturating_sub(t)));
    let tokens_per_sec = crate::metrics::tokens_per_sec(m.generated_tokens(), generation);
    let mut turn = Turn::new(&t.prompt, round, now);
    turn.answer.clone_from(&t.answer);
    turn.set_thinking(t.reasoning.clone().unwrap_or_default());
    turn.signature.clone_from(&t.reasoning_signature);
    turn.ended = Some(now);
    turn.retries = m.retries;
    turn.finish_reason.clone_from(&m.finish_reason);
    turn.stats = Some(TurnStats {
        ttft,
        latency,
        queue: ms(m.queue_ms).unwrap_or_default(),
        ttfat: ms(m.ttfat_ms),
        input_tokens: m.input_tokens,
        output_tokens: m.generated_tokens(),
        reasoning_tokens: m.reasoning_tokens,
        tokens_per_sec,
        finish_reason: m.finish_reason.clone(),
        retries: m.retries,
        cost: m.cost_usd,
    });
    turn.phase = match (&m.error, t.complete) {
        (_, false) => Phase::Failed {
            kind: ErrorKind::StreamInterrupted,
            message: "incomplete: paddock stopped while this answer streamed".to_owned(),
        },
        (None, true) => Phase::Done,
        (Some(e), true) if e == CANCELLED => Phase::Cancelled,
        (Some(e), true) => Phase::Failed {
            kind: serde_json::from_value(serde_json::Value::String(e.clone()))
                .unwrap_or(ErrorKind::Unknown),
            message: "(from the saved session)".to_owned(),
        },
    };
    turn
}
