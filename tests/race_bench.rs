//! `race` and `bench`: measured against servers with known timing, limits respected, formats pinned.

mod support;

use std::time::Duration;

use paddock::client::{Client, Outcome};
use paddock::commands::bench::{self, BenchReport, ProviderStats, Sample};
use paddock::commands::race::{self, RaceMetrics};
use paddock::config::ProviderConfig;
use paddock::metrics::inter_token_latency;
use paddock::mock::{MockServer, Scenario};
use paddock::provider::{ApiError, ChatRequest, ErrorKind, Message, Protocol, Usage};
use paddock::ratelimit::{Limiter, LimiterConfig};
use serde_json::Value;
use support::{paddock, RawResponse, RawServer};

async fn mock(toml: &str) -> MockServer {
    let scenario = Scenario::from_toml_str(toml).unwrap();
    MockServer::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap()
}

fn client(name: &str, protocol: Protocol, model: &str, base_url: &str) -> Client {
    Client::new(&ProviderConfig::new(name, protocol, model, base_url)).unwrap()
}

fn request(model: &str, prompt: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![Message::user(prompt)],
        stream: true,
        ..ChatRequest::default()
    }
}

fn assert_within(what: &str, got: Option<f64>, want: f64, tolerance: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (got - want).abs() <= want * tolerance,
        "{what}: measured {got:.2}, configured {want:.2} (tolerance {:.0}%)",
        tolerance * 100.0
    );
}

/// The 95th percentile measures delivery jitter, and a busy two-core test machine adds some on
/// top of the server's zero: it must sit at the configured gap, allowing late wake-ups only.
fn assert_p95(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        got >= want * 0.95 && got <= want * 1.5,
        "{what}: measured {got:.2}, configured {want:.2}"
    );
}

// ---- measuring ---------------------------------------------------------------------------------

/// 400 ms to the first token, then 25 tokens/s (40 ms apart), exactly 30 tokens, no jitter: both
/// wire formats at once, ~1.6 s in all.
const STEADY: &str = r#"
seed = 7
[[model]]
name = "steady-o"
protocol = "openai"
ttft_ms = 400
tokens_per_sec = 25.0
jitter = 0.0
min_answer_tokens = 30
max_answer_tokens = 30

[[model]]
name = "steady-a"
protocol = "anthropic"
ttft_ms = 400
tokens_per_sec = 25.0
jitter = 0.0
min_answer_tokens = 30
max_answer_tokens = 30
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_reports_the_configured_ttft_rate_and_inter_token_latency() {
    let server = mock(STEADY).await;
    let entries = vec![
        (
            client("o", Protocol::OpenAi, "steady-o", &server.base_url_openai()),
            request("steady-o", "Explain rate limits"),
        ),
        (
            client(
                "a",
                Protocol::Anthropic,
                "steady-a",
                &server.base_url_anthropic(),
            ),
            ChatRequest {
                max_tokens: Some(400),
                ..request("steady-a", "Explain rate limits")
            },
        ),
    ];
    let outcomes = race::race(entries, |_, _| {}).await;
    assert_eq!(outcomes.len(), 2);
    for o in &outcomes {
        assert!(o.error.is_none(), "{}: {:?}", o.provider, o.error);
        assert_eq!(o.usage.output_tokens, Some(30), "{}", o.provider);
        let m = RaceMetrics::of(o);
        let ttft = o.ttft.map(|d| d.as_secs_f64() * 1000.0);
        assert_within(&format!("{} TTFT ms", o.provider), ttft, 400.0, 0.05);
        assert_within(
            &format!("{} tok/s", o.provider),
            m.tokens_per_sec,
            25.0,
            0.05,
        );
        let mean = inter_token_latency(o.usage.output_tokens, o.generation_time);
        let mean = mean.map(|d| d.as_secs_f64() * 1000.0);
        assert_within(&format!("{} ITL mean ms", o.provider), mean, 40.0, 0.05);
        assert_within(
            &format!("{} ITL p50 ms", o.provider),
            m.itl_p50_ms,
            40.0,
            0.05,
        );
        assert_p95(&format!("{} ITL p95 ms", o.provider), m.itl_p95_ms, 40.0);
        assert!(m.chars > 30, "{}: {} chars", o.provider, m.chars);
    }
    // The JSON line carries the same numbers next to the `ask --json` fields.
    let v: Value = serde_json::from_str(&race::json_line(&outcomes[0], None).unwrap()).unwrap();
    assert_eq!(v["provider"], "o");
    assert_eq!(v["output_tokens"], 30);
    assert_within(
        "json tokens_per_sec",
        v["tokens_per_sec"].as_f64(),
        25.0,
        0.05,
    );
    assert_within("json itl_p50_ms", v["itl_p50_ms"].as_f64(), 40.0, 0.05);
}

