//! Configuration: raw TOML becomes a validated [`Config`] of providers, with defaults, env and key sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use toml::Spanned;

use crate::provider::{Endpoint, MaxTokensField, Protocol, Usage};

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
    /// Per-model prices from `[prices."MODEL"]`.
    pub prices: Prices,
    /// Things worth telling the user that do not stop paddock (one sentence each), e.g. an inline
    /// key in a file others can read. Headless commands print them to stderr.
    pub warnings: Vec<String>,
}

/// A model's price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// The `[prices]` table: model name to [`Price`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices(pub BTreeMap<String, Price>);

impl Prices {
    /// The price for `model`: an exact entry, else the longest entry the model extends with a
    /// dated or `-latest` suffix (`gpt-4o-mini` prices `gpt-4o-mini-2024-07-18`, `claude-3-5-haiku`
    /// prices `claude-3-5-haiku-latest`, but `gpt-4o` never prices `gpt-4o-mini`).
    pub fn get(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.0.get(model) {
            return Some(*p);
        }
        self.0
            .iter()
            .filter(|(name, _)| {
                model
                    .strip_prefix(name.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|rest| {
                        rest == "latest" || rest.starts_with(|c: char| c.is_ascii_digit())
                    })
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }

    /// Cost in US dollars of `usage` on `model`; `None` without a price or any token count.
    /// A count the provider did not report counts as zero.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        let price = self.get(model)?;
        if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
            return None;
        }
        let tokens = |n: Option<u64>| n.unwrap_or(0) as f64 / 1_000_000.0;
        Some(tokens(usage.input_tokens) * price.input + tokens(usage.output_tokens) * price.output)
    }
}

/// `$0.0123` with enough digits to be non-zero for small requests.
pub fn format_cost(usd: f64) -> String {
    if usd == 0.0 || usd >= 0.01 {
        format!("${usd:.2}")
    } else if usd >= 0.0001 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.6}")
    }
}

impl Config {
    /// Cost in US dollars of `usage` on `model`, from the config's `[prices]` table.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.prices.cost(model, usage)
    }

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
    #[serde(default)]
    prices: BTreeMap<String, Price>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: Spanned<String>,
    kind: Protocol,
    model: String,
    base_url: Option<Spanned<String>>,
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

/// Parse a config file. Errors name the file and say what to fix; warnings (an inline key in a
/// file others can read) go in [`Config::warnings`].
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
    if let Some(w) = inline_key_warning(path, &config) {
        config.warnings.push(w);
    }
    Ok(config)
}

#[cfg(unix)]
fn inline_key_warning(path: &Path, config: &Config) -> Option<String> {
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
fn inline_key_warning(_path: &Path, _config: &Config) -> Option<String> {
    None
}

pub fn parse_str(text: &str) -> Result<Config, String> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(&e, text))?;
    let mut providers = Vec::new();
    for p in raw.provider {
        if providers
            .iter()
            .any(|q: &ProviderConfig| q.name == *p.name.get_ref())
        {
            return Err(format!(
                "line {}: provider name \"{}\" is used twice; give each provider its own name.",
                line_of(text, p.name.span().start),
                p.name.get_ref()
            ));
        }
        providers.push(validate(p, text)?);
    }
    for (model, price) in &raw.prices {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !(ok(price.input) && ok(price.output)) {
            return Err(format!(
                "prices.\"{model}\": input and output must be numbers of 0 or more (US dollars per million tokens)."
            ));
        }
    }
    Ok(Config {
        providers,
        prices: Prices(raw.prices),
        ..Config::default()
    })
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    let mut end = at.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].matches('\n').count() + 1
}

/// toml's error is multi-line with a source excerpt; keep the location and the message, and turn
/// an unknown key into a "did you mean" sentence.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().trim_end_matches('.').replace('\n', " ");
    let Some(span) = e.span() else {
        return format!("{msg}; fix it and try again.");
    };
    let line = line_of(text, span.start);
    if let Some(sentence) = unknown_key_sentence(&msg, text, line) {
        return format!("line {line}: {sentence}");
    }
    format!("line {line}: {msg}; fix it and try again.")
}

