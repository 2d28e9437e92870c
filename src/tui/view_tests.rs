//! PaneView tests: streamed answers rendered block by block, finished, and lit when they show.

use super::*;
use crate::session::Turn;

fn text(view: &PaneView) -> Vec<String> {
    view.lines(0, usize::MAX).map(|l| l.to_string()).collect()
}

fn streaming(answer: &str) -> Turn {
    Turn {
        prompt: "q".to_owned(),
        answer: answer.to_owned(),
        ..Turn::default()
    }
}

/// A turn still streaming, as the core shows it.
fn live() -> crate::race::Live {
    let mut live = crate::race::Live::new(1, 0, std::time::Instant::now());
    live.phase = crate::race::Phase::Streaming;
    live
}

#[test]
fn block_scan_ends_blocks_at_blank_lines_outside_fences() {
    let text = "para one\n\n```\ncode\n\nmore\n```\n\ntail";
    let mut scan = BlockScan::default();
    scan.advance(text);
    assert_eq!(
        &text[..scan.stable],
        "para one\n\n```\ncode\n\nmore\n```\n\n"
    );
    let mut split = BlockScan::default();
    for end in [3, 11, 20, text.len()] {
        split.advance(&text[..end]);
    }
    assert_eq!(split, scan, "scanning in pieces finds the same blocks");
}

#[test]
fn plain_code_hides_every_fences_language_from_the_highlighter() {
    assert_eq!(
        plain_code("x\n```rust\nfn a() {}\n```\n\n  ~~~py title\nb\n~~~\n```sh"),
        Some(
            "x\n```\u{e001}rust\nfn a() {}\n```\n\n  ~~~\u{e001}py title\nb\n~~~\n```\u{e001}sh"
                .to_owned()
        )
    );
    assert_eq!(plain_code("``` py"), Some("```\u{e001}py".to_owned()));
    assert_eq!(
        plain_code("```\ncode ```rust\n```"),
        None,
        "a closing fence is left alone"
    );
    assert_eq!(plain_code("no fence"), None);
    // Plain, but its frame names the language.
    let mut out = Vec::new();
    markdown_lines(
        &plain_code("```rust\nlet x = 1;\n```").unwrap(),
        40,
        &mut out,
    );
    assert_eq!(out[0].to_string(), "┌─ rust");
    assert!(out[1].spans.iter().all(|s| s
        .style
        .fg
        .is_none_or(|c| c == ratatui::style::Color::DarkGray)));
}

#[test]
fn a_streaming_turn_renders_like_the_whole_text() {
    let answer = "# Heading\n\nFirst paragraph, with *emphasis*.\n\n- one\n- two\n\n\
                  Second paragraph\nover two lines.\n\n```rust\nfn main() {}\n\n```\n\n\
                  1. first\n2. second\n\n> quoted\n\nLast line";
    let mut view = PaneView::default();
    let mut turns = [streaming("")];
    for end in 1..=answer.len() {
        if !answer.is_char_boundary(end) {
            continue;
        }
        turns[0].answer = answer[..end].to_owned();
        view.stale = true;
        let live = live();
        let refs = [TurnRef {
            record: &turns[0],
            live: Some(&live),
        }];
        view.refresh(&refs, 40, false);
    }
    let live = live();
    let finished = TurnRef {
        record: &turns[0],
        live: Some(&live),
    };
    view.light(&[finished], 0..usize::MAX);
    let whole: Vec<String> = turn_lines(finished, 40, false)
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(text(&view), whole);
    let stable = answer.find("Last").unwrap();
    assert_eq!(view.stable_bytes, Some(stable));
    assert_eq!(
        view.stable_rendered, stable,
        "each completed block is rendered once, not again with every later one"
    );
    turns[0].complete = true;
    let done = [TurnRef {
        record: &turns[0],
        live: None,
    }];
    view.refresh(&done, 40, false);
    assert_eq!(
        view.lines(0, usize::MAX).cloned().collect::<Vec<_>>(),
        turn_lines(done[0], 40, false)
    );
    assert_eq!(
        view.stable_rendered + view.finish_rendered,
        answer.len(),
        "finishing renders only the last block again"
    );
}

