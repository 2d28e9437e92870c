//! OpenAI Responses API on the wire: request parsing, the typed SSE events, the response object.
//!
//! Keys, error bodies and rate-limit headers are those of Chat Completions (`openai_wire`): one
//! service. Bodies are written by hand so key order matches the real service.

use serde_json::Value;

use super::openai_wire::js;
use super::text::estimate_input_tokens;
use super::wire::{
    content_text, model_of, AnswerPlan, ChatCall, Failure, Framer, FullAnswer, Ids, Stop, Thought,
};

/// The smallest `max_output_tokens` the real service accepts.
const MIN_OUTPUT_TOKENS: u64 = 16;
const ROLES: [&str; 4] = ["user", "assistant", "system", "developer"];
const SERVER_ERROR: &str =
    "The server had an error while processing your request. Sorry about that!";

pub fn parse(v: &Value) -> Result<ChatCall, Failure> {
    let model = model_of(v)?;
    let mut texts: Vec<String> = v
        .get("instructions")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    texts.extend(input_texts(v.get("input"))?);
    let max_tokens = v.get("max_output_tokens").and_then(Value::as_u64);
    if let Some(n) = max_tokens.filter(|&n| n < MIN_OUTPUT_TOKENS) {
        return Err(Failure::Invalid(format!("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, but got {n} instead.")));
    }
    Ok(ChatCall {
        model,
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
        // Usage always comes, in the final event.
        include_usage: true,
        max_tokens,
        input_tokens: estimate_input_tokens(texts.iter().map(String::as_str)),
        prompt: texts.join("\n"),
        thinking: thinking(v.get("reasoning")),
    })
}

/// The texts of `input`: one string, or each input item's content.
fn input_texts(input: Option<&Value>) -> Result<Vec<String>, Failure> {
    let items =
        match input {
            Some(Value::String(s)) => return Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(Failure::Invalid(
                "Invalid type for 'input': expected one of a string or an array of input items."
                    .into(),
            )),
            None => return Err(Failure::Missing("input")),
        };
    if items.is_empty() {
        return Err(Failure::Invalid("Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.".into()));
    }
    items
        .iter()
        .map(|item| {
            if let Some(role) = item.get("role") {
                let role = role.as_str().unwrap_or("");
                if !ROLES.contains(&role) {
                    return Err(Failure::Invalid(format!("Invalid value: '{role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.")));
                }
            }
            Ok(content_text(item.get("content").unwrap_or(&Value::Null)))
        })
        .collect()
}

/// A summary is only visible when asked for; its length follows the effort.
fn thinking(reasoning: Option<&Value>) -> Option<Thought> {
    let r = reasoning?;
    r.get("summary").and_then(Value::as_str)?;
    Some(Thought::effort(r.get("effort").and_then(Value::as_str)))
}

/// The response object's own fields, the same in every event that carries it.
struct Head {
    id: String,
    created: u64,
    model: String,
    max_output: Option<u64>,
}

impl Head {
    fn new(ids: &Ids, call: &ChatCall) -> Self {
        Head {
            id: ids.response_id.clone(),
            created: ids.created,
            model: call.model.clone(),
            max_output: call.max_tokens,
        }
    }

    /// Item ids share the response's hash, with the real prefixes.
    fn item_id(&self, prefix: &str) -> String {
        self.id.replacen("resp_", prefix, 1)
    }

    /// The response object; `error`, `incomplete`, `usage` are JSON, `output` the items joined.
    fn object(
        &self,
        status: &str,
        error: &str,
        incomplete: &str,
        output: &str,
        usage: &str,
    ) -> String {
        let max = self
            .max_output
            .map_or_else(|| "null".into(), |n| n.to_string());
        format!(
            "{{\"id\":{},\"object\":\"response\",\"created_at\":{},\"status\":\"{status}\",\"error\":{error},\"incomplete_details\":{incomplete},\"max_output_tokens\":{max},\"model\":{},\"output\":[{output}],\"usage\":{usage}}}",
            js(&self.id),
            self.created,
            js(&self.model)
        )
    }
}

