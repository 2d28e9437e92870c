//! The `paddock` binary: parse the CLI, load `.env` and config, set up file logging, dispatch.

use clap::Parser;

use paddock::cli::{Cli, Command};
use paddock::commands::{self, Failure, Workspace};

fn main() {
    // .env first, before the runtime starts threads (setting env vars is not thread-safe).
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let log = paddock::logging::init(cli.global.log_file.as_deref());
    // `bench` drives many streams at once and is CPU-bound under a flood: it gets every core.
    let many = matches!(cli.command, Some(Command::Bench(_)));
    let runtime = match build_runtime(many) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("paddock: cannot start the async runtime ({e}).");
            drop(log);
            std::process::exit(commands::EXIT_FAILED);
        }
    };
    let result = runtime.block_on(dispatch(cli));
    if let Err(failure) = result {
        if !failure.message.is_empty() {
            paddock::sanitize::eprint_line(&format!("paddock: {}", failure.message));
        }
        // `exit` runs no destructors: the log's writer thread would lose what it still holds,
        // often the very lines that say why this failed.
        drop(log);
        std::process::exit(failure.code);
    }
}

/// One thread runs everything but `bench`. Streams are I/O-bound and decoding a chunk takes a
/// couple of microseconds, while waking another thread for every chunk (connection task, stream
/// task, UI) costs far more: on one thread `ask` spends about half the CPU per chunk and the TUI
/// about a third (scripts/measure-ask.sh, scripts/measure-tui.sh). `bench` runs hundreds of
/// streams at once, which one thread cannot keep up with (`many`: a worker per core). Blocking
/// work (session files, key commands) still goes to tokio's blocking pool.
fn build_runtime(many: bool) -> std::io::Result<tokio::runtime::Runtime> {
    if many {
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The workspace for a headless command, its config warnings printed to stderr (one line each).
async fn headless(global: &paddock::cli::Global, demo: bool) -> Result<Workspace, Failure> {
    let ws = Workspace::open(global, demo).await?;
    for warning in &ws.config.warnings {
        paddock::sanitize::eprint_line(&format!("paddock: warning: {warning}"));
    }
    Ok(ws)
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Some(Command::Ask(args)) => {
            let ws = headless(&cli.global, cli.demo).await?;
            commands::ask::run(&ws, &args).await
        }
        Some(Command::Providers) => {
            let ws = headless(&cli.global, cli.demo).await?;
            print!("{}", commands::providers::render(&ws.config));
            Ok(())
        }
        Some(Command::Models(args)) => {
            let ws = headless(&cli.global, cli.demo).await?;
            commands::models::run(&ws, &args).await
        }
        Some(Command::Sessions) => commands::sessions::run_list(),
        Some(Command::Export(args)) => commands::sessions::run_export(&args),
        Some(Command::Init) => commands::init::run(cli.global.config.as_deref()),
        Some(Command::Mock(args)) => paddock::mock::run_cli(args.addr, args.scenario.as_deref())
            .await
            .map_err(|e| Failure::failed(format!("mock server: {e}"))),
        Some(Command::Race(args)) => {
            let ws = headless(&cli.global, cli.demo).await?;
            commands::race::run(&ws, &args).await
        }
        Some(Command::Bench(args)) => {
            let ws = headless(&cli.global, cli.demo).await?;
            commands::bench::run(&ws, &args).await
        }
        None => {
            let mut ws = Workspace::open(&cli.global, cli.demo).await?;
            let mut warnings = ws.config.warnings.clone();
            // `-p NAME:MODEL` resolves here, outside the TUI, as for the headless commands.
            let chosen = ws.pick_for_tui(&cli.providers)?;
            let providers = match chosen {
                Some(providers) => providers,
                None => {
                    // Say so: a newcomer should know these answers are simulated, and why.
                    warnings.push(
                        "no provider has an API key (set OPENAI_API_KEY, ANTHROPIC_API_KEY or \
                         GEMINI_API_KEY, or add one to the config): showing the simulated demo \
                         providers"
                            .to_owned(),
                    );
                    ws = Workspace::open(&cli.global, true).await?;
                    ws.config.providers.clone()
                }
            };
            let options = paddock::tui::Options {
                demo: ws.demo,
                prices: ws.config.prices.clone(),
                warnings,
                resume: cli.resume.clone(),
            };
            paddock::tui::run(providers, options)
                .await
                .map_err(|e| Failure::failed(format!("{e:#}")))
        }
    }
}
