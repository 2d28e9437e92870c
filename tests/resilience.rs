//! Retries through the real client over HTTP: Retry-After honoured, non-retriable kinds never
//! retried, retries visible as events and on `ask`'s stderr, never after text arrived.

mod support;

use std::time::{Duration, Instant};

use assert_cmd::Command;
use paddock::client::{Client, ClientEvent};
use paddock::config::ProviderConfig;
use paddock::provider::{ChatRequest, ErrorKind, Message, Protocol};
use paddock::retry::WaitSource;
use support::{RawResponse, RawServer};

const OK_STREAM: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"done\"},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
const RATE_LIMITED: &str = r#"{"error":{"message":"Rate limit reached. Please try again in 0.2s.","type":"requests","code":"rate_limit_exceeded"}}"#;

fn client(server: &RawServer, retries: u32) -> Client {
    let mut cfg = ProviderConfig::new("p", Protocol::OpenAi, "m", &format!("{}/v1", server.base()));
    cfg.max_retries = retries;
    Client::new(&cfg).unwrap()
}

fn req() -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![Message::user("hi")],
        stream: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn two_429s_then_success_waits_exactly_what_the_server_said() {
    let server = RawServer::start(vec![
        RawResponse::json(429, RATE_LIMITED).header("retry-after-ms", "150"),
        RawResponse::json(429, RATE_LIMITED).header("retry-after", "1"),
        RawResponse::sse(OK_STREAM.as_bytes(), 64),
    ])
    .await;
    let mut retries = Vec::new();
    let started = Instant::now();
    let outcome = client(&server, 2)
        .complete(req(), |e| {
            if let ClientEvent::Retry { decision, error } = e {
                retries.push((
                    decision.retry,
                    decision.max_retries,
                    decision.wait,
                    decision.source,
                    error.kind,
                ));
            }
        })
        .await;
    let elapsed = started.elapsed();
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.content, "done");
    assert_eq!(outcome.retries, 2);
    assert_eq!(
        retries,
        vec![
            (
                1,
                2,
                Duration::from_millis(150),
                WaitSource::RetryAfter,
                ErrorKind::RateLimit
            ),
            (
                2,
                2,
                Duration::from_secs(1),
                WaitSource::RetryAfter,
                ErrorKind::RateLimit
            ),
        ]
    );
    assert!(elapsed >= Duration::from_millis(1150), "waited {elapsed:?}");
    assert_eq!(server.requests().len(), 3);
    // Each attempt tells the server which retry it is, like the official SDKs.
    let counts: Vec<bool> = server
        .requests()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.head
                .to_lowercase()
                .contains(&format!("x-stainless-retry-count: {i}"))
        })
        .collect();
    assert_eq!(counts, vec![true, true, true]);
}

#[tokio::test]
async fn auth_and_quota_are_never_retried() {
    for (status, body) in [
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#,
        ),
        (
            429,
            r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        ),
    ] {
        let server = RawServer::start(vec![
            RawResponse::json(status, body).header("retry-after", "1")
        ])
        .await;
        let outcome = client(&server, 3).complete(req(), |_| {}).await;
        assert_eq!(outcome.retries, 0);
        assert_eq!(server.requests().len(), 1, "{status} was sent once");
        assert!(!outcome.error.unwrap().retriable);
    }
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_last_error() {
    let server = RawServer::start(vec![
        RawResponse::json(503, "").header("retry-after-ms", "10")
    ])
    .await;
    let outcome = client(&server, 2).complete(req(), |_| {}).await;
    assert_eq!(outcome.retries, 2);
    assert_eq!(server.requests().len(), 3);
    let e = outcome.error.unwrap();
    assert_eq!((e.kind, e.status), (ErrorKind::Server, Some(503)));
}

#[tokio::test]
async fn a_drop_before_any_text_is_retried_but_after_text_is_not() {
    let mut dropped = RawResponse::sse(b"data: {\"choices\":[]}\n\n", usize::MAX);
    dropped.drop_after = Some(1);
    let server = RawServer::start(vec![dropped, RawResponse::sse(OK_STREAM.as_bytes(), 64)]).await;
    let outcome = client(&server, 2).complete(req(), |_| {}).await;
    assert_eq!((outcome.content.as_str(), outcome.retries), ("done", 1));

    let mut cut = RawResponse::sse(
        OK_STREAM.as_bytes(),
        OK_STREAM.find("data: {\"choices\":[]").unwrap(),
    );
    cut.drop_after = Some(1);
    let server = RawServer::start(vec![cut, RawResponse::sse(OK_STREAM.as_bytes(), 64)]).await;
    let outcome = client(&server, 2).complete(req(), |_| {}).await;
    assert_eq!(outcome.retries, 0);
    assert_eq!(
        server.requests().len(),
        1,
        "never re-sent after text arrived"
    );
    assert_eq!(
        outcome.content, "done",
        "the partial text is kept once, not duplicated"
    );
    assert_eq!(outcome.error.unwrap().kind, ErrorKind::StreamInterrupted);
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_prints_each_retry_on_stderr_and_json_counts_them() {
    let server = RawServer::start(vec![
        RawResponse::json(429, RATE_LIMITED).header("retry-after-ms", "50"),
        RawResponse::sse(OK_STREAM.as_bytes(), 64),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("paddock")
        .unwrap()
        .env_clear()
        .env("HOME", home.path())
        .env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
        .env("OPENAI_API_KEY", "x")
        .current_dir(home.path())
        .args(["ask", "-p", "openai", "--json", "hi"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().next().unwrap(),
        "openai: retry 1/2 in 0.1s after rate_limit HTTP 429 (Retry-After): Rate limit reached. Please try again in 0.2s."
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["retries"], 1);
    assert_eq!(v["content"], "done");
}

/// TTFT measures the provider, not paddock's own queue: a request that waited in the client-side
/// limiter reports that wait as its queue time, and neither its TTFT nor its latency holds it.
#[tokio::test]
async fn a_limiter_wait_is_queue_time_not_ttft() {
    use paddock::ratelimit::{Limiter, LimiterConfig};
    let server = RawServer::start(vec![RawResponse::sse(OK_STREAM.as_bytes(), 64)]).await;
    let limiter = Limiter::new(LimiterConfig {
        requests_per_window: Some(1),
        tokens_per_window: None,
        window: Duration::from_millis(700),
    });
    let c = client(&server, 0).with_limiter(limiter);
    let first = c.complete(req(), |_| {}).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    let started = Instant::now();
    let second = c.complete(req(), |_| {}).await;
    let wall = started.elapsed();
    assert!(second.error.is_none(), "{:?}", second.error);
    assert!(wall >= Duration::from_millis(500), "it did wait: {wall:?}");
    assert!(
        second.queue >= Duration::from_millis(500),
        "the wait is the queue figure: {:?}",
        second.queue
    );
    let ttft = second.ttft.expect("a first token");
    assert!(
        ttft < Duration::from_millis(400),
        "TTFT holds no queue: {ttft:?}"
    );
    assert!(
        second.latency < Duration::from_millis(400),
        "{:?}",
        second.latency
    );
    assert!(second.latency + second.queue <= wall + Duration::from_millis(5));
    let json = serde_json::to_value(second.to_json()).unwrap();
    assert!(json["queue_ms"].as_f64().unwrap() >= 500.0, "{json}");
}
