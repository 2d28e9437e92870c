//! Sessions: a race or chat kept on disk as JSON, saved atomically so a crash never loses a finished answer.
//!
//! A [`Session`] is plain data with pure mutators ([`Session::begin_answer`],
//! [`Session::append_partial`], [`Session::finish_answer`]); [`Session::save`] writes it with a
//! temp file + fsync + rename + directory fsync, so a reader (or a process killed with SIGKILL)
//! sees either the previous complete file or the new one, never a mix. [`Autosave`] decides when
//! a streaming answer is worth saving again (a policy taking `now`, so it tests without sleeping),
//! and [`Recorder`] ties both to the client's events for the headless commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::client::{ClientEvent, Outcome};
use crate::config::{Prices, ProviderConfig};
use crate::provider::{Message, Protocol};

/// The version written in every file; a newer paddock can still read older sessions.
pub const FORMAT_VERSION: u32 = 1;

/// A race (several providers) or a chat (one), turn by turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: u32,
    /// Sortable: `20261126-114233-ab12` (UTC time, then 4 random hex digits).
    pub id: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub providers: Vec<ProviderTranscript>,
}

/// One provider's side of a session: its own conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderTranscript {
    pub name: String,
    pub model: String,
    pub protocol: Protocol,
    pub turns: Vec<Turn>,
}

/// One prompt and this provider's answer to it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Turn {
    pub prompt: String,
    pub answer: String,
    /// False while the answer streams; an answer cut off by a crash stays false on disk.
    pub complete: bool,
    pub metrics: TurnMetrics,
}

/// What the request reported, as `ask --json` names it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TurnMetrics {
    pub ttft_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub finish_reason: Option<String>,
    pub retries: u32,
    /// The error kind (`rate_limit`, `stream_interrupted`, ...) when the request failed.
    pub error: Option<String>,
    /// US dollars, when the config has a price for the model.
    pub cost_usd: Option<f64>,
}

impl Turn {
    /// A finished answer that succeeded: the only kind that goes back into the conversation.
    pub fn succeeded(&self) -> bool {
        self.complete && self.metrics.error.is_none()
    }
}

/// Who is answering: what a session records about a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRef {
    pub name: String,
    pub model: String,
    pub protocol: Protocol,
}

impl ProviderRef {
    pub fn new(name: &str, model: &str, protocol: Protocol) -> Self {
        Self {
            name: name.to_owned(),
            model: model.to_owned(),
            protocol,
        }
    }

    /// The provider as configured, with `model` overriding its configured model (e.g. `-m`).
    pub fn of(p: &ProviderConfig, model: Option<&str>) -> Self {
        Self::new(&p.name, model.unwrap_or(&p.model), p.protocol)
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

impl TurnMetrics {
    pub fn of(o: &Outcome, cost_usd: Option<f64>) -> Self {
        Self {
            ttft_ms: o.ttft.map(ms),
            latency_ms: Some(ms(o.latency)),
            input_tokens: o.usage.input_tokens,
            output_tokens: o.usage.output_tokens,
            finish_reason: o.finish_reason.clone(),
            retries: o.retries,
            error: o.error.as_ref().map(|e| e.kind.as_str().to_owned()),
            cost_usd,
        }
    }
}

/// A new, sortable session id from a UTC time and 16 random bits.
pub fn new_id(now: time::OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        rand::random::<u16>()
    )
}

/// Ids are file names: letters, digits and dashes only, so an id can never name another path.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Session {
    /// An empty session created now.
    pub fn new() -> Self {
        let now = time::OffsetDateTime::now_utc();
        let created = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self::with_id(&new_id(now), &created)
    }

