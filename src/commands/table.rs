//! Plain-text output for the headless reports: a padded table and a one-line stderr status.
//!
//! Formatting only; callers turn measurements into cells first so the output is deterministic
//! and testable as exact strings.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use unicode_width::UnicodeWidthStr;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Rows of cells under a header; render pads each column to its widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

/// What an absent value prints as.
pub const MISSING: &str = "-";

impl Table {
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Self {
            columns: columns.iter().map(|&(h, a)| (h.to_owned(), a)).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row; missing trailing cells print empty, extra cells are ignored. Cells come from
    /// servers and files, so each is made one safe line here, the one door to the table.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| crate::sanitize::clean_line(&c))
            .collect();
        self.rows.push(cells);
    }

    /// Header, a rule of dashes, then the rows; two spaces between columns, no trailing spaces.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (header, _))| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.width())
                    .chain(std::iter::once(header.width()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let header: Vec<&str> = self.columns.iter().map(|(h, _)| h.as_str()).collect();
        self.line(&mut out, &widths, &header);
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        self.line(
            &mut out,
            &widths,
            &rule.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        for row in &self.rows {
            let cells: Vec<&str> = (0..self.columns.len())
                .map(|i| row.get(i).map_or("", String::as_str))
                .collect();
            self.line(&mut out, &widths, &cells);
        }
        out
    }

    fn line(&self, out: &mut String, widths: &[usize], cells: &[&str]) {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.width());
            if i > 0 {
                line.push_str("  ");
            }
            match self.columns[i].1 {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// `312 ms` below ten seconds' worth of milliseconds would be noisy, so: whole ms under 1 s, else `1.83 s`.
pub fn duration_cell(d: Option<Duration>) -> String {
    match d {
        None => MISSING.to_owned(),
        Some(d) if d < Duration::from_secs(1) => format!("{:.0} ms", d.as_secs_f64() * 1000.0),
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
    }
}

/// Milliseconds with one decimal, for inter-token latency: `12.5 ms`.
pub fn ms_cell(ms: Option<f64>) -> String {
    ms.map_or_else(|| MISSING.to_owned(), |v| format!("{v:.1} ms"))
}

/// A number with `decimals` decimals, or the missing mark.
pub fn num_cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| MISSING.to_owned(), |v| format!("{v:.decimals$}"))
}

/// An optional count.
pub fn count_cell(v: Option<u64>) -> String {
    v.map_or_else(|| MISSING.to_owned(), |v| v.to_string())
}

/// A status line redrawn in place on stderr (`\r`), only when stderr is a terminal; other lines
/// printed through it clear it first, so retries and progress never garble each other.
#[derive(Debug)]
pub struct StatusLine {
    enabled: bool,
    current: Mutex<String>,
}

impl StatusLine {
    pub fn stderr() -> Self {
        Self {
            enabled: std::io::stderr().is_terminal(),
            current: Mutex::new(String::new()),
        }
    }

    /// Replace the status text.
    pub fn set(&self, text: String) {
        if !self.enabled {
            return;
        }
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        *current = text;
    }

    /// Print a whole line on stderr above the status.
    pub fn println(&self, line: &str) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let mut err = std::io::stderr().lock();
        if self.enabled && !current.is_empty() {
            let _ = write!(err, "\r\x1b[2K{line}\n{current}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Erase the status for good.
    pub fn clear(&self) {
        if !self.enabled {
            return;
        }
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
        current.clear();
    }
}

/// `[##########----------]`: a progress bar `width` cells wide.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        width
    } else {
        (done.min(total) as usize * width) / total as usize
    };
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_aligns_and_trims() {
        let mut t = Table::new(&[
            ("name", Align::Left),
            ("n", Align::Right),
            ("note", Align::Left),
        ]);
        t.row(vec!["a".into(), "100".into(), String::new()]);
        t.row(vec!["longer".into(), "2".into(), "é ok".into()]);
        assert_eq!(
            t.render(),
            "name      n  note\n------  ---  ----\na       100\nlonger    2  é ok\n"
        );
    }

    #[test]
    fn cells() {
        assert_eq!(duration_cell(Some(Duration::from_millis(312))), "312 ms");
        assert_eq!(duration_cell(Some(Duration::from_millis(1830))), "1.83 s");
        assert_eq!(duration_cell(None), "-");
        assert_eq!(ms_cell(Some(12.46)), "12.5 ms");
        assert_eq!(num_cell(Some(48.26), 1), "48.3");
        assert_eq!(count_cell(Some(7)), "7");
        assert_eq!(bar(1, 4, 8), "[##------]");
        assert_eq!(bar(9, 4, 4), "[####]");
    }
}
