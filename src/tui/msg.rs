//! Inputs to [`update`](super::update::update) (`Msg`) and the effects it asks for (`Command`), as plain data.

use std::time::Instant;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::client::ClientEvent;
use crate::provider::ChatRequest;
use crate::ratelimit::LimiterSnapshot;

/// Index of a pane (one per provider, in config order).
pub type PaneId = usize;

/// Names one request; events carrying an older id than the pane's current one are stale.
pub type RequestId = u64;

/// Something that happened: a terminal event, a provider event, a clock tick.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// An event from the request `request_id` of `pane`, stamped when it arrived.
    Provider {
        pane: PaneId,
        request_id: RequestId,
        event: ClientEvent,
        at: Instant,
    },
    /// Fresh limiter snapshots, one per pane (`None` when the pane has no client).
    Limits(Vec<Option<LimiterSnapshot>>),
    /// A frame is about to be drawn: bring the render caches up to date.
    Frame,
}

/// An effect for the runtime to perform. `update` never does I/O itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    StartRequest {
        pane: PaneId,
        request_id: RequestId,
        request: ChatRequest,
    },
    /// Drop the request's stream (closing its HTTP connection), not merely hide it.
    Abort {
        pane: PaneId,
        request_id: RequestId,
    },
    Quit,
}
