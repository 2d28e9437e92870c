//! `update()` tests for the `/` commands: each one, its errors, and Tab completion.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyModifiers};

use crate::provider::ChatRequest;

use super::app::{App, Overlay};
use super::msg::{Command, Msg};
use super::update::update;
use super::update_tests::{app, done, key, send, started};

fn requests(commands: &[Command]) -> Vec<(usize, ChatRequest)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::StartRequest { pane, request, .. } => Some((*pane, request.clone())),
            _ => None,
        })
        .collect()
}

fn notice(app: &App) -> &str {
    app.notice.as_deref().unwrap_or("")
}

#[test]
fn model_system_temp_and_max_shape_the_next_request() {
    let (mut app, _) = app(2);
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert!(send(&mut app, "/model big-model").is_empty());
    assert!(
        notice(&app).contains("p1 uses big-model"),
        "{}",
        notice(&app)
    );
    assert_eq!(app.focus, 1);
    assert!(send(&mut app, "/system Be terse.").is_empty());
    assert!(send(&mut app, "/temp 0.3").is_empty());
    assert!(send(&mut app, "/max 256").is_empty());
    assert!(app.input.is_empty(), "a command clears the prompt");
    let sent = requests(&send(&mut app, "hi"));
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].1.model, "m0",
        "only the focused pane's model changed"
    );
    assert_eq!(sent[1].1.model, "big-model");
    for (_, r) in &sent {
        assert_eq!(r.system.as_deref(), Some("Be terse."));
        assert_eq!(r.temperature, Some(0.3));
        assert_eq!(r.max_tokens, Some(256));
        assert_eq!(r.messages.len(), 1, "commands are not sent as prompts");
    }
    // The session records the model that answered.
    assert_eq!(
        app.core.session.provider("p1").map(|p| p.model.as_str()),
        Some("big-model")
    );
}

#[test]
fn settings_commands_without_an_argument_show_the_focused_panes_value() {
    let (mut app, _) = app(1);
    let cases = [
        ("/model", "p0 model: m0"),
        ("/system", "p0 system: none"),
        ("/temp", "p0 temp: the provider's default"),
        ("/max", "p0 max: the provider's default"),
        ("/system Be brief.", "system prompt set"),
        ("/system", "p0 system: \"Be brief.\""),
        ("/temp 0.4", "temperature 0.4"),
        ("/temp", "p0 temp: 0.4"),
        ("/max 64", "at most 64"),
        ("/max", "p0 max: 64"),
    ];
    for (cmd, want) in cases {
        assert!(send(&mut app, cmd).is_empty(), "{cmd}");
        assert!(notice(&app).contains(want), "{cmd}: {}", notice(&app));
    }
    let sent = requests(&send(&mut app, "hi"));
    assert_eq!(
        sent[0].1.system.as_deref(),
        Some("Be brief."),
        "showing changed nothing"
    );
}

#[test]
fn retry_asks_a_failed_pane_again_and_drop_forgets_the_race() {
    let (mut app, t0) = app(2);
    let ids = started(&send(&mut app, "q1"));
    done(&mut app, ids[0].0, ids[0].1, "a1", t0);
    done(&mut app, ids[1].0, ids[1].1, "b1", t0);
    let ids = started(&send(&mut app, "q2"));
    done(&mut app, ids[1].0, ids[1].1, "b2", t0);
    let failed = crate::client::Outcome {
        error: Some(crate::provider::ApiError::new(
            crate::provider::ErrorKind::Server,
            "boom",
        )),
        ..Default::default()
    };
    super::update_tests::event(
        &mut app,
        ids[0].0,
        ids[0].1,
        crate::client::ClientEvent::Done(Box::new(failed)),
        t0,
    );
    // Pane 0 is focused: /retry asks q2 again there only, with q1's answer as history.
    let sent = requests(&send(&mut app, "/retry"));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 0);
    let texts: Vec<&str> = sent[0]
        .1
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(texts, ["q1", "a1", "q2"]);
    let id = app.core.lanes[0].request_id().expect("in flight");
    done(&mut app, 0, id, "a2", t0);
    assert_eq!(app.core.turn_count(0), 2);
    assert_eq!(
        app.core.round_turns().len(),
        2,
        "still one race of two panes"
    );
    // /drop forgets q2 everywhere; the next prompt goes on from q1.
    assert!(!send(&mut app, "/drop").is_empty());
    assert!(notice(&app).contains("dropped race 2"), "{}", notice(&app));
    let sent = requests(&send(&mut app, "q3"));
    let texts: Vec<&str> = sent[1]
        .1
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(texts, ["q1", "b1", "q3"]);
}

