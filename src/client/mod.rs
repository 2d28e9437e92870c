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
    context_window: Option<u64>,
    /// Whether outcomes carry the text and chunk gaps, or only the figures.
    retain: Retain,
}

/// What a request's [`Outcome`] keeps beyond its figures. A flood of 100,000 chunks costs
/// about 400 KB of chunk gaps and as much text again: each is kept only for a caller that
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retain {
    /// The answer and reasoning (ask).
    #[default]
    Text,
    /// The text and the gaps between chunks, for smoothness percentiles (`race`).
    TextAndGaps,
    /// Only the figures: `content` and `reasoning` stay empty and no chunk gaps are kept, so a
    /// request holds a few hundred bytes however long its answer (`bench`, which runs hundreds
    /// of floods at once; the TUI, whose record keeps the streamed text).
    Figures,
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
        Self::new_in(provider, &mut LimiterPool::default())
    }

    /// [`Client::new`], taking the limiter from `pool` when a client built through it already
    /// spends the same budget (see [`LimiterPool`]).
    pub fn new_in(provider: &ProviderConfig, pool: &mut LimiterPool) -> Result<Self, String> {
        let key = provider.resolve_key()?;
        let http = http_client(provider)?;
        let limiter = pool.limiter(provider, key.as_ref())?;
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
            context_window: provider.context_window,
            retain: Retain::default(),
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

    pub fn with_retain(mut self, retain: Retain) -> Self {
        self.retain = retain;
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

    /// The models the provider's server lists (see [`crate::provider::models`]), in its order.
    /// Not metered by the limiter: listing costs no tokens, and a picker must not queue behind
    /// a race. Each page is bounded by the provider's `read_timeout_secs`.
    pub async fn list_models(&self) -> Result<Vec<String>, ApiError> {
        crate::provider::models::list(&self.http, &self.endpoint, self.idle_timeout).await
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
            let mut run = Run::new(&req, this.endpoint.limits.max_answer_bytes, this.retain);
            // A request the API would refuse is refused here, in words, without sending it.
            // So is one that cannot fit the model's context: at once, not after a limiter wait.
            let refused = this
                .endpoint
                .check(&req)
                .and_then(|()| check_context(&req, this.context_window))
                .err();
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
                            let read_at = tokio::time::Instant::now();
                            for event in events.drain(..) {
                                match run.apply(event, read_at) {
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

/// One client per provider, in order, models of one provider sharing its limiter (see
/// [`LimiterPool`]); a provider that cannot be set up (no key, ...) is its one sentence.
/// What the TUI's panes want: one failure does not stop the others.
pub fn build_clients(providers: &[ProviderConfig]) -> Vec<Result<Client, String>> {
    let mut pool = LimiterPool::default();
    providers
        .iter()
        .map(|p| Client::new_in(p, &mut pool))
        .collect()
}

/// The models `provider`'s server offers, or one sentence saying why not: what `paddock models`
/// prints and what a model picker can offer.
pub async fn list_models(provider: &ProviderConfig) -> Result<Vec<String>, String> {
    let client = Client::new(provider)?;
    client
        .list_models()
        .await
        .map_err(|e| e.sentence(&provider.name))
}

/// The limiters of one run (a race, a bench), by budget. Rate limits belong to a key on a
/// server, not to a model name: `-p openai:gpt-4o,openai:gpt-4o-mini` spends one key's budget,
/// so both draw from one limiter, as they would from one shared budget in the `[limits] store`
/// (whose name, `auto-<sha256>`, is derived from the same key and base URL). Clients share when
/// their budget name (the configured `budget`, else that digest) and their configured caps and
/// window are the same; two config blocks with different caps keep their own limiters.
#[derive(Debug, Default)]
pub struct LimiterPool {
    by_budget: Vec<(BudgetId, Limiter)>,
}

#[derive(Debug, PartialEq)]
struct BudgetId {
    name: String,
    requests_per_minute: Option<u32>,
    tokens_per_minute: Option<u64>,
    window: std::time::Duration,
    store: Option<String>,
}

impl LimiterPool {
    fn limiter(
        &mut self,
        provider: &ProviderConfig,
        key: Option<&secrecy::SecretString>,
    ) -> Result<Limiter, String> {
        let id = BudgetId {
            name: crate::ratelimit::shared::budget_name(
                provider.budget.as_deref(),
                key,
                &provider.base_url,
            ),
            requests_per_minute: provider.requests_per_minute,
            tokens_per_minute: provider.tokens_per_minute,
            window: provider.rate.window,
            store: provider.rate.store.clone(),
        };
        if let Some((_, limiter)) = self.by_budget.iter().find(|(b, _)| *b == id) {
            return Ok(limiter.clone());
        }
        let limiter = limiter_for(provider, key)?;
        self.by_budget.push((id, limiter.clone()));
        Ok(limiter)
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

/// reqwest with a connect timeout and no proxy for loopback servers (a proxy cannot reach our
/// 127.0.0.1). Every read has its deadline from the client itself (the first token, then
/// content events: client/reader.rs), never a total one, which would cut long streams; reqwest's
/// own read timeout would only repeat them, and cost two clock reads and a timer reset per read.
fn http_client(provider: &ProviderConfig) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(provider.connect_timeout)
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
    estimate_prompt_tokens(req).saturating_add(u64::from(req.max_tokens.unwrap_or(512)))
}

/// The prompt part of [`estimate_tokens`]: the system prompt and every turn, about four bytes
/// per token plus a little per message.
pub fn estimate_prompt_tokens(req: &ChatRequest) -> u64 {
    let bytes = req.system.as_deref().map_or(0, str::len).saturating_add(
        req.messages
            .iter()
            .map(|m| m.content.len().saturating_add(16))
            .fold(0usize, usize::saturating_add),
    );
    (bytes as u64).div_ceil(4)
}

/// One sentence when `req` cannot fit a context window of `window` tokens: the prompt's
/// estimate, plus the output cap when one is set, past the window. Said before the request
/// queues in the limiter, so an overgrown conversation fails at once instead of after a wait
/// (and on every later turn). No window configured: nothing is checked (the server decides).
pub fn check_context(req: &ChatRequest, window: Option<u64>) -> Result<(), ApiError> {
    let Some(window) = window else {
        return Ok(());
    };
    let prompt = estimate_prompt_tokens(req);
    let output = req.max_tokens.map_or(0, u64::from);
    if prompt.saturating_add(output) <= window {
        return Ok(());
    }
    let asked = if output > 0 {
        format!("about {prompt} tokens of conversation plus max_tokens {output}")
    } else {
        format!("about {prompt} tokens of conversation")
    };
    let turns = req.messages.len();
    let mut e = ApiError::new(
        ErrorKind::ContextTooLong,
        format!(
            "the request ({asked}, {turns} messages) does not fit {}'s context window of {window} tokens (context_window); nothing was sent",
            req.model
        ),
    );
    e.retriable = false;
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Message, Protocol};
    use crate::ratelimit::LimiterConfig;

    fn long_request(turns: usize) -> ChatRequest {
        ChatRequest {
            model: "small-model".into(),
            messages: (0..turns)
                .map(|i| match i % 2 {
                    0 => Message::user("x".repeat(400)),
                    _ => Message::assistant("y".repeat(400)),
                })
                .collect(),
            max_tokens: Some(100),
            stream: true,
            ..ChatRequest::default()
        }
    }

    #[test]
    fn models_of_one_provider_share_its_limiter() {
        let base = ProviderConfig {
            requests_per_minute: Some(5),
            ..ProviderConfig::new(
                "openai",
                Protocol::OpenAi,
                "gpt-4o",
                "http://127.0.0.1:9/v1",
            )
        };
        let mini = ProviderConfig {
            name: "openai:gpt-4o-mini".into(),
            model: "gpt-4o-mini".into(),
            ..base.clone()
        };
        let elsewhere = ProviderConfig {
            name: "other".into(),
            base_url: "http://127.0.0.1:10/v1".into(),
            ..base.clone()
        };
        let tighter = ProviderConfig {
            name: "tight".into(),
            requests_per_minute: Some(1),
            ..base.clone()
        };
        let clients: Vec<Client> = build_clients(&[base, mini, elsewhere, tighter])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let shared = |a: usize, b: usize| clients[a].limiter().same_budget(clients[b].limiter());
        assert!(shared(0, 1), "same key, base_url and caps: one budget");
        assert!(!shared(0, 2), "another server is another budget");
        assert!(!shared(0, 3), "other caps keep their own limiter");
        // Built one by one, as before, nothing is shared.
        let alone = Client::new(&ProviderConfig::new(
            "openai",
            Protocol::OpenAi,
            "m",
            "http://127.0.0.1:9/v1",
        ))
        .unwrap();
        assert!(!alone.limiter().same_budget(clients[0].limiter()));
    }

    #[test]
    fn the_context_check_counts_the_prompt_and_the_output_cap() {
        // 4 turns of 400 bytes (+16 each) are 416 tokens; with max_tokens 100, 516.
        let req = long_request(4);
        assert_eq!(estimate_prompt_tokens(&req), 416);
        assert!(check_context(&req, None).is_ok());
        assert!(check_context(&req, Some(516)).is_ok());
        let e = check_context(&req, Some(515)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ContextTooLong);
        assert!(!e.retriable);
        let s = e.sentence("local");
        for part in [
            "416 tokens",
            "max_tokens 100",
            "4 messages",
            "515 tokens",
            "context_window",
            "new session",
            "drop earlier turns",
        ] {
            assert!(s.contains(part), "{part}: {s}");
        }
    }

    /// The tight limiter is full for a minute: the oversized request fails at once, without
    /// queueing (no `Queued` event, no queue time) and without a connection attempt.
    #[tokio::test(start_paused = true)]
    async fn a_request_that_cannot_fit_fails_before_the_limiter_wait() {
        let mut provider = ProviderConfig::new(
            "local",
            Protocol::OpenAi,
            "small-model",
            "http://127.0.0.1:9/v1",
        );
        provider.context_window = Some(300);
        let tight = Limiter::new(LimiterConfig::per_minute(Some(1), None));
        let _held = tight.acquire(1).await;
        let client = Client::new(&provider).unwrap().with_limiter(tight);
        let started = tokio::time::Instant::now();
        let mut events = Vec::new();
        let outcome = client
            .complete(long_request(6), |e| events.push(format!("{e:?}")))
            .await;
        assert_eq!(started.elapsed(), std::time::Duration::ZERO);
        let e = outcome.error.expect("refused");
        assert_eq!(e.kind, ErrorKind::ContextTooLong, "{e:?}");
        assert_eq!(outcome.queue, std::time::Duration::ZERO);
        assert!(
            !events
                .iter()
                .any(|e| e.starts_with("Queued") || e.starts_with("Connecting")),
            "{events:?}"
        );
        // A request that fits still queues behind the full limiter, as before.
        let small = ChatRequest {
            messages: vec![Message::user("hi")],
            ..long_request(0)
        };
        let waiting = client.complete(small, |_| {});
        futures::pin_mut!(waiting);
        assert!(futures::FutureExt::now_or_never(&mut waiting).is_none());
    }
}
