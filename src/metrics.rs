//! Per-request timing (TTFT, latency, inter-token gaps) and percentile helpers for reports.

use std::time::Duration;

use tokio::time::Instant;

/// Times one request from the moment it was asked for. The time paddock itself made it wait —
/// queued in the client-side limiter, sleeping before a retry — is kept apart as the queue time
/// and left out of TTFT and latency, which measure the provider (README, "Metrics").
#[derive(Debug, Clone)]
pub struct RequestTimer {
    start: Instant,
    queued: Duration,
    /// The first token of any kind (reasoning or answer): what TTFT measures.
    first_token: Option<Instant>,
    /// The first answer token: what TTFAT measures.
    first_answer: Option<Instant>,
    last_token: Option<Instant>,
    /// Gaps between consecutive content deltas in microseconds, for smoothness (chunk-level, not
    /// token-level). Four bytes each: a flood of chunks makes this the largest thing a request keeps,
    /// so past [`MAX_GAPS`] entries neighbours are summed and each entry covers twice the chunks.
    chunk_gaps_us: Vec<u32>,
    /// Chunk gaps per entry (a power of two), and the gap being summed into the next entry.
    gaps_per_entry: u32,
    pending: (u32, u64),
    /// Chunk gaps are recorded (off for a caller that reports none, such as `bench`).
    keep_gaps: bool,
}

/// A duration in milliseconds rounded to 0.1 ms: how every figure is reported and saved, so
/// `--json`, the session and every view show the same number.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The most entries a request keeps for its chunk gaps (4 MiB).
pub const MAX_GAPS: usize = 1 << 20;

impl RequestTimer {
    pub fn start(now: Instant) -> Self {
        Self {
            start: now,
            queued: Duration::ZERO,
            first_token: None,
            first_answer: None,
            last_token: None,
            chunk_gaps_us: Vec::new(),
            gaps_per_entry: 1,
            pending: (0, 0),
            keep_gaps: true,
        }
    }

    /// The same timer, keeping no chunk gaps: a flood then costs no memory per chunk.
    pub fn without_chunk_gaps(mut self) -> Self {
        self.keep_gaps = false;
        self
    }

    /// An answer delta arrived at `now`.
    pub fn on_delta(&mut self, now: Instant) {
        self.first_answer.get_or_insert(now);
        self.on_token(now);
    }

    /// A reasoning (thinking) delta arrived at `now`: a token, but not yet the answer.
    pub fn on_reasoning(&mut self, now: Instant) {
        self.on_token(now);
    }

    fn on_token(&mut self, now: Instant) {
        if self.first_token.is_none() {
            self.first_token = Some(now);
        }
        if let Some(prev) = self.last_token {
            let gap = now.saturating_duration_since(prev).as_micros();
            self.push_gap(u64::try_from(gap).unwrap_or(u64::MAX));
        }
        self.last_token = Some(now);
    }

    /// Time spent waiting in paddock's own queue (limiter, retry waits): it is not the provider's.
    pub fn add_queue(&mut self, waited: Duration) {
        self.queued = self.queued.saturating_add(waited);
    }

    pub fn queue(&self) -> Duration {
        self.queued
    }

    /// From the request's start to its first content token, less the queue time (all of which
    /// comes before the first token: nothing is retried after it).
    pub fn ttft(&self) -> Option<Duration> {
        self.first_token.map(|t| {
            t.saturating_duration_since(self.start)
                .saturating_sub(self.queued)
        })
    }

    /// Time to first answer token: like TTFT, but a reasoning model's thinking does not count.
    pub fn ttfat(&self) -> Option<Duration> {
        self.first_answer.map(|t| {
            t.saturating_duration_since(self.start)
                .saturating_sub(self.queued)
        })
    }

