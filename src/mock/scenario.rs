//! The scenario: what the mock serves (models, speed, limits) and which faults it injects, from TOML.

use std::path::Path;

use serde::Deserialize;

use super::wire::Family;

/// Which wire format(s) a simulated model answers on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Serves {
    /// Chat Completions and the Responses API, as OpenAI's own models do.
    #[serde(rename = "openai")]
    OpenAi,
    /// The Responses API alone, to check a client never falls back to Chat Completions.
    #[serde(rename = "openai-responses", alias = "responses")]
    OpenAiResponses,
    Anthropic,
    Gemini,
    /// Every wire format ("any" and "all" mean the same); the name predates the third and fourth.
    #[default]
    #[serde(alias = "any", alias = "all")]
    Both,
}

impl Serves {
    pub fn allows(self, family: Family) -> bool {
        match self {
            Serves::Both => true,
            Serves::OpenAi => family.is_openai(),
            Serves::OpenAiResponses => family == Family::Responses,
            Serves::Anthropic => family == Family::Anthropic,
            Serves::Gemini => family == Family::Gemini,
        }
    }
}

/// How a scripted 429 says when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterForm {
    /// `retry-after: 2` (whole seconds, rounded up).
    #[default]
    Seconds,
    /// `retry-after-ms: 2000` (OpenAI's extension).
    Ms,
    /// `retry-after: <HTTP date>`.
    Date,
    /// No header at all: the client has to back off on its own.
    None,
}

/// What a scripted fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 rate-limit error with a Retry-After in the chosen form.
    RateLimit,
    /// 429 `insufficient_quota` (OpenAI); Anthropic's real equivalent is a 400 "credit balance is too low".
    InsufficientQuota,
    /// 500, 502 (an HTML gateway page, as a CDN sends) or 503, per `status`.
    ServerError,
    /// 529 `overloaded_error`.
    Overloaded,
    /// 401 in the family's shape, whatever key was sent.
    Unauthorized,
    /// 400 context too long, with the family's real message.
    ContextTooLong,
    /// Close the connection (with a TCP reset) before any response byte.
    Reset,
    /// Wait `duration_ms` before sending the response headers.
    SlowFirstByte,
    /// Close the connection after `after_tokens` tokens, without the end marker.
    Drop,
    /// Stop sending for `duration_ms` after `after_tokens` tokens, then carry on.
    Stall,
    /// After `after_tokens` tokens, send one event whose JSON is cut short, then carry on.
    Malformed,
    /// After `after_tokens` tokens, send one text delta of `bytes` bytes (counts as one token).
    HugeEvent,
    /// After `after_tokens` tokens, send the family's in-stream error event and end the stream.
    StreamError,
}

impl FaultKind {
    /// Faults that only make sense while streaming; non-streaming requests ignore them.
    pub fn is_mid_stream(self) -> bool {
        matches!(
            self,
            Self::Drop | Self::Stall | Self::Malformed | Self::HugeEvent | Self::StreamError
        )
    }
}

/// One scripted fault of a model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: FaultKind,
    /// 1-based request numbers (per model) that get this fault.
    #[serde(default)]
    pub on_request: Vec<usize>,
    /// Chance in [0, 1] that any other request gets it.
    #[serde(default)]
    pub probability: f64,
    #[serde(default)]
    pub retry_after: RetryAfterForm,
    #[serde(default = "default_retry_after_secs")]
    pub retry_after_secs: f64,
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default = "default_after_tokens")]
    pub after_tokens: usize,
    #[serde(default = "default_duration_ms")]
    pub duration_ms: u64,
    #[serde(default = "default_bytes")]
    pub bytes: usize,
}

fn default_retry_after_secs() -> f64 {
    2.0
}
fn default_status() -> u16 {
    500
}
fn default_after_tokens() -> usize {
    10
}
fn default_duration_ms() -> u64 {
    3000
}
fn default_bytes() -> usize {
    1 << 20
}

impl FaultSpec {
    pub fn new(kind: FaultKind) -> Self {
        FaultSpec {
            kind,
            on_request: vec![],
            probability: 0.0,
            retry_after: RetryAfterForm::default(),
            retry_after_secs: default_retry_after_secs(),
            status: default_status(),
            after_tokens: default_after_tokens(),
            duration_ms: default_duration_ms(),
            bytes: default_bytes(),
        }
    }
}

