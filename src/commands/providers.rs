//! `paddock providers`: what is configured and where each key comes from — never the key.

use std::fmt::Write;

use crate::config::Config;

pub fn render(config: &Config) -> String {
    let mut out = String::new();
    if let Some(path) = &config.path {
        let shown = crate::sanitize::clean_line(&path.display().to_string());
        let _ = writeln!(out, "config: {shown}");
    } else {
        let _ = writeln!(
            out,
            "config: none (built-in providers only; `paddock init` writes one)"
        );
    }
    let rows: Vec<[String; 5]> = config
        .providers
        .iter()
        .map(|p| {
            let mut kind = p.protocol.as_str().to_owned();
            if p.simulated {
                kind.push_str(" (simulated)");
            }
            // Config strings are outside input too: one safe line each.
            [
                p.name.clone(),
                kind,
                p.model.clone(),
                p.base_url.clone(),
                p.key_description(),
            ]
            .map(|cell| crate::sanitize::clean_line(&cell))
        })
        .collect();
    let header = ["NAME", "KIND", "MODEL", "BASE URL", "KEY"].map(str::to_owned);
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}
