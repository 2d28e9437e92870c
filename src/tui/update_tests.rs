//! `update()` tests: messages in, state and commands out, no I/O and no clock.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::client::{ClientEvent, Outcome};
use crate::config::ProviderConfig;
use crate::provider::{ApiError, ErrorKind, Protocol, Role, Usage};
use crate::retry::{RetryDecision, WaitSource};

use super::app::{App, Overlay};
use super::msg::{Command, Msg, RequestId};
use super::pane::Phase;
use super::update::update;

pub(super) fn app(n: usize) -> (App, Instant) {
    let providers: Vec<ProviderConfig> = (0..n)
        .map(|i| {
            ProviderConfig::new(
                &format!("p{i}"),
                Protocol::OpenAi,
                &format!("m{i}"),
                "http://127.0.0.1:9/v1",
            )
        })
        .collect();
    let t0 = Instant::now();
    let mut app = App::new(&providers, Vec::new(), false, t0);
    update(
        &mut app,
        Msg::Resize {
            width: 120,
            height: 40,
        },
    );
    (app, t0)
}

/// Turn `i` of pane `pane`, as the views read it.
pub(super) fn turn(app: &App, pane: usize, i: usize) -> crate::race::TurnRef<'_> {
    app.core.turns(pane).nth(i).expect("the turn exists")
}

pub(super) fn key(app: &mut App, code: KeyCode, mods: KeyModifiers) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(code, mods)))
}

/// Type `prompt` and press Enter; the commands it asks for, but the history file's (tested apart).
pub(super) fn send(app: &mut App, prompt: &str) -> Vec<Command> {
    update(app, Msg::Paste(prompt.to_owned()));
    key(app, KeyCode::Enter, KeyModifiers::NONE)
        .into_iter()
        .filter(|c| !matches!(c, Command::RememberPrompt(_)))
        .collect()
}

#[test]
fn sent_prompts_and_commands_go_to_the_history_file_for_the_next_run() {
    let (mut app, _) = app(1);
    for text in ["hello", "/temp 0.5", "   "] {
        update(&mut app, Msg::Paste(text.to_owned()));
        let commands = key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
        let remembered: Vec<&str> = commands
            .iter()
            .filter_map(|c| match c {
                Command::RememberPrompt(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        let expected: &[&str] = if text.trim().is_empty() { &[] } else { &[text] };
        assert_eq!(remembered, expected);
        app.input = super::app::fresh_input("");
    }
}

pub(super) fn started(commands: &[Command]) -> Vec<(usize, RequestId)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::StartRequest {
                pane, request_id, ..
            } => Some((*pane, *request_id)),
            _ => None,
        })
        .collect()
}

pub(super) fn event(app: &mut App, pane: usize, id: RequestId, event: ClientEvent, at: Instant) {
    update(
        app,
        Msg::Provider {
            pane,
            request_id: id,
            event,
            at,
        },
    );
}

pub(super) fn done(app: &mut App, pane: usize, id: RequestId, content: &str, at: Instant) {
    let outcome = Outcome {
        content: content.to_owned(),
        finish_reason: Some("stop".into()),
        usage: Usage {
            input_tokens: Some(10),
            output_tokens: Some(20),
            ..Usage::default()
        },
        ttft: Some(Duration::from_millis(100)),
        latency: Duration::from_secs(1),
        ..Outcome::default()
    };
    event(app, pane, id, ClientEvent::Done(Box::new(outcome)), at);
}

#[test]
fn submit_starts_one_request_per_active_provider() {
    let (mut app, _) = app(3);
    let commands = send(&mut app, "hello");
    let ids = started(&commands);
    assert_eq!(ids.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [0, 1, 2]);
    let mut unique: Vec<_> = ids.iter().map(|(_, id)| *id).collect();
    unique.dedup();
    assert_eq!(unique.len(), 3, "request ids are distinct");
    for c in &commands {
        if let Command::StartRequest { request, .. } = c {
            assert_eq!(request.messages.len(), 1);
            assert_eq!(request.messages[0].content, "hello");
            assert!(request.stream);
        }
    }
    assert!(app.input.is_empty(), "the input clears after sending");
    assert!(app.core.lanes.iter().all(|p| p.in_flight()));
}

