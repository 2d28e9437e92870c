//! The race core: the one record of each conversation (the [`Session`]), the live state of every
//! lane's request, and the figures every view reads; domain events in, effects out as data.
//!
//! No terminal, no files, no sockets and no clock of its own: events carry their time. The TUI
//! ([`crate::tui`]) and the headless commands ([`crate::session::Recorder`] for `ask` and `race`)
//! drive it and perform its [`Effect`]s: start or abort a request, save the session.

mod lane;
mod step;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::ClientEvent;
use crate::config::Prices;
use crate::provider::ChatRequest;
use crate::session::{Autosave, SaveOp, Session};

pub use lane::{Lane, LaneId, Live, Phase, ProviderInfo, RequestId, TurnRef};

/// Something that happened, for the core to fold into the record.
#[derive(Debug, Clone)]
pub enum CoreEvent {
    /// Send `prompt` to these lanes (those unavailable or still in flight are skipped).
    Submit {
        lanes: Vec<LaneId>,
        prompt: String,
        at: Instant,
    },
    /// An event of request `request_id` of `lane`, stamped when it arrived.
    Provider {
        lane: LaneId,
        request_id: RequestId,
        event: ClientEvent,
        at: Instant,
    },
    /// Stop every request in flight; the record keeps the text so far, marked cancelled.
    Cancel { at: Instant },
    /// Ask these lanes' latest prompt again: their last answer (failed, cancelled or not liked)
    /// is replaced in the record, in the same race.
    Regenerate { lanes: Vec<LaneId>, at: Instant },
    /// Forget the latest race in every lane (a conversation that outgrew its context goes on
    /// without it).
    DropLast { at: Instant },
    /// Save what streamed since the last save, now (before quitting).
    Flush { at: Instant },
    /// Continue this saved conversation.
    SessionLoaded(Box<Session>),
    /// Start recording into this fresh session; the lanes' conversations begin again.
    SessionStarted(Box<Session>),
}

/// What the core asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Start {
        lane: LaneId,
        request_id: RequestId,
        request: ChatRequest,
    },
    /// Drop the request's stream (closing its HTTP connection), not merely ignore it.
    Abort { lane: LaneId, request_id: RequestId },
    /// Write to the session's file, off the event path.
    Save(SaveOp),
}

/// The core's whole state.
#[derive(Debug)]
pub struct RaceCore {
    /// The one record: every lane's conversation, `session.providers[i]` for lane `i` (providers
    /// of a resumed session that have no lane follow them).
    /// Shared with a save in progress (copied on write if it changes meanwhile).
    pub session: Arc<Session>,
    pub lanes: Vec<Lane>,
    /// The current race: every lane asked in one submit shares the round number.
    pub round: u64,
    next_request_id: RequestId,
    prices: Prices,
    autosave: Autosave,
    /// Lanes `0..configured` are the configured providers; later ones show providers of a
    /// resumed session that the config lacks.
    configured: usize,
    /// The most lanes a resumed session may add up to.
    max_lanes: usize,
}

/// Winners of a finished race with at least two successful answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Winners {
    pub ttft: Option<LaneId>,
    pub total: Option<LaneId>,
}

impl RaceCore {
    /// A core over `lanes`, recording into `session`.
    pub fn new(lanes: Vec<Lane>, session: Session, prices: Prices, max_lanes: usize) -> Self {
        let configured = lanes.len();
        let mut core = Self {
            session: Arc::new(session),
            lanes,
            round: 0,
            next_request_id: 1,
            prices,
            autosave: Autosave::default(),
            configured,
            max_lanes: max_lanes.max(configured),
        };
        core.align();
        core
    }

    /// Fold one event into the record; what to do about it comes back as effects.
    pub fn step(&mut self, event: CoreEvent) -> Vec<Effect> {
        match event {
            CoreEvent::Submit { lanes, prompt, at } => self.submit(&lanes, &prompt, at),
            CoreEvent::Provider {
                lane,
                request_id,
                event,
                at,
            } => self.on_provider(lane, request_id, event, at),
            CoreEvent::Cancel { at } => self.cancel(at),
            CoreEvent::Regenerate { lanes, at } => self.regenerate(&lanes, at),
            CoreEvent::DropLast { at } => self.drop_last(at),
            CoreEvent::Flush { at } => self.flush(at).into_iter().collect(),
            CoreEvent::SessionLoaded(session) => {
                self.load(*session);
                Vec::new()
            }
            CoreEvent::SessionStarted(session) => {
                self.start_over(*session);
                Vec::new()
            }
        }
    }

    pub fn in_flight(&self) -> bool {
        self.lanes.iter().any(Lane::in_flight)
    }