fn openai_chunk(content: &str) -> String {
    format!(
        "data: {{\"id\":\"c\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":null}}]}}\n\n"
    )
}

/// A server that batches three tokens per SSE chunk, 30 ms apart: inter-token latency must come
/// from the token count (9 gaps x 30 ms over 29 token intervals), not from the 30 ms chunk gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inter_token_latency_counts_tokens_not_chunks() {
    let mut slices: Vec<Vec<u8>> = (0..10)
        .map(|i| openai_chunk(&format!("t{i}a t{i}b t{i}c ")).into_bytes())
        .collect();
    slices.push(
        "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
         data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":30,\"total_tokens\":35}}\n\n\
         data: [DONE]\n\n"
            .as_bytes()
            .to_vec(),
    );
    let response = RawResponse {
        slices,
        gap: Duration::from_millis(30),
        ..RawResponse::sse(b"", 1)
    };
    let server = RawServer::start(vec![response]).await;
    let c = client(
        "batched",
        Protocol::OpenAi,
        "m",
        &format!("{}/v1", server.base()),
    );
    let outcomes = race::race(vec![(c, request("m", "hi"))], |_, _| {}).await;
    let o = &outcomes[0];
    assert!(o.error.is_none(), "{:?}", o.error);
    let m = RaceMetrics::of(o);
    // Against what the client saw: 29 token intervals over the generation time, as recorded
    // (every figure is kept to 0.1 ms, so each view computes the same rate).
    let generation_ms = paddock::metrics::ms(o.generation_time.unwrap());
    assert_within(
        "tok/s vs generation",
        m.tokens_per_sec,
        29_000.0 / generation_ms,
        1e-9,
    );
    // Against the script (its plain sleeps run a little long, hence 8%), and far from 30 ms.
    let per_token = 270.0 / 29.0;
    assert_within("ITL p50 ms", m.itl_p50_ms, per_token, 0.08);
    assert_p95("ITL p95 ms", m.itl_p95_ms, per_token);
    assert_within("tok/s", m.tokens_per_sec, 1000.0 / per_token, 0.08);
}

/// Four requests per half-second window on the server, the same limit in the client, three
/// workers: no 429 ever comes back, and throughput reaches the limit (~1 s in all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_under_a_rate_limit_gets_no_429s_and_reaches_the_limit() {
    const LIMIT: u32 = 4;
    const WINDOW: Duration = Duration::from_millis(500);
    let server = mock(&format!(
        r#"
window_secs = {}
[[model]]
name = "limited"
protocol = "openai"
ttft_ms = 5
tokens_per_sec = 0
jitter = 0.0
min_answer_tokens = 5
max_answer_tokens = 10
requests_per_window = {LIMIT}
"#,
        WINDOW.as_secs_f64()
    ))
    .await;
    let limiter = Limiter::new(
        LimiterConfig {
            requests_per_window: Some(LIMIT),
            tokens_per_window: None,
            window: WINDOW,
        }
        .with_safety_margin(),
    );
    let c = client(
        "limited",
        Protocol::OpenAi,
        "limited",
        &server.base_url_openai(),
    )
    .with_limiter(limiter);
    let prompts = vec!["one".to_owned(), "two".to_owned()];
    let mut progress = Vec::new();
    let report = bench::run_bench(vec![c], &prompts, 12, 3, |p| {
        progress.push((p.done, p.total))
    })
    .await;
    assert_eq!(progress.len(), 12);
    assert_eq!(progress.last(), Some(&(12, 12)));
    let p = &report.providers[0];
    assert_eq!((p.requests, p.ok, p.failed), (12, 12, 0), "{p:?}");
    assert_eq!(p.http_429, 0, "{p:?}");
    assert_eq!(p.retries, 0, "{p:?}");
    let limit_per_min = f64::from(LIMIT) * 60.0 / WINDOW.as_secs_f64();
    assert!(
        p.requests_per_min >= 0.95 * limit_per_min,
        "achieved {:.0} requests/min of {limit_per_min:.0}",
        p.requests_per_min
    );
    // Three requests waited for the limiter each window after the first.
    assert!(
        p.queued_ms.p99.is_some_and(|q| q > 100.0),
        "{:?}",
        p.queued_ms
    );
    assert!(p.tokens_per_min > 0.0);
}

