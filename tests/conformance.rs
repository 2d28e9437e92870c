//! Every recorded stream in ../shared/conformance/fixtures yields its expect.json values when a
//! real local HTTP server serves it: whole, in 1-7 byte slices, and with CRLF line endings.

mod support;

use std::path::PathBuf;

use paddock::client::Client;
use paddock::config::ProviderConfig;
use paddock::provider::{ChatRequest, Message, Protocol};
use serde_json::Value;
use support::{RawResponse, RawServer};

fn fixtures_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for candidate in [
        here.join("../shared/conformance/fixtures"),
        here.join("tests/fixtures"),
    ] {
        if candidate.is_dir() {
            return candidate;
        }
    }
    panic!("conformance fixtures not found next to the repo (../shared/conformance/fixtures)");
}

fn fixtures() -> Vec<(String, Vec<u8>, Value)> {
    let dir = fixtures_dir();
    let mut out = Vec::new();
    for dir in [dir.clone(), dir.join("protocols")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("sse") {
                continue;
            }
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let body = std::fs::read(&path).unwrap();
            let expect: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{name}.expect.json"))).unwrap(),
            )
            .unwrap();
            out.push((name, body, expect));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 39,
        "expected the full fixture set, found {}",
        out.len()
    );
    out
}

/// The protocol an expect file names, and where its server's API lives.
fn protocol_of(expect: &Value) -> Protocol {
    match expect["provider"].as_str().unwrap() {
        "openai" => Protocol::OpenAi,
        "anthropic" => Protocol::Anthropic,
        "openai-responses" => Protocol::OpenAiResponses,
        "gemini" => Protocol::Gemini,
        other => panic!("unknown provider {other} in a fixture"),
    }
}

fn to_crlf(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    text.replace('\n', "\r\n").into_bytes()
}

async fn run_one(name: &str, body: &[u8], expect: &Value, slice: usize) {
    let server = RawServer::start(vec![RawResponse::sse(body, slice)]).await;
    let protocol = protocol_of(expect);
    let base = support::api_base(protocol, &server.base());
    let mut cfg = ProviderConfig::new("fixture", protocol, "m", &base);
    cfg.max_retries = 0;
    let client = Client::new(&cfg).unwrap();
    let req = ChatRequest {
        model: "m".into(),
        messages: vec![Message::user("hi")],
        ..Default::default()
    };
    let outcome = client
        .complete(
            ChatRequest {
                stream: true,
                ..req
            },
            |_| {},
        )
        .await;
    let ctx = format!("{name} (slice {slice})");
    assert_eq!(
        outcome.content,
        expect["text"].as_str().unwrap(),
        "text of {ctx}"
    );
    assert_eq!(
        outcome.finish_reason.as_deref(),
        expect["finish_reason"].as_str(),
        "finish_reason of {ctx}"
    );
    assert_eq!(
        outcome.usage.input_tokens,
        expect["input_tokens"].as_u64(),
        "input_tokens of {ctx}"
    );
    assert_eq!(
        outcome.usage.output_tokens,
        expect["output_tokens"].as_u64(),
        "output_tokens of {ctx}"
    );
    let error = outcome.error.as_ref().and_then(|e| e.code.clone());
    assert_eq!(
        error.as_deref(),
        expect["error"].as_str(),
        "error of {ctx}: {:?}",
        outcome.error
    );
    check_reasoning(&ctx, expect, outcome.reasoning.as_deref(), &outcome.usage);
    // What a later turn would send back: every redacted block, and the signed thinking.
    let redacted = outcome
        .thinking_blocks
        .iter()
        .filter(|b| matches!(b, paddock::provider::ThinkingBlock::RedactedThinking { .. }))
        .count() as u64;
    let want = expect
        .pointer("/extra/redacted_thinking_blocks")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    assert_eq!(redacted, want, "redacted thinking blocks kept of {ctx}");
}

