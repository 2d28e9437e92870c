//! The unified client: complete() and stream() over both protocols, with retry, limiter and timing.

mod outcome;
mod reader;
mod run;

use std::pin::Pin;

use futures::{Stream, StreamExt};

use crate::config::ProviderConfig;
use crate::provider::{ApiError, ChatRequest, Endpoint, ErrorKind, RateLimitHeaders, Usage};
use crate::ratelimit::{Limiter, LimiterConfig, Permit};
use crate::retry::{RetryDecision, RetryPolicy};
use reader::ResponseReader;
use run::{Run, Step};

pub use outcome::{ErrorJson, Outcome, OutcomeJson};

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
    /// A piece of the model's reasoning (thinking).
    Reasoning(String),
    Usage(Usage),
    Finish(String),
    Done(Box<Outcome>),
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
    idle_timeout: std::time::Duration,
    first_token_timeout: std::time::Duration,
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
        let limiter = limiter_for(provider, key.as_ref())?;
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
            idle_timeout: provider.read_timeout,
            first_token_timeout: provider.first_token_timeout,
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
        self.events(req)
    }

    /// Run the request as given, streaming or not (`req.stream`). This is the one request loop
    /// behind both: limiter, send, read, and retry while no text has arrived. The events end
    /// with [`ClientEvent::Done`]; dropping the stream cancels the request.
    pub fn events(&self, req: ChatRequest) -> EventStream {
        let this = self.clone();
        Box::pin(async_stream::stream! {
            let mut run = Run::new(&req, this.endpoint.limits.max_answer_bytes);
            // A request the API would refuse is refused here, in words, without sending it.
            let refused = this.endpoint.check(&req).err();
            if let Some(e) = refused {
                run.fail(&this, e);
            }
            while !run.is_finished() {
                let permit = {
                    let fut = this.limiter.acquire_checked(run.estimate);
                    futures::pin_mut!(fut);
                    match futures::FutureExt::now_or_never(&mut fut) {
                        Some(Ok(permit)) => permit,
                        Some(Err(store)) => {
                            run.fail(&this, store_down(store));
                            break;
                        }
                        None => {
                            yield ClientEvent::Queued;
                            let waiting = tokio::time::Instant::now();
                            // Before a retry the first-token deadline is running: a limiter
                            // wait (server-reported resets included) cannot outlast it.
                            let permit = match run.first_token_deadline {
                                Some((at, within)) => tokio::time::timeout_at(at, fut).await.map_err(|_| within),
                                None => Ok(fut.await),
                            };
                            run.timer.add_queue(waiting.elapsed());
                            match permit {
                                Ok(Ok(permit)) => permit,
                                Ok(Err(store)) => {
                                    run.fail(&this, store_down(store));
                                    break;
                                }
                                Err(within) => {
                                    let mut e = reader::first_token_timeout(within);
                                    e.not_retried = Some("the rate limit would keep the retry queued past the deadline".to_owned());
                                    run.fail(&this, e);
                                    break;
                                }
                            }
                        }
                    }
                };
                yield ClientEvent::Connecting { attempt: run.retries };
                run.arm_first_token_deadline(this.first_token_timeout);
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
                        let mut reader = ResponseReader::new(response, &this.endpoint, req.stream, this.idle_timeout);
                        let mut events = Vec::new();
                        let result = 'read: loop {
                            let more = reader.next(&mut events, run.first_token_deadline).await;
                            for event in events.drain(..) {
                                match run.apply(event) {
                                    Ok(Some(e)) => yield e,
                                    Ok(None) => {}
                                    Err(e) => break 'read Err(e),
                                }
                            }
                            match more {
                                Ok(true) => {}
                                Ok(false) => break Ok(()),
                                Err(e) => break Err(e),
                            }
                        };
                        run.model = reader.model();
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
                        let waiting = tokio::time::Instant::now();
                        tokio::time::sleep(decision.wait).await;
                        run.timer.add_queue(waiting.elapsed());
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
        let mut events = self.events(req);
        let mut outcome = None;
        while let Some(event) = events.next().await {
            on_event(&event);
            if let ClientEvent::Done(o) = event {
                outcome = Some(*o);
            }
        }
        outcome.unwrap_or_default()
    }
}

/// The provider's limiter: in this process, or in the `[limits] store` under its budget name.
fn limiter_for(
    provider: &ProviderConfig,
    key: Option<&secrecy::SecretString>,
) -> Result<Limiter, String> {
    let cfg = LimiterConfig {
        window: provider.rate.window,
        ..LimiterConfig::per_minute(provider.requests_per_minute, provider.tokens_per_minute)
    }
    .with_safety_margin();
    let Some(url) = &provider.rate.store else {
        return Ok(Limiter::new(cfg));
    };
    let name =
        crate::ratelimit::shared::budget_name(provider.budget.as_deref(), key, &provider.base_url);
    let shared =
        crate::ratelimit::SharedBudget::new(url, &name, cfg.window, provider.rate.on_store_error)
            .map_err(|e| format!("{}: {e}", provider.name))?;
    Ok(Limiter::shared(cfg, shared))
}

/// A shared budget's store is down and the config says to fail rather than overshoot.
fn store_down(sentence: String) -> ApiError {
    let mut e = ApiError::new(ErrorKind::Connection, sentence);
    e.retriable = false;
    e.not_retried = Some("on_store_error = \"fail\"".to_owned());
    e
}

/// reqwest with connect and idle-read timeouts (never a total deadline, which would cut long
/// streams), and no proxy for loopback servers (a proxy cannot reach our 127.0.0.1).
fn http_client(provider: &ProviderConfig) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(provider.connect_timeout)
        .read_timeout(provider.read_timeout)
        .redirect(same_origin_redirects())
        .user_agent(concat!("paddock/", env!("CARGO_PKG_VERSION")));
    if is_loopback(&provider.base_url) {
        builder = builder.no_proxy();
    }
    if provider.base_url.starts_with("http://") {
        // Plain HTTP needs no trust store; loading the system's roots costs ~10 ms at start-up.
        builder = builder.tls_certs_only(Vec::new());
    }
    builder
        .build()
        .map_err(|e| format!("{}: cannot set up the HTTP client ({e}).", provider.name))
}

/// Follow a redirect only when it keeps the method and body (307, 308) and stays on the origin
/// the request went to: scheme, host and port. Anything else comes back as the 3xx response,
/// which the request loop turns into one sentence. reqwest strips only `Authorization` across
/// origins, so a custom key header (Anthropic's `x-api-key`) would otherwise travel on.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(attempt.status().as_u16(), 307 | 308);
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if keeps_body && same_origin && attempt.previous().len() <= 3 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
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
