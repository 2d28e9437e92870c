//! One HTTP request to the mock: route, parse, count, check the key, inject faults, enforce limits, answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use super::faults;
use super::limits::{Admission, Window};
use super::scenario::{FaultKind, ModelSpec, Scenario};
use super::stream::{body_stream, Pace};
use super::text::{answer, hash_parts, tokenize, Rng, Shape};
use super::wire::{AnswerPlan, ChatCall, Effort, Failure, Family, Ids, Reply, Stop, Thought};
use super::{anthropic_wire, gemini_wire, openai_wire};

pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// Largest request body accepted.
const MAX_BODY: usize = 32 << 20;

/// What to do with the connection.
pub enum Outcome {
    Respond(Response<Body>),
    /// Close the socket without a response.
    Reset,
}

#[derive(Debug)]
struct ModelState {
    requests: usize,
    window: Window,
}

/// Shared by every connection of one server.
#[derive(Debug)]
pub struct State {
    pub scenario: Scenario,
    models: Mutex<HashMap<String, ModelState>>,
    serial: AtomicU64,
}

impl State {
    pub fn new(scenario: Scenario) -> Self {
        State {
            scenario,
            models: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
        }
    }

    pub fn request_count(&self, model: &str) -> usize {
        self.models
            .lock()
            .map_or(0, |m| m.get(model).map_or(0, |s| s.requests))
    }

    /// Count a request to `spec`, returning its 1-based number.
    fn count(&self, spec: &ModelSpec) -> usize {
        let Ok(mut models) = self.models.lock() else {
            return 0;
        };
        let st = models
            .entry(spec.name.clone())
            .or_insert_with(|| self.new_model_state(spec));
        st.requests += 1;
        st.requests
    }

    fn new_model_state(&self, spec: &ModelSpec) -> ModelState {
        let window = Duration::from_secs_f64(self.scenario.window_secs);
        ModelState {
            requests: 0,
            window: Window::new(spec.requests_per_window, spec.tokens_per_window, window),
        }
    }

    fn admit(&self, spec: &ModelSpec, tokens: u64) -> Admission {
        let Ok(mut models) = self.models.lock() else {
            return Admission::Admitted(Default::default());
        };
        let st = models
            .entry(spec.name.clone())
            .or_insert_with(|| self.new_model_state(spec));
        st.window.admit(Instant::now(), tokens)
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

fn respond(reply: Reply, request_id_header: Option<&str>, request_id: &str) -> Response<Body> {
    let mut b = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type);
    if let Some(h) = request_id_header {
        b = b.header(h, request_id);
    }
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(full(reply.body))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 9))
}