    /// From the request's start to `now`, less the queue time.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
            .saturating_sub(self.queued)
    }

    fn push_gap(&mut self, gap_us: u64) {
        if !self.keep_gaps {
            return;
        }
        let (n, sum) = &mut self.pending;
        *n += 1;
        *sum = sum.saturating_add(gap_us);
        if *n < self.gaps_per_entry {
            return;
        }
        let entry = u32::try_from(*sum).unwrap_or(u32::MAX);
        self.pending = (0, 0);
        if self.chunk_gaps_us.len() == MAX_GAPS {
            // Halve the resolution, not the record: the sums keep every gap's time.
            let merged: Vec<u32> = self
                .chunk_gaps_us
                .chunks(2)
                .map(|pair| pair.iter().fold(0u32, |a, &b| a.saturating_add(b)))
                .collect();
            self.chunk_gaps_us = merged;
            self.gaps_per_entry *= 2;
        }
        self.chunk_gaps_us.push(entry);
    }

    pub fn chunk_gaps_us(&self) -> &[u32] {
        &self.chunk_gaps_us
    }

    /// The gaps, moved out rather than copied.
    pub fn into_chunk_gaps_us(self) -> Vec<u32> {
        self.chunk_gaps_us
    }

    /// Time from the first to the last token of any kind.
    pub fn generation_time(&self) -> Option<Duration> {
        Some(
            self.last_token?
                .saturating_duration_since(self.first_token?),
        )
    }
}

/// Output tokens per second over the generation phase (after the first token). Counting tokens,
/// not SSE chunks: servers batch several tokens per chunk, and counting chunks misreports speed.
///
/// No rate comes from an interval shorter than [`MIN_RATE_INTERVAL`]: tokens that arrived in one
/// burst (one read of the socket) say how the server batches, not how fast it generates.
pub fn tokens_per_sec(output_tokens: Option<u64>, generation: Option<Duration>) -> Option<f64> {
    let tokens = output_tokens?;
    let generation = generation.filter(|g| *g >= MIN_RATE_INTERVAL)?;
    (tokens > 1).then(|| (tokens - 1) as f64 / generation.as_secs_f64())
}

/// The shortest generation time a rate is computed from.
pub const MIN_RATE_INTERVAL: Duration = Duration::from_millis(10);

/// Mean inter-token latency from token counts and time: generation time / (tokens - 1).
pub fn inter_token_latency(
    output_tokens: Option<u64>,
    generation: Option<Duration>,
) -> Option<Duration> {
    let tokens = output_tokens?;
    let gen = generation?;
    (tokens > 1).then(|| gen.div_f64((tokens - 1) as f64))
}

