//! Deterministic answer text: plausible markdown (paragraphs, lists, code, some non-ASCII) split into tokens.
//!
//! Everything here is a pure function of a seed, so the same scenario seed, model and prompt give
//! the same answer on every run and tests can regenerate what the server sent.

/// SplitMix64: tiny, fast and stable across releases (unlike std's hasher or rand's StdRng),
/// which matters because recorded expectations depend on the exact sequence.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi] (inclusive); `lo` when the range is empty.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.range(0, items.len().saturating_sub(1)))
            .copied()
            .unwrap_or("")
    }
}

/// FNV-1a over several parts, with a separator so ("ab","c") and ("a","bc") differ.
pub fn hash_parts(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// An opaque blob in base64's alphabet, `len` characters, a pure function of `parts`: what
/// Anthropic's thinking signatures and redacted thinking look like (and, being derived from the
/// thinking text, a signature changes whenever the text does).
pub fn opaque(parts: &[&[u8]], len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = Rng::new(hash_parts(parts));
    let mut s = String::with_capacity(len + 1);
    s.push('E');
    for _ in 1..len {
        s.push(char::from(ALPHABET[(rng.next_u64() % 64) as usize]));
    }
    s
}

/// The input-token estimate every wire format reports: ceil(chars / 4) + 3 per message.
pub fn estimate_input_tokens<'a>(messages: impl IntoIterator<Item = &'a str>) -> u64 {
    messages
        .into_iter()
        .map(|m| (m.chars().count() as u64).div_ceil(4) + 3)
        .sum()
}

/// Split text into "tokens": a word with its leading spaces, one punctuation or symbol character
/// with its leading spaces, or a run of newlines. Lossless: the tokens concatenate to the input.
pub fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i == chars.len() || chars[i] == '\n' {
            if i > start {
                out.push(chars[start..i].iter().collect());
            }
            let nl = i;
            while i < chars.len() && chars[i] == '\n' {
                i += 1;
            }
            if i > nl {
                out.push(chars[nl..i].iter().collect());
            }
            continue;
        }
        if is_word(chars[i]) {
            while i < chars.len() && is_word(chars[i]) {
                i += 1;
            }
        } else {
            i += 1;
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Options for one generated answer.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub min_tokens: usize,
    pub max_tokens: usize,
}

/// The answer for one request: tokens whose concatenation is the text.
pub fn answer(seed: u64, model: &str, prompt: &str, shape: Shape) -> Vec<String> {
    let mut rng = Rng::new(hash_parts(&[
        &seed.to_le_bytes(),
        model.as_bytes(),
        prompt.as_bytes(),
    ]));
    let topic = topic_of(prompt);
    let target = rng.range(shape.min_tokens, shape.max_tokens.max(shape.min_tokens));
    let mut doc = String::new();
    // Byte offsets where blocks end, so a long answer can be cut where markdown stays whole.
    // The loop counts tokens per block (an estimate at the joins); the cut below is exact.
    doc.push_str(&paragraph(&mut rng, &topic, true));
    let mut block_ends = vec![doc.len()];
    let mut approx_tokens = tokenize(&doc).len();
    let mut last_kind = 0;
    while approx_tokens < target {
        let mut kind = rng.range(0, 3);
        if kind == last_kind {
            kind = (kind + 1) % 4;
        }
        last_kind = kind;
        doc.push_str("\n\n");
        let block = match kind {
            0 => paragraph(&mut rng, &topic, false),
            1 => bullets(&mut rng, &topic),
            2 => code_block(&mut rng),
            _ => steps(&mut rng, &topic),
        };
        approx_tokens += 1 + tokenize(&block).len();
        doc.push_str(&block);
        block_ends.push(doc.len());
    }
    let mut tokens = tokenize(&doc);
    let boundaries = tokens_before(&tokens, &block_ends);
    let hi = shape.max_tokens.max(shape.min_tokens).max(1);
    if tokens.len() > hi {
        let cut = boundaries
            .iter()
            .rev()
            .copied()
            .find(|&b| b <= hi && b >= shape.min_tokens)
            .unwrap_or(hi);
        tokens.truncate(cut);
    }
    tokens
}

