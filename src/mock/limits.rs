//! Server-side rate limits: requests and tokens per rolling window, per model, as a real provider enforces them.
//!
//! A pure policy: every call takes `now`, so tests drive it with made-up instants.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The budget of one model at one moment, as the response headers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub limit_requests: Option<u64>,
    pub remaining_requests: u64,
    /// Time until the request budget is whole again.
    pub reset_requests: Duration,
    pub limit_tokens: Option<u64>,
    pub remaining_tokens: u64,
    pub reset_tokens: Duration,
}

/// Which budget refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Requests,
    Tokens,
    /// The request alone is larger than the whole token budget: waiting never helps.
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Admitted(Snapshot),
    Refused {
        which: Exceeded,
        retry_after: Duration,
        snapshot: Snapshot,
        limit: u64,
        used: u64,
        requested: u64,
    },
}

/// Admitted requests in the current window for one model.
#[derive(Debug)]
pub struct Window {
    pub limit_requests: Option<u64>,
    pub limit_tokens: Option<u64>,
    pub length: Duration,
    /// (when admitted, tokens it cost), oldest first.
    entries: VecDeque<(Instant, u64)>,
}

impl Window {
    pub fn new(limit_requests: Option<u64>, limit_tokens: Option<u64>, length: Duration) -> Self {
        Window {
            limit_requests,
            limit_tokens,
            length,
            entries: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(t, _)) = self.entries.front() {
            if now.saturating_duration_since(t) >= self.length {
                self.entries.pop_front();
            } else {
                break;
            }
        }
    }

    fn until_expiry(&self, t: Instant, now: Instant) -> Duration {
        (t + self.length).saturating_duration_since(now)
    }

    pub fn snapshot(&mut self, now: Instant) -> Snapshot {
        self.expire(now);
        let used_req = self.entries.len() as u64;
        let used_tok: u64 = self.entries.iter().map(|e| e.1).sum();
        let newest = self
            .entries
            .back()
            .map_or(Duration::ZERO, |&(t, _)| self.until_expiry(t, now));
        let newest_tok = self
            .entries
            .iter()
            .rev()
            .find(|e| e.1 > 0)
            .map_or(Duration::ZERO, |&(t, _)| self.until_expiry(t, now));
        Snapshot {
            limit_requests: self.limit_requests,
            remaining_requests: self
                .limit_requests
                .map_or(0, |l| l.saturating_sub(used_req)),
            reset_requests: newest,
            limit_tokens: self.limit_tokens,
            remaining_tokens: self.limit_tokens.map_or(0, |l| l.saturating_sub(used_tok)),
            reset_tokens: newest_tok,
        }
    }

    /// Admit a request costing `tokens` (input + output) or say how long until it would fit.
    pub fn admit(&mut self, now: Instant, tokens: u64) -> Admission {
        self.expire(now);
        if let Some(limit) = self.limit_requests {
            let used = self.entries.len() as u64;
            if used + 1 > limit {
                // The next slot frees when enough of the oldest entries expire.
                let idx = (used + 1 - limit) as usize - 1;
                let retry_after = self
                    .entries
                    .get(idx)
                    .map_or(self.length, |&(t, _)| self.until_expiry(t, now));
                let snapshot = self.snapshot(now);
                return Admission::Refused {
                    which: Exceeded::Requests,
                    retry_after,
                    snapshot,
                    limit,
                    used,
                    requested: 1,
                };
            }
        }
        if let Some(limit) = self.limit_tokens {
            let used: u64 = self.entries.iter().map(|e| e.1).sum();
            if tokens > limit {
                let snapshot = self.snapshot(now);
                return Admission::Refused {
                    which: Exceeded::TooLarge,
                    retry_after: self.length,
                    snapshot,
                    limit,
                    used,
                    requested: tokens,
                };
            }
            if used + tokens > limit {
                let mut freed = 0;
                let mut retry_after = self.length;
                for &(t, cost) in &self.entries {
                    freed += cost;
                    if used - freed + tokens <= limit {
                        retry_after = self.until_expiry(t, now);
                        break;
                    }
                }
                let snapshot = self.snapshot(now);
                return Admission::Refused {
                    which: Exceeded::Tokens,
                    retry_after,
                    snapshot,
                    limit,
                    used,
                    requested: tokens,
                };
            }
        }
        if self.limit_requests.is_some() || self.limit_tokens.is_some() {
            self.entries.push_back((now, tokens));
        }
        Admission::Admitted(self.snapshot(now))
    }
}

/// Go's `time.Duration.String()` at millisecond precision, as OpenAI's reset headers use it:
/// `0s`, `12ms`, `1.5s`, `6m0s`, `1h2m3s`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    let mut secs = s.to_string();
    if frac > 0 {
        secs.push_str(format!(".{frac:03}").trim_end_matches('0'));
    }
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_look_like_openai_headers() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration(ms(0)), "0s");
        assert_eq!(go_duration(ms(12)), "12ms");
        assert_eq!(go_duration(ms(1500)), "1.5s");
        assert_eq!(go_duration(ms(1000)), "1s");
        assert_eq!(go_duration(ms(360_000)), "6m0s");
        assert_eq!(go_duration(ms(3_723_000)), "1h2m3s");
        assert_eq!(go_duration(ms(9816)), "9.816s");
    }

    #[test]
    fn request_budget_rolls() {
        let t0 = Instant::now();
        let mut w = Window::new(Some(2), None, Duration::from_secs(60));
        assert!(matches!(w.admit(t0, 10), Admission::Admitted(s) if s.remaining_requests == 1));
        let t1 = t0 + Duration::from_secs(10);
        assert!(
            matches!(w.admit(t1, 10), Admission::Admitted(s) if s.remaining_requests == 0
            && s.reset_requests == Duration::from_secs(60))
        );
        match w.admit(t0 + Duration::from_secs(20), 10) {
            Admission::Refused {
                which: Exceeded::Requests,
                retry_after,
                ..
            } => {
                assert_eq!(retry_after, Duration::from_secs(40))
            }
            other => panic!("{other:?}"),
        }
        // The first entry has expired at t0+60: one slot back.
        assert!(
            matches!(w.admit(t0 + Duration::from_secs(60), 10), Admission::Admitted(s) if s.remaining_requests == 0)
        );
    }

    #[test]
    fn token_budget_waits_for_enough_to_expire() {
        let t0 = Instant::now();
        let mut w = Window::new(None, Some(1000), Duration::from_secs(60));
        assert!(matches!(w.admit(t0, 400), Admission::Admitted(s) if s.remaining_tokens == 600));
        assert!(matches!(
            w.admit(t0 + Duration::from_secs(30), 400),
            Admission::Admitted(_)
        ));
        match w.admit(t0 + Duration::from_secs(40), 500) {
            Admission::Refused {
                which: Exceeded::Tokens,
                retry_after,
                used,
                requested,
                ..
            } => {
                assert_eq!(
                    (retry_after, used, requested),
                    (Duration::from_secs(20), 800, 500)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            w.admit(t0, 5000),
            Admission::Refused {
                which: Exceeded::TooLarge,
                ..
            }
        ));
    }

    #[test]
    fn unlimited_windows_admit_everything() {
        let mut w = Window::new(None, None, Duration::from_secs(1));
        for _ in 0..1000 {
            assert!(matches!(
                w.admit(Instant::now(), 1_000_000),
                Admission::Admitted(_)
            ));
        }
    }
}
