//! `paddock bench`: repeated requests with concurrency per provider; percentiles and achieved throughput.
//!
//! [`run_bench`] measures (C workers per provider share that provider's [`Client`], hence its
//! limiter); [`ProviderStats::from_samples`] reduces samples to numbers; [`render_table`],
//! [`to_json`] and [`to_csv`] format them. Each part is testable on its own.

mod measure;
mod report;
mod stats;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::cli::BenchArgs;
use crate::client::{Client, Retain};

use super::table::{bar, StatusLine};
use super::{build_request, check_request_flags, read_prompt, Failure, Workspace, EXIT_FAILED};

pub use measure::{run_bench, BenchProgress, BenchTarget};
pub use report::{render_table, to_csv, to_json};
pub use stats::{BenchReport, ProviderStats, Sample, Spread};

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

/// `bench [######------------------] 12/48 · 1 failed · 3.2 s`, then, for each provider whose
/// requests are queued in its limiter, `· waiting 41 s for sim-tight's limiter` (so a bench that
/// stands still says why).
fn progress_line(
    done: u64,
    total: u64,
    failed: u64,
    elapsed: Duration,
    waits: &[(String, Duration)],
) -> String {
    let failed = if failed > 0 {
        format!(" · {failed} failed")
    } else {
        String::new()
    };
    let mut line = format!(
        "bench {} {done}/{total}{failed} · {:.1} s",
        bar(done, total, 24),
        elapsed.as_secs_f64()
    );
    for (name, wait) in waits {
        line.push_str(&format!(
            " · waiting {} s for {}'s limiter",
            wait.as_secs_f64().ceil(),
            crate::sanitize::clean_line(name)
        ));
    }
    line
}

