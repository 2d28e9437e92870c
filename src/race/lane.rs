//! One provider's lane in the race core: who it is, whether it takes part, and the live state of
//! its latest request (phase and clocks), which is all the core keeps beside the session record.

use std::time::{Duration, Instant};

use crate::config::ProviderConfig;
use crate::provider::{ErrorKind, Protocol, RateLimitHeaders, Usage};
use crate::session::{self, TurnEnd};

/// Names one request; events carrying another id than the lane's current one are stale.
pub type RequestId = u64;

/// Index of a lane (one per provider, in config order; the TUI shows each in a pane).
pub type LaneId = usize;

/// Who answers in a lane and what every request of the lane starts from.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    pub name: String,
    pub model: String,
    pub protocol: Protocol,
    pub simulated: bool,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
}

impl ProviderInfo {
    pub fn from_config(p: &ProviderConfig) -> Self {
        Self {
            name: p.name.clone(),
            model: p.model.clone(),
            protocol: p.protocol,
            simulated: p.simulated,
            system: p.system.clone(),
            temperature: p.temperature,
            max_tokens: p.max_tokens,
        }
    }

    /// A provider known by name only (a resumed session's, a headless command's): no settings.
    pub fn named(name: &str, model: &str, protocol: Protocol) -> Self {
        Self {
            name: name.to_owned(),
            model: model.to_owned(),
            protocol,
            simulated: false,
            system: None,
            temperature: None,
            max_tokens: None,
        }
    }

    /// The settings a turn asked now is saved with.
    pub fn settings(&self) -> session::TurnSettings {
        session::TurnSettings {
            model: Some(self.model.clone()),
            system: self.system.clone().filter(|s| !s.is_empty()),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        }
    }
}

/// Where a turn's request stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Waiting for the client-side limiter.
    Queued,
    Connecting {
        attempt: u32,
    },
    /// A reasoning model is thinking: reasoning tokens stream, no answer yet.
    Thinking,
    Streaming,
    Retrying {
        retry: u32,
        max: u32,
        until: Instant,
        kind: ErrorKind,
        status: Option<u16>,
    },
    Done,
    Failed {
        kind: ErrorKind,
        message: String,
    },
    Cancelled,
}

impl Phase {
    pub fn is_finished(&self) -> bool {
        matches!(self, Phase::Done | Phase::Failed { .. } | Phase::Cancelled)
    }

    /// The phase a saved turn ended in (its error message is not saved, only its kind).
    pub fn of_record(turn: &session::Turn) -> Self {
        match turn.end() {
            TurnEnd::Done => Phase::Done,
            TurnEnd::Cancelled => Phase::Cancelled,
            TurnEnd::Failed(kind) => Phase::Failed {
                kind,
                message: "(from the saved session)".to_owned(),
            },
            TurnEnd::Incomplete => Phase::Failed {
                kind: ErrorKind::StreamInterrupted,
                message: "incomplete: paddock stopped while this answer streamed".to_owned(),
            },
        }
    }
}

/// The live state of a lane's latest request: its phase and the clocks the views show while it
/// runs. Text and final numbers are in the session record, never here.
#[derive(Debug, Clone)]
pub struct Live {
    /// The request in flight; `None` once it ended.
    pub request_id: Option<RequestId>,
    /// Which turn of the lane's transcript this is.
    pub turn: usize,
    pub phase: Phase,
    pub started: Instant,
    /// When the first attempt was sent (after any limiter wait), for the live TTFT.
    pub sent: Option<Instant>,
    pub first_token: Option<Instant>,
    /// When it finished, was cancelled or failed: live clocks stop here.
    pub ended: Option<Instant>,
    pub chunks: u64,
    pub retries: u32,
    /// Usage as reported so far.
    pub usage: Usage,
    /// Characters of the thinking, counted as they arrive so a frame never recounts them.
    pub thinking_chars: usize,
    /// Reasoning chunks so far (about one token each, until the usage says).
    pub thinking_chunks: u64,
}

impl Live {
    pub fn new(request_id: RequestId, turn: usize, now: Instant) -> Self {
        Self {
            request_id: Some(request_id),
            turn,
            phase: Phase::Queued,
            started: now,
            sent: None,
            first_token: None,
            ended: None,
            chunks: 0,
            retries: 0,
            usage: Usage::default(),
            thinking_chars: 0,
            thinking_chunks: 0,
        }
    }