    /// Lane `lane`'s conversation, oldest turn first.
    pub fn turns(
        &self,
        lane: LaneId,
    ) -> impl DoubleEndedIterator<Item = TurnRef<'_>> + ExactSizeIterator + '_ {
        let records = self
            .session
            .providers
            .get(lane)
            .map_or(&[][..], |p| &p.turns[..]);
        let live = self.lanes.get(lane).and_then(|l| l.live.as_ref());
        records.iter().enumerate().map(move |(i, record)| TurnRef {
            record,
            live: live.filter(|l| l.turn == i),
        })
    }

    pub fn turn_count(&self, lane: LaneId) -> usize {
        self.session
            .providers
            .get(lane)
            .map_or(0, |p| p.turns.len())
    }

    pub fn last_turn(&self, lane: LaneId) -> Option<TurnRef<'_>> {
        self.turns(lane).next_back()
    }

    /// The turns of the latest round, by lane.
    pub fn round_turns(&self) -> Vec<(LaneId, TurnRef<'_>)> {
        if self.round == 0 {
            return Vec::new();
        }
        (0..self.lanes.len())
            .filter_map(|i| {
                self.last_turn(i)
                    .filter(|t| t.round() == self.round)
                    .map(|t| (i, t))
            })
            .collect()
    }

    /// Every lane of the latest round has finished.
    pub fn race_finished(&self) -> bool {
        let turns = self.round_turns();
        !turns.is_empty() && turns.iter().all(|(_, t)| t.is_finished())
    }

    /// Who won the finished race: first token, first to finish (ties go to the first lane).
    pub fn winners(&self) -> Winners {
        if !self.race_finished() {
            return Winners::default();
        }
        let done: Vec<(LaneId, TurnRef<'_>)> = self
            .round_turns()
            .into_iter()
            .filter(|(_, t)| t.phase() == Phase::Done)
            .collect();
        if done.len() < 2 {
            return Winners::default();
        }
        let best = |key: &dyn Fn(&TurnRef<'_>) -> Option<Duration>| {
            done.iter()
                .filter_map(|(i, t)| key(t).map(|d| (d, *i)))
                .min()
                .map(|(_, i)| i)
        };
        Winners {
            ttft: best(&|t| t.ttft()),
            total: best(&|t| t.metrics().and_then(|m| m.latency())),
        }
    }

    /// The request lane `lane` sends for `prompt`: its own earlier answers that succeeded, as the
    /// record holds them (signed thinking included), then the prompt.
    pub fn request_for(&self, lane: LaneId, prompt: &str) -> Option<ChatRequest> {
        let l = self.lanes.get(lane)?;
        let mut messages = self
            .session
            .providers
            .get(lane)
            .map(|p| p.history())
            .unwrap_or_default();
        messages.push(crate::provider::Message::user(prompt));
        Some(ChatRequest {
            model: l.info.model.clone(),
            system: l.info.system.clone(),
            messages,
            temperature: l.info.temperature,
            max_tokens: l.info.max_tokens,
            stream: true,
        })
    }

    /// The lane answering as `info.name`, given `info`'s model and settings (added when new).
    pub fn set_lane(&mut self, info: ProviderInfo) -> LaneId {
        match self.lanes.iter().position(|l| l.info.name == info.name) {
            Some(i) => {
                let lane = &mut self.lanes[i];
                lane.info = info;
                lane.unavailable = None;
                lane.enabled = true;
                i
            }
            None => {
                self.lanes.push(Lane::new(info, None));
                self.configured = self.configured.max(self.lanes.len());
                self.align();
                self.lanes.len() - 1
            }
        }
    }

    /// Price answers with `prices` (the config's `[prices]`).
    pub fn set_prices(&mut self, prices: Prices) {
        self.prices = prices;
    }

    /// True when streamed text arriving at `at` is saved at once.
    pub fn save_due(&self, at: Instant) -> bool {
        self.autosave.interval_passed(at)
    }

    /// Names of a resumed session's providers that got no lane (there was no room).
    pub fn left_out(&self) -> Vec<String> {
        self.session
            .providers
            .iter()
            .skip(self.lanes.len())
            .map(|p| p.name.clone())
            .collect()
    }

    /// The cost of an answer, from the config's prices.
    fn cost_of(&self, lane: LaneId, outcome: &crate::client::Outcome) -> Option<f64> {
        let asked = self.lanes.get(lane).map(|l| l.info.model.as_str());
        self.prices
            .answer_cost(&outcome.model, asked, &outcome.usage)
    }

    /// A save of the whole session: everything streamed so far is then on disk.
    fn save_whole(&mut self, at: Instant) -> Effect {
        self.autosave.saved(at);
        for (lane, p) in self.lanes.iter_mut().zip(&self.session.providers) {
            lane.saved = p
                .turns
                .last()
                .map_or((0, 0), |t| (t.answer.len(), t.reasoning_len()));
        }
        Effect::Save(SaveOp::Whole(Arc::clone(&self.session)))
    }
}
