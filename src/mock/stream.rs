//! Paced streaming: one SSE event per token at the model's speed, with mid-stream faults applied.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use hyper::body::Frame;
use tokio::time::{sleep, sleep_until, Instant};

use super::scenario::{FaultKind, FaultSpec};
use super::text::Rng;
use super::wire::{Framer, Stop};

/// How fast an answer comes out.
#[derive(Debug, Clone)]
pub struct Pace {
    pub ttft: Duration,
    /// Mean gap between tokens; zero streams as fast as the socket takes it.
    pub gap: Duration,
    /// Mean gap before each of the leading `thoughts` tokens (reasoning has its own speed).
    pub thought_gap: Duration,
    pub thoughts: usize,
    pub jitter: f64,
    pub rng: Rng,
}

impl Pace {
    /// `d` scaled by a random factor in [1 - jitter, 1 + jitter].
    pub fn jittered(&mut self, d: Duration) -> Duration {
        let factor = 1.0 + self.jitter * (2.0 * self.rng.unit() - 1.0);
        d.mul_f64(factor.max(0.0))
    }

    /// Total time a non-streaming answer of `n` tokens takes to generate.
    pub fn total(&mut self, n: usize) -> Duration {
        let ttft = self.ttft;
        let thoughts = self.thoughts.min(n);
        let count = |k: usize| u32::try_from(k).unwrap_or(u32::MAX);
        let work = self
            .thought_gap
            .saturating_mul(count(thoughts))
            .saturating_add(self.gap.saturating_mul(count(n - thoughts)));
        self.jittered(ttft) + self.jittered(work)
    }

    /// The mean gap before token `i` (0-based): thinking speed for a thought, else answer speed.
    fn gap_before(&self, i: usize) -> Duration {
        if i < self.thoughts {
            self.thought_gap
        } else {
            self.gap
        }
    }
}

/// The text of the huge-event fault: `bytes` bytes of plain words.
pub fn huge_text(bytes: usize) -> String {
    const WORD: &str = "lorem ";
    let mut s = WORD.repeat(bytes / WORD.len() + 1);
    s.truncate(bytes);
    s
}

/// The response body of one streamed answer, as body frames.
pub fn body_stream(
    mut framer: Box<dyn Framer>,
    tokens: Vec<String>,
    stop: Stop,
    mut pace: Pace,
    fault: Option<FaultSpec>,
) -> impl Stream<Item = Result<Frame<Bytes>, io::Error>> + Send {
    let frame = |s: String| Ok::<_, io::Error>(Frame::data(Bytes::from(s)));
    async_stream::stream! {
        yield frame(framer.start());
        let ttft = pace.ttft;
        let mut deadline = Instant::now() + pace.jittered(ttft);
        sleep_until(deadline).await;
        let mut sent: u64 = 0;
        for (i, token) in tokens.iter().enumerate() {
            if let Some(f) = fault.as_ref().filter(|f| f.after_tokens == i) {
                match f.kind {
                    FaultKind::Drop => {
                        // Let the connection flush what was sent, then cut it: no end marker, no usage.
                        sleep(Duration::from_millis(30)).await;
                        tracing::debug!(after = i, "mock: dropping the stream");
                        yield Err(io::Error::new(io::ErrorKind::ConnectionAborted, "scripted mid-stream drop"));
                        return;
                    }
                    FaultKind::Stall => {
                        sleep(Duration::from_millis(f.duration_ms)).await;
                        deadline = Instant::now();
                    }
                    FaultKind::Malformed => yield frame(framer.malformed()),
                    FaultKind::HugeEvent => {
                        sent += 1;
                        yield frame(framer.token(&huge_text(f.bytes)));
                    }
                    FaultKind::StreamError => {
                        yield frame(framer.error_event());
                        return;
                    }
                    _ => {}
                }
            }
            sent += 1;
            yield frame(framer.token(token));
            if let Some(ping) = framer.keepalive() {
                yield frame(ping);
            }
            let gap = pace.gap_before(i + 1);
            if !gap.is_zero() && i + 1 < tokens.len() {
                deadline += pace.jittered(gap);
                sleep_until(deadline).await;
            }
        }
        yield frame(framer.finish(stop, sent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_text_has_the_exact_size() {
        assert_eq!(huge_text(1 << 20).len(), 1 << 20);
        assert_eq!(huge_text(3), "lor");
    }

    #[test]
    fn thoughts_and_answer_each_go_at_their_own_speed() {
        let mut p = Pace {
            ttft: Duration::from_millis(100),
            gap: Duration::from_millis(10),
            thought_gap: Duration::from_millis(2),
            thoughts: 5,
            jitter: 0.0,
            rng: Rng::new(1),
        };
        assert_eq!(p.gap_before(4), Duration::from_millis(2));
        assert_eq!(p.gap_before(5), Duration::from_millis(10));
        // 100 ms to the first token, 5 thoughts at 2 ms, 3 answer tokens at 10 ms.
        assert_eq!(p.total(8), Duration::from_millis(140));
        assert_eq!(p.total(3), Duration::from_millis(106));
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let mut p = Pace {
            ttft: Duration::ZERO,
            gap: Duration::ZERO,
            thought_gap: Duration::ZERO,
            thoughts: 0,
            jitter: 0.25,
            rng: Rng::new(5),
        };
        for _ in 0..1000 {
            let d = p.jittered(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(75) && d <= Duration::from_millis(125),
                "{d:?}"
            );
        }
    }
}
