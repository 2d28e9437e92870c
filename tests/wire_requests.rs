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

/// `reasoning_effort`, `thinking`, `extra_body` and `extra_headers` from the config reach
/// the wire; a patch can add and replace body fields but never the auth header or the messages.
#[tokio::test]
async fn reasoning_controls_and_patches_reach_the_wire_but_never_replace_auth() {
    std::env::set_var("WIRE_TEST_PATCH_KEY", "sk-real-key");
    let config = paddock::config::parse_str(
        r#"
[[provider]]
name = "o"
kind = "openai"
model = "o3-mini"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "WIRE_TEST_PATCH_KEY"
reasoning_effort = "high"
extra_body = { top_k = 5, temperature = 0.1, chat_template_kwargs = { enable_thinking = true } }
extra_headers = { "x-team" = "blue" }

[[provider]]
name = "a"
kind = "anthropic"
model = "claude-sonnet-4"
base_url = "http://127.0.0.1:9"
api_key_env = "WIRE_TEST_PATCH_KEY"
thinking = { type = "enabled", budget_tokens = 2048 }
"#,
    )
    .unwrap();
    for bad in [
        "extra_headers = { Authorization = \"Bearer stolen\" }",
        "extra_headers = { \"X-Api-Key\" = \"k\" }",
        "extra_body = { messages = [] }",
        "reasoning_effort = \"max\"",
        "thinking = { type = \"enabled\", budget_tokens = 2048 }",
        "thinking = { type = \"on\" }",
    ] {
        let text = format!("[[provider]]\nname = \"o\"\nkind = \"openai\"\nmodel = \"m\"\n{bad}\n");
        let err = paddock::config::parse_str(&text).unwrap_err();
        assert!(err.starts_with("line 5: provider \"o\""), "{bad}: {err}");
    }
    for (name, wire_path) in [("o", "/v1/chat/completions"), ("a", "/v1/messages")] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(wire_path))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        let mut p = config.provider(name).unwrap().clone();
        p.base_url = if name == "o" {
            format!("{}/v1", server.uri())
        } else {
            server.uri()
        };
        p.max_retries = 0;
        let mut req = conversation();
        req.temperature = None;
        req.max_tokens = Some(4096);
        let _ = Client::new(&p).unwrap().complete(req, |_| {}).await;
        let sent = only_request(&server).await;
        let body: Value = serde_json::from_slice(&sent.body).unwrap();
        if name == "o" {
            assert_eq!(body["reasoning_effort"], "high");
            assert_eq!(body["top_k"], 5);
            assert_eq!(body["temperature"], 0.1, "a patch replaces a field");
            assert_eq!(body["chat_template_kwargs"]["enable_thinking"], true);
            assert_eq!(
                body["messages"][1]["content"], "hi",
                "the conversation is paddock's"
            );
            assert_eq!(sent.headers["x-team"], "blue");
            assert_eq!(sent.headers["authorization"], "Bearer sk-real-key");
        } else {
            assert_eq!(
                body["thinking"],
                json!({"type": "enabled", "budget_tokens": 2048})
            );
            assert_eq!(sent.headers["x-api-key"], "sk-real-key");
        }
    }
    // The API's own constraints are checked before anything is sent, in one sentence.
    let server = MockServer::start().await;
    let mut p = config.provider("a").unwrap().clone();
    p.base_url = server.uri();
    for (max, temp, words) in [
        (Some(1024), None, "must be below max_tokens (1024)"),
        (Some(8192), Some(0.7), "temperature cannot be set"),
    ] {
        let mut req = conversation();
        req.max_tokens = max;
        req.temperature = temp;
        let outcome = Client::new(&p).unwrap().complete(req, |_| {}).await;
        let err = outcome.error.expect("refused");
        assert_eq!(err.kind, paddock::provider::ErrorKind::InvalidRequest);
        assert!(err.message.contains(words), "{}", err.message);
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing was sent"
    );
}
