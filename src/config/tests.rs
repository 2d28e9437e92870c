//! Tests of config parsing, its error sentences, key sources and prices.

use super::*;

const FULL: &str = r#"
[[provider]]
name = "local"
kind = "openai"
model = "llama3"
base_url = "http://127.0.0.1:8080/v1"
requests_per_minute = 10
tokens_per_minute = 5000
max_retries = 4
temperature = 0.2
max_tokens = 256
max_tokens_field = "max_completion_tokens"
system = "Be brief."
read_timeout_secs = 5

[[provider]]
name = "claude"
kind = "anthropic"
model = "claude-x"
api_key_cmd = "printf key"
"#;

#[test]
fn a_full_config_parses_with_defaults_filled() {
    let c = parse_str(FULL).unwrap();
    assert_eq!(c.names(), ["local", "claude"]);
    let local = c.provider("local").unwrap();
    assert_eq!(local.protocol, Protocol::OpenAi);
    assert_eq!(
        (local.requests_per_minute, local.tokens_per_minute),
        (Some(10), Some(5000))
    );
    assert_eq!(local.max_retries, 4);
    assert_eq!(local.max_tokens_field, MaxTokensField::MaxCompletionTokens);
    assert_eq!(local.read_timeout, Duration::from_secs(5));
    assert_eq!(local.key_source, KeySource::None);
    let claude = c.provider("claude").unwrap();
    assert_eq!(claude.base_url, ANTHROPIC_DEFAULT_BASE);
    assert_eq!(claude.key_source, KeySource::Command("printf key".into()));
    use secrecy::ExposeSecret;
    assert_eq!(
        claude.resolve_key().unwrap().unwrap().expose_secret(),
        "key"
    );
}

#[test]
fn bad_configs_get_one_sentence() {
    let cases = [
        (
            "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\nmodle = \"x\"\n",
            "line 5: unknown key `modle` in [[provider]]; did you mean `model`?",
        ),
        (
            "[[provider]]\nname = \"a\"\nkind = \"palm\"\nmodel = \"m\"\n",
            "unknown variant `palm`, expected one of `openai`, `anthropic`, `openai-responses`, `gemini`",
        ),
        ("[[provider]]\nname = \"a\"\nkind = \"openai\"\n", "missing field `model`"),
        (
            "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n",
            "line 6: provider name \"a\" is used twice",
        ),
        (
            "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"localhost:1\"\n",
            "must start with http:// or https://",
        ),
        (
            "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\napi_key_env = \"A\"\napi_key_cmd = \"b\"\n",
            "set only one of api_key_env, api_key_cmd and api_key",
        ),
        ("[[provider]\nname = ", "line 1: unclosed array table"),
        ("[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = 3\n", "line 4: invalid type"),
    ];
    for (text, want) in cases {
        let err = parse_str(text).unwrap_err();
        assert!(err.contains(want), "{err:?} should mention {want:?}");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    }
}

#[test]
fn a_missing_explicit_file_names_the_path() {
    let err = load(Some(Path::new("/nonexistent/paddock.toml"))).unwrap_err();
    assert!(
        err.starts_with("cannot read config file /nonexistent/paddock.toml"),
        "{err}"
    );
}

#[test]
fn a_failing_key_command_says_what_to_do() {
    let mut p = ProviderConfig::new("x", Protocol::OpenAi, "m", OPENAI_DEFAULT_BASE);
    p.key_source = KeySource::Command("exit 3".into());
    let err = p.resolve_key().unwrap_err();
    assert!(err.starts_with("x: api_key_cmd exited with"), "{err}");
    p.key_source = KeySource::Command("true".into());
    assert_eq!(
        p.resolve_key().unwrap_err(),
        "x: api_key_cmd printed nothing; it must print the key on stdout."
    );
}

/// The whole sentence, exactly, for the mistakes users make most.
#[test]
fn config_errors_are_pinned() {
    let p = "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n";
    let cases = [
        (
            format!("{p}modle = \"x\"\n"),
            "line 5: unknown key `modle` in [[provider]]; did you mean `model`?",
        ),
        (
            format!("{p}api_key_evn = \"X\"\n"),
            "line 5: unknown key `api_key_evn` in [[provider]]; did you mean `api_key_env`?",
        ),
        (
            format!("{p}requests_per_min = 5\n"),
            "line 5: unknown key `requests_per_min` in [[provider]]; did you mean `requests_per_minute`?",
        ),
        (
            "[[providers]]\nname = \"a\"\n".to_owned(),
            "line 1: unknown key `providers` at the top level; did you mean `provider`?",
        ),
        (
            format!("{p}colour = \"red\"\n"),
            "line 5: unknown key `colour` in [[provider]]; known keys: name, kind, model, base_url, \
             api_key_env, api_key_cmd, api_key, requests_per_minute, tokens_per_minute, max_retries, \
             temperature, max_tokens, max_tokens_field, context_window, system, connect_timeout_secs, read_timeout_secs, first_token_timeout_secs, api_key_cmd_timeout_secs, \
             max_event_bytes, max_body_bytes, max_answer_bytes, reasoning_effort, thinking, \
             extra_body, extra_headers, send_reasoning, budget \
             (see config.example.toml).",
        ),
        (
            "[prices.\"gpt-4o\"]\ninput = 2.5\noutptu = 10\n".to_owned(),
            "line 3: unknown key `outptu` in [prices.\"gpt-4o\"]; did you mean `output`?",
        ),
        (
            "[prices.\"gpt-4o\"]\ninput = -1\noutput = 10\n".to_owned(),
            "prices.\"gpt-4o\": input and output must be numbers from 0 to 1000000 (US dollars per million tokens).",
        ),
        (
            format!("{p}base_url = \"localhost:1\"\n"),
            "line 5: provider \"a\": base_url \"localhost:1\" must start with http:// or https://.",
        ),
        (
            format!("\n{p}api_key_env = \"A\"\napi_key_cmd = \"b\"\n"),
            "line 3: provider \"a\": set only one of api_key_env, api_key_cmd and api_key.",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_str(&text).unwrap_err(), want, "for {text:?}");
    }
}

