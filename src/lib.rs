//! paddock: a terminal workbench for LLM APIs. The library holds the engine; `main.rs` is the CLI.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod checked;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod mock;
pub mod paths;
pub mod provider;
pub mod race;
pub mod ratelimit;
pub mod requestlog;
pub mod retry;
pub mod sanitize;
pub mod session;
pub mod tui;
