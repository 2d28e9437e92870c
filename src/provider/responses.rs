//! OpenAI Responses API (`POST /v1/responses`): request body, typed stream events, whole bodies.
//!
//! Errors and rate-limit headers are OpenAI's own, so they come from `openai.rs`. paddock sends
//! the whole conversation as `input` items on every turn and asks for `store: false`: the record
//! of a conversation is paddock's session, so nothing needs keeping server-side, nothing is left
//! there, and a resumed conversation works the same whether the server stored earlier turns or not.

use std::borrow::Cow;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::classify;
use super::error::http_error;
use super::openai::error_fields;
use super::sse::SseEvent;
use super::{
    ApiError, ChatRequest, Completion, Endpoint, ErrorKind, Role, StreamDecoder, StreamEvent, Usage,
};

pub fn url(base_url: &str) -> String {
    format!("{}/responses", base_url.trim_end_matches('/'))
}

/// The JSON body: the conversation as input items, the system prompt as `instructions`.
pub fn body(req: &ChatRequest, reasoning_effort: Option<&str>) -> Value {
    let input: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({"role": role, "content": m.content})
        })
        .collect();
    let mut obj = serde_json::Map::new();
    obj.insert("model".into(), json!(req.model));
    obj.insert("input".into(), Value::Array(input));
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        obj.insert("instructions".into(), json!(system));
    }
    if let Some(n) = req.max_tokens {
        obj.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        obj.insert("temperature".into(), json!(t));
    }
    if let Some(effort) = reasoning_effort {
        // A summary is the only reasoning text the API shows; "auto" picks the richest offered.
        obj.insert(
            "reasoning".into(),
            json!({"effort": effort, "summary": "auto"}),
        );
    }
    obj.insert("stream".into(), json!(req.stream));
    obj.insert("store".into(), json!(false));
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
    let mut body = body(req, endpoint.extras.reasoning_effort.as_deref());
    endpoint.extras.merge_into(&mut body);
    rb.body(body.to_string())
}

/// One stream event. Text deltas borrow; the rare whole-response events keep a `Value`.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    response: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
}

/// Decodes Responses stream events; `response.completed`, `.incomplete` and `.failed` end it
/// (the API sends no `[DONE]`).
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
        let ev: Event = match serde_json::from_str(data) {
            Ok(e) => e,
            Err(e) => return out.push(StreamEvent::Skipped(e.to_string())),
        };
        match ev.kind.as_ref() {
            "response.output_text.delta" => push(ev.delta, StreamEvent::Delta, out),
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                push(ev.delta, StreamEvent::Reasoning, out)
            }
            "response.created" | "response.in_progress" => self.note_model(ev.response.as_ref()),
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.done = true;
                self.note_model(ev.response.as_ref());
                end_of_response(ev.response.as_ref(), out);
            }
            "error" => {
                self.done = true;
                out.push(StreamEvent::Error(event_error(&ev)));
            }
            _ => {}
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
    fn note_model(&mut self, response: Option<&Value>) {
        if self.model.is_none() {
            self.model = response
                .and_then(|r| r["model"].as_str())
                .filter(|m| !m.is_empty())
                .map(str::to_owned);
        }
    }
}

fn push(text: Option<Cow<str>>, wrap: fn(String) -> StreamEvent, out: &mut Vec<StreamEvent>) {
    if let Some(t) = text.filter(|t| !t.is_empty()) {
        out.push(wrap(t.into_owned()));
    }
}

/// The terminal event's response: its usage, then its finish reason (the status, or why it is
/// incomplete), or its error.
fn end_of_response(response: Option<&Value>, out: &mut Vec<StreamEvent>) {
    let Some(r) = response else {
        out.push(StreamEvent::Done);
        return;
    };
    if let Some(usage) = usage(&r["usage"]) {
        out.push(StreamEvent::Usage(usage));
    }
    if let Some(err) = response_error(r) {
        out.push(StreamEvent::Error(err));
        return;
    }
    if let Some(reason) = finish_reason(r) {
        out.push(StreamEvent::Finish(reason));
    }
    out.push(StreamEvent::Done);
}

/// `completed`, or for an incomplete response its reason (`max_output_tokens`, `content_filter`).
fn finish_reason(r: &Value) -> Option<String> {
    let status = r["status"].as_str()?;
    if status == "incomplete" {
        let reason = r["incomplete_details"]["reason"].as_str();
        return Some(reason.unwrap_or(status).to_owned());
    }
    Some(status.to_owned())
}

/// A failed response's `error` (`{code, message}`), when it has one, or its failed status.
fn response_error(r: &Value) -> Option<ApiError> {
    let error = r.get("error").filter(|e| e.is_object())?;
    let (etype, code, message) = error_fields(error);
    let code = code.or(etype);
    let kind = classify(0, code.as_deref(), code.as_deref(), &message);
    let mut err = ApiError::new(kind, message);
    err.code = code;
    Some(err)
}

