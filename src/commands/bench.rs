//! `paddock bench`: repeated requests with concurrency per provider; percentiles and achieved throughput.
//!
//! [`run_bench`] measures (C workers per provider share that provider's [`Client`], hence its
//! limiter); [`ProviderStats::from_samples`] reduces samples to numbers; [`render_table`],
//! [`to_json`] and [`to_csv`] format them. Each part is testable on its own.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};
use tokio::time::Instant;

use crate::cli::BenchArgs;
use crate::client::{Client, ClientEvent, Outcome};
use crate::metrics::{inter_token_latency, percentile, sorted, tokens_per_sec};
use crate::provider::{ChatRequest, ErrorKind, Message};

use super::table::{bar, duration_cell, ms_cell, num_cell, Align, StatusLine, Table, MISSING};
use super::{build_request, read_prompt, Failure, Workspace, EXIT_FAILED};

/// One provider to benchmark: its client and the request every run sends (the prompt varies).
#[derive(Debug, Clone)]
pub struct BenchTarget {
    pub client: Client,
    pub request: ChatRequest,
}

impl From<Client> for BenchTarget {
    /// The client's model, streaming, no other parameters.
    fn from(client: Client) -> Self {
        let request = ChatRequest {
            model: client.model().to_owned(),
            stream: true,
            ..ChatRequest::default()
        };
        Self { client, request }
    }
}

/// Reported after every finished request.
#[derive(Debug)]
pub struct BenchProgress<'a> {
    pub provider: &'a str,
    /// Requests finished so far over all providers, and how many there are in all.
    pub done: u64,
    pub total: u64,
    pub failed: u64,
    pub outcome: &'a Outcome,
}

/// What one request contributes to the statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Time spent waiting for paddock's own rate limiter (not the provider's doing).
    pub queued: Duration,
    /// TTFT and latency with the queue time taken out: what the provider took.
    pub ttft: Option<Duration>,
    pub latency: Duration,
    pub output_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    pub generation_time: Option<Duration>,
    pub retries: u32,
    /// HTTP 429 responses seen: retried ones plus a final 429 error.
    pub http_429: u32,
    pub error: Option<ErrorKind>,
}

impl Sample {
    /// `retried_429` counts the `Retry` events of this request whose error had status 429;
    /// `queued` is the time it waited for the client-side limiter. No retry happens after the
    /// first token, so all of that wait lies before it.
    pub fn from_outcome(o: &Outcome, retried_429: u32, queued: Duration) -> Self {
        let final_429 = u32::from(o.error.as_ref().is_some_and(|e| e.status == Some(429)));
        Self {
            queued,
            ttft: o.ttft.map(|t| t.saturating_sub(queued)),
            latency: o.latency.saturating_sub(queued),
            output_tokens: o.usage.output_tokens,
            total_tokens: o.usage.total(),
            generation_time: o.generation_time,
            retries: o.retries,
            http_429: retried_429 + final_429,
            error: o.error.as_ref().map(|e| e.kind),
        }
    }
}

/// p50 / p95 / p99 of one measure; `None` without samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    #[serde(serialize_with = "round2")]
    pub p50: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub p95: Option<f64>,
    #[serde(serialize_with = "round2")]
    pub p99: Option<f64>,
}

impl Spread {
    pub fn of(samples: Vec<f64>) -> Self {
        let s = sorted(samples);
        Self {
            p50: percentile(&s, 50.0),
            p95: percentile(&s, 95.0),
            p99: percentile(&s, 99.0),
        }
    }
}

fn round2_value(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn round2<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    v.map(round2_value).serialize(s)
}

fn round2_f<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    round2_value(*v).serialize(s)
}

