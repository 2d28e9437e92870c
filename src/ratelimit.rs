//! Token-aware rate limiter: requests and tokens per rolling window, reserve then settle, server-header sync.
//!
//! Two layers. [`Window`] is a plain struct that takes `now` as an argument: it holds the
//! reservations of the last window plus what the server's headers said, and answers "does this fit,
//! and if not, how long until it does". [`Limiter`] wraps one `Window` per provider for async
//! callers: a mutex, a first-come-first-served queue, and a timer for the head of the queue.
//! All time is `tokio::time::Instant`, so paused-clock tests are exact.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::provider::RateLimitHeaders;

/// Client-side limits for one provider. `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// A limit of 0 is read as 1: a limiter that can never admit anything would hang forever.
    pub requests_per_window: Option<u32>,
    /// A limit of 0 is read as 1, for the same reason.
    pub tokens_per_window: Option<u64>,
    /// The rolling window; 60 s for the providers' per-minute limits, shorter in tests and the demo.
    pub window: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self::per_minute(None, None)
    }
}

impl LimiterConfig {
    /// The config file's `requests_per_minute` / `tokens_per_minute`.
    pub fn per_minute(requests: Option<u32>, tokens: Option<u64>) -> Self {
        Self {
            requests_per_window: requests,
            tokens_per_window: tokens,
            window: Duration::from_secs(60),
        }
    }

    /// Hold each reservation 1% longer than the server's window. The server counts a request
    /// when it arrives, a little after we reserve it (a cold connection's handshake); without
    /// the margin a request sent exactly one window later over a warm connection can arrive
    /// inside the server's window and draw a 429.
    pub fn with_safety_margin(mut self) -> Self {
        self.window += self.window / 100;
        self
    }
}

/// Names one reservation inside a [`Window`]. Ids grow with time, so they also order reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReservationId(u64);

#[derive(Debug, Clone, Copy)]
struct Reservation {
    id: ReservationId,
    at: Instant,
    tokens: u64,
}

/// What the server last said about one budget (requests or tokens), and what we spent since.
#[derive(Debug, Clone, Copy, Default)]
struct ServerBudget {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    /// Reservations from this id on were made after the server counted; they spend `remaining`.
    counted_from: u64,
    spent: u64,
}

impl ServerBudget {
    fn observe(
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
    fn wait(&self, now: Instant, need: u64) -> Option<Duration> {
        let (remaining, reset_at) = (self.remaining?, self.reset_at?);
        if now >= reset_at || self.spent.saturating_add(need) <= remaining {
            return None;
        }
        Some(reset_at - now)
    }

    fn spend(&mut self, id: ReservationId, amount: u64) {
        if id.0 >= self.counted_from {
            self.spent = self.spent.saturating_add(amount);
        }
    }

    fn refund(&mut self, id: ReservationId, amount: u64) {
        if id.0 >= self.counted_from {
            self.spent = self.spent.saturating_sub(amount);
        }
    }

    /// As reported. Once the reset time has passed the budget has refilled, so the limit is
    /// what remains (both SDKs' providers define reset as "fully replenished").
    fn view(&self, now: Instant) -> ServerLimit {
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
        }
    }

    /// The tokens a request estimated at `estimated` holds: at most the whole budget, so a request
    /// larger than the limit still runs (alone in an empty window) instead of waiting forever.
    pub fn clamp(&self, estimated: u64) -> u64 {
        self.tokens_limit
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
        let id = ReservationId(self.next_id);
        self.next_id += 1;
        self.entries.push_back(Reservation {
            id,
            at: now,
            tokens,
        });
        self.server_requests.spend(id, 1);
        self.server_tokens.spend(id, tokens);
        Ok(id)
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
            requests_limit: self.requests_limit,
            tokens_used: self.tokens_used(),
            tokens_limit: self.tokens_limit,
            server: ServerView {
                requests: self.server_requests.view(now),
                tokens: self.server_tokens.view(now),
            },
            next_free_in,
            waiting: 0,
            retries_in_flight: 0,
            window: self.length,
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
        let limit = usize::try_from(self.requests_limit?).unwrap_or(usize::MAX);
        let must_leave = self.entries.len().checked_sub(limit)?;
        self.entries
            .get(must_leave)
            .map(|e| self.expires_in(e.at, now))
    }

