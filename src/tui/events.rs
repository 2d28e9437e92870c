//! Terminal events to messages.

use crossterm::event::{Event, KeyEventKind, MouseEventKind};

use super::msg::Msg;

/// The message for a crossterm event, if it matters to the UI.
pub fn to_msg(event: Event) -> Option<Msg> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => Some(Msg::Key(key)),
        // Pointer motion is ignored: it would redraw for nothing.
        Event::Mouse(mouse)
            if !matches!(mouse.kind, MouseEventKind::Moved | MouseEventKind::Drag(_)) =>
        {
            Some(Msg::Mouse(mouse))
        }
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        _ => None,
    }
}
