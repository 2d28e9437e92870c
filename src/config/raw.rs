//! Raw TOML to a validated [`Config`]: parsing, one-line errors with line numbers, "did you mean".

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use toml::Spanned;

use super::keys::inline_key_warning;
use super::suggest::did_you_mean;
use super::{Config, KeySource, LimitsConfig, OnStoreError, Price, Prices, ProviderConfig};
use crate::provider::{MaxTokensField, Protocol};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    provider: Vec<RawProvider>,
    #[serde(default)]
    prices: BTreeMap<String, Price>,
    limits: Option<RawLimits>,
}

/// `[limits]`: where rate budgets live and what to do when that store is unreachable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    store: Option<Spanned<String>>,
    on_store_error: Option<Spanned<String>>,
    window_secs: Option<Spanned<f64>>,
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
    temperature: Option<Spanned<f64>>,
    max_tokens: Option<u32>,
    max_tokens_field: Option<MaxTokensField>,
    context_window: Option<u64>,
    system: Option<String>,
    connect_timeout_secs: Option<Spanned<f64>>,
    read_timeout_secs: Option<Spanned<f64>>,
    first_token_timeout_secs: Option<Spanned<f64>>,
    api_key_cmd_timeout_secs: Option<Spanned<f64>>,
    max_event_bytes: Option<Spanned<u64>>,
    max_body_bytes: Option<Spanned<u64>>,
    max_answer_bytes: Option<Spanned<u64>>,
    reasoning_effort: Option<Spanned<String>>,
    thinking: Option<Spanned<RawThinking>>,
    extra_body: Option<Spanned<toml::Table>>,
    extra_headers: Option<Spanned<BTreeMap<String, String>>>,
    send_reasoning: Option<Spanned<bool>>,
    budget: Option<Spanned<String>>,
}

/// Parse a config file. Errors name the file and say what to fix; warnings (an inline key in a
/// file others can read) go in [`Config::warnings`].
/// A config file larger than this is not a config file.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

