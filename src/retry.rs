//! Retry policy: exponential backoff with jitter, Retry-After, as pure functions.
//!
//! Nothing here sleeps or reads a clock: the client asks [`RetryPolicy::decide`] what to do and
//! performs the wait itself, so every rule is testable exactly. The one impure helper,
//! [`jitter_sample`], only draws the random number the caller passes in.

use std::fmt;
use std::time::Duration;

use crate::provider::error::ApiError;

/// How hard to try again. The defaults are the official OpenAI and Anthropic SDKs' (PROTOCOLS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The first backoff, before jitter.
    pub base_delay: Duration,
    /// No backoff grows past this, before jitter.
    pub max_delay: Duration,
    /// The longest server-requested wait we sit through; longer ones end the request instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Where a wait came from, for the status bar and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitSource {
    /// The server said how long (`retry-after-ms` / `retry-after`).
    RetryAfter,
    /// Our own exponential backoff.
    Backoff,
}

impl fmt::Display for WaitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitSource::RetryAfter => "Retry-After",
            WaitSource::Backoff => "backoff",
        })
    }
}

/// The verdict: wait this long, then make retry number `retry` of `max_retries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryDecision {
    /// 1-based number of the retry about to happen (also the `x-stainless-retry-count` to send).
    pub retry: u32,
    pub max_retries: u32,
    pub wait: Duration,
    pub source: WaitSource,
}

impl fmt::Display for RetryDecision {
    /// `retry 1/2 in 0.48s (backoff)`: one line for the status bar.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "retry {}/{} in {:.2}s ({})",
            self.retry,
            self.max_retries,
            self.wait.as_secs_f64(),
            self.source
        )
    }
}

impl RetryPolicy {
    /// The default policy with another retry count (the config's `max_retries`).
    pub fn with_max_retries(max_retries: u32) -> Self {
        Self {
            max_retries,
            ..Self::default()
        }
    }

    /// Backoff before the `n`-th retry (0-based): `min(base * 2^n, cap) * factor`, where the factor
    /// is [`jitter_factor`]`(jitter)`, in [0.75, 1]. `jitter` is the same sample in [0, 1) that
    /// [`decide`](Self::decide) takes (0 gives the full delay, values near 1 a quarter less).
    ///
    /// Why jitter: clients that failed together would otherwise retry together and fail again.
    /// Why only downwards: the cap stays a true upper bound (the SDKs do the same).
    pub fn backoff(&self, n: u32, jitter: f64) -> Duration {
        // A shift past 31 or a product past Duration::MAX is far beyond any cap: saturate to it
        // instead of overflowing, so a runaway retry counter can never panic.
        let grown = 2u32
            .checked_pow(n)
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .unwrap_or(self.max_delay);
        let capped = grown.min(self.max_delay);
        // try_from keeps a pathological cap (near Duration::MAX, which f64 rounds up) from panicking.
        Duration::try_from_secs_f64(capped.as_secs_f64() * jitter_factor(jitter)).unwrap_or(capped)
    }

    /// Should we retry after `retries_done` retries, the last attempt having failed with `err`?
    /// `jitter` is a sample in [0, 1) (see [`jitter_sample`]), used only for backoff.
    ///
    /// `None` means give up and report `err`; its `retry_after` still tells the user how long the
    /// server wanted, which is how a too-long Retry-After reaches them.
    pub fn decide(&self, retries_done: u32, err: &ApiError, jitter: f64) -> Option<RetryDecision> {
        // Only failures that waiting can fix. `retriable` already folds in the server's
        // `x-should-retry` and the SDKs' 408/409 rule, so quota, auth and bad requests stop here.
        if !err.retriable {
            return None;
        }
        // The budget is a hard bound: each retry costs the user time and the account tokens.
        if retries_done >= self.max_retries {
            return None;
        }
        let (wait, source) = match err.retry_after {
            // The server knows its own limits better than our guess, so its wait wins, as long as
            // it is a real wait we are willing to sit through.
            Some(wait) if !wait.is_zero() && wait <= self.max_retry_after => {
                (wait, WaitSource::RetryAfter)
            }
            // Longer than we will wait: retrying sooner would only be refused again, and hanging
            // for minutes looks like a freeze; stop and show the suggested wait (OpenAI SDK rule).
            Some(wait) if wait > self.max_retry_after => return None,
            // Zero (or absent) says nothing useful about when capacity returns; retrying at once
            // would hammer a struggling server, so back off as if no header came.
            _ => (self.backoff(retries_done, jitter), WaitSource::Backoff),
        };
        Some(RetryDecision {
            retry: retries_done + 1,
            max_retries: self.max_retries,
            wait,
            source,
        })
    }
}

