//! A centred box over the panes, for the help and the comparison table.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

/// Clear a centred `width` x `height` box (clamped to `area`) and return its inside.
pub fn open(area: Rect, width: u16, height: u16, title: &str, buf: &mut Buffer) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Yellow))
        .title(format!(" {title} "))
        .title_bottom(" Esc closes ");
    let inner = block.inner(rect);
    block.render(rect, buf);
    inner
}
