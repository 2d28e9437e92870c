//! The one sanitiser for outside text on its way to a terminal or a Markdown export: control
//! characters, escape sequences and bidirectional overrides removed (DESIGN.md §3b).
//!
//! Removed: C0 controls except newline and tab (so also CR, BEL, BS), DEL, ESC together with the
//! whole sequence it starts (CSI, OSC, DCS, SOS, PM, APC and two-byte escapes), the 8-bit C1
//! controls U+0080-U+009F (their CSI, OSC and string forms with their sequences), and the bidi
//! embedding, override and isolate characters U+202A-U+202E and U+2066-U+2069. A model's text is
//! streamed in pieces, so [`Sanitizer`] keeps the state of a sequence split across pieces.

use std::borrow::Cow;

/// A string sequence (OSC, DCS, ...) longer than this is not a terminal command we must hide but
/// an attempt to make text vanish: the rest is shown again.
const MAX_SEQUENCE_CHARS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Text,
    /// Just after ESC.
    Escape,
    /// ESC then intermediate bytes (0x20-0x2F), waiting for the final byte.
    EscapeIntermediate,
    /// Inside a control sequence (ESC [ or U+009B), waiting for its final byte (0x40-0x7E).
    Csi,
    /// Inside OSC / DCS / SOS / PM / APC, waiting for BEL or the string terminator.
    Str,
    /// ESC seen inside a string sequence: `\` ends it.
    StrEscape,
}

/// Streaming sanitiser: feed text in any slicing, get the same clean text.
#[derive(Debug, Clone, Default)]
pub struct Sanitizer {
    state: State,
    /// Characters swallowed by the current sequence, to bound it.
    swallowed: usize,
}

impl Sanitizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Clean `input`, appending what is safe to show to `out`.
    pub fn push(&mut self, input: &str, out: &mut String) {
        if self.state == State::Text && !needs_care(input) {
            out.push_str(input);
            return;
        }
        for c in input.chars() {
            self.step(c, out);
        }
    }

    /// `input` made safe: itself when nothing needs removing (no copy, the common case for
    /// streamed text), else cleaned into `scratch`.
    pub fn clean_chunk<'a>(&mut self, input: &'a str, scratch: &'a mut String) -> &'a str {
        if self.state == State::Text && !needs_care(input) {
            return input;
        }
        scratch.clear();
        self.push(input, scratch);
        scratch
    }

    /// Clean `input` as a whole piece of text (also ends any open sequence).
    pub fn clean_str(&mut self, input: &str) -> String {
        let mut out = String::with_capacity(input.len());
        self.push(input, &mut out);
        out
    }

    fn step(&mut self, c: char, out: &mut String) {
        match self.state {
            State::Text => self.text(c, out),
            State::Escape => self.after_escape(c, out),
            State::EscapeIntermediate => match c {
                '\u{20}'..='\u{2f}' => self.swallow(),
                '\u{30}'..='\u{7e}' => self.state = State::Text,
                _ => self.abort(c, out),
            },
            State::Csi => match c {
                '\u{20}'..='\u{3f}' => self.swallow(),
                '\u{40}'..='\u{7e}' => self.state = State::Text,
                _ => self.abort(c, out),
            },
            State::Str => match c {
                '\u{07}' | '\u{9c}' => self.state = State::Text,
                '\u{1b}' => self.state = State::StrEscape,
                // A line break ends the hiding: no sequence may swallow the rest of an answer.
                '\n' => self.abort(c, out),
                _ => self.swallow(),
            },
            State::StrEscape => match c {
                '\\' => self.state = State::Text,
                _ => {
                    self.state = State::Text;
                    self.step(c, out);
                }
            },
        }
    }

    fn text(&mut self, c: char, out: &mut String) {
        self.swallowed = 0;
        match c {
            '\u{1b}' => self.state = State::Escape,
            '\u{9b}' => self.state = State::Csi,
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => self.state = State::Str,
            c if is_removed(c) => {}
            c => out.push(c),
        }
    }

    fn after_escape(&mut self, c: char, out: &mut String) {
        self.state = match c {
            '[' => State::Csi,
            ']' | 'P' | 'X' | '^' | '_' => State::Str,
            '\u{20}'..='\u{2f}' => State::EscapeIntermediate,
            // Any other printable byte completes a two-byte escape (ESC c, ESC 7, ESC =, ...).
            '\u{30}'..='\u{7e}' => State::Text,
            _ => {
                self.state = State::Text;
                self.text(c, out);
                return;
            }
        };
    }

    /// The current sequence grew by one character; past the bound, give up hiding.
    fn swallow(&mut self) {
        self.swallowed += 1;
        if self.swallowed > MAX_SEQUENCE_CHARS {
            self.state = State::Text;
            self.swallowed = 0;
        }
    }

    /// A character that cannot be part of the sequence ends it and is handled as text.
    fn abort(&mut self, c: char, out: &mut String) {
        self.state = State::Text;
        self.text(c, out);
    }
}

/// True for characters that are dropped wherever they appear.
pub fn is_removed(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Fast check: could any character of `s` need removing? Scans bytes: C0/DEL, C1 (0xC2
/// 0x80-0x9F) and the bidi characters (0xE2 0x80 0xAA-0xAE, 0xE2 0x81 0xA6-0xA9), so the
/// dashes, quotes and arrows of ordinary text (0xE2 too) are no reason to copy it.
fn needs_care(s: &str) -> bool {
    let bytes = s.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\n' | b'\t' => false,
        0..=0x1f | 0x7f => true,
        0xc2 => (0x80..=0x9f).contains(&at(i + 1)),
        0xe2 => match at(i + 1) {
            0x80 => (0xaa..=0xae).contains(&at(i + 2)),
            0x81 => (0xa6..=0xa9).contains(&at(i + 2)),
            _ => false,
        },
        _ => false,
    })
}