    /// Walk from the oldest reservation until enough tokens have left to make room for `need`.
    fn tokens_wait(&self, now: Instant, need: u64) -> Option<Duration> {
        let limit = self.tokens_limit?;
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

/// A server's absolute time on our monotonic clock. A time already past means "now".
fn instant_of(at: SystemTime, now: Instant, sys_now: SystemTime) -> Option<Instant> {
    match at.duration_since(sys_now) {
        Ok(ahead) => now.checked_add(ahead),
        Err(_) => Some(now),
    }
}

/// The server's last word on one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerLimit {
    pub limit: Option<u64>,
    /// As reported; after the reset time has passed, the full limit.
    pub remaining: Option<u64>,
    /// Time until the server's budget refills; `None` if unknown or already past.
    pub reset_in: Option<Duration>,
}

/// What the server's headers last said, per budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerView {
    pub requests: ServerLimit,
    pub tokens: ServerLimit,
}

/// One provider's limiter as the status bar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterSnapshot {
    /// Requests started within the current window (ours, not the server's count).
    pub requests_used: u32,
    pub requests_limit: Option<u32>,
    /// Tokens reserved or used within the current window: estimates until settled.
    pub tokens_used: u64,
    pub tokens_limit: Option<u64>,
    pub server: ServerView,
    /// Time until the next request in line (or a zero-token one) could start; `None` if now.
    pub next_free_in: Option<Duration>,
    /// Callers queued in `acquire`.
    pub waiting: usize,
    /// Requests sleeping before a retry (see [`Limiter::retry_in_flight`]).
    pub retries_in_flight: usize,
    pub window: Duration,
}

/// The async, shareable limiter of one provider. Clones share the same budget.
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window: Window,
    /// Callers in arrival order. Only the head may reserve, which is what makes service FCFS:
    /// a small request never overtakes a big one that arrived first and starves it.
    queue: VecDeque<Waiter>,
    next_ticket: u64,
    retries_in_flight: usize,
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    tokens: u64,
    /// Per-waiter, so only the head is woken (no thundering herd), and `notify_one` keeps the
    /// wake-up if it lands before the waiter sleeps.
    wake: Arc<Notify>,
}

impl State {
    fn wake_head(&self) {
        if let Some(head) = self.queue.front() {
            head.wake.notify_one();
        }
    }
}

/// What the head-of-queue check found.
enum Turn {
    Served(ReservationId),
    Behind,
    Head(Duration),
}

impl Inner {
    /// Poisoning only means another thread panicked mid-update; the counts stay usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enqueue(&self, tokens: u64) -> (u64, Arc<Notify>) {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        let wake = Arc::new(Notify::new());
        state.queue.push_back(Waiter {
            ticket,
            tokens,
            wake: Arc::clone(&wake),
        });
        (ticket, wake)
    }

    fn take_turn(&self, ticket: u64, tokens: u64) -> Turn {
        let mut state = self.lock();
        if state.queue.front().map(|w| w.ticket) != Some(ticket) {
            return Turn::Behind;
        }
        match state.window.try_reserve(Instant::now(), tokens) {
            Ok(id) => {
                state.queue.pop_front();
                state.wake_head();
                Turn::Served(id)
            }
            Err(wait) => Turn::Head(wait),
        }
    }

    fn leave_queue(&self, ticket: u64) {
        let mut state = self.lock();
        let was_head = state.queue.front().map(|w| w.ticket) == Some(ticket);
        state.queue.retain(|w| w.ticket != ticket);
        if was_head {
            state.wake_head();
        }
    }

    /// Change the window, then let the head re-check: capacity may have grown.
    fn update(&self, change: impl FnOnce(&mut Window)) {
        let mut state = self.lock();
        change(&mut state.window);
        state.wake_head();
    }
}

/// Removes an `acquire` from the queue if its future is dropped before being served.
struct Place<'a> {
    inner: &'a Inner,
    ticket: u64,
    served: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.served {
            self.inner.leave_queue(self.ticket);
        }
    }
}

