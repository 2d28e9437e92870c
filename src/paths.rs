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

/// Create `dir` (and missing parents) readable by its owner only, as the XDG spec asks, and
/// tighten it to 0700 if it already existed wider: it holds prompts and request metadata.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Open `path` for appending, created 0600 (and tightened to 0600 if it was wider), its
/// directory created private.
pub fn open_private_append(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}