#[test]
fn file_errors_name_the_file_and_leave_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let bytes = b"[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodle = \"m\"\n";
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(
        load(Some(&path)).unwrap_err(),
        format!(
            "config file {}: line 4: unknown key `modle` in [[provider]]; did you mean `model`?",
            path.display()
        )
    );
    // Truncated mid-table.
    let cut = b"[[provider]]\nname = \"a";
    std::fs::write(&path, cut).unwrap();
    let err = load(Some(&path)).unwrap_err();
    assert!(
        err.starts_with(&format!("config file {}: line 2: ", path.display())),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    assert_eq!(std::fs::read(&path).unwrap(), cut);
}

#[test]
fn did_you_mean_picks_close_keys_only() {
    assert_eq!(edit_distance("modle", "model"), 1);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    let known = ["name", "kind", "model", "base_url"];
    assert_eq!(did_you_mean("Model", &known), Some("model"));
    assert_eq!(did_you_mean("baseurl", &known), Some("base_url"));
    assert_eq!(did_you_mean("knd", &known), Some("kind"));
    assert_eq!(did_you_mean("colour", &known), None);
}

#[cfg(unix)]
#[test]
fn an_inline_key_in_a_readable_file_draws_one_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\napi_key = \"sk-x\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = load(Some(&path)).unwrap();
    assert_eq!(
        c.warnings,
        [format!(
            "config file {p} holds an inline api_key (provider a) and other users can read it (mode 644); \
             run `chmod 600 {p}` or use api_key_env / api_key_cmd instead.",
            p = path.display()
        )]
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load(Some(&path)).unwrap().warnings.is_empty());
    // An env-var key in a world-readable file is fine.
    std::fs::write(
        &path,
        "[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\napi_key_env = \"K\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(load(Some(&path)).unwrap().warnings.is_empty());
}

#[test]
fn prices_cost_by_model_with_dated_suffixes() {
    let c = parse_str(
        "[prices.\"gpt-4o\"]\ninput = 2.5\noutput = 10\n[prices.\"gpt-4o-mini\"]\ninput = 0.15\noutput = 0.6\n",
    )
    .unwrap();
    let usage = Usage {
        input_tokens: Some(1_000_000),
        output_tokens: Some(500_000),
        ..Usage::default()
    };
    assert_eq!(c.cost("gpt-4o", &usage), Some(7.5));
    assert_eq!(c.cost("gpt-4o-2024-08-06", &usage), Some(7.5));
    let mini = c.cost("gpt-4o-mini-2024-07-18", &usage).unwrap();
    assert!((mini - 0.45).abs() < 1e-9, "{mini}");
    assert_eq!(c.cost("gpt-4o-audio-preview", &usage), None);
    assert_eq!(c.cost("gpt-4o-latest", &usage), Some(7.5));
    assert_eq!(c.cost("unknown", &usage), None);
    assert_eq!(c.cost("gpt-4o", &Usage::default()), None);
    assert_eq!(format_cost(7.5), "$7.50");
    assert_eq!(format_cost(0.00123), "$0.0012");
    assert_eq!(format_cost(0.0000042), "$0.000004");
    // An answer is priced by the served model, else by the one asked for.
    let p = &c.prices;
    assert_eq!(
        p.answer_cost("gpt-4o-2024-08-06", Some("x"), &usage),
        Some(7.5)
    );
    assert_eq!(
        p.answer_cost("local-alias", Some("gpt-4o"), &usage),
        Some(7.5)
    );
    assert_eq!(p.answer_cost("local-alias", None, &usage), None);
}

#[test]
fn the_example_config_parses() {
    let text = include_str!("../../config.example.toml");
    let c = parse_str(text).unwrap();
    assert!(c.provider("openai").is_some() && c.provider("anthropic").is_some());
    assert!(c.prices.get("gpt-4o-mini").is_some());
}

