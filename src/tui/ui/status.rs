//! The status bar: per provider, live requests and token budget, server-reported remaining,
//! retries, last TTFT and latency. It re-reads the limiter every tick, so it moves without tokens.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::fmt::{count, dur, gauge, opt_dur};
use crate::ratelimit::{LimiterSnapshot, ServerLimit};
use crate::tui::app::App;
use crate::tui::pane::Pane;

const GAUGE: usize = 8;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let name_w = app
        .panes
        .iter()
        .map(|p| p.info.name.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Line> = app
        .panes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            row(
                p,
                app.limits.get(i).copied().flatten().as_ref(),
                name_w,
                usize::from(area.width),
            )
        })
        .collect();
    Paragraph::new(lines)
        .style(Style::new().bg(Color::Black))
        .render(area, buf);
}

/// One provider's row: the segments that fit in `width`, most important first.
fn row(pane: &Pane, snap: Option<&LimiterSnapshot>, name_w: usize, width: usize) -> Line<'static> {
    let name_style = if pane.enabled {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    let mut segments = vec![vec![Span::styled(
        format!(" {:<name_w$} ", pane.info.name),
        name_style,
    )]];
    match snap {
        Some(s) => {
            segments.push(budget(
                "req",
                u64::from(s.requests_used),
                s.requests_limit.map(u64::from),
                s.server.requests,
            ));
            segments.push(budget(
                "tok",
                s.tokens_used,
                s.tokens_limit,
                s.server.tokens,
            ));
            segments.extend(queue(s));
            segments.extend(shared(s));
        }
        None => segments.push(vec![Span::styled(
            "no client ",
            Style::new().fg(Color::DarkGray),
        )]),
    }
    let last = pane
        .turns
        .iter()
        .rev()
        .find(|t| t.ttft().is_some() || t.stats.is_some());
    let ttft = last.and_then(|t| t.ttft());
    let latency = last.and_then(|t| t.stats.as_ref().map(|s| s.latency));
    segments.push(vec![Span::raw(format!(
        "│ retries {} ",
        pane.total_retries
    ))]);
    segments.push(vec![Span::raw(format!("│ TTFT {} ", opt_dur(ttft)))]);
    segments.push(vec![Span::raw(format!("│ latency {} ", opt_dur(latency)))]);
    if let Some(s) = snap {
        // A response came back in this window (a resumed turn's latency is not this process's).
        let answered = latency.is_some() && s.requests_used > 0;
        segments.push(vec![Span::styled(
            server(s, answered),
            Style::new().fg(Color::Gray),
        )]);
    }
    fit(segments, width)
}

/// Whole segments, in order, while they fit.
fn fit(segments: Vec<Vec<Span<'static>>>, width: usize) -> Line<'static> {
    let mut used = 0;
    let mut spans = Vec::new();
    for (i, segment) in segments.into_iter().enumerate() {
        let w: usize = segment.iter().map(Span::width).sum();
        if i > 0 && used + w > width {
            break;
        }
        used += w;
        spans.extend(segment);
    }
    Line::from(spans)
}

/// `req 3/6 ██████░░` — the gauge shows what is left, so it drains as requests go out and
/// refills as the window slides. Without a client-side limit, the server's count stands in.
fn budget(label: &str, used: u64, limit: Option<u64>, server: ServerLimit) -> Vec<Span<'static>> {
    let (used, limit, source) = match (limit, server.limit, server.remaining) {
        (Some(limit), _, _) => (used, limit, ""),
        (None, Some(limit), Some(remaining)) => (limit.saturating_sub(remaining), limit, "(srv)"),
        _ => return vec![Span::raw(format!("{label} {}/∞ ", count(used)))],
    };
    let left = if limit == 0 {
        0.0
    } else {
        1.0 - used as f64 / limit as f64
    };
    let color = match left {
        l if l < 0.2 => Color::Red,
        l if l < 0.5 => Color::Yellow,
        _ => Color::Green,
    };
    vec![
        Span::raw(format!("{label}{source} {}/{} ", count(used), count(limit))),
        Span::styled(gauge(left, GAUGE), Style::new().fg(color)),
        Span::raw(" "),
    ]
}

