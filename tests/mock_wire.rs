//! The mock server on the wire: framing, bodies, auth, limits and every scripted fault, seen by a real HTTP client.

use std::time::{Duration, Instant};

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

fn openai_body(stream: bool, max_tokens: Option<u64>) -> Value {
    let mut b = json!({"model": "m", "messages": [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Explain café rate limits"}], "stream": stream});
    if stream {
        b["stream_options"] = json!({"include_usage": true});
    }
    if let Some(n) = max_tokens {
        b["max_tokens"] = json!(n);
    }
    b
}

fn anthropic_body(stream: bool, max_tokens: u64) -> Value {
    json!({"model": "m", "max_tokens": max_tokens, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Explain café rate limits"}], "stream": stream})
}

async fn post_openai(s: &MockServer, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut rb = http()
        .post(format!("{}/chat/completions", s.base_url_openai()))
        .json(body);
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    rb.send().await.unwrap()
}

async fn post_anthropic(s: &MockServer, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut rb = http()
        .post(format!("{}/v1/messages", s.base_url_anthropic()))
        .header("anthropic-version", "2023-06-01")
        .json(body);
    if let Some(k) = key {
        rb = rb.header("x-api-key", k);
    }
    rb.send().await.unwrap()
}

/// Split an SSE body into (event name, data) pairs.
fn events(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = d.to_owned();
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

fn openai_text(evs: &[(Option<String>, String)]) -> (String, usize) {
    let mut text = String::new();
    let mut n = 0;
    for (_, d) in evs {
        if let Ok(v) = serde_json::from_str::<Value>(d) {
            if let Some(c) = v
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
            {
                if !c.is_empty() {
                    n += 1;
                    text.push_str(c);
                }
            }
        }
    }
    (text, n)
}

#[tokio::test]
async fn openai_stream_has_real_framing_and_matches_the_non_streaming_answer() {
    let s = server(&format!(
        "seed = 3\n{FAST}requests_per_window = 10\ntokens_per_window = 100000\n"
    ))
    .await;
    let resp = post_openai(&s, &openai_body(true, None), None).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert_eq!(h["x-ratelimit-limit-requests"], "10");
    assert_eq!(h["x-ratelimit-remaining-requests"], "9");
    assert_eq!(h["x-ratelimit-reset-requests"], "1m0s");
    assert_eq!(h["x-ratelimit-limit-tokens"], "100000");
    let (body, errored) = read_all(resp).await;
    assert!(!errored);
    let evs = events(&body);
    assert!(
        evs.iter().all(|(name, _)| name.is_none()),
        "OpenAI sends no event: lines"
    );
    assert_eq!(evs.last().unwrap().1, "[DONE]");
    let first: Value = serde_json::from_str(&evs[0].1).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let usage: Value = serde_json::from_str(&evs[evs.len() - 2].1).unwrap();
    assert_eq!(usage["choices"], json!([]));
    let finish: Value = serde_json::from_str(&evs[evs.len() - 3].1).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let (text, n) = openai_text(&evs);
    assert_eq!(
        evs.len(),
        n + 4,
        "role chunk + one chunk per token + finish + usage + [DONE]"
    );
    assert!((80..=250).contains(&n));
    assert_eq!(usage["usage"]["completion_tokens"], n as u64);
    // ceil(9/4)+3 + ceil(24/4)+3
    assert_eq!(usage["usage"]["prompt_tokens"], 15);
    assert_eq!(usage["usage"]["total_tokens"], 15 + n as u64);
    assert_eq!(
        h["x-ratelimit-remaining-tokens"].to_str().unwrap(),
        (100_000 - 15 - n).to_string()
    );

    let resp = post_openai(&s, &openai_body(false, None), None).await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], text.as_str());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], n as u64);
    assert_eq!(s.request_count("m"), 2);
}

#[tokio::test]
async fn openai_without_include_usage_sends_no_usage_chunk() {
    let s = server(FAST).await;
    let mut b = openai_body(true, None);
    b.as_object_mut().unwrap().remove("stream_options");
    let (body, _) = read_all(post_openai(&s, &b, None).await).await;
    assert!(!body.contains("\"usage\""));
    assert!(body.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn anthropic_stream_has_named_events_in_order_and_cumulative_usage() {
    let s = server(&format!(
        "{FAST}requests_per_window = 5\ntokens_per_window = 9000\n"
    ))
    .await;
    let resp = post_anthropic(&s, &anthropic_body(true, 1024), None).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["request-id"].to_str().unwrap().starts_with("req_"));
    assert_eq!(h["anthropic-ratelimit-requests-limit"], "5");
    assert_eq!(h["anthropic-ratelimit-requests-remaining"], "4");
    let reset = h["anthropic-ratelimit-requests-reset"].to_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(reset, &time::format_description::well_known::Rfc3339).is_ok(),
        "{reset}"
    );
    let (body, _) = read_all(resp).await;
    let evs = events(&body);
    for (name, data) in &evs {
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            v["type"].as_str(),
            name.as_deref(),
            "event name equals data type"
        );
    }
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
    assert_eq!(
        &names[..3],
        &["message_start", "content_block_start", "ping"]
    );
    assert_eq!(
        &names[names.len() - 3..],
        &["content_block_stop", "message_delta", "message_stop"]
    );
    let deltas: Vec<Value> = evs
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("content_block_delta"))
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = deltas
        .iter()
        .map(|d| d["delta"]["text"].as_str().unwrap())
        .collect();
    let start: Value = serde_json::from_str(&evs[0].1).unwrap();
    assert_eq!(start["message"]["usage"]["input_tokens"], 15);
    let md: Value = serde_json::from_str(&evs[evs.len() - 2].1).unwrap();
    assert_eq!(md["delta"]["stop_reason"], "end_turn");
    assert_eq!(md["usage"]["output_tokens"], deltas.len() as u64);
    assert_eq!(md["usage"]["input_tokens"], 15);

    let v: Value = post_anthropic(&s, &anthropic_body(false, 1024), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], text.as_str());
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["output_tokens"], deltas.len() as u64);
}

