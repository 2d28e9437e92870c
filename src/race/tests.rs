//! Race core tests: events in, record and effects out. No I/O, no async, no clock but the
//! times the events carry.

use std::time::{Duration, Instant};

use crate::client::{ClientEvent, Outcome};
use crate::config::Prices;
use crate::provider::{Protocol, Usage};
use crate::session::{Field, ProviderRef, SaveOp, Session};

use super::*;

fn info(name: &str) -> ProviderInfo {
    ProviderInfo {
        name: name.to_owned(),
        model: format!("{name}-model"),
        protocol: Protocol::OpenAi,
        simulated: false,
        system: None,
        temperature: None,
        max_tokens: None,
    }
}

fn core(names: &[&str]) -> RaceCore {
    let lanes = names.iter().map(|n| Lane::new(info(n), None)).collect();
    RaceCore::new(
        lanes,
        Session::with_id("20260101-000000-000-0000000001", "2026-01-01T00:00:00Z"),
        Prices::default(),
        6,
    )
}

fn submit(core: &mut RaceCore, prompt: &str, at: Instant) -> Vec<Effect> {
    let lanes = (0..core.lanes.len()).collect();
    core.step(CoreEvent::Submit {
        lanes,
        prompt: prompt.to_owned(),
        at,
    })
}

fn starts(effects: &[Effect]) -> Vec<(LaneId, RequestId)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Start {
                lane, request_id, ..
            } => Some((*lane, *request_id)),
            _ => None,
        })
        .collect()
}

fn provider(core: &mut RaceCore, lane: LaneId, event: ClientEvent, at: Instant) -> Vec<Effect> {
    let request_id = core.lanes[lane].request_id().unwrap_or(0);
    core.step(CoreEvent::Provider {
        lane,
        request_id,
        event,
        at,
    })
}

/// What a request says, message by message.
fn texts(request: &crate::provider::ChatRequest) -> Vec<&str> {
    request
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect()
}

fn outcome(content: &str) -> Outcome {
    Outcome {
        content: content.to_owned(),
        finish_reason: Some("stop".into()),
        usage: Usage {
            input_tokens: Some(5),
            output_tokens: Some(11),
            ..Usage::default()
        },
        ttft: Some(Duration::from_millis(150)),
        latency: Duration::from_millis(900),
        queue: Duration::from_millis(700),
        generation_time: Some(Duration::from_millis(500)),
        ..Outcome::default()
    }
}

#[test]
fn a_prompt_opens_one_turn_per_lane_in_the_record_and_saves_it_before_any_request() {
    let mut core = core(&["a", "b"]);
    let t0 = Instant::now();
    let effects = submit(&mut core, "hello", t0);
    assert!(matches!(&effects[0], Effect::Save(SaveOp::Whole(s)) if s.turn_count() == 1));
    assert_eq!(starts(&effects).len(), 2);
    for lane in 0..2 {
        let turn = core.last_turn(lane).expect("a turn");
        assert_eq!(turn.prompt(), "hello");
        assert_eq!(turn.phase(), Phase::Queued);
        assert_eq!(turn.round(), 1);
    }
    assert!(core.in_flight());
    // A second prompt while they run is refused for the lanes in flight.
    assert!(submit(&mut core, "again", t0).is_empty());
}

#[test]
fn a_limiter_wait_is_queue_time_never_ttft() {
    let mut core = core(&["a"]);
    let t0 = Instant::now();
    submit(&mut core, "q", t0);
    let ms = |n: u64| t0 + Duration::from_millis(n);
    provider(&mut core, 0, ClientEvent::Queued, t0);
    provider(
        &mut core,
        0,
        ClientEvent::Connecting { attempt: 0 },
        ms(700),
    );
    provider(&mut core, 0, ClientEvent::Delta("x".into()), ms(850));
    let live = core.last_turn(0).expect("turn");
    assert_eq!(
        live.ttft(),
        Some(Duration::from_millis(150)),
        "from the send"
    );
    // Cancelled there: the record keeps the queue apart from TTFT and latency.
    core.step(CoreEvent::Cancel { at: ms(1000) });
    let m = &core.session.providers[0].turns[0].metrics;
    assert_eq!(m.queue_ms, Some(700.0));
    assert_eq!(m.ttft_ms, Some(150.0));
    assert_eq!(m.latency_ms, Some(300.0));
    assert_eq!(core.last_turn(0).map(|t| t.phase()), Some(Phase::Cancelled));
}

