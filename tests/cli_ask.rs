//! `paddock ask` and `paddock providers` as a user runs them: the real binary against a local server.

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use support::{RawResponse, RawServer};

/// The binary with a clean environment and debug logging (the key must not leak into it either).
fn paddock(home: &Path) -> Command {
    let mut cmd = support::paddock(home);
    cmd.env("PADDOCK_LOG", "debug");
    cmd
}

const CANARY: &str = "sk-canary-0123456789abcdef";

const OPENAI_STREAM: &str = "data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n\
data: [DONE]\n\n";

const ANTHROPIC_STREAM: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-test\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: ping\ndata: {\"type\":\"ping\"}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bonjour\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

fn parse_json(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one JSON line: {text}");
    serde_json::from_str(lines[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_openai_json_prints_the_contract_object() {
    let server = RawServer::start(vec![RawResponse::sse(OPENAI_STREAM.as_bytes(), 16)]).await;
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
        .env("OPENAI_API_KEY", "x")
        .args(["ask", "-p", "openai", "--json", "hi"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = parse_json(&out.stdout);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "provider",
        "model",
        "content",
        "finish_reason",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "reasoning",
        "reasoning_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "ttft_ms",
        "ttfat_ms",
        "latency_ms",
        "queue_ms",
        "retries",
        "error",
    ];
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(v["provider"], "openai");
    assert_eq!(v["model"], "gpt-test");
    assert_eq!(v["content"], "Hello world");
    assert_eq!(v["finish_reason"], "stop");
    assert_eq!(
        (
            v["input_tokens"].as_u64(),
            v["output_tokens"].as_u64(),
            v["total_tokens"].as_u64()
        ),
        (Some(9), Some(2), Some(11))
    );
    assert!(v["ttft_ms"].as_f64().unwrap() >= 0.0);
    assert!(v["latency_ms"].as_f64().unwrap() >= v["ttft_ms"].as_f64().unwrap());
    assert_eq!(v["retries"], 0);
    assert!(v["error"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_anthropic_json_and_streaming_text() {
    let server = RawServer::start(vec![RawResponse::sse(ANTHROPIC_STREAM.as_bytes(), 9)]).await;
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .env("ANTHROPIC_BASE_URL", server.base())
        .env("ANTHROPIC_API_KEY", "x")
        .args(["ask", "-p", "anthropic", "--json", "hi"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = parse_json(&out.stdout);
    assert_eq!(
        (v["content"].as_str(), v["finish_reason"].as_str()),
        (Some("Bonjour"), Some("end_turn"))
    );
    assert_eq!(
        (v["input_tokens"].as_u64(), v["output_tokens"].as_u64()),
        (Some(7), Some(3))
    );

    // Without --json: the text on stdout, one usage line on stderr; the prompt from stdin.
    let out = paddock(home.path())
        .env("ANTHROPIC_BASE_URL", server.base())
        .env("ANTHROPIC_API_KEY", "x")
        .args(["ask", "-p", "anthropic", "-"])
        .write_stdin("hello from stdin")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Bonjour\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("anthropic claude-test · 7 in / 3 out"),
        "{err}"
    );
    assert!(err.contains("end_turn"), "{err}");
    let seen = server.requests();
    assert!(seen.last().unwrap().body.contains("hello from stdin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_ask_exits_non_zero_with_one_sentence_and_json_error() {
    let body = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let server = RawServer::start(vec![RawResponse::json(401, body)]).await;
    let home = tempfile::tempdir().unwrap();
    let base = format!("{}/v1", server.base());
    let out = paddock(home.path())
        .env("OPENAI_BASE_URL", &base)
        .env("OPENAI_API_KEY", "x")
        .args(["ask", "-p", "openai", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().last().unwrap(), "paddock: openai: auth (HTTP 401): Incorrect API key provided; check the API key (see `paddock providers`).");

    let out = paddock(home.path())
        .env("OPENAI_BASE_URL", &base)
        .env("OPENAI_API_KEY", "x")
        .args(["ask", "-p", "openai", "--json", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = parse_json(&out.stdout);
    assert_eq!(v["error"]["kind"], "auth");
    assert_eq!(v["error"]["status"], 401);
    assert_eq!(v["error"]["retriable"], false);
    assert_eq!(v["content"], "");
}

#[test]
fn missing_key_and_unknown_provider_are_one_clear_sentence() {
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .args(["ask", "-p", "openai", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "paddock: openai: no API key: set OPENAI_API_KEY in the environment or in .env (see `paddock providers`)."
    );
    let out = paddock(home.path())
        .args(["ask", "-p", "nope", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "paddock: no provider named \"nope\"; configured: openai, anthropic, gemini (NAME or NAME:MODEL, see `paddock providers`)."
    );
}

#[test]
fn providers_lists_key_sources_never_keys() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("paddock.toml");
    std::fs::write(
        &cfg,
        "[[provider]]\nname = \"local\"\nkind = \"openai\"\nmodel = \"llama\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\n\
         [[provider]]\nname = \"vault\"\nkind = \"anthropic\"\nmodel = \"claude\"\napi_key_cmd = \"echo secret\"\n",
    )
    .unwrap();
    let out = paddock(home.path())
        .env("OPENAI_API_KEY", CANARY)
        .args(["providers", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(CANARY), "{text}");
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        row("local"),
        "local openai llama http://127.0.0.1:9/v1 none"
    );
    assert_eq!(
        row("vault"),
        "vault anthropic claude https://api.anthropic.com command `echo secret`"
    );
    assert_eq!(
        row("openai"),
        "openai openai gpt-4o-mini https://api.openai.com/v1 env OPENAI_API_KEY"
    );
    assert_eq!(row("anthropic"), "anthropic anthropic claude-3-5-haiku-latest https://api.anthropic.com env ANTHROPIC_API_KEY (not set)");
}

#[test]
fn dotenv_in_the_working_directory_is_read() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), "ANTHROPIC_API_KEY=from-dotenv\n").unwrap();
    let out = paddock(home.path()).arg("providers").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text.lines().find(|l| l.starts_with("anthropic")).unwrap();
    assert!(row.ends_with("env ANTHROPIC_API_KEY"), "{row}");
}

/// A canary key never shows up in stdout, stderr, the log file, the request log or a Debug print.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_never_leaks() {
    let ok = RawServer::start(vec![RawResponse::sse(OPENAI_STREAM.as_bytes(), 64)]).await;
    let body = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let bad = RawServer::start(vec![RawResponse::json(401, body)]).await;
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("paddock.log");
    let mut all = String::new();
    for (server, json) in [(&ok, true), (&ok, false), (&bad, true), (&bad, false)] {
        let mut cmd = paddock(home.path());
        cmd.env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
            .env("OPENAI_API_KEY", CANARY)
            .arg("--log-file")
            .arg(&log)
            .args(["ask", "-p", "openai"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.arg("hi").output().unwrap();
        all.push_str(&String::from_utf8_lossy(&out.stdout));
        all.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let out = paddock(home.path())
        .env("OPENAI_API_KEY", CANARY)
        .arg("providers")
        .output()
        .unwrap();
    all.push_str(&String::from_utf8_lossy(&out.stdout));
    // The server did receive it: the canary is real, not absent.
    assert!(ok.requests()[0].head.contains(CANARY));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.is_empty(), "the debug log was written");
    let requests =
        std::fs::read_to_string(home.path().join("state/paddock/requests.jsonl")).unwrap();
    assert_eq!(
        requests.lines().count(),
        4,
        "one request-log line per request"
    );
    for (what, text) in [
        ("output", &all),
        ("log file", &log_text),
        ("request log", &requests),
    ] {
        assert!(!text.contains(CANARY), "the key leaked into the {what}");
    }
    // Debug prints of the config and the client.
    std::env::set_var("CANARY_KEY_FOR_DEBUG", CANARY);
    let mut p = paddock::config::ProviderConfig::new(
        "x",
        paddock::provider::Protocol::OpenAi,
        "m",
        "http://127.0.0.1:9/v1",
    );
    p.key_source = paddock::config::KeySource::Env("CANARY_KEY_FOR_DEBUG".into());
    let client = paddock::client::Client::new(&p).unwrap();
    let debug = format!(
        "{p:?} {client:?} {:?}",
        p.endpoint(p.resolve_key().unwrap())
    );
    assert!(!debug.contains(CANARY), "{debug}");
}

/// A reasoning model's thinking is kept apart from the answer: `--json` has it with its token
/// count and the time to the first answer token, and text mode keeps stdout to the answer.
#[tokio::test(flavor = "multi_thread")]
async fn reasoning_is_its_own_stream_with_its_own_numbers() {
    let stream = "data: {\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"Let me \"}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"reasoning_content\":\"think.\"}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Four.\",\"reasoning_content\":null},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9,\"completion_tokens_details\":{\"reasoning_tokens\":7},\"prompt_tokens_details\":{\"cached_tokens\":3}}}\n\n\
data: [DONE]\n\n";
    let mut slow = RawResponse::sse(stream.as_bytes(), 160);
    slow.gap = std::time::Duration::from_millis(60);
    let server = RawServer::start(vec![slow]).await;
    let home = tempfile::tempdir().unwrap();
    let run = |json: bool| {
        let mut cmd = paddock(home.path());
        cmd.env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
            .env("OPENAI_API_KEY", "x")
            .args(["ask", "-p", "openai"]);
        if json {
            cmd.arg("--json");
        }
        cmd.arg("2+2?").output().unwrap()
    };
    let out = run(true);
    assert!(out.status.success(), "{out:?}");
    let v = parse_json(&out.stdout);
    assert_eq!(v["content"], "Four.");
    assert_eq!(v["reasoning"], "Let me think.");
    assert_eq!(v["reasoning_tokens"], 7);
    assert_eq!(v["cached_input_tokens"], 3);
    let (ttft, ttfat) = (
        v["ttft_ms"].as_f64().unwrap(),
        v["ttfat_ms"].as_f64().unwrap(),
    );
    assert!(
        ttfat > ttft + 50.0,
        "the answer came after the thinking: {ttft} {ttfat}"
    );
    let out = run(false);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Four.\n",
        "stdout is the answer alone"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TTFAT") && stderr.contains("7 reasoning tok"),
        "{stderr}"
    );
}

/// The demo's server lives only as long as the command: no dead loopback URL is printed.
#[test]
fn providers_demo_prints_no_dead_loopback_url() {
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .args(["providers", "--demo"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("127.0.0.1"), "{text}");
    let row = text.lines().find(|l| l.starts_with("sim-openai")).unwrap();
    assert!(
        row.contains("(simulated)") && row.contains("in-process"),
        "{row}"
    );
    assert!(text.contains("paddock mock"), "{text}");
}