#[test]
fn empty_prompt_sends_nothing() {
    let (mut app, _) = app(2);
    assert!(send(&mut app, "   ").is_empty());
}

#[test]
fn stream_events_change_only_their_pane() {
    let (mut app, t0) = app(3);
    let ids = started(&send(&mut app, "hi"));
    let (pane, id) = ids[1];
    event(
        &mut app,
        pane,
        id,
        ClientEvent::Connecting { attempt: 0 },
        t0,
    );
    event(
        &mut app,
        pane,
        id,
        ClientEvent::Delta("Hel".into()),
        t0 + Duration::from_millis(120),
    );
    event(
        &mut app,
        pane,
        id,
        ClientEvent::Delta("lo".into()),
        t0 + Duration::from_millis(130),
    );
    let p1 = turn(&app, 1, 0);
    assert_eq!(p1.answer(), "Hello");
    assert_eq!(p1.phase(), Phase::Streaming);
    assert_eq!(p1.ttft(), Some(Duration::from_millis(120)));
    for other in [0, 2] {
        let t = turn(&app, other, 0);
        assert_eq!(t.answer(), "");
        assert_eq!(t.phase(), Phase::Queued);
    }
}

#[test]
fn a_first_token_is_drawn_at_once_and_the_text_after_it_at_the_frame_rate() {
    let (mut app, t0) = app(1);
    let (pane, id) = started(&send(&mut app, "hi"))[0];
    let mut drawn_at_once = |event: ClientEvent, ms| {
        app.draw_now = false;
        self::event(&mut app, pane, id, event, t0 + Duration::from_millis(ms));
        app.draw_now
    };
    assert!(drawn_at_once(ClientEvent::Connecting { attempt: 0 }, 0));
    assert!(drawn_at_once(ClientEvent::Delta("Hel".into()), 120));
    assert!(!drawn_at_once(ClientEvent::Delta("lo".into()), 130));
    assert!(!drawn_at_once(ClientEvent::Delta(" there".into()), 140));
    assert!(!drawn_at_once(ClientEvent::Usage(Usage::default()), 145));
    done(
        &mut app,
        pane,
        id,
        "Hello there",
        t0 + Duration::from_millis(150),
    );
    assert!(app.draw_now, "the end of a request is drawn at once");
}

#[test]
fn retry_and_queue_events_set_the_phase() {
    let (mut app, t0) = app(1);
    let (pane, id) = started(&send(&mut app, "hi"))[0];
    event(&mut app, pane, id, ClientEvent::Queued, t0);
    assert_eq!(turn(&app, 0, 0).phase(), Phase::Queued);
    let decision = RetryDecision {
        retry: 1,
        max_retries: 3,
        wait: Duration::from_secs(2),
        source: WaitSource::RetryAfter,
    };
    let error = ApiError::new(ErrorKind::RateLimit, "slow down").with_status(429);
    event(
        &mut app,
        pane,
        id,
        ClientEvent::Retry { decision, error },
        t0,
    );
    match &turn(&app, 0, 0).phase() {
        Phase::Retrying {
            retry: 1,
            max: 3,
            until,
            kind: ErrorKind::RateLimit,
            status: Some(429),
        } => {
            assert_eq!(*until, t0 + Duration::from_secs(2))
        }
        other => panic!("unexpected phase {other:?}"),
    }
    assert_eq!(app.core.lanes[0].total_retries, 1);
}

