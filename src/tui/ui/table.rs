//! The comparison table of the latest race: length, tokens, TTFT, total time, tokens/s, finish,
//! retries; thinking tokens and TTFAT when some model thought, the queue when some request
//! waited, the cost when a price is known.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, Widget};

use super::fmt::{opt_count, opt_dur, rate};
use super::popup;
use crate::config::format_cost;
use crate::race::{Phase, TurnRef, Winners};
use crate::tui::app::App;

const HEADER: [&str; 14] = [
    "provider", "status", "chars", "in", "out", "think", "TTFT", "TTFAT", "queue", "total",
    "tok/s", "finish", "retries", "cost",
];
const WIDTHS: [u16; 14] = [16, 12, 6, 6, 6, 6, 9, 9, 9, 9, 7, 10, 7, 9];
/// Which columns to keep first when the screen is narrow.
const PRIORITY: [usize; 14] = [0, 6, 9, 10, 4, 8, 7, 5, 13, 12, 1, 11, 2, 3];
/// Shown only when some answer thought: its thinking tokens and time to the first answer token.
const THINK: usize = 5;
const TTFAT: usize = 7;
/// Shown only when some request waited in paddock's limiter or before a retry (not in TTFT).
const QUEUE: usize = 8;
/// The cost column, shown only when some answer has a price.
const COST: usize = 13;

/// A wait shorter than this is no wait worth a figure (the race table's rule too).
const MIN_QUEUE: std::time::Duration = std::time::Duration::from_millis(1);

/// Which optional columns this race needs.
#[derive(Clone, Copy)]
struct Optional {
    priced: bool,
    thought: bool,
    queued: bool,
}

impl Optional {
    fn shows(self, c: usize) -> bool {
        match c {
            COST => self.priced,
            THINK | TTFAT => self.thought,
            QUEUE => self.queued,
            _ => true,
        }
    }
}

/// The columns that fit in `width`, in display order.
fn columns(width: u16, optional: Optional) -> Vec<usize> {
    let mut used = 0;
    let mut keep: Vec<usize> = Vec::new();
    for &c in PRIORITY.iter().filter(|&&c| optional.shows(c)) {
        if used + WIDTHS[c] < width || keep.is_empty() {
            used += WIDTHS[c] + 1;
            keep.push(c);
        }
    }
    keep.sort_unstable();
    keep
}

pub fn render(app: &App, winners: Winners, area: Rect, buf: &mut Buffer) {
    let turns = app.core.round_turns();
    let stats = || turns.iter().filter_map(|(_, t)| t.metrics());
    let optional = Optional {
        priced: stats().any(|s| s.cost_usd.is_some()),
        thought: turns.iter().any(|(_, t)| !t.thinking().is_empty())
            || stats().any(|s| s.reasoning_tokens.is_some_and(|n| n > 0)),
        queued: stats().any(|s| s.queue() >= MIN_QUEUE),
    };
    let shown: Vec<usize> = (0..WIDTHS.len()).filter(|&c| optional.shows(c)).collect();
    let width = shown.iter().map(|&c| WIDTHS[c]).sum::<u16>() + shown.len() as u16 + 3;
    let inner = popup::open(area, width, turns.len() as u16 + 6, "race results", buf);
    let cols = columns(inner.width, optional);
    if turns.is_empty() {
        Paragraph::new("No race yet: type a prompt and press Enter.").render(inner, buf);
        return;
    }
    let rows: Vec<Row> = turns
        .iter()
        .map(|(i, t)| {
            let mut cells = row(&app.core.lanes[*i].info.name, *t, *i, winners);
            Row::new(
                cols.iter()
                    .map(|&c| std::mem::take(&mut cells[c]))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let header = Row::new(cols.iter().map(|&c| HEADER[c]))
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let widths = cols.iter().map(|&c| Constraint::Length(WIDTHS[c]));
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    let [table_area, legend] =
        ratatui::layout::Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    Widget::render(table, table_area, buf);
    let legend_text = "★ = winner: first token (TTFT) / first finished (total time)";
    Paragraph::new(Line::styled(legend_text, Style::new().fg(Color::DarkGray))).render(legend, buf);
}

/// One lane's row, every figure read from the record (the same ones `race` and `export` print).
fn row(name: &str, t: TurnRef<'_>, index: usize, winners: Winners) -> Vec<Cell<'static>> {
    let m = t.metrics().cloned().unwrap_or_default();
    let star = |won: bool, s: String| if won { format!("{s} ★") } else { s };
    let status = match t.phase() {
        Phase::Done => "done".to_owned(),
        Phase::Failed { kind, .. } => kind.to_string(),
        Phase::Cancelled => "cancelled".to_owned(),
        _ => "running".to_owned(),
    };
    let gold = Style::new().fg(Color::Yellow);
    let ttft = Cell::from(star(winners.ttft == Some(index), opt_dur(t.ttft())));
    let total = Cell::from(star(winners.total == Some(index), opt_dur(m.latency())));
    vec![
        Cell::from(name.to_owned()),
        Cell::from(status),
        Cell::from(t.answer().chars().count().to_string()),
        Cell::from(opt_count(m.input_tokens)),
        Cell::from(opt_count(m.generated_tokens())),
        Cell::from(opt_count(m.reasoning_tokens)),
        if winners.ttft == Some(index) {
            ttft.style(gold)
        } else {
            ttft
        },
        Cell::from(opt_dur(m.ttfat())),
        Cell::from(opt_dur(Some(m.queue()).filter(|q| *q >= MIN_QUEUE))),
        if winners.total == Some(index) {
            total.style(gold)
        } else {
            total
        },
        Cell::from(rate(m.tokens_per_sec())),
        Cell::from(m.finish_reason.clone().unwrap_or_else(|| "–".to_owned())),
        Cell::from(m.retries.to_string()),
        Cell::from(m.cost_usd.map_or_else(|| "–".to_owned(), format_cost)),
    ]
}
