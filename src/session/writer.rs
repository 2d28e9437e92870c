//! Session writes off the event path: one background thread performs each [`SaveOp`] in order
//! (coalescing what queued up) and reports every result, for the TUI and the headless commands alike.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::journal::{self, SaveOp};

/// How one write ended; `announce` when the user asked for it (`/save`).
#[derive(Debug, Clone)]
pub struct SaveReport {
    pub result: Result<PathBuf, String>,
    pub announce: bool,
}

type Job = (SaveOp, bool);

/// The queue to the writer thread.
pub struct Writer {
    tx: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

impl Writer {
    /// Write into `dir` (`None`: no data directory, every write fails with a sentence saying so);
    /// `report` hears how each write ended.
    pub fn spawn(dir: Option<PathBuf>, report: impl Fn(SaveReport) + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("paddock-session-writer".to_owned())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let mut jobs = vec![job];
                    jobs.extend(rx.try_iter());
                    for (op, announce) in coalesce(jobs) {
                        let result = perform(dir.as_deref(), op);
                        report(SaveReport { result, announce });
                    }
                }
            })
            .ok();
        Self {
            tx: Some(tx),
            handle,
        }
    }

    pub fn save(&self, op: SaveOp, announce: bool) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((op, announce));
        }
    }

    /// Write what is queued, then stop (as dropping it does).
    pub fn finish(self) {}
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn perform(dir: Option<&std::path::Path>, op: SaveOp) -> Result<PathBuf, String> {
    let dir = dir.ok_or_else(|| {
        "there is no data directory (HOME is not set), so sessions are not saved.".to_owned()
    })?;
    match op {
        SaveOp::Whole(session) => {
            let path = session.save(dir)?;
            journal::written_whole(dir, &session);
            Ok(path)
        }
        SaveOp::Append { session, pieces } => journal::append(dir, &session, &pieces),
    }
}

/// A whole snapshot holds everything before it: of the writes to one session, a snapshot makes
/// every earlier snapshot and journal append of that session unneeded; an announced write stays
/// announced.
fn coalesce(jobs: Vec<Job>) -> Vec<Job> {
    let id = |op: &SaveOp| match op {
        SaveOp::Whole(s) => s.id.clone(),
        SaveOp::Append { session, .. } => session.clone(),
    };
    let mut out: Vec<Job> = Vec::with_capacity(jobs.len());
    for (op, announce) in jobs {
        if let SaveOp::Whole(_) = op {
            let session = id(&op);
            let mut announced = announce;
            out.retain(|(earlier, a)| {
                let covered = id(earlier) == session;
                announced |= covered && *a;
                !covered
            });
            out.push((op, announced));
        } else {
            out.push((op, announce));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Field, Piece, Session};

    fn whole(id: &str, created: &str) -> SaveOp {
        SaveOp::Whole(std::sync::Arc::new(Session::with_id(id, created)))
    }

    fn append(id: &str, text: &str) -> SaveOp {
        SaveOp::Append {
            session: id.to_owned(),
            pieces: vec![Piece {
                turn: "t".to_owned(),
                field: Field::Answer,
                at: 0,
                text: text.to_owned(),
            }],
        }
    }

    #[test]
    fn a_snapshot_replaces_the_earlier_writes_of_its_session_only() {
        let out = coalesce(vec![
            (whole("a", "1"), true),
            (append("a", "x"), false),
            (append("b", "y"), false),
            (whole("a", "2"), false),
            (append("a", "z"), false),
        ]);
        let expected = vec![
            (append("b", "y"), false),
            (whole("a", "2"), true),
            (append("a", "z"), false),
        ];
        assert_eq!(out, expected);
    }
}
