//! Google Gemini's native API (`models/{model}:streamGenerateContent?alt=sse`): request body,
//! stream chunks with text and thought parts, errors with their `status` and `RetryInfo` delay.
//!
//! The key goes in the `x-goog-api-key` header, never in the URL, so it cannot reach a log line
//! or an error message that names the URL.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::http_error;
use super::sse::SseEvent;
use super::{
    body_excerpt, ApiError, ChatRequest, Completion, Endpoint, ErrorKind, RateLimitHeaders, Role,
    StreamDecoder, StreamEvent, Usage,
};

/// `{base}/models/{model}:streamGenerateContent?alt=sse`, or `:generateContent` for one body.
/// The model is percent-encoded: it is a path segment, and config text is not trusted.
pub fn url(base_url: &str, model: &str, stream: bool) -> String {
    let method = if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    let mut segment = String::with_capacity(model.len());
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            segment.push(b as char);
        } else {
            segment.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{}/models/{segment}:{method}", versioned_base(base_url))
}

/// The base URL with its API version: DESIGN.md's contract is a base URL without the version
/// (`https://generativelanguage.googleapis.com`, as Google's SDKs take it), to which `/v1beta`
/// is added; a base URL that already ends in a version (`/v1beta`, `/v1`, `/v1alpha`) is kept.
pub(crate) fn versioned_base(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let last = base.rsplit('/').next().unwrap_or("");
    let is_version = last.len() > 1
        && last.starts_with('v')
        && last[1..].starts_with(|c: char| c.is_ascii_digit())
        && last[1..].chars().all(|c| c.is_ascii_alphanumeric());
    if is_version {
        base.to_owned()
    } else {
        format!("{base}/v1beta")
    }
}

/// The JSON body: `contents` with `user` / `model` roles, the system prompt as
/// `systemInstruction`, the settings in `generationConfig`.
pub fn body(req: &ChatRequest, thinking_budget: Option<u32>) -> Value {
    let contents: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "model",
            };
            json!({"role": role, "parts": [{"text": m.content}]})
        })
        .collect();
    let mut obj = serde_json::Map::new();
    obj.insert("contents".into(), Value::Array(contents));
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        obj.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    let mut config = serde_json::Map::new();
    if let Some(t) = req.temperature {
        config.insert("temperature".into(), json!(t));
    }
    if let Some(n) = req.max_tokens {
        config.insert("maxOutputTokens".into(), json!(n));
    }
    if let Some(budget) = thinking_budget {
        config.insert(
            "thinkingConfig".into(),
            json!({"thinkingBudget": budget, "includeThoughts": true}),
        );
    }
    if !config.is_empty() {
        obj.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(obj)
}

pub fn request(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &ChatRequest,
) -> reqwest::RequestBuilder {
    let url = url(&endpoint.base_url, &req.model, req.stream);
    let mut rb = super::json_post(http, &url, req.stream);
    rb = endpoint.extras.headers(rb);
    if let Some(key) = &endpoint.api_key {
        rb = rb.header("x-goog-api-key", key.expose_secret());
    }
    let mut body = body(req, endpoint.extras.thinking_budget);
    endpoint.extras.merge_into(&mut body);
    rb.body(body.to_string())
}

/// One chunk (`GenerateContentResponse`), parsed with borrowed text: this runs per token.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    candidates: Vec<Candidate<'a>>,
    #[serde(default, rename = "usageMetadata")]
    usage: Option<WireUsage>,
    #[serde(default, borrow, rename = "modelVersion")]
    model_version: Option<Cow<'a, str>>,
    #[serde(default, rename = "promptFeedback")]
    prompt_feedback: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Candidate<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    content: Option<Content<'a>>,
    #[serde(default, borrow, rename = "finishReason")]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(default, borrow)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    thought: bool,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_token_count,
            // Gemini counts thoughts apart from the answer's tokens (`candidatesTokenCount`).
            output_tokens: u.candidates_token_count,
            reasoning_tokens: u.thoughts_token_count,
            reasoning_apart: true,
            cache_read_input_tokens: u.cached_content_token_count,
            cache_read_in_input: true,
            ..Usage::default()
        }
    }
}

/// Decodes `streamGenerateContent` chunks. Gemini has no end marker: the stream ends after the
/// chunk with a `finishReason`, which the client treats as complete.
#[derive(Debug, Default)]
pub struct Decoder {
    done: bool,
    model: Option<String>,
}

