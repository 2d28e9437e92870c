//! The wire layer: request and event types shared by both protocols. Knows HTTP and JSON, nothing of the UI.

pub mod anthropic;
pub mod error;
pub mod gemini;
pub mod models;
pub mod openai;
pub mod responses;
pub mod sse;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub use error::{ApiError, ErrorKind};

/// Which wire protocol a provider speaks. A third protocol is one new variant and one new module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OpenAI Chat Completions, also every compatible server (Ollama, vLLM, llama-server, ...).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses (`POST /v1/responses`), the only way to reasoning summaries.
    #[serde(rename = "openai-responses")]
    OpenAiResponses,
    /// Google Gemini's native API (`streamGenerateContent`).
    Gemini,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAi => "openai",
            Protocol::Anthropic => "anthropic",
            Protocol::OpenAiResponses => "openai-responses",
            Protocol::Gemini => "gemini",
        }
    }

    /// Every protocol, in the order the built-in providers are offered.
    pub const ALL: [Protocol; 4] = [
        Protocol::OpenAi,
        Protocol::Anthropic,
        Protocol::OpenAiResponses,
        Protocol::Gemini,
    ];

    /// The API's name, for sentences.
    pub fn api_name(self) -> &'static str {
        match self {
            Protocol::OpenAi => "OpenAI",
            Protocol::Anthropic => "Anthropic",
            Protocol::OpenAiResponses => "OpenAI Responses",
            Protocol::Gemini => "Gemini",
        }
    }

    /// The highest sampling temperature the API accepts (the lowest is 0 for all).
    pub fn max_temperature(self) -> f64 {
        match self {
            Protocol::Anthropic => 1.0,
            Protocol::OpenAi | Protocol::OpenAiResponses | Protocol::Gemini => 2.0,
        }
    }

    /// Where the vendor's API lives, when the config names no `base_url`.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Protocol::OpenAi | Protocol::OpenAiResponses => "https://api.openai.com/v1",
            Protocol::Anthropic => "https://api.anthropic.com",
            Protocol::Gemini => "https://generativelanguage.googleapis.com",
        }
    }

    /// The environment variable the vendor's SDKs read the key from.
    pub fn key_env(self) -> &'static str {
        match self {
            Protocol::OpenAi | Protocol::OpenAiResponses => "OPENAI_API_KEY",
            Protocol::Anthropic => "ANTHROPIC_API_KEY",
            Protocol::Gemini => "GEMINI_API_KEY",
        }
    }

    /// Whether the API takes a thinking budget in tokens (`thinking = {..., budget_tokens}`).
    pub fn takes_thinking_budget(self) -> bool {
        matches!(self, Protocol::Anthropic | Protocol::Gemini)
    }

    /// One sentence when the API would refuse temperature `t`.
    pub fn check_temperature(self, t: f64) -> Result<(), String> {
        let max = self.max_temperature();
        if t.is_finite() && (0.0..=max).contains(&t) {
            return Ok(());
        }
        Err(format!(
            "temperature {} is outside the {} API's range (0 to {max}); pick a value in it.",
            crate::checked::short_number(t),
            self.api_name()
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn of a conversation. The system prompt lives on [`ChatRequest`], not here,
/// because the two protocols place it differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// An assistant turn's signed thinking, sent back exactly as received where the protocol
    /// takes it (Anthropic); other protocols send the content alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<SignedThinking>,
    /// An assistant turn's Anthropic thinking blocks in the order they came (signed thinking,
    /// redacted thinking): when there are any, they go back instead of `thinking`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thinking_blocks: Vec<ThinkingBlock>,
    /// An assistant turn's reasoning text, sent back as `reasoning_content` to the
    /// OpenAI-compatible servers configured with `send_reasoning = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

/// Anthropic extended thinking as the API returned it: the text and its signature, which the API
/// checks when the block comes back in a later request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedThinking {
    pub thinking: String,
    pub signature: String,
}

/// One Anthropic thinking block as the API returned it, to send back unchanged: serialised, it
/// is the block itself (`{"type": "thinking", "thinking", "signature"}` or
/// `{"type": "redacted_thinking", "data"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThinkingBlock {
    /// Readable thinking and the signature the API checks when the block comes back.
    Thinking { thinking: String, signature: String },
    /// Thinking the API encrypted: an opaque blob, readable by no one but the API.
    RedactedThinking { data: String },
}

impl ThinkingBlock {
    /// Bytes held beyond the thinking text (which is counted as reasoning already).
    pub fn opaque_len(&self) -> usize {
        match self {
            ThinkingBlock::Thinking { signature, .. } => signature.len(),
            ThinkingBlock::RedactedThinking { data } => data.len(),
        }
    }

    /// The blocks worth keeping beside a turn's reasoning and signature: none when they are one
    /// signed block holding just that text (the pair says it all), else every block.
    pub fn beyond(
        blocks: &[ThinkingBlock],
        reasoning: Option<&str>,
        signature: Option<&str>,
    ) -> Vec<ThinkingBlock> {
        let said = match (blocks, reasoning, signature) {
            (
                [ThinkingBlock::Thinking {
                    thinking,
                    signature: s,
                }],
                Some(r),
                Some(sig),
            ) => thinking == r && s == sig,
            _ => blocks.is_empty(),
        };
        if said {
            Vec::new()
        } else {
            blocks.to_vec()
        }
    }
}

impl Message {
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
            thinking: None,
            thinking_blocks: Vec::new(),
            reasoning: None,
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
            thinking: None,
            thinking_blocks: Vec::new(),
            reasoning: None,
        }
    }
}