/// 429s the server sends are counted, whether retried or final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_counts_429s_and_errors_by_kind() {
    let server = mock(
        r#"
[[model]]
name = "flaky"
protocol = "openai"
ttft_ms = 0
tokens_per_sec = 0
jitter = 0.0
min_answer_tokens = 3
max_answer_tokens = 3

[[model.fault]]
kind = "rate_limit"
on_request = [1]
retry_after = "ms"
retry_after_secs = 0.05

[[model.fault]]
kind = "unauthorized"
on_request = [3]
"#,
    )
    .await;
    let c = client(
        "flaky",
        Protocol::OpenAi,
        "flaky",
        &server.base_url_openai(),
    );
    let report = bench::run_bench(vec![c], &["hi".to_owned()], 3, 1, |_| {}).await;
    let p = &report.providers[0];
    assert_eq!((p.requests, p.ok, p.failed), (3, 2, 1), "{p:?}");
    assert_eq!(p.http_429, 1);
    assert_eq!(p.retries, 1);
    assert_eq!(p.errors.get("auth"), Some(&1), "{:?}", p.errors);
    assert!((p.error_rate - 1.0 / 3.0).abs() < 1e-9);
}

// ---- formats -----------------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn synthetic_outcomes() -> Vec<Outcome> {
    let ok = Outcome {
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        content: "Héllo world".into(),
        finish_reason: Some("stop".into()),
        usage: Usage {
            input_tokens: Some(12),
            output_tokens: Some(41),
            ..Usage::default()
        },
        ttft: Some(ms(312)),
        latency: ms(1830),
        retries: 1,
        error: None,
        // 10 chunks of 4 tokens: 40 token intervals over 800 ms; one slow chunk.
        chunk_gaps_us: [80, 80, 80, 80, 80, 80, 40, 40, 200, 40]
            .map(|ms: u32| ms * 1000)
            .to_vec(),
        generation_time: Some(ms(800)),
        skipped_events: 0,
        queue: Duration::ZERO,
        reasoning: None,
        reasoning_signature: None,
        thinking_blocks: Vec::new(),
        ttfat: Some(ms(312)),
    };
    let failed = Outcome {
        provider: "claude".into(),
        model: "claude-3-5-haiku-latest".into(),
        content: String::new(),
        latency: ms(95),
        retries: 2,
        error: Some(ApiError::new(ErrorKind::RateLimit, "Too many requests").with_status(429)),
        ..Outcome::default()
    };
    vec![ok, failed]
}

#[test]
fn race_table_format_is_pinned() {
    let table = race::render_table(&synthetic_outcomes(), &[]);
    let want = "\
provider  model                      TTFT   total  out tok  tok/s  ITL p50  ITL p95  chars  finish  retries  error
--------  -----------------------  ------  ------  -------  -----  -------  -------  -----  ------  -------  ---------------------
openai    gpt-4o-mini              312 ms  1.83 s       41   50.0  20.0 ms  50.0 ms     11  stop          1
claude    claude-3-5-haiku-latest       -   95 ms        -      -        -        -      0  -             2  rate_limit (HTTP 429)
first token: openai (312 ms) · first to finish: openai (1.83 s) · fastest: openai (50.0 tok/s)
";
    assert_eq!(table, want, "\n{table}");
}

