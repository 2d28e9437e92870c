//! Notices from the limiter (a shared store lost or back): to stderr, or kept for the TUI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Once the TUI owns the terminal, notices wait in [`take`] instead of going to stderr.
static QUIET: AtomicBool = AtomicBool::new(false);
static PENDING: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Send notices to [`take`] rather than stderr (the TUI shows them on its notice line).
pub fn hold() {
    QUIET.store(true, Ordering::Relaxed);
}

/// The notices given since the last call, oldest first.
pub fn take() -> Vec<String> {
    std::mem::take(
        &mut *PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

pub(super) fn tell(sentence: &str) {
    tracing::warn!("{sentence}");
    if QUIET.load(Ordering::Relaxed) {
        PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(sentence.to_owned());
    } else {
        eprintln!("paddock: {sentence}");
    }
}
