//! `paddock sessions` and `paddock export`: list saved sessions, print one as Markdown or JSON.
//!
//! The formats are pure functions of a [`Session`] ([`render_list`], [`markdown`], [`json`]) so
//! tests pin them exactly.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use crate::cli::{ExportArgs, ExportFormat};
use crate::config::format_cost;
use crate::session::{self, Session, Turn};

use super::Failure;

fn sessions_dir() -> Result<std::path::PathBuf, Failure> {
    session::default_dir().ok_or_else(|| {
        Failure::usage(
            "there is no data directory on this platform (HOME is not set), so no sessions.",
        )
    })
}

/// `paddock sessions`: the table on stdout, one line per unreadable file on stderr.
pub fn run_list() -> Result<(), Failure> {
    let dir = sessions_dir()?;
    let listing = Session::list(&dir);
    for problem in &listing.problems {
        crate::sanitize::eprint_line(&format!("paddock: warning: {problem}"));
    }
    if listing.sessions.is_empty() {
        println!(
            "No saved sessions in {} yet; `paddock ask` saves one per conversation.",
            dir.display()
        );
    } else {
        print!("{}", render_list(&listing.sessions));
    }
    Ok(())
}

/// `paddock export ID [--format md|json]`.
pub fn run_export(args: &ExportArgs) -> Result<(), Failure> {
    let dir = sessions_dir()?;
    let s = Session::find(&dir, &args.id)?;
    let text = match args.format {
        ExportFormat::Md => markdown(&s),
        ExportFormat::Json => json(&s).map_err(|e| {
            Failure::failed(format!("could not encode session {} as JSON ({e}).", s.id))
        })?,
    };
    print!("{text}");
    Ok(())
}

/// `2026-11-26T11:42:33Z` -> `2026-11-26 11:42`.
fn short_date(created: &str) -> String {
    created.get(..16).unwrap_or(created).replacen('T', " ", 1)
}

/// The first line of `text`, at most `max` characters, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("");
    let cut = line.chars().count() > max || text.trim().lines().nth(1).is_some();
    if line.chars().count() > max {
        let head: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    } else if cut {
        format!("{line} …")
    } else {
        line.to_owned()
    }
}