/// The summary line names the figures the rows show: a TTFT near a rounding edge is the same
/// number in both (the row rounds the recorded figure, the line once rounded the raw one).
#[test]
fn race_summary_line_agrees_with_the_rows() {
    let mut outcomes = synthetic_outcomes();
    outcomes[0].ttft = Some(Duration::from_nanos(1_499_700));
    outcomes[0].latency = Duration::from_nanos(2_499_700);
    let table = race::render_table(&outcomes, &[]);
    let row = table.lines().nth(2).unwrap();
    let cells: Vec<&str> = row.split("  ").filter(|c| !c.trim().is_empty()).collect();
    let (ttft, total) = (cells[2].trim(), cells[3].trim());
    let summary = table.lines().last().unwrap();
    assert!(
        summary.contains(&format!("first token: openai ({ttft})"))
            && summary.contains(&format!("first to finish: openai ({total})")),
        "\n{table}"
    );
    // `ask`'s summary line and the request log say the same of that answer.
    let ask_line = paddock::commands::ask::summary_line(&outcomes[0], None);
    assert!(
        ask_line.contains(&format!("TTFT {ttft}")),
        "{ask_line} / {row}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.jsonl");
    paddock::requestlog::RequestLog::at(Some(path.clone())).record(&outcomes[0]);
    let logged: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let json = serde_json::to_value(outcomes[0].to_json()).unwrap();
    assert_eq!(logged["ttft_ms"], json["ttft_ms"], "{logged}");
    assert_eq!(logged["latency_ms"], json["latency_ms"], "{logged}");
}

/// Reasoning and cache columns appear when some answer has them; "out tok" is every generated
/// token, so Gemini (thoughts counted apart) and OpenAI (reasoning inside) read the same way.
#[test]
fn race_table_counts_thinking_and_cache_the_same_for_every_protocol() {
    let [ok, _] = <[Outcome; 2]>::try_from(synthetic_outcomes()).unwrap();
    let openai = Outcome {
        model: "o4-mini".into(),
        usage: Usage {
            input_tokens: Some(1200),
            output_tokens: Some(41),
            reasoning_tokens: Some(30),
            cache_read_input_tokens: Some(1024),
            cache_read_in_input: true,
            ..Usage::default()
        },
        reasoning: Some("Weighing it.".into()),
        ttfat: Some(ms(900)),
        ..ok.clone()
    };
    let gemini = Outcome {
        provider: "gemini".into(),
        model: "gemini-2.5-flash".into(),
        usage: Usage {
            input_tokens: Some(12),
            output_tokens: Some(11),
            reasoning_tokens: Some(30),
            reasoning_apart: true,
            ..Usage::default()
        },
        reasoning: Some("Mulling.".into()),
        ttfat: Some(ms(700)),
        ..ok
    };
    let table = race::render_table(&[openai, gemini], &[]);
    let want = "\
provider  model               TTFT   TTFAT   total  out tok  think tok  cache rd  cache wr  tok/s  ITL p50  ITL p95  chars  finish  retries  error
--------  ----------------  ------  ------  ------  -------  ---------  --------  --------  -----  -------  -------  -----  ------  -------  -----
openai    o4-mini           312 ms  900 ms  1.83 s       41         30      1024         -   50.0  20.0 ms  50.0 ms     11  stop          1
gemini    gemini-2.5-flash  312 ms  700 ms  1.83 s       41         30         -         -   50.0  20.0 ms  50.0 ms     11  stop          1
first token: openai (312 ms) · first to finish: openai (1.83 s) · fastest: openai (50.0 tok/s)
";
    assert_eq!(table, want, "\n{table}");
}

#[test]
fn race_table_shows_cost_only_when_priced() {
    let table = race::render_table(&synthetic_outcomes(), &[Some(0.00123), None]);
    let want = "\
provider  model                      TTFT   total  out tok  tok/s  ITL p50  ITL p95  chars  finish  retries     cost  error
--------  -----------------------  ------  ------  -------  -----  -------  -------  -----  ------  -------  -------  ---------------------
openai    gpt-4o-mini              312 ms  1.83 s       41   50.0  20.0 ms  50.0 ms     11  stop          1  $0.0012
claude    claude-3-5-haiku-latest       -   95 ms        -      -        -        -      0  -             2        -  rate_limit (HTTP 429)
first token: openai (312 ms) · first to finish: openai (1.83 s) · fastest: openai (50.0 tok/s)
";
    assert_eq!(table, want, "\n{table}");
    let line = race::json_line(&synthetic_outcomes()[0], Some(0.00123)).unwrap();
    assert!(line.ends_with(",\"cost_usd\":0.00123}"), "{line}");
}