/// One simulated model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub protocol: Serves,
    /// Time to first token, before jitter.
    pub ttft_ms: u64,
    /// Streaming speed; 0 means as fast as the socket allows.
    pub tokens_per_sec: f64,
    /// Relative jitter in [0, 1] applied to the TTFT and to every gap between tokens.
    pub jitter: f64,
    pub min_answer_tokens: usize,
    pub max_answer_tokens: usize,
    /// Prompts estimated above this many tokens get the family's "context too long" 400.
    pub context_window: u64,
    /// Requests allowed per rolling window; absent = unlimited and no request headers.
    pub requests_per_window: Option<u64>,
    /// Input + output tokens allowed per rolling window; absent = unlimited.
    pub tokens_per_window: Option<u64>,
    /// A reasoning model that thinks on every Chat Completions request, as deepseek-reasoner or
    /// a vLLM reasoning parser does (unless `reasoning_effort = "none"`). Every model thinks when
    /// the request asks, on any wire.
    pub thinks: bool,
    /// The most tokens one thought takes: an effort asks a share of it, a budget is capped by it.
    pub thinking_tokens: usize,
    /// Thinking speed; absent = `tokens_per_sec`.
    pub thinking_tokens_per_sec: Option<f64>,
    /// Anthropic: each thinking block ends with a `signature_delta`, as the real API's do
    /// (false: unsigned, as some compatible servers send).
    pub thinking_signature: bool,
    /// Anthropic: a `redacted_thinking` block (an opaque `data` blob) follows the thinking.
    pub redacted_thinking: bool,
    /// Prompt tokens each answer reports as read from the provider's cache (at most the prompt).
    pub cache_read_tokens: u64,
    /// Prompt tokens each answer reports as written to the cache (Anthropic reports them).
    pub cache_write_tokens: u64,
    #[serde(rename = "fault")]
    pub faults: Vec<FaultSpec>,
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            name: String::new(),
            protocol: Serves::Both,
            ttft_ms: 200,
            tokens_per_sec: 60.0,
            jitter: 0.2,
            min_answer_tokens: 80,
            max_answer_tokens: 250,
            context_window: 128_000,
            requests_per_window: None,
            tokens_per_window: None,
            thinks: false,
            thinking_tokens: DEFAULT_THINKING_TOKENS,
            thinking_tokens_per_sec: None,
            thinking_signature: true,
            redacted_thinking: false,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            faults: vec![],
        }
    }
}

/// How long a thought may be by default: the effort shares come out at 16, 24, 40, 64 and 96.
const DEFAULT_THINKING_TOKENS: usize = 96;
/// The longest thought a scenario may ask for.
const MAX_THINKING_TOKENS: usize = 100_000;

impl ModelSpec {
    pub fn new(name: &str, protocol: Serves) -> Self {
        ModelSpec {
            name: name.to_owned(),
            protocol,
            ..ModelSpec::default()
        }
    }
}

/// Everything the mock server does. See `assets/scenario.example.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Seeds the answer text, the jitter and the fault dice.
    pub seed: u64,
    /// When set, requests must carry it (`Authorization: Bearer` / `x-api-key` / `x-goog-api-key`).
    pub api_key: Option<String>,
    /// Length of the rolling rate-limit window in seconds (60 like real providers; shorter in tests).
    pub window_secs: f64,
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

impl Default for Scenario {
    fn default() -> Self {
        let limited = |mut m: ModelSpec, rpm: u64, tpm: u64| {
            m.requests_per_window = Some(rpm);
            m.tokens_per_window = Some(tpm);
            m
        };
        Scenario {
            seed: 0,
            api_key: None,
            window_secs: 60.0,
            models: vec![
                limited(
                    ModelSpec {
                        ttft_ms: 250,
                        tokens_per_sec: 70.0,
                        ..ModelSpec::new("gpt-4o-mini", Serves::OpenAi)
                    },
                    500,
                    200_000,
                ),
                limited(
                    ModelSpec {
                        ttft_ms: 450,
                        tokens_per_sec: 50.0,
                        context_window: 200_000,
                        ..ModelSpec::new("claude-3-5-haiku-latest", Serves::Anthropic)
                    },
                    50,
                    50_000,
                ),
                limited(
                    ModelSpec {
                        ttft_ms: 350,
                        tokens_per_sec: 90.0,
                        context_window: 1_048_576,
                        ..ModelSpec::new("gemini-2.5-flash", Serves::Gemini)
                    },
                    1000,
                    1_000_000,
                ),
                ModelSpec {
                    ttft_ms: 20,
                    tokens_per_sec: 0.0,
                    jitter: 0.0,
                    ..ModelSpec::new("mock-fast", Serves::Both)
                },
            ],
        }
    }
}

