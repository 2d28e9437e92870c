//! Logging to a file through `tracing`: nothing may print to a terminal the TUI owns.

use std::path::Path;

/// Holds the background writer; dropping it flushes the log.
pub struct LogGuard {
    _worker: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Log to `path` (or the default state-dir file). `PADDOCK_LOG` sets the filter, else `RUST_LOG`
/// (the ecosystem's habit), else `info`; see [`filter_directives`].
/// If the file cannot be opened, logging is off rather than spilling onto the terminal.
pub fn init(path: Option<&Path>) -> LogGuard {
    let Some(path) = path
        .map(Path::to_path_buf)
        .or_else(crate::paths::default_log_file)
    else {
        return LogGuard { _worker: None };
    };
    match open(&path) {
        Ok(file) => {
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_LINES_QUEUED)
                .finish(file);
            let var = |name: &str| std::env::var(name).ok();
            let directives =
                filter_directives(var("PADDOCK_LOG").as_deref(), var("RUST_LOG").as_deref());
            let filter = tracing_subscriber::EnvFilter::try_new(&directives)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .with_ansi(false)
                .try_init();
            LogGuard {
                _worker: Some(guard),
            }
        }
        Err(_) => LogGuard { _worker: None },
    }
}

/// How many log lines may wait for the writer thread (more are dropped, as the appender does).
/// Its queue is allocated whole at start: the default 128,000 lines held 4 MB in every command,
/// a quarter of `ask`'s peak memory, for a log that writes a few lines per request.
const LOG_LINES_QUEUED: usize = 4096;

/// `info`, with tui-markdown's per-code-block warning (`Could not find syntax for code block`,
/// one for every fence without a known language) kept out of the log.
pub const DEFAULT_FILTER: &str = "info,tui_markdown=error";

/// The filter to use: `PADDOCK_LOG` when set and not blank, else `RUST_LOG`, else
/// [`DEFAULT_FILTER`]. A filter that does not name `tui_markdown` keeps it quiet all the same
/// (naming it, e.g. `tui_markdown=warn`, brings its warnings back).
pub fn filter_directives(paddock_log: Option<&str>, rust_log: Option<&str>) -> String {
    let chosen = [paddock_log, rust_log]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|v| !v.is_empty());
    match chosen {
        None => DEFAULT_FILTER.to_owned(),
        Some(f) if f.contains("tui_markdown") => f.to_owned(),
        Some(f) => format!("{f},tui_markdown=error"),
    }
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    crate::paths::open_private_append(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paddock_log_wins_then_rust_log_then_info() {
        assert_eq!(filter_directives(None, None), DEFAULT_FILTER);
        assert_eq!(
            filter_directives(None, Some("debug")),
            "debug,tui_markdown=error"
        );
        assert_eq!(
            filter_directives(Some("paddock=trace"), Some("debug")),
            "paddock=trace,tui_markdown=error"
        );
        // A blank PADDOCK_LOG is unset, as a shell's `PADDOCK_LOG= paddock` means.
        assert_eq!(
            filter_directives(Some("  "), Some("warn")),
            "warn,tui_markdown=error"
        );
        assert_eq!(
            filter_directives(Some("tui_markdown=warn"), None),
            "tui_markdown=warn"
        );
    }

    #[test]
    fn the_default_filter_drops_tui_markdown_warnings() {
        use tracing_subscriber::layer::SubscriberExt;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let writer = {
            let seen = std::sync::Arc::clone(&seen);
            move || Capture(std::sync::Arc::clone(&seen))
        };
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(filter_directives(
                None, None,
            )))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false),
            );
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "tui_markdown::renderer::code", "Could not find syntax for code block: \"\"");
            tracing::warn!(target: "paddock", "kept");
        });
        let text = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
        assert!(text.contains("kept"), "{text}");
        assert!(!text.contains("Could not find syntax"), "{text}");
    }

    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