impl Limiter {
    pub fn new(cfg: LimiterConfig) -> Self {
        let state = State {
            window: Window::new(&cfg),
            queue: VecDeque::new(),
            next_ticket: 0,
            retries_in_flight: 0,
        };
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
            }),
        }
    }

    /// No client-side limits; server headers still gate it and the snapshot still counts.
    pub fn unlimited() -> Self {
        Self::new(LimiterConfig::default())
    }

    /// Wait, first come first served, until one request and `estimated_tokens` fit; reserve them.
    /// The estimate is clamped to the token limit so one huge request cannot wait forever.
    /// Cancel-safe: dropping the future while it waits removes it from the queue at once and
    /// lets the next caller go; nothing is reserved until the moment it returns.
    pub async fn acquire(&self, estimated_tokens: u64) -> Permit {
        let started = Instant::now();
        let (ticket, wake) = self.inner.enqueue(estimated_tokens);
        let mut place = Place {
            inner: &self.inner,
            ticket,
            served: false,
        };
        loop {
            match self.inner.take_turn(ticket, estimated_tokens) {
                Turn::Served(id) => {
                    place.served = true;
                    return Permit {
                        inner: Arc::clone(&self.inner),
                        id: Some(id),
                        waited: started.elapsed(),
                    };
                }
                Turn::Behind => wake.notified().await,
                Turn::Head(wait) => {
                    tracing::debug!(
                        wait_ms = wait.as_millis() as u64,
                        "rate limiter: waiting for room"
                    );
                    // Sleep until the window frees room, unless settle/observe/a departure
                    // changes the picture first; either way, look again.
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = wake.notified() => {}
                    }
                }
            }
        }
    }

    /// Take in a response's rate-limit headers. Where the server says fewer remain than our window
    /// allows, its count rules until its reset time: everything we reserve from now on spends
    /// from the server's `remaining`, and a request that does not fit waits for the reset.
    pub fn observe_server(&self, headers: &RateLimitHeaders) {
        self.observe_server_at(headers, Instant::now(), SystemTime::now());
    }

    fn observe_server_at(&self, headers: &RateLimitHeaders, now: Instant, sys_now: SystemTime) {
        if !headers.is_empty() {
            self.inner.update(|w| w.observe(now, sys_now, headers));
        }
    }

    pub fn snapshot(&self) -> LimiterSnapshot {
        let mut state = self.inner.lock();
        let next_tokens = state.queue.front().map_or(0, |w| w.tokens);
        let mut snap = state.window.snapshot(Instant::now(), next_tokens);
        snap.waiting = state.queue.len();
        snap.retries_in_flight = state.retries_in_flight;
        snap
    }

    /// Count a retry wait in the snapshot for as long as the guard lives.
    pub fn retry_in_flight(&self) -> RetryGuard {
        self.inner.lock().retries_in_flight += 1;
        RetryGuard {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// One admitted request's reservation.
///
/// Dropped without [`settle`](Self::settle) (cancelled, or failed before usage was known): the
/// tokens go back, but the request slot stays used until it leaves the window, because the
/// request may well have reached the server, which counts it either way. Over-counting costs a
/// little waiting; under-counting costs a 429. Use [`cancel`](Self::cancel) when it surely never left.
#[derive(Debug)]
#[must_use = "dropping a permit at once releases its tokens"]
pub struct Permit {
    inner: Arc<Inner>,
    id: Option<ReservationId>,
    waited: Duration,
}

impl Permit {
    /// Replace the estimate with the real usage (input + output tokens).
    pub fn settle(mut self, actual_tokens: u64) {
        if let Some(id) = self.id.take() {
            self.inner.update(|w| w.settle(id, actual_tokens));
        }
    }

    /// Undo the reservation entirely: the request never reached the server (e.g. connect failed).
    pub fn cancel(mut self) {
        if let Some(id) = self.id.take() {
            self.inner.update(|w| w.cancel(id));
        }
    }

    /// How long `acquire` waited for room.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.inner.update(|w| w.release(id));
        }
    }
}

/// Held by the client while it sleeps before a retry; see [`Limiter::retry_in_flight`].
#[derive(Debug)]
#[must_use = "the retry is only counted while the guard lives"]
pub struct RetryGuard {
    inner: Arc<Inner>,
}

impl Drop for RetryGuard {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.retries_in_flight = state.retries_in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn limiter(requests: Option<u32>, tokens: Option<u64>) -> Limiter {
        Limiter::new(LimiterConfig::per_minute(requests, tokens))
    }

    /// Let spawned tasks run until they block (current-thread runtime, paused clock).
    async fn settle_tasks() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    fn server_requests(
        remaining: u64,
        reset_in: Duration,
        sys_now: SystemTime,
    ) -> RateLimitHeaders {
        RateLimitHeaders {
            limit_requests: Some(100),
            remaining_requests: Some(remaining),
            reset_requests: Some(sys_now + reset_in),
            ..RateLimitHeaders::default()
        }
    }

