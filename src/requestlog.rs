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
        if let Err(e) = append(path, outcome) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the request log");
        }
    }
}

fn append(path: &Path, o: &Outcome) -> std::io::Result<()> {
    let json = serde_json::to_string(&Line {
        time: now_rfc3339(),
        provider: &o.provider,
        model: &o.model,
        input_tokens: o.usage.input_tokens,
        output_tokens: o.usage.output_tokens,
        ttft_ms: o.ttft.map(|d| d.as_secs_f64() * 1000.0),
        latency_ms: o.latency.as_secs_f64() * 1000.0,
        retries: o.retries,
        finish_reason: o.finish_reason.as_deref(),
        error_kind: o.error.as_ref().map(|e| e.kind.as_str()),
        status: o.error.as_ref().and_then(|e| e.status),
    })?;
    // One write of a whole line, so concurrent writers interleave lines, not bytes.
    let mut file = crate::paths::open_private_append(path)?;
    file.write_all(format!("{json}\n").as_bytes())
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
