//! Error classification: status, body and transport failures become one [`ErrorKind`] with a retry verdict.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The error kinds of the CLI contract (DESIGN.md §1). Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    RateLimit,
    QuotaExceeded,
    Overloaded,
    Auth,
    Permission,
    NotFound,
    InvalidRequest,
    ContextTooLong,
    Server,
    Connection,
    Timeout,
    StreamInterrupted,
    /// A response, event or answer larger than paddock's bound for it.
    TooLarge,
    /// A response that is not what the protocol sends (HTML for an event stream, ...).
    BadResponse,
    /// The server redirected the request elsewhere; paddock does not follow.
    Redirect,
    Unknown,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::RateLimit,
        ErrorKind::QuotaExceeded,
        ErrorKind::Overloaded,
        ErrorKind::Auth,
        ErrorKind::Permission,
        ErrorKind::NotFound,
        ErrorKind::InvalidRequest,
        ErrorKind::ContextTooLong,
        ErrorKind::Server,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::StreamInterrupted,
        ErrorKind::TooLarge,
        ErrorKind::BadResponse,
        ErrorKind::Redirect,
        ErrorKind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimit => "rate_limit",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::ContextTooLong => "context_too_long",
            ErrorKind::Server => "server",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::StreamInterrupted => "stream_interrupted",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Unknown => "unknown",
        }
    }

    /// Whether trying again can help. Quota, auth and bad requests never get better by waiting.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimit
                | ErrorKind::Overloaded
                | ErrorKind::Server
                | ErrorKind::Connection
                | ErrorKind::Timeout
        )
    }

    /// What the user should do about it, as the tail of a one-sentence message.
    pub fn advice(self) -> &'static str {
        match self {
            ErrorKind::RateLimit => {
                "wait a moment or lower requests_per_minute / tokens_per_minute"
            }
            ErrorKind::QuotaExceeded => "check the account's plan and billing",
            ErrorKind::Overloaded => "the provider is overloaded; try again shortly",
            ErrorKind::Auth => "check the API key (see `paddock providers`)",
            ErrorKind::Permission => "the key lacks access to this model or feature",
            ErrorKind::NotFound => "check the model name and base_url",
            ErrorKind::InvalidRequest => "check the request parameters",
            ErrorKind::ContextTooLong => "shorten the prompt or the conversation",
            ErrorKind::Server => "the provider failed; try again",
            ErrorKind::Connection => "check base_url and that the server is running",
            ErrorKind::Timeout => "the server did not answer in time; try again",
            ErrorKind::StreamInterrupted => "the answer was cut off; any partial text is kept",
            ErrorKind::TooLarge => {
                "paddock stopped reading; if such sizes are expected, raise the limit in the config"
            }
            ErrorKind::BadResponse => "check the provider's base_url and kind in the config",
            ErrorKind::Redirect => {
                "paddock sends keys and prompts only to the configured base_url; set base_url to the new address if you trust it"
            }
            ErrorKind::Unknown => "see the log file for details",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `code` of a stream that ended without its end marker.
const TRUNCATED: &str = "no_end_marker";

/// One failed request, whatever the cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    /// The provider's own message, or a description of the transport failure.
    pub message: String,
    pub status: Option<u16>,
    /// The provider's own error type or code (`rate_limit_exceeded`, `overloaded_error`, ...).
    pub code: Option<String>,
    pub retriable: bool,
    /// How long the server asked us to wait (Retry-After), when it said.
    pub retry_after: Option<Duration>,
    /// Why a retriable error was not retried (a wait past the cap, a passed deadline).
    pub not_retried: Option<String>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            code: None,
            retriable: kind.is_retriable(),
            retry_after: None,
            not_retried: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Apply the server's `x-should-retry` verdict, which overrides ours (official SDK rule).
    pub fn with_should_retry(mut self, header: Option<bool>) -> Self {
        if let Some(verdict) = header {
            self.retriable = verdict;
        }
        self
    }

    /// A transport-level failure from reqwest.
    pub fn from_transport(err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_connect() || err.is_request() {
            ErrorKind::Connection
        } else if err.is_body() || err.is_decode() {
            ErrorKind::StreamInterrupted
        } else {
            ErrorKind::Connection
        };
        Self::new(kind, describe_transport(err))
    }

    /// The truncated-stream error: the body ended before the protocol's end marker.
    pub fn truncated() -> Self {
        let mut err = Self::new(
            ErrorKind::StreamInterrupted,
            "the stream ended before the provider said it was complete",
        );
        err.code = Some(TRUNCATED.to_owned());
        err
    }

    /// True for [`ApiError::truncated`].
    pub fn is_truncation(&self) -> bool {
        self.kind == ErrorKind::StreamInterrupted && self.code.as_deref() == Some(TRUNCATED)
    }

    /// One clear sentence for a terminal user.
    pub fn sentence(&self, provider: &str) -> String {
        let status = self
            .status
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default();
        let message = crate::sanitize::clean_line(&self.message);
        let message = message.trim().trim_end_matches('.');
        let provider = crate::sanitize::clean_line(provider);
        let not_retried = self
            .not_retried
            .as_deref()
            .map(|why| format!("; not retried: {why}"))
            .unwrap_or_default();
        format!(
            "{provider}: {kind}{status}: {message}{not_retried}; {advice}.",
            kind = self.kind,
            advice = self.kind.advice()
        )
    }
}

