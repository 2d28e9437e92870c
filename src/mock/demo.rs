//! The built-in demo: four simulated providers, one per wire protocol, served by an in-process mock, no keys needed.

use crate::config::ProviderConfig;
use crate::provider::Protocol;

use super::scenario::{FaultKind, FaultSpec, ModelSpec, RetryAfterForm, Scenario, Serves};
use super::MockServer;

pub const OPENAI_MODEL: &str = "sim-gpt-fast";
pub const ANTHROPIC_MODEL: &str = "sim-claude";
pub const GEMINI_MODEL: &str = "sim-gemini-flash";
pub const TIGHT_MODEL: &str = "sim-gpt-tight";

/// Fast Chat Completions, steadier Anthropic Messages, a thinking Gemini, and a slow Responses API
/// model with tight limits and a scripted 429: every protocol paddock speaks, racing at once.
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
                requests_per_window: Some(60),
                tokens_per_window: Some(100_000),
                context_window: 1_000_000,
                ..model(GEMINI_MODEL, Serves::Gemini, 250, 60.0)
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
    let sim = |name: &str, protocol, model: &str, base_url: String| ProviderConfig {
        simulated: true,
        ..ProviderConfig::new(name, protocol, model, &base_url)
    };
    let fast = sim(
        "sim-openai",
        Protocol::OpenAi,
        OPENAI_MODEL,
        server.base_url_openai(),
    );
    let mut claude = sim(
        "sim-anthropic",
        Protocol::Anthropic,
        ANTHROPIC_MODEL,
        server.base_url_anthropic(),
    );
    claude.max_tokens = Some(400);
    let mut gemini = sim(
        "sim-gemini",
        Protocol::Gemini,
        GEMINI_MODEL,
        server.base_url_gemini(),
    );
    // It thinks before it answers, so the demo shows reasoning streaming apart from the answer.
    gemini.extras.thinking_budget = Some(96);
    // Gemini sends no rate-limit headers: its budget is the config's, as a real user sets it.
    gemini.requests_per_minute = Some(60);
    gemini.tokens_per_minute = Some(100_000);
    let mut tight = sim(
        "sim-tight",
        Protocol::OpenAiResponses,
        TIGHT_MODEL,
        server.base_url_responses(),
    );
    tight.requests_per_minute = Some(6);
    tight.tokens_per_minute = Some(6_000);
    tight.max_retries = 3;
    vec![fast, claude, gemini, tight]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::wire::Family;

    #[tokio::test]
    async fn demo_providers_point_at_models_the_scenario_serves() {
        let server = MockServer::start("127.0.0.1:0".parse().unwrap(), scenario())
            .await
            .unwrap();
        let providers = providers(&server);
        for protocol in Protocol::ALL {
            let n = providers.iter().filter(|p| p.protocol == protocol).count();
            assert_eq!(n, 1, "one provider speaks {protocol:?}");
        }
        for p in &providers {
            assert!(p.simulated);
            let m = server.scenario().model(&p.model).unwrap();
            let family = match p.protocol {
                Protocol::OpenAi => Family::OpenAi,
                Protocol::OpenAiResponses => Family::Responses,
                Protocol::Anthropic => Family::Anthropic,
                Protocol::Gemini => Family::Gemini,
            };
            assert!(m.protocol.allows(family), "{} serves {family:?}", m.name);
        }
        let tight = &providers[3];
        assert_eq!(tight.requests_per_minute, Some(6));
        assert_eq!(
            server.scenario().model(TIGHT_MODEL).unwrap().faults[0].on_request,
            vec![2]
        );
    }
}