#[test]
fn race_json_format_is_pinned() {
    let lines: Vec<String> = synthetic_outcomes()
        .iter()
        .map(|o| race::json_line(o, None).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        r#"{"provider":"openai","model":"gpt-4o-mini","content":"Héllo world","finish_reason":"stop","input_tokens":12,"output_tokens":41,"total_tokens":53,"reasoning":null,"reasoning_tokens":null,"cached_input_tokens":null,"cache_write_tokens":null,"ttft_ms":312.0,"ttfat_ms":312.0,"latency_ms":1830.0,"queue_ms":0.0,"retries":1,"error":null,"tokens_per_sec":50.0,"itl_p50_ms":20.0,"itl_p95_ms":50.0,"chars":11}"#
    );
    assert_eq!(
        lines[1],
        r#"{"provider":"claude","model":"claude-3-5-haiku-latest","content":"","finish_reason":null,"input_tokens":null,"output_tokens":null,"total_tokens":null,"reasoning":null,"reasoning_tokens":null,"cached_input_tokens":null,"cache_write_tokens":null,"ttft_ms":null,"ttfat_ms":null,"latency_ms":95.0,"queue_ms":0.0,"retries":2,"error":{"kind":"rate_limit","message":"Too many requests","retriable":true,"status":429},"tokens_per_sec":null,"itl_p50_ms":null,"itl_p95_ms":null,"chars":0}"#
    );
}

fn synthetic_report() -> BenchReport {
    let ok = |ttft: u64, latency: u64, queued: u64| Sample {
        queued: ms(queued),
        ttft: Some(ms(ttft)),
        ttfat: None,
        latency: ms(latency),
        output_tokens: Some(101),
        total_tokens: Some(121),
        cache_read_tokens: None,
        cache_write_tokens: None,
        generation_time: Some(ms(latency - ttft)),
        retries: 0,
        http_429: 0,
        error: None,
    };
    let mut a: Vec<Sample> = (0..9).map(|i| ok(200 + i * 10, 2200 + i * 10, 0)).collect();
    a.push(Sample {
        latency: ms(50),
        retries: 2,
        http_429: 3,
        error: Some(ErrorKind::RateLimit),
        ..Sample::default()
    });
    let b = vec![ok(500, 1500, 1200), ok(600, 1600, 0)];
    BenchReport {
        runs: 10,
        concurrency: 2,
        providers: vec![
            ProviderStats::from_samples("fast", "gpt-4o-mini", &a, Duration::from_secs(30)),
            ProviderStats::from_samples("slow, steady", "claude", &b, Duration::from_secs(4)),
        ],
    }
}

