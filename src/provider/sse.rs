//! Incremental Server-Sent Events decoder (WHATWG rules): bytes in any slicing, events out.

/// One dispatched SSE event. `event` is empty when the stream named none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// The default bound on one SSE line and on one event's data (`max_event_bytes` in the config).
/// Real chunks are a few hundred bytes; a whole long answer in one event stays far below it.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 << 20;

/// One line or one event grew past the decoder's bound: the stream is refused, not buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge {
    pub limit: usize,
}

/// Decodes a byte stream into events. Keeps only the unfinished line and the pending event,
/// each bounded by `limit`, so memory is bounded whatever the server sends.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the current line not yet terminated. Kept as bytes so a UTF-8 character split
    /// across chunks is reassembled before decoding.
    line: Vec<u8>,
    /// The previous chunk ended in CR: a LF at the start of the next one belongs to it.
    after_cr: bool,
    /// Still at the very start of the stream, where a UTF-8 BOM is dropped.
    at_start: bool,
    event: String,
    data: String,
    has_data: bool,
    /// Bytes one line or one event's data may hold.
    limit: usize,
    /// Set once the bound was passed; the decoder then refuses everything.
    overflowed: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseDecoder {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder whose lines and events may hold at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            at_start: true,
            limit: limit.max(1),
            ..Self::default()
        }
    }

    /// Feed one chunk; completed events are appended to `out`. An over-long line or event is an
    /// error, and every later call returns it too.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if self.overflowed {
            return Err(self.too_large());
        }
        if !self.at_start {
            self.feed_lines(chunk, out);
        } else {
            self.feed_start(chunk, out);
        }
        if self.overflowed || self.line.len() > self.limit {
            self.overflowed = true;
            self.line = Vec::new();
            self.data = String::new();
            return Err(self.too_large());
        }
        Ok(())
    }

    fn too_large(&self) -> EventTooLarge {
        EventTooLarge { limit: self.limit }
    }

    fn feed_start(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        // Hold the first bytes until we know whether they are a BOM, which may arrive split.
        self.line.extend_from_slice(chunk);
        let n = self.line.len().min(BOM.len());
        if self.line[..n] == BOM[..n] && self.line.len() < BOM.len() {
            return;
        }
        self.at_start = false;
        let mut head = std::mem::take(&mut self.line);
        if head.starts_with(BOM) {
            head.drain(..BOM.len());
        }
        self.feed_lines(&head, out);
    }

    fn feed_lines(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) {
        if self.after_cr && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        self.after_cr = false;
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', chunk) {
            if self.overflowed {
                return;
            }
            let terminator = chunk[pos];
            let line_end = &chunk[..pos];
            chunk = &chunk[pos + 1..];
            if terminator == b'\r' {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            if self.line.is_empty() {
                self.process_line(line_end, out);
            } else {
                self.line.extend_from_slice(line_end);
                let line = std::mem::take(&mut self.line);
                self.process_line(&line, out);
                self.line = line;
                self.line.clear();
            }
        }
        self.line.extend_from_slice(chunk);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.limit {
                    self.overflowed = true;
                    return;
                }
                if self.has_data {
                    self.data.push('\n');
                }
                push_utf8(&mut self.data, value);
                self.has_data = true;
            }
            b"event" if value.len() <= 256 => {
                self.event.clear();
                push_utf8(&mut self.event, value);
            }
            _ => {} // id, retry and unknown fields mean nothing to a chat client
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        });
    }
}

/// Append bytes as text; invalid UTF-8 (hostile or broken servers) becomes U+FFFD.
fn push_utf8(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_slices(input: &[u8], size: usize) -> Vec<SseEvent> {
        let mut dec = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(size.max(1)) {
            dec.feed(chunk, &mut out).unwrap();
        }
        out
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn every_line_ending_and_slicing_gives_the_same_events() {
        let body = "event: a\ndata: one\ndata:two\n\n: comment\ndata: 3\n\n";
        let want = vec![ev("a", "one\ntwo"), ev("", "3")];
        for ending in ["\n", "\r\n", "\r"] {
            let text = body.replace('\n', ending);
            for size in 1..=8 {
                assert_eq!(
                    decode_in_slices(text.as_bytes(), size),
                    want,
                    "ending {ending:?} size {size}"
                );
            }
        }
    }

    #[test]
    fn bom_is_dropped_even_when_split() {
        let mut input = BOM.to_vec();
        input.extend_from_slice(b"data: x\n\n");
        for size in 1..=4 {
            assert_eq!(decode_in_slices(&input, size), vec![ev("", "x")]);
        }
    }

    #[test]
    fn utf8_split_across_chunks_is_reassembled() {
        let input = "data: caf\u{e9} \u{1F600} \u{2028}x\n\n".as_bytes();
        for size in 1..=5 {
            assert_eq!(
                decode_in_slices(input, size),
                vec![ev("", "caf\u{e9} \u{1F600} \u{2028}x")]
            );
        }
    }

    #[test]
    fn pending_event_without_blank_line_is_not_dispatched() {
        assert_eq!(decode_in_slices(b"data: x\n", 3), vec![]);
    }

    #[test]
    fn field_without_colon_and_empty_data() {
        assert_eq!(decode_in_slices(b"data\n\n", 1), vec![ev("", "")]);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(
            decode_in_slices(b"data: a\xffb\n\n", 2),
            vec![ev("", "a\u{fffd}b")]
        );
    }

    #[test]
    fn long_lines_up_to_the_limit_are_kept() {
        let big = "y".repeat(1 << 20);
        let input = format!("data: {big}\n\n");
        assert_eq!(decode_in_slices(input.as_bytes(), 4096), vec![ev("", &big)]);
    }

    #[test]
    fn a_line_or_event_past_the_limit_is_refused_without_buffering_it() {
        let mut dec = SseDecoder::with_limit(1000);
        let mut out = Vec::new();
        let chunk = [b'a'; 300];
        dec.feed(b"data: ", &mut out).unwrap();
        let mut result = Ok(());
        for _ in 0..10 {
            result = result.and(dec.feed(&chunk, &mut out));
        }
        assert_eq!(result, Err(EventTooLarge { limit: 1000 }));
        assert!(dec.line.capacity() < 2000, "the over-long line was dropped");
        assert_eq!(
            dec.feed(b"\n\n", &mut out),
            Err(EventTooLarge { limit: 1000 })
        );
        // Many short data lines adding up to one huge event.
        let mut dec = SseDecoder::with_limit(1000);
        let many = "data: xxxxxxxxxx\n".repeat(200);
        assert!(dec.feed(many.as_bytes(), &mut out).is_err());
        assert!(out.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512), size in 1usize..9) {
            let mut dec = SseDecoder::with_limit(64);
            let mut out = Vec::new();
            for chunk in bytes.chunks(size) {
                let _ = dec.feed(chunk, &mut out);
            }
        }
    }
}
