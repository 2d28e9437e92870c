//! One recorded race, every view: the TUI's results table, `paddock race`'s table and its
//! `--json` lines, `export --format json`, and the same session resumed all report the same
//! TTFT, queue time, latency, tokens/s and token counts (each at its own display precision).

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::client::{ClientEvent, Outcome};
use crate::provider::Usage;
use crate::session::Session;

use super::app::{App, Overlay};
use super::msg::Msg;
use super::ui::fmt::{dur, rate};
use super::update::update;
use super::update_tests::{app, event, send, started};

/// The figures of one answer, recorded with awkward values: sub-millisecond parts that rounding
/// twice would move, a limiter wait, and a token count where `n/t` and `(n-1)/t` differ.
fn recorded(provider: &str, ttft_us: u64, latency_us: u64, queue_ms: u64, tokens: u64) -> Outcome {
    Outcome {
        provider: provider.to_owned(),
        model: format!("{provider}-model"),
        content: format!("answer of {provider}"),
        finish_reason: Some("stop".into()),
        usage: Usage {
            input_tokens: Some(12),
            output_tokens: Some(tokens),
            ..Usage::default()
        },
        ttft: Some(Duration::from_micros(ttft_us)),
        latency: Duration::from_micros(latency_us),
        queue: Duration::from_millis(queue_ms),
        generation_time: Some(Duration::from_micros(latency_us - ttft_us - 1_234)),
        ..Outcome::default()
    }
}

/// Drive the race through the TUI as the runtime would: p1 waits 700 ms in its limiter first.
fn raced(outcomes: &[Outcome]) -> App {
    let (mut app, t0) = app(2);
    let ids = started(&send(&mut app, "q"));
    let ms = |n: u64| t0 + Duration::from_millis(n);
    event(&mut app, 1, ids[1].1, ClientEvent::Queued, t0);
    for (lane, id) in &ids {
        let sent = if *lane == 1 { 700 } else { 0 };
        let first = sent + outcomes[*lane].ttft.map_or(0, |d| d.as_millis() as u64);
        event(
            &mut app,
            *lane,
            *id,
            ClientEvent::Connecting { attempt: 0 },
            ms(sent),
        );
        event(
            &mut app,
            *lane,
            *id,
            ClientEvent::Delta("answer".into()),
            ms(first),
        );
        let done = ClientEvent::Done(Box::new(outcomes[*lane].clone()));
        event(&mut app, *lane, *id, done, ms(first + 900));
    }
    app
}

/// The screen's text with the results table open.
fn table_screen(app: &mut App) -> Vec<String> {
    app.overlay = Overlay::Table;
    update(app, Msg::Frame);
    let mut terminal = Terminal::new(TestBackend::new(200, 40)).expect("terminal");
    terminal.draw(|f| super::ui::render(app, f)).expect("draw");
    let buf = terminal.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect::<String>()
        })
        .collect()
}

/// Cells of the row starting with `name` under `header`, by the header's column positions.
fn cells_by_header(lines: &[String], header_word: &str, name: &str) -> Vec<(String, String)> {
    let at = lines
        .iter()
        .position(|l| l.contains(header_word) && l.contains("TTFT"))
        .expect("a header");
    let header = &lines[at];
    let row = lines[at..]
        .iter()
        .find(|l| {
            l.replace(['│', '┃'], " ")
                .split_whitespace()
                .any(|w| w == name)
        })
        .expect("the row");
    let header: Vec<char> = header.chars().collect();
    let row: Vec<char> = row.chars().collect();
    let mut starts = Vec::new();
    for (i, c) in header.iter().enumerate() {
        if !c.is_whitespace() && c != &'│' && (i == 0 || matches!(header[i - 1], ' ' | '│')) {
            starts.push(i);
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let end = starts.get(k + 1).copied().unwrap_or(header.len());
            let title: String = header[s..end].iter().collect();
            let cell: String = row
                .get(s..end.min(row.len()))
                .unwrap_or(&[])
                .iter()
                .collect();
            let cell = cell.replace(['★', '│'], "");
            (title.trim().to_owned(), cell.trim().to_owned())
        })
        .collect()
}

fn cell(cells: &[(String, String)], title: &str) -> String {
    cells
        .iter()
        .find(|(t, _)| t == title)
        .map(|(_, c)| c.clone())
        .unwrap_or_else(|| panic!("no column {title} in {cells:?}"))
}

/// The race table's columns, by its rule of dashes.
fn race_cells(table: &str, name: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = table.lines().collect();
    let rule: Vec<char> = lines[1].chars().collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < rule.len() {
        if rule[i] == '-' {
            let s = i;
            while i < rule.len() && rule[i] == '-' {
                i += 1;
            }
            spans.push((s, i));
        }
        i += 1;
    }
    let row: Vec<char> = lines
        .iter()
        .find(|l| l.starts_with(name))
        .expect("row")
        .chars()
        .collect();
    let header: Vec<char> = lines[0].chars().collect();
    let take = |v: &[char], (s, e): (usize, usize)| -> String {
        v.get(s..e.min(v.len()))
            .unwrap_or(&[])
            .iter()
            .collect::<String>()
            .trim()
            .to_owned()
    };
    spans
        .iter()
        .map(|&span| (take(&header, span), take(&row, span)))
        .collect()
}

