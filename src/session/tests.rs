//! Tests of the session model, the autosave policy and the files on disk.

use super::*;
use std::time::{Duration, Instant};

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
    let t = time::OffsetDateTime::from_unix_timestamp(1_795_693_353).unwrap()
        + time::Duration::milliseconds(42);
    let id = new_id(t);
    assert!(id.starts_with("20261126-114233-042-"), "{id}");
    assert_eq!(id.len(), "20261126-114233-042-00a1b20001".len());
    // Started in the same millisecond: still distinct.
    let many: std::collections::HashSet<String> = (0..1000).map(|_| new_id(t)).collect();
    assert_eq!(many.len(), 1000);
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

#[test]
fn two_writers_of_one_session_keep_each_others_turns() {
    let dir = tempfile::tempdir().unwrap();
    let who = ProviderRef::new("p", "m", Protocol::OpenAi);
    let mut first = Session::with_id("20260101-000000-00aa", "2026-01-01T00:00:00Z");
    first.begin_answer(&who, "zero");
    first.save(dir.path()).unwrap();
    // Two processes resume it at once: each read the file before the other wrote.
    let path = first.path_in(dir.path());
    let mut a = Session::load(&path).unwrap();
    let mut b = Session::load(&path).unwrap();
    a.begin_answer(&who, "from a");
    a.save(dir.path()).unwrap();
    b.begin_answer(&who, "from b");
    b.save(dir.path()).unwrap();
    // a saves again (its answer finished) after b wrote: b's turn survives that too.
    a.append_partial("p", "answer a");
    a.save(dir.path()).unwrap();
    let prompts: Vec<String> = Session::load(&path).unwrap().providers[0]
        .turns
        .iter()
        .map(|t| format!("{}={}", t.prompt, t.answer))
        .collect();
    assert_eq!(prompts, ["zero=", "from a=answer a", "from b="]);
    // c read the file while a's answer streamed; a finished; c's stale copy must not win.
    let mut c = Session::load(&path).unwrap();
    a.finish_answer("p", &outcome("answer a, done", None), None);
    a.save(dir.path()).unwrap();
    c.begin_answer(&who, "from c");
    c.save(dir.path()).unwrap();
    let on_disk = Session::load(&path).unwrap();
    let turn_a = &on_disk.providers[0].turns[1];
    assert!(turn_a.complete, "a's finished turn survived c's stale copy");
    assert_eq!(turn_a.answer, "answer a, done");
    assert_eq!(on_disk.providers[0].turns.len(), 4);
}

#[test]
fn a_session_file_past_the_bound_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("20260101-000000-00bb.json");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(super::store::MAX_SESSION_BYTES + 1).unwrap();
    let err = Session::load(&path).unwrap_err();
    assert!(err.contains("larger than the 64 MiB"), "{err}");
}

#[test]
fn last_means_the_session_used_last_not_the_newest_created() {
    let dir = tempfile::tempdir().unwrap();
    let who = ProviderRef::new("p", "m", Protocol::OpenAi);
    let mut older = Session::with_id("20260101-000000-000-aaaaaa", "2026-01-01T00:00:00Z");
    let newer = Session::with_id("20260102-000000-000-bbbbbb", "2026-01-02T00:00:00Z");
    older.save(dir.path()).unwrap();
    newer.save(dir.path()).unwrap();
    assert_eq!(last_id(dir.path()).as_deref(), Some(newer.id.as_str()));
    std::thread::sleep(Duration::from_millis(20));
    // The older conversation is resumed: it is now the last one used.
    older.begin_answer(&who, "again");
    older.save(dir.path()).unwrap();
    assert_eq!(last_id(dir.path()).as_deref(), Some(older.id.as_str()));
    assert_eq!(Session::find(dir.path(), "last").unwrap().id, older.id);
}
