//! The async, shareable limiter: one [`Window`] behind a mutex, a first-come-first-served queue, permits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{LimiterConfig, LimiterSnapshot, ReservationId, Window};
use crate::provider::RateLimitHeaders;

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

    pub(super) fn observe_server_at(
        &self,
        headers: &RateLimitHeaders,
        now: Instant,
        sys_now: SystemTime,
    ) {
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