#[test]
fn settings_can_be_reset() {
    let (mut app, _) = app(1);
    for cmd in [
        "/system x",
        "/temp 1",
        "/max 9",
        "/system off",
        "/temp off",
        "/max off",
    ] {
        send(&mut app, cmd);
    }
    let sent = requests(&send(&mut app, "hi"));
    let r = &sent[0].1;
    assert_eq!(
        (r.system.clone(), r.temperature, r.max_tokens),
        (None, None, None)
    );
}

#[test]
fn bad_arguments_and_unknown_commands_say_what_is_valid() {
    let (mut app, _) = app(1);
    let cases = [
        ("/model two words", "usage: /model [NAME]"),
        (
            "/temp hot",
            "usage: /temp [F|off]: F is a number from 0 to 2",
        ),
        ("/temp 2.5", "OpenAI API's range (0 to 2)"),
        ("/max 0", "usage: /max [N|off]: N is a whole number above 0"),
        ("/regen some", "usage: /regen [all]"),
        ("/max -3", "whole number"),
        (
            "/export xml",
            "usage: /export [md|json]: md (the default) or json",
        ),
        ("/clear now", "/clear takes no arguments"),
        (
            "/providers nope",
            "unknown provider nope: the providers are p0",
        ),
        (
            "/frobnicate",
            "unknown command /frobnicate: the commands are /model /system",
        ),
    ];
    for (cmd, want) in cases {
        assert!(send(&mut app, cmd).is_empty(), "{cmd}");
        assert!(notice(&app).contains(want), "{cmd}: {}", notice(&app));
        assert_eq!(notice(&app).lines().count(), 1, "{cmd}");
    }
    assert_eq!(app.core.lanes[0].info.model, "m0", "nothing changed");
    assert_eq!(app.core.lanes[0].info.temperature, None);
}

#[test]
fn temp_follows_each_panes_api_range_as_the_cli_flag_does() {
    let (mut app, _) = app(2);
    app.core.lanes[1].info.protocol = crate::provider::Protocol::Anthropic;
    assert!(send(&mut app, "/temp 1.5").is_empty());
    let n = notice(&app).to_owned();
    assert!(
        n.contains("p1") && n.contains("Anthropic") && n.contains("0 to 1"),
        "{n}"
    );
    assert_eq!(app.core.lanes[0].info.temperature, None, "nothing changed");
    assert!(send(&mut app, "/temp 0.7").is_empty());
    assert!(app
        .core
        .lanes
        .iter()
        .all(|p| p.info.temperature == Some(0.7)));
}

#[test]
fn providers_lists_and_enables_only_the_named_ones() {
    let (mut app, _) = app(3);
    send(&mut app, "/providers");
    assert_eq!(notice(&app), "providers: 1 p0 on · 2 p1 on · 3 p2 on");
    send(&mut app, "/providers p2, p0");
    assert_eq!(notice(&app), "on for the next prompt: p2, p0");
    let panes: Vec<usize> = started(&send(&mut app, "hi"))
        .iter()
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(panes, [0, 2]);
    send(&mut app, "/providers");
    assert_eq!(notice(&app), "providers: 1 p0 on · 2 p1 off · 3 p2 on");
}

#[test]
fn clear_starts_a_new_conversation_and_session() {
    let (mut app, t0) = app(1);
    let (pane, id) = started(&send(&mut app, "q1"))[0];
    done(&mut app, pane, id, "a1", t0);
    let old = app.core.session.id.clone();
    assert_eq!(send(&mut app, "/clear"), [Command::NewSession]);
    // The runtime answers with the new session; the conversation starts again with it.
    let mut fresh = crate::session::Session::with_id("fresh", "2026-01-01T00:00:00Z");
    fresh.providers.clear();
    update(&mut app, Msg::SessionStarted(Box::new(fresh)));
    assert!((app.core.turn_count(0) == 0));
    assert_ne!(app.core.session.id, old);
    let sent = requests(&send(&mut app, "q2"));
    assert_eq!(sent[0].1.messages.len(), 1, "no history after /clear");
    assert_eq!(app.core.session.id, "fresh");
}

