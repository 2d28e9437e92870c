//! Tests of the window arithmetic and the async limiter (paused tokio clock).

use super::*;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::time::SystemTime;

use tokio::time::Instant;

use crate::provider::RateLimitHeaders;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn limiter(requests: Option<u32>, tokens: Option<u64>) -> Limiter {
    Limiter::new(LimiterConfig::per_minute(requests, tokens))
}

/// Let spawned tasks run until they block (current-thread runtime, paused clock).
async fn settle_tasks() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

fn server_requests(remaining: u64, reset_in: Duration, sys_now: SystemTime) -> RateLimitHeaders {
    RateLimitHeaders {
        limit_requests: Some(100),
        remaining_requests: Some(remaining),
        reset_requests: Some(sys_now + reset_in),
        ..RateLimitHeaders::default()
    }
}

#[test]
fn window_counts_requests_over_a_rolling_window() {
    let t0 = Instant::now();
    let mut w = Window::new(&LimiterConfig::per_minute(Some(10), None));
    for i in 0..10 {
        assert!(w.try_reserve(t0 + secs(i), 0).is_ok());
    }
    assert_eq!(w.try_reserve(t0 + secs(30), 0), Err(secs(30)));
    assert!(w.try_reserve(t0 + secs(60), 0).is_ok());
    assert_eq!(w.try_reserve(t0 + secs(60), 0), Err(secs(1)));
}

#[test]
fn window_walks_tokens_oldest_first() {
    let t0 = Instant::now();
    let mut w = Window::new(&LimiterConfig::per_minute(None, Some(1000)));
    let a = w.try_reserve(t0, 600).ok();
    assert!(a.is_some());
    assert!(w.try_reserve(t0 + secs(10), 300).is_ok());
    // 900 used: 100 more fit, 101 must wait for the 600 to leave, 500 too.
    assert_eq!(w.wait_time(t0 + secs(20), 100), None);
    assert_eq!(w.wait_time(t0 + secs(20), 101), Some(secs(40)));
    assert_eq!(w.wait_time(t0 + secs(20), 1000), Some(secs(50)));
    // Settling the first to its real 100 frees 500 at once.
    if let Some(a) = a {
        w.settle(a, 100);
    }
    assert_eq!(w.wait_time(t0 + secs(20), 600), None);
}

#[test]
fn past_or_unknown_server_reset_never_blocks() {
    let t0 = Instant::now();
    let sys0 = SystemTime::now();
    let mut w = Window::new(&LimiterConfig::default());
    let past = RateLimitHeaders {
        remaining_requests: Some(0),
        reset_requests: Some(sys0 - secs(5)),
        ..RateLimitHeaders::default()
    };
    w.observe(t0, sys0, &past);
    assert_eq!(w.wait_time(t0, 0), None);
    let unknown = RateLimitHeaders {
        remaining_requests: Some(0),
        ..RateLimitHeaders::default()
    };
    w.observe(t0, sys0, &unknown);
    assert_eq!(w.wait_time(t0, 0), None);
    assert_eq!(w.snapshot(t0, 0).server.requests.remaining, Some(0));
}

