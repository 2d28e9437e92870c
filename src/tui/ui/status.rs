//! The status bar: per provider, live requests and token budget, server-reported remaining,
//! retries, last TTFT and latency. It re-reads the limiter every tick, so it moves without tokens.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::fmt::{count, dur, gauge, opt_dur};
use crate::race::{Lane, TurnRef};
use crate::ratelimit::{LimiterSnapshot, ServerLimit};
use crate::tui::app::App;

const GAUGE: usize = 8;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let name_w = app
        .core
        .lanes
        .iter()
        .map(|p| p.info.name.chars().count())
        .max()
        .unwrap_or(0);
    let width = usize::from(area.width);
    let rows = |detail: Detail| -> Vec<Vec<Vec<Span<'static>>>> {
        (0..app.core.lanes.len())
            .map(|i| {
                let snap = app.limits.get(i).copied().flatten();
                let lane = &app.core.lanes[i];
                let mut row = segments(lane, last_timed(app, i), snap.as_ref(), name_w, detail);
                // What was left, second by second: the budget draining and refilling.
                let chart = app.budgets.get(i).and_then(|h| h.sparkline(detail.chart));
                if let Some(chart) = chart.filter(|_| detail.chart > 0) {
                    let at = 3.min(row.len());
                    let style = Style::new().fg(Color::Cyan);
                    row.insert(at, vec![Span::styled(format!("│ left {chart} "), style)]);
                }
                row
            })
            .collect()
    };
    // Decoration goes before figures (up to the latency), step by step, the same for every row
    // (rows stay aligned); what follows the latency may be cut.
    let wide = |rows: &Vec<Vec<Vec<Span<'static>>>>| {
        rows.iter().all(|r| {
            let figures = r
                .iter()
                .position(|seg| {
                    seg.first()
                        .is_some_and(|s| s.content.starts_with("│ latency"))
                })
                .map_or(r.len(), |i| i + 1);
            r[..figures]
                .iter()
                .flatten()
                .map(Span::width)
                .sum::<usize>()
                <= width
        })
    };
    let chosen = Detail::STEPS
        .iter()
        .map(|d| rows(*d))
        .find(wide)
        .unwrap_or_else(|| rows(Detail::NONE));
    let lines: Vec<Line> = chosen.into_iter().map(|r| fit(r, width)).collect();
    Paragraph::new(lines)
        .style(Style::new().bg(Color::Black))
        .render(area, buf);
}

/// How much decoration a row carries: gauges, the server's counts beside paddock's, and how many
/// seconds of the budget chart.
#[derive(Debug, Clone, Copy)]
struct Detail {
    gauges: bool,
    server: bool,
    chart: usize,
    /// `left` after each budget (without it, the chart's `left` labels the row).
    words: bool,
}

impl Detail {
    const NONE: Detail = Detail::new(false, false, 0, true);
    /// Most first; the first that fits every row's figures is drawn.
    const STEPS: [Detail; 5] = [
        Detail::new(true, true, 16, true),
        Detail::new(true, false, 16, true),
        Detail::new(false, false, 8, true),
        Detail::new(false, false, 4, false),
        Detail::NONE,
    ];

    const fn new(gauges: bool, server: bool, chart: usize, words: bool) -> Self {
        Self {
            gauges,
            server,
            chart,
            words,
        }
    }
}

/// The lane's latest turn that has a TTFT or finished: what the status bar's figures show.
fn last_timed(app: &App, lane: usize) -> Option<TurnRef<'_>> {
    app.core
        .turns(lane)
        .rev()
        .find(|t| t.ttft().is_some() || t.metrics().is_some())
}

/// One provider's row as segments, most important first; `fit` keeps those that fit. `detail`
/// adds the gauges and the server's own counts.
fn segments(
    pane: &Lane,
    last: Option<TurnRef<'_>>,
    snap: Option<&LimiterSnapshot>,
    name_w: usize,
    detail: Detail,
) -> Vec<Vec<Span<'static>>> {
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
            let req_used = u64::from(s.requests_used);
            let req_limit = s.requests_limit.map(u64::from);
            segments.push(budget(
                "req",
                req_used,
                req_limit,
                s.server.requests,
                detail,
            ));
            segments.push(budget(
                "tok",
                s.tokens_used,
                s.tokens_limit,
                s.server.tokens,
                detail,
            ));
            segments.extend(queue(s));
        }
        None => segments.push(vec![Span::styled(
            "no client ",
            Style::new().fg(Color::DarkGray),
        )]),
    }
    let ttft = last.and_then(|t| t.ttft());
    let latency = last.and_then(|t| t.metrics().and_then(|m| m.latency()));
    segments.push(vec![Span::raw(format!("│ TTFT {} ", opt_dur(ttft)))]);
    segments.push(vec![Span::raw(format!("│ latency {} ", opt_dur(latency)))]);
    // Over the whole session; the results table counts the race's.
    segments.push(vec![Span::raw(format!(
        "│ retries {} this session ",
        pane.total_retries
    ))]);
    if let Some(s) = snap {
        segments.extend(shared(s));
        // A response came back in this window (a resumed turn's latency is not this process's).
        let answered = latency.is_some() && s.requests_used > 0;
        segments.extend(
            server(s, answered).map(|text| vec![Span::styled(text, Style::new().fg(Color::Gray))]),
        );
    }
    segments
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

