//! A turn as wrapped, styled lines: the prompt, the answer rendered as markdown, and how it ended.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::fence::{FenceLine, Fences};
use super::wrap::wrap_line;
use crate::race::{Phase, TurnRef};

/// Every line of `turn` wrapped to `width`, ready to slice into a viewport; its thinking folded
/// to one line unless `open`.
pub fn turn_lines(turn: TurnRef<'_>, width: u16, open: bool) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let mut out = Vec::new();
    turn_head_lines(turn, width, open, &mut out);
    markdown_lines(turn.answer(), width, &mut out);
    turn_tail_lines(turn, width, &mut out);
    out
}

/// What a finished turn shows before its answer: the prompt, the thinking (folded unless
/// `open`) and a line for any redacted thinking.
pub fn turn_head_lines(turn: TurnRef<'_>, width: usize, open: bool, out: &mut Vec<Line<'static>>) {
    prompt_lines(turn.prompt(), width, out);
    let shown = if open {
        Thinking::Open
    } else {
        Thinking::Folded
    };
    thinking_lines(turn, shown, width, out);
    let redacted = turn.redacted_blocks();
    if redacted > 0 {
        let s = if redacted == 1 { "" } else { "s" };
        let line = Line::styled(
            format!("▸ redacted thinking · {redacted} block{s}, encrypted by the provider (sent back as it came)"),
            Style::new().fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
        );
        wrap_line(&line, width, out);
        out.push(Line::default());
    }
}

/// What a turn shows after its answer: how it ended, if not well, and a blank line.
pub fn turn_tail_lines(turn: TurnRef<'_>, width: usize, out: &mut Vec<Line<'static>>) {
    if let Some(line) = ending(&turn.phase()) {
        wrap_line(&line, width, out);
    }
    out.push(Line::default());
}

/// How many lines of a model's thinking show while it thinks: the tail, like a terminal.
const THINKING_TAIL_LINES: usize = 6;

/// How a turn's thinking shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// It is still thinking: a header and the last few lines.
    Live,
    /// The answer started: one line saying it thought (the default).
    Folded,
    /// Unfolded by the user (Alt-T): all of it, dimmed.
    Open,
}

/// A model's thinking, dimmed and apart from the answer.
pub fn thinking_lines(
    turn: TurnRef<'_>,
    shown: Thinking,
    width: usize,
    out: &mut Vec<Line<'static>>,
) {
    let (thinking, chars) = (
        crate::sanitize::clean(turn.thinking()),
        turn.thinking_chars(),
    );
    if chars == 0 {
        return;
    }
    let dim = Style::new()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::ITALIC);
    let header = match shown {
        Thinking::Live => format!("◌ thinking · {chars} chars"),
        Thinking::Folded => format!("▸ thought · {chars} chars · Alt-T shows it"),
        Thinking::Open => format!("▾ thought · {chars} chars · Alt-T folds it"),
    };
    wrap_line(&Line::styled(header, dim), width, out);
    match shown {
        Thinking::Folded => {}
        Thinking::Open => {
            for text in thinking.lines() {
                wrap_line(&Line::styled(text.to_owned(), dim), width, out);
            }
        }
        Thinking::Live => {
            // Only the tail is wrapped: a long thought costs the same per frame as a short one.
            let start = thinking
                .char_indices()
                .rev()
                .nth(THINKING_TAIL_LINES * width.max(1))
                .map_or(0, |(i, _)| i);
            let mut tail = Vec::new();
            for text in thinking[start..].lines() {
                wrap_line(&Line::styled(text.to_owned(), dim), width, &mut tail);
            }
            let skip = tail.len().saturating_sub(THINKING_TAIL_LINES);
            out.extend(tail.into_iter().skip(skip));
        }
    }
    out.push(Line::default());
}

pub fn prompt_lines(prompt: &str, width: usize, out: &mut Vec<Line<'static>>) {
    let prompt_style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    for (i, text) in prompt.lines().enumerate() {
        let marker = if i == 0 { "› " } else { "  " };
        let line = Line::from(vec![
            Span::styled(marker, prompt_style),
            Span::styled(text.to_owned(), prompt_style),
        ]);
        wrap_line(&line, width, out);
    }
    out.push(Line::default());
}

