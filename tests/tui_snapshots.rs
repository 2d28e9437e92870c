//! Snapshots of the race TUI on ratatui's TestBackend, at three sizes, for the states that matter.
//! States are built through `update()` with synthetic events and an injected clock.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use paddock::client::{ClientEvent, Outcome};
use paddock::config::ProviderConfig;
use paddock::config::{Price, Prices};
use paddock::provider::{ApiError, ErrorKind, Protocol, RateLimitHeaders, Usage};
use paddock::ratelimit::{LimiterSnapshot, ServerLimit, ServerView};
use paddock::retry::{RetryDecision, WaitSource};
use paddock::tui::app::App;
use paddock::tui::msg::{Command, Msg, RequestId};
use paddock::tui::picker::SessionSummary;
use paddock::tui::ui::render;
use paddock::tui::update::update;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SIZES: [(u16, u16); 3] = [(160, 45), (100, 30), (60, 20)];

const OPENAI_ANSWER: &str = "## TCP slow start\n\nThe sender begins with a **small congestion window** and \
doubles it every round trip:\n\n1. start at ~10 segments\n2. grow *exponentially* until loss\n3. then switch to \
congestion avoidance\n\n```rust\nlet cwnd = cwnd * 2;\n```\n";
const CLAUDE_ANSWER: &str =
    "Slow start probes the network's capacity.\n\n- Each ACK grows the window by one \
segment\n- so the window doubles per RTT\n\n> It is not actually slow.";
const TIGHT_ANSWER: &str = "In short: *start small, grow fast*, back off on loss.";

fn providers() -> Vec<ProviderConfig> {
    let mk = |name: &str, protocol, model: &str| {
        let mut p = ProviderConfig::new(name, protocol, model, "http://127.0.0.1:9");
        p.simulated = true;
        p
    };
    vec![
        mk("sim-openai", Protocol::OpenAi, "sim-gpt-fast"),
        mk("sim-anthropic", Protocol::Anthropic, "sim-claude"),
        mk("sim-tight", Protocol::OpenAi, "sim-gpt-tight"),
    ]
}

struct Race {
    app: App,
    t0: Instant,
    ids: Vec<(usize, RequestId)>,
}

