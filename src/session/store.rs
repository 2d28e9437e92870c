//! Sessions on disk: atomic save, load with one-sentence errors, listing and lookup by id.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{valid_id, Session, FORMAT_VERSION};

impl Session {
    /// `dir/ID.json`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.json", self.id))
    }

    /// Write `dir/ID.json` atomically: a crash at any moment leaves the old file or the new one.
    /// Under the session's lock, turns another process added since we read the file are merged
    /// in, so concurrent writers never lose each other's finished turns.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, String> {
        let path = self.path_in(dir);
        let cannot = |e: std::io::Error| {
            format!(
                "could not save session file {} ({e}); check that the directory is writable.",
                path.display()
            )
        };
        crate::paths::create_private_dir(dir).map_err(cannot)?;
        if let Some(data) = crate::paths::data_dir().filter(|d| dir.starts_with(d) && dir != d) {
            // The sessions directory's parent is ours too; an older paddock made it 0755.
            crate::paths::create_private_dir(&data).map_err(cannot)?;
        }
        let _lock = SessionLock::acquire(dir, &self.id)?;
        // Reading the file back is needed only when someone else wrote it since we did.
        let on_disk = (path.is_file() && !nothing_new_on_disk(&path, self))
            .then(|| Session::load(&path).ok())
            .flatten();
        let merged = on_disk.and_then(|disk| self.merged_over(&disk));
        // Encoded straight into the file: a long answer is not copied into a buffer first.
        let session = merged.as_ref().unwrap_or(self);
        write_atomic(dir, &path, |w| {
            serde_json::to_writer_pretty(w, session).map_err(std::io::Error::other)
        })
        .map_err(cannot)?;
        remember_written(&path, session);
        Ok(path)
    }

    /// Read a session file. Errors are one sentence naming the file and the problem; the file is
    /// never touched.
    pub fn load(path: &Path) -> Result<Session, String> {
        let bytes = read_bounded(path)?;
        let session: Session = serde_json::from_slice(&bytes).map_err(|e| {
            let problem = match e.classify() {
                serde_json::error::Category::Eof => format!(
                    "is truncated (it ends at line {} column {})",
                    e.line(),
                    e.column()
                ),
                serde_json::error::Category::Syntax => format!(
                    "is not valid JSON (line {} column {})",
                    e.line(),
                    e.column()
                ),
                _ => format!("is not a paddock session ({e})"),
            };
            format!(
                "session file {} {problem}; it was left as it is — fix or delete it.",
                path.display()
            )
        })?;
        if session.version > FORMAT_VERSION {
            return Err(format!(
                "session file {} has format version {}, newer than this paddock reads ({FORMAT_VERSION}); upgrade paddock.",
                path.display(),
                session.version
            ));
        }
        let mut session = session;
        if let Some(dir) = path.parent() {
            session.apply_journals(dir);
        }
        Ok(session)
    }

    /// Every session in `dir`, newest first, and one sentence per file that could not be read.
    /// A missing directory is an empty list.
    pub fn list(dir: &Path) -> Listing {
        let mut listing = Listing::default();
        for path in session_files(dir) {
            match Session::load(&path) {
                Ok(s) => listing.sessions.push(s),
                Err(e) => listing.problems.push(e),
            }
        }
        listing
    }

    /// Find a session in `dir` by its id or a unique prefix of it; `last` is the newest.
    pub fn find(dir: &Path, id: &str) -> Result<Session, String> {
        if id == "last" {
            let last = last_id(dir).ok_or_else(|| {
                format!(
                    "there are no saved sessions in {} yet; `paddock ask` saves one per conversation.",
                    dir.display()
                )
            })?;
            return Session::load(&dir.join(format!("{last}.json")));
        }
        if !valid_id(id) {
            return Err(format!(
                "\"{id}\" is not a session id (letters, digits and dashes); see `paddock sessions`."
            ));
        }
        let exact = dir.join(format!("{id}.json"));
        if exact.is_file() {
            return Session::load(&exact);
        }
        let matches: Vec<PathBuf> = session_files(dir)
            .into_iter()
            .filter(|p| file_id(p).is_some_and(|f| f.starts_with(id)))
            .collect();
        match matches.as_slice() {
            [one] => Session::load(one),
            [] => Err(format!(
                "no session \"{id}\" in {}; see `paddock sessions`.",
                dir.display()
            )),
            _ => Err(format!(
                "\"{id}\" matches {} sessions; give more of the id (see `paddock sessions`).",
                matches.len()
            )),
        }
    }
}

