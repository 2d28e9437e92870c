//! Copying to the clipboard: OSC 52 bytes for the terminal (tmux-wrapped when needed), a native
//! clipboard tool when one is on PATH, and what to copy (an answer, or its last code block).

use std::io::Write;
use std::process::{Command, Stdio};

use super::fence::{FenceLine, Fences};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648, with `=` padding).
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `ESC ] 52 ; c ; BASE64 BEL`: ask the terminal to put `text` on the clipboard. Inside tmux the
/// plain sequence goes first (tmux's own clipboard handling takes it, with its defaults), then the
/// same as a DCS passthrough (`ESC P tmux; … ESC \`, every ESC inside doubled) for a tmux with
/// `allow-passthrough` on; tmux drops that one otherwise.
pub fn osc52(text: &str, tmux: bool) -> Vec<u8> {
    let plain = format!("\x1b]52;c;{}\x07", base64(text.as_bytes()));
    if !tmux {
        return plain.into_bytes();
    }
    let mut out = plain.clone().into_bytes();
    out.extend_from_slice(b"\x1bPtmux;");
    for &b in plain.as_bytes() {
        if b == 0x1b {
            out.push(0x1b);
        }
        out.push(b);
    }
    out.extend_from_slice(b"\x1b\\");
    out
}

/// The body of the last fenced code block (```` ``` ```` or `~~~`) in `markdown`, if any.
pub fn last_code_block(markdown: &str) -> Option<String> {
    code_blocks(markdown).pop()
}

/// The bodies of every fenced code block (```` ``` ```` or `~~~`) in `markdown`, in order. An
/// unclosed fence (an answer cut off mid-block) counts up to the end of the text.
pub fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut fences = Fences::default();
    let mut body: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match fences.line(line) {
            FenceLine::Opens { .. } => body = Some(Vec::new()),
            FenceLine::Closes => blocks.extend(body.take().map(|b| b.join("\n"))),
            FenceLine::Inside => body.get_or_insert_with(Vec::new).push(line),
            FenceLine::Outside => {}
        }
    }
    blocks.extend(body.map(|b| b.join("\n")));
    blocks
}

/// Put `text` on the system clipboard with the first tool that is present and has a display to
/// talk to. Failures are logged and otherwise ignored (OSC 52 is the fallback). Blocking: run it
/// off the UI task.
pub fn copy_native(text: &str) {
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some();
    let x11 = std::env::var_os("DISPLAY").is_some();
    let tools: [(&str, &[&str], bool); 3] = [
        ("wl-copy", &[], wayland),
        ("xclip", &["-selection", "clipboard"], x11),
        ("pbcopy", &[], cfg!(target_os = "macos")),
    ];
    for (tool, args, usable) in tools {
        if usable && pipe_to(tool, args, text) {
            return;
        }
    }
}

fn pipe_to(tool: &str, args: &[&str], text: &str) -> bool {
    let child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let written = child
        .stdin
        .take()
        .is_some_and(|mut stdin| stdin.write_all(text.as_bytes()).is_ok());
    let ok = child.wait().is_ok_and(|s| s.success());
    if !(written && ok) {
        tracing::debug!("tui: clipboard via {tool} failed");
    }
    written && ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
        assert_eq!(base64("é".as_bytes()), "w6k=");
    }

    #[test]
    fn osc52_plain_byte_for_byte() {
        assert_eq!(osc52("hi", false), b"\x1b]52;c;aGk=\x07".to_vec());
        assert_eq!(osc52("", false), b"\x1b]52;c;\x07".to_vec());
    }

    #[test]
    fn osc52_tmux_doubles_escapes_and_wraps_in_dcs() {
        assert_eq!(
            osc52("hi", true),
            b"\x1b]52;c;aGk=\x07\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\".to_vec(),
            "plain first (tmux's defaults take it), then the passthrough"
        );
    }

    #[test]
    fn last_code_block_takes_the_last_fence() {
        let md = "intro\n```rust\nfn a() {}\n```\ntext\n~~~\nb = 1\n  c = 2\n~~~\nend";
        assert_eq!(last_code_block(md).as_deref(), Some("b = 1\n  c = 2"));
        assert_eq!(
            last_code_block("```\nx\n```\n").as_deref(),
            Some("x"),
            "plain fence"
        );
        assert_eq!(
            last_code_block("````\n```\ninner\n````").as_deref(),
            Some("```\ninner"),
            "a longer fence holds a shorter one"
        );
        assert_eq!(
            last_code_block("```py\ncut off").as_deref(),
            Some("cut off")
        );
        assert_eq!(last_code_block("no code here"), None);
    }
}