/// Status and `incomplete_details` of a finished response.
fn ending(stop: Stop) -> (&'static str, &'static str) {
    match stop {
        Stop::Natural => ("completed", "null"),
        Stop::Length => ("incomplete", "{\"reason\":\"max_output_tokens\"}"),
    }
}

fn usage_json(input: u64, output: u64, reasoning: u64, cached: u64) -> String {
    format!(
        "{{\"input_tokens\":{input},\"input_tokens_details\":{{\"cached_tokens\":{cached}}},\"output_tokens\":{output},\"output_tokens_details\":{{\"reasoning_tokens\":{reasoning}}},\"total_tokens\":{}}}",
        input.saturating_add(output)
    )
}

fn summary_part(text: &str) -> String {
    format!("{{\"type\":\"summary_text\",\"text\":{}}}", js(text))
}

fn text_part(text: &str) -> String {
    format!(
        "{{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":{}}}",
        js(text)
    )
}

/// A reasoning item; its summary is empty until the item is done.
fn reasoning_item(id: &str, summary: Option<&str>) -> String {
    let summary = summary.map_or_else(String::new, summary_part);
    format!(
        "{{\"id\":{},\"type\":\"reasoning\",\"summary\":[{summary}]}}",
        js(id)
    )
}

/// A message item; its content is empty until the item is done.
fn message_item(id: &str, status: &str, text: Option<&str>) -> String {
    let content = text.map_or_else(String::new, text_part);
    format!(
        "{{\"id\":{},\"type\":\"message\",\"status\":\"{status}\",\"role\":\"assistant\",\"content\":[{content}]}}",
        js(id)
    )
}

/// Typed events for one answer, reasoning summary first when there is one.
pub struct Frames {
    head: Head,
    reasoning_id: String,
    message_id: String,
    input_tokens: u64,
    cache_read: u64,
    /// Leading tokens that are reasoning.
    thoughts: usize,
    sent: usize,
    seq: u64,
    summary: String,
    text: String,
    message_open: bool,
}

impl Frames {
    pub fn new(ids: Ids, call: &ChatCall, plan: &AnswerPlan) -> Self {
        let head = Head::new(&ids, call);
        Frames {
            reasoning_id: head.item_id("rs_"),
            message_id: head.item_id("msg_"),
            head,
            input_tokens: call.input_tokens,
            cache_read: plan.cache_read,
            thoughts: plan.thoughts,
            sent: 0,
            seq: 0,
            summary: String::new(),
            text: String::new(),
            message_open: false,
        }
    }

    /// One event; `fields` follow `type` and `sequence_number`, each with its leading comma.
    fn event(&mut self, kind: &str, fields: &str) -> String {
        let n = self.seq;
        self.seq += 1;
        format!("event: {kind}\ndata: {{\"type\":\"{kind}\",\"sequence_number\":{n}{fields}}}\n\n")
    }

    fn message_index(&self) -> usize {
        usize::from(self.thoughts > 0)
    }

    fn open_reasoning(&mut self) -> String {
        let id = js(&self.reasoning_id);
        let item = reasoning_item(&self.reasoning_id, None);
        let mut out = self.event(
            "response.output_item.added",
            &format!(",\"output_index\":0,\"item\":{item}"),
        );
        out.push_str(&self.event(
            "response.reasoning_summary_part.added",
            &format!(
                ",\"item_id\":{id},\"output_index\":0,\"summary_index\":0,\"part\":{}",
                summary_part("")
            ),
        ));
        out
    }

