//! Saving sessions off the UI task, in order: one background task writes each snapshot (the
//! newest of each session when several queued up) and reports back as `Msg::Saved`.

use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::session::Session;

use super::msg::Msg;

type Job = (Box<Session>, bool);

/// The queue to the writer task.
pub struct Saver {
    tx: mpsc::UnboundedSender<Job>,
    handle: JoinHandle<()>,
}

impl Saver {
    /// Save into `dir` (`None`: no data directory, every save fails with a sentence saying so).
    pub fn spawn(dir: Option<PathBuf>, back: mpsc::UnboundedSender<Msg>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let handle = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let mut jobs = vec![job];
                while let Ok(more) = rx.try_recv() {
                    jobs.push(more);
                }
                for (session, announce) in coalesce(jobs) {
                    let result = save(dir.clone(), session).await;
                    let _ = back.send(Msg::Saved { result, announce });
                }
            }
        });
        Self { tx, handle }
    }

    pub fn save(&self, session: Box<Session>, announce: bool) {
        let _ = self.tx.send((session, announce));
    }

    /// Write what is queued, then stop.
    pub async fn finish(self) {
        drop(self.tx);
        let _ = self.handle.await;
    }
}

/// Only the newest snapshot of each session matters; an announced save stays announced.
fn coalesce(jobs: Vec<Job>) -> Vec<Job> {
    let mut out: Vec<Job> = Vec::new();
    for (session, announce) in jobs {
        match out.iter_mut().find(|(s, _)| s.id == session.id) {
            Some(slot) => *slot = (session, slot.1 || announce),
            None => out.push((session, announce)),
        }
    }
    out
}

async fn save(dir: Option<PathBuf>, session: Box<Session>) -> Result<PathBuf, String> {
    let dir = dir.ok_or_else(|| {
        "there is no data directory (HOME is not set), so sessions are not saved.".to_owned()
    })?;
    tokio::task::spawn_blocking(move || session.save(&dir))
        .await
        .unwrap_or_else(|e| Err(format!("the save task failed ({e}).")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_keeps_the_newest_per_session_in_order() {
        let s = |id: &str, n: usize| {
            let mut s = Session::with_id(id, "2026-01-01T00:00:00Z");
            s.created = n.to_string();
            Box::new(s)
        };
        let out = coalesce(vec![
            (s("a", 1), true),
            (s("b", 2), false),
            (s("a", 3), false),
        ]);
        let got: Vec<_> = out
            .iter()
            .map(|(s, a)| (s.id.as_str(), s.created.as_str(), *a))
            .collect();
        assert_eq!(got, [("a", "3", true), ("b", "2", false)]);
    }
}
