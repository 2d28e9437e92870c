//! The state of one logical request across its attempts: text so far, usage, timing, retries.

use std::time::Duration;

use tokio::time::Instant;

use super::reader::{
    error_body_prefix, first_deadline, first_token_timeout, human_bytes, no_response_within,
};
use super::{estimate_tokens, Client, ClientEvent, Outcome};
use crate::metrics::RequestTimer;
use crate::provider::{ApiError, ChatRequest, ErrorKind, StreamEvent, ThinkingBlock, Usage};
use crate::ratelimit::Permit;
use crate::retry::{jitter_sample, RetryDecision};

/// Which text a piece of a stream is.
#[derive(Clone, Copy)]
enum Field {
    Answer,
    Reasoning,
}

pub(super) enum Step {
    Finished,
    Retry(RetryDecision, ApiError),
}

/// The state of one logical request across its attempts.
pub(super) struct Run {
    pub(super) timer: RequestTimer,
    pub(super) estimate: u64,
    max_answer_bytes: usize,
    /// Keep the text (`Retain::Text`, chunk gaps too for `TextAndGaps`) or count it (`Figures`).
    retain: super::Retain,
    content: String,
    reasoning: String,
    /// Bytes of answer and of reasoning that arrived, kept or not.
    text_bytes: usize,
    reasoning_bytes: usize,
    signature: String,
    /// Anthropic's thinking blocks in order, to send back in a later turn.
    thinking_blocks: Vec<ThinkingBlock>,
    /// Bytes of the blocks beyond their thinking text (signatures, redacted data).
    opaque_bytes: usize,
    finish_reason: Option<String>,
    usage: Usage,
    pub(super) model: Option<String>,
    /// The model the request asked for: what a failure reports when no server named one.
    asked_model: String,
    pub(super) retries: u32,
    error: Option<ApiError>,
    end: Option<Instant>,
    /// Events that could not be decoded and were skipped.
    skipped_events: u32,
    /// When the first token must have arrived, and the configured allowance; armed at the
    /// first send (limiter waits do not count), disarmed by the first token.
    pub(super) first_token_deadline: Option<(Instant, Duration)>,
    armed: bool,
}

impl Run {
    pub(super) fn new(req: &ChatRequest, max_answer_bytes: usize, retain: super::Retain) -> Self {
        let mut timer = RequestTimer::start(Instant::now());
        if retain != super::Retain::TextAndGaps {
            timer = timer.without_chunk_gaps();
        }
        Self {
            max_answer_bytes,
            timer,
            estimate: estimate_tokens(req),
            retain,
            content: String::new(),
            reasoning: String::new(),
            text_bytes: 0,
            reasoning_bytes: 0,
            signature: String::new(),
            thinking_blocks: Vec::new(),
            opaque_bytes: 0,
            finish_reason: None,
            usage: Usage::default(),
            model: None,
            asked_model: req.model.clone(),
            retries: 0,
            error: None,
            end: None,
            skipped_events: 0,
            first_token_deadline: None,
            armed: false,
        }
    }

    /// Start the first-token clock at the first send; later attempts share the same deadline.
    pub(super) fn arm_first_token_deadline(&mut self, within: Duration) {
        if !self.armed {
            self.armed = true;
            self.first_token_deadline = Instant::now().checked_add(within).map(|at| (at, within));
        }
    }

    /// Send the request and return the response, or the error to retry or report.
    pub(super) async fn send(
        &mut self,
        client: &Client,
        req: &ChatRequest,
        events: &mut Vec<ClientEvent>,
    ) -> Result<reqwest::Response, ApiError> {
        let sending = client
            .endpoint
            .request(&client.http, req)
            .header("x-stainless-retry-count", self.retries.to_string())
            .send();
        // The head comes within the idle time (read_timeout_secs bounds any silence), or the
        // first-token deadline, whichever comes first.
        let idle = client.idle_timeout;
        let (at, first_token) = first_deadline(self.first_token_deadline, Instant::now() + idle);
        let sent = tokio::time::timeout_at(at, sending).await.map_err(|_| {
            first_token.map_or_else(|| no_response_within(idle), first_token_timeout)
        })?;
        let response = sent.map_err(|e| ApiError::from_transport(&e))?;
        let headers = client.endpoint.rate_limits(response.headers());
        if !headers.is_empty() {
            client.limiter.observe_server(&headers);
            events.push(ClientEvent::RateLimit(headers));
        }
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_redirection() {
            return Err(redirect_refused(status.as_u16(), response.headers()));
        }
        let response_headers = response.headers().clone();
        let body = error_body_prefix(response, client.idle_timeout).await;
        Err(client
            .endpoint
            .parse_error(status.as_u16(), &response_headers, &body))
    }

