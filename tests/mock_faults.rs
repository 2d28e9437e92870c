//! Each scripted fault of the simulated server, through the real client: classified right, and
//! retried or not as the policy says. Also the limiter against a server that enforces its limits.

use std::time::{Duration, Instant};

use paddock::client::{Client, ClientEvent, Outcome};
use paddock::config::ProviderConfig;
use paddock::mock::{MockServer, Scenario};
use paddock::provider::{ChatRequest, ErrorKind, Message, Protocol};
use paddock::ratelimit::{Limiter, LimiterConfig};

async fn server(toml: &str) -> MockServer {
    let scenario = Scenario::from_toml_str(toml).unwrap();
    MockServer::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap()
}

fn client(server: &MockServer, protocol: Protocol, model: &str, retries: u32) -> Client {
    let base = match protocol {
        Protocol::OpenAi => server.base_url_openai(),
        Protocol::Anthropic => server.base_url_anthropic(),
        Protocol::OpenAiResponses => server.base_url_responses(),
        Protocol::Gemini => server.base_url_gemini(),
    };
    let mut cfg = ProviderConfig::new("mock", protocol, model, &base);
    cfg.max_retries = retries;
    cfg.read_timeout = Duration::from_millis(800);
    Client::new(&cfg).unwrap()
}

fn req(model: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![Message::user("Tell me about backpressure.")],
        max_tokens: Some(max_tokens),
        stream: true,
        ..Default::default()
    }
}

/// A server whose fast model `m` speaks `protocol` and has `fault` on its first request.
async fn fault_server(protocol: Protocol, fault: &str) -> MockServer {
    let family = protocol.as_str();
    server(&format!(
        "seed = 7\n[[model]]\nname = \"m\"\nprotocol = \"{family}\"\nttft_ms = 0\ntokens_per_sec = 0\n\
         min_answer_tokens = 30\nmax_answer_tokens = 40\n\n[[model.fault]]\n{fault}\non_request = [1]\n"
    ))
    .await
}

/// One fault on the first request; returns the outcome, the number of retries the client
/// announced, and the number of requests the server saw.
async fn with_fault(protocol: Protocol, fault: &str, retries: u32) -> (Outcome, usize, usize) {
    let server = fault_server(protocol, fault).await;
    let mut announced = 0;
    let outcome = client(&server, protocol, "m", retries)
        .complete(req("m", 100), |e| {
            announced += usize::from(matches!(e, ClientEvent::Retry { .. }))
        })
        .await;
    let sent = server.request_count("m");
    (outcome, announced, sent)
}

#[tokio::test]
async fn retriable_faults_are_retried_and_then_succeed() {
    let cases = [
        (
            "kind = \"rate_limit\"\nretry_after = \"seconds\"\nretry_after_secs = 0.2",
            ErrorKind::RateLimit,
        ),
        (
            "kind = \"rate_limit\"\nretry_after = \"ms\"\nretry_after_secs = 0.15",
            ErrorKind::RateLimit,
        ),
        (
            "kind = \"rate_limit\"\nretry_after = \"date\"\nretry_after_secs = 1.0",
            ErrorKind::RateLimit,
        ),
        ("kind = \"server_error\"\nstatus = 500", ErrorKind::Server),
        ("kind = \"server_error\"\nstatus = 502", ErrorKind::Server),
        ("kind = \"server_error\"\nstatus = 503", ErrorKind::Server),
        ("kind = \"overloaded\"", ErrorKind::Overloaded),
        ("kind = \"reset\"", ErrorKind::Connection),
        (
            "kind = \"drop\"\nafter_tokens = 0",
            ErrorKind::StreamInterrupted,
        ),
    ];
    for protocol in Protocol::ALL {
        for (fault, kind) in cases {
            let mut first_error = None;
            let server = fault_server(protocol, fault).await;
            let outcome = client(&server, protocol, "m", 2)
                .complete(req("m", 100), |e| {
                    if let ClientEvent::Retry { error, .. } = e {
                        first_error.get_or_insert(error.kind);
                    }
                })
                .await;
            // Gemini's 503 is UNAVAILABLE, its word for an overloaded model.
            let kind = match (protocol, kind) {
                (Protocol::Gemini, ErrorKind::Server) if fault.contains("503") => {
                    ErrorKind::Overloaded
                }
                _ => kind,
            };
            assert_eq!(first_error, Some(kind), "{protocol:?} {fault}");
            assert!(
                outcome.error.is_none(),
                "{protocol:?} {fault}: {:?}",
                outcome.error
            );
            assert_eq!(
                (outcome.retries, server.request_count("m")),
                (1, 2),
                "{protocol:?} {fault}"
            );
            assert!(outcome.usage.output_tokens.unwrap() >= 30);
        }
    }
}

#[tokio::test]
async fn non_retriable_faults_fail_at_once() {
    let cases = [
        ("kind = \"unauthorized\"", ErrorKind::Auth),
        ("kind = \"insufficient_quota\"", ErrorKind::QuotaExceeded),
        ("kind = \"context_too_long\"", ErrorKind::ContextTooLong),
    ];
    for protocol in Protocol::ALL {
        for (fault, kind) in cases {
            let (outcome, announced, sent) = with_fault(protocol, fault, 3).await;
            let e = outcome
                .error
                .unwrap_or_else(|| panic!("{protocol:?} {fault}: no error"));
            assert_eq!(
                (e.kind, e.retriable),
                (kind, false),
                "{protocol:?} {fault}: {e:?}"
            );
            assert_eq!((announced, sent), (0, 1), "{protocol:?} {fault}");
        }
    }
}

