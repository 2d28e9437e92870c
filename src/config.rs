//! Configuration: raw TOML becomes a validated [`Config`] of providers, with defaults, env and key sources.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::provider::{Endpoint, MaxTokensField, Protocol};

pub const OPENAI_DEFAULT_BASE: &str = "https://api.openai.com/v1";
pub const ANTHROPIC_DEFAULT_BASE: &str = "https://api.anthropic.com";
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";
pub const ANTHROPIC_DEFAULT_MODEL: &str = "claude-3-5-haiku-latest";

/// Where a provider's key comes from. Never the key itself in Debug output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env(String),
    Command(String),
    /// Written in the config file (discouraged; draws a warning when others can read the file).
    Inline,
    None,
}

/// One provider, validated.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub protocol: Protocol,
    pub model: String,
    pub base_url: String,
    pub key_source: KeySource,
    /// Resolved lazily by [`ProviderConfig::resolve_key`]; inline keys are stored here.
    pub inline_key: Option<SecretString>,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u64>,
    pub max_retries: u32,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub max_tokens_field: MaxTokensField,
    pub system: Option<String>,
    /// Served by paddock's own simulated server (the demo); shown as such in the UI.
    pub simulated: bool,
    pub connect_timeout: Duration,
    /// Longest silence allowed while reading a response (an idle timeout, not a total deadline).
    pub read_timeout: Duration,
}

impl ProviderConfig {
    /// A provider with defaults for everything but name, protocol, model and base URL.
    pub fn new(name: &str, protocol: Protocol, model: &str, base_url: &str) -> Self {
        Self {
            name: name.to_owned(),
            protocol,
            model: model.to_owned(),
            base_url: base_url.to_owned(),
            key_source: KeySource::None,
            inline_key: None,
            requests_per_minute: None,
            tokens_per_minute: None,
            max_retries: 2,
            temperature: None,
            max_tokens: None,
            max_tokens_field: MaxTokensField::MaxTokens,
            system: None,
            simulated: false,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
        }
    }

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

    pub fn endpoint(&self, api_key: Option<SecretString>) -> Endpoint {
        Endpoint {
            protocol: self.protocol,
            base_url: self.base_url.clone(),
            api_key,
            max_tokens_field: self.max_tokens_field,
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

/// Everything paddock was configured with.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub providers: Vec<ProviderConfig>,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
}

impl Config {
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.providers.iter().map(|p| p.name.as_str()).collect()
    }
}

/// The platform config path, e.g. `~/.config/paddock/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "paddock").map(|d| d.config_dir().join("config.toml"))
}

/// Load from `path` (explicit: must exist) or the platform default (optional), then add the
/// built-in `openai` and `anthropic` providers unless the file defines those names.
pub fn load(explicit: Option<&Path>) -> Result<Config, String> {
    let (path, required) = match explicit {
        Some(p) => (Some(p.to_path_buf()), true),
        None => (default_path(), false),
    };
    let mut config = match &path {
        Some(p) if required || p.exists() => parse_file(p)?,
        _ => Config::default(),
    };
    for builtin in builtins() {
        if config.provider(&builtin.name).is_none() {
            config.providers.push(builtin);
        }
    }
    Ok(config)
}

/// The two providers that exist with no config at all, following the official SDK conventions.
pub fn builtins() -> Vec<ProviderConfig> {
    let env_or = |var: &str, default: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let mut openai = ProviderConfig::new(
        "openai",
        Protocol::OpenAi,
        &env_or("OPENAI_MODEL", OPENAI_DEFAULT_MODEL),
        &env_or("OPENAI_BASE_URL", OPENAI_DEFAULT_BASE),
    );
    openai.key_source = KeySource::Env("OPENAI_API_KEY".into());
    let mut anthropic = ProviderConfig::new(
        "anthropic",
        Protocol::Anthropic,
        &env_or("ANTHROPIC_MODEL", ANTHROPIC_DEFAULT_MODEL),
        &env_or("ANTHROPIC_BASE_URL", ANTHROPIC_DEFAULT_BASE),
    );
    anthropic.key_source = KeySource::Env("ANTHROPIC_API_KEY".into());
    vec![openai, anthropic]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    provider: Vec<RawProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    kind: Protocol,
    model: String,
    base_url: Option<String>,
    api_key_env: Option<String>,
    api_key_cmd: Option<String>,
    api_key: Option<String>,
    requests_per_minute: Option<u32>,
    tokens_per_minute: Option<u64>,
    max_retries: Option<u32>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    max_tokens_field: Option<MaxTokensField>,
    system: Option<String>,
    connect_timeout_secs: Option<f64>,
    read_timeout_secs: Option<f64>,
}

/// Parse a config file. Errors name the file and say what to fix.
pub fn parse_file(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read config file {}: {e}; create it with `paddock init` or pass --config.",
            path.display()
        )
    })?;
    let mut config =
        parse_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

pub fn parse_str(text: &str) -> Result<Config, String> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(&e, text))?;
    let mut providers = Vec::new();
    for p in raw.provider {
        if providers.iter().any(|q: &ProviderConfig| q.name == p.name) {
            return Err(format!(
                "provider name \"{}\" is used twice; give each provider its own name.",
                p.name
            ));
        }
        providers.push(validate(p)?);
    }
    Ok(Config {
        providers,
        path: None,
    })
}

/// toml's error is multi-line with a source excerpt; keep the location and the message.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().trim_end_matches('.').replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            format!("line {line}: {msg}; fix it and try again.")
        }
        None => format!("{msg}; fix it and try again."),
    }
}

