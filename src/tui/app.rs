//! App state and the one `select!` loop over terminal events, provider events and the frame clock.

use std::time::{Duration, Instant};

use futures::StreamExt;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::Terminal;
use ratatui_textarea::TextArea;
use tokio::sync::mpsc;

use crate::client::Client;
use crate::config::{Prices, ProviderConfig};
use crate::ratelimit::LimiterSnapshot;
use crate::session::{Autosave, Session};

use super::effects::Runtime;
use super::events::to_msg;
use super::history::PromptHistory;
use super::msg::{Msg, RequestId};
use super::pane::{Pane, ProviderInfo};
use super::picker::Picker;
use super::tasks::Tagged;
use super::ui::layout::{screen, LayoutParams, Screen};

/// Frames are drawn at most this often (30 per second: text streams smoothly at that rate and
/// each frame costs a full diff of the screen); the first change after a quiet spell draws at once.
pub const FRAME: Duration = Duration::from_millis(33);
/// How often the limiter is re-read, so the budget moves even when no tokens flow.
pub const TICK: Duration = Duration::from_millis(100);

/// Which overlay covers the panes, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Table,
    /// The session picker (Ctrl-O).
    Sessions,
}

/// Everything the UI shows. Changed only by [`update`]; read by render.
#[derive(Debug)]
pub struct App {
    pub panes: Vec<Pane>,
    pub focus: usize,
    pub maximized: bool,
    pub overlay: Overlay,
    pub input: TextArea<'static>,
    pub history: PromptHistory,
    /// The latest limiter snapshot per pane.
    pub limits: Vec<Option<LimiterSnapshot>>,
    pub area: Rect,
    /// The clock as of the latest message; injected so rendering is deterministic in tests.
    pub now: Instant,
    pub next_request_id: RequestId,
    /// The current race: every pane asked in one submit shares the round number.
    pub round: u64,
    pub notice: Option<String>,
    pub demo: bool,
    pub dirty: bool,
    pub quit: bool,
    /// The conversation being recorded; saved through `Command::SaveSession`.
    pub session: Session,
    pub autosave: Autosave,
    /// Prices per model, for the cost of each answer.
    pub prices: Prices,
    /// Panes `0..configured` are the configured providers (they have clients); panes after them
    /// show providers of a resumed session that the config lacks.
    pub configured: usize,
    pub picker: Picker,
    /// An autosave failure was already told (once is enough).
    pub save_error_told: bool,
    /// First line of the help overlay shown (it scrolls on short screens).
    pub help_scroll: usize,
}

impl App {
    /// One pane per provider; `unavailable[i]` says why provider `i` cannot be used, if so.
    pub fn new(
        providers: &[ProviderConfig],
        unavailable: Vec<Option<String>>,
        demo: bool,
        now: Instant,
    ) -> Self {
        let panes: Vec<Pane> = providers
            .iter()
            .zip(unavailable.into_iter().chain(std::iter::repeat(None)))
            .map(|(p, why)| Pane::new(ProviderInfo::from_config(p), why))
            .collect();
        let n = panes.len();
        Self {
            panes,
            focus: 0,
            maximized: false,
            overlay: Overlay::None,
            input: fresh_input(""),
            history: PromptHistory::default(),
            limits: vec![None; n],
            area: Rect::new(0, 0, 80, 24),
            now,
            next_request_id: 1,
            round: 0,
            notice: None,
            demo,
            dirty: true,
            quit: false,
            session: Session::new(),
            autosave: Autosave::default(),
            prices: Prices::default(),
            configured: n,
            picker: Picker::default(),
            save_error_told: false,
            help_scroll: 0,
        }
    }

    /// Price answers with `prices` (the config's `[prices]`).
    pub fn with_prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self
    }

    pub fn layout(&self) -> Screen {
        self.layout_in(self.area)
    }

    pub fn layout_in(&self, area: Rect) -> Screen {
        screen(LayoutParams {
            area,
            panes: self.panes.len(),
            maximized: self.maximized.then_some(self.focus),
            input_lines: self.input.lines().len(),
        })
    }

    pub fn in_flight(&self) -> bool {
        self.panes.iter().any(Pane::in_flight)
    }

    pub fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }
}

/// A prompt editor holding `text`, styled for the input box.
pub fn fresh_input(text: &str) -> TextArea<'static> {
    let mut input = TextArea::new(text.split('\n').map(str::to_owned).collect());
    input.set_placeholder_text(
        "Ask every provider… (Enter sends, Alt-Enter for a new line, ? for help)",
    );
    input.set_placeholder_style(Style::new().fg(Color::DarkGray));
    input.set_cursor_line_style(Style::new());
    input.set_cursor_style(Style::new().add_modifier(Modifier::REVERSED));
    input.move_cursor(ratatui_textarea::CursorMove::Bottom);
    input.move_cursor(ratatui_textarea::CursorMove::End);
    input
}

/// Run the UI until the user quits. `clients[i]` serves pane `i`; `first` are messages to
/// handle before the first frame (a resumed session, config warnings).
pub async fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    mut app: App,
    clients: Vec<Option<Client>>,
    sessions_dir: Option<std::path::PathBuf>,
    first: Vec<Msg>,
) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Tagged>(1024);
    let (notes_tx, mut notes) = mpsc::unbounded_channel::<Msg>();
    let mut rt = Runtime::new(clients, tx, sessions_dir, notes_tx);
    let mut events = crossterm::event::EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let size = terminal.size()?;
    rt.dispatch(
        &mut app,
        Msg::Resize {
            width: size.width,
            height: size.height,
        },
    );
    for msg in first {
        rt.dispatch(&mut app, msg);
    }
    let mut last_draw = tokio::time::Instant::now() - FRAME;
    while !app.quit {
        let next_draw = last_draw + FRAME;
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => {
                    if let Some(msg) = to_msg(event) {
                        rt.dispatch(&mut app, msg);
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(first) = rx.recv() => {
                rt.dispatch(&mut app, first.into_msg());
                // Take what else is already queued in one go; the frame shows all of it.
                for _ in 0..256 {
                    let Ok(more) = rx.try_recv() else { break };
                    rt.dispatch(&mut app, more.into_msg());
                }
            },
            Some(note) = notes.recv() => rt.dispatch(&mut app, note),
            _ = tick.tick() => {
                let limits = rt.tasks.snapshots();
                rt.dispatch(&mut app, Msg::Limits(limits));
            },
            _ = tokio::time::sleep_until(next_draw), if app.dirty => {
                rt.dispatch(&mut app, Msg::Frame);
                terminal.draw(|f| super::ui::render(&app, f))?;
                app.dirty = false;
                last_draw = tokio::time::Instant::now();
            },
        }
    }
    rt.shutdown().await;
    Ok(())
}
