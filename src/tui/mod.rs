//! The race workbench: one pane per provider streaming side by side, the prompt, the status bar.
//!
//! Flow in one direction (DESIGN.md §3): terminal and provider events become [`msg::Msg`]s;
//! [`update::update`] turns each into new [`app::App`] state plus [`msg::Command`]s; the loop in
//! [`run::run_loop`] performs the commands; [`ui::render`] draws the state and changes nothing.

mod actions;
pub mod app;
pub mod budget;
pub mod clipboard;
mod effects;
mod events;
mod fence;
mod history;
pub mod keys;
pub mod layout;
mod markdown;
pub mod msg;
pub mod pane;
pub mod picker;
mod prompt;
mod record;
mod resume;
mod run;
mod scroll;
pub mod slash;
mod tasks;
mod terminal;
pub mod ui;
mod unlit;
pub mod update;
mod view;
mod wrap;

use std::io::IsTerminal;
use std::time::Instant;

use crate::client::Client;
use crate::config::{Prices, ProviderConfig};
use crate::session::{self, Session};

use msg::Msg;

/// The most panes the screen holds; further providers are left out (and logged).
pub const MAX_PANES: usize = 6;

/// How the TUI starts, beyond the providers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The providers are the built-in simulated ones.
    pub demo: bool,
    /// Per-model prices, for each answer's cost.
    pub prices: Prices,
    /// Config warnings, shown on the notice line at start.
    pub warnings: Vec<String>,
    /// Reopen this saved session (`"last"`: the newest).
    pub resume: Option<String>,
}

/// Run the TUI on this terminal against `providers` until the user quits.
pub async fn run(mut providers: Vec<ProviderConfig>, options: Options) -> anyhow::Result<()> {
    if providers.is_empty() {
        anyhow::bail!("no provider to race: add one to the config or try --demo.");
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("the TUI needs a terminal; for scripts use `paddock ask` or `paddock race`.");
    }
    if providers.len() > MAX_PANES {
        tracing::warn!(
            "tui: {} providers, showing the first {MAX_PANES}",
            providers.len()
        );
        providers.truncate(MAX_PANES);
    }
    // The TUI owns the terminal: a shared store's notices go to the notice line, not stderr.
    crate::ratelimit::notice::hold();
    // Panes of one provider (`-p a:m1,a:m2`) share its limiter, as in `race` and `bench`.
    let built: Vec<Result<Client, String>> = crate::client::build_clients(&providers);
    let unavailable = built.iter().map(|c| c.as_ref().err().cloned()).collect();
    // The race core's record keeps each answer as it streams: the client keeps no second copy.
    let clients = built
        .into_iter()
        .map(|c| {
            c.ok()
                .map(|c| c.with_retain(crate::client::Retain::Figures))
        })
        .collect();
    let dir = session::default_dir();
    let mut first = Vec::new();
    if let Some(id) = &options.resume {
        let Some(dir) = &dir else {
            anyhow::bail!("there is no data directory (HOME is not set), so no session to resume.");
        };
        let session = Session::find(dir, id).map_err(anyhow::Error::msg)?;
        first.push(Msg::SessionLoaded(Ok(Box::new(session))));
    }
    if !options.warnings.is_empty() {
        for w in &options.warnings {
            tracing::warn!("config: {w}");
        }
        first.push(Msg::Notice(format!(
            "warning: {}",
            options.warnings.join(" · warning: ")
        )));
    }
    let mut app = app::App::new(&providers, unavailable, options.demo, Instant::now())
        .with_prices(options.prices);
    if let Some(path) = history::default_file() {
        app.history = history::PromptHistory::with_entries(history::load(&path));
    }
    tokio::task::spawn_blocking(markdown::warm_up);
    let mut guard = terminal::TerminalGuard::enter()?;
    let result = run::run_loop(&mut guard.terminal, app, clients, dir, first).await;
    drop(guard);
    result
}

#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod slash_tests;
#[cfg(test)]
mod update_tests;
