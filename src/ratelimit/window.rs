//! The pure rolling window: reservations of the last window plus the server's budgets, all timed by `now`.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::budget::ServerBudget;
use super::{LimiterConfig, LimiterSnapshot, ServerView};
use crate::provider::RateLimitHeaders;

/// Names one reservation inside a [`Window`]. Ids grow with time, so they also order reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReservationId(pub(super) u64);

#[derive(Debug, Clone, Copy)]
struct Reservation {
    id: ReservationId,
    at: Instant,
    tokens: u64,
}

/// The reservations of one rolling window plus the server's view; pure, every method takes `now`.
/// `now` must never go backwards between calls (tokio's `Instant` does not).
#[derive(Debug)]
pub struct Window {
    requests_limit: Option<u32>,
    tokens_limit: Option<u64>,
    length: Duration,
    /// Oldest first; a reservation counts while it is younger than `length`.
    entries: VecDeque<Reservation>,
    next_id: u64,
    server_requests: ServerBudget,
    server_tokens: ServerBudget,
    /// The limits the server advertised last (`x-ratelimit-limit-*`): where they are tighter than
    /// the config's, they bound the rolling window too, so the burst after a server reset is
    /// the server's size, not ours.
    advertised_requests: Option<u64>,
    advertised_tokens: Option<u64>,
}

impl Window {
    pub fn new(cfg: &LimiterConfig) -> Self {
        Self {
            requests_limit: cfg.requests_per_window.map(|n| n.max(1)),
            tokens_limit: cfg.tokens_per_window.map(|n| n.max(1)),
            length: cfg.window,
            entries: VecDeque::new(),
            next_id: 0,
            server_requests: ServerBudget::default(),
            server_tokens: ServerBudget::default(),
            advertised_requests: None,
            advertised_tokens: None,
        }
    }

    /// Requests per window: the config's or the server's advertised limit, the tighter one.
    fn requests_cap(&self) -> Option<u64> {
        tighter(self.requests_limit.map(u64::from), self.advertised_requests)
    }

    /// Tokens per window, the tighter of the config's and the server's.
    fn tokens_cap(&self) -> Option<u64> {
        tighter(self.tokens_limit, self.advertised_tokens)
    }

    /// The tokens a request estimated at `estimated` holds: at most the whole budget, so a request
    /// larger than the limit still runs (alone in an empty window) instead of waiting forever.
    pub fn clamp(&self, estimated: u64) -> u64 {
        self.tokens_cap()
            .map_or(estimated, |limit| estimated.min(limit))
    }

    /// Forget reservations that have left the window.
    pub fn prune(&mut self, now: Instant) {
        while let Some(oldest) = self.entries.front() {
            if self.expires_in(oldest.at, now).is_zero() {
                self.entries.pop_front();
            } else {
                break;
            }
        }
    }

    /// Reserve one request and `estimated` tokens (clamped) now, or say how long until they fit.
    pub fn try_reserve(&mut self, now: Instant, estimated: u64) -> Result<ReservationId, Duration> {
        if let Some(wait) = self.wait_time(now, estimated) {
            return Err(wait);
        }
        let tokens = self.clamp(estimated);
        Ok(self.push(now, tokens))
    }

    /// Record a reservation the shared store already admitted: this window then knows this
    /// process's own spending (for the status bar, and as the start of a local fallback).
    pub fn record(&mut self, now: Instant, tokens: u64) -> ReservationId {
        self.prune(now);
        self.push(now, tokens)
    }

    /// Add one reservation, spending it from the server's count too.
    fn push(&mut self, now: Instant, tokens: u64) -> ReservationId {
        let id = ReservationId(self.next_id);
        self.next_id += 1;
        self.entries.push_back(Reservation {
            id,
            at: now,
            tokens,
        });
        self.server_requests.spend(id, 1);
        self.server_tokens.spend(id, tokens);
        id
    }

    /// The binding request and token caps (config or advertised, the tighter).
    pub fn caps(&self) -> (Option<u64>, Option<u64>) {
        (self.requests_cap(), self.tokens_cap())
    }