#[test]
fn cancel_emits_aborts_and_late_events_are_dropped() {
    let (mut app, t0) = app(2);
    let ids = started(&send(&mut app, "hi"));
    event(
        &mut app,
        ids[0].0,
        ids[0].1,
        ClientEvent::Delta("par".into()),
        t0,
    );
    let commands = key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    let aborts: Vec<_> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Abort { pane, request_id } => Some((*pane, *request_id)),
            _ => None,
        })
        .collect();
    assert_eq!(aborts, ids);
    assert!(!app.in_flight());
    assert!((0..app.panes.len()).all(|i| turn(&app, i, 0).phase() == Phase::Cancelled));
    // Events still in the channel from the cancelled requests change nothing.
    event(
        &mut app,
        ids[0].0,
        ids[0].1,
        ClientEvent::Delta("tial".into()),
        t0,
    );
    done(&mut app, ids[1].0, ids[1].1, "late", t0);
    assert_eq!(turn(&app, 0, 0).answer(), "par");
    assert_eq!(turn(&app, 1, 0).answer(), "");
    assert_eq!(turn(&app, 1, 0).phase(), Phase::Cancelled);
}

#[test]
fn events_of_a_superseded_request_are_dropped() {
    let (mut app, t0) = app(1);
    let old = started(&send(&mut app, "one"))[0];
    done(&mut app, old.0, old.1, "first answer", t0);
    let new = started(&send(&mut app, "two"))[0];
    assert_ne!(old.1, new.1);
    event(
        &mut app,
        old.0,
        old.1,
        ClientEvent::Delta("stale".into()),
        t0,
    );
    assert_eq!(turn(&app, 0, 1).answer(), "");
}

#[test]
fn toggled_off_providers_get_no_request() {
    let (mut app, _) = app(3);
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(app.focus, 1);
    key(&mut app, KeyCode::Char('t'), KeyModifiers::CONTROL);
    key(&mut app, KeyCode::Char('3'), KeyModifiers::ALT);
    let panes: Vec<usize> = started(&send(&mut app, "hi"))
        .iter()
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(panes, [0]);
    assert!((app.core.turn_count(1) == 0) && (app.core.turn_count(2) == 0));
}

#[test]
fn all_off_sends_nothing_and_says_why() {
    let (mut app, _) = app(1);
    key(&mut app, KeyCode::F(2), KeyModifiers::NONE);
    assert!(send(&mut app, "hi").is_empty());
    assert!(app.notice.is_some());
}

