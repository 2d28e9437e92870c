//! A rate budget shared across processes through a real Redis: three `paddock bench` processes
//! against `paddock mock` enforcing the same budget, kill -9, a store that stops, advertised limits.
//!
//! Each test starts its own `redis-server` on a free loopback port (so it can stop it), when the
//! binary exists. Without it the tests say why and pass, unless `PADDOCK_REQUIRE_REDIS=1` (CI).
//! Windows are 3 s (`[limits] window_secs`, the mock's `window_secs`) to keep each test short.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WINDOW_SECS: f64 = 3.0;

/// A redis-server of the test's own, stopped when dropped.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Our own Redis, or `None` (after saying why) when the test should skip.
fn redis() -> Option<Redis> {
    let required = std::env::var("PADDOCK_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    let port = free_port();
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(child) => {
            let redis = Redis { port, child };
            for _ in 0..100 {
                if redis.cli(&["ping"]) == "PONG" {
                    return Some(redis);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("redis-server on port {port} did not answer PING");
        }
        Err(e) => {
            assert!(
                !required,
                "PADDOCK_REQUIRE_REDIS=1 but redis-server cannot start ({e}): apt-get install redis-server"
            );
            let _ = writeln!(
                std::io::stderr(),
                "skipped: redis-server is not installed ({e})"
            );
            None
        }
    }
}

/// `paddock mock` on a free port with `scenario`, killed when dropped.
struct Mock {
    port: u16,
    child: Child,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_paddock"))
}

fn mock(home: &Path, scenario: &str) -> Mock {
    let path = home.join("scenario.toml");
    std::fs::write(&path, scenario).expect("write scenario");
    let port = free_port();
    let mut cmd = Command::new(bin());
    support::clean_env(&mut cmd, home);
    let child = cmd
        .args(["mock", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--scenario")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mock starts");
    // Owned at once, so its Drop kills it on every path.
    let mock = Mock { port, child };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return mock;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("paddock mock did not listen on {port}");
}

/// A config sharing budget `budget` in `store`, with the given per-window limits.
fn config(home: &Path, store: &str, mock_port: u16, limits: &str, extra: &str) -> PathBuf {
    let path = home.join("config.toml");
    let text = format!(
        r#"
[limits]
store = "{store}"
window_secs = {WINDOW_SECS}
{extra}

[[provider]]
name = "lim"
kind = "openai"
model = "lim"
base_url = "http://127.0.0.1:{mock_port}/v1"
budget = "team-test"
max_retries = 0
{limits}
"#
    );
    std::fs::write(&path, text).expect("write config");
    path
}

fn bench(home: &Path, cfg: &Path, i: usize, runs: u32, max_tokens: u32) -> Child {
    let mut cmd = Command::new(bin());
    support::clean_env(&mut cmd, home);
    cmd.arg("bench")
        .arg("--config")
        .arg(cfg)
        .args(["-p", "lim", "--concurrency", "4"])
        .args(["--runs", &runs.to_string()])
        .args(["--max-tokens", &max_tokens.to_string()])
        .arg("--out")
        .arg(home.join(format!("out{i}.json")))
        .arg("hi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bench starts")
}

/// Wait for each bench (bounded), returning its report and stderr.
fn finish(home: &Path, children: Vec<Child>) -> Vec<(Value, String)> {
    children
        .into_iter()
        .enumerate()
        .map(|(i, child)| {
            let out = wait_bounded(child, Duration::from_secs(40));
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(!stderr.contains("panicked"), "bench {i} panicked: {stderr}");
            let text = std::fs::read_to_string(home.join(format!("out{i}.json")))
                .unwrap_or_else(|e| panic!("bench {i} wrote no report ({e}); stderr: {stderr}"));
            let v: Value = serde_json::from_str(&text).expect("report is JSON");
            (v["providers"][0].clone(), stderr)
        })
        .collect()
}

fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("a paddock process ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn total(reports: &[(Value, String)], field: &str) -> u64 {
    reports
        .iter()
        .map(|(p, _)| p[field].as_u64().unwrap_or(0))
        .sum()
}

/// Of everything the fleet did after the first window's burst, how much per window.
fn per_window(amount_after_first: f64, elapsed: Duration) -> f64 {
    amount_after_first / (elapsed.as_secs_f64() / WINDOW_SECS)
}

const FAST: &str = "ttft_ms = 5\ntokens_per_sec = 0\njitter = 0.0";

/// A scenario with one fast model "lim" answering `min..=max` tokens under `limits` per window.
fn limited_model(min: u32, max: u32, limits: &str) -> String {
    format!(
        "window_secs = {WINDOW_SECS}\n[[model]]\nname = \"lim\"\nprotocol = \"openai\"\n{FAST}\nmin_answer_tokens = {min}\nmax_answer_tokens = {max}\n{limits}\n"
    )
}

#[test]
fn three_benches_share_a_request_budget_without_429s() {
    let Some(redis) = redis() else { return };
    let home = tempfile::tempdir().unwrap();
    const N: u64 = 12;
    let m = mock(
        home.path(),
        &limited_model(5, 10, &format!("requests_per_window = {N}")),
    );
    let cfg = config(
        home.path(),
        &redis.url(),
        m.port,
        &format!("requests_per_minute = {N}"),
        "",
    );
    let started = Instant::now();
    // 36 requests: three windows' worth, so without sharing each process would send its own 12
    // into the first window and collect 429s.
    let children = (0..3)
        .map(|i| bench(home.path(), &cfg, i, 12, 10))
        .collect();
    let reports = finish(home.path(), children);
    let elapsed = started.elapsed();
    assert_eq!(total(&reports, "http_429"), 0, "{reports:?}");
    assert_eq!(total(&reports, "ok"), 36, "{reports:?}");
    let achieved = per_window((36 - N) as f64, elapsed);
    eprintln!(
        "request budget: 0 429s, {achieved:.2} of {N} per window ({:.0}%) in {elapsed:?}",
        100.0 * achieved / N as f64
    );
    assert!(
        achieved >= 0.95 * N as f64,
        "{achieved:.2} of {N} per window"
    );
}

#[test]
fn three_benches_share_a_token_budget_without_429s() {
    let Some(redis) = redis() else { return };
    let home = tempfile::tempdir().unwrap();
    // ~40 tokens a request (a few in, 30-35 out), 400 per window: about ten requests a window.
    const TOKENS: u64 = 400;
    let m = mock(
        home.path(),
        &limited_model(30, 35, &format!("tokens_per_window = {TOKENS}")),
    );
    let cfg = config(
        home.path(),
        &redis.url(),
        m.port,
        &format!("tokens_per_minute = {TOKENS}"),
        "",
    );
    let started = Instant::now();
    let children = (0..3)
        .map(|i| bench(home.path(), &cfg, i, 10, 35))
        .collect();
    let reports = finish(home.path(), children);
    let elapsed = started.elapsed();
    assert_eq!(total(&reports, "http_429"), 0, "{reports:?}");
    assert_eq!(total(&reports, "ok"), 30, "{reports:?}");
    let tokens: f64 = reports
        .iter()
        .map(|(p, _)| {
            p["tokens_per_min"].as_f64().unwrap_or(0.0) * p["wall_secs"].as_f64().unwrap_or(0.0)
                / 60.0
        })
        .sum();
    // The whole run spent `tokens`; all of it but the first window's burst came after.
    let achieved = per_window((tokens - TOKENS as f64).max(0.0), elapsed);
    let per_request = tokens / 30.0;
    // The budget is spent in whole requests: the last one that does not fit waits.
    let usable = (TOKENS as f64 / per_request).floor() * per_request;
    eprintln!(
        "token budget: 0 429s, {achieved:.0} of {usable:.0} usable tokens per window ({:.0}%)",
        100.0 * achieved / usable
    );
    assert!(achieved >= 0.95 * usable, "{achieved:.0} of {usable:.0}");
}

#[test]
fn a_killed_process_frees_its_leases_within_one_window() {
    let Some(redis) = redis() else { return };
    let home = tempfile::tempdir().unwrap();
    let m = mock(
        home.path(),
        &limited_model(5, 10, "requests_per_window = 6"),
    );
    let cfg = config(
        home.path(),
        &redis.url(),
        m.port,
        "requests_per_minute = 6",
        "",
    );
    let mut victim = bench(home.path(), &cfg, 0, 100, 10);
    let pid = victim.id();
    // A lease counts while its end (the score, on Redis's clock) is ahead of Redis's now.
    let members = || {
        let now = redis.cli(&["time"]);
        let mut parts = now.lines().map(|l| l.trim().parse::<u64>().unwrap_or(0));
        let (secs, micros) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        let now_us = (secs * 1_000_000 + micros).to_string();
        redis.cli(&[
            "zrangebyscore",
            "paddock:{team-test}:requests",
            &format!("({now_us}"),
            "+inf",
        ])
    };
    let held_by_victim = || {
        members()
            .lines()
            .filter(|m| m.starts_with(&format!("p{pid}-")))
            .count()
    };
    let start = Instant::now();
    while held_by_victim() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no lease appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = victim.kill(); // SIGKILL: no settle, no cleanup
    let killed = Instant::now();
    let _ = victim.wait();
    assert!(held_by_victim() > 0, "the leases outlive the process");
    while held_by_victim() > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs_f64(WINDOW_SECS * 1.1),
            "leases still held {:?} after kill -9",
            killed.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let freed = killed.elapsed();
    eprintln!(
        "kill -9: leases freed {freed:?} after the kill (lease = window {WINDOW_SECS} s + 1%)"
    );
    // The next reservation prunes the holder too: another process sees a full budget.
    let reports = finish(home.path(), vec![bench(home.path(), &cfg, 0, 6, 10)]);
    assert_eq!(reports[0].0["ok"], 6);
}

#[test]
fn a_store_that_stops_mid_run_is_told_once_and_the_bench_finishes_locally() {
    let Some(mut redis) = redis() else { return };
    let home = tempfile::tempdir().unwrap();
    let m = mock(
        home.path(),
        &limited_model(5, 10, "requests_per_window = 8"),
    );
    let cfg = config(
        home.path(),
        &redis.url(),
        m.port,
        "requests_per_minute = 8",
        "",
    );
    let child = bench(home.path(), &cfg, 0, 20, 10);
    std::thread::sleep(Duration::from_millis(1000));
    redis.stop();
    let started = Instant::now();
    let reports = finish(home.path(), vec![child]);
    let (report, stderr) = &reports[0];
    assert!(started.elapsed() < Duration::from_secs(15), "no hang");
    assert_eq!(report["ok"], 20, "{report} {stderr}");
    assert_eq!(report["http_429"], 0, "{report}");
    let told = stderr.matches("is unreachable").count();
    assert_eq!(told, 1, "one notice: {stderr}");
    assert!(stderr.contains("limiting this process alone"), "{stderr}");
}

#[test]
fn a_store_that_is_down_with_fail_fails_requests_in_one_sentence() {
    let Some(mut redis) = redis() else { return };
    redis.stop();
    let home = tempfile::tempdir().unwrap();
    let m = mock(
        home.path(),
        &format!("[[model]]\nname = \"lim\"\nprotocol = \"openai\"\n{FAST}\n"),
    );
    let cfg = config(
        home.path(),
        &redis.url(),
        m.port,
        "requests_per_minute = 8",
        "on_store_error = \"fail\"",
    );
    let started = Instant::now();
    let mut cmd = Command::new(bin());
    support::clean_env(&mut cmd, home.path());
    let out = cmd
        .arg("ask")
        .arg("--config")
        .arg(&cfg)
        .args(["-p", "lim", "hi"])
        .output()
        .expect("ask runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "no hang");
    assert!(stderr.contains("is unreachable"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn advertised_limits_bind_every_sharer() {
    let Some(redis) = redis() else { return };
    let home = tempfile::tempdir().unwrap();
    // The server enforces 10 requests / 1000 tokens a window; the config believes 30 / 3000.
    let m = mock(
        home.path(),
        &limited_model(5, 10, "requests_per_window = 10\ntokens_per_window = 1000"),
    );
    let cfg = config(
        home.path(),
        &redis.url(),
        m.port,
        "requests_per_minute = 30\ntokens_per_minute = 3000",
        "",
    );
    // The first response that carries the headers: one `ask` writes them to the shared budget.
    let mut cmd = Command::new(bin());
    support::clean_env(&mut cmd, home.path());
    let out = cmd
        .arg("ask")
        .arg("--config")
        .arg(&cfg)
        .args(["-p", "lim", "--max-tokens", "10", "hi"])
        .output()
        .expect("ask runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let limit = || redis.cli(&["hget", "paddock:{team-test}:server", "limit_requests"]);
    let start = Instant::now();
    while limit() != "10" {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "advertised limit not shared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Three processes that never saw a header themselves, 24 requests into a budget of 10.
    let children = (0..3).map(|i| bench(home.path(), &cfg, i, 8, 10)).collect();
    let reports = finish(home.path(), children);
    assert_eq!(total(&reports, "http_429"), 0, "{reports:?}");
    assert_eq!(total(&reports, "ok"), 24, "{reports:?}");
}

/// Not a timed test: `scripts/measure-redis-budget.sh` runs it. Acquire (the reserve script)
/// plus settle against a loopback Redis, p50 and p99, with 1, 8 and 64 concurrent acquirers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by scripts/measure-redis-budget.sh"]
async fn measure_acquire_settle_overhead() {
    use paddock::config::OnStoreError;
    use paddock::ratelimit::shared::Reserve;
    use paddock::ratelimit::SharedBudget;
    let Some(redis) = redis() else { return };
    for concurrency in [1usize, 8, 64] {
        let budget = SharedBudget::new(
            &redis.url(),
            &format!("measure-{concurrency}"),
            Duration::from_secs(60),
            OnStoreError::Fail,
        )
        .unwrap();
        let per_task = 4000 / concurrency;
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let budget = std::sync::Arc::clone(&budget);
                tokio::spawn(async move {
                    let mut times = Vec::with_capacity(per_task);
                    for _ in 0..per_task {
                        let start = Instant::now();
                        match budget.try_reserve(None, Some(1 << 40), 100).await.unwrap() {
                            Reserve::Granted(lease) => {
                                budget.settle_now(lease, 80, false).await.unwrap()
                            }
                            Reserve::Wait(w) => panic!("an unlimited budget waited {w:?}"),
                        }
                        times.push(start.elapsed());
                    }
                    times
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
        println!(
            "acquire+settle, {concurrency:>2} concurrent: p50 {:.3} ms, p99 {:.3} ms ({} samples)",
            pct(0.5),
            pct(0.99),
            all.len()
        );
    }
}
