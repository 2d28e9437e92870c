//! `update()` tests for sessions: autosave effects, resume, the picker, copying and cost.

use std::collections::BTreeMap;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers};

use crate::client::ClientEvent;
use crate::config::{Price, Prices};
use crate::provider::{Protocol, Role};
use crate::session::{Piece, ProviderRef, SaveOp, Session};

use super::app::Overlay;
use super::msg::{Command, Msg};
use super::pane::Phase;
use super::picker::SessionSummary;
use super::update::update;
use super::update_tests::{app, done, event, key, send, started, turn};

fn saves(commands: &[Command]) -> Vec<&Session> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Save {
                op: SaveOp::Whole(session),
                ..
            } => Some(&**session),
            _ => None,
        })
        .collect()
}

/// The streamed text the commands append to the session's journal.
fn appended(commands: &[Command]) -> Vec<&Piece> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Save {
                op: SaveOp::Append { pieces, .. },
                ..
            } => Some(pieces),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn submit_saves_the_prompt_before_any_answer() {
    let (mut app, _) = app(2);
    let commands = send(&mut app, "hello");
    let saved = saves(&commands);
    assert_eq!(saved.len(), 1);
    assert!(matches!(
        commands[0],
        Command::Save {
            op: SaveOp::Whole(_),
            announce: false,
        }
    ));
    let names: Vec<&str> = saved[0].providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p0", "p1"]);
    let turn = &saved[0].providers[1].turns[0];
    assert_eq!((turn.prompt.as_str(), turn.complete), ("hello", false));
    assert_eq!(saved[0].providers[1].model, "m1");
}

#[test]
fn streamed_text_is_saved_periodically_and_the_finished_answer_at_once() {
    let (mut app, t0) = app(1);
    let (pane, id) = started(&send(&mut app, "hi"))[0];
    let msg = |text: &str, ms: u64| Msg::Provider {
        pane,
        request_id: id,
        event: ClientEvent::Delta(text.into()),
        at: t0 + Duration::from_millis(ms),
    };
    assert!(update(&mut app, msg("Hel", 10)).is_empty(), "too soon");
    let partial = update(&mut app, msg("lo", 300));
    assert!(
        saves(&partial).is_empty(),
        "streamed text never rewrites the whole file"
    );
    let pieces = appended(&partial);
    assert_eq!(pieces.len(), 1, "a quarter second later the text is saved");
    let turn_id = app.core.session.providers[0].turns[0].id.clone().unwrap();
    assert_eq!(
        (
            pieces[0].turn.as_str(),
            pieces[0].at,
            pieces[0].text.as_str()
        ),
        (turn_id.as_str(), 0, "Hello")
    );
    assert!(update(&mut app, msg("!", 320)).is_empty());
    // Only what is new since the last save goes out: the cost is the change, not the transcript.
    let more = update(&mut app, msg("!", 600));
    let pieces = appended(&more);
    assert_eq!(
        (pieces[0].at, pieces[0].text.as_str()),
        (5, "!!"),
        "{pieces:?}"
    );

    let before = app.core.session.clone();
    let outcome = crate::client::Outcome {
        content: "Hello!".into(),
        ..Default::default()
    };
    let commands = update(
        &mut app,
        Msg::Provider {
            pane,
            request_id: id,
            event: ClientEvent::Done(Box::new(outcome)),
            at: t0 + Duration::from_millis(330),
        },
    );
    let saved = saves(&commands);
    assert_eq!(saved.len(), 1, "the end of an answer saves at once");
    let turn = &saved[0].providers[0].turns[0];
    assert!(turn.complete && turn.succeeded());
    assert_eq!(turn.answer, "Hello!");
    assert_eq!(saved[0].id, before.id, "the same session file");
}