/// The p-th percentile (0..=100) by nearest rank; `None` for no samples.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn timer_measures_ttft_and_gaps() {
        let mut t = RequestTimer::start(Instant::now());
        tokio::time::advance(Duration::from_millis(300)).await;
        t.on_delta(Instant::now());
        tokio::time::advance(Duration::from_millis(50)).await;
        t.on_delta(Instant::now());
        assert_eq!(t.ttft(), Some(Duration::from_millis(300)));
        assert_eq!(t.chunk_gaps_us(), &[50_000]);
        assert_eq!(t.generation_time(), Some(Duration::from_millis(50)));
    }

    #[tokio::test(start_paused = true)]
    async fn ttft_counts_the_first_thought_and_ttfat_the_first_answer_token() {
        let mut t = RequestTimer::start(Instant::now());
        tokio::time::advance(Duration::from_millis(200)).await;
        t.on_reasoning(Instant::now());
        tokio::time::advance(Duration::from_millis(700)).await;
        t.on_delta(Instant::now());
        tokio::time::advance(Duration::from_millis(100)).await;
        t.on_delta(Instant::now());
        assert_eq!(t.ttft(), Some(Duration::from_millis(200)));
        assert_eq!(t.ttfat(), Some(Duration::from_millis(900)));
        // tokens/s is over every generated token, thinking included.
        assert_eq!(t.generation_time(), Some(Duration::from_millis(800)));
        assert_eq!(t.chunk_gaps_us(), &[700_000, 100_000]);
    }

    #[test]
    fn a_chunk_flood_keeps_bounded_gaps_with_their_total_time() {
        let start = Instant::now();
        let mut t = RequestTimer::start(start);
        let chunks = MAX_GAPS * 3;
        for i in 1..=chunks {
            t.on_delta(start + Duration::from_micros(10 * i as u64));
        }
        let gaps = t.chunk_gaps_us();
        assert!(gaps.len() <= MAX_GAPS, "{}", gaps.len());
        let total: u64 = gaps.iter().map(|&g| u64::from(g)).sum();
        // Every recorded gap keeps its time (the last partial entry may still be pending).
        assert!(total + 40 >= (chunks as u64 - 1) * 10, "{total}");
    }

    #[tokio::test(start_paused = true)]
    async fn queue_time_is_kept_out_of_ttft_and_latency() {
        let mut t = RequestTimer::start(Instant::now());
        tokio::time::advance(Duration::from_secs(30)).await;
        t.add_queue(Duration::from_secs(30)); // waited in the limiter
        tokio::time::advance(Duration::from_millis(200)).await;
        t.on_delta(Instant::now());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(t.ttft(), Some(Duration::from_millis(200)));
        assert_eq!(t.elapsed(Instant::now()), Duration::from_millis(300));
        assert_eq!(t.queue(), Duration::from_secs(30));
    }

    #[test]
    fn rates_come_from_token_counts() {
        let gen = Some(Duration::from_secs(2));
        assert_eq!(tokens_per_sec(Some(101), gen), Some(50.0));
        assert_eq!(
            inter_token_latency(Some(101), gen),
            Some(Duration::from_millis(20))
        );
        assert_eq!(tokens_per_sec(Some(1), gen), None);
        assert_eq!(tokens_per_sec(None, gen), None);
        // One burst: 500 tokens within 40 microseconds is no rate at all.
        assert_eq!(
            tokens_per_sec(Some(500), Some(Duration::from_micros(40))),
            None
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 50.0), Some(5.0));
        assert_eq!(percentile(&v, 95.0), Some(10.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}

/// Per-token inter-token latencies in milliseconds, sorted, from the gaps between content chunks
/// and the reported output-token count. A chunk may carry several tokens, so each chunk gap is
/// divided by the mean tokens per chunk, `(tokens - 1) / gaps`: the samples then average exactly
/// `generation_time / (tokens - 1)` while keeping the chunk-to-chunk spread (smoothness).
/// Empty when the provider reported no token count or fewer than two tokens arrived.
pub fn token_gap_samples_ms(output_tokens: Option<u64>, chunk_gaps_us: &[u32]) -> Vec<f64> {
    let Some(tokens) = output_tokens.filter(|&t| t > 1) else {
        return Vec::new();
    };
    if chunk_gaps_us.is_empty() {
        return Vec::new();
    }
    let tokens_per_gap = (tokens - 1) as f64 / chunk_gaps_us.len() as f64;
    let mut samples: Vec<f64> = chunk_gaps_us
        .iter()
        .map(|&us| f64::from(us) / 1000.0 / tokens_per_gap)
        .collect();
    samples.sort_by(f64::total_cmp);
    samples
}

/// Sort samples for [`percentile`] (NaN-safe).
pub fn sorted(mut samples: Vec<f64>) -> Vec<f64> {
    samples.sort_by(f64::total_cmp);
    samples
}

#[cfg(test)]
mod token_gap_tests {
    use super::*;

    #[test]
    fn batched_chunks_are_spread_over_their_tokens() {
        // 4 gaps of 30 ms carrying 12 token intervals (3 tokens per chunk): 10 ms per token.
        let gaps = [30_000u32; 4];
        let s = token_gap_samples_ms(Some(13), &gaps);
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|&v| (v - 10.0).abs() < 1e-9), "{s:?}");
        assert!(token_gap_samples_ms(None, &gaps).is_empty());
        assert!(token_gap_samples_ms(Some(1), &gaps).is_empty());
        assert!(token_gap_samples_ms(Some(5), &[]).is_empty());
    }
}