impl Race {
    fn new(width: u16, height: u16) -> Self {
        let t0 = Instant::now();
        let mut app = App::new(&providers(), Vec::new(), true, t0);
        update(&mut app, Msg::Resize { width, height });
        update(&mut app, Msg::Limits(limits(0, 0, None)));
        Race {
            app,
            t0,
            ids: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn submit(&mut self, prompt: &str) {
        update(&mut self.app, Msg::Paste(prompt.to_owned()));
        let commands = update(
            &mut self.app,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        );
        self.ids = commands
            .iter()
            .filter_map(|c| match c {
                Command::StartRequest {
                    pane, request_id, ..
                } => Some((*pane, *request_id)),
                _ => None,
            })
            .collect();
    }

    fn event(&mut self, pane: usize, event: ClientEvent, ms: u64) {
        let (_, request_id) = self.ids[pane];
        let at = self.at(ms);
        update(
            &mut self.app,
            Msg::Provider {
                pane,
                request_id,
                event,
                at,
            },
        );
    }

    /// Stream `text` in word-sized deltas starting at `from_ms`, 10 ms apart. The request was
    /// sent at once (no limiter wait), so its TTFT counts from the prompt.
    fn stream(&mut self, pane: usize, text: &str, from_ms: u64) {
        self.event(pane, ClientEvent::Connecting { attempt: 0 }, 0);
        self.event(
            pane,
            ClientEvent::RateLimit(headers()),
            from_ms.saturating_sub(40),
        );
        for (i, piece) in text.split_inclusive(' ').enumerate() {
            self.event(
                pane,
                ClientEvent::Delta(piece.to_owned()),
                from_ms + 10 * i as u64,
            );
        }
    }

    fn finish(&mut self, pane: usize, text: &str, ttft_ms: u64, latency_ms: u64, retries: u32) {
        let outcome = Outcome {
            content: text.to_owned(),
            finish_reason: Some(if pane == 1 { "end_turn" } else { "stop" }.to_owned()),
            usage: Usage {
                input_tokens: Some(14),
                output_tokens: Some(text.len() as u64 / 4),
                ..Usage::default()
            },
            ttft: Some(Duration::from_millis(ttft_ms)),
            latency: Duration::from_millis(latency_ms),
            retries,
            generation_time: Some(Duration::from_millis(latency_ms - ttft_ms)),
            ..Outcome::default()
        };
        self.event(pane, ClientEvent::Usage(outcome.usage), latency_ms);
        self.event(pane, ClientEvent::Done(Box::new(outcome)), latency_ms);
    }

    fn now(&mut self, ms: u64) {
        self.app.now = self.at(ms);
    }

    fn key(&mut self, code: KeyCode, mods: KeyModifiers) {
        update(&mut self.app, Msg::Key(KeyEvent::new(code, mods)));
    }

    fn draw(&mut self) -> String {
        update(&mut self.app, Msg::Frame);
        let area = self.app.area;
        let mut terminal =
            Terminal::new(TestBackend::new(area.width, area.height)).expect("terminal");
        terminal.draw(|f| render(&self.app, f)).expect("draw");
        terminal.backend().to_string()
    }
}

fn headers() -> RateLimitHeaders {
    RateLimitHeaders {
        limit_requests: Some(500),
        remaining_requests: Some(497),
        limit_tokens: Some(200_000),
        remaining_tokens: Some(198_650),
        ..RateLimitHeaders::default()
    }
}

/// Snapshots for the three panes: `used` requests in the window, `waiting` callers queued on the tight one.
fn limits(used: u32, waiting: usize, next_free: Option<Duration>) -> Vec<Option<LimiterSnapshot>> {
    let snap =
        |requests_limit: Option<u32>, tokens_limit: Option<u64>, used: u32| LimiterSnapshot {
            requests_used: used,
            requests_limit,
            tokens_used: u64::from(used) * 530,
            tokens_limit,
            server: ServerView::default(),
            next_free_in: None,
            waiting: 0,
            retries_in_flight: 0,
            window: Duration::from_secs(60),
            shared: None,
        };
    let mut openai = snap(Some(500), Some(200_000), used);
    openai.server = ServerView {
        requests: ServerLimit {
            limit: Some(500),
            remaining: Some(497),
            reset_in: Some(Duration::from_millis(120)),
        },
        tokens: ServerLimit {
            limit: Some(200_000),
            remaining: Some(198_650),
            reset_in: Some(Duration::from_millis(400)),
        },
    };
    let mut tight = snap(Some(6), Some(6_000), used.min(6));
    tight.waiting = waiting;
    tight.next_free_in = next_free;
    vec![Some(openai), Some(snap(None, None, used)), Some(tight)]
}

fn idle(w: u16, h: u16) -> String {
    Race::new(w, h).draw()
}

fn mid_race(w: u16, h: u16) -> Race {
    let mut r = Race::new(w, h);
    r.submit("Explain TCP slow start briefly");
    update(&mut r.app, Msg::Limits(limits(3, 0, None)));
    r.stream(0, &OPENAI_ANSWER[..OPENAI_ANSWER.len() * 2 / 3], 150);
    r.stream(1, &CLAUDE_ANSWER[..CLAUDE_ANSWER.len() / 2], 400);
    r.stream(2, &TIGHT_ANSWER[..20], 620);
    r.now(900);
    r
}

fn retrying(w: u16, h: u16) -> String {
    let mut r = Race::new(w, h);
    r.submit("Explain TCP slow start briefly");
    let mut snaps = limits(6, 0, None);
    if let Some(Some(tight)) = snaps.get_mut(2) {
        tight.retries_in_flight = 1;
    }
    update(&mut r.app, Msg::Limits(snaps));
    r.stream(0, &OPENAI_ANSWER[..OPENAI_ANSWER.len() / 2], 150);
    r.stream(1, &CLAUDE_ANSWER[..CLAUDE_ANSWER.len() / 3], 400);
    r.event(2, ClientEvent::Connecting { attempt: 0 }, 10);
    let decision = RetryDecision {
        retry: 1,
        max_retries: 3,
        wait: Duration::from_secs(2),
        source: WaitSource::RetryAfter,
    };
    let error =
        ApiError::new(ErrorKind::RateLimit, "Rate limit reached for requests").with_status(429);
    r.event(2, ClientEvent::Retry { decision, error }, 700);
    r.now(900);
    r.draw()
}

fn waiting(w: u16, h: u16) -> String {
    let mut r = Race::new(w, h);
    r.submit("And congestion avoidance?");
    update(
        &mut r.app,
        Msg::Limits(limits(6, 1, Some(Duration::from_millis(12_400)))),
    );
    r.stream(0, &OPENAI_ANSWER[..60], 150);
    r.stream(1, &CLAUDE_ANSWER[..30], 400);
    r.event(2, ClientEvent::Queued, 5);
    r.now(600);
    r.draw()
}

fn finished_with_table(w: u16, h: u16) -> String {
    let mut r = Race::new(w, h);
    r.submit("Explain TCP slow start briefly");
    r.stream(0, OPENAI_ANSWER, 150);
    r.stream(1, CLAUDE_ANSWER, 400);
    r.stream(2, TIGHT_ANSWER, 2_700);
    r.finish(0, OPENAI_ANSWER, 152, 1_480, 0);
    r.finish(1, CLAUDE_ANSWER, 405, 1_310, 0);
    r.finish(2, TIGHT_ANSWER, 2_705, 3_050, 1);
    update(&mut r.app, Msg::Limits(limits(4, 0, None)));
    r.now(3_100);
    r.key(KeyCode::Char('r'), KeyModifiers::CONTROL);
    r.draw()
}

fn help(w: u16, h: u16) -> String {
    let mut r = Race::new(w, h);
    r.key(KeyCode::Char('?'), KeyModifiers::NONE);
    r.draw()
}

fn picker(w: u16, h: u16) -> String {
    let mut r = Race::new(w, h);
    let entry = |id: &str, date: &str, prompt: &str, providers: &[&str]| SessionSummary {
        id: id.to_owned(),
        date: date.to_owned(),
        first_prompt: prompt.to_owned(),
        providers: providers.iter().map(|p| (*p).to_owned()).collect(),
    };
    let sessions = vec![
        entry(
            "20261126-114233-ab12",
            "2026-11-26 11:42",
            "Explain TCP slow start briefly",
            &["sim-openai", "sim-anthropic", "sim-tight"],
        ),
        entry(
            "20261125-090000-0001",
            "2026-11-25 09:00",
            "Write a haiku about rate limits",
            &["sim-openai"],
        ),
        entry(
            "20261120-180512-7f3e",
            "2026-11-20 18:05",
            "What is the difference between TTFT and latency?",
            &["sim-anthropic", "sim-tight"],
        ),
    ];
    update(
        &mut r.app,
        Msg::SessionList {
            sessions,
            problems: 0,
        },
    );
    r.key(KeyCode::Down, KeyModifiers::NONE);
    r.draw()
}

/// A finished race where two models have a price: the cost in their footers and in the table.
fn priced(w: u16, h: u16, table: bool) -> String {
    let mut r = Race::new(w, h);
    let price = |input, output| Price {
        input,
        output,
        cached_input: None,
        cache_write: None,
    };
    r.app.core.set_prices(Prices(
        [
            ("sim-gpt-fast".to_owned(), price(2.5, 10.0)),
            ("sim-claude".to_owned(), price(3.0, 15.0)),
        ]
        .into_iter()
        .collect(),
    ));
    r.submit("Explain TCP slow start briefly");
    r.stream(0, OPENAI_ANSWER, 150);
    r.stream(1, CLAUDE_ANSWER, 400);
    r.stream(2, TIGHT_ANSWER, 2_700);
    r.finish(0, OPENAI_ANSWER, 152, 1_480, 0);
    r.finish(1, CLAUDE_ANSWER, 405, 1_310, 0);
    r.finish(2, TIGHT_ANSWER, 2_705, 3_050, 1);
    update(&mut r.app, Msg::Limits(limits(4, 0, None)));
    r.now(3_100);
    if table {
        r.key(KeyCode::Char('r'), KeyModifiers::CONTROL);
    }
    r.draw()
}

fn snap(name: &str, draw: fn(u16, u16) -> String) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), draw(w, h));
    }
}

