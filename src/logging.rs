//! Logging to a file through `tracing`: nothing may print to a terminal the TUI owns.

use std::path::Path;

/// Holds the background writer; dropping it flushes the log.
pub struct LogGuard {
    _worker: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Log to `path` (or the default state-dir file). `PADDOCK_LOG` sets the filter (default `info`).
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
            let (writer, guard) = tracing_appender::non_blocking(file);
            let filter = tracing_subscriber::EnvFilter::try_from_env("PADDOCK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    crate::paths::open_private_append(path)
}
