//! Per-model prices from the `[prices]` table, and the cost of a request's usage.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::provider::Usage;

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

    /// The cost of an answer: priced by the model the server named (it may be a dated variant
    /// of the one asked for), else by the model that was asked for.
    pub fn answer_cost(&self, served: &str, asked: Option<&str>, usage: &Usage) -> Option<f64> {
        self.cost(served, usage)
            .or_else(|| self.cost(asked?, usage))
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
