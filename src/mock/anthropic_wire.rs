//! Anthropic Messages on the wire: request parsing, the named SSE events, message and error bodies.

use serde_json::Value;

use super::limits::Exceeded;
use super::openai_wire::js;
use super::text::{estimate_input_tokens, opaque};
use super::wire::{
    content_text, message_texts, messages_of, model_of, AnswerPlan, ChatCall, Failure, Framer,
    FullAnswer, Ids, Reply, Stop, Thought,
};

/// A ping every this many tokens, besides the one after the first `content_block_start`.
const PING_EVERY: u64 = 40;

pub fn parse(v: &Value) -> Result<ChatCall, Failure> {
    let model = model_of(v)?;
    let max_tokens = v
        .get("max_tokens")
        .and_then(Value::as_u64)
        .ok_or(Failure::Missing("max_tokens"))?;
    if max_tokens == 0 {
        return Err(Failure::Invalid(
            "max_tokens: Input should be greater than or equal to 1".into(),
        ));
    }
    let messages = messages_of(v, "messages: at least one message is required")?;
    if let Some(budget) = v.pointer("/thinking/budget_tokens").and_then(Value::as_u64) {
        if budget >= max_tokens {
            return Err(Failure::Invalid("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size".into()));
        }
    }
    let mut texts: Vec<String> = v.get("system").map(content_text).into_iter().collect();
    texts.extend(message_texts(messages));
    Ok(ChatCall {
        model,
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: true,
        max_tokens: Some(max_tokens),
        input_tokens: estimate_input_tokens(texts.iter().map(String::as_str)),
        prompt: texts.join("\n"),
        thinking: thinking(v.get("thinking"))?,
    })
}

/// Extended thinking: `{"type": "enabled", "budget_tokens": N}` with N of at least 1024 (below
/// max_tokens, checked by the caller), or `adaptive` (the model decides: a medium effort here);
/// `disabled` (or none) thinks not at all.
fn thinking(t: Option<&Value>) -> Result<Option<Thought>, Failure> {
    let Some(t) = t else { return Ok(None) };
    match t.get("type").and_then(Value::as_str) {
        Some("enabled") => {}
        Some("adaptive") => return Ok(Some(Thought::effort(None))),
        Some("disabled") => return Ok(None),
        _ => {
            return Err(Failure::Invalid(
                "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'".into(),
            ))
        }
    }
    match t.get("budget_tokens").and_then(Value::as_u64) {
        Some(n) if n >= 1024 => Ok(Some(Thought::Budget(n))),
        Some(_) => Err(Failure::Invalid(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024".into(),
        )),
        None => Err(Failure::Missing("thinking.enabled.budget_tokens")),
    }
}

fn body(kind: &str, message: &str, request_id: &str) -> String {
    format!(
        "{{\"type\":\"error\",\"error\":{{\"type\":{},\"message\":{}}},\"request_id\":{}}}",
        js(kind),
        js(message),
        js(request_id)
    )
}

pub fn error(f: &Failure, request_id: &str) -> Reply {
    const INVALID: &str = "invalid_request_error";
    let (status, kind, message) = match f {
        Failure::BadJson => (400, INVALID, "There was an error parsing the body of your request; it must be valid JSON.".to_owned()),
        Failure::Missing(p) => (400, INVALID, format!("{p}: Field required")),
        Failure::Invalid(m) => (400, INVALID, m.clone()),
        Failure::NoKey => (401, "authentication_error", "x-api-key header is required".to_owned()),
        Failure::WrongKey(_) => (401, "authentication_error", "invalid x-api-key".to_owned()),
        Failure::UnknownModel(m) => (404, "not_found_error", format!("model: {m}")),
        Failure::UnknownRoute(_) => (404, "not_found_error", "Not Found".to_owned()),
        Failure::RateLimit { which, limit, .. } => {
            let what = match which {
                Exceeded::Requests => "requests",
                Exceeded::Tokens | Exceeded::TooLarge => "tokens",
            };
            (429, "rate_limit_error", format!("This request would exceed the rate limit for your organization of {limit} {what} per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."))
        }
        // Anthropic has no quota 429: an empty balance is this 400.
        Failure::Quota => (400, INVALID, "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.".to_owned()),
        Failure::Server(s) => (*s, "api_error", "Internal server error".to_owned()),
        Failure::Overloaded => (529, "overloaded_error", "Overloaded".to_owned()),
        Failure::ContextTooLong { tokens, max } => (400, INVALID, format!("prompt is too long: {tokens} tokens > {max} maximum")),
    };
    Reply::json(status, body(kind, &message, request_id))
}

fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

pub fn stop_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::Natural => "end_turn",
        Stop::Length => "max_tokens",
    }
}

/// `usage`: `input_tokens` leaves out what was read from or written to the cache.
fn usage_json(input: u64, output: u64, plan: &AnswerPlan) -> String {
    let (read, write) = (plan.cache_read, plan.cache_write);
    let input = input.saturating_sub(read).saturating_sub(write);
    format!("{{\"input_tokens\":{input},\"cache_creation_input_tokens\":{write},\"cache_read_input_tokens\":{read},\"output_tokens\":{output}}}")
}

/// The signature of a thinking block: opaque, and derived from the text it signs.
fn signature(thinking: &str) -> String {
    opaque(&[b"signature", thinking.as_bytes()], 200)
}

/// The `data` of the redacted thinking block that follows `thinking`.
fn redacted_data(thinking: &str) -> String {
    opaque(&[b"redacted", thinking.as_bytes()], 160)
}

/// The content blocks of a finished message, as JSON: thinking (signed or not), redacted
/// thinking, text. A cap reached inside the thinking leaves no text block.
fn content_blocks(full: &FullAnswer, plan: &AnswerPlan) -> String {
    let mut blocks = vec![];
    if full.reasoning_tokens > 0 {
        let sig = if plan.signed {
            js(&signature(full.thought))
        } else {
            "\"\"".to_owned()
        };
        blocks.push(format!(
            "{{\"type\":\"thinking\",\"thinking\":{},\"signature\":{sig}}}",
            js(full.thought)
        ));
        if plan.redacted {
            blocks.push(redacted_block(full.thought));
        }
    }
    if full.reasoning_tokens < full.output_tokens {
        blocks.push(format!("{{\"type\":\"text\",\"text\":{}}}", js(full.text)));
    }
    blocks.join(",")
}

fn redacted_block(thinking: &str) -> String {
    format!(
        "{{\"type\":\"redacted_thinking\",\"data\":{}}}",
        js(&redacted_data(thinking))
    )
}

/// Named events for one answer: a thinking block (then a redacted one) before the text when the
/// model thinks, each block at the next index, as the SDKs' accumulators expect.
pub struct Frames {
    ids: Ids,
    model: String,
    input_tokens: u64,
    plan: AnswerPlan,
    sent: u64,
    /// The thinking so far, which its signature signs.
    thought: String,
    /// The index of the open text block, once it is open.
    text_index: Option<usize>,
}

impl Frames {
    pub fn new(ids: Ids, call: &ChatCall, plan: &AnswerPlan) -> Self {
        Frames {
            ids,
            model: call.model.clone(),
            input_tokens: call.input_tokens,
            plan: plan.clone(),
            sent: 0,
            thought: String::new(),
            text_index: None,
        }
    }

    fn thinking(&self) -> bool {
        self.plan.thoughts > 0
    }

    fn block_delta(index: usize, delta: &str) -> String {
        event(
            "content_block_delta",
            &format!("{{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{delta}}}"),
        )
    }

    fn block_stop(index: usize) -> String {
        event(
            "content_block_stop",
            &format!("{{\"type\":\"content_block_stop\",\"index\":{index}}}"),
        )
    }

    fn block_start(index: usize, block: &str) -> String {
        event(
            "content_block_start",
            &format!(
                "{{\"type\":\"content_block_start\",\"index\":{index},\"content_block\":{block}}}"
            ),
        )
    }

    /// The end of the thinking block (its signature first), and the redacted block after it.
    fn close_thinking(&self) -> String {
        let mut out = String::new();
        if self.plan.signed {
            out.push_str(&Self::block_delta(
                0,
                &format!(
                    "{{\"type\":\"signature_delta\",\"signature\":{}}}",
                    js(&signature(&self.thought))
                ),
            ));
        }
        out.push_str(&Self::block_stop(0));
        if self.plan.redacted {
            out.push_str(&Self::block_start(1, &redacted_block(&self.thought)));
            out.push_str(&Self::block_stop(1));
        }
        out
    }

    /// Close the thinking (when there was some) and open the text block.
    fn open_text(&mut self) -> String {
        let mut out = String::new();
        let index = if self.thinking() {
            out.push_str(&self.close_thinking());
            1 + usize::from(self.plan.redacted)
        } else {
            0
        };
        self.text_index = Some(index);
        out.push_str(&Self::block_start(
            index,
            "{\"type\":\"text\",\"text\":\"\"}",
        ));
        out
    }
}