/// The key check of each family, when the scenario sets a key.
fn check_key(family: Family, want: Option<&str>, req: &Request<Incoming>) -> Result<(), Failure> {
    let Some(want) = want else { return Ok(()) };
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let got = match family {
        Family::OpenAi | Family::Responses => header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim),
        Family::Anthropic => header("x-api-key"),
        // Only the header: a `?key=` would put the key in URLs and logs.
        Family::Gemini => header("x-goog-api-key"),
    };
    match got {
        None | Some("") => Err(Failure::NoKey),
        Some(k) if k == want => Ok(()),
        Some(k) => Err(Failure::WrongKey(mask(k))),
    }
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Outcome {
    let serial = state.serial.fetch_add(1, Ordering::Relaxed);
    let anthropic_headers =
        req.headers().contains_key("anthropic-version") || req.headers().contains_key("x-api-key");
    let path = req.uri().path().to_owned();
    let family = match (req.method(), path.as_str()) {
        (&Method::POST, "/v1/messages") => Family::Anthropic,
        (&Method::POST, "/v1/responses") => Family::Responses,
        (&Method::GET, "/v1/models") if anthropic_headers => Family::Anthropic,
        (_, p) if p.starts_with("/v1beta/") || gemini_wire::route(p).is_some() => Family::Gemini,
        _ => Family::OpenAi,
    };
    let hash = hash_parts(&[&state.scenario.seed.to_le_bytes(), &serial.to_le_bytes()]);
    let (rid_header, rid) = family.request_id(hash);
    let fail =
        |f: Failure| Outcome::Respond(respond(family.error_reply(&f, &rid), rid_header, &rid));
    match (req.method(), path.as_str()) {
        (&Method::POST, "/v1/chat/completions" | "/v1/messages" | "/v1/responses") => {}
        (&Method::POST, p) if gemini_wire::route(p).is_some() => {}
        (&Method::GET, "/v1/models" | "/v1beta/models") => {
            if let Err(f) = check_key(family, state.scenario.api_key.as_deref(), &req) {
                return fail(f);
            }
            let body = models_body(family, &state.scenario.models, req.uri().query());
            return Outcome::Respond(respond(Reply::json(200, body), rid_header, &rid));
        }
        (m, p) => return fail(Failure::UnknownRoute(format!("{m} {p}"))),
    }
    if family == Family::Anthropic && !req.headers().contains_key("anthropic-version") {
        return fail(Failure::Invalid(
            "anthropic-version: header is required".into(),
        ));
    }
    let key_check = check_key(family, state.scenario.api_key.as_deref(), &req);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return fail(Failure::Invalid(
                "request body too large or unreadable".into(),
            ))
        }
    };
    let mut call = match family.parse(&body, &path) {
        Ok(c) => c,
        Err(f) => return fail(f),
    };
    let spec = match state.scenario.model(&call.model) {
        Some(m) if m.protocol.allows(family) => m.clone(),
        _ => return fail(Failure::UnknownModel(call.model.clone())),
    };
    // A reasoning model shows its thinking on Chat Completions unasked (DeepSeek, vLLM); the
    // other wires show it only when the request asks, as the real APIs do.
    if family == Family::OpenAi && spec.thinks && call.thinking.is_none() {
        call.thinking = Some(Thought::Effort(Effort::Medium));
    }
    let n = state.count(&spec);
    tracing::debug!(model = %spec.name, n, stream = call.stream, "mock request");
    if let Err(f) = key_check {
        return fail(f);
    }
    let seed = &state.scenario.seed.to_le_bytes();
    let mut rng = Rng::new(hash_parts(&[seed, spec.name.as_bytes(), &n.to_le_bytes()]));
    let fault = faults::pick(&spec.faults, n, &mut rng).cloned();
    if let Some(f) = &fault {
        tracing::debug!(model = %spec.name, n, kind = ?f.kind, "mock fault");
        match f.kind {
            FaultKind::Reset => return Outcome::Reset,
            FaultKind::SlowFirstByte => {
                tokio::time::sleep(Duration::from_millis(f.duration_ms)).await
            }
            _ => {}
        }
        if let Some(failure) =
            faults::failure(f, &spec.name, call.input_tokens, spec.context_window)
        {
            let mut reply = family.error_reply(&failure, &rid);
            // Gemini has no Retry-After: its body's RetryInfo says when.
            if f.kind == FaultKind::RateLimit && family != Family::Gemini {
                reply
                    .headers
                    .extend(faults::retry_headers(f, SystemTime::now()));
            }
            return Outcome::Respond(respond(reply, rid_header, &rid));
        }
    }
    if call.input_tokens > spec.context_window {
        return fail(Failure::ContextTooLong {
            tokens: call.input_tokens,
            max: spec.context_window,
        });
    }

    let (tokens, thoughts, stop) = draw(state.scenario.seed, &spec, &call);
    let now = SystemTime::now();
    let rate_headers = |s| family.rate_headers(&s, now);
    let snapshot = match state.admit(&spec, call.input_tokens + tokens.len() as u64) {
        Admission::Admitted(s) => s,
        Admission::Refused {
            which,
            retry_after,
            snapshot,
            limit,
            used,
            requested,
        } => {
            let failure = Failure::RateLimit {
                model: spec.name.clone(),
                which,
                limit,
                used,
                requested,
                retry_after,
            };
            let mut reply = family.error_reply(&failure, &rid);
            reply.headers.extend(rate_headers(snapshot));
            if family != Family::Gemini {
                reply.headers.push((
                    "retry-after".into(),
                    retry_after.as_secs_f64().ceil().max(1.0).to_string(),
                ));
            }
            if family.is_openai() {
                reply
                    .headers
                    .push(("retry-after-ms".into(), retry_after.as_millis().to_string()));
            }
            return Outcome::Respond(respond(reply, rid_header, &rid));
        }
    };

    let ids = Ids {
        response_id: family.response_id(hash),
        created: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    let gap = |per_sec: f64| {
        if per_sec > 0.0 {
            Duration::try_from_secs_f64(1.0 / per_sec).unwrap_or(Duration::ZERO)
        } else {
            Duration::ZERO
        }
    };
    let mut pace = Pace {
        ttft: Duration::from_millis(spec.ttft_ms),
        gap: gap(spec.tokens_per_sec),
        thought_gap: gap(spec.thinking_tokens_per_sec.unwrap_or(spec.tokens_per_sec)),
        thoughts,
        jitter: spec.jitter,
        rng,
    };
    let plan = plan(&spec, &call, thoughts);
    let mut builder = Response::builder().status(200);
    if let Some(h) = rid_header {
        builder = builder.header(h, rid.as_str());
    }
    for (k, v) in rate_headers(snapshot) {
        builder = builder.header(k, v);
    }
    if family.is_openai() {
        builder = builder
            .header("openai-version", "2020-10-01")
            .header("openai-processing-ms", spec.ttft_ms.to_string());
    }
    let response = if call.stream {
        let fault = fault.filter(|f| f.kind.is_mid_stream()).map(|mut f| {
            f.after_tokens = f.after_tokens.min(tokens.len().saturating_sub(1));
            f
        });
        let framer = family.framer(ids, &call, &plan);
        let body = StreamBody::new(Box::pin(body_stream(framer, tokens, stop, pace, fault)))
            .boxed_unsync();
        builder
            .header("content-type", "text/event-stream; charset=utf-8")
            .header("cache-control", "no-cache")
            .body(body)
    } else {
        tokio::time::sleep(pace.total(tokens.len())).await;
        let body = family.complete_body(&ids, &call, &tokens, &plan, stop);
        builder
            .header("content-type", "application/json")
            .body(full(body))
    };
    Outcome::Respond(response.unwrap_or_else(|_| Response::new(full(""))))
}

