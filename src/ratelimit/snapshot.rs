//! Read-only pictures of a limiter for the status bar: our own counts and the server's view.

use std::time::Duration;

use super::shared::{FleetView, StoreState};

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
    /// Requests sleeping before a retry (see [`Limiter::retry_in_flight`](super::Limiter::retry_in_flight)).
    pub retries_in_flight: usize,
    pub window: Duration,
    /// Set when the budget is shared through a store: the whole fleet's use of it.
    pub shared: Option<SharedView>,
}

/// A shared budget as the whole fleet uses it; the other fields of the snapshot are this process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedView {
    pub state: StoreState,
    pub fleet: FleetView,
}