#[test]
fn bench_table_format_is_pinned() {
    let table = bench::render_table(&synthetic_report());
    let want = "\
10 runs per provider, 2 concurrent per provider

provider      measure      p50      p95      p99
------------  -------  -------  -------  -------
fast          TTFT      240 ms   280 ms   280 ms
              latency   2.24 s   2.28 s   2.28 s
              tok/s       50.0     50.0     50.0
              ITL      20.0 ms  20.0 ms  20.0 ms
              queued      0 ms     0 ms     0 ms
slow, steady  TTFT      500 ms   600 ms   600 ms
              latency   1.50 s   1.60 s   1.60 s
              tok/s      100.0    100.0    100.0
              ITL      10.0 ms  10.0 ms  10.0 ms
              queued      0 ms   1.20 s   1.20 s
(TTFT and latency leave out the time queued in paddock's own rate limiter.)

provider      model          ok  failed  errors        retries  429s  req/min  tok/min
------------  -----------  ----  ------  ------------  -------  ----  -------  -------
fast          gpt-4o-mini  9/10     10%  rate_limit 1        2     3     18.0     2178
slow, steady  claude        2/2      0%  -                   0     0     30.0     3630
";
    assert_eq!(table, want, "\n{table}");
}

#[test]
fn bench_shows_cost_only_when_priced() {
    let mut report = synthetic_report();
    report.providers[0].cost_usd = Some(0.0123);
    let table = bench::render_table(&report);
    let totals: Vec<&str> = table.lines().rev().take(4).collect();
    assert_eq!(
        totals,
        [
            "slow, steady  claude        2/2      0%  -                   0     0     30.0     3630      -",
            "fast          gpt-4o-mini  9/10     10%  rate_limit 1        2     3     18.0     2178  $0.01",
            "------------  -----------  ----  ------  ------------  -------  ----  -------  -------  -----",
            "provider      model          ok  failed  errors        retries  429s  req/min  tok/min   cost",
        ]
    );
    let json: Value = serde_json::from_str(&bench::to_json(&report).unwrap()).unwrap();
    assert_eq!(json["providers"][0]["cost_usd"], 0.0123);
    assert!(json["providers"][1].get("cost_usd").is_none());
    let csv = bench::to_csv(&report);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",output_tokens_per_min,cost_usd"));
    assert!(lines[1].ends_with(",1818,0.0123"), "{}", lines[1]);
    assert!(lines[2].ends_with(",3030,"), "{}", lines[2]);
}

/// Prompt-cache reads and writes get their columns (table, JSON, CSV) once some run hit the cache.
#[test]
fn bench_shows_cache_reads_and_writes_when_a_run_hit_the_cache() {
    let cached = |read: u64, write: u64| Sample {
        ttft: Some(ms(100)),
        latency: ms(600),
        output_tokens: Some(20),
        total_tokens: Some(2020),
        cache_read_tokens: Some(read),
        cache_write_tokens: Some(write),
        ..Sample::default()
    };
    let mut report = synthetic_report();
    report.providers[1] = ProviderStats::from_samples(
        "claude",
        "claude-x",
        &[cached(0, 1800), cached(1800, 0), cached(1800, 0)],
        Duration::from_secs(4),
    );
    let table = bench::render_table(&report);
    let totals: Vec<&str> = table.lines().rev().take(4).collect();
    assert_eq!(
        totals,
        [
            "claude    claude-x      3/3      0%  -                   0     0     45.0    90900      3600      1800",
            "fast      gpt-4o-mini  9/10     10%  rate_limit 1        2     3     18.0     2178         -         -",
            "--------  -----------  ----  ------  ------------  -------  ----  -------  -------  --------  --------",
            "provider  model          ok  failed  errors        retries  429s  req/min  tok/min  cache rd  cache wr",
        ],
        "\n{table}"
    );
    let json: Value = serde_json::from_str(&bench::to_json(&report).unwrap()).unwrap();
    let p = &json["providers"][1];
    assert_eq!(
        (&p["cached_input_tokens"], &p["cache_write_tokens"]),
        (&serde_json::json!(3600), &serde_json::json!(1800))
    );
    assert!(
        json["providers"][0].get("cached_input_tokens").is_none(),
        "{json}"
    );
    let csv = bench::to_csv(&report);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",output_tokens_per_min,cached_input_tokens,cache_write_tokens"));
    assert!(lines[1].ends_with(",1818,0,0"), "{}", lines[1]);
    assert!(lines[2].ends_with(",3600,1800"), "{}", lines[2]);
    // Without a hit, nothing changes.
    assert!(!bench::render_table(&synthetic_report()).contains("cache"));
}

