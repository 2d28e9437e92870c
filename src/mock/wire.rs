//! What every wire format shares: the parsed request, the failures a request can meet, the framer trait.

use std::time::Duration;

use serde_json::Value;

use super::limits::Exceeded;
use super::limits::Snapshot;
use super::{anthropic_wire, gemini_wire, openai_wire, responses_wire};

/// The API family a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Chat Completions.
    OpenAi,
    Anthropic,
    /// OpenAI's Responses API: same keys, statuses, error bodies and headers as Chat Completions.
    Responses,
    Gemini,
}

/// A chat request reduced to what the simulation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCall {
    pub model: String,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    pub max_tokens: Option<u64>,
    /// System prompt and messages joined: seeds the deterministic answer.
    pub prompt: String,
    pub input_tokens: u64,
    /// Visible reasoning asked for (Chat `reasoning_effort`, Anthropic `thinking`, Responses
    /// `reasoning.summary`, Gemini `includeThoughts`), and how much.
    pub thinking: Option<Thought>,
}

/// How much visible reasoning a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thought {
    /// An effort name: a share of the model's `thinking_tokens`.
    Effort(Effort),
    /// A budget in tokens (Anthropic `budget_tokens`, Gemini `thinkingBudget`); 0 is none.
    Budget(u64),
    /// Asked not to think (`reasoning_effort = "none"`): not even a model that always thinks does.
    Off,
}

/// The reasoning efforts of OpenAI's APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

/// The shortest thought streamed, unless the model's own `thinking_tokens` is shorter.
const MIN_THOUGHT: usize = 16;

impl Thought {
    /// An effort as the APIs spell it: `none` is [`Thought::Off`]; absent or unknown is medium.
    pub fn effort(name: Option<&str>) -> Thought {
        Thought::Effort(match name {
            Some("none") => return Thought::Off,
            Some("minimal") => Effort::Minimal,
            Some("low") => Effort::Low,
            Some("high") => Effort::High,
            Some("xhigh") => Effort::XHigh,
            _ => Effort::Medium,
        })
    }

    /// Reasoning tokens to stream for a model that thinks at most `most` tokens. With the
    /// default 96: minimal 16, low 24, medium 40, high 64, xhigh 96.
    pub fn tokens(self, most: usize) -> usize {
        let floor = MIN_THOUGHT.min(most);
        match self {
            Thought::Off | Thought::Budget(0) => 0,
            Thought::Budget(n) => usize::try_from(n).unwrap_or(usize::MAX).clamp(floor, most),
            Thought::Effort(e) => {
                let (num, den) = match e {
                    Effort::Minimal => (1, 6),
                    Effort::Low => (1, 4),
                    Effort::Medium => (5, 12),
                    Effort::High => (2, 3),
                    Effort::XHigh => (1, 1),
                };
                (most.saturating_mul(num) / den).clamp(floor, most)
            }
        }
    }
}

/// Why the answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Natural,
    Length,
}

/// Everything that can go wrong with a request, before the family picks its words and shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    BadJson,
    Missing(&'static str),
    Invalid(String),
    NoKey,
    WrongKey(String),
    UnknownModel(String),
    UnknownRoute(String),
    RateLimit {
        model: String,
        which: Exceeded,
        limit: u64,
        used: u64,
        requested: u64,
        retry_after: Duration,
    },
    Quota,
    Server(u16),
    Overloaded,
    ContextTooLong {
        tokens: u64,
        max: u64,
    },
}

/// A complete non-streaming response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: String) -> Self {
        Reply {
            status,
            content_type: "application/json",
            headers: vec![],
            body,
        }
    }
}

/// What a CDN in front of the API sends for 502: not JSON at all.
const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

