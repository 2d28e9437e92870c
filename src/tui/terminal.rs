//! Owning the terminal: raw mode, alternate screen, mouse and paste on entry; all undone on exit,
//! on error (the guard's Drop) and on panic (a hook that restores before the message prints).

use std::io::{self, BufWriter, Stdout, Write};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// Frames go through a buffer of their own: `Stdout` alone buffers 1 KiB and is locked for every
/// one of the many small writes crossterm makes per changed cell, so a frame cost several
/// `write` calls and a lock per escape sequence. ratatui flushes it at the end of each frame.
pub type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Big enough for a whole frame of a large terminal, so one frame is one `write`.
const FRAME_BUFFER: usize = 256 * 1024;

/// The terminal while the TUI owns it; dropping it gives the terminal back.
pub struct TerminalGuard {
    pub terminal: Term,
}

impl TerminalGuard {
    pub fn enter() -> anyhow::Result<Self> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(
            out,
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste
        ) {
            restore();
            return Err(e.into());
        }
        let (width, height) = terminal::size()?;
        // A fixed viewport, resized by the loop on each resize event: a full-screen one asks the
        // terminal for its size before every frame (open /dev/tty, ioctl, close: about 4% of
        // the TUI's time streaming one pane).
        let options = TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, width, height)),
        };
        let backend = CrosstermBackend::new(BufWriter::with_capacity(FRAME_BUFFER, out));
        match Terminal::with_options(backend, options) {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore();
                Err(e.into())
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Undo everything `enter` did. Safe to call more than once.
pub fn restore() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