    #[test]
    fn window_counts_requests_over_a_rolling_window() {
        let t0 = Instant::now();
        let mut w = Window::new(&LimiterConfig::per_minute(Some(10), None));
        for i in 0..10 {
            assert!(w.try_reserve(t0 + secs(i), 0).is_ok());
        }
        assert_eq!(w.try_reserve(t0 + secs(30), 0), Err(secs(30)));
        assert!(w.try_reserve(t0 + secs(60), 0).is_ok());
        assert_eq!(w.try_reserve(t0 + secs(60), 0), Err(secs(1)));
    }

    #[test]
    fn window_walks_tokens_oldest_first() {
        let t0 = Instant::now();
        let mut w = Window::new(&LimiterConfig::per_minute(None, Some(1000)));
        let a = w.try_reserve(t0, 600).ok();
        assert!(a.is_some());
        assert!(w.try_reserve(t0 + secs(10), 300).is_ok());
        // 900 used: 100 more fit, 101 must wait for the 600 to leave, 500 too.
        assert_eq!(w.wait_time(t0 + secs(20), 100), None);
        assert_eq!(w.wait_time(t0 + secs(20), 101), Some(secs(40)));
        assert_eq!(w.wait_time(t0 + secs(20), 1000), Some(secs(50)));
        // Settling the first to its real 100 frees 500 at once.
        if let Some(a) = a {
            w.settle(a, 100);
        }
        assert_eq!(w.wait_time(t0 + secs(20), 600), None);
    }

    #[test]
    fn past_or_unknown_server_reset_never_blocks() {
        let t0 = Instant::now();
        let sys0 = SystemTime::now();
        let mut w = Window::new(&LimiterConfig::default());
        let past = RateLimitHeaders {
            remaining_requests: Some(0),
            reset_requests: Some(sys0 - secs(5)),
            ..RateLimitHeaders::default()
        };
        w.observe(t0, sys0, &past);
        assert_eq!(w.wait_time(t0, 0), None);
        let unknown = RateLimitHeaders {
            remaining_requests: Some(0),
            ..RateLimitHeaders::default()
        };
        w.observe(t0, sys0, &unknown);
        assert_eq!(w.wait_time(t0, 0), None);
        assert_eq!(w.snapshot(t0, 0).server.requests.remaining, Some(0));
    }

    #[tokio::test(start_paused = true)]
    async fn eleventh_request_waits_until_exactly_the_first_leaves() {
        let l = limiter(Some(10), None);
        let t0 = Instant::now();
        let mut held = vec![l.acquire(0).await];
        tokio::time::sleep(secs(5)).await;
        for _ in 0..9 {
            held.push(l.acquire(0).await);
        }
        assert_eq!(Instant::now(), t0 + secs(5));
        let eleventh = l.acquire(0).await;
        assert_eq!(Instant::now(), t0 + secs(60));
        assert_eq!(eleventh.waited(), secs(55));
        let _twelfth = l.acquire(0).await;
        assert_eq!(Instant::now(), t0 + secs(65));
        drop(held);
    }

    #[tokio::test(start_paused = true)]
    async fn token_budget_waits_the_right_time() {
        let l = limiter(None, Some(1000));
        let t0 = Instant::now();
        l.acquire(600).await.settle(600);
        tokio::time::sleep(secs(10)).await;
        l.acquire(300).await.settle(300);
        tokio::time::sleep(secs(10)).await;
        // 900 used; 400 more fit only once the 600 from t0 leave the window.
        l.acquire(400).await.settle(400);
        assert_eq!(Instant::now(), t0 + secs(60));
        // 700 used now: 300 fit at once, the next token waits for the 300 from t0+10.
        l.acquire(300).await.settle(300);
        assert_eq!(Instant::now(), t0 + secs(60));
        l.acquire(1).await.settle(1);
        assert_eq!(Instant::now(), t0 + secs(70));
    }

    #[tokio::test(start_paused = true)]
    async fn reservation_settles_to_actual_usage() {
        let l = limiter(None, Some(1000));
        let p = l.acquire(500).await;
        assert_eq!(l.snapshot().tokens_used, 500);
        p.settle(120);
        assert_eq!(l.snapshot().tokens_used, 120);
        // More than estimated counts too: the server bills what was used.
        l.acquire(100).await.settle(250);
        assert_eq!(l.snapshot().tokens_used, 370);
        // Dropped unsettled: tokens back, request slot kept. Cancelled: both back.
        drop(l.acquire(200).await);
        let snap = l.snapshot();
        assert_eq!((snap.requests_used, snap.tokens_used), (3, 370));
        l.acquire(200).await.cancel();
        let snap = l.snapshot();
        assert_eq!((snap.requests_used, snap.tokens_used), (3, 370));
    }