impl Family {
    pub fn error_reply(self, failure: &Failure, request_id: &str) -> Reply {
        if *failure == Failure::Server(502) {
            return Reply {
                status: 502,
                content_type: "text/html",
                headers: vec![],
                body: BAD_GATEWAY_HTML.into(),
            };
        }
        match self {
            Family::OpenAi | Family::Responses => openai_wire::error(failure),
            Family::Anthropic => anthropic_wire::error(failure, request_id),
            Family::Gemini => gemini_wire::error(failure),
        }
    }

    /// Families served by OpenAI itself: one key scheme, one set of headers.
    pub fn is_openai(self) -> bool {
        matches!(self, Family::OpenAi | Family::Responses)
    }

    /// The request-id header and its value, for the families that send one (Gemini does not).
    pub fn request_id(self, hash: u64) -> (Option<&'static str>, String) {
        match self {
            Family::OpenAi | Family::Responses => (
                Some("x-request-id"),
                format!("req_{hash:016x}{:016x}", hash.rotate_left(17)),
            ),
            Family::Anthropic => (
                Some("request-id"),
                format!("req_011C{hash:016x}{:08x}", hash >> 32),
            ),
            Family::Gemini => (None, String::new()),
        }
    }

    /// The id of one answer, in the family's own style.
    pub fn response_id(self, hash: u64) -> String {
        match self {
            Family::OpenAi => format!("chatcmpl-mock{hash:016x}"),
            Family::Anthropic => format!("msg_mock{hash:016x}"),
            Family::Responses => format!("resp_mock{hash:016x}"),
            Family::Gemini => format!("mock{hash:016x}"),
        }
    }

    /// Rate-limit headers; Gemini sends none (its 429 body carries the retry delay instead).
    pub fn rate_headers(self, s: &Snapshot, now: std::time::SystemTime) -> Vec<(String, String)> {
        match self {
            Family::OpenAi | Family::Responses => openai_wire::rate_headers(s),
            Family::Anthropic => anthropic_wire::rate_headers(s, now),
            Family::Gemini => vec![],
        }
    }

    /// Parse the body; Gemini also reads the model and streaming from the request `path`.
    pub fn parse(self, body: &[u8], path: &str) -> Result<ChatCall, Failure> {
        let value: Value = serde_json::from_slice(body).map_err(|_| Failure::BadJson)?;
        if !value.is_object() {
            return Err(Failure::BadJson);
        }
        match self {
            Family::OpenAi => openai_wire::parse(&value),
            Family::Anthropic => anthropic_wire::parse(&value),
            Family::Responses => responses_wire::parse(&value),
            Family::Gemini => gemini_wire::parse(&value, path),
        }
    }

    /// The stream framer of one answer laid out as `plan` says.
    pub fn framer(self, ids: Ids, call: &ChatCall, plan: &AnswerPlan) -> Box<dyn Framer> {
        match self {
            Family::OpenAi => Box::new(openai_wire::Frames::new(ids, call, plan)),
            Family::Anthropic => Box::new(anthropic_wire::Frames::new(ids, call, plan)),
            Family::Responses => Box::new(responses_wire::Frames::new(ids, call, plan)),
            Family::Gemini => Box::new(gemini_wire::Frames::new(ids, call, plan)),
        }
    }

    /// The non-streaming body of `tokens`, laid out as `plan` says.
    pub fn complete_body(
        self,
        ids: &Ids,
        call: &ChatCall,
        tokens: &[String],
        plan: &AnswerPlan,
        stop: Stop,
    ) -> String {
        let thoughts = plan.thoughts.min(tokens.len());
        let (thought, answer) = tokens.split_at(thoughts);
        let (thought, text) = (thought.concat(), answer.concat());
        let full = FullAnswer {
            thought: &thought,
            text: &text,
            stop,
            reasoning_tokens: thoughts as u64,
            output_tokens: tokens.len() as u64,
        };
        match self {
            Family::OpenAi => openai_wire::completion_body(ids, call, &full, plan),
            Family::Anthropic => anthropic_wire::message_body(ids, call, &full, plan),
            Family::Responses => responses_wire::response_body(ids, call, &full, plan),
            Family::Gemini => gemini_wire::response_body(ids, call, &full, plan),
        }
    }
}