/// Which field carries the output-token cap on OpenAI-style servers: reasoning models
/// reject `max_tokens` and want `max_completion_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// Follow the model asked for: `max_completion_tokens` for OpenAI's reasoning models
    /// (o1, o3, o4, gpt-5), `max_tokens` for the rest (what compatible servers know).
    #[default]
    Auto,
    MaxTokens,
    MaxCompletionTokens,
}

impl MaxTokensField {
    /// The field to send for `model`.
    pub fn name_for(self, model: &str) -> &'static str {
        match self {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
            MaxTokensField::Auto if is_openai_reasoning_model(model) => "max_completion_tokens",
            MaxTokensField::Auto => "max_tokens",
        }
    }
}

/// OpenAI's reasoning models, which refuse `max_tokens` and a temperature other than 1 (their
/// OpenAPI description says so); a provider prefix such as `openai/` is looked through.
pub fn is_openai_reasoning_model(model: &str) -> bool {
    let base = model.rsplit('/').next().unwrap_or(model);
    let family = |p: &str| {
        base.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.']))
    };
    ["o1", "o3", "o4"].iter().any(|p| family(p)) || base.starts_with("gpt-5")
}

/// A protocol-neutral chat request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub stream: bool,
}

/// Token counts as the provider reported them; `None` when it never did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    /// All generated tokens, reasoning included (both APIs count them so).
    pub output_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache (Anthropic `cache_creation_input_tokens`).
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the cache (Anthropic `cache_read_input_tokens`, OpenAI
    /// `prompt_tokens_details.cached_tokens`).
    pub cache_read_input_tokens: Option<u64>,
    /// Of the output tokens, those spent reasoning (`completion_tokens_details.reasoning_tokens`).
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
    /// True when `input_tokens` includes the cache reads (OpenAI), false when they are apart
    /// (Anthropic): what pricing needs to bill each token once.
    #[serde(default)]
    pub cache_read_in_input: bool,
    /// True when `reasoning_tokens` are not part of `output_tokens` (Gemini counts thoughts
    /// apart), so every generated token is counted and billed once.
    #[serde(default)]
    pub reasoning_apart: bool,
}

impl Usage {
    pub fn total(&self) -> Option<u64> {
        crate::checked::add_tokens([self.input_tokens, self.generated_tokens()])
    }

    /// Every generated token, answer and reasoning, whichever way the protocol counts them.
    pub fn generated_tokens(&self) -> Option<u64> {
        match (self.reasoning_apart, self.reasoning_tokens) {
            (true, Some(_)) => {
                crate::checked::add_tokens([self.output_tokens, self.reasoning_tokens])
            }
            _ => self.output_tokens,
        }
    }