/// The tokens of one answer, the number of reasoning tokens leading them, and why it ended.
/// The cap counts reasoning too, as both reasoning APIs do: a small cap can end inside it.
fn draw(seed: u64, spec: &ModelSpec, call: &ChatCall) -> (Vec<String>, usize, Stop) {
    let shape = Shape {
        min_tokens: spec.min_answer_tokens,
        max_tokens: spec.max_answer_tokens,
    };
    let thought = call.thinking.map_or(0, |t| t.tokens(spec.thinking_tokens));
    let mut tokens = if thought > 0 {
        reasoning(seed, &spec.name, &call.prompt, thought)
    } else {
        Vec::new()
    };
    let mut thoughts = tokens.len();
    tokens.extend(answer(seed, &spec.name, &call.prompt, shape));
    let mut stop = Stop::Natural;
    if let Some(cap) = call
        .max_tokens
        .map(|c| usize::try_from(c).unwrap_or(usize::MAX))
    {
        if tokens.len() > cap {
            tokens.truncate(cap);
            thoughts = thoughts.min(cap);
            stop = Stop::Length;
        }
    }
    (tokens, thoughts, stop)
}

/// A short reasoning text of `n` tokens, titled in bold as real summaries are. Seeded apart
/// from the answer, so asking for reasoning leaves the answer text unchanged.
fn reasoning(seed: u64, model: &str, prompt: &str, n: usize) -> Vec<String> {
    let mut tokens = tokenize("**Planning the answer**\n\n");
    let room = n.saturating_sub(tokens.len());
    let shape = Shape {
        min_tokens: room / 2,
        max_tokens: room,
    };
    tokens.extend(answer(
        seed,
        model,
        &format!("{prompt}\n(reasoning)"),
        shape,
    ));
    tokens.truncate(n);
    tokens
}

/// How the answer is laid out: its leading thoughts, the model's thinking blocks (Anthropic),
/// and the cache counts, each at most what the prompt holds.
fn plan(spec: &ModelSpec, call: &ChatCall, thoughts: usize) -> AnswerPlan {
    let cache_read = spec.cache_read_tokens.min(call.input_tokens);
    AnswerPlan {
        thoughts,
        signed: spec.thinking_signature,
        redacted: spec.redacted_thinking,
        cache_read,
        cache_write: spec.cache_write_tokens.min(call.input_tokens - cache_read),
    }
}

/// The model list in the family's shape: OpenAI's lists what either OpenAI API serves, in one
/// page; Anthropic's in pages of `limit` (default 20, at most 1000) after `after_id`, Gemini's in
/// pages of `pageSize` (default 50, at most 1000) from `pageToken`, as the real APIs page.
fn models_body(family: Family, models: &[ModelSpec], query: Option<&str>) -> String {
    let listed = |m: &&ModelSpec| {
        m.protocol.allows(family)
            || (family == Family::OpenAi && m.protocol.allows(Family::Responses))
    };
    let names: Vec<&str> = models
        .iter()
        .filter(listed)
        .map(|m| m.name.as_str())
        .collect();
    let param = |key: &str| {
        query?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == key).then(|| v.to_owned())
        })
    };
    let size = |key: &str, default: usize| {
        param(key)
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(default, |n| n.clamp(1, 1000))
    };
    match family {
        Family::OpenAi | Family::Responses => openai_wire::models_body(&names, 1_715_367_049),
        Family::Anthropic => {
            let start = param("after_id")
                .and_then(|id| names.iter().position(|n| *n == id))
                .map_or(0, |i| i + 1);
            let end = (start + size("limit", 20)).min(names.len());
            let page = names.get(start..end).unwrap_or(&[]);
            anthropic_wire::models_body(page, end < names.len())
        }
        Family::Gemini => {
            let start = param("pageToken")
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or(0)
                .min(names.len());
            let end = (start + size("pageSize", 50)).min(names.len());
            let next = (end < names.len()).then(|| end.to_string());
            gemini_wire::models_body(&names[start..end], next.as_deref())
        }
    }
}