impl RetryPolicy {
    /// Why [`decide`](Self::decide) gave up on a retriable error, when the reason is not just the
    /// retry budget: the server asked for a longer wait than this policy sits through.
    pub fn why_not(&self, err: &ApiError) -> Option<String> {
        let wait = err.retry_after.filter(|w| *w > self.max_retry_after)?;
        Some(format!(
            "the server asked to wait {:.0} s, longer than the {:.0} s paddock waits; try again later",
            wait.as_secs_f64(),
            self.max_retry_after.as_secs_f64()
        ))
    }
}

/// Map a sample in [0, 1] to a jitter factor in [0.75, 1]: `1 - 0.25 * sample` (the SDKs' formula).
/// Out-of-range samples are clamped and NaN counts as 0, so a bad sample cannot stretch or flip a wait.
pub fn jitter_factor(sample: f64) -> f64 {
    let sample = if sample.is_nan() {
        0.0
    } else {
        sample.clamp(0.0, 1.0)
    };
    1.0 - 0.25 * sample
}

/// A fresh random sample in [0, 1) for [`RetryPolicy::decide`]; the only impure function here.
pub fn jitter_sample() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::error::{http_error, ErrorKind};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn retriable(retry_after: Option<Duration>) -> ApiError {
        ApiError::new(ErrorKind::RateLimit, "slow down")
            .with_status(429)
            .with_retry_after(retry_after)
    }

    #[test]
    fn backoff_doubles_from_base_up_to_the_cap() {
        let p = RetryPolicy::default();
        let seq: Vec<Duration> = (0..8).map(|n| p.backoff(n, 0.0)).collect();
        let want = [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000].map(ms);
        assert_eq!(seq, want);
    }

    #[test]
    fn backoff_never_overflows_for_huge_attempt_numbers() {
        let p = RetryPolicy::default();
        for n in [31, 32, 33, 64, 1000, u32::MAX] {
            assert_eq!(p.backoff(n, 0.0), ms(8000), "n = {n}");
        }
        let huge = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..RetryPolicy::default()
        };
        assert!(huge.backoff(u32::MAX, 0.0) > Duration::from_secs(1 << 60));
    }

    #[test]
    fn jitter_stays_within_three_quarters_and_one() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0, 0.0), ms(500));
        assert_eq!(p.backoff(0, 1.0), ms(375));
        assert_eq!(p.backoff(4, 0.5), ms(7000));
        for sample in [-3.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 7.5] {
            let wait = p.backoff(2, sample);
            assert!(wait >= ms(1500) && wait <= ms(2000), "{sample}: {wait:?}");
        }
        for _ in 0..1000 {
            let sample = jitter_sample();
            assert!((0.0..1.0).contains(&sample));
            let f = jitter_factor(sample);
            assert!((0.75..=1.0).contains(&f));
            let wait = p.backoff(3, sample);
            assert!(wait >= ms(3000) && wait <= ms(4000), "{wait:?}");
        }
    }

    #[test]
    fn decide_uses_backoff_numbered_from_one() {
        let p = RetryPolicy::default();
        let err = retriable(None);
        let first = p.decide(0, &err, 0.0);
        assert_eq!(
            first,
            Some(RetryDecision {
                retry: 1,
                max_retries: 2,
                wait: ms(500),
                source: WaitSource::Backoff
            })
        );
        let second = p.decide(1, &err, 1.0);
        assert_eq!(second.map(|d| (d.retry, d.wait)), Some((2, ms(750))));
    }

    #[test]
    fn max_retries_is_respected() {
        let err = retriable(None);
        let p = RetryPolicy::default();
        assert!(p.decide(1, &err, 0.0).is_some());
        assert_eq!(p.decide(2, &err, 0.0), None);
        assert_eq!(p.decide(u32::MAX, &err, 0.0), None);
        let never = RetryPolicy::with_max_retries(0);
        assert_eq!(never.decide(0, &err, 0.0), None);
        let five = RetryPolicy::with_max_retries(5);
        let waits: Vec<_> = (0..6)
            .map(|n| five.decide(n, &err, 0.0).map(|d| d.wait))
            .collect();
        let want = [
            Some(ms(500)),
            Some(ms(1000)),
            Some(ms(2000)),
            Some(ms(4000)),
            Some(ms(8000)),
            None,
        ];
        assert_eq!(waits, want);
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let p = RetryPolicy::default();
        // Whatever form the header had (ms, seconds, HTTP date), it arrives here as a Duration.
        for wait in [ms(1), ms(250), ms(20_000), Duration::from_secs(60)] {
            let d = p.decide(1, &retriable(Some(wait)), 0.9);
            assert_eq!(
                d.map(|d| (d.wait, d.source)),
                Some((wait, WaitSource::RetryAfter))
            );
        }
    }

    #[test]
    fn zero_retry_after_falls_back_to_backoff() {
        let p = RetryPolicy::default();
        let d = p.decide(1, &retriable(Some(Duration::ZERO)), 0.0);
        assert_eq!(
            d.map(|d| (d.wait, d.source)),
            Some((ms(1000), WaitSource::Backoff))
        );
    }

    #[test]
    fn too_long_retry_after_means_no_retry() {
        let p = RetryPolicy::default();
        assert_eq!(p.decide(0, &retriable(Some(ms(60_001))), 0.0), None);
        assert_eq!(
            p.decide(0, &retriable(Some(Duration::from_secs(3600))), 0.0),
            None
        );
        let patient = RetryPolicy {
            max_retry_after: Duration::from_secs(120),
            ..RetryPolicy::default()
        };
        let d = patient.decide(0, &retriable(Some(Duration::from_secs(90))), 0.0);
        assert_eq!(d.map(|d| d.source), Some(WaitSource::RetryAfter));
    }

    #[test]
    fn auth_and_quota_are_never_retried() {
        let p = RetryPolicy::with_max_retries(10);
        let auth = http_error(401, Some("authentication_error"), None, "invalid x-api-key");
        let quota = http_error(
            429,
            Some("insufficient_quota"),
            Some("insufficient_quota"),
            "You exceeded your current quota, please check your plan and billing details.",
        )
        .with_retry_after(Some(ms(500)));
        for err in [auth, quota] {
            assert_eq!(p.decide(0, &err, 0.0), None, "{err}");
        }
    }

    #[test]
    fn server_verdict_and_retriable_statuses() {
        let p = RetryPolicy::default();
        let overloaded = http_error(529, Some("overloaded_error"), None, "Overloaded");
        assert!(p.decide(0, &overloaded, 0.0).is_some());
        let vetoed = http_error(500, None, None, "boom").with_should_retry(Some(false));
        assert_eq!(p.decide(0, &vetoed, 0.0), None);
        let conflict = http_error(409, None, None, "conflict");
        assert!(p.decide(0, &conflict, 0.0).is_some());
    }

    #[test]
    fn display_forms() {
        assert_eq!(WaitSource::RetryAfter.to_string(), "Retry-After");
        assert_eq!(WaitSource::Backoff.to_string(), "backoff");
        let d = RetryDecision {
            retry: 1,
            max_retries: 2,
            wait: ms(480),
            source: WaitSource::Backoff,
        };
        assert_eq!(d.to_string(), "retry 1/2 in 0.48s (backoff)");
    }
}