/// One whole string made safe for a terminal; borrowed when nothing had to go.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !needs_care(s) {
        return Cow::Borrowed(s);
    }
    let cleaned = Sanitizer::new().clean_str(s);
    if cleaned == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(cleaned)
    }
}

/// [`clean`] for a one-line field (a model name, a finish reason, an error message): newlines
/// and tabs become spaces too, so the field cannot forge extra lines.
pub fn clean_line(s: &str) -> String {
    clean(s).replace(['\n', '\t'], " ")
}

/// Print one line to stderr through [`clean`]: stderr is the terminal even when stdout is piped,
/// and error messages, retry lines and warnings carry server and file text.
pub fn eprint_line(line: &str) {
    eprintln!("{}", clean(line));
}

/// JSON text made safe for a terminal without changing what it means: the C1 controls and bidi
/// overrides that JSON allows raw inside strings become `\uXXXX` escapes (C0 controls are
/// escaped by every JSON encoder already). A JSON reader gets exactly the same value.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !json.chars().any(needs) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An `io::Write` that passes JSON through [`json_for_terminal`] (serde_json writes whole
/// characters per call, as every escape it makes is ASCII).
pub struct JsonForTerminal<W>(pub W);

impl<W: std::io::Write> std::io::Write for JsonForTerminal<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(json_for_terminal(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Outside text for the log file: controls escaped visibly (`\u{1b}`), cut to 200 characters.
pub fn for_log(s: &str) -> String {
    s.chars()
        .take(200)
        .flat_map(|c| {
            if c.is_control() || is_removed(c) {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_check_misses_nothing_the_sanitiser_removes() {
        for c in (0..0x3000u32).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            if Sanitizer::new().clean_str(&s) != s {
                assert!(needs_care(&s), "U+{:04X}", c as u32);
            }
        }
        assert!(
            !needs_care("café — “quoted” → ≈ …"),
            "ordinary punctuation is no reason to copy"
        );
    }

    fn in_slices(input: &str, size: usize) -> String {
        let mut s = Sanitizer::new();
        let mut out = String::new();
        let chars: Vec<char> = input.chars().collect();
        for piece in chars.chunks(size) {
            s.push(&piece.iter().collect::<String>(), &mut out);
        }
        out
    }

    #[test]
    fn every_attack_class_is_removed_in_any_slicing() {
        let cases = [
            ("a\u{1b}]52;c;aGVsbG8=\u{7}b", "ab"),  // OSC 52 clipboard, BEL
            ("a\u{1b}]0;pwned\u{1b}\\b", "ab"),     // OSC 0 title, ST
            ("a\u{1b}[2Jb\u{1b}[10;5Hc", "abc"),    // clear screen, cursor move
            ("a\u{1b}P+q544e\u{1b}\\b", "ab"),      // DCS
            ("a\u{7}\u{8}\rb", "ab"),               // BEL, BS, CR
            ("a\u{9b}2Jb", "ab"),                   // 8-bit CSI
            ("a\u{9d}0;t\u{9c}b", "ab"),            // 8-bit OSC with 8-bit ST
            ("a\u{202e}b\u{2066}c\u{2069}", "abc"), // bidi overrides and isolates
            ("a\u{1b}(0b", "ab"),                   // charset designation (nF)
            ("a\u{1b}cb", "ab"),                    // full reset
            ("line\n\tindented é 😀", "line\n\tindented é 😀"),
        ];
        for (input, want) in cases {
            for size in 1..=4 {
                assert_eq!(in_slices(input, size), want, "{input:?} size {size}");
            }
            assert_eq!(clean(input), want, "{input:?}");
        }
    }

    #[test]
    fn an_unterminated_string_sequence_cannot_hide_the_rest_of_the_answer() {
        assert_eq!(clean("a\u{1b}]0;title\nvisible"), "a\nvisible");
        let long = format!("\u{1b}]{}tail", "x".repeat(MAX_SEQUENCE_CHARS + 10));
        assert!(clean(&long).ends_with("tail"));
    }

    #[test]
    fn clean_chunks_pass_through_uncopied_and_sequences_span_chunks() {
        let mut s = Sanitizer::new();
        let mut scratch = String::new();
        let plain = "plain words";
        assert!(std::ptr::eq(s.clean_chunk(plain, &mut scratch), plain));
        assert_eq!(s.clean_chunk("a\u{1b}]0;ti", &mut scratch), "a");
        assert_eq!(
            s.clean_chunk("tle\u{7}b", &mut scratch),
            "b",
            "the sequence spans chunks"
        );
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(clean("plain – text"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_keeps_its_value_but_loses_raw_c1_and_bidi() {
        let value = serde_json::json!({"t": "a\u{9b}2J\u{202e}b\u{1b}[0m"});
        let text = serde_json::to_string(&value).unwrap();
        let safe = json_for_terminal(&text);
        assert!(!safe.contains('\u{9b}') && !safe.contains('\u{202e}') && !safe.contains('\u{1b}'));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
            value
        );
    }

    #[test]
    fn one_line_fields_cannot_forge_lines() {
        assert_eq!(clean_line("gpt\n\u{1b}[31mfake"), "gpt fake");
    }

    proptest::proptest! {
        #[test]
        fn output_never_holds_a_control_or_override(s in "\\PC*|[\\x00-\\x1f\\x7f-\\x9f\u{202a}-\u{202e}a-z\\[\\]]*") {
            let out = clean(&s);
            proptest::prop_assert!(!out.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_removed(c)));
        }
    }
}