    /// Fields present in `newer` replace ours (Anthropic's cumulative `message_delta` rule).
    pub fn merge(&mut self, newer: Usage) {
        fn pick(old: &mut Option<u64>, new: Option<u64>) {
            if new.is_some() {
                *old = new;
            }
        }
        pick(&mut self.input_tokens, newer.input_tokens);
        pick(&mut self.output_tokens, newer.output_tokens);
        pick(
            &mut self.cache_creation_input_tokens,
            newer.cache_creation_input_tokens,
        );
        pick(
            &mut self.cache_read_input_tokens,
            newer.cache_read_input_tokens,
        );
        pick(&mut self.reasoning_tokens, newer.reasoning_tokens);
        self.cache_read_in_input |= newer.cache_read_in_input;
        self.reasoning_apart |= newer.reasoning_apart;
    }
}

/// What the server's rate-limit headers said on one response. Resets are absolute times so a
/// snapshot stays meaningful after it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitHeaders {
    pub limit_requests: Option<u64>,
    pub remaining_requests: Option<u64>,
    pub reset_requests: Option<SystemTime>,
    pub limit_tokens: Option<u64>,
    pub remaining_tokens: Option<u64>,
    pub reset_tokens: Option<SystemTime>,
    /// `retry-after` / `retry-after-ms`, when the response carried one.
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    pub fn is_empty(&self) -> bool {
        *self == RateLimitHeaders::default()
    }

    /// Each field from `self`, or from `other` where `self` has none.
    pub fn or(self, other: RateLimitHeaders) -> RateLimitHeaders {
        RateLimitHeaders {
            limit_requests: self.limit_requests.or(other.limit_requests),
            remaining_requests: self.remaining_requests.or(other.remaining_requests),
            reset_requests: self.reset_requests.or(other.reset_requests),
            limit_tokens: self.limit_tokens.or(other.limit_tokens),
            remaining_tokens: self.remaining_tokens.or(other.remaining_tokens),
            reset_tokens: self.reset_tokens.or(other.reset_tokens),
            retry_after: self.retry_after.or(other.retry_after),
        }
    }
}

/// One decoded event from a streaming response.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of assistant text.
    Delta(String),
    /// A piece of the model's reasoning (thinking), streamed before or beside the answer.
    Reasoning(String),
    /// The signature of the thinking so far (Anthropic `signature_delta`).
    Signature(String),
    /// A whole thinking block, at its end (Anthropic): kept to be sent back in a later turn.
    ThinkingBlock(ThinkingBlock),
    /// Usage as known so far (already merged by the decoder; replace, don't add).
    Usage(Usage),
    /// The provider's own finish / stop reason.
    Finish(String),
    /// The provider said the stream is complete (`[DONE]` / `message_stop`).
    Done,
    /// The server reported an error inside the stream.
    Error(ApiError),
    /// An event that could not be decoded (bad JSON, a number out of range, too deep): skipped,
    /// but counted and reported, so no text vanishes without a trace. Holds why.
    Skipped(String),
}

/// A whole non-streaming answer, decoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub model: Option<String>,
    pub content: String,
    pub reasoning: String,
    /// The thinking block's signature, when the protocol signs it.
    pub signature: Option<String>,
    /// The thinking blocks in order (Anthropic), to send back in a later turn.
    pub thinking_blocks: Vec<ThinkingBlock>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

/// Incremental decoding of one response stream: SSE events in, stream events out.
/// `finish` is called at end of body and reports a truncated stream.
pub trait StreamDecoder: Send {
    fn on_event(&mut self, event: &sse::SseEvent, out: &mut Vec<StreamEvent>);
    /// True once the protocol's end marker arrived; events after it are ignored.
    fn is_done(&self) -> bool;
    /// The model name the server reported, if any.
    fn model(&self) -> Option<&str>;
}