fn validate(p: RawProvider) -> Result<ProviderConfig, String> {
    let name = p.name.trim();
    if name.is_empty() || name.contains(',') || name.contains(char::is_whitespace) {
        return Err(format!(
            "provider name \"{}\" must be non-empty, with no spaces or commas.",
            p.name
        ));
    }
    let default_base = match p.kind {
        Protocol::OpenAi => OPENAI_DEFAULT_BASE,
        Protocol::Anthropic => ANTHROPIC_DEFAULT_BASE,
    };
    let base_url = p.base_url.unwrap_or_else(|| default_base.to_owned());
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(format!(
            "provider \"{name}\": base_url \"{base_url}\" must start with http:// or https://."
        ));
    }
    let mut cfg = ProviderConfig::new(name, p.kind, &p.model, &base_url);
    cfg.key_source = match (p.api_key_env, p.api_key_cmd, p.api_key) {
        (Some(var), None, None) => KeySource::Env(var),
        (None, Some(cmd), None) => KeySource::Command(cmd),
        (None, None, Some(key)) => {
            cfg.inline_key = Some(SecretString::from(key));
            KeySource::Inline
        }
        (None, None, None) => KeySource::None,
        _ => {
            return Err(format!(
                "provider \"{name}\": set only one of api_key_env, api_key_cmd and api_key."
            ))
        }
    };
    cfg.requests_per_minute = p.requests_per_minute.filter(|&n| n > 0);
    cfg.tokens_per_minute = p.tokens_per_minute.filter(|&n| n > 0);
    cfg.max_retries = p.max_retries.unwrap_or(cfg.max_retries);
    cfg.temperature = p.temperature;
    cfg.max_tokens = p.max_tokens;
    cfg.max_tokens_field = p.max_tokens_field.unwrap_or_default();
    cfg.system = p.system;
    if let Some(s) = p.connect_timeout_secs.filter(|s| s.is_finite() && *s > 0.0) {
        cfg.connect_timeout = Duration::from_secs_f64(s);
    }
    if let Some(s) = p.read_timeout_secs.filter(|s| s.is_finite() && *s > 0.0) {
        cfg.read_timeout = Duration::from_secs_f64(s);
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[[provider]]
name = "local"
kind = "openai"
model = "llama3"
base_url = "http://127.0.0.1:8080/v1"
requests_per_minute = 10
tokens_per_minute = 5000
max_retries = 4
temperature = 0.2
max_tokens = 256
max_tokens_field = "max_completion_tokens"
system = "Be brief."
read_timeout_secs = 5

[[provider]]
name = "claude"
kind = "anthropic"
model = "claude-x"
api_key_cmd = "printf key"
"#;

    #[test]
    fn a_full_config_parses_with_defaults_filled() {
        let c = parse_str(FULL).unwrap();
        assert_eq!(c.names(), ["local", "claude"]);
        let local = c.provider("local").unwrap();
        assert_eq!(local.protocol, Protocol::OpenAi);
        assert_eq!(
            (local.requests_per_minute, local.tokens_per_minute),
            (Some(10), Some(5000))
        );
        assert_eq!(local.max_retries, 4);
        assert_eq!(local.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        assert_eq!(local.read_timeout, Duration::from_secs(5));
        assert_eq!(local.key_source, KeySource::None);
        let claude = c.provider("claude").unwrap();
        assert_eq!(claude.base_url, ANTHROPIC_DEFAULT_BASE);
        assert_eq!(claude.key_source, KeySource::Command("printf key".into()));
        use secrecy::ExposeSecret;
        assert_eq!(
            claude.resolve_key().unwrap().unwrap().expose_secret(),
            "key"
        );
    }

    #[test]
    fn bad_configs_get_one_sentence() {
        let cases = [
            (
                "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\nmodle = \"x\"\n",
                "unknown field `modle`",
            ),
            ("[[provider]]\nname = \"a\"\nkind = \"gemini\"\nmodel = \"m\"\n", "unknown variant `gemini`"),
            ("[[provider]]\nname = \"a\"\nkind = \"openai\"\n", "missing field `model`"),
            (
                "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n",
                "provider name \"a\" is used twice",
            ),
            (
                "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"localhost:1\"\n",
                "must start with http:// or https://",
            ),
            (
                "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\napi_key_env = \"A\"\napi_key_cmd = \"b\"\n",
                "set only one of api_key_env, api_key_cmd and api_key",
            ),
            ("[[provider]\nname = ", "line 1: unclosed array table"),
            ("[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = 3\n", "line 4: invalid type"),
        ];
        for (text, want) in cases {
            let err = parse_str(text).unwrap_err();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
            assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        }
    }

    #[test]
    fn a_missing_explicit_file_names_the_path() {
        let err = load(Some(Path::new("/nonexistent/paddock.toml"))).unwrap_err();
        assert!(
            err.starts_with("cannot read config file /nonexistent/paddock.toml"),
            "{err}"
        );
    }

    #[test]
    fn a_failing_key_command_says_what_to_do() {
        let mut p = ProviderConfig::new("x", Protocol::OpenAi, "m", OPENAI_DEFAULT_BASE);
        p.key_source = KeySource::Command("exit 3".into());
        let err = p.resolve_key().unwrap_err();
        assert!(err.starts_with("x: api_key_cmd exited with"), "{err}");
        p.key_source = KeySource::Command("true".into());
        assert_eq!(
            p.resolve_key().unwrap_err(),
            "x: api_key_cmd printed nothing; it must print the key on stdout."
        );
    }
}