pub fn parse_file(path: &Path) -> Result<Config, String> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_CONFIG_BYTES) {
        return Err(format!(
            "config file {} is larger than 1 MiB; it cannot be a paddock config — check the path.",
            path.display()
        ));
    }
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
        // No model costs a million dollars per million tokens: larger is a typo.
        let ok = |v: f64| v.is_finite() && (0.0..=1e6).contains(&v);
        let optional_ok = [price.cached_input, price.cache_write]
            .into_iter()
            .flatten()
            .all(ok);
        if !(ok(price.input) && ok(price.output) && optional_ok) {
            return Err(format!(
                "prices.\"{}\": input and output must be numbers from 0 to 1000000 (US dollars per million tokens).",
                crate::sanitize::clean_line(model)
            ));
        }
    }
    let limits = match raw.limits {
        Some(l) => limits(l, text)?,
        None => LimitsConfig::default(),
    };
    Ok(Config {
        providers,
        prices: Prices(raw.prices),
        limits,
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

fn validate(p: RawProvider, text: &str) -> Result<ProviderConfig, String> {
    let line = line_of(text, p.name.span().start);
    let raw_name = p.name.into_inner();
    let name = raw_name.trim();
    let hidden = |c: char| c.is_control() || crate::sanitize::is_removed(c);
    if name.is_empty()
        || name.contains(',')
        || name.contains(char::is_whitespace)
        || name.contains(hidden)
    {
        return Err(format!(
            "line {line}: provider name \"{}\" must be non-empty, with no spaces, commas or control characters.",
            crate::sanitize::clean_line(&raw_name)
        ));
    }
    let default_base = p.kind.default_base_url();
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
    if let Some(budget) = p.budget {
        let at = line_of(text, budget.span().start);
        let budget = budget.into_inner();
        if !valid_budget_name(&budget) {
            return Err(format!(
                "line {at}: provider \"{name}\": budget \"{}\" must be 1 to 64 letters, digits, '-', '_' or '.'.",
                crate::sanitize::clean_line(&budget)
            ));
        }
        cfg.budget = Some(budget);
    }
    let number = Numbers { name, text };
    cfg.temperature = number.temperature(p.kind, p.temperature)?;
    cfg.max_tokens = p.max_tokens;
    cfg.context_window = p.context_window.filter(|&n| n > 0);
    cfg.max_tokens_field = p.max_tokens_field.unwrap_or_default();
    cfg.system = p.system;
    let secs = [
        (
            p.connect_timeout_secs,
            "connect_timeout_secs",
            &mut cfg.connect_timeout,
        ),
        (
            p.read_timeout_secs,
            "read_timeout_secs",
            &mut cfg.read_timeout,
        ),
        (
            p.first_token_timeout_secs,
            "first_token_timeout_secs",
            &mut cfg.first_token_timeout,
        ),
        (
            p.api_key_cmd_timeout_secs,
            "api_key_cmd_timeout_secs",
            &mut cfg.key_cmd_timeout,
        ),
    ];
    for (value, key, slot) in secs {
        if let Some(d) = number.seconds(key, value)? {
            *slot = d;
        }
    }
    let bytes = [
        (
            p.max_event_bytes,
            "max_event_bytes",
            &mut cfg.limits.max_event_bytes,
        ),
        (
            p.max_body_bytes,
            "max_body_bytes",
            &mut cfg.limits.max_body_bytes,
        ),
        (
            p.max_answer_bytes,
            "max_answer_bytes",
            &mut cfg.limits.max_answer_bytes,
        ),
    ];
    for (value, key, slot) in bytes {
        if let Some(n) = number.bytes(key, value)? {
            *slot = n;
        }
    }
    let at = |span: std::ops::Range<usize>| {
        format!("line {}: provider \"{name}\"", line_of(text, span.start))
    };
    if let Some(send) = &p.send_reasoning {
        if p.kind != Protocol::OpenAi {
            return Err(format!(
                "{}: send_reasoning is for kind = \"openai\" (Chat Completions servers); on the {} API paddock sends back what it needs by itself.",
                at(send.span()),
                p.kind.api_name()
            ));
        }
    }
    let send_reasoning = p.send_reasoning.is_some_and(Spanned::into_inner);
    cfg.extras = extras(
        &p.kind,
        p.reasoning_effort,
        p.thinking,
        p.extra_body,
        p.extra_headers,
        at,
    )?;
    cfg.extras.send_reasoning = send_reasoning;
    Ok(cfg)
}

/// Anthropic's own shape: `thinking = { type = "enabled", budget_tokens = N }` (or `"disabled"`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThinking {
    #[serde(rename = "type")]
    kind: String,
    budget_tokens: Option<u32>,
}

/// The efforts OpenAI-style servers accept for `reasoning_effort`.
const EFFORTS: [&str; 5] = ["none", "minimal", "low", "medium", "high"];

/// Reasoning controls and the body and header patches, checked: each mistake is one sentence.
fn extras(
    kind: &Protocol,
    effort: Option<Spanned<String>>,
    thinking: Option<Spanned<RawThinking>>,
    body: Option<Spanned<toml::Table>>,
    headers: Option<Spanned<BTreeMap<String, String>>>,
    at: impl Fn(std::ops::Range<usize>) -> String,
) -> Result<crate::provider::RequestExtras, String> {
    let mut extras = crate::provider::RequestExtras::default();
    if let Some(effort) = effort {
        if !EFFORTS.contains(&effort.get_ref().as_str()) {
            return Err(format!(
                "{}: reasoning_effort \"{}\" is not one of {}.",
                at(effort.span()),
                effort.get_ref(),
                EFFORTS.join(", ")
            ));
        }
        extras.reasoning_effort = Some(effort.into_inner());
    }
    if let Some(thinking) = thinking {
        let span = thinking.span();
        let thinking = thinking.into_inner();
        extras.thinking_budget = match (thinking.kind.as_str(), thinking.budget_tokens) {
            ("disabled", _) => None,
            ("enabled", Some(n)) if *kind == Protocol::Anthropic && n >= 1024 => Some(n),
            ("enabled", Some(n)) if *kind == Protocol::Gemini => Some(n),
            _ => {
                return Err(format!(
                    "{}: thinking must be {{ type = \"enabled\", budget_tokens = N }} (N of at least 1024 on Anthropic) or type = \"disabled\", on kind = \"anthropic\" or \"gemini\" only (use reasoning_effort or extra_body elsewhere).",
                    at(span)
                ))
            }
        };
    }
    if let Some(body) = body {
        let span = body.span();
        let json = serde_json::to_value(body.into_inner()).map_err(|e| {
            format!(
                "{}: extra_body cannot be sent as JSON ({e}).",
                at(span.clone())
            )
        })?;
        let serde_json::Value::Object(map) = json else {
            return Err(format!("{}: extra_body must be a table.", at(span)));
        };
        if let Some(k) = map
            .keys()
            .find(|k| crate::provider::PROTECTED_BODY_KEYS.contains(&k.as_str()))
        {
            return Err(format!("{}: extra_body cannot set \"{k}\"; paddock sends the conversation and decides streaming.", at(span)));
        }
        extras.extra_body = map;
    }
    if let Some(headers) = headers {
        let span = headers.span();
        for (name, value) in headers.into_inner() {
            let lower = name.to_ascii_lowercase();
            if crate::provider::PROTECTED_HEADERS.contains(&lower.as_str()) {
                return Err(format!("{}: extra_headers cannot set {name}; keys come from api_key_env, api_key_cmd or api_key.", at(span)));
            }
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(&value).is_ok();
            if !valid {
                return Err(format!(
                    "{}: extra_headers has an invalid header \"{name}\".",
                    at(span)
                ));
            }
            extras.extra_headers.push((name, value));
        }
    }
    Ok(extras)
}

/// Checked reading of one provider's numbers: out of range is one sentence naming the line and
/// the key (the file is named by [`parse_file`]), never a panic or a silently ignored value.
struct Numbers<'a> {
    name: &'a str,
    text: &'a str,
}