    #[tokio::test(start_paused = true)]
    async fn oversized_estimate_is_clamped_and_proceeds() {
        let l = limiter(None, Some(1000));
        let t0 = Instant::now();
        let big = l.acquire(5000).await;
        assert_eq!(big.waited(), Duration::ZERO);
        assert_eq!(l.snapshot().tokens_used, 1000);
        drop(big);
        // Behind other usage it waits for an empty window, then runs.
        l.acquire(100).await.settle(100);
        tokio::time::sleep(secs(1)).await;
        l.acquire(1_000_000).await.settle(950);
        assert_eq!(Instant::now(), t0 + secs(60));
        l.acquire(50).await.settle(50);
        assert_eq!(Instant::now(), t0 + secs(60));
        l.acquire(1).await.settle(1);
        assert_eq!(Instant::now(), t0 + secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn fifty_concurrent_callers_stay_within_limits_in_arrival_order() {
        const REQUESTS: usize = 10;
        const TOKENS: u64 = 1000;
        let window = secs(60);
        let l = Limiter::new(LimiterConfig {
            requests_per_window: Some(REQUESTS as u32),
            tokens_per_window: Some(TOKENS),
            window,
        });
        let log = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..50u64 {
            let (l, log) = (l.clone(), Arc::clone(&log));
            let estimate = 50 + (i * 37) % 200;
            tasks.push(tokio::spawn(async move {
                let permit = l.acquire(estimate).await;
                let snap = l.snapshot();
                assert!(snap.requests_used as usize <= REQUESTS);
                assert!(
                    snap.tokens_used <= TOKENS,
                    "{} tokens held",
                    snap.tokens_used
                );
                log.lock()
                    .unwrap()
                    .push((i, Instant::now(), estimate * 3 / 4));
                tokio::time::sleep(Duration::from_millis(1500)).await;
                permit.settle(estimate * 3 / 4);
            }));
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let log = log.lock().unwrap();
        let order: Vec<u64> = log.iter().map(|&(i, _, _)| i).collect();
        assert_eq!(
            order,
            (0..50).collect::<Vec<_>>(),
            "served first come, first served"
        );
        // What the server would bill in any window (actual usage) stays within the limits too.
        for &(_, start, _) in log.iter() {
            let in_window: Vec<_> = log
                .iter()
                .filter(|&&(_, t, _)| t <= start && start - t < window)
                .collect();
            let tokens: u64 = in_window.iter().map(|&&(_, _, e)| e).sum();
            assert!(in_window.len() <= REQUESTS, "{} requests", in_window.len());
            assert!(tokens <= TOKENS, "{tokens} tokens");
        }
        assert_eq!(l.snapshot().waiting, 0);
    }

    /// Real threads and a real clock: no lost wake-ups, everyone gets through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_threads_all_get_through() {
        let l = Limiter::new(LimiterConfig {
            requests_per_window: Some(5),
            tokens_per_window: Some(100),
            window: Duration::from_millis(20),
        });
        let tasks: Vec<_> = (0..40u64)
            .map(|i| {
                let l = l.clone();
                tokio::spawn(async move {
                    let permit = l.acquire(10 + i % 30).await;
                    let snap = l.snapshot();
                    assert!(
                        snap.requests_used <= 5 && snap.tokens_used <= 100,
                        "{snap:?}"
                    );
                    permit.settle(i % 20);
                })
            })
            .collect();
        let all = futures::future::join_all(tasks);
        let results = tokio::time::timeout(secs(20), all).await.unwrap();
        assert!(results.into_iter().all(|r| r.is_ok()));
        assert_eq!(l.snapshot().waiting, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_waiting_acquire_lets_the_next_go_at_once() {
        let l = limiter(None, Some(100));
        let t0 = Instant::now();
        let _held = l.acquire(100).await;
        // A is at the head and needs the whole budget; B would fit but queues behind A.
        let a = tokio::spawn({
            let l = l.clone();
            async move { l.acquire(100).await.settle(100) }
        });
        let b = tokio::spawn({
            let l = l.clone();
            async move {
                l.acquire(0).await.settle(0);
                Instant::now()
            }
        });
        settle_tasks().await;
        assert_eq!(l.snapshot().waiting, 2);
        a.abort();
        assert_eq!(b.await.unwrap(), t0);
        assert_eq!(l.snapshot().waiting, 0);
        // The same when the wait is dropped by a timeout inside one task.
        let c = tokio::spawn({
            let l = l.clone();
            async move {
                l.acquire(0).await.settle(0);
                Instant::now()
            }
        });
        let timed_out = tokio::time::timeout(secs(5), l.acquire(100)).await;
        assert!(timed_out.is_err());
        assert_eq!(c.await.unwrap(), t0 + secs(5));
        assert_eq!(l.snapshot().tokens_used, 100);
    }

    #[tokio::test(start_paused = true)]
    async fn fewer_remaining_on_the_server_waits_for_its_reset() {
        let l = limiter(Some(100), None);
        let (t0, sys0) = (Instant::now(), SystemTime::now());
        let before = l.acquire(0).await;
        l.observe_server_at(&server_requests(1, secs(30), sys0), t0, sys0);
        // Settling a request the server already counted must not eat into its remaining.
        before.settle(10);
        l.acquire(0).await.settle(0);
        assert_eq!(Instant::now(), t0);
        l.acquire(0).await.settle(0);
        assert_eq!(Instant::now(), t0 + secs(30));
        l.acquire(0).await.settle(0);
        assert_eq!(Instant::now(), t0 + secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn server_token_count_gates_even_without_client_limits() {
        let l = Limiter::unlimited();
        let (t0, sys0) = (Instant::now(), SystemTime::now());
        let headers = RateLimitHeaders {
            limit_tokens: Some(10_000),
            remaining_tokens: Some(500),
            reset_tokens: Some(sys0 + secs(20)),
            ..RateLimitHeaders::default()
        };
        l.observe_server_at(&headers, t0, sys0);
        let p = l.acquire(400).await;
        assert_eq!(Instant::now(), t0);
        p.settle(50); // real usage was smaller: 450 of the 500 left
        l.acquire(450).await.settle(450);
        assert_eq!(Instant::now(), t0);
        l.acquire(1).await.settle(1);
        assert_eq!(Instant::now(), t0 + secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn snapshot_reports_every_field() {
        let l = limiter(Some(3), Some(1000));
        let (t0, sys0) = (Instant::now(), SystemTime::now());
        let held = l.acquire(300).await;
        tokio::time::sleep(secs(10)).await;
        l.acquire(200).await.settle(150);
        let retry = l.retry_in_flight();
        let headers = RateLimitHeaders {
            limit_requests: Some(500),
            remaining_requests: Some(498),
            reset_requests: Some(sys0 + secs(50)),
            limit_tokens: Some(30_000),
            remaining_tokens: Some(29_000),
            reset_tokens: Some(sys0 + secs(22)),
            retry_after: None,
        };
        l.observe_server_at(&headers, t0 + secs(10), sys0 + secs(10));
        let snap = l.snapshot();
        let want = LimiterSnapshot {
            requests_used: 2,
            requests_limit: Some(3),
            tokens_used: 450,
            tokens_limit: Some(1000),
            server: ServerView {
                requests: ServerLimit {
                    limit: Some(500),
                    remaining: Some(498),
                    reset_in: Some(secs(40)),
                },
                tokens: ServerLimit {
                    limit: Some(30_000),
                    remaining: Some(29_000),
                    reset_in: Some(secs(12)),
                },
            },
            next_free_in: None,
            waiting: 0,
            retries_in_flight: 1,
            window: secs(60),
        };
        assert_eq!(snap, want);

        // Past the token reset, fill the request budget and queue one more behind it.
        tokio::time::sleep(secs(15)).await;
        l.acquire(0).await.settle(0);
        let waiter = tokio::spawn({
            let l = l.clone();
            async move { l.acquire(600).await.settle(600) }
        });
        settle_tasks().await;
        drop(retry);
        let snap = l.snapshot();
        assert_eq!(
            (snap.requests_used, snap.waiting, snap.retries_in_flight),
            (3, 1, 0)
        );
        assert_eq!(snap.next_free_in, Some(secs(35)));
        assert_eq!(snap.server.requests.reset_in, Some(secs(25)));
        // The server's token budget has reset, so it reads as refilled.
        assert_eq!(
            snap.server.tokens,
            ServerLimit {
                limit: Some(30_000),
                remaining: Some(30_000),
                reset_in: None
            }
        );
        drop(held);
        waiter.await.unwrap();
        assert_eq!(Instant::now(), t0 + secs(60));
        let snap = l.snapshot();
        assert_eq!(
            (snap.requests_used, snap.tokens_used, snap.waiting),
            (3, 750, 0)
        );
    }
}
