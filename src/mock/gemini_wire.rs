//! Google Gemini on the wire: the `models/NAME:method` route, request parsing, stream chunks and
//! the google.rpc error bodies.
//!
//! Gemini sends no rate-limit headers and no request id: a 429 says when to retry in its body
//! (`RetryInfo`). Bodies are written by hand in its `"key": value` style.

use std::time::Duration;

use serde_json::Value;

use super::limits::Exceeded;
use super::openai_wire::js;
use super::text::estimate_input_tokens;
use super::wire::{
    content_text, AnswerPlan, ChatCall, Failure, Framer, FullAnswer, Ids, Reply, Stop, Thought,
};

const CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// Thinking budget when `includeThoughts` asks for thoughts without a budget (or the dynamic -1).
const DYNAMIC_BUDGET: u64 = 48;
const RATE_DOCS: &str = "https://ai.google.dev/gemini-api/docs/rate-limits";
const INTERNAL: &str = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting";
const OVERLOADED: &str = "The model is overloaded. Please try again later.";

/// The model and whether to stream, from `/{version}/models/{model}:{generateContent|streamGenerateContent}`.
/// Google serves both `v1beta` and `v1`; google-genai 3.x asks `v1` by default, paddock `v1beta`.
pub fn route(path: &str) -> Option<(&str, bool)> {
    let rest = ["/v1beta/models/", "/v1/models/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    let (model, method) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    match method {
        "generateContent" => Some((model, false)),
        "streamGenerateContent" => Some((model, true)),
        _ => None,
    }
}

/// A field by its JSON name or its proto name, as Google's JSON parser accepts both.
fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

fn parts_text(content: &Value) -> String {
    content_text(content.get("parts").unwrap_or(&Value::Null))
}

pub fn parse(v: &Value, path: &str) -> Result<ChatCall, Failure> {
    let (model, stream) = route(path).ok_or_else(|| Failure::UnknownRoute(path.to_owned()))?;
    let contents = v
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or(Failure::Missing("contents"))?;
    let mut texts: Vec<String> = field(v, "systemInstruction", "system_instruction")
        .map(parts_text)
        .into_iter()
        .collect();
    for c in contents {
        if !matches!(
            c.get("role").map(Value::as_str),
            None | Some(Some("user" | "model"))
        ) {
            return Err(Failure::Invalid(
                "Please use a valid role: user, model.".into(),
            ));
        }
        texts.push(parts_text(c));
    }
    let config = field(v, "generationConfig", "generation_config");
    let max_tokens = config
        .and_then(|c| field(c, "maxOutputTokens", "max_output_tokens"))
        .and_then(Value::as_u64);
    if max_tokens == Some(0) {
        return Err(Failure::Invalid("Unable to submit request because it has a maxOutputTokens value of 0 but the supported range is from 1 (inclusive) to 65537 (exclusive). Update the value and try again.".into()));
    }
    Ok(ChatCall {
        model: model.to_owned(),
        stream,
        include_usage: true,
        max_tokens,
        input_tokens: estimate_input_tokens(texts.iter().map(String::as_str)),
        prompt: texts.join("\n"),
        thinking: config
            .and_then(|c| field(c, "thinkingConfig", "thinking_config"))
            .and_then(thinking),
    })
}

/// Thoughts are streamed only with `includeThoughts`; a budget of 0 turns thinking off.
fn thinking(config: &Value) -> Option<Thought> {
    let shown = field(config, "includeThoughts", "include_thoughts").and_then(Value::as_bool);
    if shown != Some(true) {
        return None;
    }
    match field(config, "thinkingBudget", "thinking_budget").and_then(Value::as_i64) {
        Some(0) => None,
        Some(n) if n > 0 => u64::try_from(n).ok().map(Thought::Budget),
        _ => Some(Thought::Budget(DYNAMIC_BUDGET)),
    }
}

/// A protobuf Duration as JSON writes it: `26s`, `1.5s`, `0.25s`.
pub fn proto_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let (secs, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return format!("{secs}s");
    }
    format!("{}s", format!("{secs}.{frac:03}").trim_end_matches('0'))
}

