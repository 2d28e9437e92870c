//! How a request ended, and the `ask --json` object of the CLI contract.

use std::time::Duration;

use serde::Serialize;

use crate::provider::{ApiError, ErrorKind, Usage};

/// How one request ended, success or failure, with everything the CLI contract reports.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub provider: String,
    pub model: String,
    pub content: String,
    /// The model's reasoning (thinking) text, when any streamed.
    pub reasoning: Option<String>,
    /// Its signature (Anthropic), needed to send the thinking back in a later turn.
    pub reasoning_signature: Option<String>,
    /// Anthropic's thinking blocks in the order they came (signed thinking, redacted thinking):
    /// what a later turn sends back.
    pub thinking_blocks: Vec<crate::provider::ThinkingBlock>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    /// From sending the request to its first token of any kind, queue time excluded.
    pub ttft: Option<Duration>,
    /// From sending the request to its first answer token (after any thinking).
    pub ttfat: Option<Duration>,
    /// From the request's start to its end, queue time excluded.
    pub latency: Duration,
    /// Time paddock made the request wait: in the client-side limiter and before retries.
    pub queue: Duration,
    pub retries: u32,
    pub error: Option<ApiError>,
    /// Gaps between content chunks in microseconds, and the generation time, for race/bench
    /// smoothness metrics.
    pub chunk_gaps_us: Vec<u32>,
    pub generation_time: Option<Duration>,
    /// Stream events that could not be decoded and were skipped (each logged).
    pub skipped_events: u32,
}

/// The `ask --json` object of DESIGN.md §1.
#[derive(Debug, Serialize)]
pub struct OutcomeJson<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub content: &'a str,
    pub finish_reason: Option<&'a str>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    pub reasoning: Option<&'a str>,
    pub reasoning_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub ttft_ms: Option<f64>,
    pub ttfat_ms: Option<f64>,
    pub latency_ms: f64,
    pub queue_ms: f64,
    pub retries: u32,
    /// Events that could not be decoded and were skipped; present only when there were some.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_events: u32,
    pub error: Option<ErrorJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ErrorJson<'a> {
    pub kind: ErrorKind,
    pub message: &'a str,
    pub retriable: bool,
    pub status: Option<u16>,
    /// How long the server asked to wait, when it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<f64>,
    /// Why a retriable error was not retried, when that was not the retry budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_retried: Option<&'a str>,
}

impl<'a> ErrorJson<'a> {
    /// The `error` object of `--json` output for `e`.
    pub fn of(e: &'a ApiError) -> Self {
        ErrorJson {
            kind: e.kind,
            message: &e.message,
            retriable: e.retriable,
            status: e.status,
            retry_after_ms: e.retry_after.map(ms),
            not_retried: e.not_retried.as_deref(),
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

use crate::metrics::ms;

impl Outcome {
    pub fn to_json(&self) -> OutcomeJson<'_> {
        OutcomeJson {
            provider: &self.provider,
            model: &self.model,
            content: &self.content,
            finish_reason: self.finish_reason.as_deref(),
            input_tokens: self.usage.input_tokens,
            output_tokens: self.usage.output_tokens,
            total_tokens: self.usage.total(),
            reasoning: self.reasoning.as_deref(),
            reasoning_tokens: self.usage.reasoning_tokens,
            cached_input_tokens: self.usage.cache_read_input_tokens,
            cache_write_tokens: self.usage.cache_creation_input_tokens,
            ttft_ms: self.ttft.map(ms),
            ttfat_ms: self.ttfat.map(ms),
            latency_ms: ms(self.latency),
            queue_ms: ms(self.queue),
            retries: self.retries,
            skipped_events: self.skipped_events,
            error: self.error.as_ref().map(ErrorJson::of),
        }
    }
}
