//! Anthropic Messages on the wire: request parsing, the named SSE events, message and error bodies.

use serde_json::Value;

use super::limits::Exceeded;
use super::openai_wire::js;
use super::text::estimate_input_tokens;
use super::wire::{
    content_text, message_texts, messages_of, model_of, ChatCall, Failure, Framer, Ids, Reply, Stop,
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
    let mut texts: Vec<String> = v.get("system").map(content_text).into_iter().collect();
    texts.extend(message_texts(messages));
    Ok(ChatCall {
        model,
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: true,
        max_tokens: Some(max_tokens),
        input_tokens: estimate_input_tokens(texts.iter().map(String::as_str)),
        prompt: texts.join("\n"),
        thinking: None,
    })
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

fn usage_json(input: u64, output: u64) -> String {
    format!("{{\"input_tokens\":{input},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":{output}}}")
}

/// Named events for one answer.
pub struct Frames {
    ids: Ids,
    model: String,
    input_tokens: u64,
    sent: u64,
}

impl Frames {
    pub fn new(ids: Ids, call: &ChatCall) -> Self {
        Frames {
            ids,
            model: call.model.clone(),
            input_tokens: call.input_tokens,
            sent: 0,
        }
    }
}

impl Framer for Frames {
    fn start(&mut self) -> String {
        let message = format!(
            "{{\"type\":\"message_start\",\"message\":{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{}}}}}",
            js(&self.ids.response_id),
            js(&self.model),
            usage_json(self.input_tokens, 1)
        );
        let mut out = event("message_start", &message);
        out.push_str(&event(
            "content_block_start",
            "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
        ));
        out.push_str(&event("ping", "{\"type\": \"ping\"}"));
        out
    }

    fn token(&mut self, text: &str) -> String {
        self.sent += 1;
        event(
            "content_block_delta",
            &format!("{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}", js(text)),
        )
    }

    fn keepalive(&mut self) -> Option<String> {
        (self.sent > 0 && self.sent.is_multiple_of(PING_EVERY))
            .then(|| event("ping", "{\"type\": \"ping\"}"))
    }

    fn finish(&mut self, stop: Stop, output_tokens: u64) -> String {
        let mut out = event(
            "content_block_stop",
            "{\"type\":\"content_block_stop\",\"index\":0}",
        );
        out.push_str(&event(
            "message_delta",
            &format!(
                "{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{}\",\"stop_sequence\":null}},\"usage\":{}}}",
                stop_reason(stop),
                usage_json(self.input_tokens, output_tokens)
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

pub fn message_body(
    ids: &Ids,
    call: &ChatCall,
    text: &str,
    stop: Stop,
    output_tokens: u64,
) -> String {
    format!(
        "{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[{{\"type\":\"text\",\"text\":{}}}],\"stop_reason\":\"{}\",\"stop_sequence\":null,\"usage\":{}}}",
        js(&ids.response_id),
        js(&call.model),
        js(text),
        stop_reason(stop),
        usage_json(call.input_tokens, output_tokens)
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