fn body(code: u16, message: &str, status: &str, details: &[String]) -> Reply {
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(
            ",\n    \"details\": [\n      {}\n    ]",
            details.join(",\n      ")
        )
    };
    Reply {
        status: code,
        content_type: CONTENT_TYPE,
        headers: vec![],
        body: format!(
            "{{\n  \"error\": {{\n    \"code\": {code},\n    \"message\": {},\n    \"status\": \"{status}\"{details}\n  }}\n}}\n",
            js(message)
        ),
    }
}

fn quota_failure(metric: &str, quota_id: &str, model: &str, limit: u64) -> String {
    format!(
        "{{\"@type\": \"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\": [{{\"quotaMetric\": \"generativelanguage.googleapis.com/{metric}\",\"quotaId\": \"{quota_id}\",\"quotaDimensions\": {{\"location\": \"global\",\"model\": {}}},\"quotaValue\": \"{limit}\"}}]}}",
        js(model)
    )
}

fn help() -> String {
    format!("{{\"@type\": \"type.googleapis.com/google.rpc.Help\",\"links\": [{{\"description\": \"Learn more about Gemini API quotas\",\"url\": \"{RATE_DOCS}\"}}]}}")
}

fn retry_info(delay: Duration) -> String {
    format!(
        "{{\"@type\": \"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\": \"{}\"}}",
        proto_duration(delay)
    )
}

/// The 429 of a per-minute limit: which quota, and RetryInfo saying when it frees up.
fn rate_limited(model: &str, which: Exceeded, limit: u64, retry_after: Duration) -> Reply {
    let (metric, quota_id) = match which {
        Exceeded::Requests => (
            "generate_content_free_tier_requests",
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        ),
        Exceeded::Tokens | Exceeded::TooLarge => (
            "generate_content_free_tier_input_token_count",
            "GenerateContentInputTokensPerModelPerMinute-FreeTier",
        ),
    };
    let message = format!(
        "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: {RATE_DOCS}.\n* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, limit: {limit}, model: {model}\nPlease retry in {}.",
        proto_duration(retry_after)
    );
    let details = [
        quota_failure(metric, quota_id, model, limit),
        help(),
        retry_info(retry_after),
    ];
    body(429, &message, "RESOURCE_EXHAUSTED", &details)
}

