//! Inputs to the TUI's `update` (`Msg`) and the effects it asks for (`Command`), as plain data.

use std::path::PathBuf;
use std::time::Instant;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::client::ClientEvent;
use crate::provider::ChatRequest;
use crate::ratelimit::LimiterSnapshot;
use crate::session::{SaveOp, Session};

use super::picker::SessionSummary;

/// Index of a pane: the race core's lane it shows (one per provider, in config order).
pub use crate::race::LaneId as PaneId;
pub use crate::race::RequestId;

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
    /// A fresh, empty session to record into (the answer to [`Command::NewSession`]).
    SessionStarted(Box<Session>),
    /// A saved session to reopen (`--resume`, the picker), or why it could not be read.
    SessionLoaded(Result<Box<Session>, String>),
    /// The saved sessions, newest first, for the picker; `problems` files could not be read.
    SessionList {
        sessions: Vec<SessionSummary>,
        problems: usize,
    },
    /// A save finished; `announce` when the user asked for it (`/save`).
    Saved {
        result: Result<PathBuf, String>,
        announce: bool,
    },
    /// The models pane `pane`'s server offers (the answer to [`Command::ListModels`]).
    Models {
        pane: PaneId,
        result: Result<Vec<String>, String>,
    },
    /// Something the runtime did that the user should hear about (an export's path, an error).
    Notice(String),
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
    /// Write to the session's files, in the background: a whole snapshot (atomically) or what
    /// streamed since the last write (appended to its journal).
    Save {
        op: SaveOp,
        announce: bool,
    },
    /// Start a new session (the runtime makes its id and answers with `Msg::SessionStarted`).
    NewSession,
    /// Read the saved sessions for the picker (answered with `Msg::SessionList`).
    ListSessions,
    /// Load the saved session with this id (answered with `Msg::SessionLoaded`).
    OpenSession(String),
    /// Write `contents` to `path` (an export) and say where it went.
    WriteFile {
        path: PathBuf,
        contents: String,
    },
    /// Ask pane `pane`'s server which models it offers (`GET /models`), for `/model` completion.
    ListModels {
        pane: PaneId,
    },
    /// Add a sent prompt to the history file, so the next run recalls it.
    RememberPrompt(String),
    /// Put `text` on the clipboard: OSC 52 to the terminal, plus a native tool if there is one.
    Copy(String),
    Quit,
}