/// What the server's rate-limit headers said; `answered` once a response has come back, so a
/// server that sends none (Gemini, most local servers) is told apart from one not asked yet.
fn server(s: &LimiterSnapshot, answered: bool) -> String {
    let part = |rem: Option<u64>, label: &str| rem.map(|r| format!(" {} {label}", count(r)));
    let req = part(s.server.requests.remaining, "req");
    let tok = part(s.server.tokens.remaining, "tok");
    if req.is_none() && tok.is_none() {
        return if answered {
            "│ server: no headers ".to_owned()
        } else {
            "│ server: no headers yet ".to_owned()
        };
    }
    format!(
        "│ server says left:{}{} ",
        req.unwrap_or_default(),
        tok.unwrap_or_default()
    )
}

/// A shared budget: the fleet's use of it, how many processes hold leases, or that it is lost.
fn shared(s: &LimiterSnapshot) -> Option<Vec<Span<'static>>> {
    use crate::ratelimit::StoreState;
    let view = s.shared?;
    let f = view.fleet;
    let text = match view.state {
        StoreState::Shared => {
            let cap = |n: Option<u64>| n.map_or("∞".to_owned(), count);
            let next = f
                .next_free_in
                .map(|d| format!(", next in {}", dur(d)))
                .unwrap_or_default();
            format!(
                "│ shared ×{}: req {}/{} tok {}/{}{next} ",
                f.holders,
                count(f.requests_used),
                cap(f.requests_limit),
                count(f.tokens_used),
                cap(f.tokens_limit)
            )
        }
        StoreState::LocalFallback => "│ shared store lost: this process alone ".to_owned(),
        StoreState::Failing => "│ shared store lost: failing ".to_owned(),
    };
    Some(vec![Span::styled(text, Style::new().fg(Color::Cyan))])
}

fn queue(s: &LimiterSnapshot) -> Vec<Vec<Span<'static>>> {
    let mut out = Vec::new();
    let yellow = Style::new().fg(Color::Yellow);
    if s.waiting > 0 {
        let next = s
            .next_free_in
            .map(|d| format!(", next in {}", dur(d)))
            .unwrap_or_default();
        out.push(vec![Span::styled(
            format!("│ {} queued{next} ", s.waiting),
            yellow,
        )]);
    }
    if s.retries_in_flight > 0 {
        out.push(vec![Span::styled(
            format!("│ {} retrying ", s.retries_in_flight),
            yellow,
        )]);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ratelimit::{FleetView, ServerView, SharedView, StoreState};

    fn snapshot(shared: Option<SharedView>) -> LimiterSnapshot {
        LimiterSnapshot {
            requests_used: 2,
            requests_limit: Some(12),
            tokens_used: 800,
            tokens_limit: None,
            server: ServerView::default(),
            next_free_in: None,
            waiting: 0,
            retries_in_flight: 0,
            window: Duration::from_secs(60),
            shared,
        }
    }

    fn text(spans: Option<Vec<Span<'static>>>) -> Option<String> {
        spans.map(|s| s.iter().map(|span| span.content.as_ref()).collect())
    }

    #[test]
    fn a_shared_budget_shows_the_fleet_and_a_lost_store_says_so() {
        assert_eq!(
            text(shared(&snapshot(None))),
            None,
            "a local budget adds nothing"
        );
        let fleet = FleetView {
            requests_used: 11,
            tokens_used: 4_200,
            requests_limit: Some(12),
            tokens_limit: None,
            holders: 3,
            next_free_in: Some(Duration::from_millis(1500)),
        };
        let view = |state| Some(SharedView { state, fleet });
        assert_eq!(
            text(shared(&snapshot(view(StoreState::Shared)))).as_deref(),
            Some("│ shared ×3: req 11/12 tok 4200/∞, next in 1.50s ")
        );
        assert_eq!(
            text(shared(&snapshot(view(StoreState::LocalFallback)))).as_deref(),
            Some("│ shared store lost: this process alone ")
        );
        assert_eq!(
            text(shared(&snapshot(view(StoreState::Failing)))).as_deref(),
            Some("│ shared store lost: failing ")
        );
    }
}