impl StreamDecoder for Decoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        let data = event.data.trim();
        if self.done || data.is_empty() {
            return;
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => return out.push(StreamEvent::Skipped(e.to_string())),
        };
        if let Some(error) = chunk.error.as_ref().filter(|e| e.is_object()) {
            self.done = true;
            out.push(StreamEvent::Error(error_from(0, error)));
            return;
        }
        if self.model.is_none() {
            self.model = chunk.model_version.as_deref().map(str::to_owned);
        }
        let blocked = blocked_reason(chunk.prompt_feedback.as_ref());
        for candidate in chunk.candidates.into_iter().filter(|c| c.index == 0) {
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                match part.text.filter(|t| !t.is_empty()) {
                    Some(t) if part.thought => out.push(StreamEvent::Reasoning(t.into_owned())),
                    Some(t) => out.push(StreamEvent::Delta(t.into_owned())),
                    None => {}
                }
            }
            if let Some(reason) = candidate.finish_reason {
                out.push(StreamEvent::Finish(reason.into_owned()));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push(StreamEvent::Usage(usage.into()));
        }
        if let Some(reason) = blocked {
            out.push(StreamEvent::Finish(reason));
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
}

/// A prompt Gemini refused to answer (`promptFeedback.blockReason`, e.g. `SAFETY`).
fn blocked_reason(feedback: Option<&Value>) -> Option<String> {
    feedback?["blockReason"].as_str().map(str::to_owned)
}

/// `{"error": {code, message, status, details}}` as an [`ApiError`]: the kind from `status`,
/// the code is the status, the wait from `google.rpc.RetryInfo`.
fn error_from(http_status: u16, error: &Value) -> ApiError {
    let status = error["status"].as_str();
    let message = error["message"]
        .as_str()
        .unwrap_or("the server sent no error message")
        .to_owned();
    let code_status = error["code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(http_status);
    let daily = status == Some("RESOURCE_EXHAUSTED") && daily_quota(error);
    let kind = if daily {
        Some(ErrorKind::QuotaExceeded)
    } else {
        kind_of(status, &message)
    };
    let mut err = match kind {
        Some(kind) => {
            let mut e = ApiError::new(kind, message);
            if code_status != 0 {
                e = e.with_status(code_status);
            }
            e
        }
        None => http_error(code_status, status, None, &message),
    };
    err.code = status.map(str::to_owned).or(err.code);
    err.with_retry_after(retry_delay(error))
}

/// Gemini's canonical statuses in paddock's kinds. `RESOURCE_EXHAUSTED` is a rate limit
/// whatever its message says: the per-minute quotas reset, and RetryInfo says when.
fn kind_of(status: Option<&str>, message: &str) -> Option<ErrorKind> {
    let m = message.to_ascii_lowercase();
    Some(match status? {
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimit,
        "UNAVAILABLE" => ErrorKind::Overloaded,
        "INTERNAL" | "UNKNOWN" => ErrorKind::Server,
        "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        "UNAUTHENTICATED" => ErrorKind::Auth,
        "PERMISSION_DENIED" if m.contains("api key") => ErrorKind::Auth,
        "PERMISSION_DENIED" => ErrorKind::Permission,
        "NOT_FOUND" => ErrorKind::NotFound,
        "INVALID_ARGUMENT" if m.contains("api key") => ErrorKind::Auth,
        "INVALID_ARGUMENT" if m.contains("token count") && m.contains("exceeds") => {
            ErrorKind::ContextTooLong
        }
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorKind::InvalidRequest,
        _ => return None,
    })
}

/// A spent per-day quota (a `QuotaFailure` violation whose `quotaId` says `PerDay`): waiting
/// seconds does not help, so it is `quota_exceeded`, not a rate limit.
fn daily_quota(error: &Value) -> bool {
    let details = error["details"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    details
        .iter()
        .filter(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.QuotaFailure"))
        })
        .flat_map(|d| d["violations"].as_array().map(Vec::as_slice).unwrap_or(&[]))
        .any(|v| {
            v["quotaId"]
                .as_str()
                .is_some_and(|id| id.contains("PerDay"))
        })
}

/// `details[].retryDelay` of the `type.googleapis.com/google.rpc.RetryInfo` entry (`"26s"`,
/// `"1.5s"`), checked like any outside wait.
fn retry_delay(error: &Value) -> Option<Duration> {
    let details = error["details"].as_array()?;
    let info = details.iter().find(|d| {
        d["@type"]
            .as_str()
            .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
    })?;
    let text = info["retryDelay"].as_str()?;
    let secs = text.trim().strip_suffix('s')?.parse::<f64>().ok();
    let wait = secs.and_then(crate::checked::wait_from_secs);
    crate::checked::header_value("RetryInfo.retryDelay", text, wait)
}

/// A non-2xx body; anything but Gemini's error JSON keeps its text and the HTTP status.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    // Some proxies wrap the error in a one-element array.
    let error = parsed.as_ref().and_then(|v| match v {
        Value::Array(items) => items.first().and_then(|i| i.get("error")).cloned(),
        _ => v.get("error").cloned(),
    });
    match error.filter(|e| e.is_object()) {
        Some(e) => {
            let mut err = error_from(status, &e);
            err.status = Some(status);
            err
        }
        None => http_error(status, None, None, &body_excerpt(status, body)),
    }
}