    /// How long until a request of `estimated` tokens fits; `None` if it fits now.
    /// The answer holds only if nothing else changes meanwhile; callers re-ask when woken.
    pub fn wait_time(&mut self, now: Instant, estimated: u64) -> Option<Duration> {
        self.prune(now);
        let tokens = self.clamp(estimated);
        [
            self.requests_wait(now),
            self.tokens_wait(now, tokens),
            self.server_requests.wait(now, 1),
            self.server_tokens.wait(now, tokens),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// Replace a reservation's estimate with the real usage. A reservation that already left the
    /// window no longer counts, so there is nothing to correct.
    pub fn settle(&mut self, id: ReservationId, actual: u64) {
        if let Some(entry) = self.find(id) {
            let old = std::mem::replace(&mut entry.tokens, actual);
            self.server_tokens.refund(id, old);
            self.server_tokens.spend(id, actual);
        }
    }

    /// Give back a reservation's tokens but keep its request slot: the request may have reached
    /// the server, which counts it whether or not it produced tokens.
    pub fn release(&mut self, id: ReservationId) {
        self.settle(id, 0);
    }

    /// Undo a reservation entirely: the request never left this machine.
    pub fn cancel(&mut self, id: ReservationId) {
        if let Ok(index) = self.entries.binary_search_by_key(&id, |e| e.id) {
            if let Some(entry) = self.entries.remove(index) {
                self.server_requests.refund(id, 1);
                self.server_tokens.refund(id, entry.tokens);
            }
        }
    }

    /// Take in a response's rate-limit headers. `now` and `sys_now` are the same moment on the two
    /// clocks; the server's absolute reset times become `Instant`s through them.
    pub fn observe(&mut self, now: Instant, sys_now: SystemTime, headers: &RateLimitHeaders) {
        let reset = |at: Option<SystemTime>| at.and_then(|at| instant_of(at, now, sys_now));
        let next = self.next_id;
        let h = headers;
        // A limit of 0 is no budget anyone could use: read as absent, not as "wait forever".
        if let Some(limit) = h.limit_requests.filter(|&n| n > 0) {
            self.advertised_requests = Some(limit);
        }
        if let Some(limit) = h.limit_tokens.filter(|&n| n > 0) {
            self.advertised_tokens = Some(limit);
        }
        let requests_reset = reset(h.reset_requests);
        self.server_requests
            .observe(h.limit_requests, h.remaining_requests, requests_reset, next);
        let tokens_reset = reset(h.reset_tokens);
        self.server_tokens
            .observe(h.limit_tokens, h.remaining_tokens, tokens_reset, next);
    }

    /// The picture for the status bar. `next_tokens` is the size of the next request in line
    /// (0 if none), which `next_free_in` is computed for. Queue fields are left at zero.
    pub fn snapshot(&mut self, now: Instant, next_tokens: u64) -> LimiterSnapshot {
        let next_free_in = self.wait_time(now, next_tokens);
        LimiterSnapshot {
            requests_used: u32::try_from(self.entries.len()).unwrap_or(u32::MAX),
            // The limit that binds, so the status bar shows the budget the server enforces.
            requests_limit: self
                .requests_cap()
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            tokens_used: self.tokens_used(),
            tokens_limit: self.tokens_cap(),
            server: ServerView {
                requests: self.server_requests.view(now),
                tokens: self.server_tokens.view(now),
            },
            next_free_in,
            waiting: 0,
            retries_in_flight: 0,
            window: self.length,
            shared: None,
        }
    }

    fn find(&mut self, id: ReservationId) -> Option<&mut Reservation> {
        let index = self.entries.binary_search_by_key(&id, |e| e.id).ok()?;
        self.entries.get_mut(index)
    }

    fn tokens_used(&self) -> u64 {
        self.entries
            .iter()
            .fold(0, |sum, e| sum.saturating_add(e.tokens))
    }

    /// Time until a reservation made `at` leaves the window (zero once it has).
    fn expires_in(&self, at: Instant, now: Instant) -> Duration {
        self.length
            .saturating_sub(now.saturating_duration_since(at))
    }

    /// With `used >= limit`, the request fits once the oldest `used - limit + 1` have left.
    fn requests_wait(&self, now: Instant) -> Option<Duration> {
        let limit = usize::try_from(self.requests_cap()?).unwrap_or(usize::MAX);
        let must_leave = self.entries.len().checked_sub(limit)?;
        self.entries
            .get(must_leave)
            .map(|e| self.expires_in(e.at, now))
    }

    /// Walk from the oldest reservation until enough tokens have left to make room for `need`.
    fn tokens_wait(&self, now: Instant, need: u64) -> Option<Duration> {
        let limit = self.tokens_cap()?;
        let fits = |used: u64| used.saturating_add(need) <= limit;
        let mut used = self.tokens_used();
        if fits(used) {
            return None;
        }
        for entry in &self.entries {
            used = used.saturating_sub(entry.tokens);
            if fits(used) {
                return Some(self.expires_in(entry.at, now));
            }
        }
        None // unreachable: `need` is clamped to `limit`, so an empty window always fits
    }
}

/// The tighter of two optional limits; either alone when the other is absent.
fn tighter(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A server's absolute time on our monotonic clock. A time already past means "now".
fn instant_of(at: SystemTime, now: Instant, sys_now: SystemTime) -> Option<Instant> {
    match at.duration_since(sys_now) {
        Ok(ahead) => now.checked_add(ahead),
        Err(_) => Some(now),
    }
}
