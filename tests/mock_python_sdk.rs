//! The official Python SDKs stream from the mock and see exactly the text and usage it sent.
//! Skips (with a message) when `openai`/`anthropic`/`google-genai` are not installed, unless
//! PADDOCK_REQUIRE_SDK=1.

mod support;

use std::process::Command;

use paddock::mock::{MockServer, Scenario};
use serde_json::{json, Value};

const SCENARIO: &str = "seed = 11\n[[model]]\nname = \"sdk-model\"\nprotocol = \"both\"\nttft_ms = 5\ntokens_per_sec = 0\njitter = 0.0\n\
[[model.fault]]\nkind = \"rate_limit\"\non_request = [1]\nretry_after = \"ms\"\nretry_after_secs = 0.2\n";

fn sdks_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import openai, anthropic, google.genai"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PADDOCK_REQUIRE_SDK").as_deref() != Ok("1"),
            "PADDOCK_REQUIRE_SDK=1 but python3 cannot import openai, anthropic and google.genai"
        );
        // Straight to stderr: the test harness captures println! of passing tests.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: pip install openai anthropic google-genai"
        );
    }
    ok
}

/// Runs a Python script from `tests/sdk/` off the async threads; its stdout parsed as JSON.
async fn run_sdk_script(script: &'static str, args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(format!("tests/sdk/{script}"))
            .args(&args)
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const PROTOCOLS_CONFIG: &str = r#"
[[provider]]
name = "resp"
kind = "openai-responses"
model = "sdk-model"
base_url = "OPENAI_BASE"
api_key_env = "SDK_TEST_KEY"
reasoning_effort = "low"

[[provider]]
name = "gem"
kind = "gemini"
model = "sdk-model"
base_url = "GEMINI_BASE"
api_key_env = "SDK_TEST_KEY"
thinking = { type = "enabled", budget_tokens = 256 }
"#;

/// `paddock ask --json -p NAME PROMPT` against the config above.
fn paddock_ask(home: &std::path::Path, provider: &str, prompt: &str) -> Value {
    let out = support::paddock(home)
        .env("SDK_TEST_KEY", "sk-dummy")
        .args(["--config", "paddock.toml", "ask", "--no-save", "--json"])
        .args(["-p", provider, prompt])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "paddock ask -p {provider}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_and_gemini_sdks_see_what_paddock_reports() {
    if !sdks_available() {
        return;
    }
    let scenario = "seed = 12\n[[model]]\nname = \"sdk-model\"\nprotocol = \"all\"\nttft_ms = 5\ntokens_per_sec = 0\njitter = 0.0\n";
    let s = MockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Scenario::from_toml_str(scenario).unwrap(),
    )
    .await
    .unwrap();
    let prompt = "Why do reasoning models think first?";
    let (oa, gem) = (s.base_url_responses(), s.base_url_gemini());
    let home = tempfile::tempdir().unwrap();
    let config = PROTOCOLS_CONFIG
        .replace("OPENAI_BASE", &oa)
        .replace("GEMINI_BASE", &gem);
    std::fs::write(home.path().join("paddock.toml"), config).unwrap();
    let got = run_sdk_script(
        "check_sdk_protocols.py",
        vec![oa, gem, "sdk-model".into(), prompt.into()],
    )
    .await;
    let home_path = home.path().to_owned();
    let (ours_resp, ours_gem) = tokio::task::spawn_blocking(move || {
        (
            paddock_ask(&home_path, "resp", prompt),
            paddock_ask(&home_path, "gem", prompt),
        )
    })
    .await
    .unwrap();

    for (name, sdk, ours) in [
        ("responses", &got["responses"], &ours_resp),
        ("gemini", &got["gemini"], &ours_gem),
    ] {
        let text = ours["content"].as_str().unwrap();
        assert!(text.len() > 100, "{name}: {ours}");
        assert_eq!(sdk["text"], text, "{name}: the answer");
        let reasoning = ours["reasoning"].as_str().unwrap_or_default();
        assert!(!reasoning.is_empty(), "{name} streamed reasoning: {ours}");
        assert_eq!(sdk["reasoning"], reasoning, "{name}: the reasoning");
        assert_eq!(sdk["usage"]["input"], ours["input_tokens"], "{name}");
        assert_eq!(sdk["usage"]["output"], ours["output_tokens"], "{name}");
        assert_eq!(
            sdk["usage"]["reasoning"], ours["reasoning_tokens"],
            "{name}"
        );
    }
    assert_eq!(got["responses"]["final_text"], got["responses"]["text"]);
    assert_eq!(got["responses"]["status"], "completed");
    assert_eq!(ours_resp["finish_reason"], "completed");
    assert!(
        got["gemini"]["finish"].as_str().unwrap().contains("STOP"),
        "{}",
        got["gemini"]
    );
    assert_eq!(ours_gem["finish_reason"], "STOP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdks_see_the_text_and_usage_the_mock_sent() {
    if !sdks_available() {
        return;
    }
    let s = MockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Scenario::from_toml_str(SCENARIO).unwrap(),
    )
    .await
    .unwrap();
    let prompt = "Describe a café → bakery migration";
    let (oa, an) = (s.base_url_openai(), s.base_url_anthropic());
    let got = run_sdk_script(
        "check_sdk.py",
        vec![oa, an, "sdk-model".into(), prompt.into()],
    )
    .await;
    // The first request was a scripted 429 with retry-after-ms: the SDK retried it.
    assert_eq!(s.request_count("sdk-model"), 3);

    // What the mock sends for this prompt, asked without streaming.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let want: Value = http
        .post(format!("{}/chat/completions", s.base_url_openai()))
        .json(&json!({"model": "sdk-model", "messages": [{"role": "user", "content": prompt}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = want["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.len() > 100);
    let output = want["usage"]["completion_tokens"].as_u64().unwrap();
    let input = want["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(got["openai"]["text"], text);
    assert_eq!(
        got["openai"]["usage"],
        json!({"input": input, "output": output})
    );
    assert_eq!(got["openai"]["finish"], "stop");
    assert_eq!(got["anthropic"]["text"], text);
    assert_eq!(got["anthropic"]["final_text"], text);
    assert_eq!(
        got["anthropic"]["usage"],
        json!({"input": input, "output": output})
    );
    assert_eq!(got["anthropic"]["finish"], "end_turn");
}

const REASONING_CONFIG: &str = r#"
[[provider]]
name = "chat"
kind = "openai"
model = "sdk-model"
base_url = "OPENAI_BASE"
api_key_env = "SDK_TEST_KEY"

[[provider]]
name = "claude"
kind = "anthropic"
model = "sdk-model"
base_url = "ANTHROPIC_BASE"
api_key_env = "SDK_TEST_KEY"
thinking = { type = "enabled", budget_tokens = 2048 }
"#;

/// openai-python reads the mock's `reasoning_content` and usage details, the anthropic SDK's final
/// message holds the signed thinking block and the redacted one; `paddock ask --json` reports the
/// same reasoning, tokens and cache counts for the same prompt, and its session keeps the very
/// blocks the SDK saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_read_the_mocks_reasoning_as_paddock_does() {
    if !sdks_available() {
        return;
    }
    let scenario = "seed = 13\n[[model]]\nname = \"sdk-model\"\nprotocol = \"all\"\nttft_ms = 5\n\
        tokens_per_sec = 0\njitter = 0.0\nthinks = true\nredacted_thinking = true\n\
        cache_read_tokens = 6\ncache_write_tokens = 4\n";
    let s = MockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Scenario::from_toml_str(scenario).unwrap(),
    )
    .await
    .unwrap();
    let prompt = "Why does the café queue grow at noon?";
    let (oa, an) = (s.base_url_openai(), s.base_url_anthropic());
    let home = tempfile::tempdir().unwrap();
    let config = REASONING_CONFIG
        .replace("OPENAI_BASE", &oa)
        .replace("ANTHROPIC_BASE", &an);
    std::fs::write(home.path().join("paddock.toml"), config).unwrap();
    let got = run_sdk_script(
        "check_sdk_reasoning.py",
        vec![oa, an, "sdk-model".into(), prompt.into()],
    )
    .await;
    let home_path = home.path().to_owned();
    let (ours_chat, ours_claude, session) = tokio::task::spawn_blocking(move || {
        let chat = paddock_ask(&home_path, "chat", prompt);
        // Saved, so the session shows the thinking blocks paddock would send back.
        let out = support::paddock(&home_path)
            .env("SDK_TEST_KEY", "sk-dummy")
            .args([
                "--config",
                "paddock.toml",
                "ask",
                "--json",
                "-p",
                "claude",
                prompt,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let claude: Value = serde_json::from_slice(&out.stdout).unwrap();
        let out = support::paddock(&home_path)
            .args(["export", "last", "--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let session: Value = serde_json::from_slice(&out.stdout).unwrap();
        (chat, claude, session)
    })
    .await
    .unwrap();

    // Chat Completions: reasoning_content before the answer, and the usage details.
    let chat = &got["chat"];
    let reasoning = ours_chat["reasoning"].as_str().unwrap();
    assert!(reasoning.len() > 50, "{ours_chat}");
    assert_eq!(chat["reasoning"], reasoning);
    assert_eq!(chat["text"], ours_chat["content"]);
    assert_eq!(
        chat["whole_reasoning"], reasoning,
        "message.reasoning_content"
    );
    assert_eq!(chat["whole_text"], ours_chat["content"]);
    assert_eq!(chat["usage"]["reasoning"], ours_chat["reasoning_tokens"]);
    assert_eq!(
        chat["whole_reasoning_tokens"],
        ours_chat["reasoning_tokens"]
    );
    assert_eq!(chat["usage"]["cached"], 6);
    assert_eq!(chat["usage"]["cached"], ours_chat["cached_input_tokens"]);
    assert_eq!(chat["usage"]["input"], ours_chat["input_tokens"]);
    assert_eq!(chat["usage"]["output"], ours_chat["output_tokens"]);
    assert!(ours_chat["ttfat_ms"].as_f64() >= ours_chat["ttft_ms"].as_f64());

    // Anthropic: the final message's blocks, signed thinking first, then redacted, then text.
    let msgs = &got["messages"];
    let blocks = msgs["blocks"].as_array().unwrap();
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["thinking", "redacted_thinking", "text"], "{msgs}");
    let thinking = ours_claude["reasoning"].as_str().unwrap();
    assert_eq!(blocks[0]["thinking"], thinking);
    assert_eq!(msgs["thinking"], thinking);
    assert!(blocks[0]["signature"].as_str().unwrap().len() > 100);
    assert_eq!(msgs["signature"], blocks[0]["signature"]);
    assert!(!blocks[1]["data"].as_str().unwrap().is_empty());
    assert_eq!(blocks[2]["text"], ours_claude["content"]);
    assert_eq!(msgs["text"], ours_claude["content"]);
    assert_eq!(
        msgs["whole_blocks"], msgs["blocks"],
        "streamed or not, the same message"
    );
    assert_eq!(msgs["finish"], "end_turn");
    assert_eq!(
        msgs["usage"]["cache_read"],
        ours_claude["cached_input_tokens"]
    );
    assert_eq!(
        msgs["usage"]["cache_write"],
        ours_claude["cache_write_tokens"]
    );
    assert_eq!(
        (&msgs["usage"]["cache_read"], &msgs["usage"]["cache_write"]),
        (&json!(6), &json!(4))
    );
    assert_eq!(msgs["usage"]["input"], ours_claude["input_tokens"]);
    assert_eq!(msgs["usage"]["output"], ours_claude["output_tokens"]);
    // The blocks paddock keeps to send back are the SDK's, signature and data included.
    let turn = &session["providers"][0]["turns"][0];
    assert_eq!(turn["thinking_blocks"], json!(blocks[..2]), "{turn}");
}
