//! The session picker's state: the saved sessions, newest first, and which one is selected.

use crate::session::Session;

/// What the picker shows of one saved session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub id: String,
    /// `2026-11-26 11:42` (UTC).
    pub date: String,
    pub first_prompt: String,
    pub providers: Vec<String>,
}

impl SessionSummary {
    pub fn of(s: &Session) -> Self {
        Self {
            id: s.id.clone(),
            date: s
                .created
                .get(..16)
                .unwrap_or(&s.created)
                .replacen('T', " ", 1),
            first_prompt: s
                .first_prompt()
                .and_then(|p| p.lines().find(|l| !l.trim().is_empty()))
                .unwrap_or("")
                .trim()
                .to_owned(),
            providers: s.providers.iter().map(|p| p.name.clone()).collect(),
        }
    }
}

/// The list and the selection.
#[derive(Debug, Clone, Default)]
pub struct Picker {
    pub entries: Vec<SessionSummary>,
    pub selected: usize,
    /// Files that could not be read (told in the legend, listed in the log).
    pub problems: usize,
}

impl Picker {
    pub fn new(entries: Vec<SessionSummary>, problems: usize) -> Self {
        Self {
            entries,
            selected: 0,
            problems,
        }
    }

    /// Move the selection by `delta`, stopping at either end.
    pub fn step(&mut self, delta: isize) {
        let last = self.entries.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    pub fn selected(&self) -> Option<&SessionSummary> {
        self.entries.get(self.selected)
    }
}