/// For each byte offset (ascending), how many tokens end at or before it.
fn tokens_before(tokens: &[String], offsets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len());
    let (mut count, mut end) = (0, 0);
    for &offset in offsets {
        while count < tokens.len() && end + tokens[count].len() <= offset {
            end += tokens[count].len();
            count += 1;
        }
        out.push(count);
    }
    out
}

const STOP: &[&str] = &[
    "what", "which", "when", "where", "about", "explain", "please", "could", "would", "should",
    "there", "their", "these", "those", "with", "from", "that", "this", "have", "into", "your",
    "tell", "write", "give", "some", "does", "make", "short",
];

/// A few salient words of the prompt's last line, so answers read as if on topic.
fn topic_of(prompt: &str) -> String {
    let words: Vec<&str> = prompt
        .split(|c: char| !is_word(c) && c != '-')
        .filter(|w| w.chars().count() > 3 && !STOP.contains(&w.to_lowercase().as_str()))
        .collect();
    let tail: Vec<&str> = words.iter().rev().take(3).rev().copied().collect();
    if tail.is_empty() {
        "the question".to_owned()
    } else {
        tail.join(" ")
    }
}

const ADJ: &[&str] = &[
    "simple",
    "robust",
    "subtle",
    "practical",
    "naïve",
    "incremental",
    "predictable",
    "expensive",
    "lightweight",
    "careful",
    "common",
    "deterministic",
];
const NOUN: &[&str] = &[
    "latency",
    "throughput",
    "state",
    "backpressure",
    "the cache",
    "error handling",
    "the café menu",
    "a retry budget",
    "the schema",
    "memory use",
    "the rate limit",
    "ownership",
    "the résumé parser",
    "configuration",
    "observability",
    "the request path",
];
const VERB: &[&str] = &[
    "simplifies",
    "dominates",
    "hides",
    "shapes",
    "constrains",
    "exposes",
    "improves",
    "complicates",
];

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn sentence(rng: &mut Rng, topic: &str) -> String {
    let (a, n, m, v) = (
        rng.pick(ADJ),
        rng.pick(NOUN),
        rng.pick(NOUN),
        rng.pick(VERB),
    );
    match rng.range(0, 9) {
        0 => format!("When it comes to {topic}, {n} usually {v} {m}."),
        1 => format!(
            "A {a} approach works well here: measure first, then change one thing at a time."
        ),
        2 => format!("{} {v} {m} more than most people expect.", capitalise(n)),
        3 => format!("The trade-off is {n} → {m}, and it is rarely free."),
        4 => format!("In practice, {topic} is about {n} and {m}, not about clever tricks."),
        5 => format!("Keep {n} {a}; it pays off when {m} changes later."),
        6 => format!("If you only remember one thing, remember that {n} {v} everything else."),
        7 => format!("Most bugs around {topic} come from {a} assumptions about {n}."),
        8 => format!("Roughly speaking, {n} ≈ {m} once the system is warm."),
        _ => format!("It's worth writing a small test for {n} before touching {m}."),
    }
}

fn paragraph(rng: &mut Rng, topic: &str, opening: bool) -> String {
    let mut s = if opening {
        format!("Here is a short overview of {topic}.")
    } else {
        sentence(rng, topic)
    };
    for _ in 0..rng.range(1, 3) {
        s.push(' ');
        s.push_str(&sentence(rng, topic));
    }
    s
}

fn bullets(rng: &mut Rng, topic: &str) -> String {
    let mut s = format!("Key points about {topic}:\n");
    for i in 0..rng.range(3, 5) {
        if i > 0 {
            s.push('\n');
        }
        let n = capitalise(rng.pick(NOUN));
        s.push_str(&format!("- **{n}**: {}", sentence(rng, topic)));
    }
    s
}

fn steps(rng: &mut Rng, topic: &str) -> String {
    let mut s = String::from("A reasonable order of work:\n");
    for i in 1..=rng.range(3, 4) {
        if i > 1 {
            s.push('\n');
        }
        s.push_str(&format!("{i}. {}", sentence(rng, topic)));
    }
    s
}

