//! Sessions: a race or chat kept on disk as JSON, saved atomically so a crash never loses a finished answer.
//!
//! A [`Session`] is plain data with pure mutators ([`Session::begin_answer`],
//! [`Session::append_partial`], [`Session::finish_answer`]); [`Session::save`] writes it with a
//! temp file + fsync + rename + directory fsync, so a reader (or a process killed with SIGKILL)
//! sees either the previous complete file or the new one, never a mix. [`Autosave`] decides when
//! a streaming answer is worth saving again (a policy taking `now`, so it tests without sleeping),
//! and [`Recorder`] ties both to the client's events for the headless commands.

mod journal;
mod recorder;
mod store;
mod writer;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::client::Outcome;
use crate::config::ProviderConfig;
use crate::provider::{Message, Protocol};

pub use journal::{Field, Piece, SaveOp};
pub use recorder::{Autosave, Recorder, AUTOSAVE_EVERY};
pub use store::{default_dir, last_id, Listing};
pub use writer::{SaveReport, Writer};

/// The version written in every file; a newer paddock can still read older sessions.
pub const FORMAT_VERSION: u32 = 1;

/// A race (several providers) or a chat (one), turn by turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: u32,
    /// Sortable: `20261126-114233-042-00a1b20001` (UTC time to the millisecond, then the process
    /// and a counter; files from before the milliseconds have `20261126-114233-ab12`).
    pub id: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// A provider that has no turn yet (a lane that was never asked) is not written.
    #[serde(serialize_with = "providers_with_turns")]
    pub providers: Vec<ProviderTranscript>,
    /// Ids of turns this process dropped (`/drop`, `/retry`): a save must not merge them back
    /// from the file.
    #[serde(skip)]
    pub dropped: Vec<String>,
}

fn providers_with_turns<S: serde::Serializer>(
    providers: &[ProviderTranscript],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(providers.iter().filter(|p| !p.turns.is_empty()))
}

/// One provider's side of a session: its own conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderTranscript {
    pub name: String,
    pub model: String,
    pub protocol: Protocol,
    pub turns: Vec<Turn>,
}

/// One prompt and this provider's answer to it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Turn {
    /// Random and unique, so writers of one session merge their turns instead of overwriting
    /// each other's (absent in files from before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub prompt: String,
    pub answer: String,
    /// The model's reasoning (thinking) for this answer, when it streamed any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// The thinking's signature (Anthropic): with it the thinking goes back as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_signature: Option<String>,
    /// Anthropic's thinking blocks in the order they came, redacted ones with their `data`, when
    /// `reasoning` and `reasoning_signature` alone would not give them back (a redacted block,
    /// several blocks); they go back before the answer exactly as received.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thinking_blocks: Vec<crate::provider::ThinkingBlock>,
    /// False while the answer streams; an answer cut off by a crash stays false on disk.
    pub complete: bool,
    pub metrics: TurnMetrics,
    /// What the turn was asked with (absent in files from before settings were saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<TurnSettings>,
    /// The race (one prompt sent to every enabled provider) this turn answered; absent in files
    /// from before it was saved, where the turn's position stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u64>,
}

/// How a saved turn ended, read from its record in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnd {
    Done,
    Cancelled,
    Failed(crate::provider::ErrorKind),
    /// Not complete on disk: paddock stopped while it streamed.
    Incomplete,
}

/// The error a cancelled turn is saved with.
pub const CANCELLED: &str = "cancelled";

/// The request settings of one turn: saved so `export` shows them and a resumed conversation
/// goes on with them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TurnSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl TurnSettings {
    pub fn of(req: &crate::provider::ChatRequest) -> Self {
        Self {
            model: Some(req.model.clone()).filter(|m| !m.is_empty()),
            system: req.system.clone().filter(|s| !s.is_empty()),
            temperature: req.temperature,
            max_tokens: req.max_tokens,
        }
    }

    /// Fill what `req` was not told from these settings (a resumed conversation goes on as it
    /// was asked); `explicit` says which the user set now, which win.
    pub fn restore_into(&self, req: &mut crate::provider::ChatRequest, explicit: &Explicit) {
        if !explicit.model {
            if let Some(m) = &self.model {
                req.model.clone_from(m);
            }
        }
        if !explicit.system && self.system.is_some() {
            req.system.clone_from(&self.system);
        }
        if !explicit.temperature && self.temperature.is_some() {
            req.temperature = self.temperature;
        }
        if !explicit.max_tokens && self.max_tokens.is_some() {
            req.max_tokens = self.max_tokens;
        }
    }
}

