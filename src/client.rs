//! The unified client: complete() and stream() over both protocols, with retry, limiter and timing.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use crate::config::ProviderConfig;
use crate::metrics::RequestTimer;
use crate::provider::sse::SseDecoder;
use crate::provider::StreamDecoder;
use crate::provider::{
    ApiError, ChatRequest, Completion, Endpoint, ErrorKind, RateLimitHeaders, StreamEvent, Usage,
};
use crate::ratelimit::{Limiter, LimiterConfig, Permit};
use crate::retry::{jitter_sample, RetryDecision, RetryPolicy};

/// What a request reports as it goes. A stream always ends with exactly one [`ClientEvent::Done`].
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// Waiting for the client-side rate limiter to free a slot.
    Queued,
    /// The request (attempt `attempt`, 0 = first) is being sent.
    Connecting {
        attempt: u32,
    },
    /// The server's rate-limit headers on a response.
    RateLimit(RateLimitHeaders),
    /// An attempt failed before any text arrived and will be retried after `decision.wait`.
    Retry {
        decision: RetryDecision,
        error: ApiError,
    },
    Delta(String),
    Usage(Usage),
    Finish(String),
    Done(Box<Outcome>),
}

/// How one request ended, success or failure, with everything the CLI contract reports.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub provider: String,
    pub model: String,
    pub content: String,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    pub ttft: Option<Duration>,
    pub latency: Duration,
    pub retries: u32,
    pub error: Option<ApiError>,
    /// Gaps between content chunks and the generation time, for race/bench smoothness metrics.
    pub chunk_gaps: Vec<Duration>,
    pub generation_time: Option<Duration>,
}

/// The `ask --json` object of DESIGN.md §1.
#[derive(Debug, Serialize)]
pub struct OutcomeJson<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub content: &'a str,
    pub finish_reason: Option<&'a str>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    pub ttft_ms: Option<f64>,
    pub latency_ms: f64,
    pub retries: u32,
    pub error: Option<ErrorJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ErrorJson<'a> {
    pub kind: ErrorKind,
    pub message: &'a str,
    pub retriable: bool,
    pub status: Option<u16>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

