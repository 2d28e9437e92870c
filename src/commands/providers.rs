//! `paddock providers`: what is configured and where each key comes from — never the key.

use std::fmt::Write;

use crate::config::Config;

/// The base URL column of a simulated provider.
pub const SIMULATED_BASE: &str = "in-process, started per run";

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
            // The demo's server lives in this process and dies with it: its loopback URL would
            // be dead by the time anyone tried it.
            let base_url = if p.simulated {
                kind.push_str(" (simulated)");
                SIMULATED_BASE.to_owned()
            } else {
                p.base_url.clone()
            };
            // Config strings are outside input too: one safe line each.
            [
                p.name.clone(),
                kind,
                p.model.clone(),
                base_url,
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
    if config.providers.iter().any(|p| p.simulated) {
        let _ = writeln!(
            out,
            "simulated providers are served in-process for each run (`--demo`); to reach one \
             from outside, run `paddock mock`."
        );
    }
    out
}