/// Where the complete markdown blocks of a growing text end: just after the last blank line
/// outside a code fence, scanning on from an earlier [`BlockScan`] so each byte is read once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BlockScan {
    /// Bytes of whole lines already scanned.
    scanned: usize,
    /// The code fence open where the scan is, if any.
    fences: Fences,
    /// The end of the last complete block found so far.
    pub stable: usize,
}

impl BlockScan {
    /// Scan on through every complete block.
    pub fn advance(&mut self, text: &str) {
        while self.next_block(text).is_some() {}
    }

    /// Scan on to the end of the next complete block; `None` when no more of `text` completes one.
    pub fn next_block(&mut self, text: &str) -> Option<usize> {
        while let Some(nl) = text.get(self.scanned..).and_then(|rest| rest.find('\n')) {
            let line = &text[self.scanned..self.scanned + nl];
            self.scanned += nl + 1;
            if self.fences.line(line) == FenceLine::Outside && line.trim().is_empty() {
                self.stable = self.scanned;
                return Some(self.stable);
            }
        }
        None
    }
}

/// The text with each code fence's language hidden from the highlighter (behind
/// [`UNLIT_MARK`], which no syntax is named after), so its code renders plain while its frame
/// still names the language: `None` when no fence names one. Highlighting costs more than all
/// the rest of rendering, so a block still being written renders plain every frame, and a
/// complete one until it first shows (tui/view.rs).
pub fn plain_code(text: &str) -> Option<String> {
    let mut plain = String::new();
    let mut fences = Fences::default();
    let mut stripped = false;
    for line in text.split_inclusive('\n') {
        match fences.line(line) {
            FenceLine::Opens { info, marks_end } if !info.trim().is_empty() => {
                plain.push_str(&line[..marks_end]);
                plain.push_str(UNLIT_MARK);
                plain.push_str(line[marks_end..].trim_start());
                stripped = true;
            }
            _ => plain.push_str(line),
        }
    }
    stripped.then_some(plain)
}

/// Put before a fence's language by [`plain_code`]; [`code_fence`] takes it off again.
const UNLIT_MARK: &str = "\u{E001}";

/// tui-markdown's own styles, but its code fences are drawn as a character no text holds (it
/// is taken out of the text first): a fence line is then never mistaken for a code line that
/// starts with backticks, as in a fenced block shown inside a longer fence.
#[derive(Debug, Clone)]
struct FenceMarked;

impl tui_markdown::StyleSheet for FenceMarked {
    fn code_block_fence(&self) -> &str {
        FENCE_MARK
    }
}

const FENCE_MARK: &str = "\u{E000}";

/// Markdown to wrapped lines via tui-markdown (headings, lists, emphasis, highlighted code).
pub fn markdown_lines(text: &str, width: usize, out: &mut Vec<Line<'static>>) {
    if text.is_empty() {
        return;
    }
    // Whole escape sequences go, as `ask` takes them out; wrap_line only drops the control
    // characters, which left `]0;title` and `[31m` on screen.
    let mut text = crate::sanitize::clean(text);
    if text.contains(FENCE_MARK) {
        text = text.replace(FENCE_MARK, "\u{FFFD}").into();
    }
    let rendered =
        tui_markdown::from_str_with_options(&text, &tui_markdown::Options::new(FenceMarked));
    let mut in_code = false;
    for line in &rendered.lines {
        let line = with_base_style(line, rendered.style);
        match code_fence(&line) {
            // A fence is drawn as the block's frame, not as backticks.
            Some(lang) => {
                let frame = if in_code {
                    "└─".to_owned()
                } else if lang.is_empty() {
                    "┌─ code".to_owned()
                } else {
                    format!("┌─ {lang}")
                };
                in_code = !in_code;
                wrap_line(
                    &Line::styled(frame, Style::new().fg(Color::DarkGray)),
                    width,
                    out,
                );
            }
            None if in_code => {
                let mut framed = vec![Span::styled("│ ", Style::new().fg(Color::DarkGray))];
                framed.extend(line.spans.iter().cloned());
                wrap_line(&Line::from(framed).style(line.style), width, out);
            }
            None => wrap_line(&line, width, out),
        }
    }
}

