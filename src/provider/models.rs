//! The models a provider's server offers: `GET {base}/models` on OpenAI-style servers (Chat
//! Completions and Responses kinds), `GET /v1/models` on Anthropic (cursor pages: `has_more`,
//! `last_id`, next page `after_id`), `GET /v1beta/models` on Gemini (`nextPageToken`, next page
//! `pageToken`). Bodies are bounded, pages are capped, and names are checked before they are kept.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use super::{ApiError, Endpoint, ErrorKind, Protocol};

/// Most pages followed; a server that keeps saying "more" past this is cut off (and logged).
pub const MAX_PAGES: usize = 50;
/// Most names kept from all pages together.
pub const MAX_MODELS: usize = 10_000;
/// Largest model-list page read (OpenAI's whole list is about 20 KB).
pub const MAX_PAGE_BYTES: usize = 4 << 20;
/// Longest model name kept; longer ones are not names anyone typed.
pub const MAX_NAME_CHARS: usize = 256;
/// Page size asked for: the most Anthropic and Gemini serve per page.
const PAGE_SIZE: &str = "1000";

/// One page of a model list: the names on it and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub names: Vec<String>,
    pub next: Option<String>,
}

/// The URL of one page, with the cursor of the page before (`None` for the first).
pub fn page_url(
    protocol: Protocol,
    base_url: &str,
    cursor: Option<&str>,
) -> Result<reqwest::Url, ApiError> {
    let base = base_url.trim_end_matches('/');
    let (url, params): (String, Vec<(&str, &str)>) = match protocol {
        Protocol::OpenAi | Protocol::OpenAiResponses => (format!("{base}/models"), vec![]),
        Protocol::Anthropic => {
            let root = base.strip_suffix("/v1").unwrap_or(base);
            let mut params = vec![("limit", PAGE_SIZE)];
            params.extend(cursor.map(|c| ("after_id", c)));
            (format!("{root}/v1/models"), params)
        }
        Protocol::Gemini => {
            let mut params = vec![("pageSize", PAGE_SIZE)];
            params.extend(cursor.map(|c| ("pageToken", c)));
            (
                format!("{}/models", super::gemini::versioned_base(base)),
                params,
            )
        }
    };
    let mut url = reqwest::Url::parse(&url).map_err(|e| {
        ApiError::new(
            ErrorKind::Connection,
            format!("base_url is not a URL the model list can be asked at ({e})"),
        )
    })?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    Ok(url)
}

/// The GET for one page, with the protocol's key header and the config's extra headers.
pub fn page_request(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    url: reqwest::Url,
) -> reqwest::RequestBuilder {
    let mut rb = endpoint
        .extras
        .headers(http.get(url).header("accept", "application/json"));
    let key = endpoint.api_key.as_ref().map(|k| k.expose_secret());
    match endpoint.protocol {
        Protocol::OpenAi | Protocol::OpenAiResponses => {
            if let Some(key) = key {
                rb = rb.bearer_auth(key);
            }
        }
        Protocol::Anthropic => {
            rb = rb.header("anthropic-version", super::anthropic::VERSION);
            if let Some(key) = key {
                rb = rb.header("x-api-key", key);
            }
        }
        Protocol::Gemini => {
            if let Some(key) = key {
                rb = rb.header("x-goog-api-key", key);
            }
        }
    }
    rb
}

/// Decode one page. Entries that are not what the protocol sends are skipped, not fatal; a body
/// that is not a model list at all is `bad_response`.
pub fn parse_page(protocol: Protocol, body: &[u8]) -> Result<Page, ApiError> {
    let not_a_list = || {
        let mut e = ApiError::new(
            ErrorKind::BadResponse,
            "the server's answer is not a model list (is base_url right?)",
        );
        e.retriable = false;
        e
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| not_a_list())?;
    let (entries, field) = match protocol {
        Protocol::Gemini => (value.get("models"), "name"),
        _ => (value.get("data"), "id"),
    };
    let entries: &[Value] = match entries {
        Some(Value::Array(items)) => items.as_slice(),
        // Gemini leaves `models` out of an empty page.
        None if protocol == Protocol::Gemini && value.is_object() => &[][..],
        _ => return Err(not_a_list()),
    };
    let names = entries
        .iter()
        .filter(|m| protocol != Protocol::Gemini || generates_content(m))
        .filter_map(|m| m.get(field)?.as_str())
        .map(|n| match protocol {
            Protocol::Gemini => n.strip_prefix("models/").unwrap_or(n),
            _ => n,
        })
        .filter(|n| is_plausible_name(n))
        .map(str::to_owned)
        .collect();
    let text = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let next = match protocol {
        Protocol::Anthropic if value.get("has_more").and_then(Value::as_bool) == Some(true) => {
            text("last_id")
        }
        Protocol::Gemini => text("nextPageToken"),
        _ => None,
    };
    Ok(Page {
        names,
        next: next.filter(|c| c.len() <= 1024).map(str::to_owned),
    })
}

/// Gemini lists embedding and other models too: keep those that can chat (when it says).
fn generates_content(model: &Value) -> bool {
    match model
        .get("supportedGenerationMethods")
        .and_then(Value::as_array)
    {
        Some(methods) => methods.iter().any(|m| {
            matches!(
                m.as_str(),
                Some("generateContent" | "streamGenerateContent")
            )
        }),
        None => true,
    }
}