fn ms_value(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn every_view_reports_the_same_figures_for_one_recorded_race() {
    let outcomes = [
        recorded("p0", 123_449, 1_987_651, 0, 20),
        recorded("p1", 96_620, 2_345_049, 700, 57),
    ];
    let mut app = raced(&outcomes);
    let tui = table_screen(&mut app);
    let export: serde_json::Value =
        serde_json::from_str(&crate::commands::sessions::json(&app.core.session).expect("json"))
            .expect("export parses");
    let race_table = crate::commands::race::render_table(&outcomes, &[None, None]);

    // The session as saved and read back, resumed in a fresh TUI.
    let file = serde_json::to_string(&*app.core.session).expect("save");
    let reread: Session = serde_json::from_str(&file).expect("load");
    let (mut resumed, _) = super::update_tests::app(2);
    update(&mut resumed, Msg::SessionLoaded(Ok(Box::new(reread))));
    let resumed_screen = table_screen(&mut resumed);

    for (lane, o) in outcomes.iter().enumerate() {
        let name = o.provider.as_str();
        let json: serde_json::Value =
            serde_json::from_str(&crate::commands::race::json_line(o, None).expect("json line"))
                .expect("race --json parses");
        let saved = &export["providers"][lane]["turns"][0]["metrics"];
        for key in ["ttft_ms", "latency_ms"] {
            assert_eq!(json[key], saved[key], "{name} {key}: race --json vs export");
        }
        assert_eq!(
            json["tokens_per_sec"], saved["tokens_per_sec"],
            "{name} tok/s"
        );
        assert_eq!(json["output_tokens"], saved["output_tokens"], "{name} out");
        assert_eq!(json["input_tokens"], saved["input_tokens"], "{name} in");
        let queue = ms_value(&json, "queue_ms");
        assert_eq!(
            saved["queue_ms"].as_f64().unwrap_or(0.0),
            queue,
            "{name} queue"
        );

        let as_shown = |key: &str| dur(Duration::from_secs_f64(ms_value(&json, key) / 1000.0));
        let tokens_per_sec = rate(json["tokens_per_sec"].as_f64());
        for (view, screen) in [("TUI", &tui), ("resumed TUI", &resumed_screen)] {
            let cells = cells_by_header(screen, "provider", name);
            assert_eq!(
                cell(&cells, "TTFT"),
                as_shown("ttft_ms"),
                "{view} {name} TTFT"
            );
            assert_eq!(
                cell(&cells, "total"),
                as_shown("latency_ms"),
                "{view} {name} total"
            );
            assert_eq!(cell(&cells, "tok/s"), tokens_per_sec, "{view} {name} tok/s");
            assert_eq!(
                cell(&cells, "out"),
                json["output_tokens"].to_string(),
                "{view} {name}"
            );
            assert_eq!(
                cell(&cells, "in"),
                json["input_tokens"].to_string(),
                "{view} {name}"
            );
            let queued = cell(&cells, "queue");
            if queue > 0.0 {
                assert_eq!(queued, as_shown("queue_ms"), "{view} {name} queue");
            } else {
                assert_eq!(queued, "–", "{view} {name} did not wait");
            }
        }
        let cells = race_cells(&race_table, name);
        let race_ms = |key: &str| {
            crate::commands::table::duration_cell(Some(Duration::from_secs_f64(
                ms_value(&json, key) / 1000.0,
            )))
        };
        assert_eq!(cell(&cells, "TTFT"), race_ms("ttft_ms"), "race {name} TTFT");
        assert_eq!(
            cell(&cells, "total"),
            race_ms("latency_ms"),
            "race {name} total"
        );
        assert_eq!(cell(&cells, "tok/s"), tokens_per_sec, "race {name} tok/s");
        assert_eq!(cell(&cells, "out tok"), json["output_tokens"].to_string());
        assert_eq!(
            cell(&cells, "queue"),
            race_ms("queue_ms"),
            "race {name} queue"
        );
    }
    // The limiter wait is p1's queue, not its TTFT: 96.6 ms from the send, not 796.6 ms.
    let p1 = cells_by_header(&tui, "provider", "p1");
    assert_eq!(cell(&p1, "TTFT"), "97ms");
    assert_eq!(cell(&p1, "queue"), "700ms");
    // One tokens/s: (57 - 1) tokens over the 2247.2 ms generation, not 57 (that is 25.4).
    assert_eq!(
        export["providers"][1]["turns"][0]["metrics"]["tokens_per_sec"],
        serde_json::json!(24.9)
    );
}