#[tokio::test]
async fn mid_stream_faults_after_text_keep_the_text_and_are_not_retried() {
    for protocol in Protocol::ALL {
        let (outcome, announced, sent) =
            with_fault(protocol, "kind = \"drop\"\nafter_tokens = 5", 3).await;
        assert_eq!(
            outcome.error.unwrap().kind,
            ErrorKind::StreamInterrupted,
            "{protocol:?}"
        );
        assert!(!outcome.content.is_empty());
        assert_eq!((announced, sent), (0, 1));

        let (outcome, _, sent) =
            with_fault(protocol, "kind = \"stream_error\"\nafter_tokens = 5", 3).await;
        assert!(
            outcome.error.is_some(),
            "{protocol:?} in-stream error reported"
        );
        assert_eq!(sent, 1);
        assert!(!outcome.content.is_empty());
    }
}

#[tokio::test]
async fn benign_stream_oddities_still_complete() {
    for protocol in Protocol::ALL {
        for fault in [
            "kind = \"malformed\"\nafter_tokens = 3",
            "kind = \"huge_event\"\nafter_tokens = 3\nbytes = 1048576",
            "kind = \"slow_first_byte\"\nduration_ms = 300",
            "kind = \"stall\"\nafter_tokens = 3\nduration_ms = 300",
        ] {
            let (outcome, announced, _) = with_fault(protocol, fault, 0).await;
            assert!(
                outcome.error.is_none(),
                "{protocol:?} {fault}: {:?}",
                outcome.error
            );
            assert_eq!(announced, 0);
            assert!(outcome.finish_reason.is_some(), "{protocol:?} {fault}");
        }
        let long = with_fault(
            protocol,
            "kind = \"huge_event\"\nafter_tokens = 3\nbytes = 1048576",
            0,
        )
        .await
        .0;
        assert!(
            long.content.len() >= 1_048_576,
            "the 1 MB event arrived whole"
        );
    }
}

#[tokio::test]
async fn a_stall_longer_than_the_read_timeout_is_a_timeout_after_text() {
    let (outcome, _, sent) = with_fault(
        Protocol::OpenAi,
        "kind = \"stall\"\nafter_tokens = 3\nduration_ms = 3000",
        3,
    )
    .await;
    let e = outcome.error.unwrap();
    assert_eq!(
        e.kind,
        ErrorKind::StreamInterrupted,
        "cut off after text: {e:?}"
    );
    assert_eq!(sent, 1, "never re-sent after text arrived");
}

/// A burst of 3N requests through one limiter against a server enforcing N requests per window:
/// zero 429s, and the last request starts within 5% of the earliest moment the limit allows (2W).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_3n_requests_gets_no_429_and_wastes_no_time() {
    const N: u32 = 5;
    let window = Duration::from_secs(2);
    let server = server(&format!(
        "seed = 1\nwindow_secs = {}\n[[model]]\nname = \"m\"\nprotocol = \"openai\"\nttft_ms = 0\ntokens_per_sec = 0\n\
         min_answer_tokens = 20\nmax_answer_tokens = 30\nrequests_per_window = {N}\ntokens_per_window = 100000\n",
        window.as_secs_f64()
    ))
    .await;
    let limiter = Limiter::new(
        LimiterConfig {
            requests_per_window: Some(N),
            tokens_per_window: Some(100_000),
            window,
        }
        .with_safety_margin(),
    );
    let c = client(&server, Protocol::OpenAi, "m", 0).with_limiter(limiter);
    let start = Instant::now();
    let tasks: Vec<_> = (0..3 * N)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                let mut connected_at = None;
                let mut saw_429 = false;
                let o = c
                    .complete(req("m", 30), |e| match e {
                        ClientEvent::Connecting { .. } => connected_at = Some(Instant::now()),
                        ClientEvent::Retry { error, .. } => saw_429 |= error.status == Some(429),
                        _ => {}
                    })
                    .await;
                (o, connected_at.unwrap(), saw_429)
            })
        })
        .collect();
    let mut last_start = start;
    for t in tasks {
        let (o, at, saw_429) = t.await.unwrap();
        assert!(o.error.is_none() && !saw_429, "no 429s: {:?}", o.error);
        last_start = last_start.max(at);
    }
    let least = 2 * window;
    let took = last_start - start;
    assert!(took >= least, "the limit was respected: {took:?}");
    assert!(
        took <= least.mul_f64(1.05),
        "within 5% of the least time the limits allow: {took:?}"
    );
    assert_eq!(server.request_count("m"), 3 * N as usize);
}

/// The same with the token budget binding: T tokens per window, requests settled to real usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_is_respected_against_the_server() {
    let window = Duration::from_secs(2);
    let server = server(&format!(
        "seed = 3\nwindow_secs = {}\n[[model]]\nname = \"m\"\nprotocol = \"anthropic\"\nttft_ms = 0\ntokens_per_sec = 0\n\
         min_answer_tokens = 40\nmax_answer_tokens = 40\ntokens_per_window = 500\n",
        window.as_secs_f64()
    ))
    .await;
    let limiter = Limiter::new(
        LimiterConfig {
            requests_per_window: None,
            tokens_per_window: Some(500),
            window,
        }
        .with_safety_margin(),
    );
    let c = client(&server, Protocol::Anthropic, "m", 0).with_limiter(limiter);
    let start = Instant::now();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.complete(req("m", 40), |_| {}).await })
        })
        .collect();
    for t in tasks {
        let o = t.await.unwrap();
        assert!(o.error.is_none(), "no 429s: {:?}", o.error);
    }
    // Each request costs ~50 tokens against a 500-token window: 12 requests need a second window.
    assert!(
        start.elapsed() >= window,
        "the token budget made the burst wait"
    );
}