impl Scenario {
    /// Parse and validate; the error is one sentence naming the problem and where it is.
    pub fn from_toml_str(s: &str) -> Result<Self, String> {
        let scenario: Scenario = toml::from_str(s).map_err(|e| {
            let msg = e.message().trim().trim_end_matches('.').replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let (line, col) = line_col(s, span.start);
                    format!("scenario: {msg} at line {line}, column {col}.")
                }
                None => format!("scenario: {msg}."),
            }
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read scenario file {}: {e}.", path.display()))?;
        Self::from_toml_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.window_secs.is_finite() && self.window_secs > 0.0) {
            return Err("scenario: window_secs must be a positive number of seconds.".into());
        }
        if self.models.is_empty() {
            return Err("scenario: no [[model]] is defined; add at least one.".into());
        }
        for (i, m) in self.models.iter().enumerate() {
            if m.name.trim().is_empty() {
                return Err(format!(
                    "scenario: model #{} has no name; set name = \"...\".",
                    i + 1
                ));
            }
            if self.models[..i].iter().any(|o| o.name == m.name) {
                return Err(format!("scenario: model \"{}\" is defined twice.", m.name));
            }
            let name = &m.name;
            if !(0.0..=1.0).contains(&m.jitter) {
                return Err(format!(
                    "scenario: model \"{name}\": jitter must be between 0 and 1."
                ));
            }
            if !(m.tokens_per_sec.is_finite() && m.tokens_per_sec >= 0.0) {
                return Err(format!(
                    "scenario: model \"{name}\": tokens_per_sec must be 0 or more."
                ));
            }
            let speed_ok = |v: f64| v.is_finite() && v >= 0.0;
            if !m.thinking_tokens_per_sec.is_none_or(speed_ok) {
                return Err(format!(
                    "scenario: model \"{name}\": thinking_tokens_per_sec must be 0 or more."
                ));
            }
            if !(1..=MAX_THINKING_TOKENS).contains(&m.thinking_tokens) {
                return Err(format!(
                    "scenario: model \"{name}\": thinking_tokens must be from 1 to {MAX_THINKING_TOKENS}."
                ));
            }
            if m.min_answer_tokens == 0 || m.min_answer_tokens > m.max_answer_tokens {
                return Err(format!(
                    "scenario: model \"{name}\": need 1 <= min_answer_tokens <= max_answer_tokens."
                ));
            }
            for f in &m.faults {
                if !(0.0..=1.0).contains(&f.probability) {
                    return Err(format!(
                        "scenario: model \"{name}\": fault probability must be between 0 and 1."
                    ));
                }
                if f.on_request.contains(&0) {
                    return Err(format!(
                        "scenario: model \"{name}\": on_request counts from 1, not 0."
                    ));
                }
                if f.kind == FaultKind::ServerError && ![500, 502, 503].contains(&f.status) {
                    return Err(format!(
                        "scenario: model \"{name}\": server_error status must be 500, 502 or 503."
                    ));
                }
                if !(f.retry_after_secs.is_finite() && f.retry_after_secs >= 0.0) {
                    return Err(format!(
                        "scenario: model \"{name}\": retry_after_secs must be 0 or more."
                    ));
                }
            }
        }
        Ok(())
    }
}

