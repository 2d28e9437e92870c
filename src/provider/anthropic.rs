//! Anthropic Messages wire format: request body, event decoding, error bodies and
//! `anthropic-ratelimit-*` headers.

use std::time::SystemTime;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{classify, http_error, ApiError, ErrorKind};
use super::sse::SseEvent;
use super::{
    body_excerpt, header_u64, ChatRequest, Completion, Endpoint, Message, RateLimitHeaders, Role,
    StreamDecoder, StreamEvent, ThinkingBlock, Usage,
};

pub const VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this is what we send when the user set none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

pub fn url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    // Accept a base URL given with or without the version segment.
    if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

/// The messages the API accepts: it refuses an empty assistant turn ("all messages must have
/// non-empty content"), so an exchange whose answer is blank is left out with its prompt.
fn sendable(
    messages: &[crate::provider::Message],
) -> impl Iterator<Item = &crate::provider::Message> {
    let blank = |m: &crate::provider::Message| {
        m.role == Role::Assistant
            && m.content.trim().is_empty()
            && m.thinking.is_none()
            && m.thinking_blocks.is_empty()
    };
    messages.iter().enumerate().filter_map(move |(i, m)| {
        let answer_blank = messages.get(i + 1).is_some_and(blank);
        let dropped = blank(m) || (m.role == Role::User && answer_blank);
        (!dropped).then_some(m)
    })
}

/// An assistant message's thinking blocks as the API sent them: every block kept (redacted ones
/// too), else the one signed block of older sessions and the TUI.
fn thinking_blocks(m: &Message) -> Vec<Value> {
    if !m.thinking_blocks.is_empty() {
        return m
            .thinking_blocks
            .iter()
            .filter_map(|b| serde_json::to_value(b).ok())
            .collect();
    }
    m.thinking
        .iter()
        .map(|t| json!({"type": "thinking", "thinking": t.thinking, "signature": t.signature}))
        .collect()
}

/// The JSON body. The system prompt is a top-level field, not a message.
pub fn body(req: &ChatRequest) -> Value {
    let messages: Vec<Value> = sendable(&req.messages)
        .map(|m| {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            let thinking = thinking_blocks(m);
            if thinking.is_empty() {
                return json!({"role": role, "content": m.content});
            }
            // Thinking goes back first, byte for byte and in order, as the API requires.
            let mut content = thinking;
            if !m.content.is_empty() {
                content.push(json!({"type": "text", "text": m.content}));
            }
            json!({"role": role, "content": content})
        })
        .collect();
    let mut obj = serde_json::Map::new();
    obj.insert("model".into(), json!(req.model));
    let max_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    obj.insert("max_tokens".into(), json!(max_tokens));
    obj.insert("messages".into(), Value::Array(messages));
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        obj.insert("system".into(), json!(system));
    }
    if let Some(t) = req.temperature {
        obj.insert("temperature".into(), json!(t));
    }
    if req.stream {
        obj.insert("stream".into(), json!(true));
    }
    Value::Object(obj)
}

pub fn request(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
) -> reqwest::RequestBuilder {
    let mut rb = super::json_post(http, &url(&endpoint.base_url), req.stream)
        .header("anthropic-version", VERSION);
    rb = endpoint.extras.headers(rb);
    if let Some(key) = &endpoint.api_key {
        rb = rb.header("x-api-key", key.expose_secret());
    }
    let mut body = body(req);
    if let (Some(budget), Some(obj)) = (endpoint.extras.thinking_budget, body.as_object_mut()) {
        obj.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    endpoint.extras.merge_into(&mut body);
    rb.body(body.to_string())
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            reasoning_tokens: None,
            cache_read_in_input: false,
            reasoning_apart: false,
        }
    }
}

