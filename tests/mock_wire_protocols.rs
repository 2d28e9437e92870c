//! The mock's OpenAI Responses and Gemini families on the wire, seen by a real HTTP client: framing,
//! bodies, reasoning, caps, keys, limits and the shared faults.

use paddock::mock::{MockServer, Scenario};
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

const FAST: &str = "[[model]]\nname = \"m\"\nttft_ms = 0\ntokens_per_sec = 0\njitter = 0.0\n";

fn with_fault(kind_lines: &str) -> String {
    format!("{FAST}[[model.fault]]\n{kind_lines}\non_request = [1]\n")
}

fn responses_body(stream: bool) -> Value {
    json!({"model": "m", "instructions": "Be brief.", "stream": stream, "store": false,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Explain café rate limits"}]}]})
}

fn gemini_body() -> Value {
    json!({"systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Explain café rate limits"}]}],
        "generationConfig": {"temperature": 0.7}})
}

async fn post_responses(s: &MockServer, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut rb = http()
        .post(format!("{}/responses", s.base_url_responses()))
        .json(body);
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    rb.send().await.unwrap()
}

async fn post_gemini(
    s: &MockServer,
    model: &str,
    stream: bool,
    body: &Value,
    key: Option<&str>,
) -> reqwest::Response {
    let url = if stream {
        format!(
            "{}/v1beta/models/{model}:streamGenerateContent?alt=sse",
            s.base_url_gemini()
        )
    } else {
        format!(
            "{}/v1beta/models/{model}:generateContent",
            s.base_url_gemini()
        )
    };
    let mut rb = http().post(url).json(body);
    if let Some(k) = key {
        rb = rb.header("x-goog-api-key", k);
    }
    rb.send().await.unwrap()
}

/// Split an SSE body into (event name, data as JSON) pairs.
fn events(text: &str) -> Vec<(Option<String>, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or(Value::Null);
                }
            }
            (name, data)
        })
        .collect()
}

/// Read a streamed body to its end or first error: (bytes, whether it ended in an error).
async fn read_all(mut resp: reqwest::Response) -> (String, bool) {
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            Ok(None) => return (String::from_utf8(buf).unwrap(), false),
            Err(_) => return (String::from_utf8(buf).unwrap(), true),
        }
    }
}

/// The concatenated deltas of the events of type `kind`, and how many there were.
fn deltas(evs: &[(Option<String>, Value)], kind: &str) -> (String, usize) {
    let ds: Vec<&str> = evs
        .iter()
        .filter(|(_, d)| d["type"] == kind)
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    (ds.concat(), ds.len())
}

/// Gemini's streamed text, split into (thoughts, answer).
fn gemini_text(evs: &[(Option<String>, Value)]) -> (String, String) {
    let (mut thought, mut text) = (String::new(), String::new());
    for (_, d) in evs {
        for p in d["candidates"][0]["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let t = p["text"].as_str().unwrap_or("");
            if p["thought"] == true {
                thought.push_str(t)
            } else {
                text.push_str(t)
            }
        }
    }
    (thought, text)
}

#[tokio::test]
async fn responses_stream_has_typed_events_and_matches_the_non_streaming_answer() {
    let s = server(&format!("seed = 3\n{FAST}requests_per_window = 10\n")).await;
    let resp = post_responses(&s, &responses_body(true), None).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert_eq!(h["x-ratelimit-remaining-requests"], "9");
    let (body, errored) = read_all(resp).await;
    assert!(
        !errored && !body.contains("[DONE]"),
        "the Responses API sends no [DONE]"
    );
    let evs = events(&body);
    for (i, (name, data)) in evs.iter().enumerate() {
        assert_eq!(
            name.as_deref(),
            data["type"].as_str(),
            "event: names the type"
        );
        assert_eq!(data["sequence_number"], i);
    }
    assert_eq!(evs[0].1["type"], "response.created");
    assert_eq!(evs[0].1["response"]["model"], "m");
    assert_eq!(evs[0].1["response"]["status"], "in_progress");
    let (text, n) = deltas(&evs, "response.output_text.delta");
    assert!(n >= 80, "{n} deltas");
    let done = &evs.last().unwrap().1;
    assert_eq!(done["type"], "response.completed");
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], text);
    let usage = &done["response"]["usage"];
    assert_eq!(usage["output_tokens"], n);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 0);

    let r = post_responses(&s, &responses_body(false), None).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (&v["object"], &v["status"]),
        (&json!("response"), &json!("completed"))
    );
    let message = &v["output"][0];
    assert_eq!(
        (&message["type"], &message["role"]),
        (&json!("message"), &json!("assistant"))
    );
    assert_eq!(message["content"][0]["type"], "output_text");
    assert_eq!(
        message["content"][0]["text"], text,
        "same seed and prompt, same answer"
    );
    assert_eq!(v["usage"], *usage);
}

