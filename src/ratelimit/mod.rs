//! Token-aware rate limiter: requests and tokens per rolling window, reserve then settle, server-header sync.
//!
//! Two layers. [`Window`] is a plain struct that takes `now` as an argument: it holds the
//! reservations of the last window plus what the server's headers said, and answers "does this fit,
//! and if not, how long until it does". [`Limiter`] wraps one `Window` per provider for async
//! callers: a mutex, a first-come-first-served queue, and a timer for the head of the queue.
//! All time is `tokio::time::Instant`, so paused-clock tests are exact.

mod budget;
mod limiter;
pub mod notice;
pub mod shared;
mod snapshot;
mod window;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use limiter::{Limiter, Permit, RetryGuard};
pub use shared::{FleetView, SharedBudget, StoreState};
pub use snapshot::{LimiterSnapshot, ServerLimit, ServerView, SharedView};
pub use window::{ReservationId, Window};

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