fn code_block(rng: &mut Rng) -> String {
    let name = rng.pick(&[
        "retry_delay",
        "parse_header",
        "budget_left",
        "next_token",
        "warm_cache",
    ]);
    let n = rng.range(2, 9);
    match rng.range(0, 2) {
        0 => format!(
            "For example, in Rust:\n\n```rust\nfn {name}(attempt: u32) -> u64 {{\n    // doubles each time, capped\n    (500u64 << attempt.min({n})).min(8_000)\n}}\n```"
        ),
        1 => format!(
            "A quick sketch in Python:\n\n```python\ndef {name}(items):\n    total = 0\n    for item in items[:{n}]:\n        total += len(item)\n    return total\n```"
        ),
        _ => format!(
            "From the shell:\n\n```bash\nfor i in $(seq 1 {n}); do\n  curl -s localhost:8080/{name} | head -c 80\ndone\n```"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        min_tokens: 80,
        max_tokens: 250,
    };

    #[test]
    fn tokenize_is_lossless_and_splits_words_and_punctuation() {
        let text = "Hello, café world!\n\n- **A** → b\n```rust\n    let x = 1;\n```  ";
        let toks = tokenize(text);
        assert_eq!(toks.concat(), text);
        assert_eq!(&toks[..4], &["Hello", ",", " café", " world"]);
        assert!(toks.contains(&" →".to_owned()));
        assert!(toks.contains(&"\n\n".to_owned()));
        assert!(toks.contains(&"    let".to_owned()));
    }

    #[test]
    fn answers_are_deterministic_and_depend_on_seed_model_and_prompt() {
        let a = answer(7, "m", "Explain Rust lifetimes", SHAPE);
        assert_eq!(a, answer(7, "m", "Explain Rust lifetimes", SHAPE));
        assert_ne!(a, answer(8, "m", "Explain Rust lifetimes", SHAPE));
        assert_ne!(a, answer(7, "n", "Explain Rust lifetimes", SHAPE));
        assert_ne!(a, answer(7, "m", "Explain Go channels", SHAPE));
        assert!(a.concat().contains("Rust lifetimes"));
    }

    #[test]
    fn token_counts_match_text_and_stay_in_range() {
        for seed in 0..200u64 {
            let toks = answer(seed, "model", "tell me about rate limits", SHAPE);
            assert!(
                (80..=250).contains(&toks.len()),
                "seed {seed}: {} tokens",
                toks.len()
            );
            assert_eq!(tokenize(&toks.concat()).len(), toks.len(), "seed {seed}");
            assert!(toks.iter().all(|t| !t.is_empty()));
        }
    }

    #[test]
    fn answers_vary_in_shape_and_include_non_ascii() {
        let all: String = (0..50u64)
            .map(|s| answer(s, "m", "caching", SHAPE).concat())
            .collect();
        for needle in ["```", "\n- **", "\n1. ", "→", "≈", "é"] {
            assert!(all.contains(needle), "no {needle:?} in 50 answers");
        }
    }

    #[test]
    fn tiny_shapes_truncate_hard() {
        let toks = answer(
            1,
            "m",
            "x",
            Shape {
                min_tokens: 3,
                max_tokens: 5,
            },
        );
        assert!(toks.len() <= 5 && !toks.is_empty());
    }

    #[test]
    fn opaque_blobs_are_stable_base64_looking_and_follow_their_input() {
        let a = opaque(&[b"sig", b"thought"], 120);
        assert_eq!(a, opaque(&[b"sig", b"thought"], 120));
        assert_ne!(a, opaque(&[b"sig", b"thought!"], 120));
        assert_eq!(a.len(), 120);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'));
    }

    #[test]
    fn input_estimate_is_ceil_quarter_plus_three() {
        assert_eq!(estimate_input_tokens(["abcde", "é"]), 2 + 3 + 1 + 3);
        assert_eq!(estimate_input_tokens(Vec::<&str>::new()), 0);
    }
}