#[tokio::test]
async fn responses_reasoning_summary_streams_first_and_counts_reasoning_tokens() {
    let s = server(FAST).await;
    let plain = post_responses(&s, &responses_body(false), None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let mut b = responses_body(true);
    b["reasoning"] = json!({"effort": "low", "summary": "auto"});
    let (body, _) = read_all(post_responses(&s, &b, None).await).await;
    let evs = events(&body);
    let (summary, thoughts) = deltas(&evs, "response.reasoning_summary_text.delta");
    let first_reasoning = evs
        .iter()
        .position(|(_, d)| d["type"] == "response.reasoning_summary_text.delta");
    let first_text = evs
        .iter()
        .position(|(_, d)| d["type"] == "response.output_text.delta");
    assert!(first_reasoning < first_text && thoughts > 0);
    assert!(summary.starts_with("**"), "{summary}");
    let done = &evs.last().unwrap().1["response"];
    assert_eq!(
        done["usage"]["output_tokens_details"]["reasoning_tokens"],
        thoughts
    );
    assert_eq!(done["output"][0]["type"], "reasoning");
    assert_eq!(
        done["output"][1]["content"][0]["text"],
        plain["output"][0]["content"][0]["text"]
    );

    b["stream"] = json!(false);
    let v: Value = post_responses(&s, &b, None).await.json().await.unwrap();
    assert_eq!(
        v["output"][0]["summary"][0],
        json!({"type": "summary_text", "text": summary})
    );
    assert_eq!(v["output"][1]["type"], "message");
}

#[tokio::test]
async fn responses_max_output_tokens_ends_incomplete() {
    let s = server(FAST).await;
    let mut b = responses_body(true);
    b["max_output_tokens"] = json!(16);
    let (body, _) = read_all(post_responses(&s, &b, None).await).await;
    let evs = events(&body);
    assert_eq!(deltas(&evs, "response.output_text.delta").1, 16);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(last["response"]["usage"]["output_tokens"], 16);
    b["stream"] = json!(false);
    let v: Value = post_responses(&s, &b, None).await.json().await.unwrap();
    assert_eq!(v["status"], "incomplete");
    b["max_output_tokens"] = json!(4);
    let r = post_responses(&s, &b, None).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn responses_keys_and_limits_are_openais() {
    let s = server(&format!(
        "api_key = \"sk-right-key-123\"\n{FAST}requests_per_window = 2\n"
    ))
    .await;
    let r = post_responses(&s, &responses_body(false), None).await;
    assert_eq!(r.status(), 401);
    let r = post_responses(&s, &responses_body(false), Some("sk-wrong-key-456")).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert!(v["error"].get("param").is_some());
    for _ in 0..2 {
        let r = post_responses(&s, &responses_body(false), Some("sk-right-key-123")).await;
        assert_eq!(r.status(), 200);
    }
    let r = post_responses(&s, &responses_body(false), Some("sk-right-key-123")).await;
    assert_eq!(r.status(), 429);
    let h = r.headers();
    assert!(h.contains_key("retry-after") && h.contains_key("retry-after-ms"));
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn responses_faults_are_the_shared_ones() {
    let s = server(&with_fault("kind = \"stream_error\"\nafter_tokens = 3")).await;
    let (body, _) = read_all(post_responses(&s, &responses_body(true), None).await).await;
    let evs = events(&body);
    assert_eq!(deltas(&evs, "response.output_text.delta").1, 3);
    let n = evs.len();
    assert_eq!(
        (evs[n - 2].0.as_deref(), &evs[n - 2].1["code"]),
        (Some("error"), &json!("server_error"))
    );
    assert_eq!(evs[n - 1].1["type"], "response.failed");
    assert_eq!(evs[n - 1].1["response"]["status"], "failed");

    let s = server(&with_fault("kind = \"drop\"\nafter_tokens = 5")).await;
    let (body, errored) = read_all(post_responses(&s, &responses_body(true), None).await).await;
    assert!(errored && !body.contains("response.completed"));
    assert_eq!(deltas(&events(&body), "response.output_text.delta").1, 5);

    let s = server(&with_fault("kind = \"server_error\"\nstatus = 503")).await;
    assert_eq!(
        post_responses(&s, &responses_body(true), None)
            .await
            .status(),
        503
    );
    assert_eq!(
        post_responses(&s, &responses_body(true), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn gemini_stream_is_plain_data_chunks_ending_in_stop() {
    let s = server(&format!("seed = 3\n{FAST}requests_per_window = 10\n")).await;
    let resp = post_gemini(&s, "m", true, &gemini_body(), None).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(
        !h.keys()
            .any(|k| k.as_str().starts_with("x-ratelimit") || k.as_str().contains("request-id")),
        "Gemini sends no rate-limit headers and no request id: {h:?}"
    );
    let (body, errored) = read_all(resp).await;
    assert!(!errored && !body.contains("[DONE]") && !body.contains("event:"));
    let evs = events(&body);
    let (thought, text) = gemini_text(&evs);
    assert!(thought.is_empty() && evs.len() > 80);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["modelVersion"], "m");
    let u = &last["usageMetadata"];
    assert_eq!(u["candidatesTokenCount"], evs.len() - 1);
    assert_eq!(
        u["totalTokenCount"],
        u["promptTokenCount"].as_u64().unwrap() + evs.len() as u64 - 1
    );
    assert!(u.get("thoughtsTokenCount").is_none());

    let r = post_gemini(&s, "m", false, &gemini_body(), None).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], text);
    assert_eq!(v["candidates"][0]["content"]["role"], "model");
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(v["usageMetadata"], *u);
}

#[tokio::test]
async fn gemini_thoughts_come_first_and_the_cap_gives_max_tokens() {
    let s = server(FAST).await;
    let mut b = gemini_body();
    b["generationConfig"]["thinkingConfig"] =
        json!({"thinkingBudget": 20, "includeThoughts": true});
    let (body, _) = read_all(post_gemini(&s, "m", true, &b, None).await).await;
    let evs = events(&body);
    let thought_chunks = evs
        .iter()
        .take_while(|(_, d)| d["candidates"][0]["content"]["parts"][0]["thought"] == true)
        .count();
    let (thought, text) = gemini_text(&evs);
    assert!(thought_chunks > 0 && thought.starts_with("**") && !text.is_empty());
    let u = &evs.last().unwrap().1["usageMetadata"];
    assert_eq!(u["thoughtsTokenCount"], thought_chunks);
    let plain: Value = post_gemini(&s, "m", false, &gemini_body(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["candidates"][0]["content"]["parts"][0]["text"], text);

    b["generationConfig"]["maxOutputTokens"] = json!(30);
    let (body, _) = read_all(post_gemini(&s, "m", true, &b, None).await).await;
    let evs = events(&body);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["candidates"][0]["finishReason"], "MAX_TOKENS");
    let u = &last["usageMetadata"];
    let out =
        u["candidatesTokenCount"].as_u64().unwrap() + u["thoughtsTokenCount"].as_u64().unwrap();
    assert_eq!(out, 30, "the cap counts thoughts too");
    let v: Value = post_gemini(&s, "m", false, &b, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(v["candidates"][0]["content"]["parts"][0]["thought"], true);
}

#[tokio::test]
async fn gemini_checks_its_key_header_and_what_the_model_serves() {
    let s = server(&format!(
        "api_key = \"AIza-right\"\n{FAST}[[model]]\nname = \"o\"\nprotocol = \"openai\"\n"
    ))
    .await;
    let r = post_gemini(&s, "m", false, &gemini_body(), None).await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (&v["error"]["code"], &v["error"]["status"]),
        (&json!(403), &json!("PERMISSION_DENIED"))
    );
    let r = post_gemini(&s, "m", false, &gemini_body(), Some("AIza-wrong")).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");
    assert_eq!(
        post_gemini(&s, "m", false, &gemini_body(), Some("AIza-right"))
            .await
            .status(),
        200
    );
    let r = post_gemini(&s, "o", true, &gemini_body(), Some("AIza-right")).await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    let list: Value = http()
        .get(format!("{}/v1beta/models", s.base_url_gemini()))
        .header("x-goog-api-key", "AIza-right")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["models"].as_array().unwrap().len(), 1);
    assert_eq!(list["models"][0]["name"], "models/m");
}

#[tokio::test]
async fn gemini_429s_carry_retry_info_and_no_headers() {
    let s = server(&with_fault("kind = \"rate_limit\"\nretry_after_secs = 26")).await;
    let r = post_gemini(&s, "m", true, &gemini_body(), None).await;
    assert_eq!(r.status(), 429);
    assert!(!r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    let retry = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
        .unwrap()
        .clone();
    assert_eq!(retry["retryDelay"], "26s");
    assert_eq!(
        post_gemini(&s, "m", true, &gemini_body(), None)
            .await
            .status(),
        200
    );

    let s = server(&format!(
        "window_secs = 1.5\n{FAST}requests_per_window = 1\n"
    ))
    .await;
    assert_eq!(
        post_gemini(&s, "m", false, &gemini_body(), None)
            .await
            .status(),
        200
    );
    let r = post_gemini(&s, "m", false, &gemini_body(), None).await;
    assert_eq!(r.status(), 429);
    assert!(!r
        .headers()
        .keys()
        .any(|k| k.as_str().starts_with("x-ratelimit") || k == "retry-after"));
    let v: Value = r.json().await.unwrap();
    let delay = v["error"]["details"][2]["retryDelay"].as_str().unwrap();
    let secs: f64 = delay.strip_suffix('s').unwrap().parse().unwrap();
    assert!(secs > 1.0 && secs <= 1.5, "{delay}");
}

#[tokio::test]
async fn gemini_faults_are_the_shared_ones() {
    let s = server(&with_fault("kind = \"server_error\"\nstatus = 503")).await;
    let r = post_gemini(&s, "m", true, &gemini_body(), None).await;
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["status"], "UNAVAILABLE");

    let s = server(&with_fault("kind = \"stream_error\"\nafter_tokens = 3")).await;
    let (body, _) = read_all(post_gemini(&s, "m", true, &gemini_body(), None).await).await;
    let evs = events(&body);
    assert_eq!(evs.len(), 4);
    assert_eq!(evs[3].1["error"]["status"], "INTERNAL");

    let s = server(&with_fault("kind = \"drop\"\nafter_tokens = 5")).await;
    let (body, errored) = read_all(post_gemini(&s, "m", true, &gemini_body(), None).await).await;
    assert!(errored && !body.contains("finishReason"));
    assert_eq!(events(&body).len(), 5);
}

#[tokio::test]
async fn openai_models_answer_on_both_openai_apis_and_responses_only_models_on_one() {
    let s = server(
        "[[model]]\nname = \"o\"\nprotocol = \"openai\"\nttft_ms = 0\ntokens_per_sec = 0\n\
         [[model]]\nname = \"r\"\nprotocol = \"openai-responses\"\nttft_ms = 0\ntokens_per_sec = 0\n",
    )
    .await;
    let mut b = responses_body(false);
    for (model, responses, chat) in [("o", 200, 200), ("r", 200, 404)] {
        b["model"] = json!(model);
        assert_eq!(
            post_responses(&s, &b, None).await.status(),
            responses,
            "{model}"
        );
        let chat_body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        let r = http()
            .post(format!("{}/chat/completions", s.base_url_openai()))
            .json(&chat_body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), chat, "{model}");
    }
    let list: Value = http()
        .get(format!("{}/models", s.base_url_openai()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
}
