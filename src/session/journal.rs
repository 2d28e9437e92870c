//! The streaming journal beside a session file: text that streamed since the last whole save,
//! appended as it comes, so an autosave costs what changed, not the transcript's size.
//!
//! `ID.json` is rewritten (atomically) only when a turn begins or ends. In between, each writer
//! process appends pieces to its own `ID.PID.stream`: one JSON line per piece, naming the turn,
//! the field and the byte offset the piece starts at. Reading a session applies a piece only
//! where it continues the text exactly, so a piece the file already holds (a crash between the
//! rewrite and the journal's removal) is never applied twice.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Session;

/// Which text of a turn a piece continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Answer,
    Reasoning,
}

/// Text that streamed into one turn, starting at byte `at` of its field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    pub turn: String,
    pub field: Field,
    pub at: usize,
    pub text: String,
}

/// One write to a session's files.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveOp {
    /// Rewrite `ID.json` with this snapshot (a turn began or ended).
    /// Shared with the race core's record: the core copies it only if it changes the record
    /// before this write is done (`Arc::make_mut`), where a copy per save was the rule.
    Whole(std::sync::Arc<Session>),
    /// Append what streamed to session `session`'s journal.
    Append { session: String, pieces: Vec<Piece> },
}

/// The most journal bytes read back for one session (as much as a session file may hold).
const MAX_JOURNAL_BYTES: u64 = super::store::MAX_SESSION_BYTES;

/// This process's journal for session `id`.
fn own_journal(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.{}.stream", std::process::id()))
}

/// Every journal of session `id` in `dir` (one per process that streamed into it).
fn journals(dir: &Path, id: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{id}.");
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.strip_prefix(&prefix)
                    .and_then(|r| r.strip_suffix(".stream"))
                    .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .collect()
}

/// Append `pieces` to this process's journal of session `id`, and sync it.
pub fn append(dir: &Path, id: &str, pieces: &[Piece]) -> Result<PathBuf, String> {
    let path = own_journal(dir, id);
    let cannot = |e: std::io::Error| {
        format!(
            "could not save streamed text to {} ({e}); check that the directory is writable.",
            path.display()
        )
    };
    crate::paths::create_private_dir(dir).map_err(cannot)?;
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(cannot)?;
    let mut out = std::io::BufWriter::new(&file);
    for piece in pieces {
        serde_json::to_writer(&mut out, piece).map_err(|e| cannot(std::io::Error::other(e)))?;
        out.write_all(b"\n").map_err(cannot)?;
    }
    out.flush().map_err(cannot)?;
    drop(out);
    file.sync_data().map_err(cannot)?;
    Ok(dir.join(format!("{id}.json")))
}

/// The session was just written whole: this process's journal is in it. Once no turn is open,
/// every journal of the session is (a crashed writer's too).
pub fn written_whole(dir: &Path, session: &Session) {
    let open = session
        .providers
        .iter()
        .any(|p| p.turns.iter().any(|t| !t.complete));
    let stale = if open {
        vec![own_journal(dir, &session.id)]
    } else {
        journals(dir, &session.id)
    };
    for path in stale {
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("could not remove {} ({e})", path.display());
            }
        }
    }
}

impl Session {
    /// Text that streamed after the file was written, from the session's journals in `dir`.
    pub(super) fn apply_journals(&mut self, dir: &Path) {
        for path in journals(dir, &self.id) {
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            let reader = std::io::BufReader::new(std::io::Read::take(file, MAX_JOURNAL_BYTES));
            // A line cut off by a crash, or not a piece at all, is skipped.
            for line in reader.lines().map_while(Result::ok) {
                if let Ok(piece) = serde_json::from_str::<Piece>(&line) {
                    self.apply_piece(&piece);
                }
            }
        }
    }

    /// Continue an open turn's text with `piece` where it fits exactly (or overlaps its end).
    pub fn apply_piece(&mut self, piece: &Piece) {
        let turn = self
            .providers
            .iter_mut()
            .flat_map(|p| p.turns.iter_mut())
            .find(|t| !t.complete && t.id.as_deref() == Some(piece.turn.as_str()));
        let Some(turn) = turn else { return };
        let text = match piece.field {
            Field::Answer => &mut turn.answer,
            Field::Reasoning => turn.reasoning.get_or_insert_with(String::new),
        };
        let have = text.len();
        if piece.at > have {
            return; // a gap: an earlier piece is missing, the rest cannot be placed
        }
        if let Some(new) = piece.text.get(have - piece.at..) {
            text.push_str(new);
        }
    }
}