    /// TTFT as the clocks saw it: from the send (queue time is its own figure), to the first token.
    pub fn ttft(&self) -> Option<Duration> {
        let from = self.sent.unwrap_or(self.started);
        self.first_token.map(|t| t.saturating_duration_since(from))
    }

    /// The time a stopped request ran, as its figures: latency from the send, TTFT if a token
    /// came, the queue before the send; for a cancelled turn, which has no outcome.
    pub fn stopped_metrics(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let ended = self.ended.unwrap_or(self.started);
        let sent = self.sent.unwrap_or(self.started);
        let queue = crate::metrics::ms(sent.saturating_duration_since(self.started));
        (
            Some(crate::metrics::ms(ended.saturating_duration_since(sent))),
            self.ttft().map(crate::metrics::ms),
            Some(queue).filter(|q| *q > 0.0),
        )
    }
}

/// One provider in the race core.
#[derive(Debug, Clone)]
pub struct Lane {
    pub info: ProviderInfo,
    /// Takes part in the next prompt.
    pub enabled: bool,
    /// Why this provider cannot be asked at all (its client could not be built, or it is in a
    /// resumed session but not configured now).
    pub unavailable: Option<String>,
    /// The latest request of this lane, from its submit until the next one.
    pub live: Option<Live>,
    /// The server's rate-limit headers, as last seen.
    pub server: Option<RateLimitHeaders>,
    /// Retries over the whole session (the results table counts the race's).
    pub total_retries: u32,
    /// How much of the open turn's answer and reasoning is on disk (file or journal).
    pub(super) saved: (usize, usize),
}

impl Lane {
    pub fn new(info: ProviderInfo, unavailable: Option<String>) -> Self {
        Self {
            info,
            enabled: unavailable.is_none(),
            unavailable,
            live: None,
            server: None,
            total_retries: 0,
            saved: (0, 0),
        }
    }

    pub fn in_flight(&self) -> bool {
        self.live.as_ref().is_some_and(|l| l.request_id.is_some())
    }

    pub fn request_id(&self) -> Option<RequestId> {
        self.live.as_ref().and_then(|l| l.request_id)
    }
}

/// A turn as the views read it: the record, and the live state when it is the lane's latest.
#[derive(Debug, Clone, Copy)]
pub struct TurnRef<'a> {
    pub record: &'a session::Turn,
    pub live: Option<&'a Live>,
}

impl<'a> TurnRef<'a> {
    pub fn prompt(&self) -> &'a str {
        &self.record.prompt
    }

    pub fn answer(&self) -> &'a str {
        &self.record.answer
    }

    pub fn thinking(&self) -> &'a str {
        self.record.reasoning.as_deref().unwrap_or("")
    }

    /// Thinking blocks the provider encrypted (Anthropic `redacted_thinking`): no text to show.
    pub fn redacted_blocks(&self) -> usize {
        self.record
            .thinking_blocks
            .iter()
            .filter(|b| matches!(b, crate::provider::ThinkingBlock::RedactedThinking { .. }))
            .count()
    }

    pub fn thinking_chars(&self) -> usize {
        match self.live {
            Some(l) => l.thinking_chars,
            None => self.thinking().chars().count(),
        }
    }

    pub fn phase(&self) -> Phase {
        match self.live {
            Some(l) => l.phase.clone(),
            None => Phase::of_record(self.record),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.live.is_none_or(|l| l.phase.is_finished())
    }

    /// The saved figures, once the request ended (the one definition every view reads).
    pub fn metrics(&self) -> Option<&'a session::TurnMetrics> {
        (self.record.complete).then_some(&self.record.metrics)
    }

    /// TTFT: the final figure when known, else as the live clocks see it.
    pub fn ttft(&self) -> Option<Duration> {
        self.metrics()
            .and_then(|m| m.ttft())
            .or_else(|| self.live.and_then(Live::ttft))
    }

    /// The race this turn belongs to.
    pub fn round(&self) -> u64 {
        self.record.round.unwrap_or(0)
    }
}