    /// An empty session with a given id and creation time (tests and imports).
    pub fn with_id(id: &str, created: &str) -> Self {
        Self {
            version: FORMAT_VERSION,
            id: id.to_owned(),
            created: created.to_owned(),
            providers: Vec::new(),
        }
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderTranscript> {
        self.providers.iter().find(|p| p.name == name)
    }

    fn provider_mut(&mut self, name: &str) -> Option<&mut ProviderTranscript> {
        self.providers.iter_mut().find(|p| p.name == name)
    }

    /// Add `provider` (or update its model) without starting a turn.
    pub fn add_provider(&mut self, provider: &ProviderRef) -> &mut ProviderTranscript {
        let idx = match self.providers.iter().position(|p| p.name == provider.name) {
            Some(i) => i,
            None => {
                self.providers.push(ProviderTranscript {
                    name: provider.name.clone(),
                    model: provider.model.clone(),
                    protocol: provider.protocol,
                    turns: Vec::new(),
                });
                self.providers.len() - 1
            }
        };
        let p = &mut self.providers[idx];
        p.model.clone_from(&provider.model);
        p.protocol = provider.protocol;
        p
    }

    /// Start a turn: `prompt` sent to `provider`, answer empty and incomplete.
    pub fn begin_answer(&mut self, provider: &ProviderRef, prompt: &str) {
        self.add_provider(provider).turns.push(Turn {
            prompt: prompt.to_owned(),
            ..Turn::default()
        });
    }

    /// Text that just streamed in for `provider`'s open turn. Ignored when no turn is open.
    pub fn append_partial(&mut self, provider: &str, text: &str) {
        if let Some(turn) = self.open_turn(provider) {
            turn.answer.push_str(text);
        }
    }

    /// The request ended: the outcome's text replaces the streamed text, and the turn is complete.
    pub fn finish_answer(&mut self, provider: &str, outcome: &Outcome, cost_usd: Option<f64>) {
        if let Some(turn) = self.open_turn(provider) {
            turn.answer.clone_from(&outcome.content);
            turn.metrics = TurnMetrics::of(outcome, cost_usd);
            turn.complete = true;
        }
    }

    fn open_turn(&mut self, provider: &str) -> Option<&mut Turn> {
        self.provider_mut(provider)?
            .turns
            .last_mut()
            .filter(|t| !t.complete)
    }

    /// The messages to send before a new prompt so `provider`'s conversation continues: the
    /// user/assistant pairs of its answers that finished without error, oldest first.
    pub fn history(&self, provider: &str) -> Vec<Message> {
        let Some(p) = self.provider(provider) else {
            return Vec::new();
        };
        p.turns
            .iter()
            .filter(|t| t.succeeded())
            .flat_map(|t| [Message::user(&t.prompt), Message::assistant(&t.answer)])
            .collect()
    }

    /// The first prompt of the session, for listings.
    pub fn first_prompt(&self) -> Option<&str> {
        self.providers
            .iter()
            .filter_map(|p| p.turns.first())
            .map(|t| t.prompt.as_str())
            .next()
    }

    /// Input plus output tokens over every turn, as reported.
    pub fn total_tokens(&self) -> u64 {
        self.turns()
            .map(|t| t.metrics.input_tokens.unwrap_or(0) + t.metrics.output_tokens.unwrap_or(0))
            .sum()
    }

    /// Summed cost, when at least one turn was priced.
    pub fn total_cost(&self) -> Option<f64> {
        let costs: Vec<f64> = self.turns().filter_map(|t| t.metrics.cost_usd).collect();
        (!costs.is_empty()).then(|| costs.iter().sum())
    }

    /// The most turns any provider has.
    pub fn turn_count(&self) -> usize {
        self.providers
            .iter()
            .map(|p| p.turns.len())
            .max()
            .unwrap_or(0)
    }

    fn turns(&self) -> impl Iterator<Item = &Turn> {
        self.providers.iter().flat_map(|p| p.turns.iter())
    }

    /// `dir/ID.json`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.json", self.id))
    }

    /// Write `dir/ID.json` atomically: a crash at any moment leaves the old file or the new one.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, String> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| format!("could not encode session {} ({e}).", self.id))?;
        let path = self.path_in(dir);
        write_atomic(dir, &path, &json).map_err(|e| {
            format!(
                "could not save session file {} ({e}); check that the directory is writable.",
                path.display()
            )
        })?;
        Ok(path)
    }

    /// Read a session file. Errors are one sentence naming the file and the problem; the file is
    /// never touched.
    pub fn load(path: &Path) -> Result<Session, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read session file {} ({e}).", path.display()))?;
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

