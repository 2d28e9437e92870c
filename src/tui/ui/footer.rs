//! A pane's footer: where its request stands and its numbers (TTFT, tokens/s, latency, tokens, finish).

use std::time::Instant;

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::fmt::{dur, opt_count, rate};
use crate::config::format_cost;
use crate::ratelimit::LimiterSnapshot;
use crate::tui::pane::{Pane, Phase, Turn};

/// The footer: state, then the numbers; on one row when `rows` is 1.
pub fn lines(
    pane: &Pane,
    now: Instant,
    limits: Option<&LimiterSnapshot>,
    rows: u16,
) -> Vec<Line<'static>> {
    let Some(turn) = pane.last_turn() else {
        let text = if pane.unavailable.is_some() {
            "unavailable"
        } else {
            "idle"
        };
        return vec![Line::styled(text, Style::new().fg(Color::DarkGray))];
    };
    let numbers = Span::styled(numbers(turn, now), Style::new().fg(Color::Gray));
    // The cost sits by the state, where a narrow pane still shows it.
    let mut head = vec![state(turn, now, limits)];
    if let Some(cost) = turn.stats.as_ref().and_then(|s| s.cost) {
        head.push(Span::styled(
            format!(" · {}", format_cost(cost)),
            Style::new().fg(Color::LightGreen),
        ));
    }
    if rows >= 2 {
        vec![Line::from(head), Line::from(numbers)]
    } else {
        head.extend([Span::raw(" · "), numbers]);
        vec![Line::from(head)]
    }
}

fn state(turn: &Turn, now: Instant, limits: Option<&LimiterSnapshot>) -> Span<'static> {
    let (text, color) = match &turn.phase {
        Phase::Queued => {
            let wait = limits
                .and_then(|l| l.next_free_in)
                .map(|d| format!(" ({} to a slot)", dur(d)));
            (
                format!("⧗ waiting for the limiter{}", wait.unwrap_or_default()),
                Color::Yellow,
            )
        }
        Phase::Connecting { attempt: 0 } => ("… connecting".to_owned(), Color::Blue),
        Phase::Connecting { attempt } => (format!("… connecting (retry {attempt})"), Color::Blue),
        Phase::Thinking => (
            format!("◌ thinking · {} chars", turn.thinking_chars),
            Color::Magenta,
        ),
        Phase::Streaming => ("▶ streaming".to_owned(), Color::Green),
        Phase::Retrying {
            retry,
            max,
            until,
            kind,
            status,
        } => {
            let status = status.map(|s| format!(" {s}")).unwrap_or_default();
            let left = dur(until.saturating_duration_since(now));
            (
                format!("↻ retrying {retry}/{max} in {left} because of {kind}{status}"),
                Color::Yellow,
            )
        }
        Phase::Done => match turn.stats.as_ref().and_then(|s| s.finish_reason.as_deref()) {
            Some(reason) => (format!("✓ done ({reason})"), Color::Green),
            None => ("✓ done".to_owned(), Color::Green),
        },
        Phase::Failed { kind, .. } => (format!("✗ failed: {kind}"), Color::Red),
        Phase::Cancelled => ("⊘ cancelled".to_owned(), Color::DarkGray),
    };
    Span::styled(text, Style::new().fg(color))
}

/// TTFT · latency · tok/s · tokens in/out · finish — final numbers when done, live ones before.
fn numbers(turn: &Turn, now: Instant) -> String {
    let now = turn.ended.unwrap_or(now);
    let ttft = turn.ttft().map_or_else(|| "–".to_owned(), dur);
    let (latency, tps, usage) = match &turn.stats {
        Some(s) => (
            s.latency,
            rate(s.tokens_per_sec),
            (s.input_tokens, s.output_tokens),
        ),
        None => (
            now.saturating_duration_since(turn.sent.unwrap_or(turn.started)),
            live_rate(turn, now),
            (turn.usage.input_tokens, turn.usage.output_tokens),
        ),
    };
    let finish = if turn.stats.is_some() {
        None
    } else {
        turn.finish_reason.clone()
    };
    let queue = turn
        .stats
        .as_ref()
        .map(|s| s.queue)
        .filter(|q| *q >= std::time::Duration::from_millis(1))
        .map(|q| format!(" · queued {}", dur(q)))
        .unwrap_or_default();
    let mut s = format!(
        "TTFT {ttft}{queue} · {} · {tps} tok/s · {} in/{} out",
        dur(latency),
        opt_count(usage.0),
        opt_count(usage.1)
    );
    if let Some(f) = finish {
        s.push_str(&format!(" · {f}"));
    }
    s
}

/// While streaming: reported output tokens if any, else chunks (≈ tokens), over time since the first.
fn live_rate(turn: &Turn, now: Instant) -> String {
    let Some(first) = turn.first_token else {
        return "–".to_owned();
    };
    let secs = now.saturating_duration_since(first).as_secs_f64();
    if secs < 0.05 {
        return "–".to_owned();
    }
    // Some providers report output tokens only at the start and the end; chunks ≈ tokens meanwhile.
    let (n, approx) = match turn.usage.output_tokens {
        Some(n) if n >= turn.chunks => (n, ""),
        _ => (turn.chunks, "~"),
    };
    format!("{approx}{:.1}", n as f64 / secs)
}