/// Decodes Messages stream events. Usage is cumulative: later fields replace earlier ones.
#[derive(Debug, Default)]
pub struct Decoder {
    done: bool,
    model: Option<String>,
    usage: Usage,
    /// The thinking block being streamed, with its index, until its `content_block_stop`.
    open: Option<(Option<u64>, ThinkingBlock)>,
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.done || event.data.trim().is_empty() {
            return;
        }
        let value: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => {
                out.push(StreamEvent::Skipped(e.to_string()));
                return;
            }
        };
        // The data's `type` is authoritative; compatible servers sometimes omit `event:`.
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event.event.as_str());
        match kind {
            "message_start" => self.on_message_start(&value, out),
            "content_block_start" => self.on_block_start(&value, out),
            "content_block_delta" => {
                let delta = &value["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => push_text(delta["text"].as_str(), out),
                    Some("thinking_delta") => {
                        let text = delta["thinking"].as_str();
                        if let Some(ThinkingBlock::Thinking { thinking, .. }) = self.open_at(&value)
                        {
                            thinking.push_str(text.unwrap_or_default());
                        }
                        push_thought(text, out);
                    }
                    Some("signature_delta") => {
                        let sig = delta["signature"].as_str().unwrap_or_default();
                        // Each delta replaces the signature, as the SDKs' accumulators do.
                        if let Some(ThinkingBlock::Thinking { signature, .. }) =
                            self.open_at(&value)
                        {
                            sig.clone_into(signature);
                        }
                        if !sig.is_empty() {
                            out.push(StreamEvent::Signature(sig.to_owned()));
                        }
                    }
                    _ => {} // input_json_delta, citations_delta, ...
                }
            }
            "content_block_stop" => self.close_block(out),
            "message_delta" => {
                self.close_block(out);
                self.on_message_delta(&value, out);
            }
            "message_stop" => {
                self.close_block(out);
                self.done = true;
                out.push(StreamEvent::Done);
            }
            "error" => {
                self.done = true;
                out.push(StreamEvent::Error(stream_error(&value)));
            }
            _ => {} // ping and anything new
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
}

impl Decoder {
    fn on_block_start(&mut self, value: &Value, out: &mut Vec<StreamEvent>) {
        // A block that never saw its stop ends where the next one starts.
        self.close_block(out);
        let block = &value["content_block"];
        let text = |k: &str| block[k].as_str().unwrap_or_default().to_owned();
        let kept = match block["type"].as_str() {
            Some("text") => {
                push_text(block["text"].as_str(), out);
                None
            }
            Some("thinking") => {
                push_thought(block["thinking"].as_str(), out);
                Some(ThinkingBlock::Thinking {
                    thinking: text("thinking"),
                    signature: text("signature"),
                })
            }
            // No readable text, but it goes back in the next turn as it came.
            Some("redacted_thinking") => {
                Some(ThinkingBlock::RedactedThinking { data: text("data") })
            }
            _ => None, // tool_use, ...
        };
        self.open = kept.map(|b| (value["index"].as_u64(), b));
    }

    /// The open thinking block, when the event's index (if it has one) is that block's.
    fn open_at(&mut self, value: &Value) -> Option<&mut ThinkingBlock> {
        let index = value["index"].as_u64();
        match &mut self.open {
            Some((at, block)) if index.is_none() || *at == index => Some(block),
            _ => None,
        }
    }

    fn close_block(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((_, block)) = self.open.take() {
            out.push(StreamEvent::ThinkingBlock(block));
        }
    }

    fn on_message_start(&mut self, value: &Value, out: &mut Vec<StreamEvent>) {
        let message = &value["message"];
        if let Some(model) = message["model"].as_str().filter(|m| !m.is_empty()) {
            self.model = Some(model.to_owned());
        }
        if let Ok(usage) = WireUsage::deserialize(&message["usage"]) {
            self.usage.merge(usage.into());
            out.push(StreamEvent::Usage(self.usage));
        }
    }

