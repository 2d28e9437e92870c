//! Short human formats for durations, counts and rates.

use std::time::Duration;

/// `850ms`, `1.24s`, `12.5s`, `2m05s`.
pub fn dur(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 10_000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if ms < 60_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

pub fn opt_dur(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_owned(), dur)
}

/// `950`, `12.3k`, `1.2M`.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 if n.is_multiple_of(1000) => format!("{}k", n / 1000),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

pub fn opt_count(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_owned(), count)
}

pub fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "–".to_owned(), |r| format!("{r:.1}"))
}

/// A bar of `width` cells, `fraction` of it full.
pub fn gauge(fraction: f64, width: usize) -> String {
    let full = ((fraction.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(full), "░".repeat(width - full))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(dur(Duration::from_millis(152)), "152ms");
        assert_eq!(dur(Duration::from_millis(2340)), "2.34s");
        assert_eq!(dur(Duration::from_secs(125)), "2m05s");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(gauge(0.5, 4), "██░░");
        assert_eq!(gauge(2.0, 3), "███");
    }
}
