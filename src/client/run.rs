//! The state of one logical request across its attempts: text so far, usage, timing, retries.

use tokio::time::Instant;

use super::{estimate_tokens, Client, ClientEvent, Outcome};
use crate::metrics::RequestTimer;
use crate::provider::{ApiError, ChatRequest, ErrorKind, StreamEvent, Usage};
use crate::ratelimit::Permit;
use crate::retry::{jitter_sample, RetryDecision};

pub(super) enum Step {
    Finished,
    Retry(RetryDecision, ApiError),
}

/// The state of one logical request across its attempts.
pub(super) struct Run {
    pub(super) timer: RequestTimer,
    pub(super) estimate: u64,
    content: String,
    finish_reason: Option<String>,
    usage: Usage,
    pub(super) model: Option<String>,
    pub(super) retries: u32,
    error: Option<ApiError>,
    end: Option<Instant>,
}

impl Run {
    pub(super) fn new(req: &ChatRequest) -> Self {
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

    /// Send the request and return the response, or the error to retry or report.
    pub(super) async fn send(
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

    /// Fold one decoded event into the run; `Err` ends the attempt with a server-sent error.
    pub(super) fn apply(&mut self, event: StreamEvent) -> Result<Option<ClientEvent>, ApiError> {
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

    pub(super) fn settle(&self, permit: Permit) {
        match self.usage.total() {
            Some(total) => permit.settle(total),
            None => drop(permit),
        }
    }

    pub(super) fn finish(&mut self) -> Step {
        self.end = Some(Instant::now());
        Step::Finished
    }

    /// Retry only while no text has arrived: re-sending after tokens streamed would duplicate them.
    pub(super) fn fail(&mut self, client: &Client, mut error: ApiError) -> Step {
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

    pub(super) fn outcome(self, client: &Client) -> Outcome {
        let end = self.end.unwrap_or_else(Instant::now);
        let (ttft, latency) = (self.timer.ttft(), self.timer.elapsed(end));
        let generation_time = self.timer.generation_time();
        Outcome {
            provider: client.name.clone(),
            model: self.model.unwrap_or_else(|| client.model.clone()),
            content: self.content,
            finish_reason: self.finish_reason,
            usage: self.usage,
            ttft,
            latency,
            retries: self.retries,
            error: self.error,
            chunk_gaps_us: self.timer.into_chunk_gaps_us(),
            generation_time,
        }
    }
}
