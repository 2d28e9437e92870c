//! The headless commands and what they share: loading the workspace and picking providers.

pub mod ask;
pub mod bench;
pub mod init;
pub mod models;
pub mod providers;
pub mod race;
pub mod sessions;
pub mod table;

use std::io::Read;

use crate::cli::{Global, RequestArgs};
use crate::config::{self, Config, ProviderConfig};
use crate::provider::{ChatRequest, Message};
use crate::requestlog::RequestLog;

/// Exit codes: 0 success, 1 a request failed, 2 bad usage or configuration.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// A command's failure: one sentence for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_FAILED,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::usage(message)
    }
}

/// The config, plus the in-process simulated server when running the demo.
pub struct Workspace {
    pub config: Config,
    pub request_log: RequestLog,
    pub demo: bool,
    _server: Option<crate::mock::MockServer>,
}

impl Workspace {
    /// Load the config; with `demo`, start the simulated server and use its providers instead.
    pub async fn open(global: &Global, demo: bool) -> Result<Self, Failure> {
        let request_log = RequestLog::default_location();
        if demo {
            return Self::demo(request_log).await;
        }
        let config = config::load(global.config.as_deref())?;
        Ok(Self {
            config,
            request_log,
            demo: false,
            _server: None,
        })
    }

    async fn demo(request_log: RequestLog) -> Result<Self, Failure> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server = crate::mock::MockServer::start(addr, crate::mock::demo::scenario())
            .await
            .map_err(|e| {
                Failure::failed(format!(
                    "could not start the simulated server on 127.0.0.1 ({e})."
                ))
            })?;
        let config = Config {
            providers: crate::mock::demo::providers(&server),
            ..Config::default()
        };
        Ok(Self {
            config,
            request_log,
            demo: true,
            _server: Some(server),
        })
    }

    /// The named provider (`NAME` or `NAME:MODEL`, see [`Config::select`]), or the first one
    /// with a key.
    pub fn pick_one(&self, name: Option<&str>) -> Result<ProviderConfig, Failure> {
        match name {
            Some(name) => self.config.select(name).ok_or_else(|| self.unknown(name)),
            None => self
                .config
                .providers
                .iter()
                .find(|p| p.has_key())
                .cloned()
                .ok_or_else(|| Failure::usage(no_key_sentence())),
        }
    }

    /// The named providers (each `NAME` or `NAME:MODEL`), or every provider with a key.
    pub fn pick_many(&self, names: &[String]) -> Result<Vec<ProviderConfig>, Failure> {
        if names.is_empty() {
            let all: Vec<_> = self
                .config
                .providers
                .iter()
                .filter(|p| p.has_key())
                .cloned()
                .collect();
            if all.is_empty() {
                return Err(Failure::usage(no_key_sentence()));
            }
            return Ok(all);
        }
        let picked: Vec<ProviderConfig> = names
            .iter()
            .map(|n| self.config.select(n).ok_or_else(|| self.unknown(n)))
            .collect::<Result<_, _>>()?;
        // Two panes or rows with one name could not be told apart (nor their metrics).
        for (i, p) in picked.iter().enumerate() {
            if picked[..i].iter().any(|q| q.name == p.name) {
                return Err(Failure::usage(format!(
                    "\"{}\" is named twice in -p; name each provider once.",
                    p.name
                )));
            }
        }
        Ok(picked)
    }

    /// The TUI's panes: every provider with a key, and every provider the config file names
    /// even without one (its pane says how to fix it; a built-in one without a key is left out).
    /// `None` when there is nothing to show but the demo.
    pub fn pick_for_tui(&self, names: &[String]) -> Result<Option<Vec<ProviderConfig>>, Failure> {
        if !names.is_empty() {
            return self.pick_many(names).map(Some);
        }
        let shown: Vec<_> = self
            .config
            .providers
            .iter()
            .filter(|p| p.has_key() || !p.builtin)
            .cloned()
            .collect();
        Ok((!shown.is_empty()).then_some(shown))
    }

    fn unknown(&self, name: &str) -> Failure {
        let name = crate::sanitize::clean_line(name);
        let hint = match name.split_once(':') {
            Some((base, model))
                if self.config.provider(base).is_some() && model.trim().is_empty() =>
            {
                format!("\"{name}\" names no model after the colon")
            }
            _ => format!("no provider named \"{name}\""),
        };
        Failure::usage(format!(
            "{hint}; configured: {} (NAME or NAME:MODEL, see `paddock providers`).",
            self.config.names().join(", ")
        ))
    }
}