impl Framer for Frames {
    fn start(&mut self) -> String {
        let message = format!(
            "{{\"type\":\"message_start\",\"message\":{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{}}}}}",
            js(&self.ids.response_id),
            js(&self.model),
            usage_json(self.input_tokens, 1, &self.plan)
        );
        let mut out = event("message_start", &message);
        if self.thinking() {
            out.push_str(&Self::block_start(
                0,
                "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}",
            ));
        } else {
            out.push_str(&self.open_text());
        }
        out.push_str(&event("ping", "{\"type\": \"ping\"}"));
        out
    }

    fn token(&mut self, text: &str) -> String {
        self.sent += 1;
        if self.sent <= self.plan.thoughts as u64 {
            self.thought.push_str(text);
            return Self::block_delta(
                0,
                &format!("{{\"type\":\"thinking_delta\",\"thinking\":{}}}", js(text)),
            );
        }
        let mut out = String::new();
        let index = match self.text_index {
            Some(i) => i,
            None => {
                out.push_str(&self.open_text());
                self.text_index.unwrap_or_default()
            }
        };
        out.push_str(&Self::block_delta(
            index,
            &format!("{{\"type\":\"text_delta\",\"text\":{}}}", js(text)),
        ));
        out
    }

    fn keepalive(&mut self) -> Option<String> {
        (self.sent > 0 && self.sent.is_multiple_of(PING_EVERY))
            .then(|| event("ping", "{\"type\": \"ping\"}"))
    }

    fn finish(&mut self, stop: Stop, output_tokens: u64) -> String {
        let mut out = match self.text_index {
            Some(i) => Self::block_stop(i),
            // The cap came inside the thinking: no text block at all.
            None => self.close_thinking(),
        };
        out.push_str(&event(
            "message_delta",
            &format!(
                "{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{}\",\"stop_sequence\":null}},\"usage\":{}}}",
                stop_reason(stop),
                usage_json(self.input_tokens, output_tokens, &self.plan)
            ),
        ));
        out.push_str(&event("message_stop", "{\"type\":\"message_stop\"}"));
        out
    }

    fn malformed(&mut self) -> String {
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"trunc\n\n".to_owned()
    }

    fn error_event(&mut self) -> String {
        event("error", "{\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}")
    }
}

pub fn message_body(ids: &Ids, call: &ChatCall, full: &FullAnswer, plan: &AnswerPlan) -> String {
    format!(
        "{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[{}],\"stop_reason\":\"{}\",\"stop_sequence\":null,\"usage\":{}}}",
        js(&ids.response_id),
        js(&call.model),
        content_blocks(full, plan),
        stop_reason(full.stop),
        usage_json(call.input_tokens, full.output_tokens, plan)
    )
}

/// One page of the model list; `has_more` when pages follow (the next asks `after_id=last_id`).
pub fn models_body(names: &[&str], has_more: bool) -> String {
    let data: Vec<String> = names
        .iter()
        .map(|n| format!("{{\"type\":\"model\",\"id\":{},\"display_name\":{},\"created_at\":\"2025-01-01T00:00:00Z\"}}", js(n), js(n)))
        .collect();
    let first = names.first().map_or_else(|| "null".to_owned(), |n| js(n));
    let last = names.last().map_or_else(|| "null".to_owned(), |n| js(n));
    format!(
        "{{\"data\":[{}],\"has_more\":{has_more},\"first_id\":{first},\"last_id\":{last}}}",
        data.join(",")
    )
}

/// An RFC 3339 UTC time with whole seconds, rounded up, as Anthropic's reset headers carry.
pub fn rfc3339(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `anthropic-ratelimit-*` for the dimensions that have a limit; resets as absolute RFC 3339 times.
pub fn rate_headers(
    s: &super::limits::Snapshot,
    now: std::time::SystemTime,
) -> Vec<(String, String)> {
    let mut h = vec![];
    if let Some(limit) = s.limit_requests {
        h.push((
            "anthropic-ratelimit-requests-limit".into(),
            limit.to_string(),
        ));
        h.push((
            "anthropic-ratelimit-requests-remaining".into(),
            s.remaining_requests.to_string(),
        ));
        h.push((
            "anthropic-ratelimit-requests-reset".into(),
            rfc3339(now + s.reset_requests),
        ));
    }
    if let Some(limit) = s.limit_tokens {
        h.push(("anthropic-ratelimit-tokens-limit".into(), limit.to_string()));
        h.push((
            "anthropic-ratelimit-tokens-remaining".into(),
            s.remaining_tokens.to_string(),
        ));
        h.push((
            "anthropic-ratelimit-tokens-reset".into(),
            rfc3339(now + s.reset_tokens),
        ));
    }
    h
}
