//! The official Python SDKs stream from the mock and see exactly the text and usage it sent.
//! Skips (with a message) when `openai`/`anthropic` are not installed, unless PADDOCK_REQUIRE_SDK=1.

use std::process::Command;

use paddock::mock::{MockServer, Scenario};
use serde_json::{json, Value};

const SCENARIO: &str = "seed = 11\n[[model]]\nname = \"sdk-model\"\nprotocol = \"both\"\nttft_ms = 5\ntokens_per_sec = 0\njitter = 0.0\n\
[[model.fault]]\nkind = \"rate_limit\"\non_request = [1]\nretry_after = \"ms\"\nretry_after_secs = 0.2\n";

fn sdks_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import openai, anthropic"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PADDOCK_REQUIRE_SDK").as_deref() != Ok("1"),
            "PADDOCK_REQUIRE_SDK=1 but python3 cannot import openai and anthropic"
        );
        // Straight to stderr: the test harness captures println! of passing tests.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped: pip install openai anthropic");
    }
    ok
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
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["tests/sdk/check_sdk.py", &oa, &an, "sdk-model", prompt])
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "check_sdk.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
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
