//! The workbench's headless half: `paddock models` on every wire, `-p NAME:MODEL` races sharing
//! one budget, `bench --json` and its limiter line, one-line error bodies, early context refusals.

mod support;

use std::path::Path;

use paddock::mock::{MockServer, Scenario};
use serde_json::Value;
use support::{paddock, RawResponse, RawServer};

const KEY: &str = "sk-mock-workbench-123";

/// Two models per wire, a key on every route, fast answers.
const SCENARIO: &str = r#"
seed = 3
api_key = "sk-mock-workbench-123"
[[model]]
name = "chat-a"
protocol = "openai"
ttft_ms = 5
tokens_per_sec = 2000.0
[[model]]
name = "chat-b"
protocol = "openai"
ttft_ms = 5
tokens_per_sec = 2000.0
[[model]]
name = "claude-a"
protocol = "anthropic"
[[model]]
name = "claude-b"
protocol = "anthropic"
[[model]]
name = "resp-a"
protocol = "openai-responses"
[[model]]
name = "gem-a"
protocol = "gemini"
[[model]]
name = "gem-b"
protocol = "gemini"
"#;

async fn mock() -> MockServer {
    let scenario = Scenario::from_toml_str(SCENARIO).unwrap();
    MockServer::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap()
}

/// A config with one provider per wire at `s`, the key from `WB_KEY`; `extra` is appended to
/// the `chat` provider.
fn config(home: &Path, s: &MockServer, extra: &str) -> std::path::PathBuf {
    let path = home.join("paddock.toml");
    let text = format!(
        r#"[limits]
window_secs = 1

[[provider]]
name = "chat"
kind = "openai"
model = "chat-a"
base_url = "{openai}"
api_key_env = "WB_KEY"
max_retries = 0
{extra}

[[provider]]
name = "claude"
kind = "anthropic"
model = "claude-a"
base_url = "{anthropic}"
api_key_env = "WB_KEY"

[[provider]]
name = "resp"
kind = "openai-responses"
model = "resp-a"
base_url = "{openai}"
api_key_env = "WB_KEY"

[[provider]]
name = "gem"
kind = "gemini"
model = "gem-a"
base_url = "{gemini}"
api_key_env = "WB_KEY"
"#,
        openai = s.base_url_openai(),
        anthropic = s.base_url_anthropic(),
        gemini = s.base_url_gemini(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn models_of(line: &Value) -> Vec<&str> {
    line["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect()
}

// ---- paddock models --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn models_lists_what_the_mock_serves_on_every_wire() {
    let s = mock().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &s, "");
    let out = paddock(home.path())
        .env("WB_KEY", KEY)
        .arg("--config")
        .arg(&cfg)
        .args(["models", "-p", "chat,claude,resp,gem", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = json_lines(&out.stdout);
    let by = |name: &str| lines.iter().find(|l| l["provider"] == name).unwrap();
    // OpenAI's list names what either OpenAI API serves.
    assert_eq!(models_of(by("chat")), ["chat-a", "chat-b", "resp-a"]);
    assert_eq!(models_of(by("resp")), ["chat-a", "chat-b", "resp-a"]);
    assert_eq!(models_of(by("claude")), ["claude-a", "claude-b"]);
    assert_eq!(models_of(by("gem")), ["gem-a", "gem-b"]);
    assert!(lines.iter().all(|l| l["error"].is_null()));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(KEY));

    // One provider as text: one name per line, for scripts.
    let out = paddock(home.path())
        .env("WB_KEY", KEY)
        .arg("--config")
        .arg(&cfg)
        .args(["models", "-p", "gem"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "gem-a\ngem-b\n");
}

/// The mock pages as the real APIs do, so a client's paging can be tried against it.
#[tokio::test]
async fn the_mock_pages_anthropic_and_gemini_model_lists() {
    let s = mock().await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |url: String, headers: &[(&str, &str)]| {
        let mut rb = http.get(url);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        async move { rb.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let anthropic = [("x-api-key", KEY), ("anthropic-version", "2023-06-01")];
    let base = s.base_url_anthropic();
    let first = get(format!("{base}/v1/models?limit=1"), &anthropic).await;
    assert_eq!(
        (first["data"][0]["id"].as_str(), first["has_more"].as_bool()),
        (Some("claude-a"), Some(true))
    );
    assert_eq!(first["last_id"], "claude-a");
    let next = get(
        format!("{base}/v1/models?limit=1&after_id=claude-a"),
        &anthropic,
    )
    .await;
    assert_eq!(
        (next["data"][0]["id"].as_str(), next["has_more"].as_bool()),
        (Some("claude-b"), Some(false))
    );

    let gemini = [("x-goog-api-key", KEY)];
    let base = s.base_url_gemini();
    let first = get(format!("{base}/v1beta/models?pageSize=1"), &gemini).await;
    assert_eq!(first["models"][0]["name"], "models/gem-a");
    let token = first["nextPageToken"].as_str().unwrap().to_owned();
    let next = get(
        format!("{base}/v1beta/models?pageSize=1&pageToken={token}"),
        &gemini,
    )
    .await;
    assert_eq!(next["models"][0]["name"], "models/gem-b");
    assert!(next.get("nextPageToken").is_none());
}

#[test]
fn models_demo_needs_no_keys() {
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .args(["models", "--demo", "-p", "sim-anthropic"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l == "sim-claude"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_one_sentence_and_the_others_still_list() {
    let s = mock().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &s, "");
    let out = paddock(home.path())
        .env("WB_KEY", "sk-wrong-key-000000")
        .arg("--config")
        .arg(&cfg)
        .args(["models", "-p", "claude"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("claude: auth (HTTP 401)"), "{stderr}");
    assert!(!stderr.contains("sk-wrong-key-000000"), "{stderr}");
}

/// Anthropic pages with `has_more` / `last_id` and the next page's `after_id`; each page carries
/// `x-api-key` and `anthropic-version`.
#[tokio::test(flavor = "multi_thread")]
async fn anthropic_model_pages_are_followed() {
    let page1 = r#"{"data":[{"type":"model","id":"claude-new"},{"type":"model","id":"claude-mid"}],"has_more":true,"first_id":"claude-new","last_id":"claude-mid"}"#;
    let page2 = r#"{"data":[{"type":"model","id":"claude-old"}],"has_more":false,"first_id":"claude-old","last_id":"claude-old"}"#;
    let server = RawServer::start(vec![
        RawResponse::json(200, page1),
        RawResponse::json(200, page2),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .env("ANTHROPIC_BASE_URL", server.base())
        .env("ANTHROPIC_API_KEY", KEY)
        .args(["models", "-p", "anthropic"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "claude-new\nclaude-mid\nclaude-old\n"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].head.starts_with("GET /v1/models?limit=1000 "),
        "{}",
        seen[0].head
    );
    assert!(
        seen[1]
            .head
            .starts_with("GET /v1/models?limit=1000&after_id=claude-mid "),
        "{}",
        seen[1].head
    );
    for r in &seen {
        let head = r.head.to_ascii_lowercase();
        assert!(head.contains(&format!("x-api-key: {}", KEY.to_ascii_lowercase())));
        assert!(head.contains("anthropic-version: 2023-06-01"));
    }
}

/// Gemini pages with `nextPageToken` / `pageToken`; the key only in `x-goog-api-key`; models
/// that cannot chat (embeddings) are left out, names lose their `models/` prefix.
#[tokio::test(flavor = "multi_thread")]
async fn gemini_model_pages_are_followed_and_the_key_stays_out_of_the_url() {
    let page1 = r#"{"models":[{"name":"models/gemini-2.5-flash","supportedGenerationMethods":["generateContent","countTokens"]},{"name":"models/text-embedding-004","supportedGenerationMethods":["embedContent"]}],"nextPageToken":"tok/2=="}"#;
    let page2 = r#"{"models":[{"name":"models/gemini-2.5-pro","supportedGenerationMethods":["generateContent"]}]}"#;
    let server = RawServer::start(vec![
        RawResponse::json(200, page1),
        RawResponse::json(200, page2),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .env("GEMINI_BASE_URL", server.base())
        .env("GEMINI_API_KEY", KEY)
        .args(["models", "-p", "gemini", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(models_of(&lines[0]), ["gemini-2.5-flash", "gemini-2.5-pro"]);
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0]
            .head
            .starts_with("GET /v1beta/models?pageSize=1000 "),
        "{}",
        seen[0].head
    );
    assert!(
        seen[1]
            .head
            .starts_with("GET /v1beta/models?pageSize=1000&pageToken=tok%2F2%3D%3D "),
        "{}",
        seen[1].head
    );
    for r in &seen {
        let request_line = r.head.lines().next().unwrap();
        assert!(!request_line.contains(KEY), "{request_line}");
        assert!(r.head.to_ascii_lowercase().contains("x-goog-api-key: "));
    }
}

/// Hostile answers: an HTML page, a list that never ends, names carrying escape sequences.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_model_lists_are_one_sentence_or_clean_names() {
    let home = tempfile::tempdir().unwrap();
    let run = |base: String| {
        paddock(home.path())
            .env("OPENAI_BASE_URL", format!("{base}/v1"))
            .env("OPENAI_API_KEY", KEY)
            .args(["models", "-p", "openai"])
            .output()
            .unwrap()
    };
    let html = RawServer::start(vec![RawResponse {
        headers: vec![("content-type".into(), "text/html".into())],
        ..RawResponse::json(200, "<html><title>Sign in</title></html>")
    }])
    .await;
    let out = run(html.base());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("bad_response") && stderr.contains("base_url"),
        "{stderr}"
    );

    // 5 MiB of one JSON array: past the page bound, read no further.
    let huge = format!(
        r#"{{"data":[{}]}}"#,
        vec![r#"{"id":"m"}"#; 500_000].join(",")
    );
    let big = RawServer::start(vec![RawResponse::json(200, &huge)]).await;
    let out = run(big.base());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("too_large"), "{stderr}");

    let names = r#"{"data":[{"id":"good-model"},{"id":"evil\u001b]52;c;aGk=\u0007"},{"id":"bidi\u202emodel"}]}"#;
    let evil = RawServer::start(vec![RawResponse::json(200, names)]).await;
    let out = run(evil.base());
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "good-model\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_provider_is_one_sentence_naming_the_known_ones() {
    let s = mock().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &s, "");
    for args in [
        &["models", "-p", "nosuch"][..],
        &["race", "-p", "chat:chat-a,nosuch:m", "hi"],
        &["race", "-p", "chat:", "hi"],
    ] {
        let out = paddock(home.path())
            .env("WB_KEY", KEY)
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("chat, claude, resp, gem"), "{stderr}");
    }
}

// ---- -p NAME:MODEL ---------------------------------------------------------------------------

/// Two models of one provider race under the names `chat:chat-a` and `chat:chat-b`, each asking
/// for its model, and they share the provider's limiter: with one request per (1 s) window, the
/// second waits for the first's slot to free.
#[tokio::test(flavor = "multi_thread")]
async fn provider_model_races_ask_for_each_model_and_share_one_budget() {
    let s = mock().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &s, "requests_per_minute = 1");
    let out = paddock(home.path())
        .env("WB_KEY", KEY)
        .env("PADDOCK_NO_SAVE", "1")
        .arg("--config")
        .arg(&cfg)
        .args([
            "race",
            "-p",
            "chat:chat-a,chat:chat-b",
            "--max-tokens",
            "5",
            "--json",
            "hi",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let rows: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["provider"].as_str().unwrap(),
                l["model"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("chat:chat-a", "chat-a"), ("chat:chat-b", "chat-b")]);
    let mut queued: Vec<f64> = lines
        .iter()
        .map(|l| l["queue_ms"].as_f64().unwrap())
        .collect();
    queued.sort_by(f64::total_cmp);
    assert!(queued[0] < 300.0, "{queued:?}");
    assert!(
        queued[1] >= 500.0,
        "one budget: the second waited ({queued:?})"
    );
    assert_eq!(s.request_count("chat-a"), 1);
    assert_eq!(s.request_count("chat-b"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_takes_provider_model_too() {
    let s = mock().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &s, "");
    let out = paddock(home.path())
        .env("WB_KEY", KEY)
        .arg("--config")
        .arg(&cfg)
        .args([
            "ask",
            "--no-save",
            "-p",
            "chat:chat-b",
            "--max-tokens",
            "5",
            "--json",
            "hi",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["provider"].as_str(), v["model"].as_str()),
        (Some("chat:chat-b"), Some("chat-b"))
    );
}

// ---- bench --json ----------------------------------------------------------------------------

#[test]
fn bench_json_prints_the_report_on_stdout() {
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .args([
            "bench",
            "--demo",
            "-p",
            "sim-openai,sim-openai:sim-gpt-fast",
            "--runs",
            "2",
        ])
        .args(["--concurrency", "1", "--max-tokens", "5", "--json", "hi"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(v["runs"], 2);
    let names: Vec<&str> = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sim-openai", "sim-openai:sim-gpt-fast"]);
    assert!(v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["ok"] == 2));
}

// ---- error bodies --------------------------------------------------------------------------

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n";

/// An HTML 502 page: one line per retry and one sentence for the failure, each with the status
/// and the page's title; the whole page is in the log.
#[tokio::test(flavor = "multi_thread")]
async fn html_error_pages_are_one_line_and_the_log_has_the_page() {
    let page = RawResponse {
        headers: vec![("content-type".into(), "text/html".into())],
        ..RawResponse::json(502, NGINX_502)
    }
    .header("retry-after-ms", "1");
    let server = RawServer::start(vec![page]).await;
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("paddock.log");
    let out = paddock(home.path())
        .env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
        .env("OPENAI_API_KEY", KEY)
        .arg("--log-file")
        .arg(&log)
        .args(["ask", "--no-save", "-p", "openai", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Two retry lines, the summary line, the failure sentence: no line of the page itself.
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    let retries: Vec<&&str> = lines.iter().filter(|l| l.contains(": retry ")).collect();
    assert_eq!(retries.len(), 2, "{stderr}");
    let failure = lines[3];
    for l in retries.into_iter().chain([&failure]) {
        assert!(l.contains("HTTP 502 Bad Gateway"), "{l}");
    }
    assert!(
        !stderr.contains('<') && !stderr.contains("nginx"),
        "{stderr}"
    );
    assert!(failure.contains("openai: server (HTTP 502)"), "{failure}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("nginx/1.25.3"),
        "the page is in the log: {logged}"
    );
}

/// A 10 KB JSON error message is one bounded line everywhere (stderr and `--json`); the log has
/// all of it.
#[tokio::test(flavor = "multi_thread")]
async fn a_ten_kilobyte_json_error_is_one_bounded_line() {
    let long = format!(
        "Invalid request:\n{}END-OF-MESSAGE",
        "detail line\n".repeat(850)
    );
    let body = serde_json::json!({"error": {"message": long, "type": "invalid_request_error"}});
    let server = RawServer::start(vec![RawResponse::json(400, &body.to_string())]).await;
    assert!(body.to_string().len() > 10_000);
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("paddock.log");
    for json in [false, true] {
        let mut cmd = paddock(home.path());
        cmd.env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
            .env("OPENAI_API_KEY", KEY)
            .arg("--log-file")
            .arg(&log)
            .args(["ask", "--no-save", "-p", "openai"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.arg("hi").output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if json {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let message = v["error"]["message"].as_str().unwrap();
            assert!(
                !message.contains('\n') && message.chars().count() <= 301,
                "{message}"
            );
            assert!(message.starts_with("Invalid request: detail line detail line"));
        }
        // The sentence (after the summary line without --json) is one bounded line.
        let sentence = stderr.lines().last().unwrap();
        assert_eq!(stderr.lines().count(), if json { 1 } else { 2 }, "{stderr}");
        assert!(sentence.len() < 600, "{} bytes", sentence.len());
        assert!(
            sentence.contains("invalid_request (HTTP 400): Invalid request: detail line"),
            "{sentence}"
        );
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("END-OF-MESSAGE"),
        "the whole body is in the log"
    );
}

// ---- context window ------------------------------------------------------------------------

/// An overgrown prompt fails at once with what to do, and nothing reaches the server (the
/// paused-clock test in `src/client/mod.rs` shows it fails before a full limiter's wait).
#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_past_context_window_fails_at_once_with_advice() {
    let s = mock().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &s, "context_window = 50");
    let started = std::time::Instant::now();
    let out = paddock(home.path())
        .env("WB_KEY", KEY)
        .arg("--config")
        .arg(&cfg)
        .args([
            "ask",
            "--no-save",
            "--json",
            "-p",
            "chat",
            "--max-tokens",
            "10",
        ])
        .arg("word ".repeat(200))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "context_too_long");
    assert_eq!(v["error"]["retriable"], false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("context_too_long"), "{stderr}");
    assert!(stderr.contains("context window of 50 tokens"), "{stderr}");
    assert!(stderr.contains("start a new session"), "{stderr}");
    assert_eq!(s.request_count("chat-a"), 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
