//! A fuzz harness for everything that parses outside bytes: the SSE decoder, both stream
//! decoders, whole-body and error-body parsing, the header parsers, the config and session
//! loaders and the sanitiser. Inputs are random bytes and mutations of real streams, fed in random
//! slices; the only verdict is "no panic" (plus the sanitiser's own invariant).
//!
//! `cargo test` runs a short round; `scripts/fuzz.sh` runs 10 million inputs in release mode
//! (`PADDOCK_FUZZ_INPUTS=N`, `PADDOCK_FUZZ_SEED=S` to reproduce a run).

use std::time::{Instant, SystemTime};

use paddock::provider::sse::SseDecoder;
use paddock::provider::{
    parse_go_duration, retry_after, Endpoint, Limits, MaxTokensField, Protocol,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// xorshift64*: fast, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SEEDS: &[&str] = &[
    "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n",
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bon\"}}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    "data: {\"error\":{\"message\":\"upstream\",\"type\":null,\"code\":\"500\"}}\n\n",
    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    "{\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"content\":\"hello\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":18446744073709551615}}",
    "{\"type\":\"message\",\"model\":\"c\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}",
    "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
    "<html><body>502 Bad Gateway</body></html>",
];

/// Fragments that reach the interesting branches of the parsers.
const TOKENS: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "data: ",
    "data:",
    "event: ",
    ": keep-alive\n",
    "[DONE]",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\u0000",
    "\u{0}",
    "1e999",
    "-1",
    "18446744073709551616",
    "null",
    "\u{feff}",
    "\u{1b}]52;c;",
    "\u{7}",
    "\u{9b}",
    "\u{202e}",
    "\u{ff}",
    "\"choices\":",
    "\"delta\":",
    "\"content\":",
    "\"type\":\"message_delta\"",
    "\"usage\":",
    "\"error\":",
    "NaN",
    "1e308",
];

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(300);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// A seed with a few random edits: token insertions, byte flips, cuts and duplications.
fn mutated(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = rng.pick(SEEDS).as_bytes().to_vec();
    for _ in 0..=rng.below(6) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 => {
                let token = rng.pick(TOKENS).as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            1 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            2 => bytes.truncate(at),
            3 => {
                let end = (at + rng.below(40)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {
                let depth = rng.below(300);
                let nest = "[".repeat(depth);
                bytes.splice(at..at, nest.bytes());
            }
        }
    }
    bytes
}

fn endpoint(protocol: Protocol) -> Endpoint {
    Endpoint {
        protocol,
        base_url: String::new(),
        api_key: None,
        max_tokens_field: MaxTokensField::MaxTokens,
        limits: Limits::default(),
        extras: Default::default(),
    }
}

/// The SSE decoder (with a small bound, so overflow is reached) and a stream decoder, in slices.
fn stream(rng: &mut Rng, input: &[u8], ep: &Endpoint) {
    let mut sse = SseDecoder::with_limit(1 + rng.below(400));
    let mut decoder = ep.decoder();
    let (mut raw, mut events) = (Vec::new(), Vec::new());
    let mut rest = input;
    while !rest.is_empty() {
        let n = (1 + rng.below(16)).min(rest.len());
        let _ = sse.feed(&rest[..n], &mut raw);
        for event in raw.drain(..) {
            decoder.on_event(&event, &mut events);
        }
        rest = &rest[n..];
    }
    let _ = (decoder.is_done(), decoder.model());
}

fn headers(rng: &mut Rng, input: &[u8]) -> HeaderMap {
    const NAMES: &[&str] = &[
        "retry-after",
        "retry-after-ms",
        "llm_provider-retry-after",
        "x-should-retry",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-tokens-remaining",
    ];
    let mut map = HeaderMap::new();
    let text = String::from_utf8_lossy(input);
    for part in text.split(['\n', ',']).take(6) {
        let value: String = part.chars().filter(|c| (' '..='~').contains(c)).collect();
        if let Ok(v) = HeaderValue::from_str(value.trim()) {
            let name: &&'static str = rng.pick(NAMES);
            map.insert(HeaderName::from_static(name), v);
        }
    }
    map
}

fn config_text(rng: &mut Rng, input: &[u8]) -> String {
    const KEYS: &[&str] = &[
        "read_timeout_secs",
        "connect_timeout_secs",
        "first_token_timeout_secs",
        "api_key_cmd_timeout_secs",
        "temperature",
        "max_event_bytes",
        "max_tokens",
        "requests_per_minute",
    ];
    const VALUES: &[&str] = &[
        "1e300",
        "nan",
        "-inf",
        "inf",
        "-1",
        "0",
        "0.001",
        "18446744073709551615",
        "9e18",
        "2.5",
        "\"x\"",
    ];
    let mut text = String::from("[[provider]]\nname = \"a\"\nkind = \"openai\"\nmodel = \"m\"\n");
    for _ in 0..rng.below(4) {
        text.push_str(&format!("{} = {}\n", rng.pick(KEYS), rng.pick(VALUES)));
    }
    if rng.below(3) == 0 {
        text.push_str(&String::from_utf8_lossy(input));
    }
    text
}

fn session_json(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    const NUMBERS: &[&str] = &["1e300", "-5", "18446744073709551615", "0", "NaN", "1e-320"];
    let n = |rng: &mut Rng| rng.pick(NUMBERS).to_string();
    let text = format!(
        "{{\"version\":1,\"id\":\"20260101-000000-0000\",\"created\":\"x\",\"providers\":[{{\"name\":\"p\",\"model\":\"m\",\"protocol\":\"openai\",\
\"turns\":[{{\"prompt\":\"{}\",\"answer\":\"a\",\"complete\":true,\"metrics\":{{\"ttft_ms\":{},\"latency_ms\":{},\"input_tokens\":18446744073709551615,\"output_tokens\":{},\"retries\":0}}}}]}}]}}",
        String::from_utf8_lossy(input).replace(['"', '\\'], ""),
        n(rng),
        n(rng),
        if rng.below(2) == 0 { "18446744073709551615".to_owned() } else { n(rng) },
    );
    let mut bytes = text.into_bytes();
    if rng.below(4) == 0 {
        let at = rng.below(bytes.len());
        bytes[at] ^= 1 << rng.below(8);
    }
    bytes
}

fn one_input(rng: &mut Rng, openai: &Endpoint, anthropic: &Endpoint) {
    let input = if rng.below(4) == 0 {
        random_bytes(rng)
    } else {
        mutated(rng)
    };
    let ep = if rng.below(2) == 0 { openai } else { anthropic };
    stream(rng, &input, ep);
    let _ = ep.parse_completion(&input);
    let map = headers(rng, &input);
    let _ = ep.parse_error(100 + rng.below(500) as u16, &map, &input);
    let _ = ep.rate_limits(&map);
    let _ = retry_after(&map, SystemTime::now());
    let text = String::from_utf8_lossy(&input);
    let _ = parse_go_duration(&text);
    if rng.below(8) == 0 {
        let _ = paddock::config::parse_str(&config_text(rng, &input));
        if let Ok(s) =
            serde_json::from_slice::<paddock::session::Session>(&session_json(rng, &input))
        {
            let _ = (s.total_tokens(), s.total_cost());
            let _ = paddock::commands::sessions::render_list(std::slice::from_ref(&s));
            let _ = paddock::commands::sessions::markdown(&s);
        }
    }
    let clean = paddock::sanitize::clean(&text);
    assert!(
        !clean
            .chars()
            .any(|c| c == '\u{1b}' || c == '\u{9b}' || c == '\u{7}' || c == '\u{202e}'),
        "the sanitiser let a control through: {clean:?}"
    );
}

#[test]
fn outside_bytes_never_panic_the_parsers() {
    let inputs: u64 = std::env::var("PADDOCK_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("PADDOCK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    let (openai, anthropic) = (endpoint(Protocol::OpenAi), endpoint(Protocol::Anthropic));
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    for i in 0..inputs {
        // Each input's own generator state, so a failure names a reproducible input.
        let state = rng.0;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            one_input(&mut rng, &openai, &anthropic)
        }));
        if let Err(panic) = result {
            eprintln!("fuzz: input {i} panicked (generator state {state:#x}, seed {seed})");
            std::panic::resume_unwind(panic);
        }
    }
    let took = started.elapsed();
    eprintln!(
        "fuzz: {inputs} inputs, 0 panics, {:.1} s ({:.1} us per input)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / inputs.max(1) as f64
    );
}