impl Default for Session {
    fn default() -> Self {
        Self::new()
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

/// The newest session's id in `dir`, for `--resume` with no id.
pub fn last_id(dir: &Path) -> Option<String> {
    session_files(dir)
        .first()
        .and_then(|p| file_id(p))
        .map(str::to_owned)
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
fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
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
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
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

/// When to save a session that is changing: at once for structural changes (a turn began or
/// ended), at most every `every` for streamed text. Takes `now` so it tests without sleeping.
#[derive(Debug, Clone)]
pub struct Autosave {
    pub every: Duration,
    last_save: Option<Instant>,
    dirty: bool,
}

/// The default interval between saves of a streaming answer.
pub const AUTOSAVE_EVERY: Duration = Duration::from_millis(250);

impl Default for Autosave {
    fn default() -> Self {
        Self::new(AUTOSAVE_EVERY)
    }
}

impl Autosave {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last_save: None,
            dirty: false,
        }
    }

    /// The session changed (streamed text).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// True when there are unsaved changes and the last save is at least `every` old.
    pub fn due(&self, now: Instant) -> bool {
        self.dirty
            && self
                .last_save
                .is_none_or(|t| now.saturating_duration_since(t) >= self.every)
    }

    /// True when there are unsaved changes at all.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// Record a save made at `now`.
    pub fn saved(&mut self, now: Instant) {
        self.last_save = Some(now);
        self.dirty = false;
    }
}

/// A session being recorded as requests stream: the glue the headless commands use, and a
/// model for the TUI (which does the same steps through its own effects).
#[derive(Debug)]
pub struct Recorder {
    pub session: Session,
    dir: PathBuf,
    autosave: Autosave,
    prices: Prices,
    /// The first save error, reported once; recording continues in memory.
    pub error: Option<String>,
    /// False records in memory only (`--no-save` with `--resume`).
    pub enabled: bool,
}

impl Recorder {
    pub fn new(session: Session, dir: PathBuf, prices: Prices) -> Self {
        Self {
            session,
            dir,
            autosave: Autosave::default(),
            prices,
            error: None,
            enabled: true,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start `provider`'s answer to `prompt` and save at once (the prompt is on disk before the
    /// request leaves).
    pub fn begin(&mut self, provider: &ProviderRef, prompt: &str) {
        self.session.begin_answer(provider, prompt);
        self.save_now();
    }

    /// Start every provider's answer to the same `prompt` (a race) with a single save.
    pub fn begin_all(&mut self, providers: &[ProviderRef], prompt: &str) {
        for p in providers {
            self.session.begin_answer(p, prompt);
        }
        self.save_now();
    }

    /// Feed one client event for `provider`: text is saved at most every [`AUTOSAVE_EVERY`], the
    /// end of the request at once.
    pub fn on_event(&mut self, provider: &str, event: &ClientEvent) {
        match event {
            ClientEvent::Delta(text) => {
                self.session.append_partial(provider, text);
                self.autosave.touch();
                if self.autosave.due(Instant::now()) {
                    self.save_now();
                }
            }
            ClientEvent::Done(outcome) => {
                // The server's model name first (it may be a dated variant), else the one asked for.
                let asked = self.session.provider(provider).map(|p| p.model.clone());
                let cost = self
                    .prices
                    .cost(&outcome.model, &outcome.usage)
                    .or_else(|| asked.and_then(|m| self.prices.cost(&m, &outcome.usage)));
                self.session.finish_answer(provider, outcome, cost);
                self.save_now();
            }
            _ => {}
        }
    }

    /// Save now whatever the interval says.
    pub fn save_now(&mut self) {
        if !self.enabled {
            return;
        }
        match self.session.save(&self.dir) {
            Ok(_) => self.autosave.saved(Instant::now()),
            Err(e) => {
                tracing::warn!("{e}");
                self.error.get_or_insert(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{ApiError, ErrorKind, Role, Usage};

    fn outcome(content: &str, error: Option<ErrorKind>) -> Outcome {
        Outcome {
            content: content.to_owned(),
            finish_reason: Some("stop".into()),
            usage: Usage {
                input_tokens: Some(10),
                output_tokens: Some(5),
                ..Usage::default()
            },
            ttft: Some(Duration::from_millis(120)),
            latency: Duration::from_millis(900),
            error: error.map(|k| ApiError::new(k, "boom")),
            ..Outcome::default()
        }
    }

    #[test]
    fn ids_sort_by_time_and_are_file_safe() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_795_693_353).unwrap();
        let id = new_id(t);
        assert!(id.starts_with("20261126-114233-"), "{id}");
        assert_eq!(id.len(), "20261126-114233-ab12".len());
        assert!(valid_id(&id));
        assert!(!valid_id("../etc/passwd") && !valid_id("") && !valid_id("a b"));
    }

    #[test]
    fn a_turn_streams_then_finishes_with_the_outcome_text() {
        let mut s = Session::with_id("x", "2026-01-01T00:00:00Z");
        let a = ProviderRef::new("a", "m", Protocol::OpenAi);
        s.begin_answer(&a, "hi");
        s.append_partial("a", "Hel");
        s.append_partial("a", "lo");
        s.append_partial("nobody", "ignored");
        let t = &s.provider("a").unwrap().turns[0];
        assert_eq!((t.answer.as_str(), t.complete), ("Hello", false));
        s.finish_answer("a", &outcome("Hello!", None), Some(0.5));
        let t = &s.provider("a").unwrap().turns[0];
        assert!(t.complete && t.succeeded());
        assert_eq!(t.answer, "Hello!");
        assert_eq!(t.metrics.ttft_ms, Some(120.0));
        assert_eq!(t.metrics.cost_usd, Some(0.5));
        // A finished turn takes no more text.
        s.append_partial("a", "late");
        assert_eq!(s.provider("a").unwrap().turns[0].answer, "Hello!");
        assert_eq!(s.total_tokens(), 15);
    }

    #[test]
    fn history_is_each_providers_own_successful_pairs() {
        let mut s = Session::with_id("x", "2026-01-01T00:00:00Z");
        let a = ProviderRef::new("a", "m", Protocol::OpenAi);
        let b = ProviderRef::new("b", "c", Protocol::Anthropic);
        for (prompt, a_answer, b_error) in
            [("q1", "a1", None), ("q2", "a2", Some(ErrorKind::RateLimit))]
        {
            s.begin_answer(&a, prompt);
            s.begin_answer(&b, prompt);
            s.finish_answer("a", &outcome(a_answer, None), None);
            s.finish_answer("b", &outcome(&format!("b-{prompt}"), b_error), None);
        }
        s.begin_answer(&a, "q3");
        s.append_partial("a", "partial");
        assert_eq!(
            s.history("a"),
            [
                Message::user("q1"),
                Message::assistant("a1"),
                Message::user("q2"),
                Message::assistant("a2"),
            ]
        );
        // b's failed turn and a's unfinished one are left out: alternation stays user/assistant.
        let hb = s.history("b");
        assert_eq!(hb, [Message::user("q1"), Message::assistant("b-q1")]);
        assert_eq!(hb[0].role, Role::User);
        assert!(s.history("nobody").is_empty());
    }

    #[test]
    fn autosave_waits_for_the_interval_and_for_changes() {
        let t0 = Instant::now();
        let mut a = Autosave::new(Duration::from_millis(250));
        assert!(!a.due(t0), "nothing to save");
        a.touch();
        assert!(a.due(t0), "first change saves at once");
        a.saved(t0);
        a.touch();
        assert!(!a.due(t0 + Duration::from_millis(249)));
        assert!(a.due(t0 + Duration::from_millis(250)));
        a.saved(t0 + Duration::from_millis(250));
        assert!(!a.dirty() && !a.due(t0 + Duration::from_secs(9)));
    }

    #[test]
    fn save_load_list_find_and_last_id() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = dir.path().join("sessions");
        assert!(Session::list(&sessions).sessions.is_empty());
        assert_eq!(last_id(&sessions), None);
        let mut old = Session::with_id("20260101-000000-aaaa", "2026-01-01T00:00:00Z");
        old.begin_answer(&ProviderRef::new("a", "m", Protocol::OpenAi), "first");
        let new = Session::with_id("20260102-000000-bbbb", "2026-01-02T00:00:00Z");
        old.save(&sessions).unwrap();
        let path = new.save(&sessions).unwrap();
        assert_eq!(Session::load(&path).unwrap(), new);
        let ids: Vec<_> = Session::list(&sessions)
            .sessions
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["20260102-000000-bbbb", "20260101-000000-aaaa"]);
        assert_eq!(last_id(&sessions).as_deref(), Some("20260102-000000-bbbb"));
        assert_eq!(Session::find(&sessions, "last").unwrap().id, new.id);
        assert_eq!(Session::find(&sessions, "20260101").unwrap(), old);
        assert!(Session::find(&sessions, "2026")
            .unwrap_err()
            .contains("matches 2 sessions"));
        assert!(Session::find(&sessions, "../x")
            .unwrap_err()
            .contains("is not a session id"));
        // No temp files are left behind.
        let names: Vec<_> = std::fs::read_dir(&sessions)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn corrupt_files_get_one_sentence_and_stay_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], &str); 4] = [
            (
                "20260101-000000-0001",
                b"{\"version\": 1, \"id\": \"x\"",
                "is truncated (it ends at line 1 column 24)",
            ),
            (
                "20260101-000000-0002",
                b"{\"version\": 1,, }",
                "is not valid JSON (line 1 column 15)",
            ),
            (
                "20260101-000000-0003",
                b"[1, 2]",
                "is not a paddock session",
            ),
            ("20260101-000000-0004", b"", "is truncated"),
        ];
        for (id, bytes, want) in cases {
            let path = dir.path().join(format!("{id}.json"));
            std::fs::write(&path, bytes).unwrap();
            let err = Session::load(&path).unwrap_err();
            assert!(
                err.starts_with(&format!("session file {} {want}", path.display())),
                "{err}"
            );
            assert!(
                err.ends_with("; it was left as it is — fix or delete it."),
                "{err}"
            );
            assert_eq!(err.lines().count(), 1);
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        let listing = Session::list(dir.path());
        assert!(listing.sessions.is_empty());
        assert_eq!(listing.problems.len(), 4);
    }
}
