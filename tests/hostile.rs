//! Outside input is hostile (DESIGN.md §3b), through the real binary against byte-exact loopback
//! servers: one test per class of attack — numbers, terminal injection, redirects, memory bounds,
//! time bounds, misreports, concurrent writers and file modes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{RawResponse, RawServer};

const MAX: u64 = u64::MAX;

// ---------------------------------------------------------------------------------------------
// Helpers

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One OpenAI stream: the deltas, then the finish reason, then usage (when given), then `[DONE]`
/// (when asked for). `model` goes in every chunk, as servers send it.
fn openai_stream(
    model: &str,
    deltas: &[&str],
    finish: &str,
    usage: Option<Value>,
    done: bool,
) -> String {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "c", "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut out = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    for d in deltas {
        out.push_str(&chunk(json!({ "content": d }), Value::Null));
    }
    out.push_str(&chunk(json!({}), json!(finish)));
    if let Some(u) = usage {
        let c = json!({"id": "c", "model": model, "choices": [], "usage": u});
        out.push_str(&format!("data: {c}\n\n"));
    }
    if done {
        out.push_str("data: [DONE]\n\n");
    }
    out
}

/// A plain, well-formed OpenAI stream answering "Hello world".
fn hello_stream() -> String {
    openai_stream(
        "gpt-test",
        &["Hello", " world"],
        "stop",
        Some(json!({"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11})),
        true,
    )
}

/// One Anthropic Messages stream with these deltas, model and stop reason.
fn anthropic_stream(model: &str, deltas: &[&str], stop: &str) -> String {
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut out = ev(
        "message_start",
        json!({"type": "message_start", "message": {"model": model, "usage": {"input_tokens": 7, "output_tokens": 1}}}),
    );
    out.push_str(&ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    for d in deltas {
        out.push_str(&ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}}),
        ));
    }
    out.push_str(&ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push_str(&ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 3}}),
    ));
    out.push_str(&ev("message_stop", json!({"type": "message_stop"})));
    out
}

/// `OPENAI_BASE_URL` for the builtin `openai` provider pointed at `server`.
fn openai_at(server: &RawServer) -> (&'static str, String) {
    ("OPENAI_BASE_URL", format!("{}/v1", server.base()))
}

/// `ANTHROPIC_BASE_URL` for the builtin `anthropic` provider pointed at `server`.
fn anthropic_at(server: &RawServer) -> (&'static str, String) {
    ("ANTHROPIC_BASE_URL", server.base())
}

