//! Turns what came back from the upstream into the reply the log keeps: text, tool calls, finish
//! reason, usage and a final JSON object. For streams it joins the deltas (content pieces, tool-call
//! arguments split across chunks, legacy completion text) into the object a non-streamed call would
//! have returned.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::record::ResponseCapture;
use crate::sse::{SseEvent, SseFramer};
use crate::stream_chunk::StreamChunk;
use crate::whole_reply::WholeReply;

/// Token counts as the upstream reported them, in OpenAI's sense: `prompt_tokens` includes the
/// cached and the cache-written tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    /// Input read from the prompt cache.
    pub cached_tokens: Option<i64>,
    /// Input written to the prompt cache (priced above plain input by Anthropic).
    pub cache_write_tokens: Option<i64>,
}

/// The counts of a usage object under every naming [`Usage`] reads; `None` where a key is missing
/// or holds anything but an integer that fits an `i64`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UsageCounts {
    pub prompt_tokens: Option<i64>,
    pub input_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub cache_read_input_tokens: Option<i64>,
    pub cache_creation_input_tokens: Option<i64>,
    /// `prompt_tokens_details`, else `input_tokens_details`, when either key is there (whatever
    /// its value): the `cached_tokens` and `cache_write_tokens` in it.
    pub details: Option<(Option<i64>, Option<i64>)>,
}

impl Usage {
    /// Reads OpenAI chat/completions/embeddings usage, the Responses API's naming and Anthropic's
    /// from a tree; a whole reply's usage is read into [`UsageCounts`] without one (`whole_reply`).
    pub fn from_json(usage: &Value) -> Option<Usage> {
        let usage = usage.as_object()?;
        let int = |key: &str| usage.get(key).and_then(Value::as_i64);
        let details = usage.get("prompt_tokens_details").or_else(|| usage.get("input_tokens_details"));
        let detail = |details: &Value, key: &str| details.get(key).and_then(Value::as_i64);
        Usage::from_counts(UsageCounts {
            prompt_tokens: int("prompt_tokens"),
            input_tokens: int("input_tokens"),
            completion_tokens: int("completion_tokens"),
            output_tokens: int("output_tokens"),
            total_tokens: int("total_tokens"),
            cache_read_input_tokens: int("cache_read_input_tokens"),
            cache_creation_input_tokens: int("cache_creation_input_tokens"),
            details: details.map(|d| (detail(d, "cached_tokens"), detail(d, "cache_write_tokens"))),
        })
    }

    /// `input_tokens` in Anthropic's naming excludes `cache_read_input_tokens` and
    /// `cache_creation_input_tokens`, so they are added back. `None` when no count is there.
    pub fn from_counts(counts: UsageCounts) -> Option<Usage> {
        let anthropic_read = counts.cache_read_input_tokens;
        let anthropic_write = counts.cache_creation_input_tokens;
        let (detail_cached, detail_write) = counts.details.unwrap_or_default();
        let cached = detail_cached.or(anthropic_read);
        let cache_write = detail_write.or(anthropic_write);
        let prompt = match (counts.prompt_tokens, counts.input_tokens) {
            (Some(prompt), _) => Some(prompt),
            // Anthropic's counts: the three input kinds are disjoint.
            (None, Some(input)) if counts.details.is_none() => {
                Some(input + anthropic_read.unwrap_or(0) + anthropic_write.unwrap_or(0))
            }
            (None, input) => input,
        };
        let completion = counts.completion_tokens.or(counts.output_tokens);
        let total = counts.total_tokens.or(match (prompt, completion) {
            (Some(p), Some(c)) => Some(p + c),
            _ => None,
        });
        if prompt.is_none() && completion.is_none() && total.is_none() {
            return None;
        }
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total,
            cached_tokens: cached,
            cache_write_tokens: cache_write,
        })
    }
}

/// An error the upstream put in its body or in a stream event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    pub error_type: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssembledReply {
    pub text: Option<String>,
    pub tool_calls: Option<Value>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub error: Option<UpstreamError>,
    /// The raw body for whole responses (the record's own bytes, not a copy); the assembled object
    /// for streams.
    pub response_json: Option<Bytes>,
}

pub fn assemble(response: &ResponseCapture) -> AssembledReply {
    match response {
        ResponseCapture::None => AssembledReply::default(),
        ResponseCapture::Body(body) => from_body(body),
        ResponseCapture::Stream(bytes) => from_stream(&SseFramer::new().push(bytes)),
    }
}