/// Which request settings the user gave for this prompt (flags), so saved ones do not override them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Explicit {
    pub model: bool,
    pub system: bool,
    pub temperature: bool,
    pub max_tokens: bool,
}

/// What the request reported, as `ask --json` names it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TurnMetrics {
    pub ttft_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    /// Time queued in paddock's limiter and retry waits (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_ms: Option<f64>,
    /// Time to the first answer token, when a reasoning model thought first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfat_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// First to last content token: what tokens/s is measured over (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_ms: Option<f64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// The reasoning tokens are not part of `output_tokens` (Gemini), as the usage said.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reasoning_apart: bool,
    pub finish_reason: Option<String>,
    pub retries: u32,
    /// The error kind (`rate_limit`, `stream_interrupted`, ...) when the request failed.
    pub error: Option<String>,
    /// US dollars, when the config has a price for the model.
    pub cost_usd: Option<f64>,
    /// Only in an export: tokens/s is derived from the figures above ([`Self::tokens_per_sec`]),
    /// never kept in the record, and not read back.
    #[serde(
        rename = "tokens_per_sec",
        default,
        skip_deserializing,
        skip_serializing_if = "Option::is_none"
    )]
    pub export_tokens_per_sec: Option<f64>,
}

impl TurnMetrics {
    /// Every generated token, as [`crate::provider::Usage::generated_tokens`] counts them.
    pub fn generated_tokens(&self) -> Option<u64> {
        crate::provider::Usage {
            output_tokens: self.output_tokens,
            reasoning_tokens: self.reasoning_tokens,
            reasoning_apart: self.reasoning_apart,
            ..Default::default()
        }
        .generated_tokens()
    }
}

impl Turn {
    /// A finished answer that succeeded: the only kind that goes back into the conversation.
    pub fn succeeded(&self) -> bool {
        self.complete && self.metrics.error.is_none()
    }

    /// How the turn ended. The error kind is saved as its name; a name this paddock does not
    /// know (a newer file) reads as `unknown`.
    pub fn end(&self) -> TurnEnd {
        match (&self.metrics.error, self.complete) {
            (_, false) => TurnEnd::Incomplete,
            (None, true) => TurnEnd::Done,
            (Some(e), true) if e == CANCELLED => TurnEnd::Cancelled,
            (Some(e), true) => TurnEnd::Failed(
                serde_json::from_value(serde_json::Value::String(e.clone()))
                    .unwrap_or(crate::provider::ErrorKind::Unknown),
            ),
        }
    }
}

impl TurnMetrics {
    pub fn ttft(&self) -> Option<std::time::Duration> {
        self.ttft_ms.and_then(crate::checked::duration_from_ms)
    }

    pub fn ttfat(&self) -> Option<std::time::Duration> {
        self.ttfat_ms.and_then(crate::checked::duration_from_ms)
    }

    pub fn latency(&self) -> Option<std::time::Duration> {
        self.latency_ms.and_then(crate::checked::duration_from_ms)
    }

    pub fn queue(&self) -> std::time::Duration {
        self.queue_ms
            .and_then(crate::checked::duration_from_ms)
            .unwrap_or_default()
    }

    /// First to last token. Files from before `generation_ms` was saved: the time after the
    /// first token stands in.
    pub fn generation(&self) -> Option<std::time::Duration> {
        self.generation_ms
            .and_then(crate::checked::duration_from_ms)
            .or_else(|| Some(self.latency()?.saturating_sub(self.ttft()?)))
    }

    /// Tokens per second, as [`crate::metrics::tokens_per_sec`] defines it, from the saved
    /// figures: every view (pane, results table, `race`, `export`, a resumed session) reads this.
    pub fn tokens_per_sec(&self) -> Option<f64> {
        crate::metrics::tokens_per_sec(self.generated_tokens(), self.generation())
    }
}

impl ProviderTranscript {
    pub fn new(provider: &ProviderRef) -> Self {
        Self {
            name: provider.name.clone(),
            model: provider.model.clone(),
            protocol: provider.protocol,
            turns: Vec::new(),
        }
    }

