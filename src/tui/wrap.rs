//! Word wrapping of styled lines to a width, so a pane knows its line count for scrolling.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// Wrap `line` to `width` columns: break after the last space that fits, else mid-word.
pub fn wrap_line(line: &Line<'_>, width: usize, out: &mut Vec<Line<'static>>) {
    let width = width.max(1);
    let cells = cells(line);
    if cells.is_empty() {
        out.push(Line::default().style(line.style));
        return;
    }
    let mut start = 0;
    while start < cells.len() {
        let end = row_end(&cells, start, width);
        out.push(to_line(&cells[start..end], line.style));
        start = end;
        // A space we broke at is not carried to the next row.
        while start < cells.len() && start > 0 && cells[start].0 == ' ' && cells[start - 1].0 == ' '
        {
            start += 1;
        }
    }
}

type Cell = (char, usize, Style);

fn cells(line: &Line<'_>) -> Vec<Cell> {
    let mut cells = Vec::new();
    for span in &line.spans {
        for c in span.content.chars() {
            match c {
                '\t' => cells.extend(std::iter::repeat_n((' ', 1, span.style), 4)),
                c if c.is_control() || crate::sanitize::is_removed(c) => {}
                c => cells.push((c, c.width().unwrap_or(0), span.style)),
            }
        }
    }
    cells
}

/// The end (exclusive) of the row that starts at `start`.
fn row_end(cells: &[Cell], start: usize, width: usize) -> usize {
    let mut used = 0;
    let mut last_space = None;
    for (i, &(c, w, _)) in cells.iter().enumerate().skip(start) {
        if used + w > width {
            return match last_space {
                Some(s) if s > start => s + 1,
                _ if i == start => i + 1,
                _ => i,
            };
        }
        used += w;
        if c == ' ' {
            last_space = Some(i);
        }
    }
    cells.len()
}

fn to_line(cells: &[Cell], style: Style) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut current: Option<Style> = None;
    for &(c, _, s) in cells {
        if current != Some(s) {
            if let Some(cs) = current {
                spans.push(Span::styled(std::mem::take(&mut text), cs));
            }
            current = Some(s);
        }
        text.push(c);
    }
    if let Some(cs) = current {
        spans.push(Span::styled(text, cs));
    }
    Line::from(spans).style(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(s: &str, w: usize) -> Vec<String> {
        let mut out = Vec::new();
        wrap_line(&Line::from(s.to_owned()), w, &mut out);
        out.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn breaks_at_spaces() {
        assert_eq!(wrap("the quick brown fox", 10), ["the quick ", "brown fox"]);
    }

    #[test]
    fn splits_long_words_and_keeps_empty_lines() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
    }

    #[test]
    fn wide_chars_never_overflow() {
        for row in wrap("日本語のテキスト", 5) {
            assert!(
                unicode_width::UnicodeWidthStr::width(row.as_str()) <= 5,
                "{row}"
            );
        }
        assert_eq!(wrap("日本", 1), ["日", "本"]);
    }
}
