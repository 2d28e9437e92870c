//! Sessions as a user meets them: saved by `ask`, surviving SIGKILL, resumed, listed, exported; `init`.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use paddock::provider::{Message, Protocol, Usage};
use paddock::session::{ProviderRef, Session};
use support::{paddock, RawResponse, RawServer};

const OPENAI_STREAM: &str = "data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n\
data: [DONE]\n\n";

fn sessions_dir(home: &Path) -> PathBuf {
    home.join("data/paddock/sessions")
}

fn only_session(home: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(sessions_dir(home))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn sigkill_mid_stream_keeps_finished_turns_and_the_partial_answer() {
    let home = tempfile::tempdir().unwrap();
    let first = paddock(home.path())
        .args(["--demo", "ask", "-p", "sim-anthropic", "first question"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{first:?}");
    let first_answer = String::from_utf8(first.stdout).unwrap();
    let path = only_session(home.path());

    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("paddock"));
    support::clean_env(&mut cmd, home.path());
    let mut child = cmd
        .args([
            "--demo",
            "ask",
            "-p",
            "sim-anthropic",
            "--resume",
            "second question",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read the file while it is being rewritten: every read must be a whole, valid session.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reads = 0;
    loop {
        assert!(Instant::now() < deadline, "no partial answer was saved");
        let s = Session::load(&path).unwrap();
        reads += 1;
        let turns = &s.provider("sim-anthropic").unwrap().turns;
        assert!(!turns[1..].iter().any(|t| t.complete), "answered too fast");
        if turns.len() == 2 && turns[1].answer.len() > 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on unix
    child.wait().unwrap();
    let mut printed = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();

    let s = Session::load(&path).unwrap();
    let turns = &s.provider("sim-anthropic").unwrap().turns;
    assert_eq!(turns.len(), 2, "after {reads} reads");
    assert!(turns[0].complete && turns[0].succeeded());
    assert_eq!(turns[0].answer.trim_end(), first_answer.trim_end());
    assert!(turns[0].metrics.output_tokens.is_some());
    assert_eq!(turns[1].prompt, "second question");
    assert!(
        !turns[1].complete,
        "the cut-off answer is marked incomplete"
    );
    assert!(
        printed.starts_with(&turns[1].answer),
        "the saved partial is what was printed so far"
    );
    // Resuming after the crash continues from the finished turns only.
    assert_eq!(
        s.history("sim-anthropic"),
        [
            Message::user("first question"),
            Message::assistant(&turns[0].answer)
        ]
    );
    let md = paddock(home.path())
        .args(["export", &s.id])
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.contains("*incomplete: still streaming when the session was last saved*"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_sends_the_providers_own_earlier_turns() {
    let server = RawServer::start(vec![RawResponse::sse(OPENAI_STREAM.as_bytes(), 16)]).await;
    let home = tempfile::tempdir().unwrap();
    let ask = |extra: &[&str]| {
        paddock(home.path())
            .env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
            .env("OPENAI_API_KEY", "x")
            .args(["ask", "-p", "openai", "--system", "Be brief."])
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(ask(&["first"]).status.success());
    let id = only_session(home.path())
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = ask(&[&format!("--resume={id}"), "second"]);
    assert!(out.status.success(), "{out:?}");
    assert!(ask(&["--resume", "third"]).status.success());
    // --no-save asks without touching any session.
    assert!(ask(&["--no-save", "other"]).status.success());

    let bodies: Vec<serde_json::Value> = server
        .requests()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let messages = |i: usize| bodies[i]["messages"].clone();
    assert_eq!(
        messages(2),
        serde_json::json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "Hello world"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "Hello world"},
            {"role": "user", "content": "third"}
        ])
    );
    assert_eq!(messages(3).as_array().unwrap().len(), 2);
    let s = Session::load(&only_session(home.path())).unwrap();
    assert_eq!(s.provider("openai").unwrap().turns.len(), 3);

    let bad = paddock(home.path())
        .args(["ask", "-p", "openai", "--resume=nope", "hi"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        format!(
            "paddock: no session \"nope\" in {}; see `paddock sessions`.\n",
            sessions_dir(home.path()).display()
        )
    );
}

/// Two providers, two turns: a priced success, an error, a cut-off answer.
fn fixed_session() -> Session {
    let mut s = Session::with_id("20261126-114233-ab12", "2026-11-26T11:42:33Z");
    let a = ProviderRef::new("openai", "gpt-4o-mini", Protocol::OpenAi);
    let b = ProviderRef::new("claude", "claude-3-5-haiku-latest", Protocol::Anthropic);
    let done = |content: &str, input, output, error: Option<paddock::provider::ErrorKind>| {
        paddock::client::Outcome {
            provider: String::new(),
            model: String::new(),
            content: content.to_owned(),
            finish_reason: error.is_none().then(|| "stop".to_owned()),
            usage: Usage {
                input_tokens: Some(input),
                output_tokens: Some(output),
                ..Usage::default()
            },
            ttft: Some(Duration::from_micros(312_400)),
            latency: Duration::from_micros(1_830_200),
            retries: u32::from(error.is_some()),
            error: error.map(|k| paddock::provider::ApiError::new(k, "slow down")),
            ..Default::default()
        }
    };
    s.begin_answer(&a, "What is TCP?\n\nOne line.");
    s.begin_answer(&b, "What is TCP?\n\nOne line.");
    s.finish_answer(
        "openai",
        &done("A reliable byte stream.\n", 14, 30, None),
        Some(0.0000201),
    );
    s.finish_answer(
        "claude",
        &done("", 14, 0, Some(paddock::provider::ErrorKind::RateLimit)),
        None,
    );
    s.begin_answer(&a, "And UDP?");
    s.append_partial("openai", "Datagrams, no");
    // Turn ids are random (they let concurrent writers merge); the pinned text has none, as
    // files written before ids existed do.
    for p in &mut s.providers {
        for t in &mut p.turns {
            t.id = None;
        }
    }
    s
}

const FIXED_MD: &str = "# paddock session 20261126-114233-ab12

Created 2026-11-26 11:42 UTC · openai (gpt-4o-mini, openai) · claude (claude-3-5-haiku-latest, anthropic)

## Turn 1

> What is TCP?
>
> One line.

### openai · gpt-4o-mini

A reliable byte stream.

*TTFT 312 ms · total 1.83 s · 14 in / 30 out · stop · 0 retries · $0.000020*

### claude · claude-3-5-haiku-latest

*(no text)*

*TTFT 312 ms · total 1.83 s · 14 in / 0 out · 1 retry · error: rate_limit*

## Turn 2

> And UDP?

### openai · gpt-4o-mini

Datagrams, no

*incomplete: still streaming when the session was last saved*

";

const FIXED_JSON: &str = r#"{
  "version": 1,
  "id": "20261126-114233-ab12",
  "created": "2026-11-26T11:42:33Z",
  "providers": [
    {
      "name": "openai",
      "model": "gpt-4o-mini",
      "protocol": "openai",
      "turns": [
        {
          "prompt": "What is TCP?\n\nOne line.",
          "answer": "A reliable byte stream.\n",
          "complete": true,
          "metrics": {
            "ttft_ms": 312.4,
            "latency_ms": 1830.2,
            "input_tokens": 14,
            "output_tokens": 30,
            "finish_reason": "stop",
            "retries": 0,
            "error": null,
            "cost_usd": 0.0000201,
            "tokens_per_sec": 19.1
          },
          "round": 1
        },
        {
          "prompt": "And UDP?",
          "answer": "Datagrams, no",
          "complete": false,
          "metrics": {
            "ttft_ms": null,
            "latency_ms": null,
            "input_tokens": null,
            "output_tokens": null,
            "finish_reason": null,
            "retries": 0,
            "error": null,
            "cost_usd": null
          },
          "round": 2
        }
      ]
    },
    {
      "name": "claude",
      "model": "claude-3-5-haiku-latest",
      "protocol": "anthropic",
      "turns": [
        {
          "prompt": "What is TCP?\n\nOne line.",
          "answer": "",
          "complete": true,
          "metrics": {
            "ttft_ms": 312.4,
            "latency_ms": 1830.2,
            "input_tokens": 14,
            "output_tokens": 0,
            "finish_reason": null,
            "retries": 1,
            "error": "rate_limit",
            "cost_usd": null
          },
          "round": 1
        }
      ]
    }
  ]
}
"#;

#[test]
fn export_markdown_and_json_are_pinned() {
    let home = tempfile::tempdir().unwrap();
    let s = fixed_session();
    s.save(&sessions_dir(home.path())).unwrap();
    let run = |args: &[&str]| {
        let out = paddock(home.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(&["export", "20261126-114233-ab12"]), FIXED_MD);
    assert_eq!(run(&["export", "20261126", "--format", "md"]), FIXED_MD);
    assert_eq!(run(&["export", "last", "--format", "json"]), FIXED_JSON);
    // The JSON export is the session itself: it reads back equal.
    assert_eq!(serde_json::from_str::<Session>(FIXED_JSON).unwrap(), s);

    let mut older = Session::with_id("20261125-090000-0000", "2026-11-25T09:00:00Z");
    older.begin_answer(
        &ProviderRef::new("sim-openai", "sim-gpt-fast", Protocol::OpenAi),
        "A very long first prompt that goes on and on past the width of the column\nsecond line",
    );
    older.save(&sessions_dir(home.path())).unwrap();
    assert_eq!(
        run(&["sessions"]),
        "\
ID                    DATE (UTC)        TURNS  TOKENS  COST       PROVIDERS      FIRST PROMPT
20261126-114233-ab12  2026-11-26 11:42  2      58      $0.000020  openai,claude  What is TCP? …
20261125-090000-0000  2026-11-25 09:00  1      0       -          sim-openai     A very long first prompt that goes on and on past…
"
    );
}

#[test]
fn a_corrupt_session_gets_one_sentence_and_is_left_as_it_was() {
    let home = tempfile::tempdir().unwrap();
    let dir = sessions_dir(home.path());
    fixed_session().save(&dir).unwrap();
    let path = dir.join("20261126-114233-ab12.json");
    let whole = std::fs::read(&path).unwrap();
    let cut = &whole[..whole.len() / 2];
    std::fs::write(&path, cut).unwrap();

    let out = paddock(home.path())
        .args(["export", "20261126-114233-ab12"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let prefix = format!("paddock: session file {} is truncated (", path.display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(
        err.ends_with("; it was left as it is — fix or delete it.\n"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    assert!(out.stdout.is_empty());

    let list = paddock(home.path()).arg("sessions").output().unwrap();
    assert!(list.status.success());
    assert!(String::from_utf8(list.stderr)
        .unwrap()
        .starts_with("paddock: warning: session file "));
    assert_eq!(std::fs::read(&path).unwrap(), cut, "the file is untouched");
}

#[test]
fn a_corrupt_config_gets_one_sentence_and_is_left_as_it_was() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("paddock.toml");
    let bytes = b"[[provider]]\nname = \"local\"\nkind = \"openai\"\nmodle = \"llama3\"\n";
    std::fs::write(&path, bytes).unwrap();
    let out = paddock(home.path())
        .args(["--config", path.to_str().unwrap(), "providers"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "paddock: config file {}: line 4: unknown key `modle` in [[provider]]; did you mean `model`?\n",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn init_writes_the_example_once_and_never_overwrites() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("config/paddock/config.toml");
    let out = paddock(home.path()).arg("init").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        include_str!("../config.example.toml")
    );
    // The written file is a working config.
    let providers = paddock(home.path()).arg("providers").output().unwrap();
    assert!(providers.status.success(), "{providers:?}");

    std::fs::write(&path, "# mine\n").unwrap();
    let again = paddock(home.path()).arg("init").output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(again.stderr).unwrap(),
        format!(
            "paddock: {} already exists; paddock init never overwrites a config — edit it, or move it away first.\n",
            path.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_priced_model_shows_its_cost_in_the_summary_and_the_session() {
    let server = RawServer::start(vec![RawResponse::sse(OPENAI_STREAM.as_bytes(), 16)]).await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    // The stream reports model "gpt-test", 9 tokens in and 2 out.
    std::fs::write(
        &config,
        "[prices.\"gpt-test\"]\ninput = 1.0\noutput = 2.0\n",
    )
    .unwrap();
    let out = paddock(home.path())
        .env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
        .env("OPENAI_API_KEY", "x")
        .args([
            "--config",
            config.to_str().unwrap(),
            "ask",
            "-p",
            "openai",
            "hi",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr
            .trim_end()
            .ends_with("· stop · 0 retries · $0.000013"),
        "{stderr}"
    );
    let s = Session::load(&only_session(home.path())).unwrap();
    let cost = s.provider("openai").unwrap().turns[0]
        .metrics
        .cost_usd
        .unwrap();
    assert!((cost - 0.000013).abs() < 1e-12, "{cost}");
}

/// Two `ask`s started at the same moment get two sessions; `last` (for `export` and a bare
/// `--resume`) is the session used last, so resuming an older one makes it the next `last`.
#[test]
fn same_moment_asks_get_their_own_sessions_and_last_means_last_used() {
    let home = tempfile::tempdir().unwrap();
    let spawn = |prompt: &str| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("paddock"));
        support::clean_env(&mut cmd, home.path());
        cmd.args([
            "--demo",
            "ask",
            "-p",
            "sim-openai",
            "--max-tokens",
            "5",
            prompt,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
    };
    let (mut a, mut b) = (spawn("first of two"), spawn("second of two"));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let mut ids: Vec<String> = std::fs::read_dir(sessions_dir(home.path()))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| p.file_stem().unwrap().to_string_lossy().into())
        })
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 2, "each ask has its own session: {ids:?}");
    let prompt_of = |id: &str| {
        let s = Session::load(&sessions_dir(home.path()).join(format!("{id}.json"))).unwrap();
        s.first_prompt().unwrap().to_owned()
    };
    // Continue the older-created one; it becomes `last`.
    std::thread::sleep(Duration::from_millis(20));
    let out = paddock(home.path())
        .args(["--demo", "ask", "-p", "sim-openai", "--max-tokens", "5"])
        .arg(format!("--resume={}", ids[0]))
        .arg("and again")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = paddock(home.path())
        .args(["export", "last", "--format", "json"])
        .output()
        .unwrap();
    let last: Session = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(last.id, ids[0], "last is the session used last");
    assert_eq!(last.first_prompt(), Some(prompt_of(&ids[0]).as_str()));
    assert_eq!(last.providers[0].turns.len(), 2);
}

/// A turn's settings (model, system prompt, temperature, max tokens) are saved, shown by
/// `export`, and a resumed conversation is sent with them unless a flag says otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn settings_are_saved_exported_and_restored_on_resume() {
    let server = RawServer::start(vec![RawResponse::sse(OPENAI_STREAM.as_bytes(), 64)]).await;
    let home = tempfile::tempdir().unwrap();
    let ask = |args: &[&str]| {
        let out = paddock(home.path())
            .env("OPENAI_BASE_URL", format!("{}/v1", server.base()))
            .env("OPENAI_API_KEY", "x")
            .args(["ask", "-p", "openai"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    ask(&[
        "-m",
        "gpt-custom",
        "--system",
        "Be terse.",
        "--temperature",
        "0.3",
        "--max-tokens",
        "7",
        "first",
    ]);
    ask(&["--resume", "second"]);
    ask(&["--resume", "--temperature", "0.9", "third"]);
    let bodies: Vec<serde_json::Value> = server
        .requests()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3);
    for body in &bodies[1..] {
        assert_eq!(body["model"], "gpt-custom", "{body}");
        assert_eq!(body["messages"][0]["content"], "Be terse.", "{body}");
        assert_eq!(body["max_tokens"], 7, "{body}");
    }
    let temperature = |b: &serde_json::Value| (b["temperature"].as_f64().unwrap() * 100.0).round();
    assert_eq!(temperature(&bodies[1]), 30.0, "restored");
    assert_eq!(
        temperature(&bodies[2]),
        90.0,
        "a flag wins over the saved setting"
    );
    let out = paddock(home.path())
        .args(["export", "last"])
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("### openai · gpt-custom"), "{md}");
    assert!(
        md.contains("*system: Be terse. · temperature 0.3 · max tokens 7*"),
        "{md}"
    );
    assert!(md.contains("temperature 0.9"), "{md}");
}

/// A resumed Anthropic conversation sends each earlier answer's signed thinking back exactly as
/// it came: the thinking block with its signature, before the text.
#[tokio::test(flavor = "multi_thread")]
async fn resume_sends_anthropic_thinking_back_byte_identical() {
    let thought = "Let me think: \\\"quotes\\\", é and \\u00e9.";
    let signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds";
    let stream = format!(
        "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"model\":\"claude-test\",\"usage\":{{\"input_tokens\":5,\"output_tokens\":1}}}}}}\n\n\
event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}}}\n\n\
event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"thinking_delta\",\"thinking\":\"{thought}\"}}}}\n\n\
event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"signature_delta\",\"signature\":\"{signature}\"}}}}\n\n\
event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n\
event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{{\"type\":\"text_delta\",\"text\":\"Four.\"}}}}\n\n\
event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":20}}}}\n\n\
event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
    );
    let server = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 50)]).await;
    let home = tempfile::tempdir().unwrap();
    let ask = |args: &[&str]| {
        let out = paddock(home.path())
            .env("ANTHROPIC_BASE_URL", server.base())
            .env("ANTHROPIC_API_KEY", "x")
            .args(["ask", "-p", "anthropic"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    ask(&["2+2?"]);
    ask(&["--resume", "and 3+3?"]);
    let second: serde_json::Value = serde_json::from_str(&server.requests()[1].body).unwrap();
    let decoded_thought: String = serde_json::from_str(&format!("\"{thought}\"")).unwrap();
    assert_eq!(
        second["messages"][1]["content"],
        serde_json::json!([
            {"type": "thinking", "thinking": decoded_thought, "signature": signature},
            {"type": "text", "text": "Four."}
        ]),
        "{second}"
    );
    assert_eq!(second["messages"][2]["content"], "and 3+3?");
}

/// Redacted thinking has no text, only `data`: the session keeps it with the turn, and a resumed
/// conversation sends every block back exactly as it came and in its order (signed thinking,
/// redacted thinking, then a second signed block), before the answer.
#[tokio::test(flavor = "multi_thread")]
async fn resume_sends_signed_and_redacted_thinking_back_in_order() {
    let thought = "First, \\\"quote\\\" \\u00e9 é.";
    let (sig_a, sig_b) = ("EqQBsigA+/==", "ErUCsigB/+==");
    let data =
        "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YRAt6fjqpnE1gkTcT";
    let block = |i: u8, start: String, deltas: &[String]| {
        let mut out = format!("event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":{i},\"content_block\":{start}}}\n\n");
        for d in deltas {
            out.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{i},\"delta\":{d}}}\n\n"));
        }
        out.push_str(&format!("event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":{i}}}\n\n"));
        out
    };
    let thinking = |text: &str, sig: &str| {
        [
            format!("{{\"type\":\"thinking_delta\",\"thinking\":\"{text}\"}}"),
            format!("{{\"type\":\"signature_delta\",\"signature\":\"{sig}\"}}"),
        ]
    };
    let empty_thinking = "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}".to_owned();
    let stream = [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-test\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n".to_owned(),
        block(0, empty_thinking.clone(), &thinking(thought, sig_a)),
        block(1, format!("{{\"type\":\"redacted_thinking\",\"data\":\"{data}\"}}"), &[]),
        block(2, empty_thinking, &thinking("Then more.", sig_b)),
        block(3, "{\"type\":\"text\",\"text\":\"\"}".to_owned(), &["{\"type\":\"text_delta\",\"text\":\"Four.\"}".to_owned()]),
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":20}}\n\n".to_owned(),
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_owned(),
    ]
    .concat();
    let server = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 7)]).await;
    let home = tempfile::tempdir().unwrap();
    let ask = |args: &[&str]| {
        let out = paddock(home.path())
            .env("ANTHROPIC_BASE_URL", server.base())
            .env("ANTHROPIC_API_KEY", "x")
            .args(["ask", "-p", "anthropic"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    ask(&["2+2?"]);
    let decoded: String = serde_json::from_str(&format!("\"{thought}\"")).unwrap();
    let blocks = serde_json::json!([
        {"type": "thinking", "thinking": decoded, "signature": sig_a},
        {"type": "redacted_thinking", "data": data},
        {"type": "thinking", "thinking": "Then more.", "signature": sig_b},
    ]);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(only_session(home.path())).unwrap()).unwrap();
    let turn = &saved["providers"][0]["turns"][0];
    assert_eq!(turn["thinking_blocks"], blocks, "{turn}");
    assert_eq!(turn["reasoning"], format!("{decoded}Then more."));

    ask(&["--resume", "and 3+3?"]);
    let second: serde_json::Value = serde_json::from_str(&server.requests()[1].body).unwrap();
    let mut want = blocks.as_array().unwrap().clone();
    want.push(serde_json::json!({"type": "text", "text": "Four."}));
    assert_eq!(
        second["messages"][1]["content"],
        serde_json::Value::Array(want),
        "{second}"
    );
    // The opaque strings go out byte for byte.
    let raw = &server.requests()[1].body;
    for s in [sig_a, sig_b, data] {
        assert!(raw.contains(&format!("\"{s}\"")), "{raw}");
    }
    assert_eq!(second["messages"][2]["content"], "and 3+3?");
}

/// `send_reasoning` decides whether an OpenAI-compatible server gets each earlier answer's
/// reasoning back (`reasoning_content` on its assistant message): off by default, since some
/// servers refuse it; on for the servers that need it.
#[tokio::test(flavor = "multi_thread")]
async fn send_reasoning_puts_earlier_reasoning_on_the_assistant_message_only_when_set() {
    let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"Weighing \\\"it\\\" é.\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Four.\",\"reasoning_content\":null},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";
    for send in [None, Some(false), Some(true)] {
        let server = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 9)]).await;
        let home = tempfile::tempdir().unwrap();
        let setting = send.map_or(String::new(), |b| format!("send_reasoning = {b}\n"));
        std::fs::write(
            home.path().join("paddock.toml"),
            format!(
                "[[provider]]\nname = \"ds\"\nkind = \"openai\"\nmodel = \"deepseek-reasoner\"\nbase_url = \"{}/v1\"\nmax_retries = 0\n{setting}",
                server.base()
            ),
        )
        .unwrap();
        for args in [&["2+2?"][..], &["--resume", "and 3+3?"]] {
            let out = paddock(home.path())
                .args(["--config", "paddock.toml", "ask", "-p", "ds"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
        }
        let second: serde_json::Value = serde_json::from_str(&server.requests()[1].body).unwrap();
        let mut want = serde_json::json!({"role": "assistant", "content": "Four."});
        if send == Some(true) {
            want["reasoning_content"] = serde_json::json!("Weighing \"it\" é.");
        }
        assert_eq!(
            second["messages"][1], want,
            "send_reasoning {send:?}: {second}"
        );
        assert_eq!(second["messages"][2]["content"], "and 3+3?");
    }
}