/// Parse a header value as a non-negative integer, tolerating spaces.
pub(crate) fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Retry-After in all its forms: `retry-after-ms`, then `retry-after` as seconds, then as an HTTP
/// date, then LiteLLM's forwarded `llm_provider-retry-after`. Values out of range (negative,
/// absurd, past [`crate::checked::MAX_OUTSIDE_WAIT`]) count as absent and are logged.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms") {
        let parsed = ms
            .parse::<f64>()
            .ok()
            .and_then(|ms| crate::checked::wait_from_secs(ms / 1000.0));
        if let Some(wait) = crate::checked::header_value("retry-after-ms", ms, parsed) {
            return Some(wait);
        }
    }
    for name in ["retry-after", "llm_provider-retry-after"] {
        let Some(value) = text(name) else { continue };
        let parsed = match value.parse::<f64>() {
            Ok(secs) => crate::checked::wait_from_secs(secs),
            Err(_) => httpdate::parse_http_date(value).ok().and_then(|when| {
                crate::checked::wait_from_secs(
                    when.duration_since(now)
                        .unwrap_or(Duration::ZERO)
                        .as_secs_f64(),
                )
            }),
        };
        if let Some(wait) = crate::checked::header_value(name, value, parsed) {
            return Some(wait);
        }
    }
    None
}

/// `x-should-retry: true|false`, when present.
pub fn should_retry_header(headers: &reqwest::header::HeaderMap) -> Option<bool> {
    match headers.get("x-should-retry")?.to_str().ok()?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Bounds on what one response may make paddock hold (DESIGN.md §3b); each is a config key of
/// the same name. Passing one is an error of kind `too_large`, never an abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One SSE line, or one event's data.
    pub max_event_bytes: usize,
    /// A whole non-streaming response body.
    pub max_body_bytes: usize,
    /// One answer's text, streamed or not (what a session keeps of it).
    pub max_answer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_bytes: sse::DEFAULT_MAX_EVENT_BYTES,
            max_body_bytes: 16 << 20,
            max_answer_bytes: 8 << 20,
        }
    }
}

/// How much of an error response is read: enough for any real error message; the rest is dropped.
pub const ERROR_BODY_PREFIX: usize = 64 << 10;

/// Where and how to reach one provider: what the wire layer needs to build a request.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub protocol: Protocol,
    /// For OpenAI-style servers this includes `/v1`; for Anthropic it does not (SDK conventions).
    pub base_url: String,
    pub api_key: Option<secrecy::SecretString>,
    pub max_tokens_field: MaxTokensField,
    pub limits: Limits,
    pub extras: RequestExtras,
}

/// What a provider's config adds to every request: reasoning controls, and `extra_body` /
/// `extra_headers` for what paddock has no key for (aichat's `patch`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestExtras {
    /// OpenAI-style `reasoning_effort` (`minimal`, `low`, `medium`, `high`, ...).
    pub reasoning_effort: Option<String>,
    /// Anthropic extended thinking's `budget_tokens`, from `thinking = {type = "enabled", ...}`.
    pub thinking_budget: Option<u32>,
    /// Merged into the JSON body at the top level; `messages` and `stream` are paddock's.
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// Sent with every request; never the auth headers (the config refuses them).
    pub extra_headers: Vec<(String, String)>,
    /// OpenAI-compatible servers: send each earlier answer's reasoning back as
    /// `reasoning_content` on its assistant message (`send_reasoning`). Off by default: DeepSeek's
    /// reasoner refuses it (HTTP 400), while some servers need it to go on thinking.
    pub send_reasoning: bool,
}

/// Body fields `extra_body` may not replace: the conversation and the streaming switch, which
/// the client's decoding depends on.
pub const PROTECTED_BODY_KEYS: [&str; 3] = ["messages", "stream", "stream_options"];

/// Headers `extra_headers` may not set: credentials and what HTTP itself owns.
pub const PROTECTED_HEADERS: [&str; 7] = [
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "content-type",
    "content-length",
    "host",
];

impl RequestExtras {
    /// Merge `extra_body` into `body` (ours first, theirs win, protected keys kept).
    pub fn merge_into(&self, body: &mut serde_json::Value) {
        let Some(obj) = body.as_object_mut() else {
            return;
        };
        for (k, v) in &self.extra_body {
            if !PROTECTED_BODY_KEYS.contains(&k.as_str()) {
                obj.insert(k.clone(), v.clone());
            }
        }
    }

