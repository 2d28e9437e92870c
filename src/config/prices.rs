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
    /// Input tokens read from the prompt cache; the input price when absent.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Input tokens written to the prompt cache (Anthropic); the input price when absent.
    #[serde(default)]
    pub cache_write: Option<f64>,
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
        let read = usage.cache_read_input_tokens;
        // OpenAI counts cached tokens inside prompt_tokens; Anthropic reports them apart.
        let fresh = match (usage.input_tokens, read) {
            (Some(i), Some(r)) if usage.cache_read_in_input => Some(i.saturating_sub(r)),
            (i, _) => i,
        };
        Some(
            tokens(fresh) * price.input
                + tokens(read) * price.cached_input.unwrap_or(price.input)
                + tokens(usage.cache_creation_input_tokens) * price.cache_write.unwrap_or(price.input)
                // Reasoning tokens are billed as output, counted once whichever way the
                // protocol reports them.
                + tokens(usage.generated_tokens()) * price.output,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn priced() -> Prices {
        Prices(BTreeMap::from([(
            "m".to_owned(),
            Price {
                input: 3.0,
                output: 15.0,
                cached_input: Some(0.3),
                cache_write: Some(3.75),
            },
        )]))
    }

    #[test]
    fn cache_reads_and_writes_are_billed_at_their_own_prices_once() {
        // Anthropic: input_tokens leave the cache reads and writes out.
        let anthropic = Usage {
            input_tokens: Some(1_000_000),
            output_tokens: Some(1_000_000),
            cache_read_input_tokens: Some(2_000_000),
            cache_creation_input_tokens: Some(1_000_000),
            ..Usage::default()
        };
        let cost = priced().cost("m", &anthropic).unwrap();
        assert!((cost - (3.0 + 0.6 + 3.75 + 15.0)).abs() < 1e-9, "{cost}");
        // OpenAI: prompt_tokens include the cached ones, which are billed once, at the cached price.
        let openai = Usage {
            input_tokens: Some(3_000_000),
            output_tokens: Some(1_000_000),
            cache_read_input_tokens: Some(2_000_000),
            reasoning_tokens: Some(500_000),
            cache_read_in_input: true,
            ..Usage::default()
        };
        let cost = priced().cost("m", &openai).unwrap();
        assert!(
            (cost - (3.0 + 0.6 + 15.0)).abs() < 1e-9,
            "reasoning is inside output: {cost}"
        );
    }

    #[test]
    fn without_cache_prices_cache_tokens_cost_the_input_price() {
        let p = Prices(BTreeMap::from([(
            "m".to_owned(),
            Price {
                input: 1.0,
                output: 2.0,
                cached_input: None,
                cache_write: None,
            },
        )]));
        let u = Usage {
            input_tokens: Some(1_000_000),
            cache_read_input_tokens: Some(1_000_000),
            ..Usage::default()
        };
        assert_eq!(p.cost("m", &u), Some(2.0));
    }
}
