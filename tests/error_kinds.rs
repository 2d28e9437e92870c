//! Every error kind, built from a realistic status and body (PROTOCOLS.md quotes the real ones),
//! classified through the real client over HTTP, with its retry verdict.

mod support;

use std::time::Duration;

use paddock::client::{Client, Outcome};
use paddock::config::ProviderConfig;
use paddock::provider::{ChatRequest, ErrorKind, Message, Protocol};
use support::{RawResponse, RawServer};

fn req(stream: bool) -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![Message::user("hi")],
        stream,
        ..Default::default()
    }
}

async fn outcome_for(protocol: Protocol, resp: RawResponse, stream: bool) -> Outcome {
    let server = RawServer::start(vec![resp]).await;
    let base = support::api_base(protocol, &server.base());
    let mut cfg = ProviderConfig::new("p", protocol, "m", &base);
    cfg.max_retries = 0;
    cfg.read_timeout = Duration::from_millis(300);
    Client::new(&cfg)
        .unwrap()
        .complete(req(stream), |_| {})
        .await
}

async fn kind_of(protocol: Protocol, status: u16, body: &str) -> (ErrorKind, bool) {
    let o = outcome_for(protocol, RawResponse::json(status, body), false).await;
    let e = o.error.expect("an error");
    assert_eq!(e.status, Some(status));
    (e.kind, e.retriable)
}

const OA: Protocol = Protocol::OpenAi;
const AN: Protocol = Protocol::Anthropic;

#[tokio::test]
async fn http_error_bodies_classify() {
    let cases: Vec<(Protocol, u16, &str, ErrorKind, bool)> = vec![
        (
            OA,
            429,
            r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 1538. Please try again in 9.816s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#,
            ErrorKind::RateLimit,
            true,
        ),
        (
            AN,
            429,
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
            ErrorKind::RateLimit,
            true,
        ),
        (
            OA,
            429,
            r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            ErrorKind::QuotaExceeded,
            false,
        ),
        (
            AN,
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ErrorKind::Overloaded,
            true,
        ),
        (
            OA,
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
            ErrorKind::Auth,
            false,
        ),
        (
            AN,
            401,
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
            ErrorKind::Auth,
            false,
        ),
        (
            AN,
            403,
            r#"{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}"#,
            ErrorKind::Permission,
            false,
        ),
        (
            OA,
            404,
            r#"{"error":{"message":"The model `gpt-5-turbo` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
            ErrorKind::NotFound,
            false,
        ),
        (
            AN,
            404,
            r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-nope"}}"#,
            ErrorKind::NotFound,
            false,
        ),
        (
            OA,
            400,
            r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#,
            ErrorKind::InvalidRequest,
            false,
        ),
        (
            AN,
            413,
            r#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#,
            ErrorKind::InvalidRequest,
            false,
        ),
        (
            OA,
            400,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
            ErrorKind::ContextTooLong,
            false,
        ),
        (
            AN,
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 191989 tokens > 180000 maximum"}}"#,
            ErrorKind::ContextTooLong,
            false,
        ),
        (
            AN,
            500,
            r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
            ErrorKind::Server,
            true,
        ),
        (
            OA,
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
            ErrorKind::Server,
            true,
        ),
        (OA, 503, "", ErrorKind::Server, true),
        (
            OA,
            408,
            r#"{"error":{"message":"Request timed out.","type":"timeout","code":null}}"#,
            ErrorKind::Timeout,
            true,
        ),
        (
            OA,
            409,
            r#"{"error":{"message":"Conflict","type":"invalid_request_error","code":null}}"#,
            ErrorKind::InvalidRequest,
            true,
        ),
    ];
    for (protocol, status, body, kind, retriable) in cases {
        assert_eq!(
            kind_of(protocol, status, body).await,
            (kind, retriable),
            "{status} {body}"
        );
    }
}

#[tokio::test]
async fn x_should_retry_overrides_the_status() {
    let resp = RawResponse::json(500, r#"{"error":{"message":"boom","type":"server_error"}}"#)
        .header("x-should-retry", "false");
    let e = outcome_for(OA, resp, false).await.error.unwrap();
    assert_eq!((e.kind, e.retriable), (ErrorKind::Server, false));
    let resp = RawResponse::json(
        400,
        r#"{"error":{"message":"odd","type":"invalid_request_error"}}"#,
    )
    .header("x-should-retry", "true");
    assert!(outcome_for(OA, resp, false).await.error.unwrap().retriable);
}

#[tokio::test]
async fn retry_after_is_carried_on_the_error() {
    let resp = RawResponse::json(
        429,
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
    )
    .header("retry-after", "7");
    let e = outcome_for(AN, resp, false).await.error.unwrap();
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn connection_refused_is_connection() {
    // Bind then drop a listener: its port now refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = ProviderConfig::new("p", OA, "m", &format!("http://127.0.0.1:{port}/v1"));
    cfg.max_retries = 0;
    let o = Client::new(&cfg).unwrap().complete(req(true), |_| {}).await;
    let e = o.error.unwrap();
    assert_eq!(
        (e.kind, e.retriable, e.status),
        (ErrorKind::Connection, true, None)
    );
    // Where it was going and the root cause, without reqwest's nested wrapping.
    assert!(
        e.message
            .starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{}",
        e.message
    );
    assert!(e.message.contains("refused"), "{}", e.message);
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let mut resp = RawResponse::sse(b"data: {\"choices\":[]}\n\n", usize::MAX);
    resp.gap = Duration::from_secs(5);
    resp.slices.push(b"data: [DONE]\n\n".to_vec());
    let o = outcome_for(OA, resp, true).await;
    assert_eq!(o.error.unwrap().kind, ErrorKind::Timeout);
}

#[tokio::test]
async fn a_drop_after_text_is_stream_interrupted_with_partial_text_kept() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\u{e9} \"}}]}\n\n\
                data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"au lait\"}}]}\n\n\
                data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" never\"}}]}\n\n";
    let mut resp = RawResponse::sse(body.as_bytes(), 7);
    // Drop partway: some whole events have arrived, the third has not.
    let keep = body.find(" never").unwrap() / 7;
    resp.drop_after = Some(keep);
    let o = outcome_for(OA, resp, true).await;
    let e = o.error.unwrap();
    assert_eq!(e.kind, ErrorKind::StreamInterrupted);
    assert!(!e.retriable, "text already arrived: never re-sent");
    assert_eq!(o.content, "caf\u{e9} au lait");
}

#[tokio::test]
async fn a_clean_end_without_done_is_stream_interrupted() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"}}]}\n\n";
    let o = outcome_for(OA, RawResponse::sse(body.as_bytes(), usize::MAX), true).await;
    assert_eq!(o.error.unwrap().kind, ErrorKind::StreamInterrupted);
    assert_eq!(o.content, "half");
}

#[tokio::test]
async fn an_anthropic_error_event_mid_stream_keeps_its_type() {
    let body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n\
                event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n\
                event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let o = outcome_for(AN, RawResponse::sse(body.as_bytes(), 3), true).await;
    let e = o.error.unwrap();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::Overloaded, Some("overloaded_error"))
    );
    assert_eq!(o.content, "Hel");
}

#[tokio::test]
async fn garbage_instead_of_json_is_unknown() {
    let o = outcome_for(OA, RawResponse::json(200, "this is not json"), false).await;
    assert_eq!(o.error.unwrap().kind, ErrorKind::Unknown);
}
