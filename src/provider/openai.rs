//! OpenAI Chat Completions wire format: request body, chunk and whole-response decoding,
//! error bodies and `x-ratelimit-*` headers. Also every OpenAI-compatible server.

use std::borrow::Cow;
use std::time::SystemTime;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{classify, http_error, ApiError, ErrorKind};
use super::sse::SseEvent;
use super::{
    body_excerpt, header_u64, parse_go_duration, ChatRequest, Completion, Endpoint, MaxTokensField,
    RateLimitHeaders, Role, StreamDecoder, StreamEvent, Usage,
};

pub fn url(base_url: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

/// The JSON body. The system prompt goes first as a `system` message; with `send_reasoning`,
/// each earlier answer's reasoning goes back as its message's `reasoning_content`.
pub fn body(req: &ChatRequest, max_field: MaxTokensField, send_reasoning: bool) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &req.messages {
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let mut message = json!({"role": role, "content": m.content});
        let reasoning = m.reasoning.as_deref().filter(|r| !r.is_empty());
        if let (true, Role::Assistant, Some(r), Some(obj)) =
            (send_reasoning, m.role, reasoning, message.as_object_mut())
        {
            obj.insert("reasoning_content".into(), json!(r));
        }
        messages.push(message);
    }
    let mut obj = serde_json::Map::new();
    obj.insert("model".into(), json!(req.model));
    obj.insert("messages".into(), Value::Array(messages));
    if let Some(t) = req.temperature {
        obj.insert("temperature".into(), json!(t));
    }
    if let Some(n) = req.max_tokens {
        obj.insert(max_field.name_for(&req.model).into(), json!(n));
    }
    if req.stream {
        obj.insert("stream".into(), json!(true));
        obj.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(obj)
}

pub fn request(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
) -> reqwest::RequestBuilder {
    let mut rb = super::json_post(http, &url(&endpoint.base_url), req.stream);
    rb = endpoint.extras.headers(rb);
    if let Some(key) = &endpoint.api_key {
        rb = rb.bearer_auth(key.expose_secret());
    }
    let mut body = body(
        req,
        endpoint.max_tokens_field,
        endpoint.extras.send_reasoning,
    );
    if let (Some(effort), Some(obj)) = (&endpoint.extras.reasoning_effort, body.as_object_mut()) {
        obj.insert("reasoning_effort".into(), json!(effort));
    }
    endpoint.extras.merge_into(&mut body);
    rb.body(body.to_string())
}

/// One chunk or whole response, parsed in one pass with borrowed strings: this runs per token,
/// so no intermediate `Value` tree and no copies of unescaped text.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    choices: Vec<Choice<'a>>,
    #[serde(default, deserialize_with = "lenient_usage")]
    usage: Option<WireUsage>,
    /// Present (and truthy) only on error chunks, which are rare: a `Value` is fine here.
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    message: Option<Delta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    /// DeepSeek, vLLM, llama-server (`--reasoning-format`).
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    /// OpenRouter, Ollama. A string; other shapes (objects) are not reasoning text.
    #[serde(default, borrow, deserialize_with = "string_or_none")]
    reasoning: Option<Cow<'a, str>>,
}

impl<'a> Delta<'a> {
    fn reasoning_text(&mut self) -> Option<Cow<'a, str>> {
        self.reasoning_content
            .take()
            .filter(|t| !t.is_empty())
            .or_else(|| self.reasoning.take().filter(|t| !t.is_empty()))
    }
}

/// A string, or nothing for null or any other JSON shape.
fn string_or_none<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Maybe<'a> {
        Text(#[serde(borrow)] Cow<'a, str>),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Maybe>::deserialize(d)? {
        Some(Maybe::Text(t)) => Some(t),
        _ => None,
    })
}

/// Compatible servers sometimes send `"choices": null`.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Usage of any shape never costs the chunk its text: what cannot be read as usage is none.
fn lenient_usage<'de, D>(d: D) -> Result<Option<WireUsage>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| WireUsage::deserialize(&v).ok()))
}

/// A token count as servers write it: `3`, or `3.0` from some proxies; negative, fractional or
/// out-of-range numbers, and other types, are absent.
fn lenient_count<'de, D>(d: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.as_ref().and_then(|v| {
        v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        })
    }))
}

#[derive(Deserialize, Clone, Copy)]
struct WireUsage {
    #[serde(default, deserialize_with = "lenient_count")]
    prompt_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize, Clone, Copy)]
