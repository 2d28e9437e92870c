//! What the server's rate-limit headers said about one budget, and what we spent against it since.

use std::time::Duration;

use tokio::time::Instant;

use super::window::ReservationId;
use super::ServerLimit;

/// What the server last said about one budget (requests or tokens), and what we spent since.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ServerBudget {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    /// Reservations from this id on were made after the server counted; they spend `remaining`.
    counted_from: u64,
    spent: u64,
}

impl ServerBudget {
    pub(super) fn observe(
        &mut self,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset_at: Option<Instant>,
        next_id: u64,
    ) {
        if limit.is_some() {
            self.limit = limit;
        }
        // Remaining and reset come as a pair; a new count starts a new tally of our own spending.
        if remaining.is_some() {
            self.remaining = remaining;
            self.reset_at = reset_at;
            self.counted_from = next_id;
            self.spent = 0;
        }
    }

    /// How long until `need` more fit the server's count; `None` if they fit now. Without a reset
    /// time we cannot know when the count refills, so it informs the display but never blocks.
    pub(super) fn wait(&self, now: Instant, need: u64) -> Option<Duration> {
        let (remaining, reset_at) = (self.remaining?, self.reset_at?);
        if now >= reset_at || self.spent.saturating_add(need) <= remaining {
            return None;
        }
        Some(reset_at - now)
    }

    pub(super) fn spend(&mut self, id: ReservationId, amount: u64) {
        if id.0 >= self.counted_from {
            self.spent = self.spent.saturating_add(amount);
        }
    }

    pub(super) fn refund(&mut self, id: ReservationId, amount: u64) {
        if id.0 >= self.counted_from {
            self.spent = self.spent.saturating_sub(amount);
        }
    }

    /// As reported. Once the reset time has passed the budget has refilled, so the limit is
    /// what remains (both SDKs' providers define reset as "fully replenished").
    pub(super) fn view(&self, now: Instant) -> ServerLimit {
        let reset_in = self.reset_at.map(|at| at.saturating_duration_since(now));
        match reset_in {
            Some(left) if left.is_zero() => ServerLimit {
                limit: self.limit,
                remaining: self.limit,
                reset_in: None,
            },
            _ => ServerLimit {
                limit: self.limit,
                remaining: self.remaining,
                reset_in,
            },
        }
    }
}