pub fn error(f: &Failure) -> Reply {
    const INVALID: &str = "INVALID_ARGUMENT";
    match f {
        Failure::BadJson => body(400, "Invalid JSON payload received. Unexpected token.", INVALID, &[]),
        Failure::Missing(p) => body(400, &format!("* GenerateContentRequest.{p}: {p} is not specified\n"), INVALID, &[]),
        Failure::Invalid(m) => body(400, m, INVALID, &[]),
        Failure::NoKey => body(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API key or other form of API consumer identity to call this API.", "PERMISSION_DENIED", &[]),
        // A bad key is a 400 here, told apart by its reason.
        Failure::WrongKey(_) => body(400, "API key not valid. Please pass a valid API key.", INVALID, &["{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\": \"API_KEY_INVALID\",\"domain\": \"googleapis.com\",\"metadata\": {\"service\": \"generativelanguage.googleapis.com\"}}".to_owned()]),
        Failure::UnknownModel(m) => body(404, &format!("models/{m} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."), "NOT_FOUND", &[]),
        Failure::UnknownRoute(_) => body(404, "Requested entity was not found.", "NOT_FOUND", &[]),
        Failure::RateLimit { model, which, limit, retry_after, .. } => rate_limited(model, *which, *limit, *retry_after),
        // A spent daily quota: no RetryInfo, since waiting a few seconds does not help.
        Failure::Quota => body(429, &format!("You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: {RATE_DOCS}."), "RESOURCE_EXHAUSTED", &[quota_failure("generate_content_free_tier_requests", "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "gemini", 250), help()]),
        Failure::Server(503) | Failure::Overloaded => body(503, OVERLOADED, "UNAVAILABLE", &[]),
        Failure::Server(s) => body(*s, INTERNAL, "INTERNAL", &[]),
        Failure::ContextTooLong { tokens, max } => body(400, &format!("The input token count ({tokens}) exceeds the maximum number of tokens allowed ({max})."), INVALID, &[]),
    }
}

fn text_part(text: &str, thought: bool) -> String {
    let thought = if thought { ",\"thought\": true" } else { "" };
    format!("{{\"text\": {}{thought}}}", js(text))
}

/// The one candidate; a candidate with no parts has no `parts` key at all.
fn candidate(parts: &[String], finish: Option<&str>) -> String {
    let content = if parts.is_empty() {
        "{\"role\": \"model\"}".to_owned()
    } else {
        format!("{{\"parts\": [{}],\"role\": \"model\"}}", parts.join(","))
    };
    let finish = finish.map_or_else(String::new, |f| format!(",\"finishReason\": \"{f}\""));
    format!("\"candidates\": [{{\"content\": {content}{finish},\"index\": 0}}]")
}

/// `usageMetadata`; candidates exclude thoughts, the total includes them; cached tokens are
/// within the prompt's.
fn usage(prompt: u64, candidates: u64, thoughts: u64, cached: u64) -> String {
    let total = prompt.saturating_add(candidates).saturating_add(thoughts);
    let candidates = if candidates > 0 {
        format!(",\"candidatesTokenCount\": {candidates}")
    } else {
        String::new()
    };
    let thoughts = if thoughts > 0 {
        format!(",\"thoughtsTokenCount\": {thoughts}")
    } else {
        String::new()
    };
    let cached = if cached > 0 {
        format!(",\"cachedContentTokenCount\": {cached}")
    } else {
        String::new()
    };
    format!("\"usageMetadata\": {{\"promptTokenCount\": {prompt}{cached}{candidates},\"totalTokenCount\": {total},\"promptTokensDetails\": [{{\"modality\": \"TEXT\",\"tokenCount\": {prompt}}}]{thoughts}}}")
}

fn finish_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::Natural => "STOP",
        Stop::Length => "MAX_TOKENS",
    }
}

/// One `GenerateContentResponse`.
fn response(candidate: &str, usage: &str, model: &str, response_id: &str) -> String {
    format!(
        "{{{candidate},{usage},\"modelVersion\": {},\"responseId\": {}}}",
        js(model),
        js(response_id)
    )
}

/// `data:` chunks for one answer, thought parts first.
pub struct Frames {
    model: String,
    response_id: String,
    input_tokens: u64,
    cache_read: u64,
    /// Leading tokens that are thoughts.
    thoughts: usize,
    sent: usize,
}

impl Frames {
    pub fn new(ids: Ids, call: &ChatCall, plan: &AnswerPlan) -> Self {
        Frames {
            model: call.model.clone(),
            response_id: ids.response_id,
            input_tokens: call.input_tokens,
            cache_read: plan.cache_read,
            thoughts: plan.thoughts,
            sent: 0,
        }
    }

    fn chunk(&self, candidate: &str, usage: &str) -> String {
        format!(
            "data: {}\n\n",
            response(candidate, usage, &self.model, &self.response_id)
        )
    }

    /// Thought and answer tokens among the first `n` sent.
    fn split(&self, n: u64) -> (u64, u64) {
        let thoughts = (self.sent.min(self.thoughts) as u64).min(n);
        (thoughts, n - thoughts)
    }
}

impl Framer for Frames {
    fn start(&mut self) -> String {
        // Gemini sends nothing before the first generated text.
        String::new()
    }

    fn token(&mut self, text: &str) -> String {
        self.sent += 1;
        let thought = self.sent <= self.thoughts;
        let (thoughts, answer) = self.split(self.sent as u64);
        let candidate = candidate(&[text_part(text, thought)], None);
        let usage = usage(self.input_tokens, answer, thoughts, self.cache_read);
        self.chunk(&candidate, &usage)
    }

    fn keepalive(&mut self) -> Option<String> {
        None
    }

    fn finish(&mut self, stop: Stop, output_tokens: u64) -> String {
        let (thoughts, answer) = self.split(output_tokens);
        let candidate = candidate(&[text_part("", false)], Some(finish_reason(stop)));
        let usage = usage(self.input_tokens, answer, thoughts, self.cache_read);
        self.chunk(&candidate, &usage)
    }

    fn malformed(&mut self) -> String {
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"trunc\n\n".to_owned()
    }

    fn error_event(&mut self) -> String {
        format!(
            "data: {{\"error\": {{\"code\": 500,\"message\": {},\"status\": \"INTERNAL\"}}}}\n\n",
            js(INTERNAL)
        )
    }
}

/// The non-streaming body: one response with all the thoughts and all the text.
pub fn response_body(ids: &Ids, call: &ChatCall, full: &FullAnswer, plan: &AnswerPlan) -> String {
    let mut parts = vec![];
    if !full.thought.is_empty() {
        parts.push(text_part(full.thought, true));
    }
    if !full.text.is_empty() {
        parts.push(text_part(full.text, false));
    }
    let candidate = candidate(&parts, Some(finish_reason(full.stop)));
    let answer = full.output_tokens.saturating_sub(full.reasoning_tokens);
    let usage = usage(
        call.input_tokens,
        answer,
        full.reasoning_tokens,
        plan.cache_read,
    );
    response(&candidate, &usage, &call.model, &ids.response_id)
}

/// One page of the model list, with the token of the next page when one follows.
pub fn models_body(names: &[&str], next_page: Option<&str>) -> String {
    let models: Vec<String> = names
        .iter()
        .map(|n| format!("{{\"name\": {},\"version\": \"001\",\"displayName\": {},\"supportedGenerationMethods\": [\"generateContent\",\"countTokens\",\"streamGenerateContent\"]}}", js(&format!("models/{n}")), js(n)))
        .collect();
    let next = next_page.map_or_else(String::new, |t| format!(",\"nextPageToken\": {}", js(t)));
    format!("{{\"models\": [{}]{next}}}", models.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STREAM: &str = "/v1beta/models/gemini-x:streamGenerateContent";

    fn ids() -> Ids {
        Ids {
            response_id: "mock1".into(),
            created: 0,
        }
    }

    fn thoughts(thoughts: usize) -> AnswerPlan {
        AnswerPlan {
            thoughts,
            ..AnswerPlan::default()
        }
    }

    fn datas(sse: &str) -> Vec<Value> {
        sse.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn the_route_names_the_model_and_the_method() {
        assert_eq!(route(STREAM), Some(("gemini-x", true)));
        assert_eq!(
            route("/v1beta/models/g:generateContent"),
            Some(("g", false))
        );
        assert_eq!(route("/v1/models/g:generateContent"), Some(("g", false)));
        assert_eq!(route("/v1/chat/completions"), None);
        assert_eq!(route("/v1beta/models/g:countTokens"), None);
        assert_eq!(route("/v1beta/models/:generateContent"), None);
        assert_eq!(route("/v1beta/models/a/b:generateContent"), None);
    }

    #[test]
    fn the_request_gives_prompt_cap_and_thinking() {
        let v = json!({"model": "ignored", "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}, {"role": "model", "parts": [{"text": "yo"}]}],
            "generationConfig": {"temperature": 0.5, "maxOutputTokens": 50,
                "thinkingConfig": {"thinkingBudget": 30, "includeThoughts": true}}});
        let c = parse(&v, STREAM).unwrap();
        assert_eq!(c.model, "gemini-x");
        assert!(c.stream);
        assert_eq!(c.prompt, "Be brief.\nhi\nyo");
        assert_eq!(
            (c.max_tokens, c.thinking),
            (Some(50), Some(Thought::Budget(30)))
        );
        let t = |tc: Value| {
            parse(&json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": tc}}), STREAM).unwrap().thinking
        };
        assert_eq!(t(json!({"thinkingBudget": 30})), None);
        assert_eq!(
            t(json!({"thinkingBudget": 0, "includeThoughts": true})),
            None
        );
        assert_eq!(
            t(json!({"thinkingBudget": -1, "includeThoughts": true})),
            Some(Thought::Budget(DYNAMIC_BUDGET))
        );
    }

    #[test]
    fn bad_requests_get_geminis_words() {
        assert_eq!(parse(&json!({}), STREAM), Err(Failure::Missing("contents")));
        assert_eq!(
            parse(&json!({"contents": []}), STREAM),
            Err(Failure::Missing("contents"))
        );
        let e = parse(
            &json!({"contents": [{"role": "assistant", "parts": []}]}),
            STREAM,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Failure::Invalid("Please use a valid role: user, model.".into())
        );
        let r = error(&Failure::Missing("contents"));
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            v["error"]["message"],
            "* GenerateContentRequest.contents: contents is not specified\n"
        );
        assert_eq!(
            (r.status, &v["error"]["status"]),
            (400, &json!("INVALID_ARGUMENT"))
        );
    }

    #[test]
    fn statuses_match_google_rpc_codes() {
        let status = |f: Failure| {
            let r = error(&f);
            let v: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(v["error"]["code"], r.status);
            (r.status, v["error"]["status"].as_str().unwrap().to_owned())
        };
        assert_eq!(status(Failure::NoKey), (403, "PERMISSION_DENIED".into()));
        assert_eq!(
            status(Failure::WrongKey("k".into())),
            (400, "INVALID_ARGUMENT".into())
        );
        assert_eq!(
            status(Failure::UnknownModel("m".into())),
            (404, "NOT_FOUND".into())
        );
        assert_eq!(status(Failure::Server(500)), (500, "INTERNAL".into()));
        assert_eq!(status(Failure::Server(503)), (503, "UNAVAILABLE".into()));
        assert_eq!(status(Failure::Overloaded), (503, "UNAVAILABLE".into()));
        assert_eq!(status(Failure::Quota), (429, "RESOURCE_EXHAUSTED".into()));
    }

    #[test]
    fn a_429_carries_retry_info_like_the_real_one() {
        let f = Failure::RateLimit {
            model: "gemini-x".into(),
            which: Exceeded::Requests,
            limit: 10,
            used: 10,
            requested: 1,
            retry_after: Duration::from_millis(1500),
        };
        let r = error(&f);
        assert_eq!((r.status, r.content_type), (429, CONTENT_TYPE));
        assert!(r.headers.is_empty());
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
        let details = v["error"]["details"].as_array().unwrap();
        let retry = details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
            .unwrap();
        assert_eq!(retry["retryDelay"], "1.5s");
        assert_eq!(details[0]["violations"][0]["quotaValue"], "10");
        assert_eq!(proto_duration(Duration::from_secs(26)), "26s");
        assert_eq!(proto_duration(Duration::from_millis(250)), "0.25s");
    }

    #[test]
    fn chunks_carry_thoughts_first_and_usage_last() {
        let c = parse(&json!({"contents": [{"parts": [{"text": "x"}]}]}), STREAM).unwrap();
        let mut f = Frames::new(ids(), &c, &thoughts(1));
        assert_eq!(f.start(), "");
        let sse = [f.token("hm"), f.token("Hi"), f.finish(Stop::Natural, 2)].concat();
        let evs = datas(&sse);
        assert_eq!(
            evs[0]["candidates"][0]["content"]["parts"][0],
            json!({"text": "hm", "thought": true})
        );
        assert_eq!(
            evs[1]["candidates"][0]["content"]["parts"][0],
            json!({"text": "Hi"})
        );
        assert_eq!(evs[1]["candidates"][0]["content"]["role"], "model");
        assert_eq!(evs[2]["candidates"][0]["finishReason"], "STOP");
        let u = &evs[2]["usageMetadata"];
        assert_eq!(
            (&u["candidatesTokenCount"], &u["thoughtsTokenCount"]),
            (&json!(1), &json!(1))
        );
        assert_eq!(u["totalTokenCount"], c.input_tokens + 2);
        assert_eq!(evs[2]["modelVersion"], "gemini-x");
        let mut f = Frames::new(ids(), &c, &thoughts(0));
        let last = datas(&f.finish(Stop::Length, 3)).pop().unwrap();
        assert_eq!(last["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert!(last["usageMetadata"].get("thoughtsTokenCount").is_none());
        assert_eq!(datas(&f.error_event())[0]["error"]["status"], "INTERNAL");
    }

    #[test]
    fn the_body_holds_everything_and_a_cut_in_thought_has_no_text_part() {
        let c = parse(
            &json!({"contents": [{"parts": [{"text": "x"}]}]}),
            "/v1beta/models/g:generateContent",
        )
        .unwrap();
        let full = FullAnswer {
            thought: "hm",
            text: "Hi there",
            stop: Stop::Natural,
            reasoning_tokens: 1,
            output_tokens: 3,
        };
        let v: Value =
            serde_json::from_str(&response_body(&ids(), &c, &full, &thoughts(1))).unwrap();
        assert_eq!(
            v["candidates"][0]["content"]["parts"][1]["text"],
            "Hi there"
        );
        assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 2);
        let cut = FullAnswer {
            thought: "hm",
            text: "",
            stop: Stop::Length,
            reasoning_tokens: 1,
            output_tokens: 1,
        };
        let v: Value =
            serde_json::from_str(&response_body(&ids(), &c, &cut, &thoughts(1))).unwrap();
        assert_eq!(
            v["candidates"][0]["content"]["parts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
    }
}