/// What went wrong on the wire, in a few words: where we were going and the root cause
/// (refused, reset, DNS), which is the part of reqwest's error chain that helps a user.
fn describe_transport(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut root = None;
    let mut source = err.source();
    while let Some(cause) = source {
        root = Some(cause);
        source = cause.source();
    }
    let root = root.map_or_else(|| err.to_string(), |e| e.to_string());
    let place = err
        .url()
        .and_then(|u| {
            u.host_str().map(|h| {
                format!(
                    "{h}{}",
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                )
            })
        })
        .unwrap_or_else(|| "the server".to_owned());
    if err.is_connect() {
        format!("cannot connect to {place}: {root}")
    } else if err.is_timeout() {
        format!("{place} sent nothing for too long ({root})")
    } else if err.is_body() || err.is_decode() {
        format!("the connection to {place} broke while reading the response: {root}")
    } else {
        format!("request to {place} failed: {root}")
    }
}

/// Classify an HTTP error response from its status, the provider's error type/code and message.
/// Both protocols funnel through here so the same failure gets the same kind everywhere.
pub fn classify(
    status: u16,
    error_type: Option<&str>,
    code: Option<&str>,
    message: &str,
) -> ErrorKind {
    let t = error_type.unwrap_or("");
    let c = code.unwrap_or("");
    // Proxies (LiteLLM) put the upstream HTTP status in `code` of a mid-stream error.
    let status = match status {
        0 => c
            .parse::<u16>()
            .ok()
            .filter(|s| (400..600).contains(s))
            .unwrap_or(0),
        s => s,
    };
    let m = message.to_ascii_lowercase();
    let has = |s: &str| t == s || c == s;
    if has("insufficient_quota")
        || m.contains("exceeded your current quota")
        || m.contains("credit balance is too low")
    {
        return ErrorKind::QuotaExceeded;
    }
    if has("context_length_exceeded")
        || m.contains("prompt is too long")
        || m.contains("maximum context length")
        || m.contains("context window")
        || m.contains("exceeds the available context size")
        || m.contains("exceed_context_size")
        || has("exceed_context_size_error")
    {
        return ErrorKind::ContextTooLong;
    }
    if has("overloaded_error") || status == 529 {
        return ErrorKind::Overloaded;
    }
    if has("rate_limit_error") || has("rate_limit_exceeded") || status == 429 {
        return ErrorKind::RateLimit;
    }
    if has("authentication_error") || has("invalid_api_key") || status == 401 {
        return ErrorKind::Auth;
    }
    if has("permission_error") || status == 403 {
        return ErrorKind::Permission;
    }
    if has("not_found_error") || has("model_not_found") || status == 404 {
        return ErrorKind::NotFound;
    }
    if status == 408 {
        return ErrorKind::Timeout;
    }
    if has("api_error") || has("server_error") || status >= 500 {
        return ErrorKind::Server;
    }
    if has("invalid_request_error") || has("request_too_large") || (400..500).contains(&status) {
        return ErrorKind::InvalidRequest;
    }
    if t.contains("server") {
        return ErrorKind::Server;
    }
    ErrorKind::Unknown
}

/// Build an [`ApiError`] for an HTTP error response. 408 and 409 are retriable per the SDKs,
/// though their kinds (timeout, invalid_request) are not always.
pub fn http_error(
    status: u16,
    error_type: Option<&str>,
    code: Option<&str>,
    message: &str,
) -> ApiError {
    let kind = classify(status, error_type, code, message);
    let mut err = ApiError::new(kind, message).with_status(status);
    err.code = error_type.or(code).map(str::to_owned);
    if status == 408 || status == 409 {
        err.retriable = true;
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_in_snake_case() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn quota_429_is_not_retriable() {
        let e = http_error(
            429,
            Some("insufficient_quota"),
            Some("insufficient_quota"),
            "You exceeded your current quota, please check your plan and billing details.",
        );
        assert_eq!(e.kind, ErrorKind::QuotaExceeded);
        assert!(!e.retriable);
    }

    #[test]
    fn conflict_is_retriable() {
        let e = http_error(409, None, None, "conflict");
        assert!(e.retriable);
    }

    #[test]
    fn sentence_is_one_line_with_advice() {
        let e = http_error(401, Some("authentication_error"), None, "invalid x-api-key");
        let s = e.sentence("anthropic");
        assert_eq!(
            s,
            "anthropic: auth (HTTP 401): invalid x-api-key; check the API key (see `paddock providers`)."
        );
    }
}