fn text_of(lines: Vec<Line<'_>>) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// Streams `answer` into a fresh view at width 40, one refresh per piece of `step` bytes.
fn streamed(record: &mut Turn, answer: &str, step: usize) -> PaneView {
    let mut view = PaneView::default();
    let live = live();
    for end in (step..answer.len()).step_by(step).chain([answer.len()]) {
        record.answer = answer[..end].to_owned();
        view.stale = true;
        view.refresh(
            &[TurnRef {
                record,
                live: Some(&live),
            }],
            40,
            false,
        );
    }
    view
}

#[test]
fn a_fenced_block_inside_a_longer_fence_streams_as_it_renders_whole() {
    let answer =
        "Show it:\n\n````markdown\n```python\nprint(1)\n\nprint(2)\n```\n````\n\nDone.\n\nEnd";
    for step in [1, 5, 200] {
        let mut record = streaming("");
        let mut view = streamed(&mut record, answer, step);
        record.complete = true;
        let done = [TurnRef {
            record: &record,
            live: None,
        }];
        view.refresh(&done, 40, false);
        view.light(&done, 0..usize::MAX);
        assert_eq!(
            text(&view),
            text_of(turn_lines(done[0], 40, false)),
            "step {step}"
        );
        assert!(
            text(&view).contains(&"│ print(2)".to_owned()),
            "{:?}",
            text(&view)
        );
    }
}

#[test]
fn a_finished_turn_whose_record_changed_is_rendered_from_the_record() {
    let mut record = streaming("");
    let mut view = streamed(
        &mut record,
        "one\n\n```rust\nlet a = 1;\n```\n\ntwo\n\nthree",
        3,
    );
    // The outcome's text replaced the streamed one (same length, other words).
    record.answer = "uno\n\n```rust\nlet b = 2;\n```\n\ndos\n\ntres!".to_owned();
    record.complete = true;
    record.thinking_blocks =
        vec![crate::provider::ThinkingBlock::RedactedThinking { data: "x".into() }];
    let done = [TurnRef {
        record: &record,
        live: None,
    }];
    view.refresh(&done, 40, false);
    assert_eq!(text(&view), text_of(turn_lines(done[0], 40, false)));
    assert!(text(&view).iter().any(|l| l.contains("let b = 2")));
}

/// The lines of `view` that hold `needle`, and whether any of their spans has a colour.
fn coloured(view: &PaneView, needle: &str) -> Vec<bool> {
    view.lines(0, usize::MAX)
        .filter(|l| l.to_string().contains(needle))
        .map(|l| {
            l.spans.iter().any(|s| {
                s.style
                    .fg
                    .is_some_and(|c| c != ratatui::style::Color::DarkGray)
            })
        })
        .collect()
}

#[test]
fn a_finished_turn_keeps_its_streamed_blocks_and_highlights_them_when_they_show() {
    let answer = "intro\n\n```rust\nfn main() { let x = 1; }\n```\n\nend of it";
    let mut record = streaming("");
    let mut view = streamed(&mut record, answer, 7);
    record.complete = true;
    let done = [TurnRef {
        record: &record,
        live: None,
    }];
    view.refresh(&done, 40, false);
    assert_eq!(view.finish_rendered, "end of it".len());
    assert_eq!(coloured(&view, "fn main"), [false], "not shown yet: plain");
    view.light(&done, 0..usize::MAX);
    assert_eq!(coloured(&view, "fn main"), [true]);
    assert_eq!(
        view.lines(0, usize::MAX).cloned().collect::<Vec<_>>(),
        turn_lines(done[0], 40, false)
    );
}

#[test]
fn only_the_code_that_shows_is_highlighted() {
    let block = |i: usize| format!("Part {i}.\n\n```rust\nlet v{i} = {i};\n```\n\n");
    let answer: String = (0..30).map(block).collect::<String>() + "the end";
    let mut record = streaming("");
    // Many blocks complete between two frames, as in a flood.
    let mut view = streamed(&mut record, &answer, 500);
    let live = live();
    let refs = [TurnRef {
        record: &record,
        live: Some(&live),
    }];
    let at = |view: &PaneView, needle: &str| {
        view.lines(0, usize::MAX)
            .position(|l| l.to_string().contains(needle))
            .unwrap()
    };
    let top = at(&view, "let v20 ");
    view.light(&refs, top..top + 3);
    assert_eq!(coloured(&view, "let v20 "), [true]);
    for other in ["let v19 ", "let v21 ", "let v0 ", "let v29 "] {
        assert_eq!(coloured(&view, other), [false], "{other}");
    }
    // Once finished, what shows is highlighted all the same.
    record.complete = true;
    let done = [TurnRef {
        record: &record,
        live: None,
    }];
    view.refresh(&done, 40, false);
    let top = at(&view, "let v2 ");
    view.light(&done, top..top + 1);
    assert_eq!(coloured(&view, "let v2 "), [true]);
    assert_eq!(coloured(&view, "let v3 "), [false]);
    view.light(&done, 0..usize::MAX);
    assert_eq!(
        view.lines(0, usize::MAX).cloned().collect::<Vec<_>>(),
        turn_lines(done[0], 40, false)
    );
}

#[test]
fn a_finished_turn_leaves_no_room_behind() {
    let mut record = streaming(&"A line of an answer that goes on.\n\n".repeat(200));
    let mut view = PaneView::default();
    let live = live();
    view.refresh(
        &[TurnRef {
            record: &record,
            live: Some(&live),
        }],
        30,
        false,
    );
    assert!(view.stable.capacity() > 0);
    record.complete = true;
    view.refresh(
        &[TurnRef {
            record: &record,
            live: None,
        }],
        30,
        false,
    );
    assert_eq!((view.stable.capacity(), view.live.capacity()), (0, 0));
    assert_eq!(view.done.capacity(), view.done.len());
}
