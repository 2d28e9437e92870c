//! The mock's reasoning on the Chat Completions and Anthropic Messages wires: DeepSeek-style
//! `reasoning_content`, Anthropic thinking blocks (signed, redacted), usage details and prompt-cache
//! counts, streaming and not, seen by a real HTTP client and by paddock's own client.

use paddock::client::Client;
use paddock::config::ProviderConfig;
use paddock::mock::{MockServer, Scenario};
use paddock::provider::{ChatRequest, Message, Protocol, ThinkingBlock};
use serde_json::{json, Value};

async fn server(toml: &str) -> MockServer {
    let scenario = Scenario::from_toml_str(toml).unwrap();
    MockServer::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A reasoning model (it thinks on Chat Completions unasked) whose prompts hit the cache.
const THINKER: &str =
    "seed = 5\n[[model]]\nname = \"r1\"\nttft_ms = 0\ntokens_per_sec = 0\njitter = 0.0\n\
thinks = true\ncache_read_tokens = 8\n\
[[model]]\nname = \"plain\"\nttft_ms = 0\ntokens_per_sec = 0\njitter = 0.0\n";

/// A Claude with redacted thinking after its signed thinking, and cache reads and writes.
const CLAUDE: &str = "seed = 6\n[[model]]\nname = \"claude-t\"\nprotocol = \"anthropic\"\nttft_ms = 0\n\
tokens_per_sec = 0\njitter = 0.0\nredacted_thinking = true\ncache_read_tokens = 5\ncache_write_tokens = 3\n";

const PROMPT: &str = "Explain café rate limits";

fn chat_body(model: &str, stream: bool, extra: Value) -> Value {
    let mut b = json!({"model": model, "stream": stream,
        "messages": [{"role": "user", "content": PROMPT}]});
    if stream {
        b["stream_options"] = json!({"include_usage": true});
    }
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

async fn post(s: &MockServer, path: &str, body: &Value) -> reqwest::Response {
    let base = if path.starts_with("/chat") {
        s.base_url_openai()
    } else {
        format!("{}/v1", s.base_url_anthropic())
    };
    http()
        .post(format!("{base}{path}"))
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// (event name, data) of each SSE event.
fn events(text: &str) -> Vec<(Option<String>, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .filter_map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map(str::to_owned);
            let data = e.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name, serde_json::from_str(data).unwrap_or(Value::Null)))
        })
        .collect()
}

/// Reasoning and answer text of a Chat Completions stream, and its usage chunk.
fn chat_stream(evs: &[(Option<String>, Value)]) -> (String, String, Value) {
    let (mut thought, mut text, mut usage) = (String::new(), String::new(), Value::Null);
    for (_, v) in evs {
        let delta = &v["choices"][0]["delta"];
        thought.push_str(delta["reasoning_content"].as_str().unwrap_or_default());
        text.push_str(delta["content"].as_str().unwrap_or_default());
        if v["choices"].as_array().is_some_and(Vec::is_empty) {
            usage = v["usage"].clone();
        }
    }
    (thought, text, usage)
}

#[tokio::test]
async fn chat_streams_reasoning_content_before_the_answer_and_counts_it() {
    let s = server(THINKER).await;
    let resp = post(&s, "/chat/completions", &chat_body("r1", true, json!({}))).await;
    assert_eq!(resp.status(), 200);
    let evs = events(&resp.text().await.unwrap());
    // DeepSeek's shape: the role chunk opens an empty reasoning, thoughts come with a null content.
    assert_eq!(
        evs[0].1["choices"][0]["delta"],
        json!({"role": "assistant", "content": null, "reasoning_content": ""})
    );
    assert_eq!(evs[1].1["choices"][0]["delta"]["content"], Value::Null);
    let thoughts = evs
        .iter()
        .filter(|(_, v)| v["choices"][0]["delta"]["reasoning_content"].is_string())
        .count()
        - 1;
    let first_answer = evs
        .iter()
        .position(|(_, v)| v["choices"][0]["delta"]["content"].is_string())
        .unwrap();
    assert_eq!(
        first_answer,
        thoughts + 1,
        "every thought comes before the answer"
    );
    let (thought, text, usage) = chat_stream(&evs);
    assert!(thought.starts_with("**Planning the answer**"), "{thought}");
    // Medium effort asks at most 40 of the default 96-token thought.
    assert!((16..=40).contains(&thoughts), "{thoughts} thoughts");
    assert_eq!(
        usage["completion_tokens_details"]["reasoning_tokens"],
        thoughts
    );
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 8);
    let output = usage["completion_tokens"].as_u64().unwrap();
    assert!(
        output > 40,
        "reasoning is inside completion_tokens: {usage}"
    );

    // Not streamed: the same thought and answer, on the message.
    let resp = post(&s, "/chat/completions", &chat_body("r1", false, json!({}))).await;
    let v: Value = resp.json().await.unwrap();
    let message = &v["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], thought.as_str());
    assert_eq!(message["content"], text.as_str());
    assert_eq!(v["usage"], usage);

    // Asked not to think, even a reasoning model answers straight away.
    let none = chat_body("r1", true, json!({"reasoning_effort": "none"}));
    let evs = events(
        &post(&s, "/chat/completions", &none)
            .await
            .text()
            .await
            .unwrap(),
    );
    let (thought, again, usage) = chat_stream(&evs);
    assert_eq!((thought.as_str(), again.as_str()), ("", text.as_str()));
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
}