/// The session table: id, date (UTC), turns, tokens, cost, providers, first prompt.
pub fn render_list(sessions: &[Session]) -> String {
    let mut rows = vec![[
        "ID".to_owned(),
        "DATE (UTC)".to_owned(),
        "TURNS".to_owned(),
        "TOKENS".to_owned(),
        "COST".to_owned(),
        "PROVIDERS".to_owned(),
        "FIRST PROMPT".to_owned(),
    ]];
    for s in sessions {
        let providers: Vec<&str> = s.providers.iter().map(|p| p.name.as_str()).collect();
        rows.push([
            s.id.clone(),
            crate::sanitize::clean_line(&short_date(&s.created)),
            s.turn_count().to_string(),
            s.total_tokens().to_string(),
            s.total_cost().map_or_else(|| "-".to_owned(), format_cost),
            crate::sanitize::clean_line(&providers.join(",")),
            crate::sanitize::clean_line(&truncate(s.first_prompt().unwrap_or(""), 50)),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.width()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The session as saved, pretty-printed, with a final newline.
pub fn json(s: &Session) -> Result<String, serde_json::Error> {
    // Tokens/s is derived, not saved: the export says it as every view computes it.
    let mut value = s.clone();
    for turn in value.providers.iter_mut().flat_map(|p| p.turns.iter_mut()) {
        let m = &mut turn.metrics;
        m.export_tokens_per_sec = m.tokens_per_sec().map(|r| (r * 10.0).round() / 10.0);
    }
    let text = serde_json::to_string_pretty(&value)? + "\n";
    Ok(crate::sanitize::json_for_terminal(&text).into_owned())
}

/// Each prompt, then each provider's answer with its metrics, made safe for a terminal and a
/// Markdown viewer (answers and model names come from servers, the file from disk).
pub fn markdown(s: &Session) -> String {
    crate::sanitize::clean(&markdown_raw(s)).into_owned()
}

fn markdown_raw(s: &Session) -> String {
    let mut out = format!("# paddock session {}\n\n", s.id);
    let providers: Vec<String> = s
        .providers
        .iter()
        .map(|p| format!("{} ({}, {})", p.name, p.model, p.protocol.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "Created {} UTC · {}\n",
        short_date(&s.created),
        providers.join(" · ")
    );
    for i in 0..s.turn_count() {
        let answers: Vec<(&str, &str, &Turn)> = s
            .providers
            .iter()
            .filter_map(|p| Some((p.name.as_str(), p.model.as_str(), p.turns.get(i)?)))
            .collect();
        let mut prompts: Vec<&str> = answers.iter().map(|(_, _, t)| t.prompt.as_str()).collect();
        prompts.dedup();
        let shared = prompts.len() == 1;
        let _ = writeln!(out, "## Turn {}\n", i + 1);
        if shared {
            out.push_str(&quote(prompts[0]));
        }
        for (name, model, turn) in answers {
            let model = turn
                .settings
                .as_ref()
                .and_then(|s| s.model.as_deref())
                .unwrap_or(model);
            let _ = writeln!(out, "### {name} · {model}\n");
            if let Some(line) = turn.settings.as_ref().and_then(settings_line) {
                let _ = writeln!(out, "*{line}*\n");
            }
            if !shared {
                out.push_str(&quote(&turn.prompt));
            }
            if let Some(thinking) = turn.reasoning.as_deref().filter(|t| !t.trim().is_empty()) {
                let _ = writeln!(
                    out,
                    "<details><summary>thinking</summary>\n\n{}\n\n</details>\n",
                    thinking.trim_end()
                );
            }
            if turn.answer.is_empty() {
                out.push_str("*(no text)*\n\n");
            } else {
                out.push_str(turn.answer.trim_end());
                out.push_str("\n\n");
            }
            let _ = writeln!(out, "*{}*\n", metrics_line(turn));
        }
    }
    out
}

/// "system: Be terse. · temperature 0.2 · max tokens 100", or `None` when the turn used the
/// provider's defaults.
fn settings_line(s: &crate::session::TurnSettings) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(system) = &s.system {
        parts.push(format!("system: {}", system.replace('\n', " ")));
    }
    if let Some(t) = s.temperature {
        parts.push(format!("temperature {t}"));
    }
    if let Some(n) = s.max_tokens {
        parts.push(format!("max tokens {n}"));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The prompt as a Markdown block quote.
fn quote(prompt: &str) -> String {
    let mut out = String::new();
    for line in prompt.trim_end().lines() {
        if line.is_empty() {
            out.push_str(">\n");
        } else {
            let _ = writeln!(out, "> {line}");
        }
    }
    out.push('\n');
    out
}

/// "TTFT 312 ms · total 1.83 s · 14 in / 30 out · stop · 0 retries · $0.0012".
fn metrics_line(t: &Turn) -> String {
    if !t.complete {
        return "incomplete: still streaming when the session was last saved".to_owned();
    }
    let m = &t.metrics;
    let tokens = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
    let mut parts = Vec::new();
    // Numbers from the file: only those a real request could have measured are shown.
    let ms = |v: Option<f64>| v.filter(|v| crate::checked::duration_from_ms(*v).is_some());
    if let Some(ttft) = ms(m.ttft_ms) {
        parts.push(format!("TTFT {ttft:.0} ms"));
    }
    if let Some(ttfat) = ms(m.ttfat_ms) {
        parts.push(format!("TTFAT {ttfat:.0} ms"));
    }
    if let Some(queue) = ms(m.queue_ms).filter(|q| *q >= 1.0) {
        parts.push(format!("queued {:.2} s", queue / 1000.0));
    }
    if let Some(total) = ms(m.latency_ms) {
        parts.push(format!("total {:.2} s", total / 1000.0));
    }
    parts.push(format!(
        "{} in / {} out",
        tokens(m.input_tokens),
        tokens(m.output_tokens)
    ));
    if let Some(reason) = &m.finish_reason {
        parts.push(reason.clone());
    }
    parts.push(format!(
        "{} {}",
        m.retries,
        if m.retries == 1 { "retry" } else { "retries" }
    ));
    if let Some(usd) = m.cost_usd.filter(|c| crate::checked::plausible_cost(*c)) {
        parts.push(format_cost(usd));
    }
    if let Some(kind) = &m.error {
        parts.push(format!("error: {kind}"));
    }
    parts.join(" · ")
}