/// The language of a code fence line as tui-markdown draws it ([`FENCE_MARK`] then the
/// language, empty for a bare fence), or `None` for any other line.
fn code_fence(line: &Line<'_>) -> Option<String> {
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let rest = text.trim().strip_prefix(FENCE_MARK)?;
    let lang = rest.trim();
    Some(crate::sanitize::clean_line(
        lang.strip_prefix(UNLIT_MARK).unwrap_or(lang),
    ))
}

fn with_base_style<'a>(line: &Line<'a>, base: Style) -> Line<'a> {
    let mut line = line.clone();
    line.style = base.patch(line.style);
    line
}

fn ending(phase: &Phase) -> Option<Line<'static>> {
    let red = Style::new().fg(Color::Red);
    match phase {
        Phase::Failed { kind, message } => Some(Line::styled(
            format!("✗ failed: {kind}: {}", message.trim()),
            red,
        )),
        // The footer says "cancelled"; the body says what became of the text.
        Phase::Cancelled => Some(Line::styled(
            "⊘ stopped here: kept in the session, not sent back as history",
            Style::new().fg(Color::DarkGray),
        )),
        _ => None,
    }
}

/// Load the syntax highlighter once, off the UI path (it takes a moment the first time).
pub fn warm_up() {
    let _ = tui_markdown::from_str("```rust\nfn main() {}\n```\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn redacted_thinking_shows_as_such() {
        let record = crate::session::Turn {
            prompt: "q".into(),
            answer: "a".into(),
            complete: true,
            thinking_blocks: vec![crate::provider::ThinkingBlock::RedactedThinking {
                data: "EmwKAhgBEgy".into(),
            }],
            ..Default::default()
        };
        let turn = TurnRef {
            record: &record,
            live: None,
        };
        let text: Vec<String> = turn_lines(turn, 120, false)
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert!(
            text.iter()
                .any(|l| l.starts_with("▸ redacted thinking · 1 block,")),
            "{text:?}"
        );
        assert!(
            !text.iter().any(|l| l.contains("EmwK")),
            "the blob is not shown"
        );
    }

    #[test]
    fn renders_markdown_structure() {
        let mut out = Vec::new();
        markdown_lines(
            "# Title\n\n- one\n- two\n\n```rust\nlet x = 1;\n```\n",
            40,
            &mut out,
        );
        let t = text(&out).join("\n");
        assert!(t.contains("Title"), "{t}");
        assert!(t.contains("one") && t.contains("two"), "{t}");
        let heading = out
            .iter()
            .find(|l| l.to_string().contains("Title"))
            .map(|l| l.style.patch(l.spans[0].style));
        assert!(
            heading.is_some_and(|s| !s.add_modifier.is_empty() || s.fg.is_some()),
            "heading is styled"
        );
        let code = out.iter().find(|l| l.to_string().contains("let x = 1;"));
        assert!(
            code.is_some_and(|l| l.spans.iter().any(|s| s.style.fg.is_some())),
            "code is highlighted"
        );
    }

    #[test]
    fn escape_sequences_go_whole_not_only_their_control_bytes() {
        let mut out = Vec::new();
        markdown_lines(
            "safe \u{1b}]0;PWNED\u{7} \u{1b}[31mred\u{1b}[0m \u{9b}31m c1 \u{202e}RLO end",
            80,
            &mut out,
        );
        let t = text(&out).join("\n");
        assert_eq!(t, "safe  red  c1 RLO end");
    }

    #[test]
    fn a_fenced_block_inside_a_longer_fence_is_code_of_one_frame() {
        let mut out = Vec::new();
        markdown_lines(
            "````markdown\n```python\nprint(1)\n```\n````\n\nafter \u{e000}",
            40,
            &mut out,
        );
        assert_eq!(
            text(&out),
            [
                "┌─ markdown",
                "│ ```python",
                "│ print(1)",
                "│ ```",
                "└─",
                "",
                "after \u{fffd}"
            ]
        );
    }

    #[test]
    fn lines_fit_the_width() {
        let mut out = Vec::new();
        markdown_lines(&"word ".repeat(50), 12, &mut out);
        assert!(out.iter().all(|l| l.width() <= 12));
    }
}