/// One provider's results. Timing percentiles cover successful requests only; failures are
/// counted by kind instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProviderStats {
    pub provider: String,
    pub model: String,
    pub requests: u32,
    pub ok: u32,
    pub failed: u32,
    #[serde(serialize_with = "round2_f")]
    pub error_rate: f64,
    /// Failed requests by error kind (`rate_limit`, `server`, ...).
    pub errors: BTreeMap<String, u32>,
    pub retries: u32,
    pub http_429: u32,
    /// Time waiting for the client-side limiter, over all requests.
    pub queued_ms: Spread,
    /// TTFT and latency exclude the queue time.
    pub ttft_ms: Spread,
    pub latency_ms: Spread,
    pub tokens_per_sec: Spread,
    /// Inter-token latency per request: generation time / (output tokens - 1).
    pub itl_ms: Spread,
    /// From the start of the bench to this provider's last finished request.
    #[serde(serialize_with = "round2_f")]
    pub wall_secs: f64,
    /// Successful requests per minute of wall time.
    #[serde(serialize_with = "round2_f")]
    pub requests_per_min: f64,
    /// Input + output tokens of successful requests per minute (what token limits count).
    #[serde(serialize_with = "round2_f")]
    pub tokens_per_min: f64,
    #[serde(serialize_with = "round2_f")]
    pub output_tokens_per_min: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl ProviderStats {
    pub fn from_samples(provider: &str, model: &str, samples: &[Sample], wall: Duration) -> Self {
        let ok: Vec<&Sample> = samples.iter().filter(|s| s.error.is_none()).collect();
        let mut errors = BTreeMap::new();
        for kind in samples.iter().filter_map(|s| s.error) {
            *errors.entry(kind.as_str().to_owned()).or_insert(0) += 1;
        }
        let requests = u32::try_from(samples.len()).unwrap_or(u32::MAX);
        let n_ok = u32::try_from(ok.len()).unwrap_or(u32::MAX);
        let per_min = |amount: f64| {
            let secs = wall.as_secs_f64();
            if secs > 0.0 {
                amount * 60.0 / secs
            } else {
                0.0
            }
        };
        let sum =
            |f: fn(&Sample) -> Option<u64>| ok.iter().filter_map(|s| f(s)).sum::<u64>() as f64;
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            requests,
            ok: n_ok,
            failed: requests - n_ok,
            error_rate: if requests == 0 {
                0.0
            } else {
                f64::from(requests - n_ok) / f64::from(requests)
            },
            errors,
            retries: samples.iter().map(|s| s.retries).sum(),
            http_429: samples.iter().map(|s| s.http_429).sum(),
            queued_ms: Spread::of(samples.iter().map(|s| ms(s.queued)).collect()),
            ttft_ms: Spread::of(ok.iter().filter_map(|s| s.ttft.map(ms)).collect()),
            latency_ms: Spread::of(ok.iter().map(|s| ms(s.latency)).collect()),
            tokens_per_sec: Spread::of(
                ok.iter()
                    .filter_map(|s| tokens_per_sec(s.output_tokens, s.generation_time))
                    .collect(),
            ),
            itl_ms: Spread::of(
                ok.iter()
                    .filter_map(|s| inter_token_latency(s.output_tokens, s.generation_time))
                    .filter(|d| !d.is_zero())
                    .map(ms)
                    .collect(),
            ),
            wall_secs: wall.as_secs_f64(),
            requests_per_min: per_min(f64::from(n_ok)),
            tokens_per_min: per_min(sum(|s| s.total_tokens)),
            output_tokens_per_min: per_min(sum(|s| s.output_tokens)),
        }
    }
}

/// The whole bench: its parameters and one entry per provider, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BenchReport {
    pub runs: u32,
    pub concurrency: u32,
    pub providers: Vec<ProviderStats>,
}

/// The request of run `i`: the template with the prompt (if any) as its one user message.
fn request_for(template: &ChatRequest, prompts: &[String], i: u32) -> ChatRequest {
    let mut req = template.clone();
    req.stream = true;
    if !prompts.is_empty() {
        req.messages = vec![Message::user(prompts[i as usize % prompts.len()].clone())];
    }
    req
}

struct Finished {
    target: usize,
    outcome: Outcome,
    retried_429: u32,
    queued: Duration,
    at: Instant,
}

/// Send `runs` requests to each target, `concurrency` at a time per target, every target at once.
/// Prompts are used in turn (none: the target's request as it is). `on_progress` runs on the
/// caller's task after every finished request.
pub async fn run_bench<T: Into<BenchTarget>>(
    targets: impl IntoIterator<Item = T>,
    prompts: &[String],
    runs: u32,
    concurrency: u32,
    mut on_progress: impl FnMut(BenchProgress<'_>),
) -> BenchReport {
    let targets: Vec<BenchTarget> = targets.into_iter().map(Into::into).collect();
    let prompts: Arc<[String]> = prompts.into();
    let workers = concurrency.clamp(1, runs.max(1));
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Finished>();
    // Dropping the bench (and with it this set) aborts the workers and their requests.
    let mut workers_set = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        let next = Arc::new(AtomicU32::new(0));
        for _ in 0..workers {
            let (tx, next, prompts) = (tx.clone(), Arc::clone(&next), Arc::clone(&prompts));
            let (client, template) = (target.client.clone(), target.request.clone());
            workers_set.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= runs {
                        break;
                    }
                    let (mut retried_429, mut queued, mut queued_at) = (0, Duration::ZERO, None);
                    let outcome = client
                        .complete(request_for(&template, &prompts, i), |e| match e {
                            ClientEvent::Queued => queued_at = Some(Instant::now()),
                            ClientEvent::Connecting { .. } => {
                                if let Some(at) = queued_at.take() {
                                    queued += at.elapsed();
                                }
                            }
                            ClientEvent::Retry { error, .. } => {
                                retried_429 += u32::from(error.status == Some(429));
                            }
                            _ => {}
                        })
                        .await;
                    let done = Finished {
                        target: index,
                        outcome,
                        retried_429,
                        queued,
                        at: Instant::now(),
                    };
                    if tx.send(done).is_err() {
                        break;
                    }
                }
            });
        }
    }
    drop(tx);
    let _workers = workers_set;
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); targets.len()];
    let mut models: Vec<Option<String>> = vec![None; targets.len()];
    let mut last: Vec<Option<Instant>> = vec![None; targets.len()];
    let total = u64::from(runs) * targets.len() as u64;
    let (mut done, mut failed) = (0, 0);
    while let Some(f) = rx.recv().await {
        done += 1;
        failed += u64::from(f.outcome.error.is_some());
        if f.outcome.error.is_none() && models[f.target].is_none() {
            models[f.target] = Some(f.outcome.model.clone());
        }
        samples[f.target].push(Sample::from_outcome(&f.outcome, f.retried_429, f.queued));
        last[f.target] = Some(f.at);
        on_progress(BenchProgress {
            provider: &f.outcome.provider,
            done,
            total,
            failed,
            outcome: &f.outcome,
        });
    }
    let providers = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let model = models[i].clone().unwrap_or_else(|| t.request.model.clone());
            let wall = last[i].map_or(Duration::ZERO, |at| at.saturating_duration_since(start));
            ProviderStats::from_samples(t.client.name(), &model, &samples[i], wall)
        })
        .collect();
    BenchReport {
        runs,
        concurrency: workers,
        providers,
    }
}