#[test]
fn idle_screen() {
    snap("idle", idle);
}

#[test]
fn mid_race_three_panes_streaming() {
    snap("mid_race", |w, h| mid_race(w, h).draw());
}

#[test]
fn pane_retrying_after_429() {
    snap("retrying", retrying);
    // However narrow the pane, the retry's reason is said whole or not at all.
    for (w, h) in SIZES {
        let screen = retrying(w, h);
        for line in screen.lines().filter(|l| l.contains("↻ retr")) {
            assert!(
                !line.contains("because") || line.contains("rate_limit 429"),
                "cut mid-reason at {w}x{h}: {line}"
            );
        }
    }
}

#[test]
fn pane_waiting_for_the_limiter() {
    snap("waiting", waiting);
}

#[test]
fn race_finished_with_comparison_table() {
    snap("finished_table", finished_with_table);
}

#[test]
fn help_overlay() {
    snap("help", help);
}

#[test]
fn session_picker() {
    snap("session_picker", picker);
}

#[test]
fn cost_in_the_footers_and_the_table() {
    snap("priced_footers", |w, h| priced(w, h, false));
    snap("priced_table", |w, h| priced(w, h, true));
}

#[test]
fn finished_race_marks_winners_without_the_table() {
    let mut r = Race::new(160, 45);
    r.key(KeyCode::Char('3'), KeyModifiers::ALT);
    r.submit("q");
    r.stream(0, "fast", 100);
    r.stream(1, "steady", 300);
    r.finish(0, "fast", 100, 2_000, 0);
    r.finish(1, "steady", 300, 900, 0);
    let screen = r.draw();
    assert!(screen.contains("★ TTFT"), "{screen}");
    assert!(screen.contains("★ total"), "{screen}");
}