/// A name someone could type in `model = "..."`: not blank, not huge, no control characters.
fn is_plausible_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name
            .chars()
            .any(|c| c.is_control() || crate::sanitize::is_removed(c))
}

/// Every model the server lists, in the server's order, each once. `wait` bounds each page
/// (connect, headers and body).
pub async fn list(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    wait: Duration,
) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    for page_no in 0..MAX_PAGES {
        let url = page_url(endpoint.protocol, &endpoint.base_url, cursor.as_deref())?;
        let page = tokio::time::timeout(wait, fetch_page(http, endpoint, url))
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorKind::Timeout,
                    format!("the model list did not arrive within {} s", wait.as_secs()),
                )
            })??;
        for name in page.names {
            if names.len() >= MAX_MODELS {
                tracing::warn!(kept = MAX_MODELS, "the model list was cut off");
                return Ok(names);
            }
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
        match page.next {
            // A cursor that does not move would loop forever.
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => return Ok(names),
        }
        if page_no + 1 == MAX_PAGES {
            tracing::warn!(
                pages = MAX_PAGES,
                "the model list had more pages than paddock reads"
            );
        }
    }
    Ok(names)
}

async fn fetch_page(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    url: reqwest::Url,
) -> Result<Page, ApiError> {
    let response = page_request(http, endpoint, url)
        .send()
        .await
        .map_err(|e| ApiError::from_transport(&e))?;
    let status = response.status();
    if status.is_redirection() {
        let mut e = ApiError::new(
            ErrorKind::Redirect,
            "the server redirected the model list request, and paddock did not follow",
        )
        .with_status(status.as_u16());
        e.retriable = false;
        return Err(e);
    }
    let headers = response.headers().clone();
    let limit = if status.is_success() {
        MAX_PAGE_BYTES.min(endpoint.limits.max_body_bytes.max(1))
    } else {
        super::ERROR_BODY_PREFIX
    };
    let (body, cut) = read_bounded(response, limit).await?;
    if !status.is_success() {
        return Err(endpoint.parse_error(status.as_u16(), &headers, &body));
    }
    if cut {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!(
                "the model list passed {} bytes; paddock stopped reading",
                limit
            ),
        ));
    }
    parse_page(endpoint.protocol, &body)
}

/// At most `limit` bytes of the body, and whether there was more.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ApiError::from_transport(&e))?
    {
        let room = limit.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_per_protocol() {
        let url = |p, base, cursor| page_url(p, base, cursor).unwrap().to_string();
        assert_eq!(
            url(Protocol::OpenAi, "https://api.openai.com/v1/", None),
            "https://api.openai.com/v1/models"
        );
        assert_eq!(
            url(
                Protocol::Anthropic,
                "https://api.anthropic.com",
                Some("claude-x")
            ),
            "https://api.anthropic.com/v1/models?limit=1000&after_id=claude-x"
        );
        assert_eq!(
            url(Protocol::Anthropic, "http://h/v1", None),
            "http://h/v1/models?limit=1000"
        );
        // The cursor is the server's text: it is encoded, never spliced in.
        assert_eq!(
            url(Protocol::Gemini, "https://generativelanguage.googleapis.com", Some("a&b=c d")),
            "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000&pageToken=a%26b%3Dc+d"
        );
        assert!(page_url(Protocol::OpenAi, "not a url", None).is_err());
    }

    #[test]
    fn pages_decode_and_hostile_entries_are_skipped() {
        let openai = br#"{"object":"list","data":[{"id":"gpt-4o"},{"id":7},{"nope":1},{"id":"a\u001b[2Jb"},{"id":"  "},{"id":"gpt-4o-mini"}]}"#;
        let page = parse_page(Protocol::OpenAi, openai).unwrap();
        assert_eq!(page.names, ["gpt-4o", "gpt-4o-mini"]);
        assert_eq!(page.next, None);

        let anthropic = br#"{"data":[{"type":"model","id":"claude-b"}],"has_more":true,"first_id":"claude-b","last_id":"claude-b"}"#;
        let page = parse_page(Protocol::Anthropic, anthropic).unwrap();
        assert_eq!(
            (page.names.as_slice(), page.next.as_deref()),
            (&["claude-b".to_owned()][..], Some("claude-b"))
        );
        let last = br#"{"data":[],"has_more":false,"last_id":"x"}"#;
        assert_eq!(parse_page(Protocol::Anthropic, last).unwrap().next, None);

        let gemini = br#"{"models":[{"name":"models/gemini-2.5-flash","supportedGenerationMethods":["generateContent"]},{"name":"models/embedding-001","supportedGenerationMethods":["embedContent"]}],"nextPageToken":"t2"}"#;
        let page = parse_page(Protocol::Gemini, gemini).unwrap();
        assert_eq!(page.names, ["gemini-2.5-flash"]);
        assert_eq!(page.next.as_deref(), Some("t2"));
        assert_eq!(
            parse_page(Protocol::Gemini, b"{}").unwrap(),
            Page::default()
        );

        let long = format!(
            r#"{{"data":[{{"id":"{}"}}]}}"#,
            "m".repeat(MAX_NAME_CHARS + 1)
        );
        assert!(parse_page(Protocol::OpenAi, long.as_bytes())
            .unwrap()
            .names
            .is_empty());
        let deep = [b'['; 10_000];
        let bads: [&[u8]; 5] = [b"<html>nope</html>", b"[]", b"{\"data\":3}", b"", &deep];
        for bad in bads {
            let e = parse_page(Protocol::OpenAi, bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadResponse);
        }
    }
}