impl Outcome {
    pub fn to_json(&self) -> OutcomeJson<'_> {
        OutcomeJson {
            provider: &self.provider,
            model: &self.model,
            content: &self.content,
            finish_reason: self.finish_reason.as_deref(),
            input_tokens: self.usage.input_tokens,
            output_tokens: self.usage.output_tokens,
            total_tokens: self.usage.total(),
            ttft_ms: self.ttft.map(ms),
            latency_ms: ms(self.latency),
            retries: self.retries,
            error: self.error.as_ref().map(|e| ErrorJson {
                kind: e.kind,
                message: &e.message,
                retriable: e.retriable,
                status: e.status,
            }),
        }
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = ClientEvent> + Send>>;

/// One provider's client. Cheap to clone; clones share the HTTP pool and the limiter.
#[derive(Clone)]
pub struct Client {
    name: String,
    model: String,
    http: reqwest::Client,
    endpoint: Endpoint,
    limiter: Limiter,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Client {
    /// Build a client for `provider`, resolving its key now. Errors are one sentence.
    pub fn new(provider: &ProviderConfig) -> Result<Self, String> {
        let key = provider.resolve_key()?;
        let http = http_client(provider)?;
        let limiter = Limiter::new(LimiterConfig {
            requests_per_window: provider.requests_per_minute,
            tokens_per_window: provider.tokens_per_minute,
            window: Duration::from_secs(60),
        });
        Ok(Self {
            name: provider.name.clone(),
            model: provider.model.clone(),
            http,
            endpoint: provider.endpoint(key),
            limiter,
            policy: RetryPolicy {
                max_retries: provider.max_retries,
                ..RetryPolicy::default()
            },
        })
    }

    pub fn with_limiter(mut self, limiter: Limiter) -> Self {
        self.limiter = limiter;
        self
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Stream one chat request. Dropping the stream cancels it: the HTTP connection is closed
    /// and any limiter reservation is released.
    pub fn stream(&self, mut req: ChatRequest) -> EventStream {
        req.stream = true;
        let this = self.clone();
        Box::pin(async_stream::stream! {
            let mut run = Run::new(&req);
            loop {
                let permit = {
                    let fut = this.limiter.acquire(run.estimate);
                    futures::pin_mut!(fut);
                    match futures::FutureExt::now_or_never(&mut fut) {
                        Some(permit) => permit,
                        None => {
                            yield ClientEvent::Queued;
                            fut.await
                        }
                    }
                };
                yield ClientEvent::Connecting { attempt: run.retries };
                let mut pending = Vec::new();
                let sent = run.send(&this, &req, &mut pending).await;
                for e in pending.drain(..) {
                    yield e;
                }
                let step = match sent {
                    Err(e) => {
                        release_unsent(permit, &e);
                        run.fail(&this, e)
                    }
                    Ok(response) => {
                        let mut body = response.bytes_stream();
                        let mut decoder = BodyDecoder::new(&this.endpoint);
                        let result = loop {
                            let Some(chunk) = body.next().await else {
                                break decoder.end();
                            };
                            let chunk = match chunk {
                                Ok(c) => c,
                                Err(e) => break Err(ApiError::from_transport(&e)),
                            };
                            let mut stop = None;
                            for event in decoder.feed(&chunk) {
                                match run.apply(event) {
                                    Ok(Some(e)) => yield e,
                                    Ok(None) => {}
                                    Err(e) => {
                                        stop = Some(e);
                                        break;
                                    }
                                }
                            }
                            if let Some(e) = stop {
                                break Err(e);
                            }
                            if decoder.is_done() {
                                break Ok(());
                            }
                        };
                        run.model = decoder.model();
                        run.settle(permit);
                        match result {
                            Ok(()) => run.finish(),
                            Err(e) => run.fail(&this, e),
                        }
                    }
                };
                match step {
                    Step::Finished => break,
                    Step::Retry(decision, error) => {
                        yield ClientEvent::Retry { decision, error };
                        let _guard = this.limiter.retry_in_flight();
                        tokio::time::sleep(decision.wait).await;
                    }
                }
            }
            yield ClientEvent::Done(Box::new(run.outcome(&this)));
        })
    }

    /// Run a request to the end and return its outcome. With `stream` false this is a plain
    /// (non-streaming) HTTP request; `on_event` still sees retries and rate-limit headers.
    pub async fn complete(
        &self,
        req: ChatRequest,
        mut on_event: impl FnMut(&ClientEvent),
    ) -> Outcome {
        let mut events = if req.stream {
            self.stream(req)
        } else {
            self.complete_once_stream(req)
        };
        let mut outcome = None;
        while let Some(event) = events.next().await {
            on_event(&event);
            if let ClientEvent::Done(o) = event {
                outcome = Some(*o);
            }
        }
        outcome.unwrap_or_default()
    }

    fn complete_once_stream(&self, mut req: ChatRequest) -> EventStream {
        req.stream = false;
        let this = self.clone();
        Box::pin(async_stream::stream! {
            let mut run = Run::new(&req);
            loop {
                let mut events = Vec::new();
                let step = run.attempt_whole(&this, &req, &mut events).await;
                for e in events.drain(..) {
                    yield e;
                }
                match step {
                    Step::Finished => break,
                    Step::Retry(decision, error) => {
                        yield ClientEvent::Retry { decision, error };
                        let _guard = this.limiter.retry_in_flight();
                        tokio::time::sleep(decision.wait).await;
                    }
                }
            }
            yield ClientEvent::Done(Box::new(run.outcome(&this)));
        })
    }
}

/// reqwest with connect and idle-read timeouts (never a total deadline, which would cut long
/// streams), and no proxy for loopback servers (a proxy cannot reach our 127.0.0.1).
fn http_client(provider: &ProviderConfig) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(provider.connect_timeout)
        .read_timeout(provider.read_timeout)
        .user_agent(concat!("paddock/", env!("CARGO_PKG_VERSION")));
    if is_loopback(&provider.base_url) {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| format!("{}: cannot set up the HTTP client ({e}).", provider.name))
}

fn is_loopback(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| {
            h == "localhost"
                || h == "[::1]"
                || h.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

/// A request that never reached the server gives its limiter slot back; one that did
/// (an HTTP error response) still counts, as the server counted it.
fn release_unsent(permit: Permit, error: &ApiError) {
    if error.status.is_none() && error.kind == ErrorKind::Connection {
        permit.cancel();
    }
}

/// A rough token estimate for the limiter: about four characters per token, plus the
/// output cap. The limiter settles to the real usage afterwards, so rough is fine.
pub fn estimate_tokens(req: &ChatRequest) -> u64 {
    let chars: usize = req.system.as_deref().map_or(0, str::len)
        + req
            .messages
            .iter()
            .map(|m| m.content.len() + 16)
            .sum::<usize>();
    let prompt = (chars as u64).div_ceil(4);
    prompt + u64::from(req.max_tokens.unwrap_or(512))
}

/// SSE bytes to protocol events for one response body.
struct BodyDecoder {
    sse: SseDecoder,
    protocol: Box<dyn StreamDecoder>,
    raw: Vec<crate::provider::sse::SseEvent>,
    events: Vec<StreamEvent>,
}

impl BodyDecoder {
    fn new(endpoint: &Endpoint) -> Self {
        Self {
            sse: SseDecoder::new(),
            protocol: endpoint.decoder(),
            raw: Vec::new(),
            events: Vec::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> std::vec::Drain<'_, StreamEvent> {
        self.sse.feed(chunk, &mut self.raw);
        for raw in self.raw.drain(..) {
            self.protocol.on_event(&raw, &mut self.events);
        }
        self.events.drain(..)
    }

    fn is_done(&self) -> bool {
        self.protocol.is_done()
    }

    fn model(&self) -> Option<String> {
        self.protocol.model().map(str::to_owned)
    }

    /// End of body: complete only if the protocol's end marker arrived.
    fn end(&self) -> Result<(), ApiError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(ApiError::truncated())
        }
    }
}

enum Step {
    Finished,
    Retry(RetryDecision, ApiError),
}

/// The state of one logical request across its attempts.
struct Run {
    timer: RequestTimer,
    estimate: u64,
    content: String,
    finish_reason: Option<String>,
    usage: Usage,
    model: Option<String>,
    retries: u32,
    error: Option<ApiError>,
    end: Option<Instant>,
}

impl Run {
    fn new(req: &ChatRequest) -> Self {
        Self {
            timer: RequestTimer::start(Instant::now()),
            estimate: estimate_tokens(req),
            content: String::new(),
            finish_reason: None,
            usage: Usage::default(),
            model: None,
            retries: 0,
            error: None,
            end: None,
        }
    }

    /// Reserve limiter capacity, telling the caller when it has to wait.
    async fn acquire(&self, client: &Client, events: &mut Vec<ClientEvent>) -> Permit {
        use futures::FutureExt;
        let fut = client.limiter.acquire(self.estimate);
        futures::pin_mut!(fut);
        if let Some(permit) = (&mut fut).now_or_never() {
            return permit;
        }
        events.push(ClientEvent::Queued);
        fut.await
    }

    /// Send the request and return the response, or the error to retry or report.
    async fn send(
        &mut self,
        client: &Client,
        req: &ChatRequest,
        events: &mut Vec<ClientEvent>,
    ) -> Result<reqwest::Response, ApiError> {
        let response = client
            .endpoint
            .request(&client.http, req)
            .header("x-stainless-retry-count", self.retries.to_string())
            .send()
            .await
            .map_err(|e| ApiError::from_transport(&e))?;
        let headers = client.endpoint.rate_limits(response.headers());
        if !headers.is_empty() {
            client.limiter.observe_server(&headers);
            events.push(ClientEvent::RateLimit(headers));
        }
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let response_headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        Err(client
            .endpoint
            .parse_error(status.as_u16(), &response_headers, &body))
    }

    async fn attempt_whole(
        &mut self,
        client: &Client,
        req: &ChatRequest,
        events: &mut Vec<ClientEvent>,
    ) -> Step {
        let permit = self.acquire(client, events).await;
        events.push(ClientEvent::Connecting {
            attempt: self.retries,
        });
        let response = match self.send(client, req, events).await {
            Ok(r) => r,
            Err(e) => {
                release_unsent(permit, &e);
                return self.fail(client, e);
            }
        };
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return self.fail(client, ApiError::from_transport(&e)),
        };
        match client.endpoint.parse_completion(&body) {
            Ok(completion) => {
                self.take_completion(completion, events);
                self.settle(permit);
                self.finish()
            }
            Err(e) => self.fail(client, e),
        }
    }

    /// Fold one decoded event into the run; `Err` ends the attempt with a server-sent error.
    fn apply(&mut self, event: StreamEvent) -> Result<Option<ClientEvent>, ApiError> {
        Ok(Some(match event {
            StreamEvent::Delta(text) => {
                self.timer.on_delta(Instant::now());
                self.content.push_str(&text);
                ClientEvent::Delta(text)
            }
            StreamEvent::Usage(usage) => {
                self.usage = usage;
                ClientEvent::Usage(usage)
            }
            StreamEvent::Finish(reason) => {
                self.finish_reason = Some(reason.clone());
                ClientEvent::Finish(reason)
            }
            StreamEvent::Done => return Ok(None),
            StreamEvent::Error(e) => return Err(e),
        }))
    }

    fn take_completion(&mut self, c: Completion, events: &mut Vec<ClientEvent>) {
        self.timer.on_delta(Instant::now());
        self.model = c.model;
        self.usage = c.usage;
        self.finish_reason = c.finish_reason.clone();
        if !c.content.is_empty() {
            events.push(ClientEvent::Delta(c.content.clone()));
        }
        self.content = c.content;
        events.push(ClientEvent::Usage(self.usage));
        if let Some(reason) = c.finish_reason {
            events.push(ClientEvent::Finish(reason));
        }
    }

    fn settle(&self, permit: Permit) {
        match self.usage.total() {
            Some(total) => permit.settle(total),
            None => drop(permit),
        }
    }

    fn finish(&mut self) -> Step {
        self.end = Some(Instant::now());
        Step::Finished
    }

    /// Retry only while no text has arrived: re-sending after tokens streamed would duplicate them.
    fn fail(&mut self, client: &Client, mut error: ApiError) -> Step {
        if !self.content.is_empty() {
            if matches!(error.kind, ErrorKind::Connection | ErrorKind::Timeout) {
                error.kind = ErrorKind::StreamInterrupted;
            }
            error.retriable = false;
        } else {
            if error.kind == ErrorKind::StreamInterrupted {
                // Cut off before any text: nothing to duplicate, so it is as good as a failed connect.
                error.retriable = true;
            }
            if let Some(decision) = client.policy.decide(self.retries, &error, jitter_sample()) {
                self.retries += 1;
                return Step::Retry(decision, error);
            }
        }
        self.error = Some(error);
        self.finish()
    }

    fn outcome(self, client: &Client) -> Outcome {
        let end = self.end.unwrap_or_else(Instant::now);
        Outcome {
            provider: client.name.clone(),
            model: self.model.unwrap_or_else(|| client.model.clone()),
            content: self.content,
            finish_reason: self.finish_reason,
            usage: self.usage,
            ttft: self.timer.ttft(),
            latency: self.timer.elapsed(end),
            retries: self.retries,
            error: self.error,
            chunk_gaps: self.timer.chunk_gaps().to_vec(),
            generation_time: self.timer.generation_time(),
        }
    }
}
