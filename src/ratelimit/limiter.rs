//! The async, shareable limiter: one [`Window`] behind a mutex, a first-come-first-served queue, permits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::shared::{Lease, Reserve, SharedBudget, StoreState, MAX_POLL};
use super::{LimiterConfig, LimiterSnapshot, ReservationId, SharedView, Window};
use crate::provider::RateLimitHeaders;

/// The async, shareable limiter of one provider. Clones share the same budget.
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// The shared store's budget, when one is configured; the window then records this
    /// process's part and takes over only while the store is down.
    shared: Option<Arc<SharedBudget>>,
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

    fn is_head(&self, ticket: u64) -> bool {
        self.lock().queue.front().map(|w| w.ticket) == Some(ticket)
    }

    /// The head's caps and clamped estimate, for the shared script.
    fn caps(&self, tokens: u64) -> (Option<u64>, Option<u64>, u64) {
        let state = self.lock();
        let (r, t) = state.window.caps();
        (r, t, state.window.clamp(tokens))
    }

    /// The store admitted the head: note it locally and let the next caller go.
    fn served_shared(&self, tokens: u64) -> ReservationId {
        let mut state = self.lock();
        let id = state.window.record(Instant::now(), tokens);
        state.queue.pop_front();
        state.wake_head();
        id
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
                shared: None,
            }),
        }
    }

    /// A limiter whose budget lives in a shared store; `cfg` gives the caps every sharer uses.
    pub fn shared(cfg: LimiterConfig, shared: Arc<SharedBudget>) -> Self {
        let mut limiter = Self::new(cfg);
        if let Some(inner) = Arc::get_mut(&mut limiter.inner) {
            inner.shared = Some(shared);
        }
        limiter
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
        match self.reserve(estimated_tokens, false).await {
            Ok(permit) => permit,
            // Unreachable with `fail_allowed` false; the local window is the safe answer.
            Err(_) => self.reserve_local_now(estimated_tokens),
        }
    }

    /// [`acquire`](Self::acquire), but a shared store that is down with `on_store_error =
    /// "fail"` is an error (one sentence) instead of a local reservation.
    pub async fn acquire_checked(&self, estimated_tokens: u64) -> Result<Permit, String> {
        self.reserve(estimated_tokens, true).await
    }

    fn reserve_local_now(&self, tokens: u64) -> Permit {
        let id = self.inner.lock().window.record(Instant::now(), tokens);
        self.permit(id, None, Duration::ZERO)
    }

    fn permit(&self, id: ReservationId, lease: Option<Lease>, waited: Duration) -> Permit {
        Permit {
            inner: Arc::clone(&self.inner),
            id: Some(id),
            lease,
            waited,
        }
    }

    async fn reserve(&self, estimated_tokens: u64, fail_allowed: bool) -> Result<Permit, String> {
        let started = Instant::now();
        let (ticket, wake) = self.inner.enqueue(estimated_tokens);
        let mut place = Place {
            inner: &self.inner,
            ticket,
            served: false,
        };
        loop {
            if let Some(shared) = &self.inner.shared {
                if self.inner.is_head(ticket) && shared.should_try(Instant::now()) {
                    let (requests, tokens, clamped) = self.inner.caps(estimated_tokens);
                    match shared.try_reserve(requests, tokens, clamped).await {
                        Ok(Reserve::Granted(lease)) => {
                            let id = self.inner.served_shared(lease.tokens());
                            place.served = true;
                            return Ok(self.permit(id, Some(lease), started.elapsed()));
                        }
                        Ok(Reserve::Wait(wait)) => {
                            // Bounded: others may settle below their estimates meanwhile.
                            tokio::select! {
                                () = tokio::time::sleep(wait.min(MAX_POLL)) => {}
                                () = wake.notified() => {}
                            }
                            continue;
                        }
                        Err(down) if fail_allowed && shared.state() == StoreState::Failing => {
                            return Err(down.0);
                        }
                        Err(_) => {} // local fallback: the window below decides
                    }
                } else if fail_allowed && shared.state() == StoreState::Failing {
                    return Err(format!(
                        "shared rate budget \"{}\": the store is unreachable and on_store_error = \"fail\".",
                        shared.name()
                    ));
                }
            }
            match self.inner.take_turn(ticket, estimated_tokens) {
                Turn::Served(id) => {
                    place.served = true;
                    return Ok(self.permit(id, None, started.elapsed()));
                }
                Turn::Behind => wake.notified().await,
                Turn::Head(wait) => {
                    tracing::debug!(
                        wait_ms = wait.as_millis() as u64,
                        "rate limiter: waiting for room"
                    );
                    // Sleep until the window frees room, unless settle/observe/a departure
                    // changes the picture first; either way, look again. With a store that is
                    // down, look again soon enough to notice it is back.
                    let wait = if self.inner.shared.is_some() {
                        wait.min(Duration::from_secs(1))
                    } else {
                        wait
                    };
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
            if let Some(shared) = &self.inner.shared {
                shared.observe(headers);
            }
        }
    }

    /// True when `other` is a clone of this limiter: the same budget, the same queue.
    pub fn same_budget(&self, other: &Limiter) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn snapshot(&self) -> LimiterSnapshot {
        let mut state = self.inner.lock();
        let next_tokens = state.queue.front().map_or(0, |w| w.tokens);
        let mut snap = state.window.snapshot(Instant::now(), next_tokens);
        snap.waiting = state.queue.len();
        snap.retries_in_flight = state.retries_in_flight;
        snap.shared = self.inner.shared.as_ref().map(|s| SharedView {
            state: s.state(),
            fleet: s.fleet(),
        });
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
    /// The shared store's lease, when the store admitted this request.
    lease: Option<Lease>,
    waited: Duration,
}

impl Permit {
    /// Replace the estimate with the real usage (input + output tokens).
    pub fn settle(mut self, actual_tokens: u64) {
        if let Some(id) = self.id.take() {
            self.inner.update(|w| w.settle(id, actual_tokens));
        }
        if let (Some(lease), Some(shared)) = (self.lease.take(), &self.inner.shared) {
            shared.settle(lease, actual_tokens);
        }
    }

    /// Undo the reservation entirely: the request never reached the server (e.g. connect failed).
    pub fn cancel(mut self) {
        if let Some(id) = self.id.take() {
            self.inner.update(|w| w.cancel(id));
        }
        if let (Some(lease), Some(shared)) = (self.lease.take(), &self.inner.shared) {
            shared.cancel(lease);
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
        if let (Some(lease), Some(shared)) = (self.lease.take(), &self.inner.shared) {
            shared.settle(lease, 0);
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