    /// Fold one decoded event, read from the socket at `read_at`, into the run; `Err` ends the
    /// attempt with a server-sent error. The events of one read share its time: they arrived
    /// together, however long decoding them takes.
    pub(super) fn apply(
        &mut self,
        event: StreamEvent,
        read_at: Instant,
    ) -> Result<Option<ClientEvent>, ApiError> {
        Ok(Some(match event {
            StreamEvent::Delta(text) => {
                self.token_arrived(&text)?;
                self.timer.on_delta(read_at);
                self.keep(Field::Answer, &text);
                ClientEvent::Delta(text)
            }
            StreamEvent::Reasoning(text) => {
                self.token_arrived(&text)?;
                self.timer.on_reasoning(read_at);
                self.keep(Field::Reasoning, &text);
                ClientEvent::Reasoning(text)
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
            StreamEvent::Signature(sig) => {
                // Signatures are short; a server sending endless ones gets the answer bound.
                self.check_room(&sig)?;
                self.signature.push_str(&sig);
                return Ok(None);
            }
            StreamEvent::ThinkingBlock(block) => {
                let keep = match &block {
                    // Unsigned thinking (some compatible servers) cannot go back: the API checks it.
                    ThinkingBlock::Thinking { signature, .. } => !signature.is_empty(),
                    ThinkingBlock::RedactedThinking { data } => !data.is_empty(),
                };
                if keep {
                    let extra = block.opaque_len();
                    self.check_room_for(extra)?;
                    self.opaque_bytes = self.opaque_bytes.saturating_add(extra);
                    self.thinking_blocks.push(block);
                }
                return Ok(None);
            }
            StreamEvent::Skipped(why) => {
                self.skipped_events = self.skipped_events.saturating_add(1);
                // A server can send millions: the first few are logged, the rest only counted.
                if self.skipped_events <= LOGGED_SKIPS {
                    tracing::warn!(reason = %why, "a stream event could not be decoded and was skipped");
                }
                return Ok(None);
            }
            StreamEvent::Error(mut e) => {
                // One line, as an HTTP error's message is; the event itself was bounded.
                e.message = crate::provider::error::one_line(&e.message);
                return Err(e);
            }
        }))
    }

    /// Count `text`, and keep it unless only figures are retained.
    fn keep(&mut self, field: Field, text: &str) {
        self.text_bytes = self.text_bytes.saturating_add(text.len());
        if matches!(field, Field::Reasoning) {
            self.reasoning_bytes = self.reasoning_bytes.saturating_add(text.len());
        }
        if self.retain == super::Retain::Figures {
            return;
        }
        match field {
            Field::Answer => self.content.push_str(text),
            Field::Reasoning => self.reasoning.push_str(text),
        }
    }

    /// A token of either kind: it must fit, and it ends the wait for the first one.
    fn token_arrived(&mut self, text: &str) -> Result<(), ApiError> {
        self.check_room(text)?;
        self.first_token_deadline = None;
        Ok(())
    }

    /// One answer, thinking included, is bounded by `max_answer_bytes`.
    fn check_room(&self, text: &str) -> Result<(), ApiError> {
        self.check_room_for(text.len())
    }

    /// Room for `more` bytes: answer, thinking, signatures and redacted thinking share the bound.
    fn check_room_for(&self, more: usize) -> Result<(), ApiError> {
        let limit = client_limit(self.max_answer_bytes);
        let held = [self.text_bytes, self.signature.len(), self.opaque_bytes]
            .into_iter()
            .fold(0, usize::saturating_add);
        if held.saturating_add(more) <= limit {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorKind::TooLarge,
            format!(
                "the answer passed {} (max_answer_bytes); the text before that is kept",
                human_bytes(limit)
            ),
        ))
    }

    pub(super) fn settle(&self, permit: Permit) {
        match self.usage.total() {
            Some(total) => permit.settle(total),
            None => drop(permit),
        }
    }

    pub(super) fn is_finished(&self) -> bool {
        self.end.is_some()
    }

    pub(super) fn finish(&mut self) -> Step {
        self.end = Some(Instant::now());
        Step::Finished
    }