#[tokio::test(start_paused = true)]
async fn eleventh_request_waits_until_exactly_the_first_leaves() {
    let l = limiter(Some(10), None);
    let t0 = Instant::now();
    let mut held = vec![l.acquire(0).await];
    tokio::time::sleep(secs(5)).await;
    for _ in 0..9 {
        held.push(l.acquire(0).await);
    }
    assert_eq!(Instant::now(), t0 + secs(5));
    let eleventh = l.acquire(0).await;
    assert_eq!(Instant::now(), t0 + secs(60));
    assert_eq!(eleventh.waited(), secs(55));
    let _twelfth = l.acquire(0).await;
    assert_eq!(Instant::now(), t0 + secs(65));
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn token_budget_waits_the_right_time() {
    let l = limiter(None, Some(1000));
    let t0 = Instant::now();
    l.acquire(600).await.settle(600);
    tokio::time::sleep(secs(10)).await;
    l.acquire(300).await.settle(300);
    tokio::time::sleep(secs(10)).await;
    // 900 used; 400 more fit only once the 600 from t0 leave the window.
    l.acquire(400).await.settle(400);
    assert_eq!(Instant::now(), t0 + secs(60));
    // 700 used now: 300 fit at once, the next token waits for the 300 from t0+10.
    l.acquire(300).await.settle(300);
    assert_eq!(Instant::now(), t0 + secs(60));
    l.acquire(1).await.settle(1);
    assert_eq!(Instant::now(), t0 + secs(70));
}

#[tokio::test(start_paused = true)]
async fn reservation_settles_to_actual_usage() {
    let l = limiter(None, Some(1000));
    let p = l.acquire(500).await;
    assert_eq!(l.snapshot().tokens_used, 500);
    p.settle(120);
    assert_eq!(l.snapshot().tokens_used, 120);
    // More than estimated counts too: the server bills what was used.
    l.acquire(100).await.settle(250);
    assert_eq!(l.snapshot().tokens_used, 370);
    // Dropped unsettled: tokens back, request slot kept. Cancelled: both back.
    drop(l.acquire(200).await);
    let snap = l.snapshot();
    assert_eq!((snap.requests_used, snap.tokens_used), (3, 370));
    l.acquire(200).await.cancel();
    let snap = l.snapshot();
    assert_eq!((snap.requests_used, snap.tokens_used), (3, 370));
}

#[tokio::test(start_paused = true)]
async fn oversized_estimate_is_clamped_and_proceeds() {
    let l = limiter(None, Some(1000));
    let t0 = Instant::now();
    let big = l.acquire(5000).await;
    assert_eq!(big.waited(), Duration::ZERO);
    assert_eq!(l.snapshot().tokens_used, 1000);
    drop(big);
    // Behind other usage it waits for an empty window, then runs.
    l.acquire(100).await.settle(100);
    tokio::time::sleep(secs(1)).await;
    l.acquire(1_000_000).await.settle(950);
    assert_eq!(Instant::now(), t0 + secs(60));
    l.acquire(50).await.settle(50);
    assert_eq!(Instant::now(), t0 + secs(60));
    l.acquire(1).await.settle(1);
    assert_eq!(Instant::now(), t0 + secs(120));
}

#[tokio::test(start_paused = true)]
async fn fifty_concurrent_callers_stay_within_limits_in_arrival_order() {
    const REQUESTS: usize = 10;
    const TOKENS: u64 = 1000;
    let window = secs(60);
    let l = Limiter::new(LimiterConfig {
        requests_per_window: Some(REQUESTS as u32),
        tokens_per_window: Some(TOKENS),
        window,
    });
    let log = Arc::new(StdMutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..50u64 {
        let (l, log) = (l.clone(), Arc::clone(&log));
        let estimate = 50 + (i * 37) % 200;
        tasks.push(tokio::spawn(async move {
            let permit = l.acquire(estimate).await;
            let snap = l.snapshot();
            assert!(snap.requests_used as usize <= REQUESTS);
            assert!(
                snap.tokens_used <= TOKENS,
                "{} tokens held",
                snap.tokens_used
            );
            log.lock()
                .unwrap()
                .push((i, Instant::now(), estimate * 3 / 4));
            tokio::time::sleep(Duration::from_millis(1500)).await;
            permit.settle(estimate * 3 / 4);
        }));
        tokio::task::yield_now().await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    let log = log.lock().unwrap();
    let order: Vec<u64> = log.iter().map(|&(i, _, _)| i).collect();
    assert_eq!(
        order,
        (0..50).collect::<Vec<_>>(),
        "served first come, first served"
    );
    // What the server would bill in any window (actual usage) stays within the limits too.
    for &(_, start, _) in log.iter() {
        let in_window: Vec<_> = log
            .iter()
            .filter(|&&(_, t, _)| t <= start && start - t < window)
            .collect();
        let tokens: u64 = in_window.iter().map(|&&(_, _, e)| e).sum();
        assert!(in_window.len() <= REQUESTS, "{} requests", in_window.len());
        assert!(tokens <= TOKENS, "{tokens} tokens");
    }
    assert_eq!(l.snapshot().waiting, 0);
}

/// Real threads and a real clock: no lost wake-ups, everyone gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_all_get_through() {
    let l = Limiter::new(LimiterConfig {
        requests_per_window: Some(5),
        tokens_per_window: Some(100),
        window: Duration::from_millis(20),
    });
    let tasks: Vec<_> = (0..40u64)
        .map(|i| {
            let l = l.clone();
            tokio::spawn(async move {
                let permit = l.acquire(10 + i % 30).await;
                let snap = l.snapshot();
                assert!(
                    snap.requests_used <= 5 && snap.tokens_used <= 100,
                    "{snap:?}"
                );
                permit.settle(i % 20);
            })
        })
        .collect();
    let all = futures::future::join_all(tasks);
    let results = tokio::time::timeout(secs(20), all).await.unwrap();
    assert!(results.into_iter().all(|r| r.is_ok()));
    assert_eq!(l.snapshot().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_waiting_acquire_lets_the_next_go_at_once() {
    let l = limiter(None, Some(100));
    let t0 = Instant::now();
    let _held = l.acquire(100).await;
    // A is at the head and needs the whole budget; B would fit but queues behind A.
    let a = tokio::spawn({
        let l = l.clone();
        async move { l.acquire(100).await.settle(100) }
    });
    let b = tokio::spawn({
        let l = l.clone();
        async move {
            l.acquire(0).await.settle(0);
            Instant::now()
        }
    });
    settle_tasks().await;
    assert_eq!(l.snapshot().waiting, 2);
    a.abort();
    assert_eq!(b.await.unwrap(), t0);
    assert_eq!(l.snapshot().waiting, 0);
    // The same when the wait is dropped by a timeout inside one task.
    let c = tokio::spawn({
        let l = l.clone();
        async move {
            l.acquire(0).await.settle(0);
            Instant::now()
        }
    });
    let timed_out = tokio::time::timeout(secs(5), l.acquire(100)).await;
    assert!(timed_out.is_err());
    assert_eq!(c.await.unwrap(), t0 + secs(5));
    assert_eq!(l.snapshot().tokens_used, 100);
}

/// Config 30 requests a minute, the server says its limit is 10: after the server's reset the
/// queue must not fire into a budget of 10 with our 30 (measured on main before: ~15 in 0.1 s).
#[tokio::test(start_paused = true)]
async fn a_tighter_server_limit_bounds_the_rolling_window_after_its_reset() {
    let l = Arc::new(limiter(Some(30), None));
    let (t0, sys0) = (Instant::now(), SystemTime::now());
    l.acquire(0).await.settle(0);
    let headers = RateLimitHeaders {
        limit_requests: Some(10),
        remaining_requests: Some(0),
        reset_requests: Some(sys0 + secs(5)),
        ..RateLimitHeaders::default()
    };
    l.observe_server_at(&headers, t0, sys0);
    let admitted = Arc::new(StdMutex::new(vec![t0]));
    let mut tasks = Vec::new();
    for _ in 0..15 {
        let (l, admitted) = (l.clone(), admitted.clone());
        tasks.push(tokio::spawn(async move {
            l.acquire(0).await.settle(0);
            admitted.lock().unwrap().push(Instant::now());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let times = admitted.lock().unwrap().clone();
    assert_eq!(times.len(), 16);
    // Nothing before the server's reset, and never more than 10 in any 60 s.
    assert!(times[1..].iter().all(|&t| t >= t0 + secs(5)));
    for (i, &start) in times.iter().enumerate() {
        let in_window = times[i..].iter().filter(|&&t| t < start + secs(60)).count();
        assert!(in_window <= 10, "{in_window} requests within 60 s of {i}");
    }
    assert_eq!(
        l.snapshot().requests_limit,
        Some(10),
        "the bar shows the binding limit"
    );
}

#[tokio::test(start_paused = true)]
async fn fewer_remaining_on_the_server_waits_for_its_reset() {
    let l = limiter(Some(100), None);
    let (t0, sys0) = (Instant::now(), SystemTime::now());
    let before = l.acquire(0).await;
    l.observe_server_at(&server_requests(1, secs(30), sys0), t0, sys0);
    // Settling a request the server already counted must not eat into its remaining.
    before.settle(10);
    l.acquire(0).await.settle(0);
    assert_eq!(Instant::now(), t0);
    l.acquire(0).await.settle(0);
    assert_eq!(Instant::now(), t0 + secs(30));
    l.acquire(0).await.settle(0);
    assert_eq!(Instant::now(), t0 + secs(30));
}

#[tokio::test(start_paused = true)]
async fn server_token_count_gates_even_without_client_limits() {
    let l = Limiter::unlimited();
    let (t0, sys0) = (Instant::now(), SystemTime::now());
    let headers = RateLimitHeaders {
        limit_tokens: Some(10_000),
        remaining_tokens: Some(500),
        reset_tokens: Some(sys0 + secs(20)),
        ..RateLimitHeaders::default()
    };
    l.observe_server_at(&headers, t0, sys0);
    let p = l.acquire(400).await;
    assert_eq!(Instant::now(), t0);
    p.settle(50); // real usage was smaller: 450 of the 500 left
    l.acquire(450).await.settle(450);
    assert_eq!(Instant::now(), t0);
    l.acquire(1).await.settle(1);
    assert_eq!(Instant::now(), t0 + secs(20));
}

#[tokio::test(start_paused = true)]
async fn snapshot_reports_every_field() {
    let l = limiter(Some(3), Some(1000));
    let (t0, sys0) = (Instant::now(), SystemTime::now());
    let held = l.acquire(300).await;
    tokio::time::sleep(secs(10)).await;
    l.acquire(200).await.settle(150);
    let retry = l.retry_in_flight();
    let headers = RateLimitHeaders {
        limit_requests: Some(500),
        remaining_requests: Some(498),
        reset_requests: Some(sys0 + secs(50)),
        limit_tokens: Some(30_000),
        remaining_tokens: Some(29_000),
        reset_tokens: Some(sys0 + secs(22)),
        retry_after: None,
    };
    l.observe_server_at(&headers, t0 + secs(10), sys0 + secs(10));
    let snap = l.snapshot();
    let want = LimiterSnapshot {
        requests_used: 2,
        requests_limit: Some(3),
        tokens_used: 450,
        tokens_limit: Some(1000),
        server: ServerView {
            requests: ServerLimit {
                limit: Some(500),
                remaining: Some(498),
                reset_in: Some(secs(40)),
            },
            tokens: ServerLimit {
                limit: Some(30_000),
                remaining: Some(29_000),
                reset_in: Some(secs(12)),
            },
        },
        next_free_in: None,
        waiting: 0,
        retries_in_flight: 1,
        window: secs(60),
        shared: None,
    };
    assert_eq!(snap, want);

    // Past the token reset, fill the request budget and queue one more behind it.
    tokio::time::sleep(secs(15)).await;
    l.acquire(0).await.settle(0);
    let waiter = tokio::spawn({
        let l = l.clone();
        async move { l.acquire(600).await.settle(600) }
    });
    settle_tasks().await;
    drop(retry);
    let snap = l.snapshot();
    assert_eq!(
        (snap.requests_used, snap.waiting, snap.retries_in_flight),
        (3, 1, 0)
    );
    assert_eq!(snap.next_free_in, Some(secs(35)));
    assert_eq!(snap.server.requests.reset_in, Some(secs(25)));
    // The server's token budget has reset, so it reads as refilled.
    assert_eq!(
        snap.server.tokens,
        ServerLimit {
            limit: Some(30_000),
            remaining: Some(30_000),
            reset_in: None
        }
    );
    drop(held);
    waiter.await.unwrap();
    assert_eq!(Instant::now(), t0 + secs(60));
    let snap = l.snapshot();
    assert_eq!(
        (snap.requests_used, snap.tokens_used, snap.waiting),
        (3, 750, 0)
    );
}

/// A shared store nobody listens on: `local` reserves here at once (told once), `fail` refuses
/// in one sentence; neither waits past the connect timeout.
#[tokio::test]
async fn an_unreachable_store_falls_back_or_fails_without_hanging() {
    use crate::config::OnStoreError;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}/0");
    let cfg = LimiterConfig::per_minute(Some(2), None);
    let local = SharedBudget::new(&url, "t", cfg.window, OnStoreError::Local).unwrap();
    let limiter = Limiter::shared(cfg, Arc::clone(&local));
    let started = std::time::Instant::now();
    let permit = limiter.acquire_checked(10).await.unwrap();
    assert_eq!(local.state(), StoreState::LocalFallback);
    permit.settle(5);
    let _second = limiter.acquire_checked(10).await.unwrap();
    // The local window still holds the configured limit while the store is away.
    assert_eq!(limiter.snapshot().requests_used, 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    let fail = SharedBudget::new(&url, "t", cfg.window, OnStoreError::Fail).unwrap();
    let limiter = Limiter::shared(cfg, fail);
    let err = limiter.acquire_checked(10).await.unwrap_err();
    assert!(
        err.contains("is unreachable") && err.contains("\"fail\""),
        "{err}"
    );
    assert!(!err.contains('@'), "{err}");
}