#[test]
fn cancel_and_quit_save_the_text_so_far_marked_cancelled() {
    let (mut app, t0) = app(2);
    let ids = started(&send(&mut app, "hi"));
    event(
        &mut app,
        ids[0].0,
        ids[0].1,
        ClientEvent::Delta("par".into()),
        t0 + Duration::from_millis(300),
    );
    app.now = t0 + Duration::from_millis(1200);
    let commands = key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    let saved = saves(&commands);
    assert_eq!(saved.len(), 1);
    for p in &saved[0].providers {
        let t = &p.turns[0];
        assert!(t.complete && !t.succeeded());
        assert_eq!(t.metrics.error.as_deref(), Some("cancelled"));
        // How long it ran is kept, so a resumed session does not show 0ms.
        let latency = t.metrics.latency_ms.expect("latency of a cancelled turn");
        assert!((latency - 1200.0).abs() < 1.0, "{latency}");
    }
    let ttft = saved[0].providers[0].turns[0].metrics.ttft_ms;
    assert!(ttft.is_some_and(|ms| (ms - 300.0).abs() < 1.0), "{ttft:?}");
    assert_eq!(saved[0].providers[1].turns[0].metrics.ttft_ms, None);
    assert_eq!(saved[0].providers[0].turns[0].answer, "par");

    // Quitting mid-answer: cancelled, saved, then quit.
    let ids = started(&send(&mut app, "again"));
    event(
        &mut app,
        ids[0].0,
        ids[0].1,
        ClientEvent::Delta("x".into()),
        t0,
    );
    // The first Ctrl-C cancels (and saves), the second quits.
    let commands = key(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(saves(&commands).len(), 1);
    assert!(!commands.contains(&Command::Quit), "{commands:?}");
    assert!(app
        .notice
        .as_deref()
        .is_some_and(|n| n.contains("again quits")));
    let second = key(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(second, [Command::Quit]);
    let text = &saves(&commands)[0].providers[0].turns[1];
    assert_eq!((text.answer.as_str(), text.complete), ("x", true));
    assert!(appended(&commands).is_empty(), "the whole save holds it");
}

/// A saved race: p0 and p1 answered q1 and q2 (p1 failed q2), and `ghost` is no longer configured.
fn saved_race() -> Session {
    let mut s = Session::with_id("20260101-000000-abcd", "2026-01-01T00:00:00Z");
    let a = ProviderRef::new("p0", "m0-old", Protocol::OpenAi);
    let b = ProviderRef::new("p1", "m1", Protocol::OpenAi);
    let g = ProviderRef::new("ghost", "g1", Protocol::Anthropic);
    let ok = |content: &str| crate::client::Outcome {
        content: content.into(),
        ..Default::default()
    };
    for q in ["q1", "q2"] {
        for r in [&a, &b, &g] {
            s.begin_answer(r, q);
            let mut outcome = ok(&format!("{}-{q}", r.name));
            if r.name == "p1" && q == "q2" {
                outcome.error = Some(crate::provider::ApiError::new(
                    crate::provider::ErrorKind::RateLimit,
                    "429",
                ));
            }
            s.finish_answer(&r.name, &outcome, Some(0.001));
        }
    }
    s
}

#[test]
fn a_resumed_session_continues_each_providers_conversation() {
    let (mut app, _) = app(2);
    update(&mut app, Msg::SessionLoaded(Ok(Box::new(saved_race()))));
    assert_eq!(app.panes.len(), 3, "a pane for the unconfigured provider");
    let ghost = &app.core.lanes[2];
    assert!(ghost
        .unavailable
        .as_deref()
        .is_some_and(|w| w.contains("not configured")));
    assert!(!ghost.enabled);
    assert_eq!(app.core.turn_count(2), 2, "its turns are shown");
    assert_eq!(
        app.core.lanes[0].info.model, "m0-old",
        "the session's model"
    );
    assert_eq!(turn(&app, 0, 1).answer(), "p0-q2");
    assert!(matches!(turn(&app, 1, 1).phase(), Phase::Failed { .. }));
    assert_eq!(app.core.round, 2);

    let commands = send(&mut app, "q3");
    let requests: Vec<_> = commands
        .iter()
        .filter_map(|c| match c {
            Command::StartRequest { pane, request, .. } => Some((*pane, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2, "the ghost gets no request");
    let text = |r: &crate::provider::ChatRequest| -> Vec<String> {
        r.messages.iter().map(|m| m.content.clone()).collect()
    };
    assert_eq!(text(&requests[0].1), ["q1", "p0-q1", "q2", "p0-q2", "q3"]);
    assert_eq!(requests[0].1.model, "m0-old");
    // p1's failed answer to q2 is not history; the alternation stays user/assistant/user.
    assert_eq!(text(&requests[1].1), ["q1", "p1-q1", "q3"]);
    let roles: Vec<Role> = requests[1].1.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
    // The new turn goes into the resumed session, not a new one.
    let saved = saves(&commands);
    assert_eq!(saved[0].id, "20260101-000000-abcd");
    assert_eq!(saved[0].provider("p0").map(|p| p.turns.len()), Some(3));
    // Up recalls the session's prompts.
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(app.input_text(), "q3");
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(app.input_text(), "q2");
}

#[test]
fn loading_another_session_drops_panes_of_the_previous_one() {
    let (mut app, _) = app(2);
    update(&mut app, Msg::SessionLoaded(Ok(Box::new(saved_race()))));
    app.focus = 2;
    let mut other = Session::with_id("20260102-000000-0000", "2026-01-02T00:00:00Z");
    other.begin_answer(&ProviderRef::new("p1", "m1", Protocol::OpenAi), "only");
    update(&mut app, Msg::SessionLoaded(Ok(Box::new(other))));
    assert_eq!(app.panes.len(), 2);
    assert_eq!(app.focus, 1);
    assert!((app.core.turn_count(0) == 0));
    assert_eq!(turn(&app, 1, 0).prompt(), "only");
    update(&mut app, Msg::SessionLoaded(Err("no session \"x\"".into())));
    assert_eq!(app.notice.as_deref(), Some("no session \"x\""));
}

fn summary(id: &str) -> SessionSummary {
    SessionSummary {
        id: id.into(),
        date: "2026-01-01 00:00".into(),
        first_prompt: "q".into(),
        providers: vec!["p0".into()],
    }
}

#[test]
fn the_picker_lists_opens_and_closes() {
    let (mut app, t0) = app(1);
    assert_eq!(
        key(&mut app, KeyCode::Char('o'), KeyModifiers::CONTROL),
        [Command::ListSessions]
    );
    let sessions = vec![summary("new"), summary("old")];
    update(
        &mut app,
        Msg::SessionList {
            sessions,
            problems: 0,
        },
    );
    assert_eq!(app.overlay, Overlay::Sessions);
    key(&mut app, KeyCode::Down, KeyModifiers::NONE);
    key(&mut app, KeyCode::Down, KeyModifiers::NONE);
    assert_eq!(app.picker.selected, 1, "stops at the end");
    assert_eq!(
        key(&mut app, KeyCode::Enter, KeyModifiers::NONE),
        [Command::OpenSession("old".into())]
    );
    assert_eq!(app.overlay, Overlay::None);
    update(
        &mut app,
        Msg::SessionList {
            sessions: vec![],
            problems: 1,
        },
    );
    assert!(key(&mut app, KeyCode::Enter, KeyModifiers::NONE).is_empty());
    update(
        &mut app,
        Msg::SessionList {
            sessions: vec![summary("a")],
            problems: 0,
        },
    );
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(app.overlay, Overlay::None);
    // Not while a race runs.
    let _ = t0;
    send(&mut app, "hi");
    assert!(key(&mut app, KeyCode::Char('o'), KeyModifiers::CONTROL).is_empty());
    assert!(app.notice.is_some());
}

#[test]
fn copy_takes_the_focused_panes_last_answer_or_its_code() {
    let (mut app, t0) = app(2);
    assert!(key(&mut app, KeyCode::Char('y'), KeyModifiers::CONTROL).is_empty());
    assert!(app
        .notice
        .as_deref()
        .is_some_and(|n| n.contains("no answer")));
    let ids = started(&send(&mut app, "code please"));
    done(&mut app, ids[0].0, ids[0].1, "plain", t0);
    done(
        &mut app,
        ids[1].0,
        ids[1].1,
        "see:\n```sh\nls -l\n```\n",
        t0,
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('y'), KeyModifiers::CONTROL),
        [Command::Copy("plain".into())]
    );
    assert!(key(&mut app, KeyCode::Char('y'), KeyModifiers::ALT).is_empty());
    assert!(app
        .notice
        .as_deref()
        .is_some_and(|n| n.contains("no code block")));
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(
        key(&mut app, KeyCode::Char('y'), KeyModifiers::ALT),
        [Command::Copy("ls -l".into())]
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('y'), KeyModifiers::CONTROL),
        [Command::Copy("see:\n```sh\nls -l\n```\n".into())]
    );
    assert!(app
        .notice
        .as_deref()
        .is_some_and(|n| n.contains("copied p1")));
}

#[test]
fn alt_y_again_takes_the_code_block_before_and_ctrl_y_says_when_the_answer_is_older() {
    let (mut app, t0) = app(1);
    let ids = started(&send(&mut app, "two blocks"));
    done(
        &mut app,
        ids[0].0,
        ids[0].1,
        "```\none\n```\ntext\n```py\ntwo\n```\n",
        t0,
    );
    let alt_y = |app: &mut super::app::App| key(app, KeyCode::Char('y'), KeyModifiers::ALT);
    assert_eq!(alt_y(&mut app), [Command::Copy("two".into())]);
    assert!(app
        .notice
        .as_deref()
        .is_some_and(|n| n.contains("block 2 of 2")));
    assert_eq!(alt_y(&mut app), [Command::Copy("one".into())]);
    assert_eq!(
        alt_y(&mut app),
        [Command::Copy("two".into())],
        "round again"
    );
    // The next prompt fails: Ctrl-Y copies the earlier answer and says so.
    let ids = started(&send(&mut app, "again"));
    let failed = crate::client::Outcome {
        error: Some(crate::provider::ApiError::new(
            crate::provider::ErrorKind::Server,
            "boom",
        )),
        ..Default::default()
    };
    event(
        &mut app,
        ids[0].0,
        ids[0].1,
        ClientEvent::Done(Box::new(failed)),
        t0,
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('y'), KeyModifiers::CONTROL).len(),
        1
    );
    let notice = app.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("an earlier prompt (the latest has none)"),
        "{notice}"
    );
}

#[test]
fn a_priced_answer_has_its_cost_in_the_pane_and_the_session() {
    let (mut app, t0) = app(2);
    app.core.set_prices(Prices(BTreeMap::from([(
        "m0".to_owned(),
        Price {
            input: 1.0,
            output: 2.0,
            cached_input: None,
            cache_write: None,
        },
    )])));
    let ids = started(&send(&mut app, "hi"));
    done(&mut app, ids[1].0, ids[1].1, "b", t0);
    let event = Msg::Provider {
        pane: ids[0].0,
        request_id: ids[0].1,
        event: ClientEvent::Done(Box::new(crate::client::Outcome {
            content: "a".into(),
            usage: crate::provider::Usage {
                input_tokens: Some(1000),
                output_tokens: Some(500),
                ..Default::default()
            },
            ..Default::default()
        })),
        at: t0,
    };
    let commands = update(&mut app, event);
    let cost = turn(&app, 0, 0).metrics().and_then(|m| m.cost_usd);
    assert_eq!(cost, Some(0.002));
    assert_eq!(turn(&app, 1, 0).metrics().and_then(|m| m.cost_usd), None);
    let saved = saves(&commands);
    assert_eq!(saved[0].providers[0].turns[0].metrics.cost_usd, Some(0.002));
}

#[test]
fn save_results_become_notices() {
    let (mut app, _) = app(1);
    let ok = |announce| Msg::Saved {
        result: Ok("/d/s.json".into()),
        announce,
    };
    update(&mut app, ok(false));
    assert_eq!(app.notice, None, "autosaves are quiet");
    update(&mut app, ok(true));
    assert_eq!(app.notice.as_deref(), Some("saved to /d/s.json"));
    let err = || Msg::Saved {
        result: Err("disk full".into()),
        announce: false,
    };
    update(&mut app, err());
    assert_eq!(app.notice.as_deref(), Some("disk full"));
    app.notice = None;
    update(&mut app, err());
    assert_eq!(app.notice, None, "an autosave failure is told once");
}

#[test]
fn a_resumed_session_keeps_each_panes_settings_and_saves_them_per_turn() {
    let (mut app, _) = app(2);
    let mut saved = saved_race();
    let turn = saved.providers[0].turns.last_mut().unwrap();
    turn.settings = Some(crate::session::TurnSettings {
        model: Some("m0-tuned".into()),
        system: Some("Be terse.".into()),
        temperature: Some(0.25),
        max_tokens: Some(64),
    });
    update(&mut app, Msg::SessionLoaded(Ok(Box::new(saved))));
    let info = &app.core.lanes[0].info;
    assert_eq!(info.model, "m0-tuned");
    assert_eq!(info.system.as_deref(), Some("Be terse."));
    assert_eq!((info.temperature, info.max_tokens), (Some(0.25), Some(64)));
    let request = first_pane_request(&send(&mut app, "q3"));
    assert_eq!(request.system.as_deref(), Some("Be terse."));
    assert_eq!(request.temperature, Some(0.25));
    // The new turn records what it was asked with.
    let name = app.core.lanes[0].info.name.clone();
    let settings = app.core.session.last_settings(&name).unwrap();
    assert_eq!(settings.max_tokens, Some(64));
    assert_eq!(settings.model.as_deref(), Some("m0-tuned"));
}

#[test]
fn a_resumed_pane_sends_its_signed_thinking_back() {
    let (mut app, _) = app(2);
    let mut saved = saved_race();
    let turn = &mut saved.providers[0].turns[0];
    turn.reasoning = Some("thought".into());
    turn.reasoning_signature = Some("sig-1".into());
    update(&mut app, Msg::SessionLoaded(Ok(Box::new(saved))));
    let request = first_pane_request(&send(&mut app, "q3"));
    let answer = &request.messages[1];
    let thinking = answer
        .thinking
        .as_ref()
        .expect("the signed thinking goes back");
    assert_eq!(
        (thinking.thinking.as_str(), thinking.signature.as_str()),
        ("thought", "sig-1")
    );
}

/// The request the first pane was sent.
fn first_pane_request(commands: &[Command]) -> crate::provider::ChatRequest {
    commands
        .iter()
        .find_map(|c| match c {
            Command::StartRequest {
                pane: 0, request, ..
            } => Some(request.clone()),
            _ => None,
        })
        .expect("a request for pane 0")
}