    fn close_reasoning(&mut self) -> String {
        let id = js(&self.reasoning_id);
        let at = format!(",\"item_id\":{id},\"output_index\":0,\"summary_index\":0");
        let text = js(&self.summary);
        let part = summary_part(&self.summary);
        let item = reasoning_item(&self.reasoning_id, Some(&self.summary));
        let mut out = self.event(
            "response.reasoning_summary_text.done",
            &format!("{at},\"text\":{text}"),
        );
        out.push_str(&self.event(
            "response.reasoning_summary_part.done",
            &format!("{at},\"part\":{part}"),
        ));
        out.push_str(&self.event(
            "response.output_item.done",
            &format!(",\"output_index\":0,\"item\":{item}"),
        ));
        out
    }

    fn open_message(&mut self) -> String {
        self.message_open = true;
        let k = self.message_index();
        let item = message_item(&self.message_id, "in_progress", None);
        let at = self.text_at();
        let mut out = self.event(
            "response.output_item.added",
            &format!(",\"output_index\":{k},\"item\":{item}"),
        );
        out.push_str(&self.event(
            "response.content_part.added",
            &format!("{at},\"part\":{}", text_part("")),
        ));
        out
    }

    fn close_message(&mut self, status: &str) -> String {
        let k = self.message_index();
        let at = self.text_at();
        let text = js(&self.text);
        let part = text_part(&self.text);
        let item = message_item(&self.message_id, status, Some(&self.text));
        let mut out = self.event(
            "response.output_text.done",
            &format!("{at},\"logprobs\":[],\"text\":{text}"),
        );
        out.push_str(&self.event(
            "response.content_part.done",
            &format!("{at},\"part\":{part}"),
        ));
        out.push_str(&self.event(
            "response.output_item.done",
            &format!(",\"output_index\":{k},\"item\":{item}"),
        ));
        out
    }

    /// Where a text delta goes: item, output index, content index.
    fn text_at(&self) -> String {
        format!(
            ",\"item_id\":{},\"output_index\":{},\"content_index\":0",
            js(&self.message_id),
            self.message_index()
        )
    }

    /// The finished items, as the final response object lists them.
    fn output(&self, status: &str) -> String {
        let mut items = vec![];
        if self.thoughts > 0 {
            items.push(reasoning_item(&self.reasoning_id, Some(&self.summary)));
        }
        if self.message_open {
            items.push(message_item(&self.message_id, status, Some(&self.text)));
        }
        items.join(",")
    }
}

impl Framer for Frames {
    fn start(&mut self) -> String {
        let response = format!(
            ",\"response\":{}",
            self.head.object("in_progress", "null", "null", "", "null")
        );
        let mut out = self.event("response.created", &response);
        out.push_str(&self.event("response.in_progress", &response));
        if self.thoughts > 0 {
            out.push_str(&self.open_reasoning());
        } else {
            out.push_str(&self.open_message());
        }
        out
    }

    fn token(&mut self, text: &str) -> String {
        self.sent += 1;
        if self.sent <= self.thoughts {
            self.summary.push_str(text);
            let id = js(&self.reasoning_id);
            return self.event(
                "response.reasoning_summary_text.delta",
                &format!(
                    ",\"item_id\":{id},\"output_index\":0,\"summary_index\":0,\"delta\":{}",
                    js(text)
                ),
            );
        }
        let mut out = String::new();
        if !self.message_open {
            out.push_str(&self.close_reasoning());
            out.push_str(&self.open_message());
        }
        self.text.push_str(text);
        let at = self.text_at();
        out.push_str(&self.event(
            "response.output_text.delta",
            &format!("{at},\"delta\":{},\"logprobs\":[]", js(text)),
        ));
        out
    }

    fn keepalive(&mut self) -> Option<String> {
        None
    }

    fn finish(&mut self, stop: Stop, output_tokens: u64) -> String {
        let (status, incomplete) = ending(stop);
        let mut out = if self.message_open {
            self.close_message(status)
        } else {
            self.close_reasoning()
        };
        let reasoning = self.sent.min(self.thoughts) as u64;
        let usage = usage_json(self.input_tokens, output_tokens, reasoning, self.cache_read);
        let object = self
            .head
            .object(status, "null", incomplete, &self.output(status), &usage);
        let kind = match stop {
            Stop::Natural => "response.completed",
            Stop::Length => "response.incomplete",
        };
        out.push_str(&self.event(kind, &format!(",\"response\":{object}")));
        out
    }

