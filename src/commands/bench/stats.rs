//! Reducing samples to numbers: percentiles per measure and achieved throughput per provider.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::client::Outcome;
use crate::metrics::{inter_token_latency, percentile, sorted, tokens_per_sec};
use crate::provider::ErrorKind;

/// What one request contributes to the statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Time spent waiting for paddock's own rate limiter (not the provider's doing).
    pub queued: Duration,
    /// TTFT and latency with the queue time taken out: what the provider took.
    pub ttft: Option<Duration>,
    /// Time to the first answer token, when the model reasoned first.
    pub ttfat: Option<Duration>,
    pub latency: Duration,
    pub output_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    /// Prompt tokens read from and written to the provider's cache, as reported.
    pub cache_read_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub generation_time: Option<Duration>,
    pub retries: u32,
    /// HTTP 429 responses seen: retried ones plus a final 429 error.
    pub http_429: u32,
    pub error: Option<ErrorKind>,
}

impl Sample {
    /// `retried_429` counts the `Retry` events of this request whose error had status 429. The
    /// outcome's TTFT and latency already leave out its queue time (limiter and retry waits).
    pub fn from_outcome(o: &Outcome, retried_429: u32) -> Self {
        let final_429 = u32::from(o.error.as_ref().is_some_and(|e| e.status == Some(429)));
        Self {
            queued: o.queue,
            ttft: o.ttft,
            ttfat: o.ttfat.filter(|_| o.reasoning.is_some()),
            latency: o.latency,
            // Every generated token: what tokens/s and the output rate are over.
            output_tokens: o.usage.generated_tokens(),
            total_tokens: o.usage.total(),
            cache_read_tokens: o.usage.cache_read_input_tokens,
            cache_write_tokens: o.usage.cache_creation_input_tokens,
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
    /// No samples at all.
    pub fn is_empty(&self) -> bool {
        self.p50.is_none()
    }

    pub fn of(samples: Vec<f64>) -> Self {
        let s = sorted(samples);
        Self {
            p50: percentile(&s, 50.0),
            p95: percentile(&s, 95.0),
            p99: percentile(&s, 99.0),
        }
    }
}

pub(super) fn round2_value(v: f64) -> f64 {
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
    /// Time to first answer token, over the requests whose model reasoned first (absent when
    /// none did).
    #[serde(skip_serializing_if = "Spread::is_empty")]
    pub ttfat_ms: Spread,
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
    /// Prompt tokens the successful requests read from the provider's cache, summed (absent
    /// when none did).
    #[serde(skip_serializing_if = "is_zero")]
    pub cached_input_tokens: u64,
    /// Prompt tokens they wrote to the cache, summed (Anthropic reports them; absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// What the provider's answers cost in US dollars, when the config prices the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl ProviderStats {
    /// True when some request read from or wrote to the provider's prompt cache.
    pub fn hit_cache(&self) -> bool {
        self.cached_input_tokens > 0 || self.cache_write_tokens > 0
    }

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
        let total = |f: fn(&Sample) -> Option<u64>| {
            ok.iter()
                .filter_map(|s| f(s))
                .fold(0u64, u64::saturating_add)
        };
        let sum = |f: fn(&Sample) -> Option<u64>| total(f) as f64;
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
            ttfat_ms: Spread::of(ok.iter().filter_map(|s| s.ttfat.map(ms)).collect()),
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
            cached_input_tokens: total(|s| s.cache_read_tokens),
            cache_write_tokens: total(|s| s.cache_write_tokens),
            cost_usd: None,
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
