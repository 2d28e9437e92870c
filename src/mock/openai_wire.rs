//! OpenAI Chat Completions on the wire: request parsing, stream chunks, completion and error bodies.
//!
//! Bodies are written by hand (not through `serde_json::Value`) so key order matches the real service.

use serde_json::Value;

use super::limits::{go_duration, Exceeded};
use super::text::estimate_input_tokens;
use super::wire::{
    message_texts, messages_of, model_of, AnswerPlan, ChatCall, Failure, Framer, FullAnswer, Ids,
    Reply, Stop, Thought,
};

pub const FINGERPRINT: &str = "fp_paddock_mock";
const ORG: &str = "org-paddockmock";
const RATE_DOCS: &str = "Visit https://platform.openai.com/account/rate-limits to learn more.";

/// A JSON string literal.
pub fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

pub fn parse(v: &Value) -> Result<ChatCall, Failure> {
    let model = model_of(v)?;
    let messages = messages_of(v, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")?;
    let texts: Vec<String> = message_texts(messages).collect();
    let cap = |k: &str| v.get(k).and_then(Value::as_u64);
    let max_tokens = cap("max_completion_tokens").or_else(|| cap("max_tokens"));
    if max_tokens == Some(0) {
        return Err(Failure::Invalid("Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.".into()));
    }
    Ok(ChatCall {
        model,
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: v
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_tokens,
        input_tokens: estimate_input_tokens(texts.iter().map(String::as_str)),
        prompt: texts.join("\n"),
        // DeepSeek-style servers stream what the model thought as `reasoning_content`.
        thinking: v
            .get("reasoning_effort")
            .map(|e| Thought::effort(e.as_str())),
    })
}

fn body(message: &str, kind: Option<&str>, param: Option<&str>, code: Option<&str>) -> String {
    let opt = |s: Option<&str>| s.map_or_else(|| "null".to_owned(), js);
    format!(
        "{{\n    \"error\": {{\n        \"message\": {},\n        \"type\": {},\n        \"param\": {},\n        \"code\": {}\n    }}\n}}\n",
        js(message),
        opt(kind),
        opt(param),
        opt(code)
    )
}

pub fn error(f: &Failure) -> Reply {
    const INVALID: Option<&str> = Some("invalid_request_error");
    let (status, text) = match f {
        Failure::BadJson => (400, body("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)", INVALID, None, None)),
        Failure::Missing(p) => (400, body(&format!("Missing required parameter: '{p}'."), INVALID, Some(p), Some("missing_required_parameter"))),
        Failure::Invalid(m) => (400, body(m, INVALID, None, None)),
        Failure::NoKey => (401, body("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.", INVALID, None, None)),
        Failure::WrongKey(hint) => (401, body(&format!("Incorrect API key provided: {hint}. You can find your API key at https://platform.openai.com/account/api-keys."), INVALID, None, Some("invalid_api_key"))),
        Failure::UnknownModel(m) => (404, body(&format!("The model `{m}` does not exist or you do not have access to it."), INVALID, None, Some("model_not_found"))),
        Failure::UnknownRoute(r) => (404, body(&format!("Invalid URL ({r})"), INVALID, None, None)),
        Failure::RateLimit { model, which, limit, used, requested, retry_after } => {
            let wait = go_duration(*retry_after);
            let (msg, kind) = match which {
                Exceeded::Requests => (format!("Rate limit reached for {model} in organization {ORG} on requests per min (RPM): Limit {limit}, Used {used}, Requested {requested}. Please try again in {wait}. {RATE_DOCS}"), "requests"),
                Exceeded::Tokens => (format!("Rate limit reached for {model} in organization {ORG} on tokens per min (TPM): Limit {limit}, Used {used}, Requested {requested}. Please try again in {wait}. {RATE_DOCS}"), "tokens"),
                Exceeded::TooLarge => (format!("Request too large for {model} in organization {ORG} on tokens per min (TPM): Limit {limit}, Requested {requested}. The input or output tokens must be reduced in order to run successfully. {RATE_DOCS}"), "tokens"),
            };
            (429, body(&msg, Some(kind), None, Some("rate_limit_exceeded")))
        }
        Failure::Quota => (429, body("You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", Some("insufficient_quota"), None, Some("insufficient_quota"))),
        Failure::Server(503) => (503, body("The server is overloaded or not ready yet.", Some("server_error"), None, None)),
        Failure::Server(s) => (*s, body("The server had an error while processing your request. Sorry about that!", Some("server_error"), None, None)),
        Failure::Overloaded => (529, body("Overloaded", Some("server_error"), None, Some("overloaded"))),
        Failure::ContextTooLong { tokens, max } => (400, body(&format!("This model's maximum context length is {max} tokens. However, your messages resulted in {tokens} tokens. Please reduce the length of the messages."), INVALID, Some("messages"), Some("context_length_exceeded"))),
    };
    Reply::json(status, text)
}

/// Stream chunks for one answer; with reasoning, DeepSeek's shape (`reasoning_content` first).
pub struct Frames {
    prefix: String,
    include_usage: bool,
    input_tokens: u64,
    cache_read: u64,
    /// Leading tokens that are reasoning.
    thoughts: usize,
    sent: usize,
}

impl Frames {
    pub fn new(ids: Ids, call: &ChatCall, plan: &AnswerPlan) -> Self {
        let prefix = format!(
            "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\"system_fingerprint\":\"{FINGERPRINT}\",\"choices\":[",
            js(&ids.response_id),
            ids.created,
            js(&call.model)
        );
        Frames {
            prefix,
            include_usage: call.include_usage,
            input_tokens: call.input_tokens,
            cache_read: plan.cache_read,
            thoughts: plan.thoughts,
            sent: 0,
        }
    }

    fn chunk(&self, choice: &str) -> String {
        // With include_usage the real service sends `"usage":null` on every chunk but the last.
        let usage = if self.include_usage {
            ",\"usage\":null"
        } else {
            ""
        };
        format!("{}{choice}]{usage}}}\n\n", self.prefix)
    }
}

pub fn finish_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::Natural => "stop",
        Stop::Length => "length",
    }
}