    /// Retry only while no text has arrived: re-sending after tokens streamed would duplicate them.
    pub(super) fn fail(&mut self, client: &Client, mut error: ApiError) -> Step {
        let ended_quietly = error.is_truncation() || error.kind == ErrorKind::Timeout;
        if ended_quietly && self.finish_reason.is_some() {
            // The provider said why it stopped, then the body ended (or went silent) without the
            // end marker. The official SDKs end such a stream quietly; the answer is whole, so it
            // is kept as one.
            tracing::warn!(error = %error, "the stream ended after its finish reason but without its end marker");
            return self.finish();
        }
        // Thinking tokens are tokens: after any arrived, a retry would duplicate (and re-bill) them.
        if self.text_bytes > 0 || !self.thinking_blocks.is_empty() {
            if matches!(error.kind, ErrorKind::Connection | ErrorKind::Timeout) {
                error.kind = ErrorKind::StreamInterrupted;
            }
            error.retriable = false;
        } else {
            if error.kind == ErrorKind::StreamInterrupted {
                // Cut off before any text: nothing to duplicate, so it is as good as a failed connect.
                error.retriable = true;
            }
            if self.deadline_passed() {
                error.retriable = false;
            }
            if let Some(decision) = client.policy.decide(self.retries, &error, jitter_sample()) {
                if let Some((at, within)) = self.first_token_deadline {
                    if Instant::now() + decision.wait >= at {
                        // Waiting would only end in the deadline: report the error now.
                        error.not_retried = Some(format!(
                            "waiting {:.1} s to retry would pass first_token_timeout_secs ({} s)",
                            decision.wait.as_secs_f64(),
                            within.as_secs_f64()
                        ));
                        self.error = Some(error);
                        return self.finish();
                    }
                }
                self.retries += 1;
                return Step::Retry(decision, error);
            }
            if error.retriable {
                error.not_retried = client.policy.why_not(&error);
            }
        }
        self.error = Some(error);
        self.finish()
    }

    fn deadline_passed(&self) -> bool {
        self.first_token_deadline
            .is_some_and(|(at, _)| Instant::now() >= at)
    }

    pub(super) fn outcome(self, client: &Client) -> Outcome {
        if self.skipped_events > LOGGED_SKIPS {
            tracing::warn!(
                skipped = self.skipped_events,
                "undecodable stream events skipped in all (only the first {LOGGED_SKIPS} logged)"
            );
        }
        let end = self.end.unwrap_or_else(Instant::now);
        let (ttft, latency) = (self.timer.ttft(), self.timer.elapsed(end));
        let ttfat = self.timer.ttfat();
        let generation_time = self.timer.generation_time();
        Outcome {
            provider: client.name.clone(),
            model: self.model.unwrap_or_else(|| {
                if self.asked_model.is_empty() {
                    client.model.clone()
                } else {
                    self.asked_model
                }
            }),
            content: self.content,
            reasoning_signature: (!self.signature.is_empty() && self.reasoning_bytes > 0)
                .then_some(self.signature),
            reasoning: (!self.reasoning.is_empty()).then_some(self.reasoning),
            thinking_blocks: self.thinking_blocks,
            finish_reason: self.finish_reason,
            usage: self.usage,
            ttft,
            ttfat,
            latency,
            queue: self.timer.queue(),
            retries: self.retries,
            error: self.error,
            chunk_gaps_us: self.timer.into_chunk_gaps_us(),
            generation_time,
            skipped_events: self.skipped_events,
        }
    }
}

/// How many skipped events of one request are logged one by one.
const LOGGED_SKIPS: u32 = 10;

/// A usable answer bound: a zero from a hand-built config would refuse every answer.
fn client_limit(configured: usize) -> usize {
    configured.max(1)
}

/// A redirect is never followed across origins (the key and the prompt would go with it), nor
/// for 301/302/303 (which turn a POST into a GET): one sentence naming where it pointed.
fn redirect_refused(status: u16, headers: &reqwest::header::HeaderMap) -> ApiError {
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| {
            crate::sanitize::clean_line(l)
                .chars()
                .take(200)
                .collect::<String>()
        })
        .unwrap_or_else(|| "an address it did not name".to_owned());
    let mut err = ApiError::new(
        ErrorKind::Redirect,
        format!("the server redirected the request to {target}, and paddock did not follow"),
    )
    .with_status(status);
    err.retriable = false;
    err
}