fn ms_duration_cell(v: Option<f64>) -> String {
    duration_cell(v.map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0)))
}

/// Two tables: timing percentiles per provider and measure, then throughput and errors.
pub fn render_table(report: &BenchReport) -> String {
    let mut timing = Table::new(&[
        ("provider", Align::Left),
        ("measure", Align::Left),
        ("p50", Align::Right),
        ("p95", Align::Right),
        ("p99", Align::Right),
    ]);
    for p in &report.providers {
        let rows: [(&str, Vec<String>); 5] = [
            ("TTFT", spread_cells(&p.ttft_ms, ms_duration_cell)),
            ("latency", spread_cells(&p.latency_ms, ms_duration_cell)),
            ("tok/s", spread_cells(&p.tokens_per_sec, |v| num_cell(v, 1))),
            ("ITL", spread_cells(&p.itl_ms, ms_cell)),
            ("queued", spread_cells(&p.queued_ms, ms_duration_cell)),
        ];
        for (i, (measure, cells)) in rows.into_iter().enumerate() {
            let name = if i == 0 {
                p.provider.clone()
            } else {
                String::new()
            };
            let mut row = vec![name, measure.to_owned()];
            row.extend(cells);
            timing.row(row);
        }
    }
    let mut totals = Table::new(&[
        ("provider", Align::Left),
        ("model", Align::Left),
        ("ok", Align::Right),
        ("failed", Align::Right),
        ("errors", Align::Left),
        ("retries", Align::Right),
        ("429s", Align::Right),
        ("req/min", Align::Right),
        ("tok/min", Align::Right),
    ]);
    for p in &report.providers {
        let errors: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        totals.row(vec![
            p.provider.clone(),
            p.model.clone(),
            format!("{}/{}", p.ok, p.requests),
            format!("{:.0}%", p.error_rate * 100.0),
            if errors.is_empty() {
                MISSING.to_owned()
            } else {
                errors.join(", ")
            },
            p.retries.to_string(),
            p.http_429.to_string(),
            format!("{:.1}", p.requests_per_min),
            format!("{:.0}", p.tokens_per_min),
        ]);
    }
    format!(
        "{} runs per provider, {} concurrent per provider\n\n{}\
         (TTFT and latency leave out the time queued in paddock's own rate limiter.)\n\n{}",
        report.runs,
        report.concurrency,
        timing.render(),
        totals.render()
    )
}

fn spread_cells(s: &Spread, cell: impl Fn(Option<f64>) -> String) -> Vec<String> {
    vec![cell(s.p50), cell(s.p95), cell(s.p99)]
}

pub fn to_json(report: &BenchReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report).map(|mut s| {
        s.push('\n');
        s
    })
}

const CSV_HEADER: &str = "provider,model,requests,ok,failed,error_rate,errors,retries,http_429,\
queued_p50_ms,queued_p95_ms,queued_p99_ms,ttft_p50_ms,ttft_p95_ms,ttft_p99_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,\
tokens_per_sec_p50,tokens_per_sec_p95,tokens_per_sec_p99,itl_p50_ms,itl_p95_ms,itl_p99_ms,\
wall_secs,requests_per_min,tokens_per_min,output_tokens_per_min";

