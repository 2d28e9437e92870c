//! Formatting a [`BenchReport`]: the terminal tables, JSON and CSV.

use super::stats::round2_value;
use super::{BenchReport, ProviderStats, Spread};
use crate::commands::table::{count_cell, duration_cell, ms_cell, num_cell, Align, Table, MISSING};
use crate::config::format_cost;

fn ms_duration_cell(v: Option<f64>) -> String {
    duration_cell(v.and_then(crate::checked::duration_from_ms))
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
        let mut rows: Vec<(&str, Vec<String>)> = vec![
            ("TTFT", spread_cells(&p.ttft_ms, ms_duration_cell)),
            ("latency", spread_cells(&p.latency_ms, ms_duration_cell)),
            ("tok/s", spread_cells(&p.tokens_per_sec, |v| num_cell(v, 1))),
            ("ITL", spread_cells(&p.itl_ms, ms_cell)),
            ("queued", spread_cells(&p.queued_ms, ms_duration_cell)),
        ];
        if !p.ttfat_ms.is_empty() {
            rows.insert(1, ("TTFAT", spread_cells(&p.ttfat_ms, ms_duration_cell)));
        }
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
    let priced = report.providers.iter().any(|p| p.cost_usd.is_some());
    let cached = report.providers.iter().any(ProviderStats::hit_cache);
    let mut columns = vec![
        ("provider", Align::Left),
        ("model", Align::Left),
        ("ok", Align::Right),
        ("failed", Align::Right),
        ("errors", Align::Left),
        ("retries", Align::Right),
        ("429s", Align::Right),
        ("req/min", Align::Right),
        ("tok/min", Align::Right),
    ];
    if cached {
        columns.extend([("cache rd", Align::Right), ("cache wr", Align::Right)]);
    }
    if priced {
        columns.push(("cost", Align::Right));
    }
    let mut totals = Table::new(&columns);
    for p in &report.providers {
        let errors: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let mut row = vec![
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
        ];
        if cached {
            // None at all shows as missing, as the race table does.
            let cell = |n: u64| count_cell(Some(n).filter(|&n| n > 0));
            row.extend([p.cached_input_tokens, p.cache_write_tokens].map(cell));
        }
        if priced {
            row.push(p.cost_usd.map_or_else(|| MISSING.to_owned(), format_cost));
        }
        totals.row(row);
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
    serde_json::to_string_pretty(report)
        .map(|s| crate::sanitize::json_for_terminal(&s).into_owned() + "\n")
}

const CSV_HEADER: &str = "provider,model,requests,ok,failed,error_rate,errors,retries,http_429,\
queued_p50_ms,queued_p95_ms,queued_p99_ms,ttft_p50_ms,ttft_p95_ms,ttft_p99_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,\
tokens_per_sec_p50,tokens_per_sec_p95,tokens_per_sec_p99,itl_p50_ms,itl_p95_ms,itl_p99_ms,\
wall_secs,requests_per_min,tokens_per_min,output_tokens_per_min";

/// One header line and one line per provider; errors as `kind=n;kind=n`; empty cells for no value.
pub fn to_csv(report: &BenchReport) -> String {
    let num = |v: f64| format!("{}", round2_value(v));
    let opt = |v: Option<f64>| v.map_or_else(String::new, num);
    let priced = report.providers.iter().any(|p| p.cost_usd.is_some());
    let cached = report.providers.iter().any(ProviderStats::hit_cache);
    let mut out = format!(
        "{CSV_HEADER}{}{}\n",
        if cached {
            ",cached_input_tokens,cache_write_tokens"
        } else {
            ""
        },
        if priced { ",cost_usd" } else { "" }
    );
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
        if cached {
            cells.extend([
                p.cached_input_tokens.to_string(),
                p.cache_write_tokens.to_string(),
            ]);
        }
        if priced {
            cells.push(p.cost_usd.map_or_else(String::new, |c| c.to_string()));
        }
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
