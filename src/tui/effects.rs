//! The runtime's side of the effects: performs each [`Command`] `update` returns, and feeds the
//! answers (a new session, a listing, a loaded session, a notice) back in as messages.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::client::Client;
use crate::session::{Session, Writer};

use super::app::App;
use super::clipboard;
use super::msg::{Command, Msg};
use super::picker::SessionSummary;
use super::tasks::{Tagged, Tasks};
use super::update::update_at;

/// What performs effects: the request tasks, the session writer, where sessions live.
pub struct Runtime {
    pub tasks: Tasks,
    writer: Writer,
    dir: Option<PathBuf>,
    /// Inside tmux, OSC 52 needs its passthrough wrapping.
    tmux: bool,
    /// `Command::Quit` was asked: the loop ends.
    quit: bool,
    /// Where background answers (a model list) come back as messages.
    notes: mpsc::UnboundedSender<Msg>,
}

impl Runtime {
    pub fn new(
        clients: Vec<Option<Client>>,
        tx: mpsc::Sender<Tagged>,
        dir: Option<PathBuf>,
        notes: mpsc::UnboundedSender<Msg>,
    ) -> Self {
        Self {
            tasks: Tasks::new(clients, tx),
            notes: notes.clone(),
            writer: Writer::spawn(dir.clone(), move |report| {
                let _ = notes.send(Msg::Saved {
                    result: report.result,
                    announce: report.announce,
                });
            }),
            dir,
            tmux: std::env::var_os("TMUX").is_some(),
            quit: false,
        }
    }

    pub fn quitting(&self) -> bool {
        self.quit
    }

    /// Feed `msg` through `update`, perform the commands, and handle the messages they answer with.
    pub fn dispatch(&mut self, app: &mut App, msg: Msg) {
        // Most messages answer with nothing: the queue allocates only for those that do (this
        // runs for every chunk of every stream).
        let mut queue = VecDeque::new();
        let mut first = Some(msg);
        // The messages its commands answer with are part of the same change.
        let now = Instant::now();
        while let Some(msg) = first.take().or_else(|| queue.pop_front()) {
            for command in update_at(app, msg, now) {
                if let Some(answer) = self.perform(command) {
                    queue.push_back(answer);
                }
            }
        }
    }

    fn perform(&mut self, command: Command) -> Option<Msg> {
        match command {
            Command::StartRequest {
                pane,
                request_id,
                request,
            } => self.tasks.start(pane, request_id, request),
            Command::Abort { pane, request_id } => self.tasks.abort(pane, request_id),
            Command::Quit => self.quit = true,
            Command::Save { op, announce } => self.writer.save(op, announce),
            Command::NewSession => return Some(Msg::SessionStarted(Box::default())),
            Command::ListSessions => return Some(self.list()),
            Command::OpenSession(id) => return Some(self.open(&id)),
            Command::WriteFile { path, contents } => {
                return Some(Msg::Notice(self.write(&path, &contents)))
            }
            Command::Copy(text) => self.copy(text),
            Command::ListModels { pane } => self.tasks.list_models(pane, self.notes.clone()),
            Command::RememberPrompt(prompt) => {
                if let Some(path) = super::history::default_file() {
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = super::history::append(&path, &prompt) {
                            tracing::warn!("could not add to {} ({e})", path.display());
                        }
                    });
                }
            }
        }
        None
    }

    fn no_dir() -> String {
        "there is no data directory (HOME is not set), so there are no saved sessions.".to_owned()
    }

    fn list(&self) -> Msg {
        let Some(dir) = &self.dir else {
            return Msg::Notice(Self::no_dir());
        };
        let listing = Session::list(dir);
        for problem in &listing.problems {
            tracing::warn!("{problem}");
        }
        Msg::SessionList {
            sessions: listing.sessions.iter().map(SessionSummary::of).collect(),
            problems: listing.problems.len(),
        }
    }

    fn open(&self, id: &str) -> Msg {
        let Some(dir) = &self.dir else {
            return Msg::SessionLoaded(Err(Self::no_dir()));
        };
        Msg::SessionLoaded(Session::find(dir, id).map(Box::new))
    }

    /// Write an export in the working directory, else in the data directory; say where.
    fn write(&self, path: &Path, contents: &str) -> String {
        let mut tried = Vec::new();
        let data = self
            .dir
            .as_deref()
            .and_then(Path::parent)
            .map(|d| d.join(path));
        for target in std::iter::once(path.to_path_buf()).chain(data) {
            match std::fs::write(&target, contents) {
                Ok(()) => {
                    let shown = std::path::absolute(&target).unwrap_or(target);
                    return format!("exported to {}", shown.display());
                }
                Err(e) => tried.push(format!("{} ({e})", target.display())),
            }
        }
        format!("could not write the export: {}", tried.join("; "))
    }

    /// OSC 52 to the terminal now; a native clipboard tool off the UI task.
    fn copy(&self, text: String) {
        let mut out = std::io::stdout();
        let bytes = clipboard::osc52(&text, self.tmux);
        if let Err(e) = out.write_all(&bytes).and_then(|()| out.flush()) {
            tracing::warn!("tui: could not write OSC 52 ({e})");
        }
        tokio::task::spawn_blocking(move || clipboard::copy_native(&text));
    }

    /// Stop the requests and wait for queued saves to reach the disk.
    pub async fn shutdown(self) {
        let mut tasks = self.tasks;
        tasks.abort_all();
        let writer = self.writer;
        let _ = tokio::task::spawn_blocking(move || writer.finish()).await;
    }
}