#[test]
fn events_of_another_request_change_nothing() {
    let mut core = core(&["a"]);
    let t0 = Instant::now();
    let id = starts(&submit(&mut core, "q", t0))[0].1;
    let effects = core.step(CoreEvent::Provider {
        lane: 0,
        request_id: id + 1,
        event: ClientEvent::Delta("stale".into()),
        at: t0,
    });
    assert!(effects.is_empty());
    assert_eq!(core.last_turn(0).map(|t| t.answer()), Some(""));
}

#[test]
fn streamed_text_is_journaled_by_what_changed_and_a_finished_answer_saved_whole() {
    let mut core = core(&["a"]);
    let t0 = Instant::now();
    submit(&mut core, "q", t0);
    let ms = |n: u64| t0 + Duration::from_millis(n);
    assert!(provider(&mut core, 0, ClientEvent::Reasoning("hm".into()), ms(10)).is_empty());
    let first = provider(&mut core, 0, ClientEvent::Delta("Hel".into()), ms(300));
    let Some(Effect::Save(SaveOp::Append { pieces, .. })) = first.first() else {
        panic!("{first:?}");
    };
    let got: Vec<(Field, usize, &str)> = pieces
        .iter()
        .map(|p| (p.field, p.at, p.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [(Field::Answer, 0, "Hel"), (Field::Reasoning, 0, "hm")]
    );
    assert!(provider(&mut core, 0, ClientEvent::Delta("lo".into()), ms(310)).is_empty());
    // Quitting now writes what is new, and only that.
    let flushed = core.step(CoreEvent::Flush { at: ms(320) });
    let Some(Effect::Save(SaveOp::Append { pieces, .. })) = flushed.first() else {
        panic!("{flushed:?}");
    };
    assert_eq!(
        (pieces.len(), pieces[0].at, pieces[0].text.as_str()),
        (1, 3, "lo")
    );
    let done = provider(
        &mut core,
        0,
        ClientEvent::Done(Box::new(outcome("Hello"))),
        ms(400),
    );
    assert!(
        matches!(&done[..], [Effect::Save(SaveOp::Whole(s))] if s.providers[0].turns[0].complete)
    );
    assert!(core.step(CoreEvent::Flush { at: ms(500) }).is_empty());
}

#[test]
fn the_journal_applied_to_the_file_gives_back_the_streamed_text() {
    let mut core = core(&["a"]);
    let t0 = Instant::now();
    let effects = submit(&mut core, "q", t0);
    let Some(Effect::Save(SaveOp::Whole(on_disk))) = effects.first() else {
        panic!("{effects:?}");
    };
    let mut reread = (**on_disk).clone();
    let mut pieces = Vec::new();
    for (i, text) in ["Hel", "lo ", "world"].iter().enumerate() {
        let at = t0 + Duration::from_millis(300 * (i as u64 + 1));
        for e in provider(&mut core, 0, ClientEvent::Delta((*text).into()), at) {
            if let Effect::Save(SaveOp::Append { pieces: p, .. }) = e {
                pieces.extend(p);
            }
        }
    }
    // Each piece applied twice (a crash between a rewrite and the journal's removal) still
    // gives the text once.
    for piece in pieces.iter().chain(&pieces) {
        reread.apply_piece(piece);
    }
    assert_eq!(reread.providers[0].turns[0].answer, "Hello world");
}

#[test]
fn a_finished_answer_takes_the_outcome_and_the_figures_every_view_reads() {
    let mut core = core(&["a", "b"]);
    let t0 = Instant::now();
    submit(&mut core, "q", t0);
    provider(&mut core, 0, ClientEvent::Done(Box::new(outcome("A"))), t0);
    assert!(!core.race_finished());
    provider(&mut core, 1, ClientEvent::Done(Box::new(outcome("B"))), t0);
    assert!(core.race_finished());
    let turn = core.last_turn(0).expect("turn");
    let m = turn.metrics().expect("figures");
    assert_eq!(turn.ttft(), Some(Duration::from_millis(150)));
    assert_eq!(m.queue(), Duration::from_millis(700));
    // (11 - 1) tokens over the 500 ms from the first to the last.
    assert_eq!(m.tokens_per_sec(), Some(20.0));
    // A tie goes to the first lane.
    assert_eq!(
        core.winners(),
        Winners {
            ttft: Some(0),
            total: Some(0)
        }
    );
}

#[test]
fn a_loaded_session_lines_up_with_the_lanes_and_continues_each_conversation() {
    let mut saved = Session::with_id("20260101-000000-abcd", "2026-01-01T00:00:00Z");
    // Saved in another order, with a provider the config no longer has.
    for name in ["ghost", "b", "a"] {
        let who = ProviderRef::new(name, &format!("{name}-old"), Protocol::OpenAi);
        saved.begin_answer(&who, "q1");
        saved.finish_answer(name, &outcome(&format!("{name}-1")), None);
    }
    let mut core = core(&["a", "b"]);
    core.step(CoreEvent::SessionLoaded(Box::new(saved)));
    let names: Vec<&str> = core.lanes.iter().map(|l| l.info.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "ghost"]);
    assert!(core.lanes[2].unavailable.is_some());
    assert_eq!(core.lanes[0].info.model, "a-old");
    assert_eq!(core.round, 1);
    let effects = submit(&mut core, "q2", Instant::now());
    let Some(Effect::Start { request, .. }) = effects
        .iter()
        .find(|e| matches!(e, Effect::Start { lane: 1, .. }))
    else {
        panic!("{effects:?}");
    };
    let history = texts(request);
    assert_eq!(history, ["q1", "b-1", "q2"]);
    assert_eq!(starts(&effects).len(), 2, "the ghost is not asked");
}