#[tokio::test]
async fn chat_models_think_only_when_asked_and_the_effort_sets_how_long() {
    let s = server(THINKER).await;
    let plain = post(
        &s,
        "/chat/completions",
        &chat_body("plain", true, json!({})),
    )
    .await;
    let body = plain.text().await.unwrap();
    assert!(!body.contains("reasoning_content"), "{body}");
    let high = chat_body("plain", true, json!({"reasoning_effort": "high"}));
    let evs = events(
        &post(&s, "/chat/completions", &high)
            .await
            .text()
            .await
            .unwrap(),
    );
    let (thought, text, usage) = chat_stream(&evs);
    assert!(!thought.is_empty() && !text.is_empty());
    let high = usage["completion_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap();
    assert!(
        (41..=64).contains(&high),
        "high effort thinks longer: {usage}"
    );
    // The cap counts reasoning: a small one ends inside the thought, with no answer.
    let capped = chat_body(
        "plain",
        false,
        json!({"reasoning_effort": "high", "max_tokens": 10}),
    );
    let v: Value = post(&s, "/chat/completions", &capped)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["choices"][0]["message"]["content"], "");
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        10
    );
}

fn claude_body(stream: bool, thinking: Option<Value>) -> Value {
    let mut b = json!({"model": "claude-t", "max_tokens": 4096, "stream": stream,
        "messages": [{"role": "user", "content": PROMPT}]});
    if let Some(t) = thinking {
        b["thinking"] = t;
    }
    b
}

fn enabled() -> Option<Value> {
    Some(json!({"type": "enabled", "budget_tokens": 2048}))
}