    /// Open a turn: `prompt` asked with `settings` in race `round`, answer empty and incomplete.
    pub fn begin(&mut self, prompt: &str, settings: Option<TurnSettings>, round: u64) {
        self.turns.push(Turn {
            id: Some(format!("{:016x}", rand::random::<u64>())),
            prompt: prompt.to_owned(),
            settings,
            round: Some(round),
            ..Turn::default()
        });
    }

    /// The turn still streaming, if the latest is.
    pub fn open_turn(&mut self) -> Option<&mut Turn> {
        self.turns.last_mut().filter(|t| !t.complete)
    }

    /// The messages to send before a new prompt so this conversation continues: the
    /// user/assistant pairs of its answers that finished without error, oldest first.
    pub fn history(&self) -> Vec<Message> {
        self.turns
            .iter()
            // A blank answer is no turn to continue from (Anthropic refuses an empty one).
            .filter(|t| t.succeeded() && !t.answer.trim().is_empty())
            .flat_map(|t| [Message::user(&t.prompt), answer_message(t)])
            .collect()
    }
}

impl Turn {
    /// The request ended and the turn is complete. The outcome's text, when it brings any,
    /// replaces the streamed text; an outcome of figures only (`Retain::Figures`, the TUI's,
    /// which keeps each answer once: here) leaves the streamed text as the answer.
    pub fn finish(&mut self, outcome: &Outcome, cost_usd: Option<f64>) {
        if !outcome.content.is_empty() {
            self.answer.clone_from(&outcome.content);
        }
        // The record keeps it for the session: without the room it grew into while streaming.
        self.answer.shrink_to_fit();
        if outcome.reasoning.is_some() {
            self.reasoning.clone_from(&outcome.reasoning);
        }
        self.reasoning_signature
            .clone_from(&outcome.reasoning_signature);
        self.thinking_blocks = crate::provider::ThinkingBlock::beyond(
            &outcome.thinking_blocks,
            self.reasoning.as_deref(),
            outcome.reasoning_signature.as_deref(),
        );
        self.metrics = TurnMetrics::of(outcome, cost_usd);
        self.complete = true;
    }

    /// Bytes of reasoning so far.
    pub fn reasoning_len(&self) -> usize {
        self.reasoning.as_ref().map_or(0, String::len)
    }
}

/// Who is answering: what a session records about a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRef {
    pub name: String,
    pub model: String,
    pub protocol: Protocol,
}

impl ProviderRef {
    pub fn new(name: &str, model: &str, protocol: Protocol) -> Self {
        Self {
            name: name.to_owned(),
            model: model.to_owned(),
            protocol,
        }
    }

    /// The provider as configured, with `model` overriding its configured model (e.g. `-m`).
    pub fn of(p: &ProviderConfig, model: Option<&str>) -> Self {
        Self::new(&p.name, model.unwrap_or(&p.model), p.protocol)
    }
}
impl TurnMetrics {
    pub fn of(o: &Outcome, cost_usd: Option<f64>) -> Self {
        // The same numbers, rounded the same way, as `ask --json` reports for this outcome.
        let json = o.to_json();
        Self {
            ttft_ms: json.ttft_ms,
            latency_ms: Some(json.latency_ms),
            queue_ms: Some(json.queue_ms).filter(|q| *q > 0.0),
            ttfat_ms: json.ttfat_ms.filter(|_| o.reasoning.is_some()),
            reasoning_tokens: o.usage.reasoning_tokens,
            cached_input_tokens: o.usage.cache_read_input_tokens,
            cache_write_tokens: o.usage.cache_creation_input_tokens,
            generation_ms: o.generation_time.map(crate::metrics::ms),
            input_tokens: o.usage.input_tokens,
            output_tokens: o.usage.output_tokens,
            reasoning_apart: o.usage.reasoning_apart,
            finish_reason: o.finish_reason.clone(),
            retries: o.retries,
            error: o.error.as_ref().map(|e| e.kind.as_str().to_owned()),
            cost_usd,
            export_tokens_per_sec: None,
        }
    }
}