/// The providers whose requests wait in their limiter now, and how long until the next fits.
/// Limiters shared by several providers (`-p a:m1,a:m2`) are named once, by their first.
fn limiter_waits(limiters: &[(String, crate::ratelimit::Limiter)]) -> Vec<(String, Duration)> {
    let mut waits: Vec<(String, Duration)> = Vec::new();
    let mut seen: Vec<&crate::ratelimit::Limiter> = Vec::new();
    for (name, limiter) in limiters {
        if seen.iter().any(|l| l.same_budget(limiter)) {
            continue;
        }
        seen.push(limiter);
        let snap = limiter.snapshot();
        if snap.waiting > 0 {
            // The window may free up while a settle is pending: say at least 1 s.
            let wait = snap.next_free_in.unwrap_or(Duration::ZERO);
            waits.push((name.clone(), wait.max(Duration::from_secs(1))));
        }
    }
    waits
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
    for p in &providers {
        check_request_flags(p, &args.request)?;
    }
    let prompts = read_prompts(args)?;
    let mut targets = Vec::with_capacity(providers.len());
    // Models of one provider (`-p a:m1,a:m2`) spend one budget: one limiter.
    let mut pool = crate::client::LimiterPool::default();
    let mut asked = std::collections::HashMap::new();
    for p in &providers {
        let request = build_request(p, &args.request, "");
        asked.insert(p.name.clone(), request.model.clone());
        targets.push(BenchTarget {
            client: Client::new_in(p, &mut pool)?.with_retain(Retain::Figures),
            request,
        });
    }
    // Kept to report what each shared budget did fleet-wide, after this process's own numbers.
    let limiters: Vec<_> = targets
        .iter()
        .map(|t| (t.client.name().to_owned(), t.client.limiter().clone()))
        .collect();
    // What each provider's answers cost, summed as they finish.
    let mut costs: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    let status = Arc::new(StatusLine::stderr());
    let counts = Arc::new(std::sync::Mutex::new((
        0,
        targets.len() as u64 * u64::from(args.runs),
        0,
    )));
    // Redraw a few times a second so the clock moves while requests are slow, and say which
    // limiter holds requests back.
    let ticker = tokio::spawn({
        let (status, counts, started) = (Arc::clone(&status), Arc::clone(&counts), Instant::now());
        let limiters = limiters.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let (done, total, failed) = *counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let waits = limiter_waits(&limiters);
                status.set(progress_line(
                    done,
                    total,
                    failed,
                    started.elapsed(),
                    &waits,
                ));
            }
        }
    });
    let mut report = run_bench(targets, &prompts, args.runs, args.concurrency, |p| {
        ws.request_log.record(p.outcome);
        let o = p.outcome;
        let asked_model = asked.get(p.provider).map(String::as_str);
        let cost = ws
            .config
            .prices
            .answer_cost(&o.model, asked_model, &o.usage);
        if let Some(c) = cost {
            *costs.entry(p.provider.to_owned()).or_default() += c;
        }
        *counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (p.done, p.total, p.failed);
    })
    .await;
    ticker.abort();
    let _ = ticker.await;
    for p in &mut report.providers {
        p.cost_usd = costs.get(&p.provider).copied();
    }
    status.clear();
    if args.json {
        // stdout holds the JSON document alone; the fleet-wide lines go to stderr.
        let json = to_json(&report)
            .map_err(|e| Failure::failed(format!("could not encode the report as JSON ({e}).")))?;
        print!("{json}");
    } else {
        print!("{}", render_table(&report));
    }
    for (name, limiter) in &limiters {
        if let Some(line) = shared_line(name, &limiter.snapshot()) {
            if args.json {
                crate::sanitize::eprint_line(&line);
            } else {
                println!("{line}");
            }
        }
    }
    if let (Some(path), Some(format)) = (&args.out, format) {
        write_out(path, format, &report)?;
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

/// `lim: shared budget, whole fleet now: 12/12 requests, 130/∞ tokens in the window, 3 processes holding leases`
fn shared_line(name: &str, snap: &crate::ratelimit::LimiterSnapshot) -> Option<String> {
    use crate::ratelimit::StoreState;
    let view = snap.shared?;
    let f = view.fleet;
    let cap = |n: Option<u64>| n.map_or("∞".to_owned(), |n| n.to_string());
    Some(match view.state {
        StoreState::Shared => format!(
            "{name}: shared budget, whole fleet now: {}/{} requests, {}/{} tokens in the window, {} processes holding leases (the table above is this process alone).",
            f.requests_used,
            cap(f.requests_limit),
            f.tokens_used,
            cap(f.tokens_limit),
            f.holders
        ),
        _ => format!("{name}: the shared budget's store was lost; this process limited itself alone."),
    })
}

/// Write the report to `--out` in the format its extension named.
fn write_out(path: &Path, format: OutFormat, report: &BenchReport) -> Result<(), Failure> {
    let text = match format {
        OutFormat::Json => to_json(report)
            .map_err(|e| Failure::failed(format!("could not encode the report as JSON ({e}).")))?,
        OutFormat::Csv => to_csv(report),
    };
    std::fs::write(path, text)
        .map_err(|e| Failure::failed(format!("cannot write {} ({e}).", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::{Limiter, LimiterConfig};

    #[test]
    fn the_progress_line_names_the_limiter_a_provider_waits_on() {
        let waits = vec![("sim-tight".to_owned(), Duration::from_millis(40_200))];
        let line = progress_line(23, 24, 0, Duration::from_millis(106_500), &waits);
        assert!(
            line.ends_with("23/24 · 106.5 s · waiting 41 s for sim-tight's limiter"),
            "{line}"
        );
        let plain = progress_line(3, 24, 1, Duration::from_secs(2), &[]);
        assert!(plain.ends_with("3/24 · 1 failed · 2.0 s"), "{plain}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_request_shows_as_a_wait_once_per_budget() {
        let cfg = LimiterConfig {
            window: Duration::from_secs(60),
            ..LimiterConfig::per_minute(Some(1), None)
        };
        let tight = Limiter::new(cfg);
        let free = Limiter::unlimited();
        let limiters = vec![
            ("a:m1".to_owned(), tight.clone()),
            ("a:m2".to_owned(), tight.clone()),
            ("b".to_owned(), free),
        ];
        assert!(limiter_waits(&limiters).is_empty());
        let _first = tight.acquire(10).await;
        let second = tokio::spawn({
            let tight = tight.clone();
            async move { tight.acquire(10).await }
        });
        tokio::task::yield_now().await;
        let waits = limiter_waits(&limiters);
        assert_eq!(waits.len(), 1, "{waits:?}");
        assert_eq!(waits[0].0, "a:m1");
        assert!(waits[0].1 > Duration::from_secs(50), "{waits:?}");
        second.abort();
    }
}
