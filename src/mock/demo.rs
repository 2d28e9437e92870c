//! The built-in demo: three simulated providers served by an in-process mock, no keys needed.

use crate::config::ProviderConfig;
use crate::provider::Protocol;

use super::scenario::{FaultKind, FaultSpec, ModelSpec, RetryAfterForm, Scenario, Serves};
use super::MockServer;

pub const OPENAI_MODEL: &str = "sim-gpt-fast";
pub const ANTHROPIC_MODEL: &str = "sim-claude";
pub const TIGHT_MODEL: &str = "sim-gpt-tight";

/// Fast OpenAI-style, steadier Anthropic-style, and a slow one with tight limits and a scripted 429.
pub fn scenario() -> Scenario {
    let mut tight_429 = FaultSpec::new(FaultKind::RateLimit);
    tight_429.on_request = vec![2];
    tight_429.retry_after = RetryAfterForm::Seconds;
    tight_429.retry_after_secs = 2.0;
    let model = |name: &str, serves, ttft_ms, tokens_per_sec| ModelSpec {
        ttft_ms,
        tokens_per_sec,
        jitter: 0.3,
        min_answer_tokens: 80,
        max_answer_tokens: 250,
        ..ModelSpec::new(name, serves)
    };
    Scenario {
        seed: 2024,
        api_key: None,
        window_secs: 60.0,
        models: vec![
            ModelSpec {
                requests_per_window: Some(500),
                tokens_per_window: Some(200_000),
                ..model(OPENAI_MODEL, Serves::OpenAi, 150, 80.0)
            },
            ModelSpec {
                requests_per_window: Some(50),
                tokens_per_window: Some(40_000),
                context_window: 200_000,
                ..model(ANTHROPIC_MODEL, Serves::Anthropic, 400, 45.0)
            },
            ModelSpec {
                requests_per_window: Some(6),
                tokens_per_window: Some(6_000),
                faults: vec![tight_429],
                ..model(TIGHT_MODEL, Serves::OpenAi, 600, 25.0)
            },
        ],
    }
}

/// The providers of the demo, pointing at `server` (which should serve [`scenario`]).
pub fn providers(server: &MockServer) -> Vec<ProviderConfig> {
    let mut fast = ProviderConfig::new(
        "sim-openai",
        Protocol::OpenAi,
        OPENAI_MODEL,
        &server.base_url_openai(),
    );
    fast.simulated = true;
    let mut claude = ProviderConfig::new(
        "sim-anthropic",
        Protocol::Anthropic,
        ANTHROPIC_MODEL,
        &server.base_url_anthropic(),
    );
    claude.simulated = true;
    claude.max_tokens = Some(400);
    let mut tight = ProviderConfig::new(
        "sim-tight",
        Protocol::OpenAi,
        TIGHT_MODEL,
        &server.base_url_openai(),
    );
    tight.simulated = true;
    tight.requests_per_minute = Some(6);
    tight.tokens_per_minute = Some(6_000);
    tight.max_retries = 3;
    vec![fast, claude, tight]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_providers_point_at_models_the_scenario_serves() {
        let server = MockServer::start("127.0.0.1:0".parse().unwrap(), scenario())
            .await
            .unwrap();
        let providers = providers(&server);
        assert_eq!(providers.len(), 3);
        for p in &providers {
            assert!(p.simulated);
            let m = server.scenario().model(&p.model).unwrap();
            match p.protocol {
                Protocol::OpenAi => {
                    assert!(m.protocol != Serves::Anthropic && p.base_url.ends_with("/v1"))
                }
                Protocol::Anthropic => {
                    assert!(m.protocol != Serves::OpenAi && !p.base_url.ends_with("/v1"))
                }
                other => panic!("the demo has no {other:?} provider yet"),
            }
        }
        let tight = &providers[2];
        assert_eq!(tight.requests_per_minute, Some(6));
        assert_eq!(
            server.scenario().model(TIGHT_MODEL).unwrap().faults[0].on_request,
            vec![2]
        );
    }
}