/// serde says "unknown field `modle`, expected one of `name`, `kind`, ..."; say which table it
/// is in and suggest the closest known key.
fn unknown_key_sentence(msg: &str, text: &str, line: usize) -> Option<String> {
    let rest = msg.strip_prefix("unknown field ")?;
    let quoted: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let (key, known) = quoted.split_first()?;
    let table = enclosing_table(text, line)
        .map(|t| format!(" in {t}"))
        .unwrap_or_else(|| " at the top level".to_owned());
    Some(match did_you_mean(key, known) {
        Some(best) => format!("unknown key `{key}`{table}; did you mean `{best}`?"),
        None if known.is_empty() => format!("unknown key `{key}`{table}; remove it."),
        None => format!(
            "unknown key `{key}`{table}; known keys: {} (see config.example.toml).",
            known.join(", ")
        ),
    })
}

/// The `[table]` or `[[array]]` header above `line`, if any.
fn enclosing_table(text: &str, line: usize) -> Option<&str> {
    // When the unknown key is a table header itself (`[[providers]]`), it sits in the one above.
    let on_header = text
        .lines()
        .nth(line.saturating_sub(1))
        .is_some_and(|l| l.trim_start().starts_with('['));
    text.lines()
        .take(if on_header { line - 1 } else { line })
        .map(str::trim)
        .filter(|l| l.starts_with('['))
        .last()
        .map(|l| {
            let end = l.rfind(']').map_or(l.len(), |i| i + 1);
            &l[..end]
        })
}