fn no_key_sentence() -> String {
    "no provider has an API key: set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY (or add a provider to the config), \
     or try the simulated providers with --demo."
        .to_owned()
}

/// The prompt from the arguments, or stdin when absent or '-'.
pub fn read_prompt(words: &[String]) -> Result<String, Failure> {
    let dash = words.len() == 1 && words[0] == "-";
    let piped = !std::io::IsTerminal::is_terminal(&std::io::stdin());
    // Nothing piped in: waiting on the keyboard would look like a hang.
    if words.is_empty() && !piped {
        return Err(Failure::usage(
            "no prompt: pass it as an argument, or pipe it on stdin (use - to type it).",
        ));
    }
    let stdin = if words.is_empty() || dash || piped {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("could not read the prompt from stdin ({e}).")))?;
        text
    } else {
        String::new()
    };
    let prompt = join_prompt(&stdin, if dash { &[] } else { words });
    if prompt.trim().is_empty() {
        return Err(Failure::usage(
            "the prompt is empty: pass it as an argument or on stdin.",
        ));
    }
    Ok(prompt)
}

/// What is piped in comes first, then the words (`cat notes | paddock ask "summarise this"`),
/// as llm does; either alone is the prompt as it is.
fn join_prompt(stdin: &str, words: &[String]) -> String {
    let words = words.join(" ");
    match (stdin.trim().is_empty(), words.is_empty()) {
        (true, _) => words,
        (false, true) => stdin.to_owned(),
        (false, false) => format!("{}\n\n{words}", stdin.trim_end()),
    }
}

/// One sentence when a flag asks for what `provider`'s API refuses (said before anything is read
/// or sent, the same check the TUI's `/temp` makes).
pub fn check_request_flags(provider: &ProviderConfig, args: &RequestArgs) -> Result<(), Failure> {
    if let Some(t) = args.temperature {
        provider
            .protocol
            .check_temperature(t)
            .map_err(|e| Failure::usage(format!("--temperature for \"{}\": {e}", provider.name)))?;
    }
    Ok(())
}

/// A one-turn request for `provider`, with command-line overrides.
pub fn build_request(provider: &ProviderConfig, args: &RequestArgs, prompt: &str) -> ChatRequest {
    ChatRequest {
        model: args.model.clone().unwrap_or_else(|| provider.model.clone()),
        system: args.system.clone().or_else(|| provider.system.clone()),
        messages: vec![Message::user(prompt)],
        temperature: args.temperature.or(provider.temperature),
        max_tokens: args.max_tokens.or(provider.max_tokens),
        stream: true,
    }
}

/// Which request settings the flags set now (they win over a resumed session's).
pub fn explicit_settings(args: &RequestArgs) -> crate::session::Explicit {
    crate::session::Explicit {
        model: args.model.is_some(),
        system: args.system.is_some(),
        temperature: args.temperature.is_some(),
        max_tokens: args.max_tokens.is_some(),
    }
}

/// "retry 1/2 in 2.0s after rate_limit (Retry-After): message" — one line per retry.
pub fn retry_line(
    provider: &str,
    decision: &crate::retry::RetryDecision,
    error: &crate::provider::ApiError,
) -> String {
    let status = error
        .status
        .map(|s| format!(" HTTP {s}"))
        .unwrap_or_default();
    format!(
        "{provider}: retry {}/{} in {:.1}s after {}{status} ({}): {}",
        decision.retry,
        decision.max_retries,
        decision.wait.as_secs_f64(),
        error.kind,
        decision.source,
        crate::provider::error::one_line(&crate::sanitize::clean_line(&error.message))
    )
}