#[test]
fn follow_up_carries_each_panes_own_history() {
    let (mut app, t0) = app(2);
    let ids = started(&send(&mut app, "q1"));
    done(&mut app, ids[0].0, ids[0].1, "answer from p0", t0);
    done(&mut app, ids[1].0, ids[1].1, "answer from p1", t0);
    let commands = send(&mut app, "q2");
    let requests: Vec<_> = commands
        .iter()
        .filter_map(|c| match c {
            Command::StartRequest { pane, request, .. } => Some((*pane, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    for (pane, req) in requests {
        let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
        assert_eq!(req.messages[0].content, "q1");
        assert_eq!(req.messages[1].content, format!("answer from p{pane}"));
        assert_eq!(req.messages[2].content, "q2");
    }
}

#[test]
fn a_provider_off_for_a_turn_does_not_see_it_later() {
    let (mut app, t0) = app(2);
    key(&mut app, KeyCode::Char('2'), KeyModifiers::ALT);
    let ids = started(&send(&mut app, "q1"));
    done(&mut app, ids[0].0, ids[0].1, "a1", t0);
    key(&mut app, KeyCode::Char('2'), KeyModifiers::ALT);
    let commands = send(&mut app, "q2");
    for c in commands {
        if let Command::StartRequest {
            pane: 1, request, ..
        } = c
        {
            assert_eq!(request.messages.len(), 1, "pane 1 never saw q1");
        }
    }
}

#[test]
fn submit_while_racing_is_refused() {
    let (mut app, _) = app(1);
    send(&mut app, "q1");
    assert!(send(&mut app, "q2").is_empty());
    assert!(app.notice.is_some());
}

#[test]
fn failure_ends_the_request_with_its_kind() {
    let (mut app, t0) = app(1);
    let (pane, id) = started(&send(&mut app, "hi"))[0];
    let outcome = Outcome {
        error: Some(ApiError::new(ErrorKind::Auth, "bad key").with_status(401)),
        ..Outcome::default()
    };
    event(&mut app, pane, id, ClientEvent::Done(Box::new(outcome)), t0);
    assert!(matches!(
        turn(&app, 0, 0).phase(),
        Phase::Failed {
            kind: ErrorKind::Auth,
            ..
        }
    ));
    assert!(!app.in_flight());
}

#[test]
fn race_winners_when_all_done() {
    let (mut app, t0) = app(2);
    let ids = started(&send(&mut app, "hi"));
    done(&mut app, ids[0].0, ids[0].1, "a", t0);
    assert_eq!(
        app.core.winners(),
        crate::race::Winners::default(),
        "not finished yet"
    );
    let slow = Outcome {
        content: "b".into(),
        ttft: Some(Duration::from_millis(50)),
        latency: Duration::from_secs(3),
        ..Outcome::default()
    };
    event(
        &mut app,
        ids[1].0,
        ids[1].1,
        ClientEvent::Done(Box::new(slow)),
        t0,
    );
    let w = app.core.winners();
    assert_eq!(w.ttft, Some(1));
    assert_eq!(w.total, Some(0));
}

#[test]
fn keys_for_overlays_focus_maximise_and_quit() {
    let (mut app, _) = app(3);
    key(&mut app, KeyCode::Char('?'), KeyModifiers::NONE);
    assert_eq!(app.overlay, Overlay::Help);
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(app.overlay, Overlay::None);
    key(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    assert_eq!(app.overlay, Overlay::Table);
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    key(&mut app, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(app.focus, 2);
    key(&mut app, KeyCode::Char('f'), KeyModifiers::CONTROL);
    assert!(app.maximized);
    assert_eq!(app.layout().panes.iter().filter(|p| p.is_some()).count(), 1);
    assert_eq!(
        key(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL),
        [Command::Quit]
    );
}

#[test]
fn typing_question_mark_in_a_prompt_types_it() {
    let (mut app, _) = app(1);
    update(&mut app, Msg::Paste("why".into()));
    key(&mut app, KeyCode::Char('?'), KeyModifiers::NONE);
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(app.input_text(), "why?");
}

#[test]
fn alt_enter_inserts_a_newline_and_up_recalls() {
    let (mut app, t0) = app(1);
    update(&mut app, Msg::Paste("line one".into()));
    key(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    update(&mut app, Msg::Paste("line two".into()));
    assert_eq!(app.input_text(), "line one\nline two");
    let (pane, id) = started(&key(&mut app, KeyCode::Enter, KeyModifiers::NONE))[0];
    done(&mut app, pane, id, "ok", t0);
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(app.input_text(), "line one\nline two");
    key(&mut app, KeyCode::Down, KeyModifiers::NONE);
    assert_eq!(app.input_text(), "");
}

#[test]
fn scrolling_up_stops_following_and_end_resumes() {
    let (mut app, t0) = app(1);
    let (pane, id) = started(&send(&mut app, "hi"))[0];
    event(
        &mut app,
        pane,
        id,
        ClientEvent::Delta("line\n\n".repeat(200)),
        t0,
    );
    update(&mut app, Msg::Frame);
    assert!(app.panes[0].view.len() > 100);
    key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    let top = app.panes[0].scroll.expect("scrolled up");
    event(
        &mut app,
        pane,
        id,
        ClientEvent::Delta("more\n\n".repeat(20)),
        t0,
    );
    update(&mut app, Msg::Frame);
    assert_eq!(
        app.panes[0].scroll,
        Some(top),
        "new text does not move a scrolled pane"
    );
    key(&mut app, KeyCode::End, KeyModifiers::NONE);
    assert_eq!(app.panes[0].scroll, None);
    key(&mut app, KeyCode::Home, KeyModifiers::NONE);
    assert_eq!(app.panes[0].scroll, Some(0));
    key(&mut app, KeyCode::PageDown, KeyModifiers::NONE);
    for _ in 0..100 {
        key(&mut app, KeyCode::PageDown, KeyModifiers::NONE);
    }
    assert_eq!(
        app.panes[0].scroll, None,
        "paging to the bottom follows again"
    );
}