/// `usage`: `completion_tokens` counts the reasoning too; `cached_tokens` are within the prompt's.
fn usage_json(input: u64, output: u64, reasoning: u64, cached: u64) -> String {
    format!(
        "{{\"prompt_tokens\":{input},\"completion_tokens\":{output},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":{cached},\"audio_tokens\":0}},\"completion_tokens_details\":{{\"reasoning_tokens\":{reasoning},\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}}",
        input.saturating_add(output)
    )
}

impl Framer for Frames {
    fn start(&mut self) -> String {
        if self.thoughts > 0 {
            return self.chunk("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"\"},\"logprobs\":null,\"finish_reason\":null}");
        }
        self.chunk("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}")
    }

    fn token(&mut self, text: &str) -> String {
        self.sent += 1;
        let delta = if self.sent <= self.thoughts {
            format!("\"content\":null,\"reasoning_content\":{}", js(text))
        } else if self.thoughts > 0 {
            format!("\"content\":{},\"reasoning_content\":null", js(text))
        } else {
            format!("\"content\":{}", js(text))
        };
        self.chunk(&format!(
            "{{\"index\":0,\"delta\":{{{delta}}},\"logprobs\":null,\"finish_reason\":null}}"
        ))
    }

    fn keepalive(&mut self) -> Option<String> {
        None
    }

    fn finish(&mut self, stop: Stop, output_tokens: u64) -> String {
        let mut out = self.chunk(&format!(
            "{{\"index\":0,\"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"{}\"}}",
            finish_reason(stop)
        ));
        if self.include_usage {
            let reasoning = self.sent.min(self.thoughts) as u64;
            out.push_str(&format!(
                "{}],\"usage\":{}}}\n\n",
                self.prefix,
                usage_json(self.input_tokens, output_tokens, reasoning, self.cache_read)
            ));
        }
        out.push_str("data: [DONE]\n\n");
        out
    }

    fn malformed(&mut self) -> String {
        format!(
            "{}{{\"index\":0,\"delta\":{{\"content\":\"trunc\n\n",
            self.prefix
        )
    }

    fn error_event(&mut self) -> String {
        let err = "{\"error\":{\"message\":\"The server had an error while processing your request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        format!("data: {err}\n\ndata: [DONE]\n\n")
    }
}

/// The `chat.completion` object; its message carries `reasoning_content` when the model thought.
pub fn completion_body(ids: &Ids, call: &ChatCall, full: &FullAnswer, plan: &AnswerPlan) -> String {
    let reasoning = if full.thought.is_empty() {
        String::new()
    } else {
        format!(",\n        \"reasoning_content\": {}", js(full.thought))
    };
    format!(
        "{{\n  \"id\": {},\n  \"object\": \"chat.completion\",\n  \"created\": {},\n  \"model\": {},\n  \"choices\": [\n    {{\n      \"index\": 0,\n      \"message\": {{\n        \"role\": \"assistant\",\n        \"content\": {}{reasoning},\n        \"refusal\": null,\n        \"annotations\": []\n      }},\n      \"logprobs\": null,\n      \"finish_reason\": \"{}\"\n    }}\n  ],\n  \"usage\": {},\n  \"service_tier\": \"default\",\n  \"system_fingerprint\": \"{FINGERPRINT}\"\n}}\n",
        js(&ids.response_id),
        ids.created,
        js(&call.model),
        js(full.text),
        finish_reason(full.stop),
        usage_json(
            call.input_tokens,
            full.output_tokens,
            full.reasoning_tokens,
            plan.cache_read
        )
    )
}

pub fn models_body(names: &[&str], created: u64) -> String {
    let data: Vec<String> = names
        .iter()
        .map(|n| format!("{{\"id\":{},\"object\":\"model\",\"created\":{created},\"owned_by\":\"paddock-mock\"}}", js(n)))
        .collect();
    format!("{{\"object\":\"list\",\"data\":[{}]}}", data.join(","))
}

/// `x-ratelimit-*` for the dimensions that have a limit; resets in Go duration style.
pub fn rate_headers(s: &super::limits::Snapshot) -> Vec<(String, String)> {
    let mut h = vec![];
    if let Some(limit) = s.limit_requests {
        h.push(("x-ratelimit-limit-requests".into(), limit.to_string()));
        h.push((
            "x-ratelimit-remaining-requests".into(),
            s.remaining_requests.to_string(),
        ));
        h.push((
            "x-ratelimit-reset-requests".into(),
            go_duration(s.reset_requests),
        ));
    }
    if let Some(limit) = s.limit_tokens {
        h.push(("x-ratelimit-limit-tokens".into(), limit.to_string()));
        h.push((
            "x-ratelimit-remaining-tokens".into(),
            s.remaining_tokens.to_string(),
        ));
        h.push((
            "x-ratelimit-reset-tokens".into(),
            go_duration(s.reset_tokens),
        ));
    }
    h
}
