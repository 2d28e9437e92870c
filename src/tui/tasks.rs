//! Background requests: one task per pane streaming `ClientEvent`s into the UI's channel.

use std::time::Instant;

use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::client::{Client, ClientEvent};
use crate::provider::ChatRequest;
use crate::ratelimit::LimiterSnapshot;
use crate::requestlog::RequestLog;

use super::msg::{Msg, PaneId, RequestId};

/// A provider event tagged with where it belongs.
#[derive(Debug)]
pub struct Tagged {
    pub pane: PaneId,
    pub request_id: RequestId,
    pub event: ClientEvent,
    pub at: Instant,
}

impl Tagged {
    pub fn into_msg(self) -> Msg {
        Msg::Provider {
            pane: self.pane,
            request_id: self.request_id,
            event: self.event,
            at: self.at,
        }
    }
}

/// The clients and the request task of each pane.
pub struct Tasks {
    clients: Vec<Option<Client>>,
    /// Every finished request gets its line, as from the headless commands.
    request_log: RequestLog,
    running: Vec<Option<(RequestId, JoinHandle<()>)>>,
    tx: mpsc::Sender<Tagged>,
}

impl Tasks {
    pub fn new(clients: Vec<Option<Client>>, tx: mpsc::Sender<Tagged>) -> Self {
        let running = clients.iter().map(|_| None).collect();
        Self {
            clients,
            running,
            tx,
            request_log: RequestLog::default_location(),
        }
    }

    /// Start streaming `request` for `pane`; a request still running there is aborted first.
    pub fn start(&mut self, pane: PaneId, request_id: RequestId, request: ChatRequest) {
        let Some(Some(client)) = self.clients.get(pane) else {
            tracing::warn!("tui: no client for pane {pane}");
            return;
        };
        let mut stream = client.stream(request);
        let tx = self.tx.clone();
        let log = self.request_log.clone();
        let handle = tokio::spawn(async move {
            let forward = |event: ClientEvent, at: Instant| {
                if let ClientEvent::Done(outcome) = &event {
                    log.record_in_background(outcome);
                }
                let tagged = Tagged {
                    pane,
                    request_id,
                    event,
                    at,
                };
                tx.send(tagged)
            };
            'stream: while let Some(event) = stream.next().await {
                // What one read brought arrived together: the events ready now share its time
                // (and a flood reads the clock once per read, not once per chunk).
                let at = Instant::now();
                let mut next = Some(event);
                while let Some(event) = next.take() {
                    if forward(event, at).await.is_err() {
                        break 'stream;
                    }
                    match stream.next().now_or_never() {
                        Some(Some(event)) => next = Some(event),
                        Some(None) => break 'stream,
                        None => {}
                    }
                }
            }
        });
        if let Some(slot) = self.running.get_mut(pane) {
            if let Some((_, old)) = slot.replace((request_id, handle)) {
                old.abort();
            }
        }
    }

    /// Abort the task, which drops the stream and with it the HTTP connection.
    pub fn abort(&mut self, pane: PaneId, request_id: RequestId) {
        if let Some(slot) = self.running.get_mut(pane) {
            if slot.as_ref().is_some_and(|(id, _)| *id == request_id) {
                if let Some((_, handle)) = slot.take() {
                    handle.abort();
                }
            }
        }
    }

    pub fn abort_all(&mut self) {
        for (_, handle) in self.running.iter_mut().filter_map(Option::take) {
            handle.abort();
        }
    }

    /// Ask pane `pane`'s server for its models; the answer comes back through `back`.
    pub fn list_models(&self, pane: PaneId, back: tokio::sync::mpsc::UnboundedSender<Msg>) {
        let Some(Some(client)) = self.clients.get(pane) else {
            let _ = back.send(Msg::Models {
                pane,
                result: Err("this pane has no client to ask for models".to_owned()),
            });
            return;
        };
        let client = client.clone();
        tokio::spawn(async move {
            let result = client
                .list_models()
                .await
                .map_err(|e| e.sentence(client.name()));
            let _ = back.send(Msg::Models { pane, result });
        });
    }

    pub fn snapshots(&self) -> Vec<Option<LimiterSnapshot>> {
        self.clients
            .iter()
            .map(|c| c.as_ref().map(|c| c.limiter().snapshot()))
            .collect()
    }
}
