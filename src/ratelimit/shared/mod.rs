//! A rate budget shared by every process and machine naming it, kept in Redis by atomic scripts.
//!
//! Each request reserves a lease: one request slot and its token estimate, both ending one
//! window after Redis's `TIME` at reservation, so a process killed mid-request leaks nothing
//! past its leases. Every Redis call has a timeout; a store that fails is said once, then the
//! limiter follows `on_store_error` until a later attempt reconnects.

mod name;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use redis::aio::MultiplexedConnection;
use redis::Script;
use tokio::time::Instant;

pub use name::{budget_name, shown_url};

use crate::config::OnStoreError;
use crate::provider::RateLimitHeaders;

/// Longest wait for one Redis reply: a store slower than this counts as lost.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// While the store is down, try it again at most this often, so requests do not each pay a
/// connect timeout.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// A waiting head re-asks Redis at least this often: other processes settle below their
/// estimates and free tokens earlier than the script's wait says.
pub const MAX_POLL: Duration = Duration::from_millis(100);
/// The server's advertised limits are stable facts; keep them this long after the last response.
const SERVER_FACTS_MS: u64 = 3_600_000;

/// The fleet-wide picture of a shared budget, as the last script call saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FleetView {
    pub requests_used: u64,
    pub tokens_used: u64,
    /// The binding caps: config or advertised, the tighter; `None` = no limit.
    pub requests_limit: Option<u64>,
    pub tokens_limit: Option<u64>,
    /// Processes holding leases right now (this one included).
    pub holders: u64,
    /// When the next reservation fits, if it did not just now.
    pub next_free_in: Option<Duration>,
}

/// Whether the shared budget is in use, for the status bar and notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreState {
    /// Reservations go through the shared store.
    Shared,
    /// The store is unreachable; this process limits itself alone (`on_store_error = "local"`).
    LocalFallback,
    /// The store is unreachable and requests fail (`on_store_error = "fail"`).
    Failing,
}

/// One reservation held in the store.
#[derive(Debug, Clone)]
pub struct Lease {
    id: String,
    tokens: u64,
}

impl Lease {
    pub fn tokens(&self) -> u64 {
        self.tokens
    }
}

/// What one reservation attempt found.
#[derive(Debug)]
pub enum Reserve {
    Granted(Lease),
    Wait(Duration),
}

/// The store could not be used; the sentence says so without keys or passwords.
#[derive(Debug, Clone)]
pub struct StoreDown(pub String);

#[derive(Debug)]
struct Health {
    state: StoreState,
    last_attempt: Option<Instant>,
    /// The notice for this outage was given (reset when the store comes back).
    told: bool,
}

/// One budget in one store, shared by every clone of a limiter.
pub struct SharedBudget {
    name: String,
    keys: [String; 5],
    window: Duration,
    policy: OnStoreError,
    shown: String,
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    health: Mutex<Health>,
    fleet: Mutex<FleetView>,
    process: String,
    next_lease: AtomicU64,
    reserve: Script,
    settle: Script,
    observe: Script,
}

impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget")
            .field("name", &self.name)
            .field("store", &self.shown)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SharedBudget {
    /// A budget named `name` in the store at `url`. Nothing connects yet: the first
    /// reservation does, so building a client never waits on the network.
    pub fn new(
        url: &str,
        name: &str,
        window: Duration,
        policy: OnStoreError,
    ) -> Result<Arc<Self>, String> {
        let shown = shown_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| format!("limits.store {shown} is not a usable Redis URL ({e})."))?;
        Ok(Arc::new(Self {
            name: name.to_owned(),
            keys: name::keys(name),
            window,
            policy,
            shown,
            client,
            conn: tokio::sync::Mutex::new(None),
            health: Mutex::new(Health {
                state: StoreState::Shared,
                last_attempt: None,
                told: false,
            }),
            fleet: Mutex::new(FleetView::default()),
            process: process_id(),
            next_lease: AtomicU64::new(0),
            reserve: Script::new(include_str!("reserve.lua")),
            settle: Script::new(include_str!("settle.lua")),
            observe: Script::new(include_str!("observe.lua")),
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> StoreState {
        lock(&self.health).state
    }

    pub fn fleet(&self) -> FleetView {
        *lock(&self.fleet)
    }

    /// While the store is down, whether it is time to try it again.
    pub fn should_try(&self, now: Instant) -> bool {
        let h = lock(&self.health);
        h.state == StoreState::Shared
            || h.last_attempt
                .is_none_or(|at| now.duration_since(at) >= RETRY_EVERY)
    }

    /// Reserve one request and `tokens` against the shared budget, or say how long to wait.
    pub async fn try_reserve(
        &self,
        requests_limit: Option<u64>,
        tokens_limit: Option<u64>,
        tokens: u64,
    ) -> Result<Reserve, StoreDown> {
        let seq = self.next_lease.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}:{seq}", self.process);
        let mut call = self.reserve.prepare_invoke();
        for k in &self.keys {
            call.key(k);
        }
        call.arg(micros(self.window))
            .arg(requests_limit.unwrap_or(0))
            .arg(tokens_limit.unwrap_or(0))
            .arg(tokens)
            .arg(&id)
            .arg(&self.process);
        let reply: Vec<i64> = self
            .run(|mut c| async move { call.invoke_async(&mut c).await })
            .await?;
        let n = |i: usize| reply.get(i).copied().unwrap_or(0).max(0) as u64;
        let cap = |i: usize| Some(n(i)).filter(|&c| c > 0);
        let granted = n(0) == 1;
        let wait = (!granted).then(|| Duration::from_micros(n(1).max(1)));
        *lock(&self.fleet) = FleetView {
            requests_used: n(2),
            tokens_used: n(3),
            holders: n(4),
            requests_limit: cap(5),
            tokens_limit: cap(6),
            next_free_in: wait,
        };
        Ok(match wait {
            None => Reserve::Granted(Lease {
                id,
                // The script clamps the estimate to the token cap; hold what it holds.
                tokens: cap(6).map_or(tokens, |c| tokens.min(c)),
            }),
            Some(wait) => Reserve::Wait(wait),
        })
    }

    /// Replace a lease's estimate with the real usage, in the background: a lost update costs
    /// only until the lease ends.
    pub fn settle(self: &Arc<Self>, lease: Lease, actual: u64) {
        self.spawn_settle(lease, actual, false);
    }

    /// Give a lease back whole: the request never left this machine.
    pub fn cancel(self: &Arc<Self>, lease: Lease) {
        self.spawn_settle(lease, 0, true);
    }

    fn spawn_settle(self: &Arc<Self>, lease: Lease, actual: u64, cancel: bool) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return; // no runtime left (shutting down): the lease ends by itself
        };
        let this = Arc::clone(self);
        rt.spawn(async move {
            let _ = this.settle_now(lease, actual, cancel).await;
        });
    }

    /// Settle (or with `cancel`, drop) a lease and wait for the store's answer.
    pub async fn settle_now(
        &self,
        lease: Lease,
        actual: u64,
        cancel: bool,
    ) -> Result<(), StoreDown> {
        let mut call = self.settle.prepare_invoke();
        call.key(&self.keys[0])
            .key(&self.keys[1])
            .key(&self.keys[4]);
        call.arg(&lease.id)
            .arg(lease.tokens)
            .arg(actual)
            .arg(if cancel { "cancel" } else { "settle" });
        let _: i64 = self
            .run(|mut c| async move { call.invoke_async(&mut c).await })
            .await?;
        Ok(())
    }

    /// Write a response's rate-limit headers into the shared budget, in the background.
    pub fn observe(self: &Arc<Self>, headers: &RateLimitHeaders) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let sys_now = SystemTime::now();
        let until = |at: Option<SystemTime>| {
            at.map(|at| at.duration_since(sys_now).unwrap_or(Duration::ZERO))
        };
        let text = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let args = [
            text(headers.limit_requests),
            text(headers.limit_tokens),
            text(headers.remaining_requests),
            text(until(headers.reset_requests).map(micros)),
            text(headers.remaining_tokens),
            text(until(headers.reset_tokens).map(micros)),
            SERVER_FACTS_MS.to_string(),
        ];
        let this = Arc::clone(self);
        rt.spawn(async move {
            let mut call = this.observe.prepare_invoke();
            call.key(&this.keys[2]);
            for a in &args {
                call.arg(a);
            }
            let _: Result<i64, _> = this
                .run(|mut c| async move { call.invoke_async(&mut c).await })
                .await;
        });
    }

    /// Run one call on the shared connection, connecting first if needed, within timeouts.
    /// A failure drops the connection and marks the store down (with one notice per outage).
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreDown>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = match self.connection().await {
            Ok(c) => c,
            Err(e) => return Err(self.down(e)),
        };
        match tokio::time::timeout(CALL_TIMEOUT, call(conn)).await {
            Ok(Ok(v)) => {
                self.up();
                Ok(v)
            }
            Ok(Err(e)) => {
                *self.conn.lock().await = None;
                Err(self.down(e.to_string()))
            }
            Err(_) => {
                *self.conn.lock().await = None;
                Err(self.down(format!("no answer within {} ms", CALL_TIMEOUT.as_millis())))
            }
        }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        lock(&self.health).last_attempt = Some(Instant::now());
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT));
        let connect = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {
                return Err(format!(
                    "no connection within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            }
        };
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn down(&self, why: String) -> StoreDown {
        let mut h = lock(&self.health);
        h.last_attempt = Some(Instant::now());
        h.state = match self.policy {
            OnStoreError::Local => StoreState::LocalFallback,
            OnStoreError::Fail => StoreState::Failing,
        };
        let then = match self.policy {
            OnStoreError::Local => "limiting this process alone until it is back",
            OnStoreError::Fail => "failing requests until it is back (on_store_error = \"fail\")",
        };
        let sentence = format!(
            "shared rate budget \"{}\": the store {} is unreachable ({why}); {then}.",
            self.name, self.shown
        );
        if !h.told {
            h.told = true;
            super::notice::tell(&sentence);
        }
        StoreDown(sentence)
    }

    fn up(&self) {
        let mut h = lock(&self.health);
        if h.state != StoreState::Shared {
            h.state = StoreState::Shared;
            h.told = false;
            super::notice::tell(&format!(
                "shared rate budget \"{}\": the store {} is back; sharing again.",
                self.name, self.shown
            ));
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Names this process among the budget's holders: random, so two machines' pids never collide.
fn process_id() -> String {
    format!("p{}-{:08x}", std::process::id(), rand::random::<u32>())
}