/// Write a config file `name` in `home` and return its path.
fn write_config(home: &Path, name: &str, body: &str) -> PathBuf {
    let path = home.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// A config replacing the builtin `openai` provider: pointed at `base`, with `extra` keys.
fn openai_config(home: &Path, base: &str, extra: &str) -> PathBuf {
    write_config(
        home,
        "paddock.toml",
        &format!(
            "[[provider]]\nname = \"openai\"\nkind = \"openai\"\nmodel = \"gpt-test\"\n\
             base_url = \"{base}/v1\"\napi_key_env = \"OPENAI_API_KEY\"\n{extra}\n"
        ),
    )
}

/// The binary with both builtin keys set to `x`, the given environment and arguments.
fn run(home: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut cmd = support::paddock(home);
    cmd.env("OPENAI_API_KEY", "x").env("ANTHROPIC_API_KEY", "x");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

/// [`run`] with `--config PATH` before the arguments.
fn run_with(home: &Path, config: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    run(home, &[], &all)
}

/// The one JSON object `--json` prints.
fn json_out(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one JSON line; stdout: {stdout:?}; stderr: {}",
        text(&out.stderr)
    );
    serde_json::from_str(lines[0]).unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {:?}\nstderr: {:?}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// The only session file in `home` (its id is the file stem).
fn only_session_id(home: &Path) -> String {
    let files: Vec<PathBuf> = std::fs::read_dir(home.join("data/paddock/sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].file_stem().unwrap().to_string_lossy().into_owned()
}

/// Nothing a terminal would act on: no ESC, no BEL, no 8-bit CSI, no bidi override.
fn assert_inert(what: &str, s: &str) {
    for (c, name) in [
        ('\u{1b}', "ESC"),
        ('\u{7}', "BEL"),
        ('\u{9b}', "U+009B"),
        ('\u{202e}', "U+202E"),
    ] {
        assert!(!s.contains(c), "{what} holds {name}: {s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Numbers

/// Class: numbers. Absurd header values are absent (not a panic), out-of-range config numbers are
/// one sentence naming file, line and key, token sums saturate, and a session file holding absurd
/// timings and `u64::MAX` counts lists, exports and resumes.
#[tokio::test(flavor = "multi_thread")]
async fn numbers_from_outside_are_checked() {
    let absurd = |r: RawResponse| {
        r.header("retry-after-ms", "1e308")
            .header("retry-after", "1e20")
            .header("x-ratelimit-reset-requests", "100000000000000000000000s")
            .header("x-ratelimit-reset-tokens", "100000000000000000000000s")
            .header("anthropic-ratelimit-requests-reset", "9999-12-31T23:59:59Z")
            .header("anthropic-ratelimit-tokens-reset", "9999-12-31T23:59:59Z")
    };
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // Absurd rate-limit headers on a good answer, for both wire families.
    let oa = RawServer::start(vec![absurd(RawResponse::sse(
        hello_stream().as_bytes(),
        64,
    ))])
    .await;
    let out = run(h, &[openai_at(&oa)], &["ask", "-p", "openai", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "Hello world\n");
    let an = RawServer::start(vec![absurd(RawResponse::sse(
        anthropic_stream("claude-test", &["Bonjour"], "end_turn").as_bytes(),
        64,
    ))])
    .await;
    let out = run(h, &[anthropic_at(&an)], &["ask", "-p", "anthropic", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "Bonjour\n");

    // Out-of-range config numbers: exit 2, one sentence with the file, the line and the key.
    for (key, value) in [("read_timeout_secs", "1e300"), ("temperature", "nan")] {
        let body = format!(
            "# hostile numbers\n[[provider]]\nname = \"openai\"\nkind = \"openai\"\nmodel = \"m\"\n\
             base_url = \"{}/v1\"\n{key} = {value}\n",
            oa.base()
        );
        let line = body.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        let cfg = write_config(h, &format!("{key}.toml"), &body);
        let out = run_with(h, &cfg, &["ask", "-p", "openai", "hi"]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = text(&out.stderr);
        assert!(err.contains(&cfg.display().to_string()), "{err}");
        assert!(err.contains(&format!("line {line}")), "{err}");
        assert!(err.contains(key), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }

    // Usage counts at u64::MAX: the total saturates instead of wrapping (or panicking).
    let stream = openai_stream(
        "gpt-test",
        &["big"],
        "stop",
        Some(json!({"prompt_tokens": MAX, "completion_tokens": MAX})),
        true,
    );
    let big = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 64)]).await;
    let out = run(
        h,
        &[openai_at(&big)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["input_tokens"].as_u64(), Some(MAX));
    assert_eq!(v["output_tokens"].as_u64(), Some(MAX));
    assert_eq!(v["total_tokens"].as_u64(), Some(MAX));

    // A session file with absurd timings and counts.
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let id = "20261201-000000-abcd";
    let turn = |prompt: &str| {
        json!({"prompt": prompt, "answer": "hello", "complete": true, "metrics": {
            "ttft_ms": 1e300, "latency_ms": 1e300, "input_tokens": MAX, "output_tokens": MAX,
            "finish_reason": "stop", "retries": u32::MAX, "error": null, "cost_usd": 1e300}})
    };
    let session = json!({"version": 1, "id": id, "created": "2026-12-01T00:00:00Z",
        "providers": [{"name": "openai", "model": "gpt-test", "protocol": "openai",
            "turns": [turn("one"), turn("two")]}]});
    let dir = h.join("data/paddock/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{id}.json")), session.to_string()).unwrap();
    let tokens_column = |h: &Path| {
        let out = run(h, &[], &["sessions"]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let list = text(&out.stdout);
        let header: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header[..5],
            ["ID", "DATE", "(UTC)", "TURNS", "TOKENS"],
            "{list}"
        );
        let row = list.lines().find(|l| l.starts_with(id)).unwrap().to_owned();
        // ID, date, time, turns, tokens.
        row.split_whitespace().nth(4).unwrap().to_owned()
    };
    assert_eq!(tokens_column(h), MAX.to_string());
    for format in ["md", "json"] {
        let out = run(h, &[], &["export", id, "--format", format]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(
            text(&out.stdout).contains(&MAX.to_string()),
            "{}",
            describe(&out)
        );
    }
    // Resuming it reads those metrics back and adds a turn; the sum still saturates.
    let out = run(
        h,
        &[openai_at(&oa)],
        &["ask", "-p", "openai", &format!("--resume={id}"), "three"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "Hello world\n");
    assert_eq!(tokens_column(h), MAX.to_string());
}

// ---------------------------------------------------------------------------------------------
// 2. Terminal injection

/// The attack: OSC 52 (clipboard), OSC 0 (title) with ST, clear screen, cursor move, DCS, BEL,
/// 8-bit CSI, a bidi override; visible letters between them.
const ATTACK: &str = "A\u{1b}]52;c;aGk=\u{7}B\u{1b}]0;pwn\u{1b}\\C\u{1b}[2JD\u{1b}[5;5HE\u{1b}P1$r\u{1b}\\F\u{7}G\u{9b}2JH\u{202e}I";
const ATTACK_SHOWN: &str = "ABCDEFGHI";
const EVIL_MODEL: &str = "gpt\u{1b}[31mred";
const EVIL_FINISH: &str = "stop\u{1b}[31m";

/// Class: terminal injection. Escape and control sequences from a server reach no terminal (text
/// stdout, stderr lines, the race table, the Markdown export) while `--raw` and `--json` keep the
/// bytes exact.
#[tokio::test(flavor = "multi_thread")]
async fn escape_sequences_from_servers_never_reach_the_terminal() {
    // The attack split every 3 characters, so sequences straddle deltas.
    let chars: Vec<char> = ATTACK.chars().collect();
    let pieces: Vec<String> = chars.chunks(3).map(|c| c.iter().collect()).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let usage = json!({"prompt_tokens": 3, "completion_tokens": 9});
    let stream = openai_stream(EVIL_MODEL, &pieces, EVIL_FINISH, Some(usage), true);
    let oa = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 7)]).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // Text mode: clean, visible text kept.
    let out = run(h, &[openai_at(&oa)], &["ask", "-p", "openai", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), format!("{ATTACK_SHOWN}\n"));
    let err = text(&out.stderr);
    assert_inert("ask stderr", &err);
    assert!(err.contains("openai gptred"), "{err}");
    assert!(err.contains("stop"), "{err}");

    // The Markdown export of the session that ask saved.
    let id = only_session_id(h);
    let out = run(h, &[], &["export", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let md = text(&out.stdout);
    assert_inert("export markdown", &md);
    assert!(md.contains(ATTACK_SHOWN), "{md}");
    // The finish reason came with an escape; the session names the configured model.
    assert!(md.contains(" · stop · "), "{md}");
    // The JSON export keeps what the server sent.
    let out = run(h, &[], &["export", &id, "--format", "json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["providers"][0]["turns"][0]["answer"], ATTACK);

    // --raw: byte-exact.
    let out = run(
        h,
        &[openai_at(&oa)],
        &["ask", "-p", "openai", "--raw", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(out.stdout, format!("{ATTACK}\n").into_bytes());
    assert_inert("ask --raw stderr", &text(&out.stderr));

    // --json: exact, JSON-escaped.
    let out = run(
        h,
        &[openai_at(&oa)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!out.stdout.contains(&0x1b), "ESC is escaped in JSON");
    let v = json_out(&out);
    assert_eq!(v["content"], ATTACK);
    assert_eq!(v["model"], EVIL_MODEL);
    assert_eq!(v["finish_reason"], EVIL_FINISH);

    // An HTTP 500 whose message holds escapes: the retry line and the final sentence are clean.
    let message = "boom \u{1b}]0;pwn\u{7} \u{1b}[2J\u{9b}2J\u{202e} end";
    let body = json!({"error": {"message": message, "type": "server_error", "code": null}});
    let failing = RawServer::start(vec![RawResponse::json(500, &body.to_string())]).await;
    let cfg = openai_config(h, &failing.base(), "max_retries = 1");
    let out = run_with(h, &cfg, &["ask", "-p", "openai", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = text(&out.stderr);
    assert_inert("error stderr", &err);
    let retry = err
        .lines()
        .find(|l| l.contains("retry 1/1"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(retry.contains("boom") && retry.contains("end"), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("paddock: openai: server (HTTP 500): boom"),
        "{err}"
    );
    assert!(last.contains(" end"), "{err}");
    assert_eq!(failing.requests().len(), 2);

    // The race table, both wire families.
    let an = RawServer::start(vec![RawResponse::sse(
        anthropic_stream("claude\u{1b}]0;t\u{7}x", &pieces, "end_turn\u{1b}[2J").as_bytes(),
        5,
    )])
    .await;
    let out = run(
        h,
        &[openai_at(&oa), anthropic_at(&an)],
        &["race", "-p", "openai,anthropic", "--no-save", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let table = text(&out.stdout);
    assert_inert("race stdout", &table);
    assert_inert("race stderr", &text(&out.stderr));
    assert!(table.contains("gptred"), "{table}");
    assert!(table.contains("claudex"), "{table}");
    assert!(table.contains("end_turn"), "{table}");
}

// ---------------------------------------------------------------------------------------------
// 3. Redirects

/// Class: redirects. A redirect to another origin (302, 307, 308) is not followed, so neither the
/// `Authorization` header (openai kind) nor `x-api-key` (anthropic kind) nor the prompt reaches
/// it; the failure is one sentence naming the target and the kind `redirect`. A same-origin 307
/// is followed.
#[tokio::test(flavor = "multi_thread")]
async fn redirects_never_carry_the_key_to_another_origin() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for kind in ["openai", "anthropic"] {
        for status in [302u16, 307, 308] {
            let other =
                RawServer::start(vec![RawResponse::sse(hello_stream().as_bytes(), 64)]).await;
            let path = if kind == "openai" {
                "/v1/chat/completions"
            } else {
                "/v1/messages"
            };
            let target = format!("{}{path}", other.base());
            let first = RawServer::start(vec![
                RawResponse::json(status, "").header("location", &target)
            ])
            .await;
            let env = if kind == "openai" {
                openai_at(&first)
            } else {
                anthropic_at(&first)
            };
            let out = run(h, &[env], &["ask", "-p", kind, "secret prompt"]);
            let case = format!("{kind} {status}: {}", describe(&out));
            assert_ne!(out.status.code(), Some(0), "{case}");
            assert!(
                other.requests().is_empty(),
                "the other origin got a request: {case}"
            );
            assert_eq!(first.requests().len(), 1, "{case}");
            let first_head = first.requests()[0].head.to_ascii_lowercase();
            let key_header = if kind == "openai" {
                "authorization:"
            } else {
                "x-api-key:"
            };
            assert!(
                first_head.contains(key_header),
                "the key went to the origin: {case}"
            );
            let err = text(&out.stderr);
            let sentence = err.lines().last().unwrap_or_default();
            assert!(sentence.contains(&other.addr.to_string()), "{case}");
            assert!(sentence.contains("redirect"), "{case}");
            assert!(
                sentence.starts_with(&format!("paddock: {kind}: redirect (HTTP {status})")),
                "{case}"
            );
            assert!(sentence.ends_with('.'), "{case}");
        }
    }

    // Same origin, another path, 307: followed, method and body kept.
    let same = RawServer::start(vec![
        RawResponse::json(307, "").header("location", "/v1/moved/chat/completions"),
        RawResponse::sse(hello_stream().as_bytes(), 64),
    ])
    .await;
    let out = run(
        h,
        &[openai_at(&same)],
        &["ask", "-p", "openai", "moved prompt"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "Hello world\n");
    let seen = same.requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].head.starts_with("POST /v1/moved/chat/completions "),
        "{}",
        seen[1].head
    );
    assert!(seen[1].body.contains("moved prompt"));
}

// ---------------------------------------------------------------------------------------------
// 4. Memory bounds

/// Class: memory bounds (functional). An endless SSE line, a huge error body, a whole body past
/// `max_body_bytes` and an answer past `max_answer_bytes` each end as `too_large` (or a short
/// message), quickly, with the partial answer kept.
#[tokio::test(flavor = "multi_thread")]
async fn every_buffer_has_a_bound() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // One `data:` line of 5 MiB and no newline (the default bound is 4 MiB).
    let mut body = b"data: ".to_vec();
    body.extend(std::iter::repeat_n(b'a', 5 << 20));
    let endless = RawServer::start(vec![RawResponse::sse(&body, 64 << 10)]).await;
    let started = Instant::now();
    let out = run(
        h,
        &[openai_at(&endless)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["error"]["kind"], "too_large", "{v}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(endless.requests().len(), 1, "not retried");

    // A 2 MiB error body: the message stays short.
    let huge = json!({"error": {"message": "x".repeat(2 << 20), "type": "server_error"}});
    let failing = RawServer::start(vec![RawResponse::json(500, &huge.to_string())]).await;
    let cfg = openai_config(h, &failing.base(), "max_retries = 0");
    let out = run_with(h, &cfg, &["ask", "-p", "openai", "--json", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["error"]["status"], 500);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.len() < 1000, "{} chars", message.len());
    assert!(
        out.stderr.len() < 1000,
        "{} bytes of stderr",
        out.stderr.len()
    );

    // A non-streaming body past max_body_bytes.
    let completion = json!({"id": "c", "model": "gpt-test", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "z".repeat(100_000)}, "finish_reason": "stop"}]});
    let whole = RawServer::start(vec![RawResponse::json(200, &completion.to_string())]).await;
    let cfg = openai_config(h, &whole.base(), "max_body_bytes = 65536");
    let out = run_with(
        h,
        &cfg,
        &["ask", "-p", "openai", "--no-stream", "--json", "hi"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["error"]["kind"], "too_large", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_body_bytes"),
        "{v}"
    );

    // Many small deltas past max_answer_bytes: too_large, the text before the bound kept.
    let deltas: Vec<String> = (0..200)
        .map(|i| format!("{i:04}{}", "y".repeat(46)))
        .collect();
    let full: String = deltas.concat();
    let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
    let stream = openai_stream("gpt-test", &refs, "stop", None, true);
    let long = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 512)]).await;
    let cfg = openai_config(h, &long.base(), "max_answer_bytes = 4096");
    let out = run_with(h, &cfg, &["ask", "-p", "openai", "--json", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["error"]["kind"], "too_large", "{v}");
    let content = v["content"].as_str().unwrap();
    assert!(content.len() <= 4096, "{} bytes", content.len());
    assert!(
        content.len() > 4096 - 50,
        "the partial is kept: {} bytes",
        content.len()
    );
    assert!(full.starts_with(content));
}

// ---------------------------------------------------------------------------------------------
// 5. Time bounds

/// `ask --json` with `config` and `args` before the prompt: it must end in a timeout error
/// before `within`.
fn times_out(home: &Path, config: &Path, args: &[&str], within: Duration) {
    let mut all = vec!["ask", "-p", "openai", "--json"];
    all.extend_from_slice(args);
    all.push("hi");
    let started = Instant::now();
    let out = run_with(home, config, &all);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        json_out(&out)["error"]["kind"],
        "timeout",
        "{}",
        describe(&out)
    );
    assert!(took < within, "{took:?}");
}

/// Class: time bounds. Keep-alives do not count as progress, a server that never sends headers
/// meets the first-token deadline (retries included), and `api_key_cmd` has a timeout and its
/// output a shape.
#[tokio::test(flavor = "multi_thread")]
async fn every_wait_has_a_bound() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // Only keep-alive comments, every 200 ms, for 20 s.
    let keepalive = RawResponse {
        slices: vec![b": keep-alive\n\n".to_vec(); 100],
        gap: Duration::from_millis(200),
        ..RawResponse::sse(b"", 1)
    };
    let server = RawServer::start(vec![keepalive]).await;
    let cfg = openai_config(h, &server.base(), "read_timeout_secs = 1\nmax_retries = 0");
    times_out(h, &cfg, &[], Duration::from_secs(3));

    // A server that accepts and never answers: the first-token deadline covers the retries.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(sock);
        }
    });
    let cfg = openai_config(
        h,
        &format!("http://{addr}"),
        "first_token_timeout_secs = 1\nmax_retries = 2",
    );
    times_out(h, &cfg, &[], Duration::from_secs(4));
    assert!(accepted.load(Ordering::SeqCst) >= 1);

    // The same server, with read_timeout_secs shorter than the first-token deadline: any
    // silence from the server is bounded by it, the wait for the response head too.
    let cfg = openai_config(
        h,
        &format!("http://{addr}"),
        "read_timeout_secs = 1\nmax_retries = 0",
    );
    times_out(h, &cfg, &[], Duration::from_secs(4));

    // A whole (non-streamed) answer whose body stops halfway.
    let answer = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Bonjour"},"finish_reason":"stop"}]}"#;
    let (head, tail) = answer.split_at(20);
    let stalled = RawResponse {
        slices: vec![head.as_bytes().to_vec(), tail.as_bytes().to_vec()],
        gap: Duration::from_secs(30),
        ..RawResponse::json(200, answer)
    };
    let server = RawServer::start(vec![stalled]).await;
    let cfg = openai_config(h, &server.base(), "read_timeout_secs = 1\nmax_retries = 0");
    times_out(h, &cfg, &["--no-stream"], Duration::from_secs(4));

    // A key command that hangs.
    let quiet = RawServer::start(vec![RawResponse::sse(hello_stream().as_bytes(), 64)]).await;
    let cfg = write_config(
        h,
        "slow-key.toml",
        &format!(
            "[[provider]]\nname = \"slow\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\n\
             api_key_cmd = \"sleep 30\"\napi_key_cmd_timeout_secs = 0.5\n",
            quiet.base()
        ),
    );
    let started = Instant::now();
    let out = run_with(h, &cfg, &["ask", "-p", "slow", "hi"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("api_key_cmd"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A key command printing two lines: said so, not a connection error.
    let cfg = write_config(
        h,
        "two-line-key.toml",
        &format!(
            "[[provider]]\nname = \"twoline\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\n\
             api_key_cmd = \"printf 'a\\\\nb'\"\n",
            quiet.base()
        ),
    );
    let out = run_with(h, &cfg, &["ask", "-p", "twoline", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("2 lines"), "{err}");
    assert!(!err.contains("connection"), "{err}");
    assert!(quiet.requests().is_empty(), "no request was sent");
}

// ---------------------------------------------------------------------------------------------
// 6. Misreports

/// Class: misreports. An HTML page sent as a 200 stream, a complete stream without `[DONE]`, an
/// undecodable event mid-stream, a 429 asking for an hour, a proxy's mid-stream error with the
/// status in `code`, and the other family's rate-limit headers are each reported for what they
/// are.
#[tokio::test(flavor = "multi_thread")]
async fn misreporting_servers_are_reported_for_what_they_are() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // HTML as a 200 "stream": bad_response, not retried, not called a partial answer.
    let html = RawResponse {
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        ..RawResponse::sse(
            b"<!DOCTYPE html>\n<html><body><form>Sign in to the proxy</form></body></html>\n",
            32,
        )
    };
    let server = RawServer::start(vec![html]).await;
    let out = run(h, &[openai_at(&server)], &["ask", "-p", "openai", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(server.requests().len(), 1, "not retried");
    let err = text(&out.stderr);
    assert!(err.contains("HTML"), "{err}");
    assert!(!err.contains("partial text"), "{err}");
    assert!(!text(&out.stdout).contains("Sign in"));
    let out = run(
        h,
        &[openai_at(&server)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    assert_eq!(json_out(&out)["error"]["kind"], "bad_response");
    assert_eq!(server.requests().len(), 2);

    // A complete stream (finish reason and usage) that closes without [DONE].
    let stream = openai_stream(
        "gpt-test",
        &["Hello", " world"],
        "stop",
        Some(json!({"prompt_tokens": 9, "completion_tokens": 2})),
        false,
    );
    let server = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 64)]).await;
    let out = run(
        h,
        &[openai_at(&server)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["content"], "Hello world");
    assert_eq!(v["finish_reason"], "stop");
    assert!(v["error"].is_null());

    // One undecodable event (a raw NUL inside a string; a number out of range) among good ones.
    for bad in [
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\0y\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":1e999}}\n\n",
    ] {
        let good = hello_stream();
        // Between the "Hello" and the " world" events.
        let split = good.match_indices("data: ").nth(2).unwrap().0;
        let stream = format!("{}{bad}{}", &good[..split], &good[split..]);
        let server = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 64)]).await;
        let out = run(h, &[openai_at(&server)], &["ask", "-p", "openai", "--json", "hi"]);
        assert_eq!(out.status.code(), Some(0), "{bad:?}: {}", describe(&out));
        let v = json_out(&out);
        assert_eq!(v["content"], "Hello world", "{bad:?}");
        assert_eq!(v["skipped_events"], 1, "{bad:?}: {v}");
        let out = run(h, &[openai_at(&server)], &["ask", "-p", "openai", "hi"]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let summary = text(&out.stderr);
        assert!(summary.contains("skipped"), "{summary}");
    }
    // A clean stream says nothing of skipping.
    let clean = RawServer::start(vec![RawResponse::sse(hello_stream().as_bytes(), 64)]).await;
    let v = json_out(&run(
        h,
        &[openai_at(&clean)],
        &["ask", "-p", "openai", "--json", "hi"],
    ));
    assert!(v.get("skipped_events").is_none(), "{v}");

    // A 429 asking for an hour: retriable, but not retried, and the JSON says why.
    let body = json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
    let limited = RawServer::start(vec![
        RawResponse::json(429, &body.to_string()).header("retry-after", "3600")
    ])
    .await;
    let started = Instant::now();
    let out = run(
        h,
        &[openai_at(&limited)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["error"]["kind"], "rate_limit", "{v}");
    assert_eq!(v["error"]["retriable"], true, "{v}");
    let why = v["error"]["not_retried"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(why.contains("3600"), "{why}");
    assert_eq!(limited.requests().len(), 1);
    assert!(text(&out.stderr).contains("3600"), "{}", describe(&out));

    // LiteLLM's mid-stream error: the upstream status in `code`, `type` null.
    let stream = "data: {\"id\":\"c\",\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"partial \"},\"finish_reason\":null}]}\n\n\
                  data: {\"error\": {\"message\": \"upstream failed\", \"type\": null, \"code\": \"500\"}}\n\n";
    let proxy = RawServer::start(vec![RawResponse::sse(stream.as_bytes(), 64)]).await;
    let out = run(
        h,
        &[openai_at(&proxy)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json_out(&out);
    assert_eq!(v["error"]["kind"], "server", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("upstream failed"));
    assert_eq!(v["content"], "partial ");

    // An anthropic-kind server sending OpenAI-family rate-limit headers (a proxy): fine.
    let an = RawServer::start(vec![RawResponse::sse(
        anthropic_stream("claude-test", &["Bonjour"], "end_turn").as_bytes(),
        64,
    )
    .header("x-ratelimit-limit-requests", "10")
    .header("x-ratelimit-remaining-requests", "9")
    .header("x-ratelimit-reset-requests", "6s")
    .header("x-ratelimit-limit-tokens", "1000")
    .header("x-ratelimit-remaining-tokens", "990")
    .header("x-ratelimit-reset-tokens", "100000000000000000000000s")])
    .await;
    let out = run(h, &[anthropic_at(&an)], &["ask", "-p", "anthropic", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "Bonjour\n");
}

// ---------------------------------------------------------------------------------------------
// 7. Concurrency

/// One `ask` creating a session, then four `ask --resume=ID` processes (prompts `prompt-0` to
/// `prompt-3`) started `stagger` apart and all running at once; returns the `openai` turns of the
/// session file afterwards (via `export ID --format json`).
fn four_resumed_writers(h: &Path, server: &RawServer, stagger: Duration) -> Vec<Value> {
    let base = format!("{}/v1", server.base());
    let out = run(
        h,
        &[("OPENAI_BASE_URL", base.clone())],
        &["ask", "-p", "openai", "first"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let id = only_session_id(h);

    let children: Vec<_> = (0..4)
        .map(|i| {
            std::thread::sleep(stagger);
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("paddock"));
            support::clean_env(&mut cmd, h);
            cmd.env("OPENAI_API_KEY", "x")
                .env("OPENAI_BASE_URL", &base)
                .args([
                    "ask",
                    "-p",
                    "openai",
                    &format!("--resume={id}"),
                    &format!("prompt-{i}"),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert_eq!(text(&out.stdout), "Hello world\n", "{}", describe(&out));
    }

    let out = run(h, &[], &["export", &id, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let provider = s["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "openai")
        .unwrap()
        .clone();
    provider["turns"].as_array().unwrap().clone()
}

/// Class: concurrent writers. Four `ask --resume=ID` processes at once on one session: every
/// new turn is in the file (no writer overwrote another's turns).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_of_one_session_lose_no_turn() {
    let server = RawServer::start(vec![RawResponse::sse(hello_stream().as_bytes(), 64)]).await;
    let home = tempfile::tempdir().unwrap();
    let turns = four_resumed_writers(home.path(), &server, Duration::ZERO);
    let prompts: Vec<&str> = turns
        .iter()
        .map(|t| t["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(turns.len(), 5, "{prompts:?}");
    assert_eq!(prompts[0], "first");
    for i in 0..4 {
        let p = format!("prompt-{i}");
        assert_eq!(
            prompts.iter().filter(|q| **q == p).count(),
            1,
            "{prompts:?}"
        );
    }
}

/// Class: concurrent writers, the answers. Writers that resumed the session after another began
/// its turn hold that turn as it was then (empty, incomplete); their later saves must not put it
/// back over the finished answer. The stream is slow and the writers staggered, so every writer
/// after the first loads the others' begun turns before any of them finishes.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_of_one_session_keep_every_finished_answer() {
    let slow = RawResponse {
        gap: Duration::from_millis(100),
        ..RawResponse::sse(hello_stream().as_bytes(), 100)
    };
    let server = RawServer::start(vec![slow]).await;
    let home = tempfile::tempdir().unwrap();
    let turns = four_resumed_writers(home.path(), &server, Duration::from_millis(60));
    assert_eq!(turns.len(), 5);
    let summary: Vec<String> = turns
        .iter()
        .map(|t| {
            format!(
                "{} complete={} answer={}",
                t["prompt"], t["complete"], t["answer"]
            )
        })
        .collect();
    eprintln!("turns on disk: {summary:#?}");
    for t in &turns {
        assert_eq!(t["complete"], true, "a finished turn was lost: {t}");
        assert_eq!(
            t["answer"], "Hello world",
            "a finished answer was lost: {t}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 8. File modes

/// Class: file modes. The state, data and sessions directories are 0700; the log, the request
/// log and the session file are 0600.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn files_paddock_writes_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = RawServer::start(vec![RawResponse::sse(hello_stream().as_bytes(), 64)]).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let log = h.join("state/paddock/paddock.log");
    let out = run(
        h,
        &[openai_at(&server), ("PADDOCK_LOG", "debug".into())],
        &[
            "--log-file",
            log.to_str().unwrap(),
            "ask",
            "-p",
            "openai",
            "hi",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for dir in ["state/paddock", "data/paddock", "data/paddock/sessions"] {
        assert_eq!(mode(&h.join(dir)), 0o700, "{dir}: {:o}", mode(&h.join(dir)));
    }
    let id = only_session_id(h);
    let session = format!("data/paddock/sessions/{id}.json");
    for file in [
        "state/paddock/paddock.log",
        "state/paddock/requests.jsonl",
        &session,
    ] {
        assert_eq!(
            mode(&h.join(file)),
            0o600,
            "{file}: {:o}",
            mode(&h.join(file))
        );
    }
}

/// Class: time bounds. A stream that sends only usage chunks moves no answer: it times out like
/// keep-alives do, instead of keeping paddock waiting forever.
#[tokio::test(flavor = "multi_thread")]
async fn usage_only_events_are_not_progress() {
    let home = tempfile::tempdir().unwrap();
    let usage =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":0}}\n\n";
    let mut resp = RawResponse::sse(usage.repeat(100).as_bytes(), usage.len());
    resp.gap = Duration::from_millis(200);
    let server = RawServer::start(vec![resp]).await;
    let config = openai_config(
        home.path(),
        &server.base(),
        "read_timeout_secs = 1\nmax_retries = 0",
    );
    let started = Instant::now();
    let out = run_with(
        home.path(),
        &config,
        &["ask", "-p", "openai", "--json", "hi"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{}",
        describe(&out)
    );
    assert_eq!(
        json_out(&out)["error"]["kind"],
        "timeout",
        "{}",
        describe(&out)
    );
}

/// Class: terminal injection. JSON output stays exact, and the C1 controls and bidi overrides
/// JSON would allow raw in a string are written as `\u` escapes, so a terminal never sees them.
#[tokio::test(flavor = "multi_thread")]
async fn json_output_is_exact_and_inert() {
    let home = tempfile::tempdir().unwrap();
    let text = "a\u{9b}2Jb\u{202e}c\u{1b}]0;t\u{7}d";
    let body = openai_stream("gpt-test", &[text], "stop", None, true);
    let server = RawServer::start(vec![RawResponse::sse(body.as_bytes(), 64)]).await;
    let out = run(
        home.path(),
        &[openai_at(&server)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_inert("ask --json stdout", &stdout);
    assert_eq!(json_out(&out)["content"], text, "the value is exact");
    let id = only_session_id(home.path());
    let export = run(home.path(), &[], &["export", &id, "--format", "json"]);
    let exported = String::from_utf8(export.stdout).unwrap();
    assert_inert("export --format json", &exported);
    let v: Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(v["providers"][0]["turns"][0]["answer"], text);
}

/// Class: time bounds. Before a retry the first-token deadline is running: neither a server's
/// Retry-After nor a rate-limit reset it reports can keep paddock waiting past it.
#[tokio::test(flavor = "multi_thread")]
async fn retry_waits_never_outlast_the_first_token_deadline() {
    let home = tempfile::tempdir().unwrap();
    let limited =
        r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#;
    for headers in [
        vec![("retry-after", "59")],
        vec![
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "50s"),
        ],
    ] {
        let mut resp = RawResponse::json(429, limited);
        for (k, v) in &headers {
            resp = resp.header(k, v);
        }
        let server = RawServer::start(vec![resp]).await;
        let config = openai_config(
            home.path(),
            &server.base(),
            "first_token_timeout_secs = 2\nmax_retries = 2",
        );
        let started = Instant::now();
        let out = run_with(
            home.path(),
            &config,
            &["ask", "-p", "openai", "--json", "hi"],
        );
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(6),
            "{headers:?}: {took:?} {}",
            describe(&out)
        );
        let v = json_out(&out);
        assert!(v["error"]["not_retried"].is_string(), "{headers:?}: {v}");
        assert!(server.requests().len() <= 2, "{headers:?}");
    }
}

/// Class: misreports. Usage a proxy writes as floats (or negative) is absent, and never costs
/// the chunk its text.
#[tokio::test(flavor = "multi_thread")]
async fn odd_usage_numbers_never_drop_the_text() {
    let home = tempfile::tempdir().unwrap();
    let chunk = |content: &str, usage: &str| {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}}}}],\"usage\":{usage}}}\n\n")
    };
    let body = chunk("Hello ", r#"{"prompt_tokens":3.0,"completion_tokens":1.0}"#)
        + &chunk("there ", r#"{"prompt_tokens":-4,"completion_tokens":"x"}"#)
        + &chunk("world", r#""not usage""#)
        + "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3.0,\"completion_tokens\":3.0}}\n\ndata: [DONE]\n\n";
    let server = RawServer::start(vec![RawResponse::sse(body.as_bytes(), 64)]).await;
    let out = run(
        home.path(),
        &[openai_at(&server)],
        &["ask", "-p", "openai", "--json", "hi"],
    );
    let v = json_out(&out);
    assert_eq!(v["content"], "Hello there world", "{v}");
    assert_eq!(v["output_tokens"], 3);
    assert!(v.get("skipped_events").is_none(), "{v}");
}

/// Class: bounded output. A flood of undecodable events is counted, but only the first few are
/// logged: a server cannot fill the disk through paddock's log.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_bad_events_logs_a_few_lines() {
    let home = tempfile::tempdir().unwrap();
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n".to_owned()
        + &"data: {bad}\n\n".repeat(5000)
        + "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let server = RawServer::start(vec![RawResponse::sse(body.as_bytes(), 4096)]).await;
    let log = home.path().join("paddock.log");
    let out = run(
        home.path(),
        &[openai_at(&server)],
        &[
            "--log-file",
            log.to_str().unwrap(),
            "ask",
            "-p",
            "openai",
            "--json",
            "hi",
        ],
    );
    assert_eq!(json_out(&out)["skipped_events"], 5000);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text.lines().filter(|l| l.contains("skipped")).count();
    assert!(lines <= 12, "{lines} log lines");
}

/// Class: terminal injection. `paddock providers` shows config strings through the sanitiser,
/// and a provider name with control characters is refused.
#[test]
fn config_strings_are_shown_inert() {
    let home = tempfile::tempdir().unwrap();
    let evil = "X\\u001b]0;T\\u0007Y\\u009b31mZ\\u202eW";
    let config = write_config(
        home.path(),
        "evil.toml",
        &format!("[[provider]]\nname = \"p\"\nkind = \"openai\"\nmodel = \"{evil}\"\nbase_url = \"http://127.0.0.1:9/{evil}\"\napi_key_env = \"{evil}\"\n"),
    );
    let out = run_with(home.path(), &config, &["providers"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_inert("providers", &text(&out.stdout));
    assert!(text(&out.stdout).contains("XYZW"), "{}", describe(&out));
    let named = write_config(
        home.path(),
        "named.toml",
        "[[provider]]\nname = \"a\\u001b[2Jb\"\nkind = \"openai\"\nmodel = \"m\"\n",
    );
    let out = run_with(home.path(), &named, &["providers"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("control characters"),
        "{}",
        describe(&out)
    );
    assert_inert("stderr", &text(&out.stderr));
}