    fn on_message_delta(&mut self, value: &Value, out: &mut Vec<StreamEvent>) {
        if let Some(reason) = value["delta"]["stop_reason"].as_str() {
            out.push(StreamEvent::Finish(reason.to_owned()));
        }
        if let Ok(usage) = WireUsage::deserialize(&value["usage"]) {
            self.usage.merge(usage.into());
            out.push(StreamEvent::Usage(self.usage));
        }
    }
}

fn push_thought(text: Option<&str>, out: &mut Vec<StreamEvent>) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        out.push(StreamEvent::Reasoning(text.to_owned()));
    }
}

fn push_text(text: Option<&str>, out: &mut Vec<StreamEvent>) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        out.push(StreamEvent::Delta(text.to_owned()));
    }
}

/// `{"type":"error","error":{"type","message"}}` -> (type, message).
fn error_fields(value: &Value) -> (Option<String>, String) {
    let error = &value["error"];
    let etype = error["type"].as_str().map(str::to_owned);
    let message = error["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string());
    (etype, message)
}

fn stream_error(value: &Value) -> ApiError {
    let (etype, message) = error_fields(value);
    let mut err = ApiError::new(classify(0, etype.as_deref(), None, &message), message);
    err.code = etype;
    err
}

pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.get("error").is_some() => {
            let (etype, message) = error_fields(&value);
            http_error(status, etype.as_deref(), None, &message)
        }
        _ => http_error(status, None, None, &body_excerpt(status, body)),
    }
}

pub fn parse_completion(body: &[u8]) -> Result<Completion, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::Unknown,
            format!("the response was not valid JSON ({e})"),
        )
    })?;
    if value["type"] == "error" {
        return Err(stream_error(&value));
    }
    let blocks_of = |kind: &str, field: &str| {
        value["content"]
            .as_array()
            .map(|blocks| {
                blocks
                    .iter()
                    .filter(|b| b["type"] == kind)
                    .filter_map(|b| b[field].as_str())
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let thinking_blocks = value["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "thinking" || b["type"] == "redacted_thinking")
                .filter_map(|b| ThinkingBlock::deserialize(b).ok())
                .collect()
        })
        .unwrap_or_default();
    Ok(Completion {
        model: value["model"].as_str().map(str::to_owned),
        content: blocks_of("text", "text"),
        reasoning: blocks_of("thinking", "thinking"),
        signature: Some(blocks_of("thinking", "signature")).filter(|s| !s.is_empty()),
        thinking_blocks,
        finish_reason: value["stop_reason"].as_str().map(str::to_owned),
        usage: WireUsage::deserialize(&value["usage"])
            .map(Usage::from)
            .unwrap_or_default(),
    })
}

pub fn rate_limits(headers: &reqwest::header::HeaderMap, now: SystemTime) -> RateLimitHeaders {
    let reset = |name: &str| {
        let text = headers.get(name)?.to_str().ok()?;
        let parsed = time::OffsetDateTime::parse(
            text.trim(),
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .and_then(|t| {
            let secs = u64::try_from(t.unix_timestamp()).ok()?;
            let at = SystemTime::UNIX_EPOCH
                .checked_add(std::time::Duration::new(secs, t.nanosecond()))?;
            // A reset further ahead than any real window is garbage: absent, like a bad number.
            let ahead = at.duration_since(now).unwrap_or_default();
            (ahead <= crate::checked::MAX_OUTSIDE_WAIT).then_some(at)
        });
        crate::checked::header_value(name, text, parsed)
    };
    RateLimitHeaders {
        limit_requests: header_u64(headers, "anthropic-ratelimit-requests-limit"),
        remaining_requests: header_u64(headers, "anthropic-ratelimit-requests-remaining"),
        reset_requests: reset("anthropic-ratelimit-requests-reset"),
        limit_tokens: header_u64(headers, "anthropic-ratelimit-tokens-limit"),
        remaining_tokens: header_u64(headers, "anthropic-ratelimit-tokens-remaining"),
        reset_tokens: reset("anthropic-ratelimit-tokens-reset"),
        retry_after: None,
    }
}