fn line_col(s: &str, offset: usize) -> (usize, usize) {
    let before = s.get(..offset).unwrap_or(s);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_covers_every_fault() {
        let text = include_str!("../../assets/scenario.example.toml");
        let s = Scenario::from_toml_str(text).unwrap();
        assert_eq!(s.api_key.as_deref(), Some("sk-mock-123"));
        let kinds: Vec<FaultKind> = s
            .models
            .iter()
            .flat_map(|m| m.faults.iter().map(|f| f.kind))
            .collect();
        for k in [
            FaultKind::RateLimit,
            FaultKind::InsufficientQuota,
            FaultKind::ServerError,
            FaultKind::Overloaded,
            FaultKind::Unauthorized,
            FaultKind::ContextTooLong,
            FaultKind::Reset,
            FaultKind::SlowFirstByte,
            FaultKind::Drop,
            FaultKind::Stall,
            FaultKind::Malformed,
            FaultKind::HugeEvent,
            FaultKind::StreamError,
        ] {
            assert!(kinds.contains(&k), "example lacks {k:?}");
        }
    }

    #[test]
    fn small_file_gets_defaults() {
        let s = Scenario::from_toml_str(
            "seed = 9\n[[model]]\nname = \"m\"\nprotocol = \"anthropic\"\n[[model.fault]]\nkind = \"drop\"\non_request = [2]\n",
        )
        .unwrap();
        assert_eq!(s.seed, 9);
        assert_eq!(s.window_secs, 60.0);
        let m = &s.models[0];
        assert_eq!(
            (m.protocol, m.ttft_ms, m.max_answer_tokens),
            (Serves::Anthropic, 200, 250)
        );
        assert_eq!(m.faults[0].after_tokens, 10);
        assert_eq!(m.faults[0].on_request, vec![2]);
        // Without [[model]] the default set is served.
        assert!(Scenario::from_toml_str("seed = 1")
            .unwrap()
            .model("gpt-4o-mini")
            .is_some());
    }

    #[test]
    fn thinking_and_cache_keys_have_defaults_and_are_checked() {
        let m = &Scenario::from_toml_str("[[model]]\nname = \"m\"\n")
            .unwrap()
            .models[0];
        assert_eq!(
            (m.thinks, m.thinking_tokens, m.thinking_tokens_per_sec),
            (false, 96, None)
        );
        assert!(m.thinking_signature && !m.redacted_thinking);
        assert_eq!((m.cache_read_tokens, m.cache_write_tokens), (0, 0));
        let text = include_str!("../../assets/scenario.example.toml");
        let s = Scenario::from_toml_str(text).unwrap();
        let r = s.model("deepseek-r1-mock").unwrap();
        assert!(r.thinks && r.redacted_thinking && r.cache_read_tokens > 0);
        for (line, words) in [
            (
                "thinking_tokens = 0",
                "thinking_tokens must be from 1 to 100000",
            ),
            (
                "thinking_tokens_per_sec = -1.0",
                "thinking_tokens_per_sec must be 0 or more",
            ),
        ] {
            let e =
                Scenario::from_toml_str(&format!("[[model]]\nname = \"m\"\n{line}\n")).unwrap_err();
            assert!(e.contains(words), "{e}");
        }
    }

    #[test]
    fn serves_names_each_family_and_old_values_keep_their_meaning() {
        let serves = |v: &str| {
            Scenario::from_toml_str(&format!("[[model]]\nname = \"m\"\nprotocol = \"{v}\"\n"))
                .unwrap()
                .models[0]
                .protocol
        };
        let families = [
            Family::OpenAi,
            Family::Responses,
            Family::Anthropic,
            Family::Gemini,
        ];
        let allowed = |s: Serves| families.map(|f| s.allows(f));
        assert_eq!(allowed(serves("openai")), [true, true, false, false]);
        assert_eq!(
            allowed(serves("openai-responses")),
            [false, true, false, false]
        );
        assert_eq!(serves("responses"), Serves::OpenAiResponses);
        assert_eq!(allowed(serves("anthropic")), [false, false, true, false]);
        assert_eq!(allowed(serves("gemini")), [false, false, false, true]);
        for any in ["both", "any", "all"] {
            assert_eq!(allowed(serves(any)), [true; 4], "{any}");
        }
    }

    #[test]
    fn bad_files_give_one_sentence_naming_the_problem() {
        let e =
            Scenario::from_toml_str("seed = 1\n[[model]]\nname = \"m\"\nprotocl = \"openai\"\n")
                .unwrap_err();
        assert!(e.contains("protocl") && e.contains("line 4"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = Scenario::from_toml_str(
            "[[model]]\nname = \"m\"\n[[model.fault]]\nkind = \"explode\"\n",
        )
        .unwrap_err();
        assert!(e.contains("explode") && e.contains("line 4"), "{e}");
        let e = Scenario::from_toml_str("[[model]]\nname = \"m\"\njitter = 2.0\n").unwrap_err();
        assert_eq!(e, "scenario: model \"m\": jitter must be between 0 and 1.");
        let e = Scenario::from_toml_str("[[model]]\nname = \"m\"\n[[model]]\nname = \"m\"\n")
            .unwrap_err();
        assert!(e.contains("defined twice"), "{e}");
        let e = Scenario::from_toml_str(
            "[[model]]\nname=\"m\"\n[[model.fault]]\nkind=\"server_error\"\nstatus=418\n",
        )
        .unwrap_err();
        assert!(e.contains("500, 502 or 503"), "{e}");
        let e = Scenario::load(Path::new("/nonexistent/scenario.toml")).unwrap_err();
        assert!(
            e.starts_with("cannot read scenario file /nonexistent/scenario.toml"),
            "{e}"
        );
    }
}