#[test]
fn bench_json_and_csv_formats_are_pinned() {
    let report = synthetic_report();
    let json: Value = serde_json::from_str(&bench::to_json(&report).unwrap()).unwrap();
    let want: Value = serde_json::json!({
        "runs": 10, "concurrency": 2,
        "providers": [
            {"provider": "fast", "model": "gpt-4o-mini", "requests": 10, "ok": 9, "failed": 1,
             "error_rate": 0.1, "errors": {"rate_limit": 1}, "retries": 2, "http_429": 3,
             "queued_ms": {"p50": 0.0, "p95": 0.0, "p99": 0.0},
             "ttft_ms": {"p50": 240.0, "p95": 280.0, "p99": 280.0},
             "latency_ms": {"p50": 2240.0, "p95": 2280.0, "p99": 2280.0},
             "tokens_per_sec": {"p50": 50.0, "p95": 50.0, "p99": 50.0},
             "itl_ms": {"p50": 20.0, "p95": 20.0, "p99": 20.0},
             "wall_secs": 30.0, "requests_per_min": 18.0, "tokens_per_min": 2178.0,
             "output_tokens_per_min": 1818.0},
            {"provider": "slow, steady", "model": "claude", "requests": 2, "ok": 2, "failed": 0,
             "error_rate": 0.0, "errors": {}, "retries": 0, "http_429": 0,
             "queued_ms": {"p50": 0.0, "p95": 1200.0, "p99": 1200.0},
             "ttft_ms": {"p50": 500.0, "p95": 600.0, "p99": 600.0},
             "latency_ms": {"p50": 1500.0, "p95": 1600.0, "p99": 1600.0},
             "tokens_per_sec": {"p50": 100.0, "p95": 100.0, "p99": 100.0},
             "itl_ms": {"p50": 10.0, "p95": 10.0, "p99": 10.0},
             "wall_secs": 4.0, "requests_per_min": 30.0, "tokens_per_min": 3630.0,
             "output_tokens_per_min": 3030.0}
        ]
    });
    assert_eq!(json, want);
    let csv = bench::to_csv(&report);
    let want_csv = "\
provider,model,requests,ok,failed,error_rate,errors,retries,http_429,queued_p50_ms,queued_p95_ms,queued_p99_ms,ttft_p50_ms,ttft_p95_ms,ttft_p99_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,tokens_per_sec_p50,tokens_per_sec_p95,tokens_per_sec_p99,itl_p50_ms,itl_p95_ms,itl_p99_ms,wall_secs,requests_per_min,tokens_per_min,output_tokens_per_min
fast,gpt-4o-mini,10,9,1,0.1,rate_limit=1,2,3,0,0,0,240,280,280,2240,2280,2280,50,50,50,20,20,20,30,18,2178,1818
\"slow, steady\",claude,2,2,0,0,,0,0,0,1200,1200,500,600,600,1500,1600,1600,100,100,100,10,10,10,4,30,3630,3030
";
    assert_eq!(csv, want_csv, "\n{csv}");
}

// ---- the binary --------------------------------------------------------------------------------