/// A new session id, sortable by creation time to the millisecond, then this process's id and
/// a count of the ids it made: `20261126-114233-042-00a1b20001`. Processes alive at the same time
/// have distinct ids, so two sessions started in the same millisecond never share one.
pub fn new_id(now: time::OffsetDateTime) -> String {
    static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let count = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & 0xffff;
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{:03}-{:06x}{count:04x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond(),
        std::process::id() & 0xff_ffff,
    )
}

/// Ids are file names: letters, digits and dashes only, so an id can never name another path.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Session {
    /// An empty session created now.
    pub fn new() -> Self {
        let now = time::OffsetDateTime::now_utc();
        let created = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self::with_id(&new_id(now), &created)
    }

    /// An empty session with a given id and creation time (tests and imports).
    pub fn with_id(id: &str, created: &str) -> Self {
        Self {
            version: FORMAT_VERSION,
            id: id.to_owned(),
            created: created.to_owned(),
            providers: Vec::new(),
            dropped: Vec::new(),
        }
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderTranscript> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The latest turn of `name`'s conversation.
    pub fn last_turn_mut(&mut self, name: &str) -> Option<&mut Turn> {
        self.provider_mut(name)?.turns.last_mut()
    }

    fn provider_mut(&mut self, name: &str) -> Option<&mut ProviderTranscript> {
        self.providers.iter_mut().find(|p| p.name == name)
    }

    /// Add `provider` (or update its model) without starting a turn.
    pub fn add_provider(&mut self, provider: &ProviderRef) -> &mut ProviderTranscript {
        let idx = match self.providers.iter().position(|p| p.name == provider.name) {
            Some(i) => i,
            None => {
                self.providers.push(ProviderTranscript {
                    name: provider.name.clone(),
                    model: provider.model.clone(),
                    protocol: provider.protocol,
                    turns: Vec::new(),
                });
                self.providers.len() - 1
            }
        };
        let p = &mut self.providers[idx];
        p.model.clone_from(&provider.model);
        p.protocol = provider.protocol;
        p
    }

    /// Start a turn: `prompt` sent to `provider`, answer empty and incomplete.
    pub fn begin_answer(&mut self, provider: &ProviderRef, prompt: &str) {
        let transcript = self.add_provider(provider);
        let round = transcript.turns.len() as u64 + 1;
        transcript.begin(prompt, None, round);
    }

    /// Record the settings `provider`'s open turn is asked with.
    pub fn set_settings(&mut self, provider: &str, settings: TurnSettings) {
        if let Some(turn) = self.open_turn(provider) {
            turn.settings = Some(settings);
        }
    }

    /// The settings of `provider`'s latest turn that has them.
    pub fn last_settings(&self, provider: &str) -> Option<&TurnSettings> {
        self.provider(provider)?
            .turns
            .iter()
            .rev()
            .find_map(|t| t.settings.as_ref())
    }

    /// Text that just streamed in for `provider`'s open turn. Ignored when no turn is open.
    pub fn append_partial(&mut self, provider: &str, text: &str) {
        if let Some(turn) = self.open_turn(provider) {
            turn.answer.push_str(text);
        }
    }

    /// The request ended: the outcome's text replaces the streamed text, and the turn is complete.
    pub fn finish_answer(&mut self, provider: &str, outcome: &Outcome, cost_usd: Option<f64>) {
        if let Some(turn) = self.open_turn(provider) {
            turn.finish(outcome, cost_usd);
        }
    }

    fn open_turn(&mut self, provider: &str) -> Option<&mut Turn> {
        self.provider_mut(provider)?.open_turn()
    }

    /// The messages to send before a new prompt so `provider`'s conversation continues.
    pub fn history(&self, provider: &str) -> Vec<Message> {
        self.provider(provider)
            .map(ProviderTranscript::history)
            .unwrap_or_default()
    }

    /// The first prompt of the session, for listings.
    pub fn first_prompt(&self) -> Option<&str> {
        self.providers
            .iter()
            .filter_map(|p| p.turns.first())
            .map(|t| t.prompt.as_str())
            .next()
    }

    /// Input plus output tokens over every turn, as reported.
    pub fn total_tokens(&self) -> u64 {
        self.turns()
            .filter_map(|t| {
                crate::checked::add_tokens([t.metrics.input_tokens, t.metrics.output_tokens])
            })
            .fold(0, u64::saturating_add)
    }

    /// Summed cost, when at least one turn was priced.
    pub fn total_cost(&self) -> Option<f64> {
        let costs: Vec<f64> = self
            .turns()
            .filter_map(|t| t.metrics.cost_usd)
            .filter(|c| crate::checked::plausible_cost(*c))
            .collect();
        (!costs.is_empty()).then(|| costs.iter().sum())
    }

    /// The most turns any provider has.
    pub fn turn_count(&self) -> usize {
        self.providers
            .iter()
            .map(|p| p.turns.len())
            .max()
            .unwrap_or(0)
    }

    /// This session written over `disk`, the same session as another process saved it: every
    /// turn of both, the further-advanced copy where both have one, in the order the file had
    /// them; `None` when that is just `self` (then `self` is written as it is).
    pub fn merged_over(&self, disk: &Session) -> Option<Session> {
        let mut merged = self.clone();
        for theirs in &disk.providers {
            match merged.provider_mut(&theirs.name) {
                Some(p) => p.turns = merged_turns(&p.turns, &theirs.turns),
                None => merged.providers.push(theirs.clone()),
            }
        }
        for p in &mut merged.providers {
            p.turns
                .retain(|t| t.id.as_ref().is_none_or(|id| !self.dropped.contains(id)));
        }
        (merged != *self).then_some(merged)
    }

    /// Each turn with an id: (id, complete, answer length), how far it is.
    pub fn turn_marks(&self) -> impl Iterator<Item = (String, bool, usize)> + '_ {
        self.turns()
            .filter_map(|t| Some((t.id.clone()?, t.complete, t.answer.len())))
    }

    /// True when turn `id` is here and at least as far as (`complete`, `len`) says.
    pub fn has_turn_as_far(&self, id: &str, complete: bool, len: usize) -> bool {
        if self.dropped.iter().any(|d| d == id) {
            return true;
        }
        self.turns()
            .find(|t| t.id.as_deref() == Some(id))
            .is_some_and(|t| t.complete || (!complete && t.answer.len() >= len))
    }

    fn turns(&self) -> impl Iterator<Item = &Turn> {
        self.providers.iter().flat_map(|p| p.turns.iter())
    }
}