/// The known key closest to `key`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = match key.chars().count() {
        0..=3 => 1,
        4..=6 => 2,
        _ => 3,
    };
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost one (`modle` is one step from `model`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

fn validate(p: RawProvider, text: &str) -> Result<ProviderConfig, String> {
    let line = line_of(text, p.name.span().start);
    let raw_name = p.name.into_inner();
    let name = raw_name.trim();
    if name.is_empty() || name.contains(',') || name.contains(char::is_whitespace) {
        return Err(format!(
            "line {line}: provider name \"{raw_name}\" must be non-empty, with no spaces or commas."
        ));
    }
    let default_base = match p.kind {
        Protocol::OpenAi => OPENAI_DEFAULT_BASE,
        Protocol::Anthropic => ANTHROPIC_DEFAULT_BASE,
    };
    let base_url = match p.base_url {
        Some(url) => {
            let url_line = line_of(text, url.span().start);
            let url = url.into_inner();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "line {url_line}: provider \"{name}\": base_url \"{url}\" must start with http:// or https://."
                ));
            }
            url
        }
        None => default_base.to_owned(),
    };
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
                "line {line}: provider \"{name}\": set only one of api_key_env, api_key_cmd and api_key."
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
                "line 5: unknown key `modle` in [[provider]]; did you mean `model`?",
            ),
            ("[[provider]]\nname = \"a\"\nkind = \"gemini\"\nmodel = \"m\"\n", "unknown variant `gemini`"),
            ("[[provider]]\nname = \"a\"\nkind = \"openai\"\n", "missing field `model`"),
            (
                "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n",
                "line 6: provider name \"a\" is used twice",
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

    /// The whole sentence, exactly, for the mistakes users make most.
    #[test]
    fn config_errors_are_pinned() {
        let p = "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n";
        let cases = [
            (
                format!("{p}modle = \"x\"\n"),
                "line 5: unknown key `modle` in [[provider]]; did you mean `model`?",
            ),
            (
                format!("{p}api_key_evn = \"X\"\n"),
                "line 5: unknown key `api_key_evn` in [[provider]]; did you mean `api_key_env`?",
            ),
            (
                format!("{p}requests_per_min = 5\n"),
                "line 5: unknown key `requests_per_min` in [[provider]]; did you mean `requests_per_minute`?",
            ),
            (
                "[[providers]]\nname = \"a\"\n".to_owned(),
                "line 1: unknown key `providers` at the top level; did you mean `provider`?",
            ),
            (
                format!("{p}colour = \"red\"\n"),
                "line 5: unknown key `colour` in [[provider]]; known keys: name, kind, model, base_url, \
                 api_key_env, api_key_cmd, api_key, requests_per_minute, tokens_per_minute, max_retries, \
                 temperature, max_tokens, max_tokens_field, system, connect_timeout_secs, read_timeout_secs \
                 (see config.example.toml).",
            ),
            (
                "[prices.\"gpt-4o\"]\ninput = 2.5\noutptu = 10\n".to_owned(),
                "line 3: unknown key `outptu` in [prices.\"gpt-4o\"]; did you mean `output`?",
            ),
            (
                "[prices.\"gpt-4o\"]\ninput = -1\noutput = 10\n".to_owned(),
                "prices.\"gpt-4o\": input and output must be numbers of 0 or more (US dollars per million tokens).",
            ),
            (
                format!("{p}base_url = \"localhost:1\"\n"),
                "line 5: provider \"a\": base_url \"localhost:1\" must start with http:// or https://.",
            ),
            (
                format!("\n{p}api_key_env = \"A\"\napi_key_cmd = \"b\"\n"),
                "line 3: provider \"a\": set only one of api_key_env, api_key_cmd and api_key.",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_str(&text).unwrap_err(), want, "for {text:?}");
        }
    }

    #[test]
    fn file_errors_name_the_file_and_leave_it_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let bytes = b"[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodle = \"m\"\n";
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(
            load(Some(&path)).unwrap_err(),
            format!(
                "config file {}: line 4: unknown key `modle` in [[provider]]; did you mean `model`?",
                path.display()
            )
        );
        // Truncated mid-table.
        let cut = b"[[provider]]\nname = \"a";
        std::fs::write(&path, cut).unwrap();
        let err = load(Some(&path)).unwrap_err();
        assert!(
            err.starts_with(&format!("config file {}: line 2: ", path.display())),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
        assert_eq!(std::fs::read(&path).unwrap(), cut);
    }

    #[test]
    fn did_you_mean_picks_close_keys_only() {
        assert_eq!(edit_distance("modle", "model"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        let known = ["name", "kind", "model", "base_url"];
        assert_eq!(did_you_mean("Model", &known), Some("model"));
        assert_eq!(did_you_mean("baseurl", &known), Some("base_url"));
        assert_eq!(did_you_mean("knd", &known), Some("kind"));
        assert_eq!(did_you_mean("colour", &known), None);
    }

    #[cfg(unix)]
    #[test]
    fn an_inline_key_in_a_readable_file_draws_one_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\napi_key = \"sk-x\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = load(Some(&path)).unwrap();
        assert_eq!(
            c.warnings,
            [format!(
                "config file {p} holds an inline api_key (provider a) and other users can read it (mode 644); \
                 run `chmod 600 {p}` or use api_key_env / api_key_cmd instead.",
                p = path.display()
            )]
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(Some(&path)).unwrap().warnings.is_empty());
        // An env-var key in a world-readable file is fine.
        std::fs::write(
            &path,
            "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\napi_key_env = \"K\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load(Some(&path)).unwrap().warnings.is_empty());
    }

    #[test]
    fn prices_cost_by_model_with_dated_suffixes() {
        let c = parse_str(
            "[prices.\"gpt-4o\"]\ninput = 2.5\noutput = 10\n[prices.\"gpt-4o-mini\"]\ninput = 0.15\noutput = 0.6\n",
        )
        .unwrap();
        let usage = Usage {
            input_tokens: Some(1_000_000),
            output_tokens: Some(500_000),
            ..Usage::default()
        };
        assert_eq!(c.cost("gpt-4o", &usage), Some(7.5));
        assert_eq!(c.cost("gpt-4o-2024-08-06", &usage), Some(7.5));
        let mini = c.cost("gpt-4o-mini-2024-07-18", &usage).unwrap();
        assert!((mini - 0.45).abs() < 1e-9, "{mini}");
        assert_eq!(c.cost("gpt-4o-audio-preview", &usage), None);
        assert_eq!(c.cost("gpt-4o-latest", &usage), Some(7.5));
        assert_eq!(c.cost("unknown", &usage), None);
        assert_eq!(c.cost("gpt-4o", &Usage::default()), None);
        assert_eq!(format_cost(7.5), "$7.50");
        assert_eq!(format_cost(0.00123), "$0.0012");
        assert_eq!(format_cost(0.0000042), "$0.000004");
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../config.example.toml");
        let c = parse_str(text).unwrap();
        assert!(c.provider("openai").is_some() && c.provider("anthropic").is_some());
        assert!(c.prices.get("gpt-4o-mini").is_some());
    }
}
