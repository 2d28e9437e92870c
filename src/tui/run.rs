//! The one `select!` loop: terminal events, provider events, notes from the runtime and the
//! frame clock become messages; the runtime performs what `update` asks; a frame is drawn when dirty.

use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::client::Client;

use super::app::{App, FRAME, TICK};
use super::effects::Runtime;
use super::events::to_msg;
use super::msg::Msg;
use super::tasks::Tagged;

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
    let (tx, mut rx) = mpsc::channel::<Tagged>(QUEUED_EVENTS);
    let (notes_tx, mut notes) = mpsc::unbounded_channel::<Msg>();
    let mut rt = Runtime::new(clients, tx, sessions_dir, notes_tx);
    let mut events = terminal_events();
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
    let mut was_racing = false;
    while !rt.quitting() {
        let next_draw = if app.draw_now {
            last_draw
        } else {
            last_draw + FRAME
        };
        tokio::select! {
            event = events.recv() => match event {
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
                take_queued(&mut rt, &mut app, &mut rx);
            },
            Some(note) = notes.recv() => rt.dispatch(&mut app, note),
            _ = tick.tick() => {
                let limits = rt.tasks.snapshots();
                rt.dispatch(&mut app, Msg::Limits(limits));
            },
            _ = tokio::time::sleep_until(next_draw), if app.dirty => {
                // What arrived while the frame waited is in it too.
                take_queued(&mut rt, &mut app, &mut rx);
                rt.dispatch(&mut app, Msg::Frame);
                fit_viewport(terminal, app.area)?;
                terminal.draw(|f| super::ui::render(&app, f))?;
                app.dirty = false;
                app.draw_now = false;
                last_draw = tokio::time::Instant::now();
                // A race just ended and its answers are rendered: what that freed goes back.
                let racing = app.core.in_flight();
                if was_racing && !racing {
                    crate::memory::release_free_memory();
                }
                was_racing = racing;
            },
        }
    }
    rt.shutdown().await;
    Ok(())
}

/// Take the provider events already queued, in one go: the next frame shows all of them. At
/// most a queue's worth, so a flood keeps neither the keyboard nor the frame waiting.
fn take_queued(rt: &mut Runtime, app: &mut App, rx: &mut mpsc::Receiver<Tagged>) {
    for _ in 0..QUEUED_EVENTS {
        let Ok(tagged) = rx.try_recv() else {
            return;
        };
        rt.dispatch(app, tagged.into_msg());
    }
}

/// How many provider events may wait for the UI; a request task waits while they are all there.
const QUEUED_EVENTS: usize = 1024;

/// Make the terminal's viewport the screen the app laid out (the last resize event's size). The
/// viewport is fixed (tui/terminal.rs), so this is the only place it changes; resizing clears
/// the screen, and the next frame redraws all of it.
fn fit_viewport<B: Backend>(
    terminal: &mut Terminal<B>,
    area: ratatui::layout::Rect,
) -> Result<(), B::Error> {
    if terminal.get_frame().area() != area {
        terminal.resize(area)?;
    }
    Ok(())
}

/// Terminal events, read by a thread of their own that blocks in `crossterm::event::read` and
/// forwards each one. crossterm's `EventStream` instead takes its global reader lock every time
/// the loop polls it, while its waker thread holds that lock waiting for input: the loop then
/// spun on the lock (about 8,000 `sched_yield` calls a second racing four panes, seen with strace).
fn terminal_events() -> mpsc::UnboundedReceiver<std::io::Result<crossterm::event::Event>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("paddock-terminal".to_owned())
        .spawn(move || loop {
            let event = crossterm::event::read();
            let failed = event.is_err();
            if tx.send(event).is_err() || failed {
                break;
            }
        });
    if let Err(e) = spawned {
        tracing::error!("tui: cannot start the terminal reader ({e})");
    }
    rx
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;
    use ratatui::{Terminal, TerminalOptions, Viewport};

    #[test]
    fn a_resize_event_resizes_the_fixed_viewport_and_the_next_frame_fills_it() {
        let options = TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
        };
        let mut terminal =
            Terminal::with_options(TestBackend::new(100, 30), options).expect("terminal");
        let grown = Rect::new(0, 0, 100, 30);
        super::fit_viewport(&mut terminal, grown).expect("fit");
        let drawn = terminal
            .draw(|f| f.render_widget(ratatui::widgets::Block::bordered(), f.area()))
            .expect("draw");
        assert_eq!(drawn.area, grown);
        let screen = terminal.backend().buffer();
        assert_eq!(
            screen[(99, 29)].symbol(),
            "┘",
            "the frame reaches the new corner"
        );
    }
}