fn from_body(body: &Bytes) -> AssembledReply {
    let mut reply = AssembledReply { response_json: Some(body.clone()), ..Default::default() };
    let Some(whole) = WholeReply::parse(body) else {
        return from_body_tree(body, reply);
    };
    reply.usage = whole.usage.0.and_then(|usage| Usage::from_counts(usage.counts()));
    let Some(choice) = whole.choices.0 else {
        return reply;
    };
    // A first choice that is not an object has none of these.
    let choice = choice.0.unwrap_or_default();
    reply.finish_reason = choice.finish_reason.0.map(Cow::into_owned);
    match choice.message.0 {
        Some(message) => {
            let message = message.0.unwrap_or_default();
            reply.text = message.content.0.map(Cow::into_owned);
            reply.tool_calls = message.tool_calls.and_then(|calls| serde_json::from_str(calls.get()).ok());
        }
        None => reply.text = choice.text.0.map(Cow::into_owned),
    }
    reply
}

/// [`from_body`] for the bodies [`WholeReply`] leaves out: errors, Responses API output, and
/// anything unusual, read as a tree.
fn from_body_tree(body: &[u8], mut reply: AssembledReply) -> AssembledReply {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return reply;
    };
    reply.error = error_of(&value);
    reply.usage = value.get("usage").and_then(Usage::from_json);
    if let Some(choice) = value.get("choices").and_then(|c| c.get(0)) {
        reply.finish_reason = choice.get("finish_reason").and_then(Value::as_str).map(String::from);
        if let Some(message) = choice.get("message") {
            reply.text = message.get("content").and_then(Value::as_str).map(String::from);
            reply.tool_calls = message.get("tool_calls").filter(|t| !t.is_null()).cloned();
        } else {
            reply.text = choice.get("text").and_then(Value::as_str).map(String::from);
        }
    } else if let Some(output) = value.get("output").and_then(Value::as_array) {
        // Responses API: text lives in output[].content[].text, tool calls are function_call items.
        reply.text = responses_output_text(output);
        let calls: Vec<Value> = output.iter().filter(|i| i["type"] == "function_call").cloned().collect();
        reply.tool_calls = (!calls.is_empty()).then_some(Value::Array(calls));
        reply.finish_reason = value.get("status").and_then(Value::as_str).map(String::from);
    }
    reply
}

fn responses_output_text(output: &[Value]) -> Option<String> {
    let texts: Vec<&str> = output
        .iter()
        .filter_map(|item| item.get("content").and_then(Value::as_array))
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect();
    (!texts.is_empty()).then(|| texts.concat())
}

fn error_of(value: &Value) -> Option<UpstreamError> {
    let error = value.get("error").filter(|e| !e.is_null())?;
    let message = match error {
        Value::String(text) => text.clone(),
        _ => error.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
    };
    let error_type = error
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| value.get("type").and_then(Value::as_str))
        .unwrap_or("upstream_error")
        .to_string();
    Some(UpstreamError { error_type, message })
}

#[derive(Default)]
struct ChoiceState {
    role: Option<String>,
    content: Option<String>,
    refusal: Option<String>,
    reasoning: Option<String>,
    /// Legacy `/v1/completions` chunks carry `text` instead of a delta.
    text: Option<String>,
    tool_calls: BTreeMap<i64, ToolCallState>,
    finish_reason: Option<String>,
}

#[derive(Default)]
struct ToolCallState {
    id: Option<String>,
    kind: Option<String>,
    name: String,
    arguments: String,
}

fn append(target: &mut Option<String>, piece: Option<&str>) {
    if let Some(piece) = piece {
        target.get_or_insert_with(String::new).push_str(piece);
    }
}