    pub fn headers(&self, mut rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in &self.extra_headers {
            if !PROTECTED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                rb = rb.header(name, value);
            }
        }
        rb
    }
}

impl Endpoint {
    /// The request for `req`, ready to send: URL, headers and JSON body.
    pub fn request(&self, http: &reqwest::Client, req: &ChatRequest) -> reqwest::RequestBuilder {
        match self.protocol {
            Protocol::OpenAi => openai::request(http, self, req),
            Protocol::Anthropic => anthropic::request(http, self, req),
            Protocol::OpenAiResponses => responses::request(http, self, req),
            Protocol::Gemini => gemini::request(http, self, req),
        }
    }

    /// What the API would refuse, said before sending: Anthropic's extended thinking needs a
    /// budget of at least 1024 tokens, below max_tokens, and no temperature.
    pub fn check(&self, req: &ChatRequest) -> Result<(), ApiError> {
        if let Some(t) = req.temperature {
            self.protocol
                .check_temperature(t)
                .map_err(|m| ApiError::new(ErrorKind::InvalidRequest, m))?;
        }
        let Some(budget) = self
            .extras
            .thinking_budget
            .filter(|_| self.protocol == Protocol::Anthropic)
        else {
            return Ok(());
        };
        let max = req.max_tokens.unwrap_or(anthropic::DEFAULT_MAX_TOKENS);
        let problem = if budget < 1024 {
            Some(format!(
                "thinking budget_tokens is {budget}; Anthropic's minimum is 1024 tokens"
            ))
        } else if budget >= max {
            Some(format!(
                "thinking budget_tokens ({budget}) must be below max_tokens ({max}); raise max_tokens or lower budget_tokens"
            ))
        } else if req.temperature.is_some() {
            Some(
                "temperature cannot be set with extended thinking; remove it (or the thinking setting)"
                    .to_owned(),
            )
        } else {
            None
        };
        match problem {
            Some(message) => {
                let mut err = ApiError::new(ErrorKind::InvalidRequest, message);
                err.retriable = false;
                Err(err)
            }
            None => Ok(()),
        }
    }

    pub fn decoder(&self) -> Box<dyn StreamDecoder> {
        match self.protocol {
            Protocol::OpenAi => Box::new(openai::Decoder::default()),
            Protocol::Anthropic => Box::new(anthropic::Decoder::default()),
            Protocol::OpenAiResponses => Box::new(responses::Decoder::default()),
            Protocol::Gemini => Box::new(gemini::Decoder::default()),
        }
    }

    pub fn parse_completion(&self, body: &[u8]) -> Result<Completion, ApiError> {
        match self.protocol {
            Protocol::OpenAi => openai::parse_completion(body),
            Protocol::Anthropic => anthropic::parse_completion(body),
            Protocol::OpenAiResponses => responses::parse_completion(body),
            Protocol::Gemini => gemini::parse_completion(body),
        }
    }

