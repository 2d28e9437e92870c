//! Saving a session while it streams: the [`Autosave`] policy, and the [`Recorder`] that drives the race core for the headless commands.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ProviderRef, Session, Writer};
use crate::client::ClientEvent;
use crate::config::Prices;
use crate::provider::ChatRequest;
use crate::race::{CoreEvent, Effect, LaneId, ProviderInfo, RaceCore};

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

/// A session recorded as the headless commands' requests stream: the [`RaceCore`] keeps the
/// record, exactly as for the TUI, and a [`Writer`] thread performs its saves off the event path.
pub struct Recorder {
    core: RaceCore,
    writer: Option<Writer>,
    /// The first save error, reported once at the end; recording continues in memory.
    error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("session", &self.core.session.id)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Record into `session`, saving into `dir`; `save` false records in memory only
    /// (`--no-save` with `--resume`).
    pub fn new(session: Session, dir: PathBuf, prices: Prices, save: bool) -> Self {
        let error = Arc::new(Mutex::new(None::<String>));
        let writer = save.then(|| {
            let error = Arc::clone(&error);
            Writer::spawn(Some(dir), move |report| {
                if let Err(e) = report.result {
                    tracing::warn!("{e}");
                    if let Ok(mut first) = error.lock() {
                        first.get_or_insert(e);
                    }
                }
            })
        });
        Self {
            core: RaceCore::new(Vec::new(), session, prices, usize::MAX),
            writer,
            error,
        }
    }

    pub fn session(&self) -> &Session {
        &self.core.session
    }

    /// Start every provider's answer to the same `prompt` (one for `ask`, several for a race)
    /// with a single save: the prompt is on disk before the requests leave. Each request goes
    /// out as the record builds it: the provider's own earlier turns, then the prompt, asked
    /// with `requests[i]`'s model and settings.
    pub fn begin_all(
        &mut self,
        providers: &[(ProviderRef, ChatRequest)],
        prompt: &str,
    ) -> Vec<ChatRequest> {
        let lanes: Vec<LaneId> = providers
            .iter()
            .map(|(who, req)| self.lane_for(who, req))
            .collect();
        let effects = self.core.step(CoreEvent::Submit {
            lanes: lanes.clone(),
            prompt: prompt.to_owned(),
            at: Instant::now(),
        });
        let mut out: Vec<ChatRequest> = providers.iter().map(|(_, r)| r.clone()).collect();
        for effect in effects {
            match effect {
                Effect::Start { lane, request, .. } => {
                    if let Some(i) = lanes.iter().position(|l| *l == lane) {
                        out[i] = ChatRequest {
                            stream: out[i].stream,
                            ..request
                        };
                    }
                }
                other => self.perform(other),
            }
        }
        out
    }

    /// The lane answering as `who` with `req`'s settings (made on first use).
    fn lane_for(&mut self, who: &ProviderRef, req: &ChatRequest) -> LaneId {
        let info = ProviderInfo {
            system: req.system.clone(),
            temperature: req.temperature,
            max_tokens: req.max_tokens,
            ..ProviderInfo::named(&who.name, &req.model, who.protocol)
        };
        self.core.set_lane(info)
    }

    /// Feed one client event of `provider`'s request: text is saved at most every
    /// [`AUTOSAVE_EVERY`], the end of the request at once.
    pub fn on_event(&mut self, provider: &str, event: ClientEvent) {
        let Some(lane) = self.core.lanes.iter().position(|l| l.info.name == provider) else {
            return;
        };
        let Some(request_id) = self.core.lanes[lane].request_id() else {
            return;
        };
        let effects = self.core.step(CoreEvent::Provider {
            lane,
            request_id,
            event,
            at: Instant::now(),
        });
        for effect in effects {
            self.perform(effect);
        }
    }

    /// True when the next streamed text will be saved at once (the caller flushes what it
    /// printed first, so a file never holds text the user was not shown).
    pub fn save_due(&self) -> bool {
        self.writer.is_some() && self.core.save_due(Instant::now())
    }

    fn perform(&self, effect: Effect) {
        if let (Effect::Save(op), Some(writer)) = (effect, &self.writer) {
            writer.save(op, false);
        }
    }

    /// Save what is unsaved, wait for the writes, and say the first that failed.
    pub fn finish(mut self) -> Option<String> {
        self.flush_and_wait()
    }

    /// As [`finish`](Self::finish), then hand back the record: `ask` takes its answer from it
    /// instead of keeping a second copy of the text while it streams.
    pub fn finish_into_record(mut self) -> (Option<String>, Session) {
        let error = self.flush_and_wait();
        // The writer is done: nothing else holds the record, so this copies nothing.
        let session = Arc::try_unwrap(self.core.session).unwrap_or_else(|shared| (*shared).clone());
        (error, session)
    }

    fn flush_and_wait(&mut self) -> Option<String> {
        for effect in self.core.step(CoreEvent::Flush { at: Instant::now() }) {
            self.perform(effect);
        }
        if let Some(writer) = self.writer.take() {
            writer.finish();
        }
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}