/// The reasoning keys, in the fixtures that carry them (conformance README): the thinking text
/// and the usage details.
fn check_reasoning(
    ctx: &str,
    expect: &Value,
    reasoning: Option<&str>,
    usage: &paddock::provider::Usage,
) {
    if let Some(want) = expect.get("reasoning") {
        assert_eq!(reasoning, want.as_str(), "reasoning of {ctx}");
    }
    for (key, got) in [
        ("reasoning_tokens", usage.reasoning_tokens),
        ("cached_input_tokens", usage.cache_read_input_tokens),
        ("cache_write_tokens", usage.cache_creation_input_tokens),
    ] {
        if let Some(want) = expect.get(key) {
            assert_eq!(got, want.as_u64(), "{key} of {ctx}");
        }
    }
}

/// Anthropic's thinking blocks as the decoder hands them on (to be sent back): one per `thinking`
/// or `redacted_thinking` block of the recording, in its order (`extra.block_types`), the thinking
/// ones holding all the reasoning text.
fn check_thinking_blocks(
    ctx: &str,
    expect: &Value,
    blocks: &[paddock::provider::ThinkingBlock],
    reasoning: &str,
) {
    use paddock::provider::ThinkingBlock;
    let Some(types) = expect
        .pointer("/extra/block_types")
        .and_then(Value::as_array)
    else {
        assert!(
            blocks.is_empty() || expect["provider"] == "anthropic",
            "{ctx}"
        );
        return;
    };
    let want: Vec<&str> = types
        .iter()
        .filter_map(Value::as_str)
        .filter(|t| *t == "thinking" || *t == "redacted_thinking")
        .collect();
    let got: Vec<&str> = blocks
        .iter()
        .map(|b| match b {
            ThinkingBlock::Thinking { .. } => "thinking",
            ThinkingBlock::RedactedThinking { .. } => "redacted_thinking",
        })
        .collect();
    assert_eq!(got, want, "thinking blocks of {ctx}");
    let text: String = blocks
        .iter()
        .filter_map(|b| match b {
            ThinkingBlock::Thinking { thinking, .. } => Some(thinking.as_str()),
            ThinkingBlock::RedactedThinking { .. } => None,
        })
        .collect();
    assert_eq!(text, reasoning, "thinking block text of {ctx}");
    for b in blocks {
        if let ThinkingBlock::RedactedThinking { data } = b {
            assert!(!data.is_empty(), "redacted data of {ctx}");
        }
    }
}

#[tokio::test]
async fn fixtures_whole() {
    for (name, body, expect) in fixtures() {
        run_one(&name, &body, &expect, usize::MAX).await;
    }
}

#[tokio::test]
async fn fixtures_in_small_slices() {
    for (i, (name, body, expect)) in fixtures().into_iter().enumerate() {
        // Every slice size 1-7 across the set, and each fixture at two sizes.
        for slice in [1 + i % 7, 1 + (i + 3) % 7] {
            run_one(&name, &body, &expect, slice).await;
        }
    }
}

#[tokio::test]
async fn fixtures_with_crlf() {
    for (i, (name, body, expect)) in fixtures().into_iter().enumerate() {
        run_one(
            &name,
            &to_crlf(&body),
            &expect,
            if i % 2 == 0 { usize::MAX } else { 5 },
        )
        .await;
    }
}