pub fn parse_completion(body: &[u8]) -> Result<Completion, ApiError> {
    let chunk: Chunk = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::BadResponse,
            format!("the response was not the expected JSON ({e})"),
        )
    })?;
    if let Some(error) = chunk.error.as_ref().filter(|e| e.is_object()) {
        return Err(error_from(0, error));
    }
    let mut c = Completion {
        model: chunk.model_version.map(Cow::into_owned),
        usage: chunk.usage.map(Usage::from).unwrap_or_default(),
        finish_reason: blocked_reason(chunk.prompt_feedback.as_ref()),
        ..Completion::default()
    };
    for candidate in chunk.candidates.into_iter().filter(|c| c.index == 0) {
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            let text = part.text.unwrap_or_default();
            if part.thought {
                c.reasoning.push_str(&text);
            } else {
                c.content.push_str(&text);
            }
        }
        c.finish_reason = candidate
            .finish_reason
            .map(Cow::into_owned)
            .or(c.finish_reason);
    }
    Ok(c)
}

/// Gemini sends no rate-limit headers; a proxy in front may send OpenAI's.
pub fn rate_limits(headers: &reqwest::header::HeaderMap, now: SystemTime) -> RateLimitHeaders {
    super::openai::rate_limits(headers, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Message;

    #[test]
    fn the_url_names_the_model_and_never_the_key() {
        assert_eq!(
            url("http://h/v1beta/", "gemini-2.5-flash", true),
            "http://h/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            url("http://h/v1beta", "a/b?key=x", false),
            "http://h/v1beta/models/a%2Fb%3Fkey%3Dx:generateContent"
        );
        assert_eq!(
            url("http://127.0.0.1:9", "m", true),
            "http://127.0.0.1:9/v1beta/models/m:streamGenerateContent?alt=sse",
            "a base URL without a version gets /v1beta, as DESIGN.md says"
        );
        assert_eq!(
            url("http://h/proxy/v1/", "m", false),
            "http://h/proxy/v1/models/m:generateContent"
        );
        assert_eq!(
            url("http://h/gemini", "m", false),
            "http://h/gemini/v1beta/models/m:generateContent"
        );
    }

    #[test]
    fn the_body_uses_gemini_roles_and_generation_config() {
        let req = ChatRequest {
            model: "g".into(),
            system: Some("Be brief.".into()),
            messages: vec![
                Message::user("a"),
                Message::assistant("b"),
                Message::user("c"),
            ],
            temperature: Some(0.7),
            max_tokens: Some(64),
            stream: true,
        };
        let b = body(&req, Some(512));
        assert_eq!(
            b["contents"][1],
            json!({"role": "model", "parts": [{"text": "b"}]})
        );
        assert_eq!(b["systemInstruction"]["parts"][0]["text"], "Be brief.");
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 64);
        assert_eq!(
            b["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 512, "includeThoughts": true})
        );
        assert!(b.to_string().contains("\"temperature\":0.7"));
        assert!(body(&ChatRequest::default(), None)
            .get("generationConfig")
            .is_none());
    }

    #[test]
    fn errors_take_their_kind_from_status_and_their_wait_from_retry_info() {
        let body = br#"{"error":{"code":429,"message":"You exceeded your current quota","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"26s"}]}}"#;
        let e = parse_error(429, body);
        assert_eq!(e.kind, ErrorKind::RateLimit);
        assert!(e.retriable);
        assert_eq!(e.retry_after, Some(Duration::from_secs(26)));
        assert_eq!(e.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
        for (status, text, kind) in [
            (503, "UNAVAILABLE", ErrorKind::Overloaded),
            (400, "INVALID_ARGUMENT", ErrorKind::InvalidRequest),
            (404, "NOT_FOUND", ErrorKind::NotFound),
            (403, "PERMISSION_DENIED", ErrorKind::Permission),
            (500, "INTERNAL", ErrorKind::Server),
        ] {
            let body =
                format!(r#"{{"error":{{"code":{status},"message":"m","status":"{text}"}}}}"#);
            assert_eq!(parse_error(status, body.as_bytes()).kind, kind, "{text}");
        }
        let absurd = br#"{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1e30s"}]}}"#;
        assert_eq!(parse_error(429, absurd).retry_after, None);
        assert_eq!(
            parse_error(502, b"<html>bad gateway</html>").kind,
            ErrorKind::Server
        );
    }

    #[test]
    fn a_whole_body_with_thought_parts() {
        let body = br#"{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true},{"text":"Paris."}],"role":"model"},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"thoughtsTokenCount":7},"modelVersion":"gemini-2.5-flash"}"#;
        let c = parse_completion(body).unwrap();
        assert_eq!(
            (c.content.as_str(), c.reasoning.as_str()),
            ("Paris.", "hmm")
        );
        assert_eq!(c.finish_reason.as_deref(), Some("STOP"));
        assert_eq!(c.usage.generated_tokens(), Some(9));
    }
}