#[test]
fn lanes_never_asked_are_not_written_to_the_file() {
    let mut core = core(&["a", "b"]);
    core.step(CoreEvent::Submit {
        lanes: vec![1],
        prompt: "q".into(),
        at: Instant::now(),
    });
    let json = serde_json::to_value(&*core.session).expect("json");
    let names: Vec<&str> = json["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["b"]);
}

#[test]
fn asking_again_replaces_the_last_answer_in_the_same_race_and_drop_forgets_a_race() {
    let mut core = core(&["a", "b"]);
    let t0 = Instant::now();
    submit(&mut core, "q1", t0);
    for lane in 0..2 {
        provider(
            &mut core,
            lane,
            ClientEvent::Done(Box::new(outcome("one"))),
            t0,
        );
    }
    submit(&mut core, "q2", t0);
    let mut failed = outcome("");
    failed.error = Some(crate::provider::ApiError::new(
        crate::provider::ErrorKind::Server,
        "boom",
    ));
    provider(&mut core, 0, ClientEvent::Done(Box::new(failed)), t0);
    provider(
        &mut core,
        1,
        ClientEvent::Done(Box::new(outcome("two"))),
        t0,
    );
    let dropped_id = core.session.providers[0].turns[1].id.clone().expect("id");

    // Lane 0's failed answer to q2 is asked again: same prompt, same race, the history of q1.
    let effects = core.step(CoreEvent::Regenerate {
        lanes: vec![0],
        at: t0,
    });
    let Some(Effect::Start {
        lane: 0, request, ..
    }) = effects.get(1)
    else {
        panic!("{effects:?}");
    };
    let sent = texts(request);
    assert_eq!(sent, ["q1", "one", "q2"]);
    assert_eq!(core.turn_count(0), 2, "replaced, not added");
    assert_eq!(core.last_turn(0).map(|t| t.round()), Some(2));
    assert!(core.session.dropped.contains(&dropped_id));
    provider(
        &mut core,
        0,
        ClientEvent::Done(Box::new(outcome("two again"))),
        t0,
    );
    assert_eq!(core.round_turns().len(), 2, "the race still has both lanes");

    // Dropping the race leaves q1 only, and the next prompt's history without q2.
    assert!(matches!(
        &core.step(CoreEvent::DropLast { at: t0 })[..],
        [Effect::Save(SaveOp::Whole(s))] if s.turn_count() == 1
    ));
    assert_eq!(core.round, 1);
    let effects = submit(&mut core, "q3", t0);
    let Some(Effect::Start { request, .. }) = effects.get(1) else {
        panic!("{effects:?}");
    };
    let sent = texts(request);
    assert_eq!(sent, ["q1", "one", "q3"]);
}

#[test]
fn a_dropped_turn_is_not_merged_back_from_the_file() {
    let mut core = core(&["a"]);
    let t0 = Instant::now();
    submit(&mut core, "q1", t0);
    provider(
        &mut core,
        0,
        ClientEvent::Done(Box::new(outcome("one"))),
        t0,
    );
    let on_disk = core.session.clone();
    core.step(CoreEvent::DropLast { at: t0 });
    let merged = core.session.merged_over(&on_disk);
    let turns = merged.as_ref().unwrap_or(&core.session).turn_count();
    assert_eq!(
        turns, 0,
        "the file's copy of the dropped turn stays dropped"
    );
}

#[test]
fn a_whole_save_shares_the_record_until_the_record_changes() {
    let mut core = core(&["a"]);
    let t0 = Instant::now();
    let effects = submit(&mut core, "q", t0);
    let Some(Effect::Save(SaveOp::Whole(saved))) = effects.first() else {
        panic!("{effects:?}");
    };
    assert!(
        Arc::ptr_eq(saved, &core.session),
        "the save is the record, not a copy of it"
    );
    provider(&mut core, 0, ClientEvent::Delta("more".into()), t0);
    // The record changed while the save was pending: the core copied it, and the snapshot still
    // says what it said when it was taken.
    assert!(!Arc::ptr_eq(saved, &core.session));
    assert_eq!(saved.providers[0].turns[0].answer, "");
    assert_eq!(core.session.providers[0].turns[0].answer, "more");
    drop(effects);
    // With no save pending, the record is changed in place.
    let unshared = Arc::as_ptr(&core.session);
    provider(&mut core, 0, ClientEvent::Delta("!".into()), t0);
    assert_eq!(Arc::as_ptr(&core.session), unshared);
    assert_eq!(core.session.providers[0].turns[0].answer, "more!");
}

/// The TUI's clients keep figures only (`Retain::Figures`): the record's streamed text is then
/// the answer, and a signed thinking that the streamed reasoning already says is not kept twice.
#[test]
fn a_figures_only_outcome_leaves_the_streamed_text_as_the_answer() {
    use crate::provider::ThinkingBlock;
    let mut core = core(&["a"]);
    let t0 = Instant::now();
    submit(&mut core, "q", t0);
    for event in [
        ClientEvent::Reasoning("hm".into()),
        ClientEvent::Delta("Hel".into()),
        ClientEvent::Delta("lo".into()),
    ] {
        provider(&mut core, 0, event, t0);
    }
    let figures = Outcome {
        reasoning_signature: Some("sig".into()),
        thinking_blocks: vec![ThinkingBlock::Thinking {
            thinking: "hm".into(),
            signature: "sig".into(),
        }],
        ..outcome("")
    };
    provider(&mut core, 0, ClientEvent::Done(Box::new(figures)), t0);
    let turn = &core.session.providers[0].turns[0];
    assert!(turn.complete);
    assert_eq!(turn.answer, "Hello");
    assert_eq!(turn.reasoning.as_deref(), Some("hm"));
    assert_eq!(turn.reasoning_signature.as_deref(), Some("sig"));
    assert!(
        turn.thinking_blocks.is_empty(),
        "{:?}",
        turn.thinking_blocks
    );
    assert_eq!(turn.metrics.output_tokens, Some(11));
}