/// The `error` event: `{code, message}` at the top level, or nested under `error` as some
/// servers and recordings have it.
fn event_error(ev: &Event) -> ApiError {
    if let Some(nested) = ev.error.as_ref().filter(|e| e.is_object()) {
        let (etype, code, message) = error_fields(nested);
        let code = etype.or(code);
        let kind = classify(0, code.as_deref(), code.as_deref(), &message);
        let mut err = ApiError::new(kind, message);
        err.code = code;
        return err;
    }
    let code = ev.code.as_ref().and_then(|c| match c {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let message = ev
        .message
        .clone()
        .unwrap_or_else(|| "the server reported an error in the stream".to_owned());
    let kind = classify(0, code.as_deref(), code.as_deref(), &message);
    let mut err = ApiError::new(kind, message);
    err.code = code;
    err
}

/// The Responses usage object; counts of any other shape are absent.
fn usage(u: &Value) -> Option<Usage> {
    if !u.is_object() {
        return None;
    }
    let count = |v: &Value| v.as_u64();
    Some(Usage {
        input_tokens: count(&u["input_tokens"]),
        output_tokens: count(&u["output_tokens"]),
        cache_read_input_tokens: count(&u["input_tokens_details"]["cached_tokens"]),
        cache_creation_input_tokens: count(&u["input_tokens_details"]["cache_write_tokens"]),
        reasoning_tokens: count(&u["output_tokens_details"]["reasoning_tokens"]),
        cache_read_in_input: true,
        ..Usage::default()
    })
}

/// A non-2xx body: OpenAI's error shape.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    super::openai::parse_error(status, body)
}

/// The whole response object of a non-streaming request.
pub fn parse_completion(body: &[u8]) -> Result<Completion, ApiError> {
    let r: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::BadResponse,
            format!("the response was not the expected JSON ({e})"),
        )
    })?;
    if let Some(err) = response_error(&r) {
        return Err(err);
    }
    if let Some(error) = r.get("error").filter(|e| e.is_object()) {
        let (etype, code, message) = error_fields(error);
        return Err(http_error(0, etype.as_deref(), code.as_deref(), &message));
    }
    let (mut content, mut summaries) = (String::new(), Vec::new());
    for item in r["output"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        match item["type"].as_str() {
            Some("message") => {
                for part in item["content"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                    if part["type"] == "output_text" {
                        content.push_str(part["text"].as_str().unwrap_or(""));
                    }
                }
            }
            Some("reasoning") => {
                for part in item["summary"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                    summaries.extend(part["text"].as_str().map(str::to_owned));
                }
            }
            _ => {}
        }
    }
    Ok(Completion {
        model: r["model"].as_str().map(str::to_owned),
        content,
        // Joined as the stream's deltas are: with no separator, so both record the same text.
        reasoning: summaries.concat(),
        signature: None,
        thinking_blocks: Vec::new(),
        finish_reason: finish_reason(&r),
        usage: usage(&r["usage"]).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Message;

    #[test]
    fn the_body_carries_the_conversation_as_input_items() {
        let req = ChatRequest {
            model: "gpt-5-mini".into(),
            system: Some("Be brief.".into()),
            messages: vec![
                Message::user("one"),
                Message::assistant("two"),
                Message::user("three"),
            ],
            temperature: Some(0.7),
            max_tokens: Some(50),
            stream: true,
        };
        let b = body(&req, Some("low"));
        assert_eq!(b["instructions"], "Be brief.");
        assert_eq!(
            b["input"][1],
            json!({"role": "assistant", "content": "two"})
        );
        assert_eq!(b["max_output_tokens"], 50);
        assert_eq!(b["reasoning"], json!({"effort": "low", "summary": "auto"}));
        assert_eq!(
            (b["stream"].clone(), b["store"].clone()),
            (json!(true), json!(false))
        );
        assert!(b.to_string().contains("\"temperature\":0.7"));
    }

    fn decode(lines: &[&str]) -> Vec<StreamEvent> {
        let mut dec = Decoder::default();
        let mut out = Vec::new();
        for data in lines {
            let ev = SseEvent {
                event: String::new(),
                data: (*data).to_owned(),
            };
            dec.on_event(&ev, &mut out);
        }
        out
    }

    #[test]
    fn an_incomplete_response_finishes_with_its_reason() {
        let out = decode(&[
            r#"{"type":"response.output_text.delta","delta":"Hi"}"#,
            r#"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":3,"output_tokens":1}}}"#,
            r#"{"type":"response.output_text.delta","delta":"after the end"}"#,
        ]);
        assert_eq!(out[0], StreamEvent::Delta("Hi".into()));
        assert!(out.contains(&StreamEvent::Finish("max_output_tokens".into())));
        assert_eq!(out.last(), Some(&StreamEvent::Done));
    }

    #[test]
    fn error_events_flat_or_nested_and_failed_responses() {
        for line in [
            r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down"}"#,
            r#"{"type":"error","error":{"type":"rate_limit_exceeded","code":"rate_limit_exceeded","message":"slow down"}}"#,
            r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"rate_limit_exceeded","message":"slow down"}}}"#,
        ] {
            let out = decode(&[line]);
            let Some(StreamEvent::Error(e)) =
                out.iter().find(|e| matches!(e, StreamEvent::Error(_)))
            else {
                panic!("no error from {line}: {out:?}");
            };
            assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"), "{line}");
            assert_eq!(e.kind, ErrorKind::RateLimit, "{line}");
        }
    }

    #[test]
    fn a_whole_body_with_a_reasoning_summary() {
        let body = br#"{"id":"r","object":"response","status":"completed","model":"gpt-5",
          "output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"Think."}]},
                    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Answer."}]}],
          "usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":2},"output_tokens":9,"output_tokens_details":{"reasoning_tokens":4}}}"#;
        let c = parse_completion(body).unwrap();
        assert_eq!(
            (c.content.as_str(), c.reasoning.as_str()),
            ("Answer.", "Think.")
        );
        assert_eq!(c.finish_reason.as_deref(), Some("completed"));
        assert_eq!(c.usage.reasoning_tokens, Some(4));
        assert_eq!(c.usage.cache_read_input_tokens, Some(2));
    }
}