/// Timeouts longer than a day are a typo, not a wish.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;
/// Byte limits: at least 1 KiB (less cannot hold a real event), at most 1 GiB.
const BYTE_LIMITS: std::ops::RangeInclusive<u64> = 1024..=1 << 30;

impl Numbers<'_> {
    fn out_of_range(&self, at: usize, key: &str, value: &str, range: &str) -> String {
        format!(
            "line {}: provider \"{}\": {key} = {value} is out of range; use {range}.",
            line_of(self.text, at),
            self.name
        )
    }

    fn seconds(&self, key: &str, value: Option<Spanned<f64>>) -> Result<Option<Duration>, String> {
        let Some(value) = value else { return Ok(None) };
        let secs = *value.get_ref();
        if !(secs.is_finite() && (0.001..=MAX_TIMEOUT_SECS).contains(&secs)) {
            let range = format!("a number of seconds from 0.001 to {MAX_TIMEOUT_SECS}");
            return Err(self.out_of_range(
                value.span().start,
                key,
                &crate::checked::short_number(secs),
                &range,
            ));
        }
        Ok(Duration::try_from_secs_f64(secs).ok())
    }

    fn bytes(&self, key: &str, value: Option<Spanned<u64>>) -> Result<Option<usize>, String> {
        let Some(value) = value else { return Ok(None) };
        let n = *value.get_ref();
        match usize::try_from(n) {
            Ok(n) if BYTE_LIMITS.contains(&(n as u64)) => Ok(Some(n)),
            _ => Err(self.out_of_range(
                value.span().start,
                key,
                &n.to_string(),
                &format!(
                    "a byte count from {} to {}",
                    BYTE_LIMITS.start(),
                    BYTE_LIMITS.end()
                ),
            )),
        }
    }

    /// A temperature the provider's API accepts (OpenAI 0 to 2, Anthropic 0 to 1).
    fn temperature(
        &self,
        kind: Protocol,
        value: Option<Spanned<f64>>,
    ) -> Result<Option<f64>, String> {
        let Some(value) = value else { return Ok(None) };
        let t = *value.get_ref();
        if kind.check_temperature(t).is_err() {
            let range = format!(
                "a number from 0 to {} (the {} API's range)",
                kind.max_temperature(),
                kind.api_name()
            );
            return Err(self.out_of_range(
                value.span().start,
                "temperature",
                &crate::checked::short_number(t),
                &range,
            ));
        }
        Ok(Some(t))
    }
}

/// Budget names become part of Redis key names, so they stay short and plain.
fn valid_budget_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Rolling windows shorter than this are a typo; longer than a day is not a rate limit.
const WINDOW_SECS: std::ops::RangeInclusive<f64> = 0.1..=86_400.0;

fn limits(raw: RawLimits, text: &str) -> Result<LimitsConfig, String> {
    let mut out = LimitsConfig::default();
    if let Some(store) = raw.store {
        let at = line_of(text, store.span().start);
        let url = store.into_inner();
        out.store = Some(super::check_store_url(&url).map_err(|e| format!("line {at}: {e}"))?);
    }
    if let Some(policy) = raw.on_store_error {
        let at = line_of(text, policy.span().start);
        out.on_store_error = match policy.get_ref().as_str() {
            "local" => OnStoreError::Local,
            "fail" => OnStoreError::Fail,
            other => {
                return Err(format!(
                    "line {at}: limits.on_store_error = \"{}\" must be \"local\" or \"fail\".",
                    crate::sanitize::clean_line(other)
                ))
            }
        };
    }
    if let Some(secs) = raw.window_secs {
        let at = line_of(text, secs.span().start);
        let v = *secs.get_ref();
        if !(v.is_finite() && WINDOW_SECS.contains(&v)) {
            return Err(format!(
                "line {at}: limits.window_secs = {} is out of range; use a number of seconds from 0.1 to 86400.",
                crate::checked::short_number(v)
            ));
        }
        out.window = Duration::from_secs_f64(v);
    }
    Ok(out)
}