    /// An HTTP error response turned into an [`ApiError`], with Retry-After and `x-should-retry`.
    pub fn parse_error(
        &self,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> ApiError {
        // The error keeps one line of it; the whole (bounded) body is for the log.
        error::log_error_body(status, body);
        let mut err = match self.protocol {
            Protocol::OpenAi => openai::parse_error(status, body),
            Protocol::Anthropic => anthropic::parse_error(status, body),
            Protocol::OpenAiResponses => responses::parse_error(status, body),
            Protocol::Gemini => gemini::parse_error(status, body),
        };
        err.message = error::one_line(&err.message);
        // A header wait wins; a body's own (Gemini's RetryInfo) stands when there is none.
        let wait = retry_after(headers, SystemTime::now()).or(err.retry_after);
        err.with_retry_after(wait)
            .with_should_retry(should_retry_header(headers))
    }

    pub fn rate_limits(&self, headers: &reqwest::header::HeaderMap) -> RateLimitHeaders {
        let now = SystemTime::now();
        // Proxies (LiteLLM, OpenRouter) send either family whatever the protocol: read ours
        // first and fill what it lacks from the other.
        let (ours, theirs) = match self.protocol {
            Protocol::OpenAi | Protocol::OpenAiResponses => (
                openai::rate_limits(headers, now),
                anthropic::rate_limits(headers, now),
            ),
            Protocol::Gemini => (
                gemini::rate_limits(headers, now),
                anthropic::rate_limits(headers, now),
            ),
            Protocol::Anthropic => (
                anthropic::rate_limits(headers, now),
                openai::rate_limits(headers, now),
            ),
        };
        let mut rl = ours.or(theirs);
        rl.retry_after = retry_after(headers, now);
        rl
    }
}

/// A JSON POST that accepts an event stream or a JSON body, as both protocols send.
pub(crate) fn json_post(
    http: &reqwest::Client,
    url: &str,
    stream: bool,
) -> reqwest::RequestBuilder {
    let accept = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    http.post(url)
        .header("content-type", "application/json")
        .header("accept", accept)
}

/// The body text of an error response on one line (an HTML page: its status and title).
pub(crate) fn body_excerpt(status: u16, body: &[u8]) -> String {
    error::body_summary(status, body)
}

/// Go-style duration (`1s`, `6m0s`, `12ms`, `1.5s`, `1h2m3s`) as used by OpenAI's reset headers.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    // 10^23 seconds is not a reset time: out of range reads as absent, never a panic.
    crate::checked::wait_from_secs(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_cap_field_follows_the_model() {
        let auto = MaxTokensField::Auto;
        for m in [
            "o1",
            "o1-mini",
            "o3-mini",
            "o4-mini",
            "gpt-5",
            "gpt-5.1",
            "openai/o3",
        ] {
            assert_eq!(auto.name_for(m), "max_completion_tokens", "{m}");
        }
        for m in [
            "gpt-4o",
            "gpt-4o-mini",
            "o1x",
            "llama-3",
            "qwen3:8b",
            "claude-o3",
        ] {
            assert_eq!(auto.name_for(m), "max_tokens", "{m}");
        }
        assert_eq!(MaxTokensField::MaxTokens.name_for("o3"), "max_tokens");
    }

    #[test]
    fn temperature_ranges_per_api() {
        assert!(Protocol::OpenAi.check_temperature(2.0).is_ok());
        assert!(Protocol::Anthropic.check_temperature(1.0).is_ok());
        let e = Protocol::Anthropic.check_temperature(1.2).unwrap_err();
        assert!(e.contains("Anthropic") && e.contains("0 to 1"), "{e}");
        assert!(Protocol::OpenAi.check_temperature(f64::NAN).is_err());
        assert!(Protocol::OpenAi.check_temperature(-0.1).is_err());
    }

    #[test]
    fn anthropic_never_gets_a_blank_assistant_turn() {
        let req = ChatRequest {
            model: "c".into(),
            messages: vec![
                Message::user("one"),
                Message::assistant("  "),
                Message::user("two"),
                Message::assistant("answer"),
                Message::user("three"),
            ],
            ..ChatRequest::default()
        };
        let body = anthropic::body(&req);
        let sent: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert_eq!(sent, ["two", "answer", "three"]);
    }

    #[test]
    fn go_durations() {
        let cases = [
            ("1s", 1000),
            ("6m0s", 360_000),
            ("12ms", 12),
            ("1.5s", 1500),
            ("1h2m3s", 3_723_000),
            ("0s", 0),
            ("0", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_go_duration(text),
                Some(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in [
            "",
            "s",
            "1x",
            "abc",
            "1.2.3s",
            "100000000000000000000000s",
            "25h",
        ] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_forms() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
        for absurd in ["1e20", "1e308", "-3", "NaN", "inf"] {
            let mut h = HeaderMap::new();
            h.insert("retry-after", HeaderValue::from_static(absurd));
            assert_eq!(retry_after(&h, now), None, "{absurd}");
            let mut h = HeaderMap::new();
            h.insert("retry-after-ms", HeaderValue::from_static(absurd));
            assert_eq!(retry_after(&h, now), None, "ms {absurd}");
        }
        let mut h = HeaderMap::new();
        h.insert("llm_provider-retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(3)));
    }
}
