//! One provider's pane: its conversation, the request in flight, scrolling and the render cache.

use std::time::{Duration, Instant};

use crate::client::Outcome;
use crate::config::ProviderConfig;
use crate::provider::{ChatRequest, ErrorKind, Message, Protocol, RateLimitHeaders, Usage};

use super::msg::RequestId;
use super::view::PaneView;

/// What the pane title shows and what every request of this pane starts from.
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
}

/// The final numbers of one request, from its [`Outcome`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnStats {
    pub ttft: Option<Duration>,
    pub latency: Duration,
    /// Time paddock made the request wait (limiter, retry waits), kept out of TTFT and latency.
    pub queue: Duration,
    /// Time to the first answer token, beside TTFT (the first token of any kind, thinking included).
    pub ttfat: Option<Duration>,
    pub input_tokens: Option<u64>,
    /// Every generated token, thinking included, whichever way the protocol counts them.
    pub output_tokens: Option<u64>,
    /// Of the output tokens, those spent thinking.
    pub reasoning_tokens: Option<u64>,
    pub tokens_per_sec: Option<f64>,
    pub finish_reason: Option<String>,
    pub retries: u32,
    /// US dollars, when the config has a price for the model.
    pub cost: Option<f64>,
}

impl TurnStats {
    pub fn from_outcome(o: &Outcome) -> Self {
        Self {
            ttft: o.ttft,
            latency: o.latency,
            queue: o.queue,
            ttfat: o.ttfat.filter(|_| o.reasoning.is_some()),
            input_tokens: o.usage.input_tokens,
            output_tokens: o.usage.generated_tokens(),
            reasoning_tokens: o.usage.reasoning_tokens,
            tokens_per_sec: crate::metrics::tokens_per_sec(
                o.usage.generated_tokens(),
                o.generation_time,
            ),
            finish_reason: o.finish_reason.clone(),
            retries: o.retries,
            cost: None,
        }
    }
}

/// One prompt and this provider's answer to it.
#[derive(Debug, Clone)]
pub struct Turn {
    pub prompt: String,
    pub answer: String,
    /// The model's reasoning (thinking), kept apart from the answer; set through
    /// [`Turn::add_thinking`] / [`Turn::set_thinking`], which keep `thinking_chars` in step.
    pub thinking: String,
    /// Characters of `thinking`, counted as they arrive so a frame never recounts them.
    pub thinking_chars: usize,
    /// The thinking's signature (Anthropic), to send it back with the next prompt.
    pub signature: Option<String>,
    /// The race this turn belongs to (every pane asked in one submit shares it).
    pub round: u64,
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
    /// Set when the request ended with an outcome.
    pub stats: Option<TurnStats>,
    pub finish_reason: Option<String>,
}

impl Turn {
    pub fn new(prompt: &str, round: u64, now: Instant) -> Self {
        Self {
            prompt: prompt.to_owned(),
            answer: String::new(),
            thinking: String::new(),
            thinking_chars: 0,
            signature: None,
            round,
            phase: Phase::Queued,
            started: now,
            sent: None,
            first_token: None,
            ended: None,
            chunks: 0,
            retries: 0,
            usage: Usage::default(),
            stats: None,
            finish_reason: None,
        }
    }

    /// More of the model's thinking streamed in.
    pub fn add_thinking(&mut self, text: &str) {
        self.thinking.push_str(text);
        self.thinking_chars += text.chars().count();
    }

    /// The whole thinking, known at once (the outcome, a resumed turn).
    pub fn set_thinking(&mut self, text: String) {
        self.thinking_chars = text.chars().count();
        self.thinking = text;
    }

    /// TTFT: the final one when known, else as seen by the UI.
    pub fn ttft(&self) -> Option<Duration> {
        self.stats.as_ref().and_then(|s| s.ttft).or_else(|| {
            let from = self.sent.unwrap_or(self.started);
            self.first_token.map(|t| t.saturating_duration_since(from))
        })
    }
}

/// One pane's whole state.
#[derive(Debug)]
pub struct Pane {
    pub info: ProviderInfo,
    /// Takes part in the next prompt.
    pub enabled: bool,
    /// Why this provider cannot be used at all (its client could not be built).
    pub unavailable: Option<String>,
    pub turns: Vec<Turn>,
    /// The request in flight; events with another id are stale and dropped.
    pub request_id: Option<RequestId>,
    /// First visible line when the user scrolled; `None` follows the tail.
    pub scroll: Option<usize>,
    pub view: PaneView,
    pub server: Option<RateLimitHeaders>,
    pub total_retries: u32,
}

impl Pane {
    pub fn new(info: ProviderInfo, unavailable: Option<String>) -> Self {
        Self {
            info,
            enabled: unavailable.is_none(),
            unavailable,
            turns: Vec::new(),
            request_id: None,
            scroll: None,
            view: PaneView::default(),
            server: None,
            total_retries: 0,
        }
    }

    pub fn in_flight(&self) -> bool {
        self.request_id.is_some()
    }

    pub fn last_turn(&self) -> Option<&Turn> {
        self.turns.last()
    }

    /// The request for `prompt`, carrying this pane's own earlier turns as history: the answers
    /// that finished (a failed or cancelled one would put half an answer in the model's mouth).
    pub fn request_for(&self, prompt: &str) -> ChatRequest {
        let mut messages = Vec::new();
        let finished = |t: &&Turn| t.phase == Phase::Done && !t.answer.trim().is_empty();
        for turn in self.turns.iter().filter(finished) {
            messages.push(Message::user(turn.prompt.clone()));
            let mut answer = Message::assistant(turn.answer.clone());
            if let Some(signature) = &turn.signature {
                answer.thinking = Some(crate::provider::SignedThinking {
                    thinking: turn.thinking.clone(),
                    signature: signature.clone(),
                });
            }
            messages.push(answer);
        }
        messages.push(Message::user(prompt));
        ChatRequest {
            model: self.info.model.clone(),
            system: self.info.system.clone(),
            messages,
            temperature: self.info.temperature,
            max_tokens: self.info.max_tokens,
            stream: true,
        }
    }
}
