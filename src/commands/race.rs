//! `paddock race`: one prompt to several providers at once, then a comparison table (or JSON lines).
//!
//! Measuring ([`race`], [`RaceMetrics::of`]) is kept apart from formatting ([`render_table`],
//! [`json_line`]) so the formats can be pinned with synthetic outcomes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::cli::RaceArgs;
use crate::client::{Client, ClientEvent, Outcome, OutcomeJson, Retain};
use crate::config::format_cost;

use crate::metrics::{inter_token_latency, percentile, token_gap_samples_ms};
use crate::provider::{ApiError, ChatRequest, ErrorKind};
use crate::session::{self, ProviderRef, Recorder, Session, TurnMetrics};

use super::table::{
    count_cell, duration_cell, ms_cell, num_cell, Align, StatusLine, Table, MISSING,
};
use super::{
    build_request, check_request_flags, read_prompt, retry_line, Failure, Workspace, EXIT_FAILED,
};

/// The race metrics of one outcome, beyond what `ask --json` reports.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RaceMetrics {
    /// Output tokens per second after the first token, from the reported token count.
    pub tokens_per_sec: Option<f64>,
    /// Median and 95th-percentile inter-token latency (smoothness), per token, in milliseconds.
    pub itl_p50_ms: Option<f64>,
    pub itl_p95_ms: Option<f64>,
    /// Characters (not bytes) of the answer.
    pub chars: usize,
}

impl RaceMetrics {
    pub fn of(o: &Outcome) -> Self {
        let tokens = o.usage.generated_tokens();
        let gaps = token_gap_samples_ms(tokens, &o.chunk_gaps_us);
        // One chunk carrying every token has no gaps; its mean latency is still defined.
        let mean = inter_token_latency(tokens, o.generation_time)
            .filter(|d| !d.is_zero())
            .map(|d| d.as_secs_f64() * 1000.0);
        let (p50, p95) = if gaps.is_empty() {
            (mean, mean)
        } else {
            (percentile(&gaps, 50.0), percentile(&gaps, 95.0))
        };
        Self {
            // From the saved figures, as every other view reads it.
            tokens_per_sec: TurnMetrics::of(o, None).tokens_per_sec(),
            itl_p50_ms: p50,
            itl_p95_ms: p95,
            chars: o.content.chars().count(),
        }
    }
}