/// One header line and one line per provider; errors as `kind=n;kind=n`; empty cells for no value.
pub fn to_csv(report: &BenchReport) -> String {
    let num = |v: f64| format!("{}", round2_value(v));
    let opt = |v: Option<f64>| v.map_or_else(String::new, num);
    let mut out = format!("{CSV_HEADER}\n");
    for p in &report.providers {
        let errors: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k}={n}")).collect();
        let mut cells = vec![
            csv_field(&p.provider),
            csv_field(&p.model),
            p.requests.to_string(),
            p.ok.to_string(),
            p.failed.to_string(),
            num(p.error_rate),
            errors.join(";"),
            p.retries.to_string(),
            p.http_429.to_string(),
        ];
        for s in [
            &p.queued_ms,
            &p.ttft_ms,
            &p.latency_ms,
            &p.tokens_per_sec,
            &p.itl_ms,
        ] {
            cells.extend([opt(s.p50), opt(s.p95), opt(s.p99)]);
        }
        cells.extend([
            num(p.wall_secs),
            num(p.requests_per_min),
            num(p.tokens_per_min),
            num(p.output_tokens_per_min),
        ]);
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180: quote a field holding a comma, quote or line break; double inner quotes.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutFormat {
    Json,
    Csv,
}

fn out_format(path: &Path) -> Result<OutFormat, Failure> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => Ok(OutFormat::Json),
        Some("csv") => Ok(OutFormat::Csv),
        _ => Err(Failure::usage(format!(
            "--out {}: the file name must end in .json or .csv.",
            path.display()
        ))),
    }
}

/// `bench [######------------------] 12/48 · 1 failed · 3.2 s`
fn progress_line(done: u64, total: u64, failed: u64, elapsed: Duration) -> String {
    let failed = if failed > 0 {
        format!(" · {failed} failed")
    } else {
        String::new()
    };
    format!(
        "bench {} {done}/{total}{failed} · {:.1} s",
        bar(done, total, 24),
        elapsed.as_secs_f64()
    )
}

fn read_prompts(args: &BenchArgs) -> Result<Vec<String>, Failure> {
    let Some(path) = &args.prompt_file else {
        return Ok(vec![read_prompt(&args.prompt)?]);
    };
    if !args.prompt.is_empty() {
        return Err(Failure::usage(
            "give the prompt either as arguments or with --prompt-file, not both.",
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read the prompt file {} ({e}).",
            path.display()
        ))
    })?;
    let prompts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if prompts.is_empty() {
        return Err(Failure::usage(format!(
            "the prompt file {} has no prompts (one per line).",
            path.display()
        )));
    }
    Ok(prompts)
}

pub async fn run(ws: &Workspace, args: &BenchArgs) -> Result<(), Failure> {
    if args.runs == 0 || args.concurrency == 0 {
        return Err(Failure::usage(
            "--runs and --concurrency must be at least 1.",
        ));
    }
    let format = args.out.as_deref().map(out_format).transpose()?;
    let providers = ws.pick_many(&args.providers)?;
    let prompts = read_prompts(args)?;
    let mut targets = Vec::with_capacity(providers.len());
    for p in &providers {
        targets.push(BenchTarget {
            client: Client::new(p)?,
            request: build_request(p, &args.request, ""),
        });
    }
    let status = Arc::new(StatusLine::stderr());
    let counts = Arc::new(std::sync::Mutex::new((
        0,
        targets.len() as u64 * u64::from(args.runs),
        0,
    )));
    // Redraw a few times a second so the clock moves while requests are slow.
    let ticker = tokio::spawn({
        let (status, counts, started) = (Arc::clone(&status), Arc::clone(&counts), Instant::now());
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let (done, total, failed) = *counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                status.set(progress_line(done, total, failed, started.elapsed()));
            }
        }
    });
    let report = run_bench(targets, &prompts, args.runs, args.concurrency, |p| {
        ws.request_log.record(p.outcome);
        *counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (p.done, p.total, p.failed);
    })
    .await;
    ticker.abort();
    let _ = ticker.await;
    status.clear();
    print!("{}", render_table(&report));
    if let (Some(path), Some(format)) = (&args.out, format) {
        let text = match format {
            OutFormat::Json => to_json(&report).map_err(|e| {
                Failure::failed(format!("could not encode the report as JSON ({e})."))
            })?,
            OutFormat::Csv => to_csv(&report),
        };
        std::fs::write(path, text)
            .map_err(|e| Failure::failed(format!("cannot write {} ({e}).", path.display())))?;
    }
    let dead: Vec<&str> = report
        .providers
        .iter()
        .filter(|p| p.ok == 0)
        .map(|p| p.provider.as_str())
        .collect();
    if dead.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            message: format!("every request failed for {}.", dead.join(", ")),
            code: EXIT_FAILED,
        })
    }
}
