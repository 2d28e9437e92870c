//! A pane's footer: where its request stands and its numbers (TTFT, tokens/s, latency, tokens, finish).

use std::time::Instant;

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::fmt::{dur, opt_count, rate};
use crate::config::format_cost;
use crate::race::{Lane, Live, Phase, TurnRef};
use crate::ratelimit::LimiterSnapshot;

/// The footer: state, then the numbers; on one row when `rows` is 1.
pub fn lines(
    lane: &Lane,
    last: Option<TurnRef<'_>>,
    now: Instant,
    limits: Option<&LimiterSnapshot>,
    (width, rows): (u16, u16),
) -> Vec<Line<'static>> {
    let Some(turn) = last else {
        let text = if lane.unavailable.is_some() {
            "unavailable"
        } else {
            "idle"
        };
        return vec![Line::styled(text, Style::new().fg(Color::DarkGray))];
    };
    let numbers = Span::styled(numbers(turn, now), Style::new().fg(Color::Gray));
    // The cost sits by the state, where a narrow pane still shows it.
    let mut head = vec![state(turn, now, limits, usize::from(width))];
    if let Some(cost) = turn.metrics().and_then(|m| m.cost_usd) {
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

fn state(
    turn: TurnRef<'_>,
    now: Instant,
    limits: Option<&LimiterSnapshot>,
    width: usize,
) -> Span<'static> {
    let (text, color) = match &turn.phase() {
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
            format!("◌ thinking · {}", thinking_so_far(turn, now)),
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
            // The longest form that fits the pane: the reason is never cut mid-word.
            let forms = [
                format!("↻ retrying {retry}/{max} in {left} because of {kind}{status}"),
                format!("↻ retry {retry}/{max} in {left}: {kind}{status}"),
                format!("↻ retry {retry}/{max} in {left}"),
                format!("↻ {left}"),
            ];
            let fits = |f: &String| f.chars().count() <= width;
            let text = forms.iter().find(|f| fits(f)).unwrap_or(&forms[3]).clone();
            (text, Color::Yellow)
        }
        Phase::Done => match turn.metrics().and_then(|m| m.finish_reason.as_deref()) {
            Some(reason) => (format!("✓ done ({reason})"), Color::Green),
            None => ("✓ done".to_owned(), Color::Green),
        },
        Phase::Failed { kind, .. } => (format!("✗ failed: {kind}"), Color::Red),
        Phase::Cancelled => ("⊘ cancelled".to_owned(), Color::DarkGray),
    };
    Span::styled(text, Style::new().fg(color))
}

/// TTFT · latency · tok/s · tokens in/out — the saved figures once it ended, live ones before.
fn numbers(turn: TurnRef<'_>, now: Instant) -> String {
    let ttft = turn.ttft().map_or_else(|| "–".to_owned(), dur);
    let (latency, tps, usage, queue) = match (turn.metrics(), turn.live) {
        (Some(m), _) => (
            m.latency().unwrap_or_default(),
            rate(m.tokens_per_sec()),
            (m.input_tokens, m.generated_tokens()),
            m.queue(),
        ),
        (None, Some(live)) => {
            let now = live.ended.unwrap_or(now);
            (
                now.saturating_duration_since(live.sent.unwrap_or(live.started)),
                live_rate(live, now),
                (live.usage.input_tokens, live.usage.generated_tokens()),
                std::time::Duration::ZERO,
            )
        }
        (None, None) => (
            std::time::Duration::ZERO,
            "–".to_owned(),
            (None, None),
            Default::default(),
        ),
    };
    let queue = Some(queue)
        .filter(|q| *q >= std::time::Duration::from_millis(1))
        .map(|q| format!(" · queued {}", dur(q)))
        .unwrap_or_default();
    format!(
        "TTFT {ttft}{queue} · {} · {tps} tok/s · {} in/{} out",
        dur(latency),
        opt_count(usage.0),
        opt_count(usage.1)
    )
}

/// `1,234 tok · 8.2 s`: the reasoning tokens as reported, else its chunks (≈ tokens, marked `~`),
/// and how long it has been thinking.
fn thinking_so_far(turn: TurnRef<'_>, now: Instant) -> String {
    let Some(live) = turn.live else {
        return format!("{} chars", turn.thinking_chars());
    };
    let tokens = match live.usage.reasoning_tokens {
        Some(n) => grouped(n),
        None => format!("~{}", grouped(live.thinking_chunks)),
    };
    let since = live.first_token.map_or(std::time::Duration::ZERO, |t| {
        now.saturating_duration_since(t)
    });
    format!("{tokens} tok · {:.1} s", since.as_secs_f64())
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// While streaming: reported output tokens if any, else chunks (≈ tokens), over time since the first.
fn live_rate(live: &Live, now: Instant) -> String {
    let Some(first) = live.first_token else {
        return "–".to_owned();
    };
    let secs = now.saturating_duration_since(first).as_secs_f64();
    if secs < 0.05 {
        return "–".to_owned();
    }
    // Some providers report output tokens only at the start and the end; chunks ≈ tokens meanwhile.
    let (n, approx) = match live.usage.output_tokens {
        Some(n) if n >= live.chunks => (n, ""),
        _ => (live.chunks, "~"),
    };
    format!("{approx}{:.1}", n as f64 / secs)
}
