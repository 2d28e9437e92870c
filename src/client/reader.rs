//! Reading one successful response: SSE chunks decoded as they arrive, or a whole JSON body,
//! each within its byte bound and its idle deadline (DESIGN.md §3b).

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::time::Instant;

use crate::provider::sse::{SseDecoder, SseEvent};
use crate::provider::{ApiError, Endpoint, ErrorKind, StreamDecoder, StreamEvent};

/// Protocol events from one response body, whether streamed or not, so the request loop
/// handles both the same way.
pub(super) enum ResponseReader {
    Stream {
        body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        sse: SseDecoder,
        decoder: Box<dyn StreamDecoder>,
        raw: Vec<SseEvent>,
        /// Idleness is counted in content events, not bytes: keep-alive comments and pings
        /// arrive as bytes but move the answer nowhere.
        idle: Duration,
        last_progress: Instant,
        /// Fires at or before the first deadline; when it fires early (progress moved the
        /// deadline on) it is set again, so a chunk costs no timer of its own.
        alarm: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
        /// The first bytes of the body, to recognise an HTML page sent as a 200.
        head: Vec<u8>,
        events_seen: bool,
    },
    Whole {
        response: Option<reqwest::Response>,
        endpoint: Endpoint,
        model: Option<String>,
        /// The longest a read of the body may wait for the one before (read_timeout_secs).
        idle: Duration,
    },
    /// The response cannot be read as this protocol at all (an HTML page, ...).
    Refused(Option<ApiError>),
}

/// How long an error body may take to arrive before we give up on its message.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(10);

impl ResponseReader {
    pub(super) fn new(
        response: reqwest::Response,
        endpoint: &Endpoint,
        streaming: bool,
        idle: Duration,
    ) -> Self {
        let content_type = content_type(&response);
        if let Some(err) = unexpected_content_type(&content_type, streaming) {
            return Self::Refused(Some(err));
        }
        // A server that ignored `stream: true` and sent JSON sent a whole answer (or an error).
        if streaming && !content_type.contains("json") {
            Self::Stream {
                body: response.bytes_stream().boxed(),
                sse: SseDecoder::with_limit(endpoint.limits.max_event_bytes),
                decoder: endpoint.decoder(),
                raw: Vec::new(),
                idle,
                last_progress: Instant::now(),
                alarm: None,
                head: Vec::new(),
                events_seen: false,
            }
        } else {
            Self::Whole {
                response: Some(response),
                endpoint: endpoint.clone(),
                model: None,
                idle,
            }
        }
    }