#[tokio::test]
async fn max_tokens_stops_with_length_and_max_tokens() {
    let s = server(FAST).await;
    let (body, _) = read_all(post_openai(&s, &openai_body(true, Some(5)), None).await).await;
    let evs = events(&body);
    assert_eq!(openai_text(&evs).1, 5);
    assert!(body.contains("\"finish_reason\":\"length\""));
    assert!(body.contains("\"completion_tokens\":5,"));
    let v: Value = post_anthropic(&s, &anthropic_body(false, 7), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["stop_reason"], "max_tokens");
    assert_eq!(v["usage"]["output_tokens"], 7);
    // Anthropic requires max_tokens.
    let mut b = anthropic_body(false, 1);
    b.as_object_mut().unwrap().remove("max_tokens");
    let r = post_anthropic(&s, &b, None).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "max_tokens: Field required");
}

#[tokio::test]
async fn auth_is_checked_in_each_familys_shape() {
    let s = server(&format!("api_key = \"sk-right-key-123\"\n{FAST}")).await;
    let r = post_openai(&s, &openai_body(false, None), None).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("You didn't provide an API key"));
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let r = post_openai(&s, &openai_body(false, None), Some("sk-wrong-key-456")).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert!(
        !v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sk-wrong-key-456"),
        "key is masked"
    );
    assert_eq!(
        post_openai(&s, &openai_body(false, None), Some("sk-right-key-123"))
            .await
            .status(),
        200
    );

    let r = post_anthropic(&s, &anthropic_body(false, 10), Some("nope")).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    assert!(v["request_id"].as_str().unwrap().starts_with("req_"));
    assert_eq!(
        post_anthropic(&s, &anthropic_body(false, 10), Some("sk-right-key-123"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn requests_beyond_the_budget_get_429_with_retry_after() {
    let s = server(&format!(
        "window_secs = 30\n{FAST}requests_per_window = 2\n"
    ))
    .await;
    for want in ["1", "0"] {
        let r = post_openai(&s, &openai_body(false, None), None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-remaining-requests"], want);
    }
    let r = post_openai(&s, &openai_body(false, None), None).await;
    assert_eq!(r.status(), 429);
    let h = r.headers().clone();
    let secs: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    let ms: u64 = h["retry-after-ms"].to_str().unwrap().parse().unwrap();
    assert!(
        (29..=30).contains(&secs) && (28_000..=30_000).contains(&ms),
        "{secs} {ms}"
    );
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["type"], "requests");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Limit 2, Used 2, Requested 1"));

    let r = post_anthropic(&s, &anthropic_body(false, 10), None).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["anthropic-ratelimit-requests-remaining"], "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn token_budget_is_enforced_too() {
    let s = server(&format!(
        "{FAST}tokens_per_window = 300\nmax_answer_tokens = 200\nmin_answer_tokens = 100\n"
    ))
    .await;
    let r = post_openai(&s, &openai_body(false, None), None).await;
    assert_eq!(r.status(), 200);
    let r = post_openai(&s, &openai_body(false, None), None).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "tokens");
}

fn faults_toml(kind_lines: &str) -> String {
    format!("{FAST}[[model.fault]]\n{kind_lines}\non_request = [1]\n")
}

async fn openai_error(kind_lines: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let s = server(&faults_toml(kind_lines)).await;
    let r = post_openai(&s, &openai_body(true, None), None).await;
    let (status, h) = (r.status().as_u16(), r.headers().clone());
    (status, h, r.text().await.unwrap())
}

async fn anthropic_error(kind_lines: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let s = server(&faults_toml(kind_lines)).await;
    let r = post_anthropic(&s, &anthropic_body(true, 100), None).await;
    let (status, h) = (r.status().as_u16(), r.headers().clone());
    (status, h, r.json().await.unwrap())
}

#[tokio::test]
async fn scripted_429s_carry_each_retry_after_form() {
    let (st, h, body) =
        openai_error("kind = \"rate_limit\"\nretry_after = \"seconds\"\nretry_after_secs = 2.0")
            .await;
    assert_eq!((st, h["retry-after"].to_str().unwrap()), (429, "2"));
    assert!(!h.contains_key("retry-after-ms"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Please try again in 2s."));
    let (st, h, _) =
        openai_error("kind = \"rate_limit\"\nretry_after = \"ms\"\nretry_after_secs = 1.5").await;
    assert_eq!((st, h["retry-after-ms"].to_str().unwrap()), (429, "1500"));
    assert!(!h.contains_key("retry-after"));
    let (st, h, v) =
        anthropic_error("kind = \"rate_limit\"\nretry_after = \"date\"\nretry_after_secs = 3.0")
            .await;
    assert_eq!(st, 429);
    let when = httpdate::parse_http_date(h["retry-after"].to_str().unwrap()).unwrap();
    let wait = when.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(
        wait > Duration::from_secs(1) && wait <= Duration::from_secs(5),
        "{wait:?}"
    );
    assert_eq!(v["error"]["type"], "rate_limit_error");
    // Only the scripted request fails.
    let s = server(&format!(
        "{FAST}[[model.fault]]\nkind = \"rate_limit\"\non_request = [2]\n"
    ))
    .await;
    let codes: Vec<u16> = futures_codes(&s, 3).await;
    assert_eq!(codes, vec![200, 429, 200]);
    assert_eq!(s.request_count("m"), 3);
}

async fn futures_codes(s: &MockServer, n: usize) -> Vec<u16> {
    let mut out = vec![];
    for _ in 0..n {
        out.push(
            post_openai(s, &openai_body(false, None), None)
                .await
                .status()
                .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn scripted_status_faults_use_real_bodies() {
    let (st, _, body) = openai_error("kind = \"server_error\"\nstatus = 500").await;
    assert_eq!(st, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["type"],
        "server_error"
    );
    let (st, h, body) = openai_error("kind = \"server_error\"\nstatus = 502").await;
    assert_eq!(
        (st, h["content-type"].to_str().unwrap()),
        (502, "text/html")
    );
    assert!(body.contains("502 Bad Gateway"));
    let (st, _, _) = openai_error("kind = \"server_error\"\nstatus = 503").await;
    assert_eq!(st, 503);
    let (st, _, v) = anthropic_error("kind = \"overloaded\"").await;
    assert_eq!(
        (st, v["error"]["type"].as_str().unwrap()),
        (529, "overloaded_error")
    );
    let (st, _, v) = anthropic_error("kind = \"server_error\"").await;
    assert_eq!(
        (st, v["error"]["type"].as_str().unwrap()),
        (500, "api_error")
    );
    let (st, _, body) = openai_error("kind = \"unauthorized\"").await;
    assert_eq!(st, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "invalid_api_key"
    );
    let (st, _, body) = openai_error("kind = \"context_too_long\"").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (st, v["error"]["code"].as_str().unwrap()),
        (400, "context_length_exceeded")
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("This model's maximum context length is 128000 tokens."));
    let (st, _, v) = anthropic_error("kind = \"context_too_long\"").await;
    assert_eq!(st, 400);
    assert_eq!(
        v["error"]["message"],
        "prompt is too long: 128015 tokens > 128000 maximum"
    );
    let (st, _, body) = openai_error("kind = \"insufficient_quota\"").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (st, v["error"]["code"].as_str().unwrap()),
        (429, "insufficient_quota")
    );
    let (st, _, v) = anthropic_error("kind = \"insufficient_quota\"").await;
    assert_eq!(st, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("credit balance is too low"));
}

#[tokio::test]
async fn a_real_context_overflow_is_refused() {
    let s = server(&format!("{FAST}context_window = 10\n")).await;
    let r = post_openai(&s, &openai_body(false, None), None).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("resulted in 15 tokens"));
}

#[tokio::test]
async fn reset_before_headers_is_a_connection_error() {
    let s = server(&faults_toml("kind = \"reset\"")).await;
    let err = http()
        .post(format!("{}/chat/completions", s.base_url_openai()))
        .json(&openai_body(true, None))
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none());
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    // The next request is served.
    assert_eq!(
        post_openai(&s, &openai_body(false, None), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn slow_first_byte_delays_the_headers() {
    let s = server(&faults_toml(
        "kind = \"slow_first_byte\"\nduration_ms = 400",
    ))
    .await;
    let t = Instant::now();
    let r = post_openai(&s, &openai_body(true, None), None).await;
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn drop_mid_stream_has_no_end_marker() {
    let s = server(&faults_toml("kind = \"drop\"\nafter_tokens = 7")).await;
    let (body, errored) = read_all(post_openai(&s, &openai_body(true, None), None).await).await;
    assert!(errored, "the body ends in a transport error");
    assert!(!body.contains("[DONE]") && !body.contains("finish_reason\":\"stop"));
    assert_eq!(openai_text(&events(&body)).1, 7);
    let s = server(&faults_toml("kind = \"drop\"\nafter_tokens = 4")).await;
    let (body, errored) =
        read_all(post_anthropic(&s, &anthropic_body(true, 500), None).await).await;
    assert!(errored);
    assert!(!body.contains("message_stop") && !body.contains("message_delta"));
    assert_eq!(body.matches("event: content_block_delta").count(), 4);
}

#[tokio::test]
async fn stall_pauses_then_finishes() {
    let s = server(&faults_toml(
        "kind = \"stall\"\nafter_tokens = 3\nduration_ms = 500",
    ))
    .await;
    let mut r = post_openai(&s, &openai_body(true, None), None).await;
    let mut buf = String::new();
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    while let Some(c) = r.chunk().await.unwrap() {
        longest = longest.max(last.elapsed());
        last = Instant::now();
        buf.push_str(std::str::from_utf8(&c).unwrap());
    }
    assert!(longest >= Duration::from_millis(450), "{longest:?}");
    assert!(buf.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn malformed_event_is_one_bad_event_in_an_otherwise_complete_stream() {
    let s = server(&faults_toml("kind = \"malformed\"\nafter_tokens = 2")).await;
    let (body, _) = read_all(post_openai(&s, &openai_body(true, None), None).await).await;
    let evs = events(&body);
    let bad = evs
        .iter()
        .filter(|(_, d)| d != "[DONE]" && serde_json::from_str::<Value>(d).is_err())
        .count();
    assert_eq!(bad, 1);
    assert_eq!(evs.last().unwrap().1, "[DONE]");
    let s = server(&faults_toml("kind = \"malformed\"\nafter_tokens = 2")).await;
    let (body, _) = read_all(post_anthropic(&s, &anthropic_body(true, 500), None).await).await;
    let bad = events(&body)
        .iter()
        .filter(|(_, d)| serde_json::from_str::<Value>(d).is_err())
        .count();
    assert_eq!(bad, 1);
    assert!(body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}

#[tokio::test]
async fn huge_event_is_one_megabyte_delta_counted_as_one_token() {
    let s = server(&faults_toml(
        "kind = \"huge_event\"\nafter_tokens = 1\nbytes = 1048576",
    ))
    .await;
    let (body, _) = read_all(post_openai(&s, &openai_body(true, None), None).await).await;
    let evs = events(&body);
    let biggest = evs.iter().map(|(_, d)| d.len()).max().unwrap();
    assert!(biggest > 1 << 20);
    let (_, n) = openai_text(&evs);
    let usage: Value = serde_json::from_str(&evs[evs.len() - 2].1).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], n as u64);
}

#[tokio::test]
async fn stream_error_event_in_each_family() {
    let s = server(&faults_toml("kind = \"stream_error\"\nafter_tokens = 3")).await;
    let (body, _) = read_all(post_anthropic(&s, &anthropic_body(true, 500), None).await).await;
    let evs = events(&body);
    let (name, data) = evs.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"));
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap()["error"]["type"],
        "overloaded_error"
    );
    assert!(!body.contains("message_stop"));
    let s = server(&faults_toml("kind = \"stream_error\"\nafter_tokens = 3")).await;
    let (body, _) = read_all(post_openai(&s, &openai_body(true, None), None).await).await;
    let evs = events(&body);
    let err: Value = serde_json::from_str(&evs[evs.len() - 2].1).unwrap();
    assert_eq!(err["error"]["type"], "server_error");
    assert_eq!(openai_text(&evs).1, 3);
}

#[tokio::test]
async fn models_and_unknown_models_in_each_shape() {
    let s = server("[[model]]\nname = \"o\"\nprotocol = \"openai\"\n[[model]]\nname = \"a\"\nprotocol = \"anthropic\"\n").await;
    let v: Value = http()
        .get(format!("{}/models", s.base_url_openai()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(
        v["data"],
        json!([{"id": "o", "object": "model", "created": 1715367049, "owned_by": "paddock-mock"}])
    );
    let v: Value = http()
        .get(format!("{}/v1/models", s.base_url_anthropic()))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["id"], "a");
    assert_eq!(v["has_more"], false);
    // "a" is not served on the OpenAI wire.
    let mut b = openai_body(false, None);
    b["model"] = json!("a");
    let r = post_openai(&s, &b, None).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "model_not_found"
    );
    let mut b = anthropic_body(false, 5);
    b["model"] = json!("o");
    let r = post_anthropic(&s, &b, None).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "model: o"
    );
}

#[tokio::test]
async fn pacing_follows_ttft_and_token_rate() {
    let s = server("[[model]]\nname = \"m\"\nttft_ms = 200\ntokens_per_sec = 200\njitter = 0.0\nmin_answer_tokens = 40\nmax_answer_tokens = 40\n").await;
    let t = Instant::now();
    let mut r = post_openai(&s, &openai_body(true, None), None).await;
    let mut first = None;
    let mut buf = String::new();
    while let Some(c) = r.chunk().await.unwrap() {
        buf.push_str(std::str::from_utf8(&c).unwrap());
        if first.is_none() && buf.contains("\"content\":\"Here") {
            first = Some(t.elapsed());
        }
    }
    let first = first.unwrap();
    assert!(
        first >= Duration::from_millis(190) && first < Duration::from_millis(600),
        "{first:?}"
    );
    // 39 gaps of 5 ms after the first token.
    assert!(
        t.elapsed() >= Duration::from_millis(190 + 39 * 5 - 10),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn dropping_the_server_closes_it() {
    let s = server(FAST).await;
    let url = format!("{}/models", s.base_url_openai());
    assert!(http().get(&url).send().await.is_ok());
    drop(s);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(http().get(&url).send().await.is_err());
}
