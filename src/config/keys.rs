//! Where a provider's API key comes from: the environment, a command, or (discouraged) the file itself.

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use super::{Config, ProviderConfig};

/// Where a provider's key comes from. Never the key itself in Debug output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env(String),
    Command(String),
    /// Written in the config file (discouraged; draws a warning when others can read the file).
    Inline,
    None,
}

impl ProviderConfig {
    /// Where the key comes from, for `paddock providers`: never the key.
    pub fn key_description(&self) -> String {
        match &self.key_source {
            KeySource::Env(var) if std::env::var_os(var).is_some() => format!("env {var}"),
            KeySource::Env(var) => format!("env {var} (not set)"),
            KeySource::Command(cmd) => format!("command `{cmd}`"),
            KeySource::Inline => "inline in config".to_owned(),
            KeySource::None => "none".to_owned(),
        }
    }

    /// True when a request can be made: a key is available or none is needed.
    pub fn has_key(&self) -> bool {
        match &self.key_source {
            KeySource::Env(var) => std::env::var(var).is_ok_and(|v| !v.trim().is_empty()),
            KeySource::Command(_) | KeySource::Inline | KeySource::None => true,
        }
    }

    /// Fetch the key now. Errors are one sentence that says what to do.
    pub fn resolve_key(&self) -> Result<Option<SecretString>, String> {
        let key = match &self.key_source {
            KeySource::None => return Ok(None),
            KeySource::Inline => self.inline_key.clone(),
            KeySource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Some(SecretString::from(v.trim().to_owned())),
                _ => {
                    return Err(format!(
                    "{}: no API key: set {var} in the environment or in .env (see `paddock providers`).",
                    self.name
                ))
                }
            },
            KeySource::Command(cmd) => {
                Some(run_key_command(&self.name, cmd, self.key_cmd_timeout)?)
            }
        };
        if let Some(key) = &key {
            check_key_shape(&self.name, self.key_description(), key)?;
        }
        Ok(key)
    }
}

/// A key goes into an HTTP header: one line of visible characters. Anything else (a second
/// line, a control character) is a mistake to report now, in words, not as a failed request.
fn check_key_shape(name: &str, source: String, key: &SecretString) -> Result<(), String> {
    use secrecy::ExposeSecret;
    let key = key.expose_secret();
    let lines = key.lines().count();
    if lines > 1 {
        return Err(format!(
            "{name}: the API key from {source} has {lines} lines; it must be the key alone, on one line."
        ));
    }
    if key
        .chars()
        .any(|c| c.is_control() || !(' '..='~').contains(&c))
    {
        return Err(format!(
            "{name}: the API key from {source} holds characters an HTTP header cannot carry; check it for stray bytes."
        ));
    }
    Ok(())
}

/// What a key command may print: a key is short, so more than this is not a key.
const KEY_OUTPUT_LIMIT: usize = 64 << 10;

/// Run `cmd` with `sh -c`, stdin closed, for at most `timeout`; its stdout (trimmed) is the key.
fn run_key_command(name: &str, cmd: &str, timeout: Duration) -> Result<SecretString, String> {
    use std::io::Read;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("{name}: could not run api_key_cmd ({e}); check the command in the config.")
        })?;
    // Read on a thread so a command that prints much cannot block on a full pipe while we wait.
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(pipe) = stdout {
            let _ = pipe.take(KEY_OUTPUT_LIMIT as u64).read_to_end(&mut out);
        }
        out
    });
    let status = wait_with_timeout(&mut child, timeout).ok_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        format!(
            "{name}: api_key_cmd did not finish within {} s; make it faster or raise api_key_cmd_timeout_secs.",
            timeout.as_secs_f64()
        )
    })?;
    if !status.success() {
        return Err(format!(
            "{name}: api_key_cmd exited with {status}; run it by hand to see why."
        ));
    }
    let output = reader.join().unwrap_or_default();
    let key = String::from_utf8_lossy(&output).trim().to_owned();
    if key.is_empty() {
        return Err(format!(
            "{name}: api_key_cmd printed nothing; it must print the key on stdout."
        ));
    }
    Ok(SecretString::from(key))
}

/// The child's exit status, or `None` if it is still running after `timeout`.
fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => return None,
        }
    }
}

#[cfg(unix)]
pub(super) fn inline_key_warning(path: &Path, config: &Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let inline: Vec<&str> = config
        .providers
        .iter()
        .filter(|p| p.key_source == KeySource::Inline)
        .map(|p| p.name.as_str())
        .collect();
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    if inline.is_empty() || mode & 0o077 == 0 {
        return None;
    }
    Some(format!(
        "config file {} holds an inline api_key (provider {}) and other users can read it (mode {mode:o}); \
         run `chmod 600 {}` or use api_key_env / api_key_cmd instead.",
        path.display(),
        inline.join(", "),
        path.display()
    ))
}

#[cfg(not(unix))]
pub(super) fn inline_key_warning(_path: &Path, _config: &Config) -> Option<String> {
    None
}
