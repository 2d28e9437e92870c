//! `paddock init`: write the commented example config at the platform path, never over an existing file.

use std::io::Write;
use std::path::Path;

use super::Failure;

/// The documented example config, shipped inside the binary.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config.example.toml");

/// Write [`EXAMPLE_CONFIG`] to `explicit` (`--config` / `PADDOCK_CONFIG`) or the platform path.
pub fn run(explicit: Option<&Path>) -> Result<(), Failure> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => crate::config::default_path().ok_or_else(|| {
            Failure::usage(
                "there is no config directory on this platform (HOME is not set); pass --config PATH.",
            )
        })?,
    };
    write_new(&path)?;
    println!(
        "Wrote {}; edit it to add providers (`paddock providers` shows what is configured).",
        path.display()
    );
    Ok(())
}

/// Create `path` (and its directory) with the example, failing if it already exists.
pub fn write_new(path: &Path) -> Result<(), Failure> {
    let exists = || {
        Failure::failed(format!(
            "{} already exists; paddock init never overwrites a config — edit it, or move it away first.",
            path.display()
        ))
    };
    if path.exists() {
        return Err(exists());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::failed(format!(
                "cannot create the directory {} ({e}).",
                dir.display()
            ))
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    // create_new: a file that appears between the check and the write is still never overwritten.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        // A config may later hold an inline key: start it readable by its owner only.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            exists()
        } else {
            Failure::failed(format!("cannot create {} ({e}).", path.display()))
        }
    })?;
    file.write_all(EXAMPLE_CONFIG.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::failed(format!("cannot write {} ({e}).", path.display())))
}
