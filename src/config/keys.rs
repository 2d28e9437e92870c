//! Where a provider's API key comes from: the environment, a command, or (discouraged) the file itself.

use std::path::Path;

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
        match &self.key_source {
            KeySource::None => Ok(None),
            KeySource::Inline => Ok(self.inline_key.clone()),
            KeySource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(SecretString::from(v.trim().to_owned()))),
                _ => Err(format!(
                    "{}: no API key: set {var} in the environment or in .env (see `paddock providers`).",
                    self.name
                )),
            },
            KeySource::Command(cmd) => run_key_command(&self.name, cmd).map(Some),
        }
    }
}

fn run_key_command(name: &str, cmd: &str) -> Result<SecretString, String> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            format!("{name}: could not run api_key_cmd ({e}); check the command in the config.")
        })?;
    if !output.status.success() {
        return Err(format!(
            "{name}: api_key_cmd exited with {}; run it by hand to see why.",
            output.status
        ));
    }
    let key = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if key.is_empty() {
        return Err(format!(
            "{name}: api_key_cmd printed nothing; it must print the key on stdout."
        ));
    }
    Ok(SecretString::from(key))
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