fn from_stream(events: &[SseEvent]) -> AssembledReply {
    let mut reply = AssembledReply::default();
    let mut choices: BTreeMap<i64, ChoiceState> = BTreeMap::new();
    let mut header = Map::new();
    let mut object_kind = "chat.completion";
    let mut responses_final: Option<Value> = None;
    let mut usage_value: Option<Value> = None;

    for event in events {
        if event.data.is_empty() || event.data == "[DONE]" {
            continue;
        }
        let data = event.data_text();
        let Some(chunk) = StreamChunk::parse(&data) else {
            continue;
        };
        // Rare: read the whole chunk as a tree only when it carries an error.
        if chunk.error.is_some() {
            if let Some(error) = serde_json::from_str::<Value>(&data).ok().as_ref().and_then(error_of) {
                reply.error = Some(error);
                continue;
            }
        }
        // Responses API streams end with the whole response in `response.completed`.
        let kind = event.event.as_deref().or(chunk.kind.get()).unwrap_or("");
        if let Some(response) = chunk.response.filter(|_| kind.ends_with("completed")) {
            responses_final = serde_json::from_str(response.get()).ok();
            continue;
        }
        for (key, value) in chunk.header() {
            if let Some(value) = value.filter(|_| !header.contains_key(key)) {
                header.insert(key.into(), serde_json::from_str(value.get()).unwrap_or(Value::Null));
            }
        }
        if let Some(usage) = chunk.usage.filter(|u| u.get().starts_with('{')) {
            let usage: Value = serde_json::from_str(usage.get()).unwrap_or(Value::Null);
            reply.usage = Usage::from_json(&usage);
            usage_value = Some(usage);
        }
        for choice in &chunk.choices.0 {
            let state = choices.entry(choice.index.0.unwrap_or(0)).or_default();
            if let Some(reason) = choice.finish_reason.get() {
                state.finish_reason = Some(reason.to_string());
            }
            if let Some(text) = choice.text.get() {
                object_kind = "text_completion";
                append(&mut state.text, Some(text));
            }
            let Some(delta) = &choice.delta.0 else {
                continue;
            };
            if let Some(role) = delta.role.get() {
                state.role = Some(role.to_string());
            }
            append(&mut state.content, delta.content.get());
            append(&mut state.refusal, delta.refusal.get());
            append(&mut state.reasoning, delta.reasoning_content.get().or(delta.reasoning.get()));
            for call in &delta.tool_calls.0 {
                let call_state = state.tool_calls.entry(call.index.0.unwrap_or(0)).or_default();
                if let Some(id) = call.id.get() {
                    call_state.id = Some(id.to_string());
                }
                if let Some(kind) = call.kind.get() {
                    call_state.kind = Some(kind.to_string());
                }
                if let Some(function) = &call.function.0 {
                    call_state.name.push_str(function.name.get().unwrap_or(""));
                    call_state.arguments.push_str(function.arguments.get().unwrap_or(""));
                }
            }
        }
    }

    if let Some(response) = responses_final {
        let body = serde_json::to_vec(&response).unwrap_or_default();
        let mut whole = from_body(&Bytes::from(body));
        whole.error = whole.error.or(reply.error);
        return whole;
    }

    let mut final_choices = Vec::new();
    for (index, state) in &choices {
        let tool_calls: Vec<Value> = state
            .tool_calls
            .values()
            .map(|call| {
                json!({
                    "id": call.id,
                    "type": call.kind.as_deref().unwrap_or("function"),
                    "function": {"name": call.name, "arguments": call.arguments},
                })
            })
            .collect();
        let choice = if object_kind == "text_completion" {
            json!({"index": index, "text": state.text.clone().unwrap_or_default(), "finish_reason": state.finish_reason})
        } else {
            let mut message = Map::new();
            message.insert("role".into(), json!(state.role.as_deref().unwrap_or("assistant")));
            message.insert("content".into(), json!(state.content));
            if let Some(refusal) = &state.refusal {
                message.insert("refusal".into(), json!(refusal));
            }
            if let Some(reasoning) = &state.reasoning {
                message.insert("reasoning_content".into(), json!(reasoning));
            }
            if !tool_calls.is_empty() {
                message.insert("tool_calls".into(), Value::Array(tool_calls.clone()));
            }
            json!({"index": index, "message": message, "finish_reason": state.finish_reason})
        };
        final_choices.push(choice);
        if *index == 0 {
            reply.text = state.content.clone().or_else(|| state.text.clone());
            reply.finish_reason = state.finish_reason.clone();
            reply.tool_calls = (!tool_calls.is_empty()).then_some(Value::Array(tool_calls));
        }
    }

    let mut object = header;
    object.insert("object".into(), json!(object_kind));
    object.insert("choices".into(), Value::Array(final_choices));
    if let Some(usage) = usage_value {
        object.insert("usage".into(), usage);
    }
    if let Some(error) = &reply.error {
        object.insert("error".into(), json!({"type": error.error_type, "message": error.message}));
    }
    reply.response_json = serde_json::to_vec(&Value::Object(object)).ok().map(Bytes::from);
    reply
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::record::StreamEvent;
    use crate::stream_chunk::Object;
    use crate::whole_reply::UsageFields;

    fn events(datas: &[&str]) -> ResponseCapture {
        let events: Vec<_> = datas.iter().map(|d| StreamEvent { event: None, data: d.to_string() }).collect();
        ResponseCapture::stream_of(&events)
    }

    #[test]
    fn tool_call_arguments_split_across_chunks_are_joined() {
        let reply = assemble(&events(&[
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"loc"}}]},"finish_reason":null}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ation\":\"Rome\"}"}}]},"finish_reason":null}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":61,"completion_tokens":16,"total_tokens":77,"prompt_tokens_details":{"cached_tokens":3}}}"#,
            "[DONE]",
        ]));
        assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
        let calls = reply.tool_calls.unwrap();
        assert_eq!(calls[0]["function"]["arguments"], r#"{"location":"Rome"}"#);
        assert_eq!(calls[0]["id"], "call_1");
        assert_eq!(
            reply.usage,
            Some(Usage {
                prompt_tokens: Some(61),
                completion_tokens: Some(16),
                total_tokens: Some(77),
                cached_tokens: Some(3),
                cache_write_tokens: None,
            })
        );
        let object: Value = serde_json::from_slice(&reply.response_json.unwrap()).unwrap();
        assert_eq!(object["object"], "chat.completion");
        assert_eq!(object["model"], "m");
        assert_eq!(object["usage"]["total_tokens"], 77);
    }

    #[test]
    fn legacy_completion_text_is_joined() {
        let reply = assemble(&events(&[
            r#"{"id":"x","object":"text_completion","choices":[{"index":0,"text":"Hel","finish_reason":null}]}"#,
            r#"{"id":"x","object":"text_completion","choices":[{"index":0,"text":"lo","finish_reason":"stop"}]}"#,
            "[DONE]",
        ]));
        assert_eq!(reply.text.as_deref(), Some("Hello"));
        let object: Value = serde_json::from_slice(&reply.response_json.unwrap()).unwrap();
        assert_eq!(object["choices"][0]["text"], "Hello");
    }

    #[test]
    fn an_error_event_is_kept_with_the_partial_reply() {
        let reply = assemble(&events(&[
            r#"{"choices":[{"index":0,"delta":{"content":"Par"}}]}"#,
            r#"{"error":{"message":"overloaded","type":"overloaded_error"}}"#,
        ]));
        assert_eq!(reply.text.as_deref(), Some("Par"));
        assert_eq!(reply.error.unwrap().error_type, "overloaded_error");
    }

    #[test]
    fn cache_reads_and_writes_are_read_in_every_naming() {
        let openai = Usage::from_json(&json!({"prompt_tokens": 1200, "completion_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 100}}))
        .unwrap();
        assert_eq!(
            (openai.prompt_tokens, openai.cached_tokens, openai.cache_write_tokens),
            (Some(1200), Some(1024), Some(100))
        );
        assert_eq!(openai.total_tokens, Some(1210));
        let responses = Usage::from_json(&json!({"input_tokens": 8438, "output_tokens": 5,
            "input_tokens_details": {"cached_tokens": 8000, "cache_write_tokens": 0}}))
        .unwrap();
        assert_eq!((responses.prompt_tokens, responses.cached_tokens), (Some(8438), Some(8000)));
        // Anthropic: input_tokens counts only the uncached part.
        let anthropic = Usage::from_json(&json!({"input_tokens": 502, "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 6000, "output_tokens": 4}))
        .unwrap();
        assert_eq!(anthropic.prompt_tokens, Some(8502));
        assert_eq!((anthropic.cached_tokens, anthropic.cache_write_tokens), (Some(6000), Some(2000)));
        assert_eq!(anthropic.total_tokens, Some(8506));
        // OpenAI-shaped counts with Anthropic's extra fields (as some gateways send): prompt already includes them.
        let gateway = Usage::from_json(&json!({"prompt_tokens": 8502, "completion_tokens": 4,
            "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 6000}))
        .unwrap();
        assert_eq!(
            (gateway.prompt_tokens, gateway.cached_tokens, gateway.cache_write_tokens),
            (Some(8502), Some(6000), Some(2000))
        );
    }

    fn object(entries: Vec<(&'static str, String)>) -> String {
        let fields: Vec<String> = entries.iter().map(|(key, value)| format!("{key:?}:{value}")).collect();
        format!("{{{}}}", fields.join(","))
    }

    /// A JSON object of up to four of `keys` (repeats included) holding `value`s.
    fn entries(keys: &'static [&'static str], value: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
        prop::collection::vec((prop::sample::select(keys), value), 0..5).prop_map(object).boxed()
    }

    /// A JSON value of every kind a field may hold instead of the expected one.
    fn leaf() -> BoxedStrategy<String> {
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("7".to_string()),
            Just("-1.5".to_string()),
            // Above i64::MAX: no count, as `Value::as_i64` reads it.
            Just("9223372036854775808".to_string()),
            any::<String>().prop_map(|text| serde_json::to_string(&text).unwrap()),
            Just(r#""a\"b\n\u00e9""#.to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just(r#"[{"type":"function","id":"c1"}]"#.to_string()),
        ]
        .boxed()
    }

    /// A usage object's text in every naming `Usage` reads: each key there or not, mostly with
    /// a count, sometimes with a value of another kind; details objects likewise.
    fn usage_object() -> BoxedStrategy<String> {
        const COUNTS: [&str; 7] = [
            "prompt_tokens",
            "completion_tokens",
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ];
        let value = prop_oneof![3 => (0i64..100_000).prop_map(|n| n.to_string()), 1 => leaf()];
        let details = prop_oneof![
            1 => leaf(),
            3 => (prop::option::of(value.clone()), prop::option::of(value.clone())).prop_map(|(cached, written)| {
                object([("cached_tokens", cached), ("cache_write_tokens", written)].into_iter()
                    .filter_map(|(key, value)| Some((key, value?))).collect())
            }),
        ];
        let fields = (
            prop::collection::vec(prop::option::of(value), COUNTS.len()),
            prop::option::of(details.clone()),
            prop::option::of(details),
        )
            .prop_map(|(counts, prompt_details, input_details)| {
                let details = [("prompt_tokens_details", prompt_details), ("input_tokens_details", input_details)];
                object(
                    COUNTS
                        .into_iter()
                        .zip(counts)
                        .chain(details)
                        .filter_map(|(key, value)| Some((key, value?)))
                        .collect(),
                )
            });
        prop_oneof![1 => leaf(), 6 => fields].boxed()
    }

    /// JSON text for a whole reply, with the keys `from_body` reads (and others, and repeats)
    /// holding values of every kind, so that both readings meet every shape.
    fn reply_body() -> impl Strategy<Value = String> {
        let leaf = leaf();
        let usage = usage_object();
        let message = prop_oneof![leaf.clone(), entries(&["content", "tool_calls", "role", "refusal"], leaf.clone())];
        let choice_value = prop_oneof![leaf.clone(), message];
        let choice = prop_oneof![leaf.clone(), entries(&["finish_reason", "message", "text", "index"], choice_value)];
        let choices = prop_oneof![
            leaf.clone(),
            prop::collection::vec(choice, 0..3).prop_map(|choices| format!("[{}]", choices.join(","))),
        ];
        let error = prop_oneof![leaf.clone(), entries(&["message", "type"], leaf.clone())];
        let top_value = prop_oneof![leaf, usage, choices, error];
        prop_oneof![
            9 => entries(&["choices", "usage", "error", "output", "status", "type", "id"], top_value),
            1 => Just(r#"[{"choices":[]}]"#.to_string()),
            1 => Just(r#"{"choices":[{"text":"cut off"#.to_string()),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
            ..Default::default()
        })]

        /// A usage object read into fields counts what reading it as a tree counts; one that
        /// repeats a key is left to the tree (the whole reply's reading fails).
        #[test]
        fn a_usage_reads_as_its_tree_reads(usage in usage_object()) {
            let as_tree = serde_json::from_str::<Value>(&usage).ok().and_then(|tree| Usage::from_json(&tree));
            if let Ok(fields) = serde_json::from_str::<Object<UsageFields>>(&usage) {
                let as_fields = fields.0.and_then(|fields| Usage::from_counts(fields.counts()));
                proptest::prop_assert_eq!(as_fields, as_tree, "{}", usage);
            }
        }

        /// The borrowed reading of a whole reply gives what reading it as a tree gives, for any shape.
        #[test]
        fn a_whole_reply_reads_as_its_tree_reads(body in reply_body()) {
            let bytes = Bytes::copy_from_slice(body.as_bytes());
            let as_tree = from_body_tree(&bytes, AssembledReply { response_json: Some(bytes.clone()), ..Default::default() });
            proptest::prop_assert_eq!(from_body(&bytes), as_tree, "{}", body);
        }
    }

    #[test]
    fn whole_bodies_give_text_usage_and_errors() {
        let ok = from_body(&Bytes::from_static(br#"{"choices":[{"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#));
        assert_eq!(ok.text.as_deref(), Some("Hi"));
        assert_eq!(ok.usage.unwrap().total_tokens, Some(6));
        let error = from_body(&Bytes::from_static(br#"{"error":{"message":"bad key","type":"authentication_error"}}"#));
        assert_eq!(error.error.unwrap().message, "bad key");
        let embeddings = from_body(&Bytes::from_static(
            br#"{"object":"list","data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#,
        ));
        assert_eq!(embeddings.usage.unwrap().prompt_tokens, Some(8));
    }
}