/// How one answer is laid out beyond its tokens: how many lead as reasoning, how Anthropic's
/// thinking is signed or redacted, and what its usage says came from the prompt cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerPlan {
    /// Leading tokens that are reasoning.
    pub thoughts: usize,
    /// Anthropic: the thinking block ends with a `signature_delta` (the real API always signs).
    pub signed: bool,
    /// Anthropic: a `redacted_thinking` block follows the thinking block.
    pub redacted: bool,
    /// Prompt tokens read from the provider's cache (within the input count on OpenAI and
    /// Gemini, apart from it on Anthropic).
    pub cache_read: u64,
    /// Prompt tokens written to the cache (Anthropic only reports them).
    pub cache_write: u64,
}

/// A whole answer for a non-streaming body: its reasoning (may be empty), its text, why it ended.
#[derive(Debug, Clone, Copy)]
pub struct FullAnswer<'a> {
    pub thought: &'a str,
    pub text: &'a str,
    pub stop: Stop,
    pub reasoning_tokens: u64,
    /// Reasoning included.
    pub output_tokens: u64,
}

/// Identifiers of one response.
#[derive(Debug, Clone)]
pub struct Ids {
    /// `chatcmpl-…` / `msg_…` / `resp_…` / Gemini's `responseId`.
    pub response_id: String,
    pub created: u64,
}

/// SSE framing of one streamed answer; each method returns the exact bytes to write.
pub trait Framer: Send {
    /// Everything before the first token (role chunk / message_start, content_block_start, ping).
    fn start(&mut self) -> String;
    fn token(&mut self, text: &str) -> String;
    /// A keep-alive the family sends between tokens (Anthropic's ping), if any.
    fn keepalive(&mut self) -> Option<String>;
    /// Everything after the last token, through the end marker.
    fn finish(&mut self, stop: Stop, output_tokens: u64) -> String;
    /// A delta event whose JSON is cut short.
    fn malformed(&mut self) -> String;
    /// The family's in-stream error, and whatever follows it before the server closes.
    fn error_event(&mut self) -> String;
}

/// The request's `model`, required in the body by every family but Gemini.
pub fn model_of(v: &Value) -> Result<String, Failure> {
    v.get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(Failure::Missing("model"))
}

/// The request's `messages`: required, and (with `empty` as the family's own complaint) not empty.
pub fn messages_of<'a>(v: &'a Value, empty: &str) -> Result<&'a [Value], Failure> {
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .ok_or(Failure::Missing("messages"))?;
    if messages.is_empty() {
        return Err(Failure::Invalid(empty.to_owned()));
    }
    Ok(messages)
}

/// The text of each message's `content`.
pub fn message_texts(messages: &[Value]) -> impl Iterator<Item = String> + '_ {
    messages
        .iter()
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
}

/// Text of a message `content`: a string, or an array of blocks with `text`.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efforts_ask_a_share_of_the_models_thought_and_budgets_cap_it() {
        let efforts = ["minimal", "low", "medium", "high", "xhigh"];
        let at = |most: usize| efforts.map(|e| Thought::effort(Some(e)).tokens(most));
        assert_eq!(at(96), [16, 24, 40, 64, 96]);
        assert_eq!(at(1200), [200, 300, 500, 800, 1200]);
        // A model whose longest thought is shorter than the floor never panics or overshoots.
        assert_eq!(at(3), [3; 5]);
        assert_eq!(Thought::effort(None), Thought::Effort(Effort::Medium));
        assert_eq!(Thought::effort(Some("none")).tokens(96), 0);
        assert_eq!(Thought::Budget(0).tokens(96), 0);
        assert_eq!(Thought::Budget(4).tokens(96), 16);
        assert_eq!(Thought::Budget(2048).tokens(96), 96);
        assert_eq!(Thought::Budget(u64::MAX).tokens(100_000), 100_000);
    }
}