    fn malformed(&mut self) -> String {
        let at = self.text_at();
        let n = self.seq;
        self.seq += 1;
        format!("event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{n}{at},\"delta\":\"trunc\n\n")
    }

    fn error_event(&mut self) -> String {
        let message = js(SERVER_ERROR);
        let mut out = self.event(
            "error",
            &format!(",\"code\":\"server_error\",\"message\":{message},\"param\":null"),
        );
        let error = format!("{{\"code\":\"server_error\",\"message\":{message}}}");
        let object = self.head.object("failed", &error, "null", "", "null");
        out.push_str(&self.event("response.failed", &format!(",\"response\":{object}")));
        out
    }
}

/// The non-streaming body: the finished response object.
pub fn response_body(ids: &Ids, call: &ChatCall, full: &FullAnswer, plan: &AnswerPlan) -> String {
    let head = Head::new(ids, call);
    let (status, incomplete) = ending(full.stop);
    let mut items = vec![];
    if !full.thought.is_empty() {
        items.push(reasoning_item(&head.item_id("rs_"), Some(full.thought)));
    }
    // A cap reached inside the reasoning leaves no message at all.
    if full.reasoning_tokens < full.output_tokens {
        items.push(message_item(&head.item_id("msg_"), status, Some(full.text)));
    }
    let usage = usage_json(
        call.input_tokens,
        full.output_tokens,
        full.reasoning_tokens,
        plan.cache_read,
    );
    head.object(status, "null", incomplete, &items.join(","), &usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(v: Value) -> Result<ChatCall, Failure> {
        parse(&v)
    }

    fn ids() -> Ids {
        Ids {
            response_id: "resp_mock1".into(),
            created: 7,
        }
    }

    fn thoughts(thoughts: usize) -> AnswerPlan {
        AnswerPlan {
            thoughts,
            ..AnswerPlan::default()
        }
    }

    /// The data of each event, checking its `event:` line names its type.
    fn datas(sse: &str) -> Vec<Value> {
        sse.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let v: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(name.strip_prefix("event: ").unwrap(), v["type"]);
                v
            })
            .collect()
    }

    #[test]
    fn input_may_be_a_string_or_items_and_instructions_come_first() {
        let c = call(json!({"model": "m", "input": "hi", "instructions": "Be brief."})).unwrap();
        assert_eq!(
            (c.prompt.as_str(), c.stream, c.thinking),
            ("Be brief.\nhi", false, None)
        );
        let c = call(
            json!({"model": "m", "stream": true, "max_output_tokens": 100, "input": [
            {"role": "developer", "content": "dev"},
            {"role": "user", "content": [{"type": "input_text", "text": "a"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "b"}]}]}),
        )
        .unwrap();
        assert_eq!(
            (c.prompt.as_str(), c.stream, c.max_tokens),
            ("dev\na\nb", true, Some(100))
        );
    }

    #[test]
    fn bad_requests_get_the_services_words() {
        assert_eq!(call(json!({"input": "x"})), Err(Failure::Missing("model")));
        assert_eq!(call(json!({"model": "m"})), Err(Failure::Missing("input")));
        let e = call(json!({"model": "m", "input": []})).unwrap_err();
        assert!(matches!(e, Failure::Invalid(m) if m.contains("empty array")));
        let e =
            call(json!({"model": "m", "input": [{"role": "bot", "content": "x"}]})).unwrap_err();
        assert!(matches!(e, Failure::Invalid(m) if m.starts_with("Invalid value: 'bot'")));
        let e = call(json!({"model": "m", "input": "x", "max_output_tokens": 5})).unwrap_err();
        assert!(matches!(e, Failure::Invalid(m) if m.contains(">= 16, but got 5")));
    }

    #[test]
    fn reasoning_is_streamed_only_when_a_summary_is_asked() {
        let t = |r: Value| {
            call(json!({"model": "m", "input": "x", "reasoning": r}))
                .unwrap()
                .thinking
        };
        let tokens = |r: Value| t(r).map(|t| t.tokens(96));
        assert_eq!(tokens(json!({"effort": "high"})), None);
        assert_eq!(
            tokens(json!({"effort": "high", "summary": "auto"})),
            Some(64)
        );
        assert_eq!(tokens(json!({"summary": "detailed"})), Some(40));
        assert_eq!(
            tokens(json!({"effort": "none", "summary": "auto"})),
            Some(0)
        );
    }

    #[test]
    fn stream_events_follow_the_real_order_with_rising_sequence_numbers() {
        let c = call(json!({"model": "m", "input": "x", "stream": true})).unwrap();
        let mut f = Frames::new(ids(), &c, &thoughts(2));
        let sse = [
            f.start(),
            f.token("Think"),
            f.token("ing"),
            f.token("Hi"),
            f.token("!"),
            f.finish(Stop::Natural, 4),
        ]
        .concat();
        let evs = datas(&sse);
        let kinds: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, e) in evs.iter().enumerate() {
            assert_eq!(e["sequence_number"], i);
        }
        assert_eq!(evs[0]["response"]["status"], "in_progress");
        assert_eq!(evs[0]["response"]["model"], "m");
        assert_eq!(evs[11]["delta"], "Hi");
        assert_eq!(
            (&evs[11]["output_index"], &evs[11]["item_id"]),
            (&json!(1), &json!("msg_mock1"))
        );
        let done = &evs[16]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["summary"][0]["text"], "Thinking");
        assert_eq!(done["output"][1]["content"][0]["text"], "Hi!");
        assert_eq!(
            done["usage"]["output_tokens_details"]["reasoning_tokens"],
            2
        );
        assert_eq!(done["usage"]["total_tokens"], c.input_tokens + 4);
    }

    #[test]
    fn a_cap_ends_incomplete_and_errors_end_failed() {
        let c = call(json!({"model": "m", "input": "x", "stream": true})).unwrap();
        let mut f = Frames::new(ids(), &c, &thoughts(0));
        let sse = [f.start(), f.token("a"), f.finish(Stop::Length, 1)].concat();
        let last = datas(&sse).pop().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["status"], "incomplete");
        assert_eq!(
            last["response"]["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(last["response"]["output"][0]["status"], "incomplete");
        let mut f = Frames::new(ids(), &c, &thoughts(0));
        let evs = datas(&[f.start(), f.error_event()].concat());
        let n = evs.len();
        assert_eq!(
            (&evs[n - 2]["type"], &evs[n - 2]["code"]),
            (&json!("error"), &json!("server_error"))
        );
        assert_eq!(evs[n - 1]["type"], "response.failed");
        assert_eq!(evs[n - 1]["response"]["error"]["code"], "server_error");
        assert!(!f.malformed().contains("\"}"));
    }

    #[test]
    fn the_body_lists_reasoning_then_message() {
        let c = call(json!({"model": "m", "input": "x"})).unwrap();
        let full = FullAnswer {
            thought: "hm",
            text: "Hi",
            stop: Stop::Natural,
            reasoning_tokens: 1,
            output_tokens: 2,
        };
        let v: Value =
            serde_json::from_str(&response_body(&ids(), &c, &full, &thoughts(1))).unwrap();
        assert_eq!(
            (&v["object"], &v["status"]),
            (&json!("response"), &json!("completed"))
        );
        assert_eq!(
            v["output"][0],
            json!({"id": "rs_mock1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]})
        );
        assert_eq!(v["output"][1]["content"][0]["text"], "Hi");
        assert_eq!(v["usage"]["output_tokens"], 2);
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
            (v["output"].as_array().unwrap().len(), &v["status"]),
            (1, &json!("incomplete"))
        );
    }
}