#[test]
fn tiny_terminals_render_without_panic() {
    for (w, h) in [(1, 1), (2, 2), (10, 3), (1, 45), (5, 40), (300, 2)] {
        let mut r = mid_race(w, h);
        r.draw();
        r.key(KeyCode::Char('r'), KeyModifiers::CONTROL);
        r.draw();
        r.key(KeyCode::Esc, KeyModifiers::NONE);
        r.key(KeyCode::F(1), KeyModifiers::NONE);
        r.draw();
        r.key(KeyCode::Esc, KeyModifiers::NONE);
        r.key(KeyCode::Char('f'), KeyModifiers::CONTROL);
        r.draw();
    }
}

#[test]
fn below_the_minimum_size_one_line_says_what_is_needed() {
    let screen = mid_race(30, 10).draw();
    let words: Vec<&str> = screen
        .split(|c: char| c.is_whitespace() || c == '"')
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(
        words.join(" "),
        "paddock needs at least 40x12; this terminal is 30x10",
        "{screen}"
    );
    let screen = mid_race(40, 12).draw();
    assert!(!screen.contains("needs at least"), "{screen}");
}

/// A reasoning model thinking in pane 1 (its thought's tail, dimmed, under a live header) while
/// pane 0 answers; pane 2 thought and then answered (its thought folded to one line).
fn thinking_race(w: u16, h: u16) -> Race {
    let mut r = Race::new(w, h);
    r.submit("Explain TCP slow start briefly");
    update(&mut r.app, Msg::Limits(limits(3, 0, None)));
    r.stream(0, &OPENAI_ANSWER[..OPENAI_ANSWER.len() / 2], 150);
    r.event(1, ClientEvent::Connecting { attempt: 0 }, 0);
    let thought = "The user wants slow start. Start with cwnd of one segment, \
double it every round trip until ssthresh, then grow linearly. Mention loss.";
    for (i, piece) in thought.split_inclusive(' ').enumerate() {
        r.event(
            1,
            ClientEvent::Reasoning(piece.to_owned()),
            200 + 10 * i as u64,
        );
    }
    r.event(2, ClientEvent::Connecting { attempt: 0 }, 0);
    r.event(
        2,
        ClientEvent::Reasoning("Short thought first.".into()),
        100,
    );
    r.stream(2, &TIGHT_ANSWER[..40], 300);
    r.now(900);
    r
}