/// A finished turn's answer as the next request sends it back: with its thinking blocks or its
/// signed thinking, when the provider signed it, and its reasoning for servers that take it.
fn answer_message(t: &Turn) -> Message {
    let mut m = Message::assistant(&t.answer);
    m.reasoning.clone_from(&t.reasoning);
    m.thinking_blocks.clone_from(&t.thinking_blocks);
    if let (Some(thinking), Some(signature)) = (&t.reasoning, &t.reasoning_signature) {
        m.thinking = Some(crate::provider::SignedThinking {
            thinking: thinking.clone(),
            signature: signature.clone(),
        });
    }
    m
}

/// One provider's turns from us and from the file: the file's order, the further-advanced
/// version of every turn both have (by id; turns from before ids by position), then our turns the
/// file lacks.
fn merged_turns(ours: &[Turn], disk: &[Turn]) -> Vec<Turn> {
    let find = |id: &str| ours.iter().find(|t| t.id.as_deref() == Some(id));
    let mut old_ours = ours.iter().filter(|t| t.id.is_none());
    let mut out: Vec<Turn> = disk
        .iter()
        .map(|t| match t.id.as_deref() {
            Some(id) => further(find(id), t).clone(),
            None => further(old_ours.next(), t).clone(),
        })
        .collect();
    out.extend(old_ours.cloned());
    let on_disk: std::collections::HashSet<&str> =
        disk.iter().filter_map(|t| t.id.as_deref()).collect();
    out.extend(
        ours.iter()
            .filter(|t| t.id.as_deref().is_some_and(|id| !on_disk.contains(id)))
            .cloned(),
    );
    out
}

/// Of our copy of a turn and the file's, the one further along. We may hold a stale copy of
/// another writer's turn (read while it streamed): a finished turn beats an unfinished one, and
/// of two unfinished ones the longer answer wins; of two finished ones, ours.
fn further<'a>(ours: Option<&'a Turn>, disk: &'a Turn) -> &'a Turn {
    match ours {
        None => disk,
        Some(o) if o.complete => o,
        Some(_) if disk.complete => disk,
        Some(o) if disk.answer.len() > o.answer.len() => disk,
        Some(o) => o,
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}