/// The largest session file paddock reads: eight answers at the largest `max_answer_bytes`.
pub const MAX_SESSION_BYTES: u64 = 64 << 20;

/// A session file's bytes, refused (not read) past [`MAX_SESSION_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read session file {} ({e}).", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_SESSION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_SESSION_BYTES {
        return Err(format!(
            "session file {} is larger than the {} MiB paddock reads; it was left as it is — move it away or delete it.",
            path.display(),
            MAX_SESSION_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// What identifies one version of a file: another writer's rename gives a new inode and time.
type FileStamp = (u64, std::time::SystemTime, u64);

/// How far one turn was when written: its id, whether complete, its answer's length.
type TurnMark = (String, bool, usize);

/// Each session file as this process last wrote it: its stamp and its turns' marks.
static LAST_WRITTEN: std::sync::Mutex<Vec<(PathBuf, FileStamp, Vec<TurnMark>)>> =
    std::sync::Mutex::new(Vec::new());

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.len(), meta.modified().ok()?, inode))
}

/// True when the file is as this process wrote it and `session` has every turn in it at least
/// as far along, so reading it back could add nothing.
fn nothing_new_on_disk(path: &Path, session: &Session) -> bool {
    let Some(now) = stamp(path) else { return false };
    let last = LAST_WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    last.iter().any(|(p, s, marks)| {
        p == path
            && *s == now
            && marks
                .iter()
                .all(|(id, complete, len)| session.has_turn_as_far(id, *complete, *len))
    })
}

fn remember_written(path: &Path, session: &Session) {
    let Some(now) = stamp(path) else { return };
    let ids = session.turn_marks().collect();
    let mut last = LAST_WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    last.retain(|(p, _, _)| p != path);
    last.push((path.to_path_buf(), now, ids));
}

/// An exclusive lock on the sessions directory, held while one session is read, merged and
/// written. The directory itself is locked (flock works on directories), so no lock file is left
/// behind and none can be unlinked from under a waiting writer.
struct SessionLock {
    _dir: std::fs::File,
}

/// How long a writer waits for another to finish before giving up on this save.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl SessionLock {
    fn acquire(dir: &Path, id: &str) -> Result<Self, String> {
        let handle = std::fs::File::open(dir).map_err(|e| {
            format!(
                "cannot lock session {id} ({e}); check that {} is readable.",
                dir.display()
            )
        })?;
        let started = std::time::Instant::now();
        loop {
            match handle.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(format!(
                        "session {id} stayed locked by another paddock for {} s, so this save was given up; the answer is in the request log only.",
                        LOCK_WAIT.as_secs()
                    ))
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(format!("cannot lock session {id} ({e})."))
                }
            }
        }
        let waited = started.elapsed();
        if waited > std::time::Duration::from_millis(100) {
            tracing::info!(
                session = id,
                waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                "waited for another writer of the sessions directory"
            );
        }
        Ok(Self { _dir: handle })
    }
}

/// What [`Session::list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    pub sessions: Vec<Session>,
    pub problems: Vec<String>,
}

/// Where sessions live: `paths::data_dir()/sessions` (e.g. `~/.local/share/paddock/sessions`).
pub fn default_dir() -> Option<PathBuf> {
    crate::paths::data_dir().map(|d| d.join("sessions"))
}

/// The id of the session used last in `dir` (the one written most recently), for `--resume`
/// with no id and `export last`: resuming an older session makes it the last one.
pub fn last_id(dir: &Path) -> Option<String> {
    session_files(dir)
        .into_iter()
        .filter_map(|p| {
            let used = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((used, file_id(&p)?.to_owned()))
        })
        .max()
        .map(|(_, id)| id)
}

fn file_id(path: &Path) -> Option<&str> {
    path.file_stem()?.to_str()
}

/// `*.json` files with valid ids, newest (greatest id) first. Temp files start with a dot.
fn session_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| file_id(p).is_some_and(valid_id))
        .collect();
    files.sort_by(|a, b| b.file_name().cmp(&a.file_name()));
    files
}

/// Temp file in the same directory, write, fsync, rename over `path`, fsync the directory.
fn write_atomic(
    dir: &Path,
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            // Sessions hold prompts and answers: readable by their owner only.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&tmp)?;
        let mut buffered = std::io::BufWriter::with_capacity(64 << 10, &file);
        write(&mut buffered)?;
        buffered.flush()?;
        drop(buffered);
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