fn thinking(w: u16, h: u16) -> String {
    thinking_race(w, h).draw()
}

/// The same, with pane 3's thought unfolded (Alt-T on the focused pane).
fn thinking_unfolded(w: u16, h: u16) -> String {
    let mut r = thinking_race(w, h);
    r.key(KeyCode::Tab, KeyModifiers::NONE);
    r.key(KeyCode::Tab, KeyModifiers::NONE);
    r.key(KeyCode::Char('t'), KeyModifiers::ALT);
    r.draw()
}

#[test]
fn a_reasoning_model_thinking_then_folded() {
    for (w, h) in [(160, 45), (80, 24)] {
        insta::assert_snapshot!(format!("thinking_{w}x{h}"), thinking(w, h));
        let open = thinking_unfolded(w, h);
        assert!(open.contains("▾ thought"), "{open}");
        assert!(
            open.contains("Short thought first."),
            "the whole thought shows:\n{open}"
        );
        insta::assert_snapshot!(format!("thinking_unfolded_{w}x{h}"), open);
    }
}

/// A model that thought: the results table gains its thinking tokens and time to the first
/// answer token, and "out" counts every generated token (Gemini counts thoughts apart).
#[test]
fn the_results_table_shows_thinking_when_a_model_thought() {
    let mut r = Race::new(160, 45);
    r.submit("q");
    r.finish(0, OPENAI_ANSWER, 152, 1_480, 0);
    let thought = Outcome {
        content: "Paris.".into(),
        finish_reason: Some("STOP".into()),
        usage: Usage {
            input_tokens: Some(14),
            output_tokens: Some(2),
            reasoning_tokens: Some(40),
            reasoning_apart: true,
            ..Usage::default()
        },
        reasoning: Some("Mulling it over.".into()),
        ttft: Some(Duration::from_millis(200)),
        ttfat: Some(Duration::from_millis(900)),
        latency: Duration::from_millis(1_000),
        generation_time: Some(Duration::from_millis(800)),
        ..Outcome::default()
    };
    r.event(1, ClientEvent::Done(Box::new(thought)), 1_000);
    r.finish(2, TIGHT_ANSWER, 2_705, 3_050, 1);
    r.now(3_100);
    r.key(KeyCode::Char('r'), KeyModifiers::CONTROL);
    let screen = r.draw();
    let header = screen
        .lines()
        .find(|l| l.contains("provider") && l.contains("status"))
        .expect("the table's header");
    assert!(
        header.contains("think") && header.contains("TTFAT"),
        "{screen}"
    );
    let row = screen
        .lines()
        .find(|l| l.contains("sim-anthropic") && l.contains("done"))
        .expect("the thinking model's row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    for want in ["42", "40", "200ms", "900ms", "STOP"] {
        assert!(cells.contains(&want), "{want} in {row}");
    }
    // Without any thinking the table keeps its plain columns.
    let plain = finished_with_table(160, 45);
    assert!(!plain.contains("TTFAT"), "{plain}");
}

/// A race against a tight limiter over eight seconds: sim-tight's budget drains to nothing and
/// starts to refill, and the status bar draws what was left, second by second.
fn draining(w: u16, h: u16) -> String {
    let mut r = mid_race(w, h);
    for (second, used) in [0u32, 1, 2, 4, 6, 6, 5, 3].into_iter().enumerate() {
        r.now(1_000 * second as u64);
        update(&mut r.app, Msg::Limits(limits(used, 0, None)));
    }
    r.draw()
}

#[test]
fn the_status_bar_charts_each_budget_draining_and_refilling() {
    for (w, h) in [(160, 45), (80, 24)] {
        let screen = draining(w, h);
        if w == 160 {
            assert!(screen.contains("│ left █▇▆▃▁▁▂▅"), "{screen}");
        }
        insta::assert_snapshot!(format!("budget_chart_{w}x{h}"), screen);
    }
}
