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
            ErrorKind::ContextTooLong => {
                "shorten the prompt, drop earlier turns or start a new session (`/clear`, or `ask` without --resume), or raise context_window if the model takes more"
            }
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
        let message = one_line(&crate::sanitize::clean_line(&self.message));
        let message = message.trim_end_matches('.');
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

/// The longest provider message an error keeps, in characters: one terminal line's worth. The
/// whole (bounded) body is in the log.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// A provider's message on one line: every run of whitespace (newlines included) becomes one
/// space, and past [`MAX_MESSAGE_CHARS`] it is cut with `…`. Terminal escapes are left to the
/// sanitiser at printing time; JSON output keeps them escaped.
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS * 4));
    let mut chars = 0usize;
    for word in message.split_whitespace() {
        if chars > 0 {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= MAX_MESSAGE_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

/// One line for an error body that is not the protocol's error JSON: a proxy's or web server's
/// HTML page becomes `HTTP 502 Bad Gateway: <its title>`, anything else its text on one line,
/// cut (see [`one_line`]).
pub fn body_summary(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "the server sent no error message".to_owned();
    }
    if !looks_like_html(text) {
        return one_line(text);
    }
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    let head = match reason {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    };
    match html_title(text) {
        // nginx's page is titled "502 Bad Gateway": saying it twice adds nothing.
        Some(title) if head.ends_with(&title) => head,
        Some(title) => one_line(&format!("{head}: {title}")),
        None => format!("{head} (an HTML page, not the API's error JSON)"),
    }
}

fn looks_like_html(text: &str) -> bool {
    let start: String = text
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    start.starts_with('<')
        && ["<!doctype html", "<html", "<head", "<body", "<title", "<h1"]
            .iter()
            .any(|tag| start.contains(tag))
}

/// The text of the first `<title>` element, entities for the usual five decoded; `None` when
/// there is none or it is blank.
fn html_title(html: &str) -> Option<String> {
    // Searched in a lowercased copy; ASCII lowercasing keeps byte offsets the same.
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = html[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let title = one_line(&title);
    (!title.is_empty()).then_some(title)
}

/// The whole error body for the log: it is already bounded ([`super::ERROR_BODY_PREFIX`]), and
/// control characters are escaped so a hostile body cannot forge log lines.
pub fn log_error_body(status: u16, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    let shown: String = text
        .chars()
        .flat_map(|c| {
            let escape = c.is_control() || crate::sanitize::is_removed(c);
            let out: Vec<char> = if escape {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            out
        })
        .collect();
    tracing::warn!(status, bytes = body.len(), body = %shown, "error response body");
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
    let mut err = ApiError::new(kind, one_line(message)).with_status(status);
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
    fn html_pages_become_their_status_and_title() {
        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(body_summary(502, nginx), "HTTP 502 Bad Gateway");
        let cloudflare = b"<!DOCTYPE html>\n<html>\n<head>\n<TITLE>example.com | 502: Bad gateway &amp; more</TITLE>\n</head><body>...</body></html>";
        assert_eq!(
            body_summary(502, cloudflare),
            "HTTP 502 Bad Gateway: example.com | 502: Bad gateway & more"
        );
        let untitled = b"<html><body><h1>Oops</h1></body></html>";
        assert_eq!(
            body_summary(503, untitled),
            "HTTP 503 Service Unavailable (an HTML page, not the API's error JSON)"
        );
        // Hostile: an unclosed title, a title of megabytes, odd status codes.
        assert!(body_summary(599, b"<html><title>never closed").starts_with("HTTP 599"));
        let huge = format!("<html><title>{}</title></html>", "x".repeat(1 << 20));
        let line = body_summary(500, huge.as_bytes());
        assert!(line.chars().count() <= MAX_MESSAGE_CHARS + 1 && line.ends_with('…'));
    }

    #[test]
    fn long_messages_become_one_bounded_line() {
        let long = format!("first line\n\n  second\tline {}", "word ".repeat(3000));
        let line = one_line(&long);
        assert!(line.starts_with("first line second line word"), "{line}");
        assert!(!line.contains('\n') && line.chars().count() == MAX_MESSAGE_CHARS + 1);
        assert_eq!(
            body_summary(500, b"  \n "),
            "the server sent no error message"
        );
        let e = http_error(400, None, None, &long);
        assert_eq!(e.message, line);
        assert!(!e.sentence("p").contains('\n'));
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