/// The same fixtures through the decoders alone in exact slices, so every split point is
/// exercised deterministically (TCP may coalesce the server's slices).
#[test]
fn fixtures_through_the_decoders_in_exact_slices() {
    use paddock::provider::sse::SseDecoder;
    use paddock::provider::{Endpoint, MaxTokensField, StreamEvent};
    for (name, body, expect) in fixtures() {
        let protocol = protocol_of(&expect);
        let endpoint = Endpoint {
            protocol,
            base_url: String::new(),
            api_key: None,
            max_tokens_field: MaxTokensField::MaxTokens,
            limits: Default::default(),
            extras: Default::default(),
        };
        for slice in 1..=7 {
            let mut sse = SseDecoder::new();
            let mut dec = endpoint.decoder();
            let (mut raw, mut events) = (Vec::new(), Vec::new());
            for chunk in body.chunks(slice) {
                sse.feed(chunk, &mut raw).unwrap();
                for r in raw.drain(..) {
                    dec.on_event(&r, &mut events);
                }
            }
            let mut text = String::new();
            let mut thinking = String::new();
            let mut finish = None;
            let mut usage = None;
            let mut error = None;
            let mut blocks = Vec::new();
            for e in events {
                match e {
                    StreamEvent::Delta(t) => text.push_str(&t),
                    StreamEvent::Reasoning(t) => thinking.push_str(&t),
                    StreamEvent::Signature(_) => {}
                    StreamEvent::ThinkingBlock(b) => blocks.push(b),
                    StreamEvent::Finish(f) => finish = Some(f),
                    StreamEvent::Usage(u) => usage = Some(u),
                    StreamEvent::Error(e) => error = e.code,
                    StreamEvent::Done => {}
                    StreamEvent::Skipped(why) => {
                        panic!("{name} slice {slice}: a recorded event was skipped: {why}")
                    }
                }
            }
            assert_eq!(
                text,
                expect["text"].as_str().unwrap(),
                "{name} slice {slice}"
            );
            check_thinking_blocks(
                &format!("{name} slice {slice}"),
                &expect,
                &blocks,
                &thinking,
            );
            let reasoning = (!thinking.is_empty()).then_some(thinking.as_str());
            check_reasoning(
                &format!("{name} slice {slice}"),
                &expect,
                reasoning,
                &usage.unwrap_or_default(),
            );
            assert_eq!(
                finish.as_deref(),
                expect["finish_reason"].as_str(),
                "{name} slice {slice}"
            );
            assert_eq!(
                usage.and_then(|u| u.input_tokens),
                expect["input_tokens"].as_u64(),
                "{name}"
            );
            assert_eq!(
                usage.and_then(|u| u.output_tokens),
                expect["output_tokens"].as_u64(),
                "{name}"
            );
            assert_eq!(
                error.as_deref(),
                expect["error"].as_str(),
                "{name} slice {slice}"
            );
        }
    }
}

/// The Gemini error fixture (a plain JSON body, served with its recorded status): the kind
/// from `status`, and RetryInfo's delay honoured as Retry-After would be.
#[tokio::test]
async fn gemini_error_body_with_retry_info() {
    let dir = fixtures_dir().join("protocols");
    let name = "roo-code-gemini-429-retryinfo";
    let body = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
    let expect: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.expect.json"))).unwrap(),
    )
    .unwrap();
    let status = expect["extra"]["http_status"].as_u64().unwrap() as u16;
    let mut resp = RawResponse::json(status, &body);
    resp.headers = vec![(
        "content-type".into(),
        expect["extra"]["content_type"].as_str().unwrap().into(),
    )];
    let server = RawServer::start(vec![resp]).await;
    let mut cfg = ProviderConfig::new(
        "fixture",
        Protocol::Gemini,
        "gemini-2.5-flash",
        &support::api_base(Protocol::Gemini, &server.base()),
    );
    cfg.max_retries = 0;
    let client = Client::new(&cfg).unwrap();
    let req = ChatRequest {
        model: "gemini-2.5-flash".into(),
        messages: vec![Message::user("hi")],
        stream: true,
        ..Default::default()
    };
    let outcome = client.complete(req, |_| {}).await;
    let err = outcome.error.expect("a 429 is an error");
    assert_eq!(err.kind.as_str(), expect["error"].as_str().unwrap());
    assert_eq!(
        err.retry_after,
        Some(std::time::Duration::from_secs(
            expect["extra"]["retry_delay_s"].as_u64().unwrap()
        ))
    );
    assert_eq!(err.code.as_deref(), expect["extra"]["status"].as_str());
    assert!(err.message.contains("exceeded your current quota"));
    let seen = &server.requests()[0];
    assert!(
        seen.head
            .starts_with("POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse "),
        "{}",
        seen.head
    );
}
