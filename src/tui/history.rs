//! Earlier prompts, recalled with Up/Down in the input like a shell's history, and kept across
//! runs in the state directory (one JSON string per line, readable by its owner only).

/// Prompts sent so far, oldest first, and where recall currently stands.
#[derive(Debug, Default)]
pub struct PromptHistory {
    entries: Vec<String>,
    /// Index into `entries` while recalling; `None` when editing a fresh prompt.
    cursor: Option<usize>,
    /// What was typed before recall started, given back when stepping past the newest entry.
    draft: String,
}

impl PromptHistory {
    /// A history that starts with `entries` (oldest first), as read from the file.
    pub fn with_entries(entries: Vec<String>) -> Self {
        Self {
            entries,
            ..Self::default()
        }
    }

    pub fn push(&mut self, prompt: &str) {
        if self.entries.last().map(String::as_str) != Some(prompt) {
            self.entries.push(prompt.to_owned());
        }
        self.cursor = None;
        self.draft.clear();
    }

    /// One step back; `current` is the text in the input now. `None` when there is nothing older.
    pub fn older(&mut self, current: &str) -> Option<&str> {
        let next = match self.cursor {
            None if self.entries.is_empty() => return None,
            None => {
                self.draft = current.to_owned();
                self.entries.len() - 1
            }
            Some(0) => return None,
            Some(i) => i - 1,
        };
        self.cursor = Some(next);
        self.entries.get(next).map(String::as_str)
    }

    /// One step forward; past the newest entry gives back the draft.
    pub fn newer(&mut self) -> Option<&str> {
        let i = self.cursor?;
        if i + 1 < self.entries.len() {
            self.cursor = Some(i + 1);
            self.entries.get(i + 1).map(String::as_str)
        } else {
            self.cursor = None;
            Some(self.draft.as_str())
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The most prompts kept across runs; an older one is forgotten when the file is read.
pub const KEEP: usize = 1000;

/// The most bytes of the history file read (its newest part).
const MAX_FILE_BYTES: u64 = 4 << 20;

/// Where the history lives: `paddock/history.jsonl` in the state directory.
pub fn default_file() -> Option<std::path::PathBuf> {
    crate::paths::state_dir().map(|d| d.join("history.jsonl"))
}

/// The newest [`KEEP`] prompts in `path`, oldest first; a missing or damaged file gives what it
/// can (a line that is not a JSON string is skipped). A file grown past the bound is rewritten
/// with the kept prompts only.
pub fn load(path: &std::path::Path) -> Vec<String> {
    use std::io::{Read, Seek};
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(std::io::SeekFrom::Start(len.saturating_sub(MAX_FILE_BYTES)));
    let mut bytes = Vec::new();
    if file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut entries: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<String>(l).ok())
        .collect();
    let total = entries.len();
    entries.drain(..total.saturating_sub(KEEP));
    if total > 2 * KEEP || len > MAX_FILE_BYTES {
        let _ = rewrite(path, &entries);
    }
    entries
}

/// Add `prompt` to the end of the file at `path` (made 0600 in a 0700 directory).
pub fn append(path: &std::path::Path, prompt: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        crate::paths::create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut line = serde_json::to_string(prompt).map_err(std::io::Error::other)?;
    line.push('\n');
    options.open(path)?.write_all(line.as_bytes())
}

fn rewrite(path: &std::path::Path, entries: &[String]) -> std::io::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    let mut text = String::new();
    for e in entries {
        text.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_survive_a_restart_multiline_and_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("history.jsonl");
        append(&path, "one").unwrap();
        append(&path, "two\nlines").unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{not json\n"))
            .unwrap();
        append(&path, "three").unwrap();
        assert_eq!(load(&path), ["one", "two\nlines", "three"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut h = PromptHistory::with_entries(load(&path));
        assert_eq!(h.older(""), Some("three"));
    }

    #[test]
    fn the_file_is_cut_to_the_newest_prompts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        for i in 0..(2 * KEEP + 5) {
            append(&path, &format!("p{i}")).unwrap();
        }
        let kept = load(&path);
        assert_eq!(kept.len(), KEEP);
        assert_eq!(
            kept.last().map(String::as_str),
            Some(&*format!("p{}", 2 * KEEP + 4))
        );
        assert_eq!(load(&path).len(), KEEP, "and the file was rewritten");
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(lines, KEEP);
    }

    #[test]
    fn recalls_back_and_forth_and_restores_the_draft() {
        let mut h = PromptHistory::default();
        h.push("one");
        h.push("two");
        assert_eq!(h.older("dra"), Some("two"));
        assert_eq!(h.older("two"), Some("one"));
        assert_eq!(h.older("one"), None);
        assert_eq!(h.newer(), Some("two"));
        assert_eq!(h.newer(), Some("dra"));
        assert_eq!(h.newer(), None);
    }
}
