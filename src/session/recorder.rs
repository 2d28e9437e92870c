//! Saving a session while it streams: the [`Autosave`] policy and the [`Recorder`] the headless commands use.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{ProviderRef, Session, TurnSettings};
use crate::client::ClientEvent;
use crate::config::Prices;

/// When to save a session that is changing: at once for structural changes (a turn began or
/// ended), at most every `every` for streamed text. Takes `now` so it tests without sleeping.
#[derive(Debug, Clone)]
pub struct Autosave {
    pub every: Duration,
    last_save: Option<Instant>,
    dirty: bool,
}

/// The default interval between saves of a streaming answer.
pub const AUTOSAVE_EVERY: Duration = Duration::from_millis(250);

impl Default for Autosave {
    fn default() -> Self {
        Self::new(AUTOSAVE_EVERY)
    }
}

impl Autosave {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last_save: None,
            dirty: false,
        }
    }

    /// The session changed (streamed text).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// True when there are unsaved changes and the last save is at least `every` old.
    pub fn due(&self, now: Instant) -> bool {
        self.dirty && self.interval_passed(now)
    }

    /// True when the last save is at least `every` old (or there was none).
    pub fn interval_passed(&self, now: Instant) -> bool {
        self.last_save
            .is_none_or(|t| now.saturating_duration_since(t) >= self.every)
    }

    /// True when there are unsaved changes at all.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// Record a save made at `now`.
    pub fn saved(&mut self, now: Instant) {
        self.last_save = Some(now);
        self.dirty = false;
    }
}

/// A session being recorded as requests stream: the glue the headless commands use, and a
/// model for the TUI (which does the same steps through its own effects).
#[derive(Debug)]
pub struct Recorder {
    pub session: Session,
    dir: PathBuf,
    autosave: Autosave,
    prices: Prices,
    /// The first save error, reported once; recording continues in memory.
    pub error: Option<String>,
    /// False records in memory only (`--no-save` with `--resume`).
    pub enabled: bool,
}

impl Recorder {
    pub fn new(session: Session, dir: PathBuf, prices: Prices) -> Self {
        Self {
            session,
            dir,
            autosave: Autosave::default(),
            prices,
            error: None,
            enabled: true,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start `provider`'s answer to `prompt` and save at once (the prompt is on disk before the
    /// request leaves).
    pub fn begin(&mut self, provider: &ProviderRef, prompt: &str, settings: TurnSettings) {
        self.session.begin_answer(provider, prompt);
        self.session.set_settings(&provider.name, settings);
        self.save_now();
    }

    /// Start every provider's answer to the same `prompt` (a race) with a single save.
    pub fn begin_all(&mut self, providers: &[(ProviderRef, TurnSettings)], prompt: &str) {
        for (p, settings) in providers {
            self.session.begin_answer(p, prompt);
            self.session.set_settings(&p.name, settings.clone());
        }
        self.save_now();
    }

    /// Feed one client event for `provider`: text is saved at most every [`AUTOSAVE_EVERY`], the
    /// end of the request at once.
    pub fn on_event(&mut self, provider: &str, event: &ClientEvent) {
        match event {
            ClientEvent::Delta(text) => {
                self.session.append_partial(provider, text);
                self.autosave.touch();
                if self.autosave.due(Instant::now()) {
                    self.save_now();
                }
            }
            ClientEvent::Done(outcome) => {
                let asked = self.session.provider(provider).map(|p| p.model.as_str());
                let cost = self
                    .prices
                    .answer_cost(&outcome.model, asked, &outcome.usage);
                self.session.finish_answer(provider, outcome, cost);
                self.save_now();
            }
            _ => {}
        }
    }

    /// True when the next streamed text will be saved at once (the caller flushes what it
    /// printed first, so a file never holds text the user was not shown).
    pub fn save_due(&self) -> bool {
        self.enabled && self.autosave.interval_passed(Instant::now())
    }

    /// Save now whatever the interval says.
    pub fn save_now(&mut self) {
        if !self.enabled {
            return;
        }
        match self.session.save(&self.dir) {
            Ok(_) => self.autosave.saved(Instant::now()),
            Err(e) => {
                tracing::warn!("{e}");
                self.error.get_or_insert(e);
            }
        }
    }
}