#[test]
fn race_demo_prints_the_table_and_logs_every_request() {
    let home = tempfile::tempdir().unwrap();
    let out = paddock(home.path())
        .args(["race", "--demo", "hi"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("provider") && lines[0].contains("ITL p95"),
        "{stdout}"
    );
    // One demo provider per wire protocol: Chat Completions, Messages, Gemini, Responses.
    for name in ["sim-openai", "sim-anthropic", "sim-gemini", "sim-tight"] {
        assert!(
            lines.iter().any(|l| l.starts_with(name)),
            "{name} missing:\n{stdout}"
        );
    }
    assert!(
        lines.last().is_some_and(|l| l.starts_with("first token: ")),
        "{stdout}"
    );
    let log = std::fs::read_to_string(home.path().join("state/paddock/requests.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    // The race is a session: every provider's finished answer, saved.
    let dir = home.path().join("data/paddock/sessions");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let session: Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let providers = session["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 4);
    for p in providers {
        let turn = &p["turns"][0];
        assert_eq!(turn["prompt"], "hi");
        assert_eq!(turn["complete"], true);
        assert!(!turn["answer"].as_str().unwrap().is_empty(), "{p}");
    }
}

#[test]
fn bench_demo_writes_json_and_csv_and_rejects_other_extensions() {
    let home = tempfile::tempdir().unwrap();
    for file in ["out.json", "out.csv"] {
        let out = paddock(home.path())
            .args([
                "bench",
                "--demo",
                "-p",
                "sim-openai",
                "--runs",
                "2",
                "--concurrency",
                "2",
            ])
            .args(["--out", file, "hi"])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with("2 runs per provider, 2 concurrent"),
            "{stdout}"
        );
        // Not a terminal: no progress bar on stderr.
        assert!(!String::from_utf8_lossy(&out.stderr).contains("bench ["));
        let text = std::fs::read_to_string(home.path().join(file)).unwrap();
        if file.ends_with(".json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["providers"][0]["provider"], "sim-openai");
            assert_eq!(v["providers"][0]["ok"], 2);
        } else {
            assert_eq!(text.lines().count(), 2, "{text}");
            assert!(text
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("sim-openai,sim-gpt-fast,2,2,0,"));
        }
    }
    paddock(home.path())
        .args(["bench", "--demo", "--out", "out.txt", "hi"])
        .assert()
        .code(2);
}

/// A reasoning model's bench shows its time to first answer token beside TTFT, in the table and
/// the JSON; a model that never reasoned shows no TTFAT at all.
#[test]
fn bench_reports_ttfat_for_reasoning_models_only() {
    let thinking = |ttft: u64, ttfat: u64| Sample {
        ttft: Some(ms(ttft)),
        ttfat: Some(ms(ttfat)),
        latency: ms(ttfat + 500),
        output_tokens: Some(50),
        ..Sample::default()
    };
    let samples: Vec<Sample> = (0..10).map(|i| thinking(100 + i, 900 + 10 * i)).collect();
    let report = BenchReport {
        runs: 10,
        concurrency: 1,
        providers: vec![
            ProviderStats::from_samples("thinker", "r1", &samples, Duration::from_secs(10)),
            ProviderStats::from_samples(
                "plain",
                "m",
                &[thinking(100, 100)].map(|mut s| {
                    s.ttfat = None;
                    s
                }),
                Duration::from_secs(10),
            ),
        ],
    };
    let json: serde_json::Value = serde_json::from_str(&bench::to_json(&report).unwrap()).unwrap();
    assert_eq!(json["providers"][0]["ttfat_ms"]["p50"], 940.0, "{json}");
    assert!(json["providers"][1].get("ttfat_ms").is_none(), "{json}");
    let table = bench::render_table(&report);
    assert_eq!(table.matches("TTFAT").count(), 1, "{table}");
}

/// `bench` keeps figures, not text, and only `race` keeps chunk gaps: a request's outcome holds
/// no more than its caller reports,
/// whatever its length (256 concurrent floods kept 256 answers and gap records before), while
/// the figures and the answer bound still count every byte.
#[tokio::test]
async fn a_figures_only_client_keeps_no_text_but_counts_it() {
    let server = mock(
        "seed = 1\n[[model]]\nname = \"flood\"\nprotocol = \"openai\"\nttft_ms = 0\n\
         tokens_per_sec = 0\nmin_answer_tokens = 2000\nmax_answer_tokens = 2000\n",
    )
    .await;
    let base = server.base_url_openai();
    let full = client("o", Protocol::OpenAi, "flood", &base);
    let kept = full
        .clone()
        .with_retain(paddock::client::Retain::TextAndGaps)
        .complete(request("flood", "go"), |_| {})
        .await;
    let text = full.complete(request("flood", "go"), |_| {}).await;
    assert_eq!(text.content, kept.content, "the default keeps the text");
    assert!(text.chunk_gaps_us.is_empty(), "and no gaps: only race asks");
    let figures = full
        .clone()
        .with_retain(paddock::client::Retain::Figures)
        .complete(request("flood", "go"), |_| {})
        .await;
    assert!(kept.error.is_none() && figures.error.is_none());
    assert!(kept.content.len() > 2000 && !kept.chunk_gaps_us.is_empty());
    assert_eq!(figures.content, "");
    assert!(figures.chunk_gaps_us.is_empty());
    assert_eq!(figures.usage.output_tokens, Some(2000));
    assert!(figures.ttft.is_some() && figures.generation_time.is_some());

    // The answer bound counts bytes it does not keep.
    let mut bounded = ProviderConfig::new("o", Protocol::OpenAi, "flood", &base);
    bounded.limits.max_answer_bytes = 1024;
    let cut = Client::new(&bounded)
        .unwrap()
        .with_retain(paddock::client::Retain::Figures)
        .complete(request("flood", "go"), |_| {})
        .await;
    assert_eq!(
        cut.error.map(|e| e.kind),
        Some(ErrorKind::TooLarge),
        "past max_answer_bytes"
    );
}
