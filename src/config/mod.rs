//! Configuration: raw TOML becomes a validated [`Config`] of providers, with defaults, env and key sources.

mod keys;
mod prices;
mod raw;
mod suggest;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::provider::{Endpoint, Limits, MaxTokensField, Protocol, RequestExtras, Usage};

pub use keys::KeySource;
pub use prices::{format_cost, Price, Prices};
pub use raw::{parse_file, parse_str};
pub use suggest::{did_you_mean, edit_distance};

pub const OPENAI_DEFAULT_BASE: &str = "https://api.openai.com/v1";
pub const ANTHROPIC_DEFAULT_BASE: &str = "https://api.anthropic.com";
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";
pub const ANTHROPIC_DEFAULT_MODEL: &str = "claude-3-5-haiku-latest";
pub const GEMINI_DEFAULT_MODEL: &str = "gemini-2.5-flash";

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
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub max_tokens_field: MaxTokensField,
    /// The model's context window in tokens (`context_window`): a request whose estimate does
    /// not fit fails at once, before it waits on the limiter. `None`: not checked.
    pub context_window: Option<u64>,
    pub system: Option<String>,
    /// Served by paddock's own simulated server (the demo); shown as such in the UI.
    pub simulated: bool,
    /// One of the providers that exist with no config (`builtins`), not named in a file.
    pub builtin: bool,
    pub connect_timeout: Duration,
    /// Longest time without a content event while reading a response (an idle timeout, not a
    /// total deadline): keep-alive comments and pings do not count as progress.
    pub read_timeout: Duration,
    /// Longest time from sending a request (its first attempt) to its first content event,
    /// retries included.
    pub first_token_timeout: Duration,
    /// Longest time `api_key_cmd` may take.
    pub key_cmd_timeout: Duration,
    pub limits: Limits,
    /// Reasoning controls, `extra_body` and `extra_headers`.
    pub extras: RequestExtras,
    /// `budget = "name"`: every process naming it (on the same store) shares one rate budget.
    pub budget: Option<String>,
    /// The `[limits]` table, copied in by [`load`] so a client needs only its provider.
    pub rate: LimitsConfig,
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
            max_tokens_field: MaxTokensField::Auto,
            context_window: None,
            system: None,
            simulated: false,
            builtin: false,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            first_token_timeout: Duration::from_secs(120),
            key_cmd_timeout: Duration::from_secs(10),
            limits: Limits::default(),
            extras: RequestExtras::default(),
            budget: None,
            rate: LimitsConfig::default(),
        }
    }

    pub fn endpoint(&self, api_key: Option<SecretString>) -> Endpoint {
        Endpoint {
            protocol: self.protocol,
            base_url: self.base_url.clone(),
            api_key,
            max_tokens_field: self.max_tokens_field,
            limits: self.limits,
            extras: self.extras.clone(),
        }
    }
}

/// Everything paddock was configured with.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub providers: Vec<ProviderConfig>,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// Per-model prices from `[prices."MODEL"]`.
    pub prices: Prices,
    /// The `[limits]` table, with `PADDOCK_LIMITS_STORE` applied by [`load`].
    pub limits: LimitsConfig,
    /// Things worth telling the user that do not stop paddock (one sentence each), e.g. an inline
    /// key in a file others can read. Headless commands print them to stderr.
    pub warnings: Vec<String>,
}

impl Config {
    /// Cost in US dollars of `usage` on `model`, from the config's `[prices]` table.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.prices.cost(model, usage)
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The provider `-p` names: `NAME` as configured, or `NAME:MODEL`, the provider `NAME` asking
    /// for `MODEL` under the name `NAME:MODEL` (so `-p openai:gpt-4o,openai:gpt-4o-mini` races
    /// two models of one provider). A configured name wins, so a provider may have a colon in
    /// its name; the split is at the first colon, so `ollama:qwen3:8b` asks for `qwen3:8b`.
    pub fn select(&self, name: &str) -> Option<ProviderConfig> {
        if let Some(p) = self.provider(name) {
            return Some(p.clone());
        }
        let (base, model) = name.split_once(':')?;
        let model = model.trim();
        if model.is_empty() {
            return None;
        }
        let mut p = self.provider(base.trim())?.clone();
        p.name = format!("{}:{model}", p.name);
        p.model = model.to_owned();
        Some(p)
    }

    pub fn names(&self) -> Vec<&str> {
        self.providers.iter().map(|p| p.name.as_str()).collect()
    }
}

/// What to do when the shared budget's store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStoreError {
    /// Say so once, then limit this process alone until the store is back.
    #[default]
    Local,
    /// Say so, and fail requests rather than risk overshooting a shared budget.
    Fail,
}

/// The `[limits]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    /// `redis://host:port/db`; `None` keeps every budget in this process.
    pub store: Option<String>,
    pub on_store_error: OnStoreError,
    /// The rolling window of `requests_per_minute` / `tokens_per_minute`: 60 s, shorter only in
    /// tests and demos against `paddock mock` (whose `window_secs` must match).
    pub window: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            store: None,
            on_store_error: OnStoreError::Local,
            window: Duration::from_secs(60),
        }
    }
}

/// A store URL paddock can use, or one sentence saying what is wrong (never echoing a password).
pub fn check_store_url(url: &str) -> Result<String, String> {
    let ok = url.starts_with("redis://") || url.starts_with("rediss://");
    if !ok || url.len() > 2048 {
        return Err(
            "limits.store must be a redis:// URL such as \"redis://127.0.0.1:6379/0\".".to_owned(),
        );
    }
    Ok(url.to_owned())
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
    for mut builtin in builtins() {
        if config.provider(&builtin.name).is_none() {
            builtin.builtin = true;
            config.providers.push(builtin);
        }
    }
    // The environment wins over the file, so one shell can join a team budget without editing it.
    if let Some(url) = std::env::var("PADDOCK_LIMITS_STORE")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        let url = check_store_url(url.trim()).map_err(|e| format!("PADDOCK_LIMITS_STORE: {e}"))?;
        config.limits.store = Some(url);
    }
    for p in &mut config.providers {
        p.rate = config.limits.clone();
    }
    Ok(config)
}

/// The providers that exist with no config at all, following the official SDK conventions.
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
    let mut gemini = ProviderConfig::new(
        "gemini",
        Protocol::Gemini,
        &env_or("GEMINI_MODEL", GEMINI_DEFAULT_MODEL),
        &env_or("GEMINI_BASE_URL", Protocol::Gemini.default_base_url()),
    );
    gemini.key_source = KeySource::Env(Protocol::Gemini.key_env().into());
    vec![openai, anthropic, gemini]
}