    /// Read what is available next into `out`, giving up at `deadline` (the first-token
    /// deadline, when no token arrived yet) or after the idle time without a content event.
    /// `Ok(false)` once the response is complete; a body that ends before the protocol's end
    /// marker is a truncated stream.
    pub(super) async fn next(
        &mut self,
        out: &mut Vec<StreamEvent>,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<bool, ApiError> {
        match self {
            Self::Stream { .. } => self.next_chunk(out, deadline).await,
            Self::Whole {
                response,
                endpoint,
                model,
                idle,
            } => {
                let Some(response) = response.take() else {
                    return Ok(false);
                };
                let limit = endpoint.limits.max_body_bytes;
                let read = read_bounded(response, limit, *idle);
                let body = match deadline {
                    Some((at, within)) => tokio::time::timeout_at(at, read)
                        .await
                        .map_err(|_| first_token_timeout(within))??,
                    None => read.await?,
                };
                let completion = endpoint.parse_completion(&body)?;
                *model = completion.model;
                if !completion.reasoning.is_empty() {
                    out.push(StreamEvent::Reasoning(completion.reasoning));
                }
                if let Some(sig) = completion.signature {
                    out.push(StreamEvent::Signature(sig));
                }
                out.extend(
                    completion
                        .thinking_blocks
                        .into_iter()
                        .map(StreamEvent::ThinkingBlock),
                );
                if !completion.content.is_empty() {
                    out.push(StreamEvent::Delta(completion.content));
                }
                out.push(StreamEvent::Usage(completion.usage));
                if let Some(reason) = completion.finish_reason {
                    out.push(StreamEvent::Finish(reason));
                }
                out.push(StreamEvent::Done);
                Ok(false)
            }
            Self::Refused(err) => Err(err.take().unwrap_or_else(ApiError::truncated)),
        }
    }

    async fn next_chunk(
        &mut self,
        out: &mut Vec<StreamEvent>,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<bool, ApiError> {
        let Self::Stream {
            body,
            sse,
            decoder,
            raw,
            idle,
            last_progress,
            alarm,
            head,
            events_seen,
        } = self
        else {
            return Ok(false);
        };
        let next = loop {
            // Its error is only built if it passes (this runs per chunk).
            let (at, first_token) = first_deadline(deadline, *last_progress + *idle);
            // Deadlines only move later (progress, the first token), so an alarm set for an
            // earlier one fires before the one that counts.
            let alarm = alarm.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
            tokio::select! {
                biased;
                next = body.next() => break next,
                () = alarm.as_mut() => {
                    if Instant::now() >= at {
                        return Err(first_token.map_or_else(|| idle_timeout(*idle), first_token_timeout));
                    }
                    alarm.as_mut().reset(at);
                }
            }
        };
        let chunk = match next {
            None if decoder.is_done() => return Ok(false),
            None if !*events_seen && head.trim_ascii_start().first() == Some(&b'<') => {
                return Err(not_an_event_stream("an HTML page"))
            }
            None => return Err(ApiError::truncated()),
            Some(chunk) => chunk.map_err(|e| ApiError::from_transport(&e))?,
        };
        if head.len() < 64 {
            let take = (64 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        sse.feed(&chunk, raw).map_err(|e| {
            ApiError::new(
                ErrorKind::TooLarge,
                format!(
                    "one event of the stream passed {} (max_event_bytes)",
                    human_bytes(e.limit)
                ),
            )
        })?;
        let before = out.len();
        *events_seen |= !raw.is_empty();
        for event in raw.drain(..) {
            decoder.on_event(&event, out);
        }
        // Progress is the answer moving: text, its end or an error. Usage, pings, comments and
        // undecodable events can arrive forever without it.
        if out[before..].iter().any(|e| {
            matches!(
                e,
                StreamEvent::Delta(_)
                    | StreamEvent::Reasoning(_)
                    | StreamEvent::Finish(_)
                    | StreamEvent::Done
                    | StreamEvent::Error(_)
            )
        }) {
            *last_progress = Instant::now();
        }
        Ok(!decoder.is_done())
    }

    pub(super) fn model(&self) -> Option<String> {
        match self {
            Self::Stream { decoder, .. } => decoder.model().map(str::to_owned),
            Self::Whole { model, .. } => model.clone(),
            Self::Refused(_) => None,
        }
    }
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// HTML (a proxy's login page, a web server's index) is never an answer: say so at once, and
/// do not retry, as the same URL will answer the same page.
fn unexpected_content_type(content_type: &str, streaming: bool) -> Option<ApiError> {
    if !(content_type.starts_with("text/html") || content_type.starts_with("application/xhtml")) {
        return None;
    }
    Some(if streaming {
        not_an_event_stream("HTML")
    } else {
        bad_response("the server answered HTML, not JSON: is base_url right?")
    })
}

fn not_an_event_stream(what: &str) -> ApiError {
    bad_response(&format!(
        "the server answered {what}, not an event stream: is base_url right?"
    ))
}

fn bad_response(message: &str) -> ApiError {
    let mut err = ApiError::new(ErrorKind::BadResponse, message);
    err.retriable = false;
    err
}

/// Which comes first, the first-token deadline (with the time it allowed) or `idle_at`: `None`
/// for the time allowed when it is `idle_at`.
pub(super) fn first_deadline(
    first_token: Option<(Instant, Duration)>,
    idle_at: Instant,
) -> (Instant, Option<Duration>) {
    match first_token {
        Some((first, within)) if first < idle_at => (first, Some(within)),
        _ => (idle_at, None),
    }
}

/// A whole body that stopped coming for the idle time.
fn no_body_within(idle: Duration) -> ApiError {
    ApiError::new(
        ErrorKind::Timeout,
        format!(
            "the response body stopped for {} (read_timeout_secs)",
            human_secs(idle)
        ),
    )
}

/// No response head within the idle time (or the first-token deadline, when that comes first).
pub(super) fn no_response_within(idle: Duration) -> ApiError {
    ApiError::new(
        ErrorKind::Timeout,
        format!(
            "the server sent no response within {} (read_timeout_secs)",
            human_secs(idle)
        ),
    )
}

fn idle_timeout(idle: Duration) -> ApiError {
    ApiError::new(
        ErrorKind::Timeout,
        format!(
            "the stream sent no content for {} (read_timeout_secs; keep-alives do not count)",
            human_secs(idle)
        ),
    )
}

/// The first-token deadline passed: no retry can meet it any more.
pub(super) fn first_token_timeout(within: Duration) -> ApiError {
    let mut err = ApiError::new(
        ErrorKind::Timeout,
        format!(
            "no first token within {} (first_token_timeout_secs)",
            human_secs(within)
        ),
    );
    err.retriable = false;
    err
}

fn human_secs(d: Duration) -> String {
    format!("{d:?}")
}

pub(super) fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// A whole body, refused as soon as it passes `limit` (announced or read), each read within
/// `idle` of the one before.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
    idle: Duration,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorKind::TooLarge,
            format!(
                "the response body passed {} (max_body_bytes)",
                human_bytes(limit)
            ),
        )
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = tokio::time::timeout(idle, response.chunk())
        .await
        .map_err(|_| no_body_within(idle))?
        .map_err(|e| ApiError::from_transport(&e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first [`crate::provider::ERROR_BODY_PREFIX`] bytes of an error body, read for at most
/// [`ERROR_BODY_WAIT`]; the rest is never read (the connection is dropped with the response).
pub(super) async fn error_body_prefix(mut response: reqwest::Response, idle: Duration) -> Vec<u8> {
    let limit = crate::provider::ERROR_BODY_PREFIX;
    let mut body = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = limit - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(ERROR_BODY_WAIT.min(idle), read).await;
    body
}
