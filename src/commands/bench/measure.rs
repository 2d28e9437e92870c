//! Measuring: C workers per provider share its [`Client`] (hence its limiter) and report each finished request.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{BenchReport, ProviderStats, Sample};
use crate::client::{Client, ClientEvent, Outcome};
use crate::provider::{ChatRequest, Message};

/// One provider to benchmark: its client and the request every run sends (the prompt varies).
#[derive(Debug, Clone)]
pub struct BenchTarget {
    pub client: Client,
    pub request: ChatRequest,
}

impl From<Client> for BenchTarget {
    /// The client's model, streaming, no other parameters.
    fn from(client: Client) -> Self {
        let request = ChatRequest {
            model: client.model().to_owned(),
            stream: true,
            ..ChatRequest::default()
        };
        Self { client, request }
    }
}

/// Reported after every finished request.
#[derive(Debug)]
pub struct BenchProgress<'a> {
    pub provider: &'a str,
    /// Requests finished so far over all providers, and how many there are in all.
    pub done: u64,
    pub total: u64,
    pub failed: u64,
    pub outcome: &'a Outcome,
}

/// The request of run `i`: the template with the prompt (if any) as its one user message.
fn request_for(template: &ChatRequest, prompts: &[String], i: u32) -> ChatRequest {
    let mut req = template.clone();
    req.stream = true;
    if !prompts.is_empty() {
        req.messages = vec![Message::user(prompts[i as usize % prompts.len()].clone())];
    }
    req
}

struct Finished {
    target: usize,
    outcome: Outcome,
    retried_429: u32,
    at: Instant,
}

/// Send `runs` requests to each target, `concurrency` at a time per target, every target at once.
/// Prompts are used in turn (none: the target's request as it is). `on_progress` runs on the
/// caller's task after every finished request.
pub async fn run_bench<T: Into<BenchTarget>>(
    targets: impl IntoIterator<Item = T>,
    prompts: &[String],
    runs: u32,
    concurrency: u32,
    mut on_progress: impl FnMut(BenchProgress<'_>),
) -> BenchReport {
    let targets: Vec<BenchTarget> = targets.into_iter().map(Into::into).collect();
    let prompts: Arc<[String]> = prompts.into();
    let workers = concurrency.clamp(1, runs.max(1));
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Finished>();
    // Dropping the bench (and with it this set) aborts the workers and their requests.
    let mut workers_set = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        let next = Arc::new(AtomicU32::new(0));
        for _ in 0..workers {
            let (tx, next, prompts) = (tx.clone(), Arc::clone(&next), Arc::clone(&prompts));
            let (client, template) = (target.client.clone(), target.request.clone());
            workers_set.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= runs {
                        break;
                    }
                    let request = request_for(&template, &prompts, i);
                    let done = measure(&client, request, index).await;
                    if tx.send(done).is_err() {
                        break;
                    }
                }
            });
        }
    }
    drop(tx);
    let _workers = workers_set;
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); targets.len()];
    let mut models: Vec<Option<String>> = vec![None; targets.len()];
    let mut last: Vec<Option<Instant>> = vec![None; targets.len()];
    let total = u64::from(runs) * targets.len() as u64;
    let (mut done, mut failed) = (0, 0);
    while let Some(f) = rx.recv().await {
        done += 1;
        failed += u64::from(f.outcome.error.is_some());
        if f.outcome.error.is_none() && models[f.target].is_none() {
            models[f.target] = Some(f.outcome.model.clone());
        }
        samples[f.target].push(Sample::from_outcome(&f.outcome, f.retried_429));
        last[f.target] = Some(f.at);
        on_progress(BenchProgress {
            provider: &f.outcome.provider,
            done,
            total,
            failed,
            outcome: &f.outcome,
        });
    }
    let providers = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let model = models[i].clone().unwrap_or_else(|| t.request.model.clone());
            let wall = last[i].map_or(Duration::ZERO, |at| at.saturating_duration_since(start));
            ProviderStats::from_samples(t.client.name(), &model, &samples[i], wall)
        })
        .collect();
    BenchReport {
        runs,
        concurrency: workers,
        providers,
    }
}

/// Send one request and note what the statistics need beyond its outcome: the 429s that were
/// retried.
async fn measure(client: &Client, request: ChatRequest, target: usize) -> Finished {
    let mut retried_429 = 0;
    let outcome = client
        .complete(request, |e| {
            if let ClientEvent::Retry { error, .. } = e {
                retried_429 += u32::from(error.status == Some(429));
            }
        })
        .await;
    Finished {
        target,
        outcome,
        retried_429,
        at: Instant::now(),
    }
}
