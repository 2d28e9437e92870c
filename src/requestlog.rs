//! The request log: one JSON line per finished request, so a user can see what their traffic did.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::client::Outcome;

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    provider: &'a str,
    model: &'a str,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    ttft_ms: Option<f64>,
    latency_ms: f64,
    queue_ms: f64,
    retries: u32,
    finish_reason: Option<&'a str>,
    error_kind: Option<&'a str>,
    status: Option<u16>,
}

/// Appends to a JSON-lines file. Failures are logged, never fatal: the request itself worked.
#[derive(Debug, Clone)]
pub struct RequestLog {
    path: Option<PathBuf>,
}

impl RequestLog {
    pub fn at(path: Option<PathBuf>) -> Self {
        Self { path }
    }

    pub fn default_location() -> Self {
        Self::at(crate::paths::request_log_file())
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn record(&self, outcome: &Outcome) {
        let Some(path) = &self.path else { return };
        if let Err(e) = line(outcome).and_then(|l| append(path, &l)) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the request log");
        }
    }

    /// [`record`](Self::record) from an event loop: the line is made now, the file written on
    /// tokio's blocking pool, so the loop never waits on the disk.
    pub fn record_in_background(&self, outcome: &Outcome) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let line = match line(outcome) {
            Ok(line) => line,
            Err(e) => return tracing::warn!(error = %e, "could not encode a request-log line"),
        };
        tokio::task::spawn_blocking(move || {
            if let Err(e) = append(&path, &line) {
                tracing::warn!(path = %path.display(), error = %e, "could not write the request log");
            }
        });
    }
}

fn line(o: &Outcome) -> std::io::Result<String> {
    // Rounded as `--json` and the session round them: one figure for each measure everywhere.
    let figures = o.to_json();
    let json = serde_json::to_string(&Line {
        time: now_rfc3339(),
        provider: &o.provider,
        model: &o.model,
        input_tokens: o.usage.input_tokens,
        output_tokens: o.usage.output_tokens,
        ttft_ms: figures.ttft_ms,
        latency_ms: figures.latency_ms,
        queue_ms: figures.queue_ms,
        retries: o.retries,
        finish_reason: o.finish_reason.as_deref(),
        error_kind: o.error.as_ref().map(|e| e.kind.as_str()),
        status: o.error.as_ref().and_then(|e| e.status),
    })?;
    Ok(json + "\n")
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    // One write of a whole line, so concurrent writers interleave lines, not bytes.
    let mut file = crate::paths::open_private_append(path)?;
    file.write_all(line.as_bytes())
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