/// Stream every request at once, each on its own task, and return the outcomes in entry order.
/// `on_event(provider, event)` sees every event as it happens (retries, deltas, ...).
pub async fn race<F>(entries: Vec<(Client, ChatRequest)>, on_event: F) -> Vec<Outcome>
where
    F: Fn(&str, &ClientEvent) + Send + Sync + 'static,
{
    let on_event = Arc::new(on_event);
    let tasks: Vec<_> = entries
        .into_iter()
        .map(|(client, req)| {
            let on_event = Arc::clone(&on_event);
            let (name, model) = (client.name().to_owned(), req.model.clone());
            // The smoothness columns are computed from the gaps between chunks.
            let client = client.with_retain(Retain::TextAndGaps);
            let task = tokio::spawn(async move {
                let name = client.name().to_owned();
                client.complete(req, |e| on_event(&name, e)).await
            });
            (name, model, task)
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for (provider, model, task) in tasks {
        outcomes.push(task.await.unwrap_or_else(|e| Outcome {
            provider,
            model,
            error: Some(ApiError::new(
                ErrorKind::Unknown,
                format!("the request task failed ({e})"),
            )),
            ..Outcome::default()
        }));
    }
    outcomes
}

/// The comparison table, then one line naming the leaders among the providers that succeeded.
/// `costs[i]` is outcome `i`'s price; the cost column shows only when some answer has one.
pub fn render_table(outcomes: &[Outcome], costs: &[Option<f64>]) -> String {
    let priced = costs.iter().any(Option::is_some);
    // Queue time (limiter, retry waits) is not in TTFT or total; its column shows when some
    // provider waited.
    let queued = outcomes.iter().any(|o| o.queue >= Duration::from_millis(1));
    // Reasoning models: time to the first answer token and thinking tokens, beside TTFT.
    let thought = outcomes
        .iter()
        .any(|o| o.reasoning.is_some() || o.usage.reasoning_tokens.is_some_and(|n| n > 0));
    // Prompt caching: what was read from and written to the provider's cache.
    let cached = outcomes.iter().any(|o| {
        let u = &o.usage;
        u.cache_read_input_tokens.is_some_and(|n| n > 0)
            || u.cache_creation_input_tokens.is_some_and(|n| n > 0)
    });
    let mut columns = vec![
        ("provider", Align::Left),
        ("model", Align::Left),
        ("TTFT", Align::Right),
    ];
    if thought {
        columns.push(("TTFAT", Align::Right));
    }
    if queued {
        columns.push(("queue", Align::Right));
    }
    columns.extend([("total", Align::Right), ("out tok", Align::Right)]);
    if thought {
        columns.push(("think tok", Align::Right));
    }
    if cached {
        columns.extend([("cache rd", Align::Right), ("cache wr", Align::Right)]);
    }
    columns.extend([
        ("tok/s", Align::Right),
        ("ITL p50", Align::Right),
        ("ITL p95", Align::Right),
        ("chars", Align::Right),
        ("finish", Align::Left),
        ("retries", Align::Right),
    ]);
    if priced {
        columns.push(("cost", Align::Right));
    }
    columns.push(("error", Align::Left));
    let mut t = Table::new(&columns);
    for (i, o) in outcomes.iter().enumerate() {
        let m = RaceMetrics::of(o);
        // The figures as the session records them (rounded once), so `export` and the TUI agree.
        let r = TurnMetrics::of(o, None);
        let mut row = vec![o.provider.clone(), o.model.clone(), duration_cell(r.ttft())];
        if thought {
            row.push(duration_cell(r.ttfat().or(o.ttfat)));
        }
        if queued {
            row.push(duration_cell(Some(r.queue())));
        }
        // Every generated token, thinking included, whichever way the protocol counts them.
        row.extend([duration_cell(r.latency()), count_cell(r.generated_tokens())]);
        if thought {
            row.push(count_cell(o.usage.reasoning_tokens));
        }
        if cached {
            row.push(count_cell(o.usage.cache_read_input_tokens));
            row.push(count_cell(o.usage.cache_creation_input_tokens));
        }
        row.extend([
            num_cell(m.tokens_per_sec, 1),
            ms_cell(m.itl_p50_ms),
            ms_cell(m.itl_p95_ms),
            m.chars.to_string(),
            o.finish_reason
                .clone()
                .unwrap_or_else(|| MISSING.to_owned()),
            o.retries.to_string(),
        ]);
        if priced {
            let cost = costs.get(i).copied().flatten();
            row.push(cost.map_or_else(|| MISSING.to_owned(), format_cost));
        }
        row.push(error_cell(o.error.as_ref()));
        t.row(row);
    }
    let mut out = t.render();
    out.push_str(&leaders(outcomes));
    out.push('\n');
    out
}

/// `rate_limit (HTTP 429)`, `connection`, or empty.
pub fn error_cell(e: Option<&ApiError>) -> String {
    match e {
        None => String::new(),
        Some(e) => match e.status {
            Some(s) => format!("{} (HTTP {s})", e.kind),
            None => e.kind.to_string(),
        },
    }
}

/// "first token: a (152 ms) · first to finish: b (1.20 s) · fastest: a (80.1 tok/s)".
fn leaders(outcomes: &[Outcome]) -> String {
    let ok: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_none()).collect();
    if ok.is_empty() {
        return "no provider succeeded".to_owned();
    }
    let mut parts = Vec::new();
    // The figures the rows show (as the session records them, rounded once): a TTFT of
    // 1.4997 ms is "1 ms" raw but "2 ms" in its row, and the line must not disagree with it.
    let recorded: Vec<(&Outcome, TurnMetrics)> =
        ok.iter().map(|o| (*o, TurnMetrics::of(o, None))).collect();
    let first_token = recorded
        .iter()
        .filter_map(|(o, r)| Some((o, r.ttft()?)))
        .min_by_key(|&(_, d)| d);
    if let Some((o, d)) = first_token {
        parts.push(format!(
            "first token: {} ({})",
            o.provider,
            duration_cell(Some(d))
        ));
    }
    let first_done = recorded
        .iter()
        .filter_map(|(o, r)| Some((o, r.latency()?)))
        .min_by_key(|&(_, d)| d);
    if let Some((o, d)) = first_done {
        parts.push(format!(
            "first to finish: {} ({})",
            o.provider,
            duration_cell(Some(d))
        ));
    }
    let fastest = ok
        .iter()
        .filter_map(|o| Some((o, RaceMetrics::of(o).tokens_per_sec?)))
        // A tie goes to the first listed, as for the other two (`max_by` would pick the last).
        .min_by(|a, b| b.1.total_cmp(&a.1));
    if let Some((o, rate)) = fastest {
        parts.push(format!("fastest: {} ({rate:.1} tok/s)", o.provider));
    }
    parts.join(" · ")
}

/// One `--json` line: the `ask --json` fields, then the race metrics.
#[derive(Debug, Serialize)]
pub struct RaceJson<'a> {
    #[serde(flatten)]
    pub outcome: OutcomeJson<'a>,
    pub tokens_per_sec: Option<f64>,
    pub itl_p50_ms: Option<f64>,
    pub itl_p95_ms: Option<f64>,
    pub chars: usize,
    /// US dollars, when the config prices the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

fn round(v: Option<f64>, decimals: i32) -> Option<f64> {
    let scale = 10f64.powi(decimals);
    v.map(|v| (v * scale).round() / scale)
}

pub fn json_line(o: &Outcome, cost: Option<f64>) -> Result<String, serde_json::Error> {
    let m = RaceMetrics::of(o);
    serde_json::to_string(&RaceJson {
        outcome: o.to_json(),
        tokens_per_sec: round(m.tokens_per_sec, 1),
        itl_p50_ms: round(m.itl_p50_ms, 2),
        itl_p95_ms: round(m.itl_p95_ms, 2),
        chars: m.chars,
        cost_usd: cost,
    })
}

pub async fn run(ws: &Workspace, args: &RaceArgs) -> Result<(), Failure> {
    let providers = ws.pick_many(&args.providers)?;
    for p in &providers {
        check_request_flags(p, &args.request)?;
    }
    let prompt = read_prompt(&args.prompt)?;
    let mut entries = Vec::with_capacity(providers.len());
    let mut pool = crate::client::LimiterPool::default();
    for p in &providers {
        let req = build_request(p, &args.request, &prompt);
        entries.push((Client::new_in(p, &mut pool)?, req));
    }
    let asked: Vec<String> = entries.iter().map(|(_, r)| r.model.clone()).collect();
    let recorder = recorder(ws, args).map(|mut rec| {
        let asks: Vec<(ProviderRef, ChatRequest)> = providers
            .iter()
            .zip(&entries)
            .map(|(p, (_, req))| (ProviderRef::of(p, Some(&req.model)), req.clone()))
            .collect();
        // The record builds what is sent, as for every command.
        for ((_, req), built) in entries.iter_mut().zip(rec.begin_all(&asks, &prompt)) {
            *req = built;
        }
        Arc::new(Mutex::new(rec))
    });
    let total = entries.len();
    let status = Arc::new(StatusLine::stderr());
    status.set(format!("race: 0/{total} done"));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let outcomes = race(entries, {
        let status = Arc::clone(&status);
        let recorder = recorder.clone();
        move |name, event| {
            match event {
                ClientEvent::Retry { decision, error } => {
                    status.println(&retry_line(name, decision, error))
                }
                ClientEvent::Done(_) => {
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    status.set(format!("race: {n}/{total} done"));
                }
                _ => {}
            }
            if let Some(rec) = &recorder {
                if let Ok(mut rec) = rec.lock() {
                    rec.on_event(name, event.clone());
                }
            }
        }
    })
    .await;
    status.clear();
    for o in &outcomes {
        ws.request_log.record(o);
    }
    let recorder = recorder.and_then(|r| Arc::try_unwrap(r).ok());
    if let Some(e) = recorder
        .and_then(|r| r.into_inner().ok())
        .and_then(Recorder::finish)
    {
        crate::sanitize::eprint_line(&format!("paddock: warning: {e}"));
    }
    let costs: Vec<Option<f64>> = outcomes
        .iter()
        .zip(&asked)
        .map(|(o, asked)| {
            ws.config
                .prices
                .answer_cost(&o.model, Some(asked), &o.usage)
        })
        .collect();
    print_results(&outcomes, &costs, args.json)?;
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_some()).collect();
    for o in &failed {
        if let Some(e) = &o.error {
            crate::sanitize::eprint_line(&e.sentence(&o.provider));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            message: format!("{} of {} providers failed.", failed.len(), outcomes.len()),
            code: EXIT_FAILED,
        })
    }
}

fn print_results(outcomes: &[Outcome], costs: &[Option<f64>], json: bool) -> Result<(), Failure> {
    if !json {
        print!("{}", render_table(outcomes, costs));
        return Ok(());
    }
    for (o, cost) in outcomes.iter().zip(costs) {
        let line = json_line(o, *cost)
            .map_err(|e| Failure::failed(format!("could not encode the result as JSON ({e}).")))?;
        println!("{}", crate::sanitize::json_for_terminal(&line));
    }
    Ok(())
}

/// The session this race is recorded in, unless `--no-save` (or no data dir on this platform).
fn recorder(ws: &Workspace, args: &RaceArgs) -> Option<Recorder> {
    if args.no_save {
        return None;
    }
    let dir = session::default_dir()?;
    Some(Recorder::new(
        Session::new(),
        dir,
        ws.config.prices.clone(),
        true,
    ))
}