struct PromptDetails {
    #[serde(default, deserialize_with = "lenient_count")]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Clone, Copy)]
struct CompletionDetails {
    #[serde(default, deserialize_with = "lenient_count")]
    reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cache_read_input_tokens: u.prompt_tokens_details.and_then(|d| d.cached_tokens),
            reasoning_tokens: u.completion_tokens_details.and_then(|d| d.reasoning_tokens),
            cache_read_in_input: true,
            ..Usage::default()
        }
    }
}

/// Decodes `chat.completion.chunk` events. Only choice 0 is the answer; `[DONE]` ends it.
#[derive(Debug, Default)]
pub struct Decoder {
    done: bool,
    model: Option<String>,
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            out.push(StreamEvent::Done);
            return;
        }
        if data.is_empty() {
            return;
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                out.push(StreamEvent::Skipped(e.to_string()));
                return;
            }
        };
        if let Some(err) = chunk.error.as_ref().and_then(error_from_value) {
            self.done = true;
            out.push(StreamEvent::Error(err));
            return;
        }
        if self.model.is_none() {
            self.model = chunk.model.filter(|m| !m.is_empty()).map(Cow::into_owned);
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(mut delta) = choice.delta {
                if let Some(thought) = delta.reasoning_text() {
                    out.push(StreamEvent::Reasoning(thought.into_owned()));
                }
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::Delta(text.into_owned()));
                }
            }
            if let Some(reason) = choice.finish_reason {
                out.push(StreamEvent::Finish(reason.into_owned()));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push(StreamEvent::Usage(usage.into()));
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
}

/// A mid-stream error: a chunk whose JSON has a truthy `error` key.
fn error_from_value(error: &Value) -> Option<ApiError> {
    let truthy = match error {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    };
    if !truthy {
        return None;
    }
    let (etype, code, message) = error_fields(error);
    // No HTTP status mid-stream (it was 200): classify by the provider's type, code and message.
    let kind = classify(0, etype.as_deref(), code.as_deref(), &message);
    let mut err = ApiError::new(kind, message);
    err.code = etype.or(code);
    Some(err)
}

/// (type, code, message) from an `error` value, which is usually an object but may be a string.
pub(super) fn error_fields(error: &Value) -> (Option<String>, Option<String>, String) {
    let text = |k: &str| match error.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match error {
        Value::String(s) => (None, None, s.clone()),
        _ => {
            let message = text("message").unwrap_or_else(|| error.to_string());
            (text("type"), text("code"), message)
        }
    }
}

/// A non-2xx response body. Compatible servers vary; fall back to the raw text.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(error) => {
            let (etype, code, message) = error_fields(error);
            http_error(status, etype.as_deref(), code.as_deref(), &message)
        }
        None => http_error(status, None, None, &body_excerpt(status, body)),
    }
}

pub fn parse_completion(body: &[u8]) -> Result<Completion, ApiError> {
    let chunk: Chunk = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::Unknown,
            format!("the response was not the expected JSON ({e})"),
        )
    })?;
    if let Some(err) = chunk.error.as_ref().and_then(error_from_value) {
        return Err(err);
    }
    let choice = chunk.choices.into_iter().find(|c| c.index == 0);
    let (content, reasoning, finish_reason) = match choice {
        Some(c) => {
            let mut message = c.message;
            let reasoning = message.as_mut().and_then(Delta::reasoning_text);
            (
                message
                    .and_then(|m| m.content)
                    .map(Cow::into_owned)
                    .unwrap_or_default(),
                reasoning.map(Cow::into_owned).unwrap_or_default(),
                c.finish_reason.map(Cow::into_owned),
            )
        }
        None => (String::new(), String::new(), None),
    };
    Ok(Completion {
        model: chunk.model.map(Cow::into_owned),
        content,
        reasoning,
        signature: None,
        thinking_blocks: Vec::new(),
        finish_reason,
        usage: chunk.usage.map(Usage::from).unwrap_or_default(),
    })
}

pub fn rate_limits(headers: &reqwest::header::HeaderMap, now: SystemTime) -> RateLimitHeaders {
    let reset = |name: &str| {
        let text = headers.get(name)?.to_str().ok()?;
        let ahead = crate::checked::header_value(name, text, parse_go_duration(text))?;
        crate::checked::time_after(now, ahead)
    };
    RateLimitHeaders {
        limit_requests: header_u64(headers, "x-ratelimit-limit-requests"),
        remaining_requests: header_u64(headers, "x-ratelimit-remaining-requests"),
        reset_requests: reset("x-ratelimit-reset-requests"),
        limit_tokens: header_u64(headers, "x-ratelimit-limit-tokens"),
        remaining_tokens: header_u64(headers, "x-ratelimit-remaining-tokens"),
        reset_tokens: reset("x-ratelimit-reset-tokens"),
        retry_after: None,
    }
}