#[tokio::test]
async fn anthropic_streams_signed_then_redacted_thinking_before_the_text() {
    let s = server(CLAUDE).await;
    let resp = post(&s, "/messages", &claude_body(true, enabled())).await;
    assert_eq!(resp.status(), 200);
    let evs = events(&resp.text().await.unwrap());
    for (name, v) in &evs {
        assert_eq!(
            name.as_deref(),
            v["type"].as_str(),
            "the event name is the type"
        );
    }
    let usage = &evs[0].1["message"]["usage"];
    let kinds: Vec<String> = evs
        .iter()
        .filter(|(n, _)| n.as_deref() != Some("ping"))
        .map(|(_, v)| {
            let t = v["type"].as_str().unwrap();
            match t {
                "content_block_start" => format!(
                    "start {} {}",
                    v["index"],
                    v["content_block"]["type"].as_str().unwrap()
                ),
                "content_block_delta" => {
                    format!("{} {}", v["index"], v["delta"]["type"].as_str().unwrap())
                }
                "content_block_stop" => format!("stop {}", v["index"]),
                _ => t.to_owned(),
            }
        })
        .collect();
    let mut want = vec!["message_start".to_owned(), "start 0 thinking".to_owned()];
    let thoughts = kinds.iter().filter(|k| *k == "0 thinking_delta").count();
    want.extend(std::iter::repeat_n("0 thinking_delta".to_owned(), thoughts));
    want.extend(
        [
            "0 signature_delta",
            "stop 0",
            "start 1 redacted_thinking",
            "stop 1",
            "start 2 text",
        ]
        .map(String::from),
    );
    let texts = kinds.iter().filter(|k| *k == "2 text_delta").count();
    want.extend(std::iter::repeat_n("2 text_delta".to_owned(), texts));
    want.extend(["stop 2", "message_delta", "message_stop"].map(String::from));
    assert_eq!(kinds, want);
    // Anthropic's budget is far above the mock's 96-token thought: a long thought streams.
    assert!((48..=96).contains(&thoughts), "{thoughts}");
    assert!(texts > 0);
    let start = evs
        .iter()
        .find(|(_, v)| v["type"] == "content_block_start")
        .unwrap();
    assert_eq!(
        start.1["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    let delta = |kind: &str, field: &str| -> String {
        evs.iter()
            .filter(|(_, v)| v["delta"]["type"] == kind)
            .map(|(_, v)| v["delta"][field].as_str().unwrap().to_owned())
            .collect()
    };
    let (thought, signature, text) = (
        delta("thinking_delta", "thinking"),
        delta("signature_delta", "signature"),
        delta("text_delta", "text"),
    );
    assert!(signature.len() > 100, "{signature}");
    let redacted = evs
        .iter()
        .find(|(_, v)| v["content_block"]["type"] == "redacted_thinking")
        .map(|(_, v)| v["content_block"]["data"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(redacted.len() > 100 && redacted != signature);
    // Cache reads and writes are apart from input_tokens, as on the real API.
    let last = &evs
        .iter()
        .rfind(|(_, v)| v["type"] == "message_delta")
        .unwrap()
        .1;
    assert_eq!(
        (
            &usage["cache_read_input_tokens"],
            &usage["cache_creation_input_tokens"]
        ),
        (&json!(5), &json!(3))
    );
    assert_eq!(last["usage"]["cache_read_input_tokens"], 5);
    let out = last["usage"]["output_tokens"].as_u64().unwrap();
    assert_eq!(
        out,
        (thoughts + texts) as u64,
        "thinking tokens are output tokens"
    );

    // Not streamed: the same blocks, in the same order, with the same signature and data.
    let v: Value = post(&s, "/messages", &claude_body(false, enabled()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["content"],
        json!([
            {"type": "thinking", "thinking": thought, "signature": signature},
            {"type": "redacted_thinking", "data": redacted},
            {"type": "text", "text": text},
        ])
    );
    assert_eq!(v["usage"], last["usage"]);
    assert_eq!(v["usage"]["input_tokens"], usage["input_tokens"]);
}

#[tokio::test]
async fn anthropic_thinks_only_when_asked_and_checks_the_budget_as_the_api_does() {
    let s = server(CLAUDE).await;
    let plain = post(&s, "/messages", &claude_body(true, None)).await;
    let body = plain.text().await.unwrap();
    assert!(!body.contains("thinking"), "{body}");
    let off = claude_body(false, Some(json!({"type": "disabled"})));
    let v: Value = post(&s, "/messages", &off).await.json().await.unwrap();
    assert_eq!(v["content"][0]["type"], "text");
    for (thinking, words) in [
        (
            json!({"type": "enabled", "budget_tokens": 512}),
            "greater than or equal to 1024",
        ),
        (
            json!({"type": "enabled", "budget_tokens": 4096}),
            "must be greater than `thinking.budget_tokens`",
        ),
        (json!({"type": "sometimes"}), "thinking.type"),
    ] {
        let resp = post(&s, "/messages", &claude_body(true, Some(thinking))).await;
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().contains(words),
            "{v}"
        );
    }
}

#[tokio::test]
async fn anthropic_unsigned_thinking_and_an_unsigned_model_stream_no_signature() {
    let s = server(&CLAUDE.replace("redacted_thinking = true", "thinking_signature = false")).await;
    let body = post(&s, "/messages", &claude_body(true, enabled()))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("thinking_delta") && !body.contains("signature_delta"));
    assert!(!body.contains("redacted_thinking"));
}

/// paddock's own client reads what the mock sends: the thinking as reasoning, the blocks to
/// send back in order, and the cache counts; the same whether streamed or not.
#[tokio::test]
async fn paddocks_client_keeps_the_blocks_and_cache_counts_the_mock_sends() {
    let s = server(CLAUDE).await;
    let mut cfg = ProviderConfig::new(
        "c",
        Protocol::Anthropic,
        "claude-t",
        &s.base_url_anthropic(),
    );
    cfg.max_retries = 0;
    cfg.extras.thinking_budget = Some(2048);
    let client = Client::new(&cfg).unwrap();
    let mut outcomes = vec![];
    for stream in [true, false] {
        let req = ChatRequest {
            model: "claude-t".into(),
            messages: vec![Message::user(PROMPT)],
            stream,
            ..ChatRequest::default()
        };
        outcomes.push(client.complete(req, |_| {}).await);
    }
    let [streamed, whole] = <[_; 2]>::try_from(outcomes).unwrap();
    assert!(streamed.error.is_none(), "{:?}", streamed.error);
    let thought = streamed.reasoning.clone().unwrap();
    let [ThinkingBlock::Thinking {
        thinking,
        signature,
    }, ThinkingBlock::RedactedThinking { data }] = &streamed.thinking_blocks[..]
    else {
        panic!("{:?}", streamed.thinking_blocks)
    };
    assert_eq!(thinking, &thought);
    assert_eq!(
        streamed.reasoning_signature.as_deref(),
        Some(signature.as_str())
    );
    assert!(!data.is_empty());
    assert_eq!(streamed.usage.cache_read_input_tokens, Some(5));
    assert_eq!(streamed.usage.cache_creation_input_tokens, Some(3));
    assert_eq!(whole.thinking_blocks, streamed.thinking_blocks);
    assert_eq!(whole.reasoning, streamed.reasoning);
    assert_eq!(whole.content, streamed.content);
}
