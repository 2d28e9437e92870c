//! Command-line definitions (clap derive) and nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "paddock",
    version,
    about = "Race LLM providers side by side in the terminal; watch rate limits, retries and latency live.",
    after_help = "With no command, opens the race TUI (the demo when no provider has a key)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub global: Global,
    /// Race the built-in simulated providers (no keys, no network).
    #[arg(long, global = true)]
    pub demo: bool,
    /// Only these providers (comma-separated) in the TUI; each NAME or NAME:MODEL.
    #[arg(short = 'p', long = "providers", value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Reopen a saved session in the TUI: `--resume` for the one last used, `--resume ID` for another.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "last")]
    pub resume: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Config file (default: the platform config dir, e.g. ~/.config/paddock/config.toml).
    #[arg(long, global = true, env = "PADDOCK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Write logs here (default: the platform state dir, paddock.log).
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask one provider; the answer streams to stdout, usage and timing to stderr.
    Ask(AskArgs),
    /// Ask several providers at once and print a comparison table.
    Race(RaceArgs),
    /// Repeated requests with concurrency; latency percentiles and achieved throughput.
    Bench(BenchArgs),
    /// Run the simulated provider server (Chat Completions, Responses, Anthropic and Gemini wire formats).
    Mock(MockArgs),
    /// List configured providers and where each key comes from (never the key).
    Providers,
    /// List the models each provider's server offers (GET /v1/models; Gemini's /v1beta/models).
    Models(ModelsArgs),
    /// List saved sessions (races and conversations), newest first.
    Sessions,
    /// Print a saved session as Markdown (default) or JSON.
    Export(ExportArgs),
    /// Write a commented config file at the platform path (never over an existing one).
    Init,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RequestArgs {
    /// Model to use instead of the provider's configured one.
    #[arg(short = 'm', long)]
    pub model: Option<String>,
    /// System prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Sampling temperature (the provider's default when absent).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Cap on output tokens (Anthropic requires one: 4096 when absent).
    #[arg(long)]
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Provider: NAME (see `paddock providers`) or NAME:MODEL.
    #[arg(short = 'p', long = "provider")]
    pub provider: Option<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    /// Wait for the whole answer (a non-streaming request).
    #[arg(long)]
    pub no_stream: bool,
    /// Print one JSON object when the request ends, success or failure.
    #[arg(long)]
    pub json: bool,
    /// Write the answer byte-exact, control and escape sequences included (by default they are
    /// removed, as the answer may come from anywhere).
    #[arg(long)]
    pub raw: bool,
    /// Continue a saved session: `--resume` for the one last used, `--resume ID` (or
    /// `--resume=ID`) for another. A word after `--resume` that is no id starts the prompt.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "last")]
    pub resume: Option<String>,
    /// Do not save this conversation as a session.
    #[arg(long, env = "PADDOCK_NO_SAVE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_save: bool,
    /// The prompt; '-' or absent reads stdin.
    pub prompt: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RaceArgs {
    /// Providers to race (comma-separated; each NAME or NAME:MODEL, so `-p openai:gpt-4o,openai:gpt-4o-mini`
    /// races two models of one provider); default: every provider with a key.
    #[arg(short = 'p', long = "providers", value_delimiter = ',')]
    pub providers: Vec<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    /// One JSON object per provider, one per line.
    #[arg(long)]
    pub json: bool,
    /// Do not save this race as a session.
    #[arg(long, env = "PADDOCK_NO_SAVE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_save: bool,
    /// The prompt; '-' or absent reads stdin.
    pub prompt: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Providers to benchmark (comma-separated; each NAME or NAME:MODEL); default: every provider
    /// with a key.
    #[arg(short = 'p', long = "providers", value_delimiter = ',')]
    pub providers: Vec<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    /// Requests per provider.
    #[arg(long, default_value_t = 10)]
    pub runs: u32,
    /// Requests in flight at once per provider.
    #[arg(long, default_value_t = 2)]
    pub concurrency: u32,
    /// Read prompts from this file, one per line, used in turn.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Also write results here: .json or .csv by extension.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the report as JSON on stdout (the document `--out FILE.json` writes) instead of
    /// the table.
    #[arg(long)]
    pub json: bool,
    /// The prompt when no --prompt-file is given.
    pub prompt: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Providers to ask (comma-separated, see `paddock providers`); default: every provider
    /// with a key.
    #[arg(
        short = 'p',
        long = "providers",
        visible_alias = "provider",
        value_delimiter = ','
    )]
    pub providers: Vec<String>,
    /// One JSON object per provider, one per line: {"provider", "models", "error"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub addr: SocketAddr,
    /// Scenario file (TOML): models, speeds, limits and scripted faults.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Session id (or a unique prefix; `last` for the newest), see `paddock sessions`.
    pub id: String,
    #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
    pub format: ExportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Md,
    Json,
}

impl AskArgs {
    /// The session to resume and the prompt's words. `--resume ID` takes the next word, so
    /// `--resume "what next?"` would swallow the prompt: a word that is not an id (ids start
    /// with a digit and hold only digits, `a`-`f` and dashes, or are `last`) goes back to it.
    pub fn resume_and_prompt(&self) -> (Option<String>, Vec<String>) {
        // `--resume=WORD` leaves no doubt that WORD is the id.
        let with_equals = std::env::args_os().any(|a| a.to_string_lossy().starts_with("--resume="));
        match &self.resume {
            Some(word) if !with_equals && !looks_like_session_id(word) => {
                let mut prompt = vec![word.clone()];
                prompt.extend(self.prompt.iter().cloned());
                (Some("last".to_owned()), prompt)
            }
            resume => (resume.clone(), self.prompt.clone()),
        }
    }
}

/// `last`, or a session id or its prefix as `paddock sessions` lists them.
pub fn looks_like_session_id(word: &str) -> bool {
    word == "last"
        || (word.starts_with(|c: char| c.is_ascii_digit())
            && word
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-'))
}
