//! The requests both protocols send, checked header by header and field by field (wiremock).

use paddock::client::Client;
use paddock::config::{KeySource, ProviderConfig};
use paddock::provider::{ChatRequest, MaxTokensField, Message, Protocol};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn conversation() -> ChatRequest {
    ChatRequest {
        model: "model-x".into(),
        system: Some("Be brief.".into()),
        messages: vec![
            Message::user("hi"),
            Message::assistant("hello"),
            Message::user("again"),
        ],
        temperature: Some(0.5),
        max_tokens: Some(64),
        stream: false,
    }
}

fn provider(protocol: Protocol, base: &str, key_var: &str) -> ProviderConfig {
    let mut p = ProviderConfig::new("p", protocol, "model-x", base);
    p.key_source = KeySource::Env(key_var.into());
    p.max_retries = 0;
    p
}

async fn only_request(server: &MockServer) -> wiremock::Request {
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    reqs.into_iter().next().unwrap()
}

#[tokio::test]
async fn openai_request_headers_and_body() {
    std::env::set_var("WIRE_TEST_OPENAI_KEY", "sk-test-openai");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c1", "object": "chat.completion", "model": "model-x-2024",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}
        })))
        .mount(&server)
        .await;
    let p = provider(
        Protocol::OpenAi,
        &format!("{}/v1", server.uri()),
        "WIRE_TEST_OPENAI_KEY",
    );
    let outcome = Client::new(&p)
        .unwrap()
        .complete(conversation(), |_| {})
        .await;
    assert_eq!(outcome.content, "Hi!");
    assert_eq!(outcome.model, "model-x-2024");
    assert_eq!(outcome.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (outcome.usage.input_tokens, outcome.usage.output_tokens),
        (Some(20), Some(2))
    );

    let req = only_request(&server).await;
    assert_eq!(
        req.headers.get("authorization").unwrap(),
        "Bearer sk-test-openai"
    );
    assert_eq!(req.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(req.headers.get("x-stainless-retry-count").unwrap(), "0");
    assert!(req.headers.get("x-api-key").is_none());
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "model-x",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "again"}
            ],
            "temperature": 0.5,
            "max_tokens": 64
        })
    );
}

#[tokio::test]
async fn openai_streaming_asks_for_usage_and_can_use_max_completion_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
            "text/event-stream",
        ))
        .mount(&server)
        .await;
    let mut p = provider(Protocol::OpenAi, &format!("{}/v1", server.uri()), "UNUSED");
    p.key_source = KeySource::None;
    p.max_tokens_field = MaxTokensField::MaxCompletionTokens;
    let req = ChatRequest {
        stream: true,
        ..conversation()
    };
    let outcome = Client::new(&p).unwrap().complete(req, |_| {}).await;
    assert_eq!(outcome.content, "ok");
    let req = only_request(&server).await;
    assert!(
        req.headers.get("authorization").is_none(),
        "no key, no auth header"
    );
    assert_eq!(req.headers.get("accept").unwrap(), "text/event-stream");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_completion_tokens"], json!(64));
    assert!(body.get("max_tokens").is_none());
}

#[tokio::test]
async fn anthropic_request_headers_and_body() {
    std::env::set_var("WIRE_TEST_ANTHROPIC_KEY", "sk-ant-test");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "output_tokens": 3}
        })))
        .mount(&server)
        .await;
    let p = provider(
        Protocol::Anthropic,
        &server.uri(),
        "WIRE_TEST_ANTHROPIC_KEY",
    );
    let outcome = Client::new(&p)
        .unwrap()
        .complete(conversation(), |_| {})
        .await;
    assert_eq!(outcome.content, "Hi there");
    assert_eq!(outcome.finish_reason.as_deref(), Some("end_turn"));
    assert_eq!(outcome.usage.total(), Some(15));

    let req = only_request(&server).await;
    assert_eq!(req.headers.get("x-api-key").unwrap(), "sk-ant-test");
    assert_eq!(req.headers.get("anthropic-version").unwrap(), "2023-06-01");
    assert_eq!(req.headers.get("content-type").unwrap(), "application/json");
    assert!(req.headers.get("authorization").is_none());
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "model-x",
            "system": "Be brief.",
            "max_tokens": 64,
            "temperature": 0.5,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "again"}
            ]
        })
    );
}

#[tokio::test]
async fn anthropic_sends_a_default_max_tokens_and_stream_flag() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n\
             event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"yo\"}}\n\n\
             event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n\
             event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            "text/event-stream",
        ))
        .mount(&server)
        .await;
    let mut p = provider(Protocol::Anthropic, &server.uri(), "UNUSED");
    p.key_source = KeySource::None;
    let req = ChatRequest {
        stream: true,
        max_tokens: None,
        system: None,
        ..conversation()
    };
    let outcome = Client::new(&p).unwrap().complete(req, |_| {}).await;
    assert_eq!(outcome.content, "yo");
    assert_eq!(
        (outcome.usage.input_tokens, outcome.usage.output_tokens),
        (Some(5), Some(2))
    );
    let body: Value = serde_json::from_slice(&only_request(&server).await.body).unwrap();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["max_tokens"], json!(4096));
    assert!(body.get("system").is_none());
}
