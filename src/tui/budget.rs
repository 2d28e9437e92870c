//! Each provider's budget over the last minute: what was left of it, sampled once a second from
//! the limiter snapshots, so the status bar can draw it draining and refilling.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::ratelimit::LimiterSnapshot;

/// One sample a second, a minute of them.
pub const EVERY: Duration = Duration::from_secs(1);
pub const KEPT: usize = 60;

/// What was left of one provider's budget, oldest first, as a fraction of its limit.
#[derive(Debug, Clone, Default)]
pub struct BudgetHistory {
    left: VecDeque<f64>,
    last: Option<Instant>,
}

impl BudgetHistory {
    /// Take `snap` as the sample for `now`, if a second has passed since the last one. Without
    /// any limit (ours or the server's) there is nothing to draw.
    pub fn record(&mut self, now: Instant, snap: &LimiterSnapshot) {
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < EVERY)
        {
            return;
        }
        let Some(left) = left_fraction(snap) else {
            return;
        };
        self.last = Some(now);
        if self.left.len() == KEPT {
            self.left.pop_front();
        }
        self.left.push_back(left);
    }

    /// The newest `n` samples as a one-line chart, `▁` nearly spent to `█` untouched.
    pub fn sparkline(&self, n: usize) -> Option<String> {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        if self.left.len() < 2 {
            return None;
        }
        let skip = self.left.len().saturating_sub(n);
        Some(
            self.left
                .iter()
                .skip(skip)
                .map(|f| BARS[((f.clamp(0.0, 1.0) * 7.0).round() as usize).min(7)])
                .collect(),
        )
    }
}

/// The tighter of the request and token budgets: what is left of it, 0 to 1.
fn left_fraction(s: &LimiterSnapshot) -> Option<f64> {
    let part = |used: u64, limit: Option<u64>, server: crate::ratelimit::ServerLimit| match (
        limit,
        server.limit,
        server.remaining,
    ) {
        (Some(l), _, _) if l > 0 => Some(l.saturating_sub(used) as f64 / l as f64),
        (None, Some(l), Some(r)) if l > 0 => Some(r.min(l) as f64 / l as f64),
        _ => None,
    };
    let req = part(
        u64::from(s.requests_used),
        s.requests_limit.map(u64::from),
        s.server.requests,
    );
    let tok = part(s.tokens_used, s.tokens_limit, s.server.tokens);
    match (req, tok) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(used: u32, limit: u32) -> LimiterSnapshot {
        LimiterSnapshot {
            requests_used: used,
            requests_limit: Some(limit),
            tokens_used: 0,
            tokens_limit: None,
            server: Default::default(),
            next_free_in: None,
            waiting: 0,
            retries_in_flight: 0,
            window: Duration::from_secs(60),
            shared: None,
        }
    }

    #[test]
    fn a_draining_then_refilling_budget_draws_down_and_up_once_a_second() {
        let t0 = Instant::now();
        let mut h = BudgetHistory::default();
        for (s, used) in [0u32, 2, 4, 6, 3, 0].iter().enumerate() {
            let at = t0 + Duration::from_secs(s as u64);
            h.record(at, &snap(*used, 6));
            // More snapshots within the same second add nothing.
            h.record(at + Duration::from_millis(300), &snap(6, 6));
        }
        assert_eq!(h.sparkline(8).as_deref(), Some("█▆▃▁▅█"));
        assert_eq!(h.sparkline(3).as_deref(), Some("▁▅█"));
        let mut none = BudgetHistory::default();
        none.record(
            t0,
            &LimiterSnapshot {
                requests_limit: None,
                ..snap(1, 1)
            },
        );
        assert_eq!(none.sparkline(8), None, "no limit, nothing to draw");
    }
}
