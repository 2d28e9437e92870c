//! What `ask` sends is what the user asked for: stdin joined with the prompt, temperatures as
//! typed and in each API's range, the asked model reported, the token-cap field the model wants,
//! `--resume ID` parsed the same with a space or `=`, and `PADDOCK_NO_SAVE=1` as documented.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{RawResponse, RawServer};

const OPENAI_STREAM: &str = "data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n\
data: [DONE]\n\n";

async fn openai_server() -> RawServer {
    RawServer::start(vec![RawResponse::sse(OPENAI_STREAM.as_bytes(), 64)]).await
}

fn ask(home: &Path, server: &RawServer) -> assert_cmd::Command {
    let mut cmd = support::paddock(home);
    cmd.env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
        .env("OPENAI_API_KEY", "x")
        .args(["ask", "-p", "openai"]);
    cmd
}

fn body(server: &RawServer, n: usize) -> Value {
    let seen = server.requests();
    serde_json::from_str(&seen[n].body).unwrap()
}

fn sessions(home: &Path) -> Vec<std::path::PathBuf> {
    let dir = home.join("data/paddock/sessions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn piped_context_comes_first_then_the_prompt() {
    let server = openai_server().await;
    let home = tempfile::tempdir().unwrap();
    let out = ask(home.path(), &server)
        .arg("summarise this")
        .write_stdin("CONTEXT LINE\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = body(&server, 0);
    let last = b["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"], "CONTEXT LINE\n\nsummarise this");
}

#[tokio::test(flavor = "multi_thread")]
async fn temperature_goes_out_as_typed_and_outside_the_range_is_refused_before_sending() {
    let server = openai_server().await;
    let home = tempfile::tempdir().unwrap();
    let out = ask(home.path(), &server)
        .args(["--temperature", "0.7", "hi"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = &server.requests()[0].body;
    assert!(raw.contains("\"temperature\":0.7"), "sent as typed: {raw}");

    let out = ask(home.path(), &server)
        .args(["--temperature", "5", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 to 2"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(server.requests().len(), 1, "nothing sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_temperature_range_is_zero_to_one() {
    let server = openai_server().await;
    let home = tempfile::tempdir().unwrap();
    let out = support::paddock(home.path())
        .env("ANTHROPIC_BASE_URL", server.base())
        .env("ANTHROPIC_API_KEY", "x")
        .args(["ask", "-p", "anthropic", "--temperature", "1.5", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Anthropic") && err.contains("0 to 1"), "{err}");
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_reports_the_model_asked_for() {
    let server = RawServer::start(vec![RawResponse::json(
        404,
        r#"{"error":{"message":"The model `nosuch` does not exist","type":"invalid_request_error","code":"model_not_found"}}"#,
    )])
    .await;
    let home = tempfile::tempdir().unwrap();
    let out = ask(home.path(), &server)
        .args(["-m", "nosuch", "--json", "hi"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "nosuch");
}

#[tokio::test(flavor = "multi_thread")]
async fn reasoning_models_get_max_completion_tokens() {
    let server = openai_server().await;
    let home = tempfile::tempdir().unwrap();
    for model in ["o3-mini", "gpt-4o-mini"] {
        let out = ask(home.path(), &server)
            .args(["-m", model, "--max-tokens", "100", "hi"])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let (o3, gpt4) = (body(&server, 0), body(&server, 1));
    assert_eq!(o3["max_completion_tokens"], 100);
    assert!(o3.get("max_tokens").is_none(), "{o3}");
    assert_eq!(gpt4["max_tokens"], 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn paddock_no_save_1_saves_nothing() {
    let server = openai_server().await;
    let home = tempfile::tempdir().unwrap();
    let out = ask(home.path(), &server)
        .env("PADDOCK_NO_SAVE", "1")
        .arg("hi")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sessions(home.path()).is_empty());
    let out = ask(home.path(), &server)
        .env("PADDOCK_NO_SAVE", "0")
        .arg("hi")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(sessions(home.path()).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_id_with_a_space_or_equals_continues_that_session() {
    let server = openai_server().await;
    let home = tempfile::tempdir().unwrap();
    for prompt in ["first conversation", "second conversation"] {
        let out = ask(home.path(), &server).arg(prompt).output().unwrap();
        assert!(out.status.success());
    }
    let mut files = sessions(home.path());
    files.sort();
    let older = files[0].file_stem().unwrap().to_string_lossy().into_owned();
    let n_before = server.requests().len();
    // A space, then `=`: both continue the older session, and the prompt stays the prompt.
    let out = ask(home.path(), &server)
        .args(["--resume", &older, "follow up one"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ask(home.path(), &server)
        .arg(format!("--resume={older}"))
        .arg("follow up two")
        .output()
        .unwrap();
    assert!(out.status.success());
    let contents = |n: usize| -> Vec<String> {
        body(&server, n)["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let one = contents(n_before);
    assert_eq!(one.first().map(String::as_str), Some("first conversation"));
    assert_eq!(one.last().map(String::as_str), Some("follow up one"));
    let two = contents(n_before + 1);
    assert_eq!(two.first().map(String::as_str), Some("first conversation"));
    assert_eq!(two.last().map(String::as_str), Some("follow up two"));
    // A bare --resume followed by words continues the session last used: the older one.
    let out = ask(home.path(), &server)
        .args(["--resume", "and a third"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let three = contents(n_before + 2);
    assert_eq!(
        three.first().map(String::as_str),
        Some("first conversation")
    );
    assert_eq!(three.last().map(String::as_str), Some("and a third"));
    assert_eq!(sessions(home.path()).len(), 2, "no new session");
}

const GEMINI_STREAM: &str = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Mulling.\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Paris.\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 5,\"candidatesTokenCount\": 2,\"thoughtsTokenCount\": 4,\"totalTokenCount\": 11},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn gemini_works_from_the_environment_with_the_key_in_a_header_only() {
    let server = RawServer::start(vec![RawResponse::sse(GEMINI_STREAM.as_bytes(), 32)]).await;
    let home = tempfile::tempdir().unwrap();
    let key = "AIza-canary-0123456789";
    let out = support::paddock(home.path())
        .env("GEMINI_BASE_URL", server.base())
        .env("GEMINI_API_KEY", key)
        .env("PADDOCK_LOG", "debug")
        .args(["ask", "-p", "gemini", "--json", "capital of France?"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["content"], "Paris.");
    assert_eq!(v["reasoning"], "Mulling.");
    assert_eq!(v["model"], "gemini-2.5-flash");
    assert_eq!(
        (v["output_tokens"].as_u64(), v["reasoning_tokens"].as_u64()),
        (Some(2), Some(4))
    );
    let seen = &server.requests()[0];
    let request_line = seen.head.lines().next().unwrap();
    assert_eq!(
        request_line,
        "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse HTTP/1.1"
    );
    assert!(seen
        .head
        .to_ascii_lowercase()
        .contains(&format!("x-goog-api-key: {}", key.to_ascii_lowercase())));
    let body: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["contents"][0]["role"], "user");
    // The key appears nowhere else: not in stdout, stderr, the log, the request log or the session.
    let mut files = vec![
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ];
    for entry in walk(home.path()) {
        files.push(std::fs::read_to_string(entry).unwrap_or_default());
    }
    assert!(files.iter().all(|f| !f.contains(key)), "the key leaked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_responses_provider_from_the_config() {
    let stream = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5-mini\",\"status\":\"in_progress\"}}\n\n\
event: response.reasoning_summary_text.delta\ndata: {\"type\":\"response.reasoning_summary_text.delta\",\"delta\":\"Think.\"}\n\n\
event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi!\"}\n\n\
event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":4,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":6,\"output_tokens_details\":{\"reasoning_tokens\":3}}}}\n\n";
    let server = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 16)]).await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[provider]]\nname = \"resp\"\nkind = \"openai-responses\"\nmodel = \"gpt-5-mini\"\nbase_url = \"{}/v1\"\napi_key_env = \"K\"\nreasoning_effort = \"low\"\nsystem = \"Be brief.\"\n",
            server.base()
        ),
    )
    .unwrap();
    let out = support::paddock(home.path())
        .env("K", "x")
        .args([
            "--config",
            config.to_str().unwrap(),
            "ask",
            "--json",
            "--max-tokens",
            "50",
            "hello",
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
        (v["content"].as_str(), v["reasoning"].as_str()),
        (Some("Hi!"), Some("Think."))
    );
    assert_eq!(v["finish_reason"], "completed");
    assert_eq!(v["reasoning_tokens"], 3);
    let seen = &server.requests()[0];
    assert!(
        seen.head.starts_with("POST /v1/responses "),
        "{}",
        seen.head
    );
    let b: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(b["instructions"], "Be brief.");
    assert_eq!(b["input"][0]["content"], "hello");
    assert_eq!(b["max_output_tokens"], 50);
    assert_eq!(b["store"], false);
    assert_eq!(b["reasoning"]["effort"], "low");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
