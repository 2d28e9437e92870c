//! Checked conversion of numbers that come from outside (headers, config, session files): out of
//! range is `None`, never a panic, and sums of outside counts saturate (DESIGN.md §3b).

use std::time::{Duration, SystemTime};

/// The longest wait any server may ask for or any reset may lie ahead. Longer values are not
/// real rate-limit windows (daily limits reset within a day) but garbage or hostility, so they
/// are treated as absent.
pub const MAX_OUTSIDE_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// Seconds as sent by a server (`retry-after: 1.5`) to a [`Duration`], if finite, non-negative
/// and within [`MAX_OUTSIDE_WAIT`].
pub fn wait_from_secs(secs: f64) -> Option<Duration> {
    if !(secs.is_finite() && secs >= 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= MAX_OUTSIDE_WAIT)
}

/// A header's parsed value, or `None` with a log line saying which header was ignored.
pub fn header_value<T>(name: &str, value: &str, parsed: Option<T>) -> Option<T> {
    if parsed.is_none() {
        tracing::warn!(header = name, value = %crate::sanitize::for_log(value), "out-of-range or unreadable header ignored");
    }
    parsed
}

/// `now + ahead` as an absolute time, or `None` when it would overflow the clock.
pub fn time_after(now: SystemTime, ahead: Duration) -> Option<SystemTime> {
    now.checked_add(ahead)
}

/// Milliseconds as stored in a session file back to a [`Duration`]: negative, NaN, infinite or
/// absurd values (more than [`MAX_STORED_MS`]) read as absent.
pub fn duration_from_ms(ms: f64) -> Option<Duration> {
    if !(ms.is_finite() && (0.0..=MAX_STORED_MS).contains(&ms)) {
        return None;
    }
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

/// A stored timing longer than a year is not a timing.
pub const MAX_STORED_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;

/// A stored cost a real request could have had: finite, not negative, under a million dollars
/// (so sums of them stay finite too).
pub fn plausible_cost(usd: f64) -> bool {
    usd.is_finite() && (0.0..1e6).contains(&usd)
}

/// Sum of optional token counts, saturating: `None` only when every part is `None`.
pub fn add_tokens(parts: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    parts.into_iter().fold(None, |sum, part| match (sum, part) {
        (None, None) => None,
        (s, p) => Some(s.unwrap_or(0).saturating_add(p.unwrap_or(0))),
    })
}

/// A number as a person would write it back: `1e300`, not three hundred digits.
pub fn short_number(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_seconds_are_absent_not_a_panic() {
        for bad in [
            f64::NAN,
            f64::INFINITY,
            -1.0,
            1e20,
            1e308,
            f64::MAX,
            86_401.0,
        ] {
            assert_eq!(wait_from_secs(bad), None, "{bad}");
        }
        assert_eq!(wait_from_secs(1.5), Some(Duration::from_millis(1500)));
        assert_eq!(wait_from_secs(86_400.0), Some(MAX_OUTSIDE_WAIT));
    }

    #[test]
    fn stored_milliseconds_are_checked() {
        assert_eq!(duration_from_ms(1e300), None);
        assert_eq!(duration_from_ms(-5.0), None);
        assert_eq!(duration_from_ms(f64::NAN), None);
        assert_eq!(duration_from_ms(250.0), Some(Duration::from_millis(250)));
    }

    #[test]
    fn token_sums_saturate() {
        assert_eq!(add_tokens([Some(u64::MAX), Some(u64::MAX)]), Some(u64::MAX));
        assert_eq!(add_tokens([None, None]), None);
        assert_eq!(add_tokens([Some(2), None]), Some(2));
    }

    #[test]
    fn time_after_never_overflows() {
        let now = SystemTime::now();
        assert_eq!(time_after(now, Duration::MAX), None);
        assert!(time_after(now, Duration::from_secs(1)).is_some());
    }
}
