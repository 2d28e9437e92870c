//! Where paddock keeps its files: the platform config, state and data directories.

use std::path::PathBuf;

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "paddock")
}

/// Logs and the request log: the state dir on Linux, the local data dir elsewhere.
pub fn state_dir() -> Option<PathBuf> {
    let d = dirs()?;
    Some(
        d.state_dir()
            .unwrap_or_else(|| d.data_local_dir())
            .to_path_buf(),
    )
}

/// Saved sessions.
pub fn data_dir() -> Option<PathBuf> {
    dirs().map(|d| d.data_dir().to_path_buf())
}

pub fn default_log_file() -> Option<PathBuf> {
    state_dir().map(|d| d.join("paddock.log"))
}

pub fn request_log_file() -> Option<PathBuf> {
    state_dir().map(|d| d.join("requests.jsonl"))
}