/// `send_reasoning` is a Chat Completions setting, off unless set; elsewhere it is one sentence.
#[test]
fn send_reasoning_is_for_openai_compatible_servers_and_off_by_default() {
    let provider = |kind: &str, line: &str| {
        format!("[[provider]]\nname = \"p\"\nkind = \"{kind}\"\nmodel = \"m\"\n{line}")
    };
    let on = parse_str(&provider("openai", "send_reasoning = true\n")).unwrap();
    assert!(on.providers[0].extras.send_reasoning);
    let off = parse_str(&provider("openai", "")).unwrap();
    assert!(!off.providers[0].extras.send_reasoning);
    assert!(
        !ProviderConfig::new("x", Protocol::OpenAi, "m", "http://h")
            .extras
            .send_reasoning
    );
    let e = parse_str(&provider("anthropic", "send_reasoning = true\n")).unwrap_err();
    assert_eq!(
        e,
        "line 5: provider \"p\": send_reasoning is for kind = \"openai\" (Chat Completions servers); on the Anthropic API paddock sends back what it needs by itself."
    );
    let e = parse_str(&provider("openai", "send_reasoning = \"yes\"\n")).unwrap_err();
    assert!(e.starts_with("line 5: ") && !e.contains('\n'), "{e}");
}

#[test]
fn responses_and_gemini_kinds_get_their_vendor_defaults() {
    let cfg = parse_str(
        "[[provider]]\nname = \"r\"\nkind = \"openai-responses\"\nmodel = \"gpt-5-mini\"\n\
         [[provider]]\nname = \"g\"\nkind = \"gemini\"\nmodel = \"gemini-2.5-flash\"\n\
         thinking = { type = \"enabled\", budget_tokens = 512 }\n",
    )
    .unwrap();
    let (r, g) = (&cfg.providers[0], &cfg.providers[1]);
    assert_eq!(r.protocol, Protocol::OpenAiResponses);
    assert_eq!(r.base_url, "https://api.openai.com/v1");
    assert_eq!(g.protocol, Protocol::Gemini);
    assert_eq!(g.base_url, "https://generativelanguage.googleapis.com");
    assert_eq!(g.extras.thinking_budget, Some(512));
}

#[test]
fn limits_and_budgets_parse_and_their_mistakes_are_one_sentence() {
    let ok = r#"
[limits]
store = "redis://127.0.0.1:6379/0"
on_store_error = "fail"
window_secs = 3

[[provider]]
name = "o"
kind = "openai"
model = "m"
budget = "team-openai"
"#;
    let c = parse_str(ok).unwrap();
    assert_eq!(c.limits.store.as_deref(), Some("redis://127.0.0.1:6379/0"));
    assert_eq!(c.limits.on_store_error, OnStoreError::Fail);
    assert_eq!(c.limits.window, Duration::from_secs(3));
    assert_eq!(c.providers[0].budget.as_deref(), Some("team-openai"));
    assert_eq!(parse_str("").unwrap().limits, LimitsConfig::default());

    let err = |text: &str| parse_str(text).unwrap_err();
    assert_eq!(
        err("[limits]\nstore = \"http://x\"\n"),
        "line 2: limits.store must be a redis:// URL such as \"redis://127.0.0.1:6379/0\"."
    );
    assert_eq!(
        err("[limits]\non_store_error = \"retry\"\n"),
        "line 2: limits.on_store_error = \"retry\" must be \"local\" or \"fail\"."
    );
    assert_eq!(
        err("[limits]\nwindow_secs = 0\n"),
        "line 2: limits.window_secs = 0 is out of range; use a number of seconds from 0.1 to 86400."
    );
    let bad_budget =
        "[[provider]]\nname = \"o\"\nkind = \"openai\"\nmodel = \"m\"\nbudget = \"a b\"\n";
    assert_eq!(
        err(bad_budget),
        "line 5: provider \"o\": budget \"a b\" must be 1 to 64 letters, digits, '-', '_' or '.'."
    );
}

#[test]
fn provider_model_selects_a_model_of_a_configured_provider() {
    let c = parse_str(
        "[[provider]]\nname = \"ollama\"\nkind = \"openai\"\nmodel = \"llama3\"\nbase_url = \"http://127.0.0.1:11434/v1\"\ncontext_window = 8192\n\n\
         [[provider]]\nname = \"odd:name\"\nkind = \"openai\"\nmodel = \"x\"\n",
    )
    .unwrap();
    let p = c.select("ollama:qwen3:8b").unwrap();
    assert_eq!(
        (p.name.as_str(), p.model.as_str()),
        ("ollama:qwen3:8b", "qwen3:8b")
    );
    assert_eq!(p.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(p.context_window, Some(8192));
    assert_eq!(c.select("ollama").unwrap().model, "llama3");
    // A configured name with a colon is found as it is.
    assert_eq!(c.select("odd:name").unwrap().model, "x");
    for missing in ["nosuch", "nosuch:m", "ollama:", "ollama:  ", ":m"] {
        assert!(c.select(missing).is_none(), "{missing}");
    }
    assert_eq!(
        parse_str(
            "[[provider]]\nname = \"o\"\nkind = \"openai\"\nmodel = \"m\"\ncontext_window = 0\n"
        )
        .unwrap()
        .providers[0]
            .context_window,
        None
    );
}