/// `req 3/6 left ██████░░ srv 497` — text and gauge both say what is left, so they drain
/// together as requests go out and refill as the window slides; the server's own count of what is
/// left follows when its headers say. Without a client-side limit, the server's count stands in
/// (`(srv)`); with neither, what was used (`req 3 used/∞`). Without `detail.words` the
/// word `left` is left out (the chart's label says it).
fn budget(
    label: &str,
    used: u64,
    limit: Option<u64>,
    server: ServerLimit,
    detail: Detail,
) -> Vec<Span<'static>> {
    let (used, limit, source) = match (limit, server.limit, server.remaining) {
        (Some(limit), _, _) => (used, limit, ""),
        (None, Some(limit), Some(remaining)) => (limit.saturating_sub(remaining), limit, "(srv)"),
        _ => return vec![Span::raw(format!("{label} {} used/∞ ", count(used)))],
    };
    let remaining = limit.saturating_sub(used);
    let left = if limit == 0 {
        0.0
    } else {
        remaining as f64 / limit as f64
    };
    let color = match left {
        l if l < 0.2 => Color::Red,
        l if l < 0.5 => Color::Yellow,
        _ => Color::Green,
    };
    let left_word = if detail.words { " left" } else { "" };
    let mut spans = vec![Span::raw(format!(
        "{label}{source} {}/{}{left_word} ",
        count(remaining),
        count(limit)
    ))];
    if detail.gauges {
        spans.push(Span::styled(gauge(left, GAUGE), Style::new().fg(color)));
        spans.push(Span::raw(" "));
    }
    // The server's count is detail too: it goes with the gauges when the row is tight.
    if let (true, true, Some(theirs)) = (detail.server, source.is_empty(), server.remaining) {
        spans.push(Span::styled(
            format!("srv {} ", count(theirs)),
            Style::new().fg(Color::Gray),
        ));
    }
    spans
}

/// What the server's rate-limit headers add: that it sent none (`answered` once a response came
/// back, so a server that sends none, as Gemini and most local servers, is told apart from one not
/// asked yet), or when its budget refills. Its counts of what is left sit beside paddock's own.
fn server(s: &LimiterSnapshot, answered: bool) -> Option<String> {
    let said = s.server.requests.remaining.is_some() || s.server.tokens.remaining.is_some();
    if !said {
        return Some(if answered {
            "│ server: no headers ".to_owned()
        } else {
            "│ server: no headers yet ".to_owned()
        });
    }
    // When the server's budget refills: the sooner of its two resets.
    [s.server.requests.reset_in, s.server.tokens.reset_in]
        .into_iter()
        .flatten()
        .min()
        .map(|d| format!("│ server resets in {} ", dur(d)))
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
    fn text_and_gauge_both_say_what_is_left_and_the_server_says_when_it_resets() {
        let mut s = snapshot(None);
        let full = Detail::STEPS[0];
        let req = |s: &LimiterSnapshot, detail| {
            text(Some(budget(
                "req",
                u64::from(s.requests_used),
                s.requests_limit.map(u64::from),
                s.server.requests,
                detail,
            )))
        };
        assert_eq!(req(&s, full).as_deref(), Some("req 10/12 left ███████░ "));
        let tok = text(Some(budget("tok", 800, None, ServerLimit::default(), full)));
        assert_eq!(tok.as_deref(), Some("tok 800 used/∞ "));
        assert_eq!(
            server(&s, false).as_deref(),
            Some("│ server: no headers yet ")
        );
        s.server.requests = ServerLimit {
            limit: Some(500),
            remaining: Some(498),
            reset_in: Some(Duration::from_millis(12_000)),
        };
        s.server.tokens.reset_in = Some(Duration::from_millis(400));
        assert_eq!(
            req(&s, full).as_deref(),
            Some("req 10/12 left ███████░ srv 498 ")
        );
        assert_eq!(req(&s, Detail::NONE).as_deref(), Some("req 10/12 left "));
        assert_eq!(
            server(&s, true).as_deref(),
            Some("│ server resets in 400ms ")
        );
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