#[test]
fn save_and_export_are_effects_with_the_session() {
    let (mut app, t0) = app(1);
    assert!(send(&mut app, "/save").is_empty());
    assert!(notice(&app).starts_with("nothing to save yet"));
    assert!(send(&mut app, "/export").is_empty());
    assert!(notice(&app).starts_with("nothing to export yet"));
    let (pane, id) = started(&send(&mut app, "q1"))[0];
    done(&mut app, pane, id, "a1", t0);
    match send(&mut app, "/save").as_slice() {
        [Command::Save {
            op: crate::session::SaveOp::Whole(session),
            announce: true,
        }] => assert_eq!(session.id, app.core.session.id),
        other => panic!("{other:?}"),
    }
    let sid = app.core.session.id.clone();
    match send(&mut app, "/export").as_slice() {
        [Command::WriteFile { path, contents }] => {
            assert_eq!(path, &PathBuf::from(format!("paddock-{sid}.md")));
            assert!(contents.starts_with(&format!("# paddock session {sid}")));
            assert!(contents.contains("a1"));
        }
        other => panic!("{other:?}"),
    }
    match send(&mut app, "/export json").as_slice() {
        [Command::WriteFile { path, contents }] => {
            assert_eq!(path, &PathBuf::from(format!("paddock-{sid}.json")));
            let back: crate::session::Session =
                serde_json::from_str(contents).expect("the export is the session");
            assert_eq!(back, *app.core.session);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn help_and_sessions_commands_open_their_overlays() {
    let (mut app, _) = app(1);
    send(&mut app, "/help");
    assert_eq!(app.overlay, Overlay::Help);
    // The help scrolls on short screens, and reopens at the top.
    key(&mut app, KeyCode::PageDown, KeyModifiers::NONE);
    key(&mut app, KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(app.help_scroll, 9);
    for _ in 0..20 {
        key(&mut app, KeyCode::PageDown, KeyModifiers::NONE);
    }
    assert_eq!(app.help_scroll, super::keys::help_line_count() - 1);
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    key(&mut app, KeyCode::F(1), KeyModifiers::NONE);
    assert_eq!(app.help_scroll, 0);
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(send(&mut app, "/sessions"), [Command::ListSessions]);
}

#[test]
fn a_double_slash_sends_a_literal_slash_prompt() {
    let (mut app, _) = app(1);
    let sent = requests(&send(&mut app, "//etc/hosts is what?"));
    assert_eq!(sent[0].1.messages[0].content, "/etc/hosts is what?");
}

#[test]
fn tab_completes_command_names() {
    let (mut app, _) = app(2);
    update(&mut app, Msg::Paste("/mo".into()));
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(app.input_text(), "/model ");
    assert_eq!(app.focus, 0, "Tab completed instead of moving focus");
    app.input = super::app::fresh_input("/s");
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(app.input_text(), "/s", "ambiguous: the common prefix stays");
    assert_eq!(notice(&app), "/system /save /sessions");
    app.input = super::app::fresh_input("/sy");
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(app.input_text(), "/system ");
    app.input = super::app::fresh_input("/zz");
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert!(notice(&app).starts_with("no command /zz"));
    // With arguments typed (but a model name, which it completes), Tab moves focus as usual.
    app.input = super::app::fresh_input("/temp 1");
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(app.focus, 1);
}

#[test]
fn tab_after_model_completes_from_the_servers_list_and_keeps_the_focus() {
    let (mut app, _) = app(2);
    update(&mut app, Msg::Paste("/model gp".into()));
    assert_eq!(
        key(&mut app, KeyCode::Tab, KeyModifiers::NONE),
        [Command::ListModels { pane: 0 }]
    );
    assert_eq!(
        app.focus, 0,
        "Tab completes here, it does not move the focus"
    );
    let models = ["gpt-4o", "gpt-4o-mini", "o3-mini"]
        .map(str::to_owned)
        .to_vec();
    update(
        &mut app,
        Msg::Models {
            pane: 0,
            result: Ok(models),
        },
    );
    assert_eq!(app.input_text(), "/model gpt-4o");
    assert!(notice(&app).contains("gpt-4o-mini"), "{}", notice(&app));
    update(&mut app, Msg::Paste("-m".into()));
    assert!(
        key(&mut app, KeyCode::Tab, KeyModifiers::NONE).is_empty(),
        "asked once"
    );
    assert_eq!(app.input_text(), "/model gpt-4o-mini");
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(app.core.lanes[0].info.model, "gpt-4o-mini");
    // A server that cannot list says so in one sentence.
    update(&mut app, Msg::Paste("/model x".into()));
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    update(
        &mut app,
        Msg::Models {
            pane: 0,
            result: Err("p0 refused the key.".into()),
        },
    );
    assert_eq!(notice(&app), "p0 refused the key.");
}
